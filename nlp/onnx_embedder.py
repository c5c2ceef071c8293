"""The same sentence-transformers model, run with onnxruntime.

:class:`OnnxEmbedder` follows the :class:`~nlp.embeddings.Embedder` protocol and
gives the same vectors as :class:`~nlp.embeddings.SentenceTransformerEmbedder`
(cosine >= 0.999 per message, checked by ``tests/test_onnx.py``) without importing
torch, in less than half the memory, and on a CPU faster (bench/RESULTS.md: with the
batching below, the whole analysis runs 1.5-1.6x the messages per second of a plain
torch encode on a 2-core AVX-512 Xeon): the transformer, mean pooling
over the attention mask and L2 normalisation are one ONNX graph (which also gives the
tone vectors that the sentiment head reads: see ``nlp.embeddings.TONE_LAYER``, and the last layer's token
states, which the themes pool with weights of their own: see :meth:`OnnxEmbedder.encode_all`), and the text goes
through the model folder's own fast tokenizer (``tokenizer.json``, HF
``tokenizers``) with its ``max_seq_length``.

The ONNX file is exported from the model's weights at first use (the one time
torch and transformers are imported) into the content-hash cache
(:mod:`nlp.cache`): its key covers the weights (file names, sizes and
modification times), the export settings and the onnx/onnxruntime/torch
versions, so changed weights or an upgrade export afresh and the stale file is
never read again. Two processes starting at once take a file lock: one exports,
the other waits and then reads the finished file; the file is written under a
temporary name and renamed into place, so nobody ever sees half of it. A damaged
file is exported again.

A large call (an import) may run the same weights with bf16 matrix products under torch instead, on a CPU where
that was measured faster: see :mod:`nlp.bulk` and ``bulk``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import threading
import warnings
from importlib import metadata
from pathlib import Path
from typing import Sequence

import numpy as np

from nlp.bulk import BULK_FROM, BULK_MODES
from nlp.embeddings import DEFAULT_MODEL, TONE_LAYER, resolve_model_path, weighted_mean

log = logging.getLogger(__name__)

EXPORT_VERSION = "onnx-export-meanpool-l2-tone-tokens-4"  # change when the exported graph changes
OPSET = 17
DEFAULT_THREADS = 2
# A batch holds messages of similar length up to about this many tokens, padding included (at most MAX_BATCH
# messages): measured on 2,000 chat messages, batches of 512 tokens run 1.3x faster than batches of 32
# messages, which left the matrix products of short messages too small to use the CPU well.
BATCH_TOKENS = 512
MAX_BATCH = 256
SPLIT_FROM = 256  # texts from which the tokenizer runs on every thread
WEIGHTED = "weighted"  # not an output of the graph: its "token_states" pooled with the call's idf weights


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def available() -> bool:
    """Whether onnxruntime is installed (the export also needs ``onnx``, and torch once)."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("tokenizers") is not None


