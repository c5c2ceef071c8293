"""Large batches in bfloat16, on a CPU whose bf16 matrix products are faster than its fp32 ones.

The analysis is bound by the forward pass of the embedding model, and 78% of that pass is matrix products
(bench/RESULTS.md). Some CPUs multiply in bfloat16 at twice their fp32 rate (AVX-512 BF16 on an AMD EPYC Zen 4:
218 against 101 GFLOP/s on one core); onnxruntime has no bf16 products on x86, torch (oneDNN) has. So an import
of thousands of messages runs the same weights in bf16 with torch, through the same tokenizer, batches, mean
pooling and normalisation as :class:`~nlp.onnx_embedder.OnnxEmbedder`: on that CPU 2,000 messages embed in
2.9 s instead of 4.4 s, and every embedding stays within cosine 0.9999 of the fp32 one (target 0.999, checked by
``tests/test_bulk.py`` against the sentence-transformers reference).

It is used only where it pays, and only for large calls:

* ``embedding_bulk = "auto"`` (the default) measures both paths once on this machine, on a fixed set of texts
  (:func:`calibrate`), and uses bf16 only when it is at least ``SPEEDUP`` times as fast and its embeddings agree
  (``MIN_COSINE``). The result is cached by content hash (the model's export key, the CPU, the torch and
  transformers versions), so it is measured again after an upgrade or on another CPU, never on every start. A
  CPU without bf16 instructions (no ``avx512_bf16`` or ``amx_bf16`` flag) is not measured: emulated bf16 is
  slower. Two processes calibrating at once both write the same kind of file; the last rename wins.
* ``"bf16"`` always uses it for large calls; ``"off"`` never does (then torch is never imported at run time).
* A call runs in bf16 (and loads the bf16 model the first time: torch and the weights, about 1 s and 300 MB) only
  when it has ``BULK_FROM`` distinct texts or more, or runs inside an announced import of as many
  (``OnnxEmbedder.expecting``: the import's pipeline announces its size). A single message always runs on
  onnxruntime (its p95 target is 10 ms), and ``resonate run`` and ``resonate eval`` keep ``auto`` off, so a
  long-running bot stays small and a figure does not depend on the CPU. Training an intent model stays in fp32
  (``OnnxEmbedder.in_fp32``), as the model is cached for every process. If torch or the weights fail to load or
  run, the call and every later one go on in fp32, with a warning in the log.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

BULK_MODES = ("auto", "bf16", "off")
BULK_VERSION = "bf16-bulk-2"  # change when the calibration or the bf16 path changes
# Texts in a call (or announced by ``OnnxEmbedder.expect``: an import's batches) from which the bf16 model is loaded.
# Loading torch and the weights takes about 1 s, which 1,500 messages pay back on the CPU above; and the demo's
# sample inbox (589 messages) stays on onnxruntime, so it reads the same on every machine.
BULK_FROM = 1500
SPEEDUP = 1.15  # auto: bf16 must embed the calibration texts at least this much faster than onnxruntime
MIN_COSINE = 0.9995  # auto: and agree with it at least this well on every text (the target is 0.999)
ROUNDS = 3
BF16_FLAGS = ("avx512_bf16", "amx_bf16")

# Chat-like fragments combined into calibration texts of 7 to 36 tokens (no dataset text is shipped); the bf16 path
# was checked on longer ones too (tests/test_bulk.py: texts up to the 256-token limit, cosine >= 0.999).
_FRAGMENTS = (
    "where is my order", "I was charged twice for the same subscription", "thanks, that fixed it",
    "can you add a dark mode to the app", "the delivery is late again and nobody answers",
    "how do I change the email on my account", "love the new update, great work team",
    "my card was declined at checkout", "is there a discount for students", "the package arrived damaged",
    "please cancel my plan before the next renewal", "what time does support open on weekends",
    "I would like a refund for the broken charger", "the app crashes when I upload a photo",
    "do you ship to Canada", "hi, quick question about the invoice from last month",
)


def calibration_texts(n: int = 96) -> list[str]:
    """``n`` fixed texts of varied length, made from ``_FRAGMENTS``."""
    texts, k = [], 0
    for i in range(n):
        parts = [_FRAGMENTS[(k + j) % len(_FRAGMENTS)] for j in range(1 + i % 4)]
        k += 3
        texts.append(". ".join(parts).capitalize() + ("?" if i % 3 == 0 else "."))
    return texts


def cpu_fields(info: str | None = None) -> dict[str, str]:
    """The first processor's fields in ``info`` (the text of /proc/cpuinfo, read when not given; {} where there is
    none)."""
    if info is None:
        try:
            info = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return {}
    fields: dict[str, str] = {}
    for line in info.splitlines():
        if not line.strip():
            break  # the first processor is enough
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_name(fields: dict[str, str]) -> str:
    """The model name with the family, model and stepping numbers. A virtual machine may name two CPUs alike ("AMD
    EPYC" for a Zen 4 and a Zen 5, whose calibrations measured bf16 1.4-1.6 and 1.2-1.4 times as fast): the numbers
    tell them apart, so each is measured."""
    name = fields.get("model name", "")
    numbers = [f"{key} {fields[key]}" for key in ("cpu family", "model", "stepping") if fields.get(key)]
    return f"{name} ({', '.join(numbers)})" if numbers else name


def cpu(info: str | None = None) -> tuple[str, tuple[str, ...]]:
    """:func:`cpu_name` and which of ``BF16_FLAGS`` the CPU has, from ``info`` (see :func:`cpu_fields`)."""
    fields = cpu_fields(info)
    flags = set(fields.get("flags", "").split())
    return cpu_name(fields), tuple(f for f in BF16_FLAGS if f in flags)


class Bf16Model:
    """The model folder's transformer with its matrix products in bfloat16 under torch, giving the ONNX graph's
    outputs. A BERT folder with ``model.safetensors`` (MiniLM) runs on :class:`_Bert`, which loads in 0.1 s instead of
    the 2.3 s transformers takes to import; another architecture runs on transformers' ``AutoModel`` in bf16."""

    def __init__(self, model_dir: Path, tone_layer: int):
        import torch

        self._torch = torch
        self.tone_layer = tone_layer
        self.bert = _Bert.load(Path(model_dir))
        if self.bert is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            from transformers import AutoModel
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" would print on every import otherwise
            self.model = AutoModel.from_pretrained(str(model_dir), dtype=torch.bfloat16).eval()

    def hidden_states(self, ids, mask, types, last_only: bool) -> list:
        """The embedding output and each layer's (the last only when ``last_only``), as transformers gives them."""
        if self.bert is not None:
            return self.bert(ids, mask, types, keep=None if not last_only else ())
        out = self.model(input_ids=ids, attention_mask=mask, token_type_ids=types, output_hidden_states=not last_only)
        return [out.last_hidden_state] if last_only else list(out.hidden_states)

    def run(self, outputs: Sequence[str], feed: dict) -> list[np.ndarray]:
        """``outputs`` ("sentence_embedding", "tone", "token_states") for one padded batch (``feed`` as onnxruntime
        takes it)."""
        torch = self._torch
        ids = torch.from_numpy(feed["input_ids"])
        mask = torch.from_numpy(feed["attention_mask"])
        types = torch.from_numpy(feed["token_type_ids"]) if "token_type_ids" in feed else torch.zeros_like(ids)
        with torch.inference_mode():
            states = self.hidden_states(ids, mask, types, last_only="tone" not in outputs)
            weights = mask.unsqueeze(-1).to(torch.float32)

            def pooled(hidden):  # as the ONNX graph: mean over the mask, then L2, in fp32
                mean = (hidden.to(torch.float32) * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(mean, p=2, dim=1).numpy()

            found = {"sentence_embedding": lambda: pooled(states[-1]),
                     "tone": lambda: pooled(states[min(self.tone_layer, len(states) - 1)]),
                     "token_states": lambda: states[-1].to(torch.float32).numpy()}
            return [found[name]() for name in outputs]


class _Bert:
    """BERT's encoder (absolute positions, GELU, post-LayerNorm) as transformers' ``BertModel`` computes it, with the
    matrix products in bfloat16 and the rest (embeddings, residual sums, LayerNorm) in fp32.
    ``tests/test_bulk.py`` checks it against transformers in fp32 and against the sentence-transformers reference."""

    def __init__(self, config: dict, weights: dict, dtype=None):
        import torch

        self.torch = torch
        self.dtype = dtype or torch.bfloat16  # of the matrix products (tests compare float32 with transformers)
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""

        def w(name, bf16=False):
            tensor = weights[prefix + name].to(torch.float32)
            return tensor.to(self.dtype) if bf16 else tensor

        self.word = w("embeddings.word_embeddings.weight")
        self.position = w("embeddings.position_embeddings.weight")
        self.token_type = w("embeddings.token_type_embeddings.weight")
        self.norm = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            at = f"encoder.layer.{i}."
            qkv = torch.cat([w(at + f"attention.self.{n}.weight") for n in ("query", "key", "value")])
            qkv_bias = torch.cat([w(at + f"attention.self.{n}.bias") for n in ("query", "key", "value")])
            self.layers.append({
                "qkv": (qkv.to(self.dtype), qkv_bias.to(self.dtype)),
                "out": (w(at + "attention.output.dense.weight", True), w(at + "attention.output.dense.bias", True)),
                "norm1": (w(at + "attention.output.LayerNorm.weight"), w(at + "attention.output.LayerNorm.bias")),
                "up": (w(at + "intermediate.dense.weight", True), w(at + "intermediate.dense.bias", True)),
                "down": (w(at + "output.dense.weight", True), w(at + "output.dense.bias", True)),
                "norm2": (w(at + "output.LayerNorm.weight"), w(at + "output.LayerNorm.bias")),
            })

    @classmethod
    def load(cls, model_dir: Path, dtype=None) -> "_Bert | None":
        """The folder's BERT, or None when it is another architecture or has no ``model.safetensors``."""
        try:
            config = json.loads((model_dir / "config.json").read_text())
        except (OSError, ValueError):
            return None
        if (config.get("model_type") != "bert" or config.get("hidden_act") != "gelu"
                or config.get("position_embedding_type", "absolute") != "absolute"
                or not (model_dir / "model.safetensors").is_file()):
            return None
        from safetensors.torch import load_file

        try:
            return cls(config, load_file(str(model_dir / "model.safetensors")), dtype)
        except KeyError:
            return None  # named otherwise than BertModel names them: transformers knows better

    def __call__(self, ids, mask, types, keep=None) -> list:
        """Hidden states after the embeddings and after each layer (``keep=()``: the last only)."""
        torch = self.torch
        F = torch.nn.functional
        bf16 = self.dtype
        batch, width = ids.shape
        x = self.word[ids] + self.position[:width].unsqueeze(0) + self.token_type[types]
        x = F.layer_norm(x, x.shape[-1:], *self.norm, eps=self.eps)
        states = [x]
        # padding is masked as transformers does, with the dtype's lowest value added to the scores
        bias = ((1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(bf16).min).to(bf16)
        size = x.shape[-1] // self.heads
        for layer in self.layers:
            qkv = F.linear(x.to(bf16), *layer["qkv"]).view(batch, width, 3, self.heads, size)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
            attended = attended.transpose(1, 2).reshape(batch, width, -1)
            x = F.layer_norm(F.linear(attended, *layer["out"]).to(torch.float32) + x, x.shape[-1:], *layer["norm1"],
                             eps=self.eps)
            hidden = F.gelu(F.linear(x.to(bf16), *layer["up"]))  # torch computes it in fp32, rounds it to bf16
            x = F.layer_norm(F.linear(hidden, *layer["down"]).to(torch.float32) + x, x.shape[-1:],
                             *layer["norm2"], eps=self.eps)
            if keep is None:
                states.append(x)
        return states if keep is None else [x]


def calibration_path(embedder) -> Path:
    from nlp.cache import cache_dir, content_hash
    from nlp.onnx_embedder import _version

    name, flags = cpu()
    key = content_hash(BULK_VERSION, embedder.export_key(), name, flags, embedder.threads, os.cpu_count(),
                       _version("torch"), _version("transformers"), SPEEDUP, MIN_COSINE)
    return (embedder._cache_dir or cache_dir()) / f"embedder-{embedder.name}-bulk-{key}.json"


def decision(embedder) -> dict:
    """Whether ``embedder`` should run large calls in bf16 on this machine: the cached calibration, or a new one."""
    path = calibration_path(embedder)
    try:
        found = json.loads(path.read_text())
        if isinstance(found, dict) and isinstance(found.get("bf16"), bool):
            return found
    except (OSError, ValueError):
        pass  # not measured yet here, or a damaged file: measure again
    try:
        result = calibrate(embedder)
    except Exception as exc:  # noqa: BLE001 - torch that cannot load must not stop an import: fp32 runs it
        embedder.unload_bulk()
        log.warning("large batches stay on onnxruntime: bf16 could not be measured (%s)", exc)
        return {"version": BULK_VERSION, "bf16": False, "reason": f"could not measure: {exc}"}  # not cached
    from nlp.cache import atomic_write_bytes

    try:
        atomic_write_bytes(path, json.dumps(result, indent=1).encode())
    except OSError as exc:  # a read-only cache: measured again next time, the import goes on
        log.warning("could not cache the bf16 measurement in %s: %s", path, exc)
    log.info("embedding large batches in %s on this CPU: %s", "bf16" if result["bf16"] else "fp32", result)
    return result


def calibrate(embedder) -> dict:
    """Embed :func:`calibration_texts` on both paths, alternated ``ROUNDS`` times, and compare the best times."""
    name, flags = cpu()
    result = {"version": BULK_VERSION, "cpu": name, "flags": list(flags), "bf16": False}
    if not flags:
        result["reason"] = "this CPU has no bf16 instructions"
        return result
    texts = calibration_texts()
    embedder.load_bulk()
    onnx_s, bf16_s = [], []
    for _ in range(ROUNDS + 1):  # the first round warms both up and is not counted
        for use_bulk, times in ((False, onnx_s), (True, bf16_s)):
            start = time.perf_counter()
            vectors, tone = embedder._run(texts, ["sentence_embedding", "tone"], bulk=use_bulk)
            times.append(time.perf_counter() - start)
            if use_bulk:
                bf16 = (vectors, tone)
            else:
                fp32 = (vectors, tone)
    agreement = min(float(np.min(np.sum(a * b, axis=1))) for a, b in zip(fp32, bf16))
    speedup = min(onnx_s[1:]) / min(bf16_s[1:])
    result.update(onnx_s=round(min(onnx_s[1:]), 4), bf16_s=round(min(bf16_s[1:]), 4), speedup=round(speedup, 3),
                  min_cosine=round(agreement, 6), bf16=bool(speedup >= SPEEDUP and agreement >= MIN_COSINE))
    if not result["bf16"]:
        result["reason"] = "not faster here" if speedup < SPEEDUP else "embeddings differ too much"
        embedder.unload_bulk()  # the weights are let go (torch itself, about 190 MB, stays in this process)
    return result
