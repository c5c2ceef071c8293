"""Intent classification on sentence embeddings, with calibrated confidence and abstention.

The classifier is a multinomial logistic regression over normalised embeddings.
Its probabilities are calibrated by temperature scaling fitted on out-of-fold
predictions (cross-validation on the training examples), so a confidence of 0.9
means about nine in ten such predictions are right. It abstains (intent
``unknown``) when the calibrated confidence is below ``min_confidence`` or when
the message is far from every training example (``min_similarity``, cosine to
the nearest example), which catches out-of-scope messages that a closed-set
classifier would otherwise force into some intent.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

UNKNOWN = "unknown"


@dataclass(frozen=True)
class IntentPrediction:
    intent: str  # UNKNOWN when the classifier abstains
    confidence: float  # calibrated probability of ``best_intent``
    best_intent: str  # the most likely intent, even when abstaining
    ranking: tuple[tuple[str, float], ...] = ()  # top intents with probabilities
    nearest_example: str | None = None  # closest training example of best_intent
    similarity: float = 0.0  # cosine to the closest training example overall


@dataclass
class IntentClassifier:
    """Fit on (text, label) examples; predict from embeddings."""

    min_confidence: float = 0.45
    min_similarity: float = 0.35
    C: float = 20.0
    classes: list[str] = field(default_factory=list)
    coef: np.ndarray | None = None
    intercept: np.ndarray | None = None
    temperature: float = 1.0
    example_vectors: np.ndarray | None = None
    example_texts: list[str] = field(default_factory=list)
    example_labels: list[str] = field(default_factory=list)
    train_seconds: float = 0.0

    # -- training -----------------------------------------------------------------
    def fit(self, vectors: np.ndarray, labels: Sequence[str], texts: Sequence[str] | None = None,
            weights: Sequence[float] | None = None, calibrate: bool = True) -> "IntentClassifier":
        start = time.perf_counter()
        X = np.asarray(vectors, dtype=np.float32)
        y_labels = list(labels)
        if len(X) != len(y_labels) or len(X) == 0:
            raise ValueError("need as many labels as vectors, and at least one")
        self.classes = sorted(set(y_labels))
        index = {c: i for i, c in enumerate(self.classes)}
        y = np.array([index[label] for label in y_labels])
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        if len(self.classes) == 1:
            self.coef = np.zeros((1, X.shape[1]), dtype=np.float32)
            self.intercept = np.zeros(1, dtype=np.float32)
        else:
            model = self._fit_lr(X, y, w)
            self.coef, self.intercept = self._as_full(model, X.shape[1])
            if calibrate:
                self.temperature = self._fit_temperature(X, y, w)
        self.example_vectors = X
        self.example_texts = list(texts) if texts is not None else [""] * len(X)
        self.example_labels = y_labels
        self.train_seconds = time.perf_counter() - start
        return self

    def _fit_lr(self, X, y, w):
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=self.C, max_iter=2000)
        model.fit(X, y, sample_weight=w)
        return model

    def _as_full(self, model, dim):
        """Coefficients for every class (binary LR stores one row)."""
        coef = np.asarray(model.coef_, dtype=np.float32)
        intercept = np.asarray(model.intercept_, dtype=np.float32)
        if coef.shape[0] == 1:  # two classes: logit for class 1 vs 0
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
        return coef, intercept

    def _fit_temperature(self, X, y, w) -> float:
        """Temperature that minimises the negative log-likelihood of out-of-fold logits."""
        counts = np.bincount(y)
        folds = int(min(5, counts.min()))
        if folds < 2:
            return 1.0
        from sklearn.model_selection import StratifiedKFold

        logits = np.zeros((len(X), len(self.classes)), dtype=np.float64)
        for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y):
            if len(set(y[train_idx])) < len(self.classes):
                return 1.0
            model = self._fit_lr(X[train_idx], y[train_idx], None if w is None else w[train_idx])
            coef, intercept = self._as_full(model, X.shape[1])
            logits[test_idx] = X[test_idx] @ coef.T + intercept
        best_t, best_nll = 1.0, np.inf
        for t in np.exp(np.linspace(np.log(0.05), np.log(10.0), 120)):
            p = _softmax(logits / t)
            nll = -np.mean(np.log(p[np.arange(len(y)), y] + 1e-12))
            if nll < best_nll:
                best_t, best_nll = float(t), nll
        return best_t

    # -- prediction ---------------------------------------------------------------
    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        if self.coef is None:
            raise RuntimeError("the intent classifier is not trained")
        X = np.asarray(vectors, dtype=np.float32)
        if len(self.classes) == 1:
            return np.ones((len(X), 1))
        return _softmax((X @ self.coef.T + self.intercept) / self.temperature)

    def predict(self, vectors: np.ndarray, top: int = 3) -> list[IntentPrediction]:
        X = np.asarray(vectors, dtype=np.float32)
        if len(X) == 0:
            return []
        probs = self.probabilities(X)
        sims = X @ self.example_vectors.T
        labels = np.array(self.example_labels)
        out = []
        for i in range(len(X)):
            order = np.argsort(-probs[i])
            best = self.classes[order[0]]
            conf = float(probs[i, order[0]])
            similarity = float(sims[i].max())
            own = np.where(labels == best)[0]
            nearest = self.example_texts[own[np.argmax(sims[i, own])]] if len(own) else None
            intent = best
            if conf < self.min_confidence or similarity < self.min_similarity:
                intent = UNKNOWN
            ranking = tuple((self.classes[j], float(probs[i, j])) for j in order[:top])
            out.append(IntentPrediction(intent, conf, best, ranking, nearest, similarity))
        return out

    # -- persistence --------------------------------------------------------------
    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(
            buf, classes=np.array(self.classes), coef=self.coef, intercept=self.intercept,
            temperature=np.array(self.temperature), example_vectors=self.example_vectors,
            example_texts=np.array(self.example_texts), example_labels=np.array(self.example_labels),
            settings=np.array([self.min_confidence, self.min_similarity, self.C, self.train_seconds]),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "IntentClassifier":
        z = np.load(io.BytesIO(data), allow_pickle=False)
        min_conf, min_sim, C, seconds = (float(v) for v in z["settings"])
        return cls(
            min_confidence=min_conf, min_similarity=min_sim, C=C, classes=[str(c) for c in z["classes"]],
            coef=z["coef"], intercept=z["intercept"], temperature=float(z["temperature"]),
            example_vectors=z["example_vectors"], example_texts=[str(t) for t in z["example_texts"]],
            example_labels=[str(t) for t in z["example_labels"]], train_seconds=seconds,
        )


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