def load_onnxruntime():
    """onnxruntime, with its telemetry off. Its Linux and macOS builds (1.32 here) start a usage-event uploader to
    Microsoft and keep a device id and an event cache under ~/.cache/Microsoft unless ORT_DISABLE_TELEMETRY=1 is
    set before the first session: Resonate keeps every message and every figure on the machine. Setting
    ORT_DISABLE_TELEMETRY=0 yourself allows it."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime as ort

    if os.environ["ORT_DISABLE_TELEMETRY"] != "0":
        ort.disable_telemetry_events()
    return ort


def weights_key(path: Path) -> str:
    """Identifies the model folder's content cheaply: every file's name, size and modification time."""
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file():
            st = f.stat()
            h.update(f"{f.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive advisory lock on ``path`` (POSIX flock); elsewhere, none: the atomic rename still holds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+b")
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            fcntl = None
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        fh.close()  # releases the lock


class OnnxEmbedder:
    """A local sentence-transformers model (BERT-like, mean pooling) exported to ONNX and run with onnxruntime."""

    backend = "onnx"

    def __init__(self, model: str | os.PathLike | None = None, *, threads: int = DEFAULT_THREADS,
                 cache_dir: str | os.PathLike | None = None, batch_tokens: int = BATCH_TOKENS,
                 max_batch: int = MAX_BATCH, bulk: str = "off"):
        self.path = resolve_model_path(model)
        self.name = self.path.name if model not in (None, "", DEFAULT_MODEL) else DEFAULT_MODEL
        self.threads = max(1, int(threads))
        self.batch_tokens = max(1, int(batch_tokens))
        self.max_batch = max(1, int(max_batch))
        self._cache_dir = Path(cache_dir) if cache_dir else None
        self._lock = threading.Lock()
        self._session = None
        self._side_by_side = None  # single-threaded session for batches run at once (see ``encode``), made on first use
        self._tokenizer = None
        self.exported = False  # True when this instance exported the file (tests check the cache is reused)
        if bulk not in BULK_MODES:
            raise ValueError(f"bulk={bulk!r} is not one of {', '.join(BULK_MODES)}")
        self.bulk = bulk  # large calls in bf16 with torch: "auto" where measured faster, "bf16" always, "off" never
        self._bulk_model = None  # nlp.bulk.Bf16Model, loaded by the first large call that uses it
        self._bulk_decided = None  # auto: this machine's calibration (nlp.bulk.decision), read once
        self._expected = 0  # texts a caller said it will embed in several calls (``expecting``)
        self._in_fp32 = threading.local()  # ``in_fp32``: this thread's calls stay on onnxruntime
        self._bulk_broken = ""  # why the bf16 model failed here: every later call stays on onnxruntime
        st_config = self.path / "sentence_bert_config.json"
        self.max_seq_length = int(json.loads(st_config.read_text()).get("max_seq_length", 256)) \
            if st_config.is_file() else 256

    # -- identity -------------------------------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        """For the intent cache key: the same weights as the torch backend, but another runtime."""
        from nlp.embeddings import model_files_digest

        return f"onnx:{self.name}:{model_files_digest(self.path)}"

    def export_key(self) -> str:
        from nlp.cache import content_hash

        return content_hash(EXPORT_VERSION, OPSET, weights_key(self.path), self.max_seq_length,
                            _version("onnx"), _version("onnxruntime"), _version("torch"), _version("transformers"))

    @functools.cached_property
    def onnx_path(self) -> Path:
        """The cached export for the weights as they are now (fixed for the life of this instance)."""
        from nlp.cache import cache_dir

        return (self._cache_dir or cache_dir()) / f"embedder-{self.name}-{self.export_key()}.onnx"

    # -- loading --------------------------------------------------------------------------------------------------
    @property
    def dimension(self) -> int:
        self.load()
        return self._output_dim

    def load(self) -> None:
        """Tokenizer and onnxruntime session; exports the model first if the cache has no valid file."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            path = self.onnx_path
            session = self._open(path) if path.is_file() else None
            if session is None:
                with _file_lock(path.with_name(path.name + ".lock")):
                    session = self._open(path) if path.is_file() else None  # another process finished it
                    if session is None:
                        export_onnx(self.path, path)
                        self.exported = True
                        session = self._open(path)
                        if session is None:
                            from bot.errors import ModelError

                            raise ModelError(f"the ONNX export of {self.path} in {path} cannot be loaded")
            self._tokenizer = self._make_tokenizer()
            self._needs_types = any(i.name == "token_type_ids" for i in session.get_inputs())
            self._output_dim = session.get_outputs()[0].shape[-1]  # the tone vectors have the same width
            if not isinstance(self._output_dim, int):
                self._output_dim = int(session.run(None, self._feed_one())[0].shape[1])
            self._session = session

    def _feed_one(self) -> dict:
        ids = np.array([self._tokenizer.encode("").ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if self._needs_types:
            feed["token_type_ids"] = np.zeros_like(ids)
        return feed

    def _open(self, path: Path, threads: int | None = None):
        """A session on ``threads`` cores (default: ``self.threads``) for one run at a time."""
        ort = load_onnxruntime()

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # The cached file is already optimised (see export_onnx): basic rewrites only, 0.15 s instead of 0.5 s.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        # A multi-threaded session runs one message or one batch at a time (many batches run side by side on the
        # single-threaded session instead, see ``_parallel_session``): its threads may spin between the operators
        # of a run rather than sleep and wake, which keeps the p95 of a single message at 8.3 ms instead of 11.3 ms
        # (measured in one process on 2 cores). A single-threaded session has no threads to spin.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        try:
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001 - a damaged or truncated file (onnxruntime raises its own types)
            return None

    def _make_tokenizer(self):
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tok.enable_truncation(max_length=self.max_seq_length)
        tok.no_padding()  # each batch is padded to its own longest message below
        return tok

    # -- encoding -------------------------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, ["sentence_embedding"])[0]

    def encode_with_tone(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The sentence embeddings and the tone vectors (``nlp.embeddings.TONE_LAYER``), from one pass."""
        return tuple(self._run(texts, ["sentence_embedding", "tone"]))

    def encode_all(self, texts: Sequence[str], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The sentence embeddings, the tone vectors and the last layer's token states pooled with the weights
        ``idf`` (one a token id, see :class:`nlp.embeddings.TokenCounts`: what the themes cluster on), from one
        pass."""
        return tuple(self._run(texts, ["sentence_embedding", "tone", WEIGHTED], weights=idf))

    @property
    def vocabulary(self) -> int:
        """The number of token ids (for :class:`nlp.embeddings.TokenCounts`)."""
        self.load()
        return self._tokenizer.get_vocab_size()

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids, as the model reads it (truncated to its ``max_seq_length``)."""
        self.load()
        return [e.ids for e in self._tokenize(list(texts))]

    # -- large calls in bf16 (nlp.bulk) -----------------------------------------------------------------------
    def load_bulk(self):
        """The bf16 model (see :mod:`nlp.bulk`), loaded once."""
        if self._bulk_model is None:
            with self._lock:
                if self._bulk_model is None:
                    from nlp.bulk import Bf16Model

                    self._bulk_model = Bf16Model(self.path, TONE_LAYER)
        return self._bulk_model

    @contextlib.contextmanager
    def expecting(self, n: int):
        """Inside it, a caller embedding ``n`` texts in several calls (an import, in batches of 1,024) has them run in
        bf16 from the first one, as one call of ``n`` texts would (see ``BULK_FROM``); after it, each call is judged
        by its own size again."""
        before = self._expected
        self._expected = max(before, int(n))
        try:
            yield self
        finally:
            self._expected = before

    @contextlib.contextmanager
    def in_fp32(self):
        """Inside it, this thread's calls stay on onnxruntime whatever their size: what is cached for other
        processes to read (a trained intent model) must not depend on whether this one ran bf16."""
        before = getattr(self._in_fp32, "on", False)
        self._in_fp32.on = True
        try:
            yield self
        finally:
            self._in_fp32.on = before

    def unload_bulk(self) -> None:
        self._bulk_model = None

    @property
    def bulk_in_use(self) -> bool:
        """Whether the bf16 model is loaded: large calls run on it."""
        return self._bulk_model is not None and self.bulk != "off"  # a failed model is let go (``_bulk_failed``)

    def _use_bulk(self, distinct: int, batches: int) -> bool:
        if self.bulk == "off" or batches < 2 or self._bulk_broken or getattr(self._in_fp32, "on", False):
            return False  # a single message or batch keeps onnxruntime's latency
        if max(distinct, self._expected) < BULK_FROM:
            return False  # not worth loading torch for
        if self.bulk == "auto":
            if self._bulk_decided is None:
                from nlp.bulk import decision

                self._bulk_decided = decision(self)
            if not self._bulk_decided["bf16"]:
                return False
        try:
            self.load_bulk()
        except Exception as exc:  # noqa: BLE001 - a torch that cannot load must not stop an import: fp32 runs it
            self._bulk_failed(exc)
            return False
        return True

    def _bulk_failed(self, exc: BaseException) -> None:
        self._bulk_broken = f"{type(exc).__name__}: {exc}"
        self.unload_bulk()
        log.warning("large batches stay on onnxruntime (fp32): the bf16 model failed (%s)", self._bulk_broken)

    def _run(self, texts: Sequence[str], outputs: list[str], bulk: bool | None = None,
             weights: np.ndarray | None = None) -> list[np.ndarray]:
        """``outputs`` of the ONNX graph for ``texts``; ``bulk`` forces (True) or forbids (False) the bf16 path,
        which by default large calls take as ``self.bulk`` says. ``WEIGHTED`` pools the last layer's token states
        with ``weights`` (one a token id)."""
        texts = list(texts)
        if self._session is None:
            self.load()
        unique = list(dict.fromkeys(texts))  # a chat repeats itself ("thanks!"): each distinct text runs once
        results = [np.empty((len(unique), self._output_dim), dtype=np.float32) for _ in outputs]
        if not unique:
            return results
        encs = self._tokenize(unique)
        lengths = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))

        batches = self._batches(lengths)
        use_bulk = bulk if bulk is not None else self._use_bulk(len(unique), len(batches))
        try:
            self._embed(encs, lengths, batches, outputs, results, use_bulk, weights)
        except Exception as exc:
            if not use_bulk or bulk is not None:
                raise  # onnxruntime's own error, or the bf16 path asked for by name (its calibration)
            self._bulk_failed(exc)  # the import goes on in fp32, from the start of this call
            self._embed(encs, lengths, batches, outputs, results, False, weights)
        if len(unique) == len(texts):
            return results
        where = {t: i for i, t in enumerate(unique)}
        rows = [where[t] for t in texts]
        return [result[rows] for result in results]

    def _embed(self, encs: list, lengths: np.ndarray, batches: list[np.ndarray], outputs: list[str],
               results: list[np.ndarray], use_bulk: bool, weights: np.ndarray | None = None) -> None:
        """Fill ``results`` with ``outputs`` for the encodings ``encs``, batch by batch, on onnxruntime or
        (``use_bulk``) on the bf16 model; ``WEIGHTED`` pools the token states with ``weights`` (one a token id)."""
        workers = min(self.threads, len(batches))
        if use_bulk:
            session = self.load_bulk()
            torch_threads = session._torch.get_num_threads()
            # batches side by side take one core each, as on the single-threaded onnxruntime session
            session._torch.set_num_threads(1 if workers > 1 else self.threads)
        else:
            session = self._session if workers <= 1 else self._parallel_session()
            torch_threads = None

        def run(idx: np.ndarray) -> None:
            width = int(lengths[idx].max())
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, k in enumerate(idx):
                n = lengths[k]
                ids[row, :n] = encs[k].ids
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if self._needs_types:
                feed["token_type_ids"] = np.zeros_like(ids)
            names = ["token_states" if name == WEIGHTED else name for name in outputs]
            for name, result, rows in zip(outputs, results, session.run(names, feed)):
                result[idx] = weighted_mean(rows, ids, mask, weights) if name == WEIGHTED else rows

        try:
            if workers <= 1:
                for idx in batches:
                    run(idx)
            else:
                # onnxruntime (and torch) run a model from several threads at once and release the GIL while they run
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(workers, thread_name_prefix="resonate-embed") as pool:
                    list(pool.map(run, batches))  # each worker takes the next batch when it is free
        finally:
            if torch_threads is not None:
                session._torch.set_num_threads(torch_threads)

    def _tokenize(self, texts: list[str]) -> list:
        """The tokenizer's encodings of ``texts``. The tokenizer releases the GIL while it works, so many texts are
        tokenized a part per thread (2,000 messages on 2 cores: 80 -> 49 ms; one thread left the other core idle)."""
        if self.threads <= 1 or len(texts) < SPLIT_FROM:
            return self._tokenizer.encode_batch(texts)
        from concurrent.futures import ThreadPoolExecutor

        size = -(-len(texts) // self.threads)
        with ThreadPoolExecutor(self.threads, thread_name_prefix="resonate-tokenize") as pool:
            parts = pool.map(self._tokenizer.encode_batch, [texts[i:i + size] for i in range(0, len(texts), size)])
            return [e for part in parts for e in part]

    def _parallel_session(self):
        """A second session, one thread per run, that ``threads`` threads run at once on different batches. A
        transformer this small spends much of a multi-threaded run waiting at each operator for the other threads;
        whole batches side by side keep every core busy (1.3-1.5x the throughput of 2 threads per run on 2
        cores). A single message runs faster on all threads, so it keeps the first session; this one is made
        only once a call has several batches (about 70 MB more), so a bot that sees one message at a time never
        holds it."""
        if self._side_by_side is None:
            with self._lock:
                if self._side_by_side is None:
                    self._side_by_side = self._open(self.onnx_path, threads=1) or self._session
        return self._side_by_side

    def _batches(self, lengths: np.ndarray) -> list[np.ndarray]:
        """Indexes of messages of similar token length (shortest first), each batch padded to its longest
        message and holding up to ``batch_tokens`` tokens with the padding (and at most ``max_batch`` messages;
        a message longer than that runs alone)."""
        order = np.argsort(lengths, kind="stable")
        batches, start = [], 0
        while start < len(order):
            stop = start + 1
            # sorted by length: the next message is the batch's longest, so rows x its length is the padded size
            while (stop < len(order) and stop - start < self.max_batch
                   and (stop - start + 1) * int(lengths[order[stop]]) <= self.batch_tokens):
                stop += 1
            batches.append(order[start:stop])
            start = stop
        return batches


def export_onnx(model_dir: Path, target: Path) -> None:
    """Export a local sentence-transformers folder (transformer + mean pooling + L2) to ``target``, atomically.
    A second output, ``tone``, is the same pooling of the hidden states after encoder layer ``TONE_LAYER``; a third,
    ``token_states``, the last layer's states of every token, unpooled (for :meth:`OnnxEmbedder.encode_all`)."""
    import tempfile

    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir)).eval()

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            # Keyword arguments: transformers 5 changed the positional order of BertModel.forward.
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                             output_hidden_states=True)
            mask = attention_mask.unsqueeze(-1).to(out.last_hidden_state.dtype)

            def pooled(hidden):
                mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(mean, p=2, dim=1)

            # (a model of fewer layers than TONE_LAYER gives its last; the shipped sentiment head reads MiniLM's)
            return (pooled(out.last_hidden_state), pooled(out.hidden_states[min(TONE_LAYER, len(out.hidden_states) - 1)]),
                    out.last_hidden_state)

    wrapper = SentenceEmbedding(model).eval()
    sample = torch.ones((2, 8), dtype=torch.long)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        # The tracer warns about data-dependent branches of the attention mask code; the exported graph is checked
        # against the torch model (tests/test_onnx.py), so the warnings only alarm a first-time user.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper, (sample, torch.ones_like(sample), torch.zeros_like(sample)), tmp, dynamo=False,
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["sentence_embedding", "tone", "token_states"],
                dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                              "token_type_ids": {0: "batch", 1: "sequence"}, "sentence_embedding": {0: "batch"},
                              "tone": {0: "batch"}, "token_states": {0: "batch", 1: "sequence"}},
                opset_version=OPSET, do_constant_folding=True,
            )
        optimized = tmp + ".opt"
        _optimize(tmp, optimized)
        os.replace(optimized, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        for leftover in (tmp, tmp + ".opt"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
        raise


def _optimize(source: str, target: str) -> None:
    """onnxruntime's hardware-independent graph rewrites (fusions, constant folding), saved once so that each
    start loads the optimised graph instead of redoing them."""
    ort = load_onnxruntime()

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = target
    ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
