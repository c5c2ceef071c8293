"""Intent classification with calibrated confidence and abstention.

Features: TF-IDF of words (1-2 grams) and characters (2-5 grams within words),
each block L2-normalised and the pair scaled by 1/sqrt(2), next to the frozen
sentence embedding weighted 1.5. The words catch exact product and domain terms,
the characters catch typos and inflections, the embedding catches paraphrases.
A linear SVM (one-vs-rest) scores the intents; each intent's name ("order_status"
-> "order status") is added as one more training text, which helps when there
are few examples.

With few examples (a small training set, as a playbook's twenty per intent) the
words seen are a thin sample while the embedding still knows the paraphrases, so
the embedding should count for more. There the scores are an even mix of
candidate settings: the SVMs with the embedding weighted 1.5 and 2.5, plus half
the logits of a multinomial logistic regression on the embedding alone (a second,
smoother view of the same vectors). All are linear in the features, so they fold
into one set of coefficients and the saved model keeps one linear scorer. The mix
replaced picking the candidate that predicted cross-validation folds best: on a
playbook set those candidates differed by two or three of 300 examples, so
editing one playbook picked another and moved every confidence (temperature 2.75
-> 1.51), and messages no edit was about changed intent. The mix predicts the
folds as well as the best pick did (shipped playbooks, BANKING77 10 per intent).
Large training sets use one setting: there the words are well sampled and the
defaults are right.

Confidence is softmax(T * scores), with the temperature T fitted by negative
log-likelihood on held-out predictions (the cross-validation folds' when it ran,
otherwise a stratified 20% hold-out of the training examples) before the final
fit on all of them, so a confidence of 0.9 means about nine in ten such
predictions are right. The classifier abstains (intent ``unknown``) when that
confidence is below ``min_confidence`` or when the message's embedding is far
from every training example (``min_similarity``, cosine to the nearest one),
which catches out-of-scope messages that a closed-set classifier would force
into some intent. Without texts (embeddings only) the TF-IDF blocks are left out.
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

UNKNOWN = "unknown"
DEFAULT_TEMPERATURE = 4.5
HOLDOUT = 0.2
TUNE_MAX_EXAMPLES = 2000  # training sets up to this size get the mix below and cross-validated calibration
TUNE_FOLDS = 5
EMBEDDING_WEIGHTS = (1.5, 2.5)  # small sets average the SVMs with these weights; the first is the large-set default
MIXED_LR_WEIGHT = 0.5  # small sets: the embedding-only logistic regression's share (large sets: none)
LR_C = 10.0  # inverse regularisation of that regression (the embeddings are L2-normalised)
FORMAT = 3  # persisted layout version


@dataclass(frozen=True)
class IntentPrediction:
    intent: str  # UNKNOWN when the classifier abstains
    confidence: float  # calibrated probability of ``best_intent``
    best_intent: str  # the most likely intent, even when abstaining
    ranking: tuple[tuple[str, float], ...] = ()  # top intents with probabilities
    nearest_example: str | None = None  # closest training example of best_intent
    similarity: float = 0.0  # cosine to the closest training example overall


_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_QUESTION = re.compile(r"\?[\W_]*$")  # "...any update? 😅" asks too
_WORD = re.compile(r"[^\W\d_]")


def asks(text: str) -> bool:
    """Whether a message mostly asks: it has a question, and no more sentences that say something else.
    "Can you recommend a podcast?" and "How loud is it? I live in a flat" ask; "Is it me or is it quieter? Either
    way the grind is even. Love it." does not."""
    questions = statements = 0
    for sentence in _SENTENCE_END.split(text):
        if _WORD.search(sentence):
            if _QUESTION.search(sentence):
                questions += 1
            else:
                statements += 1
    return questions > 0 and questions >= statements


def _word_terms(text: str) -> list[str]:
    """Words and word bigrams of the lower-cased text, as TfidfVectorizer(ngram_range=(1, 2)) makes them."""
    words = _TOKEN.findall(text.lower())
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


def _word_char_terms(w: str) -> list[str]:
    """Character 2-5-grams inside one space-padded, lower-cased word, as TfidfVectorizer(analyzer="char_wb")
    makes them for each whitespace-separated word of the lower-cased text in turn."""
    w = f" {w} "
    size = len(w)
    out = [w[i:i + n] for n in range(2, min(size, 6)) for i in range(size - n + 1)]
    if size <= 5:  # a word too short for the longer n-grams counts once, whole
        out.append(w)
    return out


_WORD_CACHE_SIZE = 20_000  # words whose columns a character block remembers (a few hundred bytes each)


class _Block:
    """One TF-IDF block over a fixed vocabulary: sublinear tf times idf, L2-normalised per text.

    The terms of a text come from ``analyzer`` or, for the character block, from ``per_word`` applied to each
    lower-cased, whitespace-separated word in turn: those are independent of the other words, so a word's
    columns are looked up once and remembered.
    """

    def __init__(self, terms: Sequence[str], idf: np.ndarray, first_column: int,
                 analyzer: Callable[[str], list[str]] | None = None,
                 per_word: Callable[[str], list[str]] | None = None):
        # term -> its column in the combined matrix, whose columns of this block start at ``first_column``
        self.vocabulary = {t: first_column + i for i, t in enumerate(terms)}
        self.idf = np.asarray(idf, dtype=np.float64)
        self.analyzer = analyzer
        self.per_word = per_word
        self._word_columns: dict[str, tuple[int, ...]] = {}

    def columns(self, text: str) -> list[int]:
        """The columns of the text's terms, in the analyzer's order (terms outside the vocabulary left out)."""
        get = self.vocabulary.get
        if self.per_word is None:
            return [j for j in map(get, self.analyzer(text)) if j is not None]
        known = self._word_columns
        out: list[int] = []
        for w in text.lower().split():
            found = known.get(w)
            if found is None:
                found = tuple([j for j in map(get, self.per_word(w)) if j is not None])
                if len(known) < _WORD_CACHE_SIZE:
                    known[w] = found
            out += found
        return out


class _Text:
    """The TF-IDF blocks of words (1-2 grams) and characters (2-5 grams within words), scaled by 1/sqrt(2).

    Fitting uses scikit-learn's TfidfVectorizer for the vocabulary and idf; transforming is done here with
    numpy (the same numbers, checked by a test), so a saved model predicts without importing scikit-learn.
    """

    def __init__(self, word_terms, word_idf, char_terms, char_idf):
        self.word = _Block(word_terms, word_idf, 0, analyzer=_word_terms)
        self.char = _Block(char_terms, char_idf, len(word_terms), per_word=_word_char_terms)
        self.width = len(word_terms) + len(char_terms)
        self._idf = np.concatenate([self.word.idf, self.char.idf])

    @classmethod
    def fit(cls, texts: Sequence[str]) -> "_Text":
        from sklearn.feature_extraction.text import TfidfVectorizer

        word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                               min_df=2 if len(texts) >= 50 else 1)
        word.fit(texts)
        char.fit(texts)
        terms = [sorted(v.vocabulary_, key=v.vocabulary_.get) for v in (word, char)]
        return cls(terms[0], word.idf_, terms[1], char.idf_)

    def batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The combined matrix of the texts in CSR form: (row pointers, columns, values). A row is its word
        columns, then its character columns, each block's in column order.

        The numbers are those of one text at a time: the element-wise steps are the same over the whole batch,
        and each block of each row is normalised by a sum over the same values in the same order (a test checks).
        The terms are counted for the whole batch at once, as (block of a row, column) keys.
        """
        cols: list[int] = []
        sizes: list[int] = []  # per row: the number of its word terms, then of its character terms
        for text in texts:
            for block in (self.word, self.char):
                found = block.columns(text)
                cols += found
                sizes.append(len(found))
        n, width = len(texts), self.width
        part = np.repeat(np.arange(2 * n, dtype=np.int64), sizes)  # the block of a row (2 i, 2 i + 1) of each term
        keys, counts = np.unique(part * width + np.array(cols, dtype=np.int64), return_counts=True)
        part = keys // width
        columns = keys - part * width
        values = (np.log(counts.astype(np.float64)) + 1.0) * self._idf[columns]
        squares = np.bincount(part, weights=values * values, minlength=2 * n)
        values /= np.sqrt(squares)[part]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(part // 2, minlength=n))])
        return indptr, columns, values * (1.0 / np.sqrt(2))

    def transform(self, texts: Sequence[str]):
        """The combined TF-IDF matrix (scipy CSR), for training."""
        from scipy.sparse import csr_matrix

        indptr, cols, vals = self.batch(texts)
        matrix = csr_matrix((vals, cols, indptr), shape=(len(texts), self.width))
        matrix.sort_indices()  # as scikit-learn leaves it
        return matrix

    def scores(self, texts: Sequence[str], coef: np.ndarray) -> np.ndarray:
        """``transform(texts) @ coef.T`` without building the matrix: ``coef`` has one row per class."""
        out = np.zeros((len(texts), coef.shape[0]))
        indptr, cols, vals = self.batch(texts)
        for i, (a, b) in enumerate(zip(indptr[:-1].tolist(), indptr[1:].tolist())):
            if b > a:
                out[i] = coef[:, cols[a:b]] @ vals[a:b]
        return out

    def state(self, prefix: str) -> dict[str, np.ndarray]:
        out = {}
        for name, block in (("word", self.word), ("char", self.char)):
            out[f"{prefix}{name}_terms"] = np.array(list(block.vocabulary), dtype=str)
            out[f"{prefix}{name}_idf"] = block.idf
        return out

    @classmethod
    def from_state(cls, z, prefix: str) -> "_Text":
        return cls(*[z[f"{prefix}{name}_{part}"].tolist() if part == "terms" else z[f"{prefix}{name}_{part}"]
                     for name in ("word", "char") for part in ("terms", "idf")])


def _two_rows(coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's linear coefficients as float32 with one row per class: with two classes it keeps one score
    s for the second class, which becomes (-s/2, s/2) so that softmax gives the same odds."""
    coef, intercept = np.asarray(coef, dtype=np.float32), np.asarray(intercept, dtype=np.float32)
    if coef.shape[0] == 1:
        return np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
    return coef.copy(), intercept.copy()


def _pick(texts: Sequence[str] | None, idx: np.ndarray) -> list[str] | None:
    """The texts at ``idx`` (None when the model uses no texts)."""
    return [texts[i] for i in idx] if texts is not None else None


def _nll_temperature(scores: np.ndarray, target: np.ndarray) -> float:
    """The T for which softmax(T * scores) gives the held-out labels ``target`` the highest likelihood."""
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(target))

    def nll(log_t):
        z = scores * np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(-(z[rows, target] - np.log(np.exp(z).sum(axis=1))).mean())

    return float(np.exp(minimize_scalar(nll, bounds=(-3, 5), method="bounded").x))


@dataclass(frozen=True)
class _Extra:
    """Training examples that are not the user's (the intents' names): they train every model, never test one."""

    X: np.ndarray
    texts: list[str]
    y: np.ndarray

    def join(self, X, y, texts, w):
        """(vectors, labels, texts or None, weights) with these examples appended, weight 1."""
        return (np.vstack([X, self.X]), np.concatenate([y, self.y]),
                (list(texts) + self.texts) if texts is not None else None, np.concatenate([w, np.ones(len(self.y))]))


class TrainedOnFirstUse:
    """An intent model whose ``languages`` are known at once and which is trained (or read from the cache) the first
    time a message needs it: most inboxes are mostly English, and a process that reads none of those languages never
    pays for it. Everything else is the model's."""

    def __init__(self, languages: frozenset[str], train: Callable[[], "IntentClassifier"]):
        self.languages = languages
        self._train = train
        self._model: IntentClassifier | None = None

    @property
    def model(self) -> "IntentClassifier":
        if self._model is None:
            self._model = self._train()  # two threads may both train it: the same content, the same result
        return self._model

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.model, name)


@dataclass
class IntentClassifier:
    """Fit on (embedding, text, label) examples; predict from embeddings and texts.

    ``embedding_weight`` and ``lr_weight`` are the settings for large training sets (or with ``tune=False``);
    on small ones ``fit`` mixes the candidates (module docstring) and sets ``embedding_weight`` to their mean, the
    scale its coefficients are kept in.
    """

    min_confidence: float = 0.45
    min_similarity: float = 0.35
    C: float = 0.5
    embedding_weight: float = EMBEDDING_WEIGHTS[0]
    lr_weight: float = 0.0
    tune: bool = True
    use_text: bool = True
    label_names: bool = True
    classes: list[str] = field(default_factory=list)
    coef: np.ndarray | None = None  # (classes, features): text blocks then embedding
    intercept: np.ndarray | None = None
    temperature: float = DEFAULT_TEMPERATURE
    example_vectors: np.ndarray | None = None
    example_texts: list[str] = field(default_factory=list)
    example_labels: list[str] = field(default_factory=list)
    train_seconds: float = 0.0
    # Intents whose replies thank rather than answer (a playbook's ``questions: false``): a message that mostly asks
    # questions is not one of them ("Can you recommend a good coffee podcast?" is not praise, however warm its words).
    # Set by the app from the playbooks, not saved with the model.
    not_for_questions: frozenset[str] = frozenset()
    # The languages of the messages this model is for, besides English (a playbook's ``examples_in``): set by the
    # app, not saved with the model.
    languages: frozenset[str] = frozenset()
    _text: _Text | None = None

    # -- training -----------------------------------------------------------------
    def fit(self, vectors: np.ndarray, labels: Sequence[str], texts: Sequence[str] | None = None,
            weights: Sequence[float] | None = None, calibrate: bool = True,
            encode: Callable[[Sequence[str]], np.ndarray] | None = None) -> "IntentClassifier":
        """``encode`` (the embedder's) lets the intents' names join the training texts."""
        start = time.perf_counter()
        X = np.asarray(vectors, dtype=np.float32)
        y = np.array([str(label) for label in labels], dtype=object)
        if len(X) != len(y) or len(X) == 0:
            raise ValueError("need as many labels as vectors, and at least one")
        texts = list(texts) if texts is not None else None
        use_text = self.use_text and texts is not None
        w = np.ones(len(X)) if weights is None else np.asarray(weights, dtype=np.float64)
        self.classes = sorted(set(y))
        extra_t: list[str] = []
        extra_X = np.zeros((0, X.shape[1]), dtype=np.float32)
        if self.label_names and encode is not None and len(self.classes) > 1:
            extra_t = [c.replace("_", " ").replace("-", " ") for c in self.classes]
            extra_X = np.asarray(encode(extra_t), dtype=np.float32)
        extra = _Extra(extra_X, extra_t, np.array(self.classes, dtype=object)[: len(extra_t)])
        if len(self.classes) == 1:
            self._text = _Text.fit(texts) if use_text else None
            dim = (self._text.width if use_text else 0) + X.shape[1]
            self.coef, self.intercept = np.zeros((1, dim), np.float32), np.zeros(1, np.float32)
        else:
            counts = np.unique(y, return_counts=True)[1]
            fit_texts = texts if use_text else None
            svm_weights = (self.embedding_weight,)
            if self.tune and counts.min() >= 3 and len(X) <= TUNE_MAX_EXAMPLES:
                svm_weights = EMBEDDING_WEIGHTS
                self.embedding_weight, self.lr_weight = float(np.mean(EMBEDDING_WEIGHTS)), MIXED_LR_WEIGHT
                if calibrate:
                    from sklearn.model_selection import StratifiedKFold

                    folds = StratifiedKFold(int(min(TUNE_FOLDS, counts.min())), shuffle=True, random_state=0)
                    self.temperature = self._held_out_temperature(X, y, fit_texts, w, extra, svm_weights,
                                                                  folds.split(X, y))
            elif calibrate and counts.min() >= 3 and len(X) * HOLDOUT >= len(self.classes):
                from sklearn.model_selection import train_test_split

                a, b = train_test_split(np.arange(len(X)), test_size=HOLDOUT, stratify=y, random_state=0)
                if len(set(y[a])) == len(self.classes):
                    self.temperature = self._held_out_temperature(X, y, fit_texts, w, extra, svm_weights, [(a, b)])
            if not calibrate:
                self.temperature = DEFAULT_TEMPERATURE
            self._text, self.coef, self.intercept = self._fit_linear(*extra.join(X, y, fit_texts, w), svm_weights)
        self.example_vectors = X
        self.example_texts = texts if texts is not None else [""] * len(X)
        self.example_labels = [str(v) for v in y]
        self.train_seconds = time.perf_counter() - start
        return self

    def _features(self, text_matrix, X: np.ndarray, embedding_weight: float):
        """The training matrix: the texts' TF-IDF rows (None: no text blocks) next to the weighted embeddings."""
        from scipy.sparse import csr_matrix, hstack

        emb = csr_matrix(X * embedding_weight)
        return emb if text_matrix is None else hstack([text_matrix, emb]).tocsr()

    def _svm(self, features, y, w) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.svm import LinearSVC

        svm = LinearSVC(C=self.C).fit(features, y, sample_weight=w)
        assert list(svm.classes_) == self.classes
        return _two_rows(svm.coef_, svm.intercept_)

    def _lr(self, X, y, w) -> tuple[np.ndarray, np.ndarray]:
        """Multinomial logistic regression on the embedding alone: coefficients over the embedding, intercepts."""
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # small matrices: BLAS threads wait on each other (10x slower on a busy CPU)
            lr = LogisticRegression(C=LR_C, max_iter=1000).fit(X, y, sample_weight=w)
        assert list(lr.classes_) == self.classes
        return _two_rows(lr.coef_, lr.intercept_)

    def _fit_linear(self, X, y, texts, w, svm_weights: Sequence[float] = ()):
        """The text model and the coefficients: the mean of the SVMs fitted with the embedding weighted by each of
        ``svm_weights`` (default: ``embedding_weight`` alone), with ``lr_weight`` times the regression folded in.
        The embedding's coefficients are kept for vectors scaled by ``embedding_weight``, as ``_scores`` scales them."""
        svm_weights = tuple(svm_weights) or (self.embedding_weight,)
        text_model = _Text.fit(texts) if texts is not None else None
        text_matrix = text_model.transform(texts) if text_model is not None else None
        width = text_model.width if text_model is not None else 0
        coef = intercept = 0.0
        for ew in svm_weights:
            c, i = self._svm(self._features(text_matrix, X, ew), y, w)
            c[:, width:] *= ew / self.embedding_weight
            coef, intercept = coef + c / len(svm_weights), intercept + i / len(svm_weights)
        if self.lr_weight:
            lr_coef, lr_intercept = self._lr(X, y, w)
            coef[:, width:] += self.lr_weight / self.embedding_weight * lr_coef
            intercept += self.lr_weight * lr_intercept
        return text_model, coef, intercept

    def _held_out_temperature(self, X, y, texts, w, extra: _Extra, svm_weights, splits) -> float:
        """The temperature fitted on the scores of held-out examples, each scored by the model fitted on its
        split's other part (the intents' names only ever train)."""
        held = []
        for a, b in splits:
            text_model, coef, intercept = self._fit_linear(*extra.join(X[a], y[a], _pick(texts, a), w[a]),
                                                           svm_weights)
            held.append((b, self._scores(text_model, coef, intercept, X[b], _pick(texts, b))))
        rows = np.concatenate([b for b, _ in held])
        target = np.searchsorted(np.array(self.classes, dtype=object), y[rows])
        return _nll_temperature(np.vstack([scores for _, scores in held]), target)

    def _scores(self, text_model, coef, intercept, X, texts):
        """Class scores: the same as ``_features(...) @ coef.T + intercept``, in numpy without the sparse matrix."""
        width = 0
        out = np.zeros((len(X), coef.shape[0]))
        if text_model is not None:
            if texts is None:
                raise ValueError("this intent model uses the message texts as well as their embeddings")
            width = text_model.width
            out += text_model.scores(texts, coef[:, :width])
        return out + (X * self.embedding_weight) @ coef[:, width:].T + intercept

    # -- prediction ---------------------------------------------------------------
    def probabilities(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        if self.coef is None:
            raise RuntimeError("the intent classifier is not trained")
        X = np.asarray(vectors, dtype=np.float32)
        if len(self.classes) == 1:
            return np.ones((len(X), 1))
        z = self.temperature * self._scores(self._text, self.coef, self.intercept, X,
                                            list(texts) if texts is not None else None)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, vectors: np.ndarray, texts: Sequence[str] | None = None, top: int = 3) -> list[IntentPrediction]:
        X = np.asarray(vectors, dtype=np.float32)
        if len(X) == 0:
            return []
        probs = self.probabilities(X, texts)
        sims = X @ self.example_vectors.T
        labels = np.array(self.example_labels)
        orders = np.argsort(-probs, axis=1)
        best = orders[:, 0].copy()
        if self.not_for_questions and texts is not None:
            barred = np.array([c in self.not_for_questions for c in self.classes])
            for i in np.where(barred[best])[0].tolist():
                if asks(texts[i]):  # the most likely intent that may be a question (abstains below if unlikely)
                    best[i] = next((j for j in orders[i].tolist() if not barred[j]), best[i])
        # the closest training example of each message's best intent, a block of messages per intent
        nearest = np.full(len(X), -1)
        for k in np.unique(best).tolist():
            own = np.where(labels == self.classes[k])[0]
            if len(own):
                rows = np.where(best == k)[0]
                nearest[rows] = own[np.argmax(sims[np.ix_(rows, own)], axis=1)]
        out = []
        for p, k, order, near, similarity in zip(probs.tolist(), best.tolist(), orders[:, :top].tolist(),
                                                 nearest.tolist(), sims.max(axis=1).tolist()):
            best_intent, conf = self.classes[k], p[k]
            intent = best_intent
            if conf < self.min_confidence or similarity < self.min_similarity:
                intent = UNKNOWN
            ranking = tuple((self.classes[j], p[j]) for j in order)
            out.append(IntentPrediction(intent, conf, best_intent, ranking,
                                        self.example_texts[near] if near >= 0 else None, similarity))
        return out

    # -- persistence (npz, no pickle) ---------------------------------------------
    def to_bytes(self) -> bytes:
        state = dict(
            format=np.array(FORMAT), classes=np.array(self.classes, dtype=str), coef=self.coef,
            intercept=self.intercept, temperature=np.array(self.temperature),
            example_vectors=self.example_vectors, example_texts=np.array(self.example_texts, dtype=str),
            example_labels=np.array(self.example_labels, dtype=str),
            settings=np.array([self.min_confidence, self.min_similarity, self.C, self.embedding_weight,
                               self.lr_weight, self.train_seconds]),
            has_text=np.array(self._text is not None),
        )
        if self._text is not None:
            state.update(self._text.state("text_"))
        buf = io.BytesIO()
        np.savez_compressed(buf, **state)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "IntentClassifier":
        z = np.load(io.BytesIO(data), allow_pickle=False)
        if int(z["format"]) != FORMAT:
            raise ValueError("intent model saved in another format")
        min_conf, min_sim, C, emb_w, lr_w, seconds = (float(v) for v in z["settings"])
        clf = cls(min_confidence=min_conf, min_similarity=min_sim, C=C, embedding_weight=emb_w, lr_weight=lr_w,
                  classes=[str(c) for c in z["classes"]], coef=z["coef"], intercept=z["intercept"],
                  temperature=float(z["temperature"]), example_vectors=z["example_vectors"],
                  example_texts=[str(t) for t in z["example_texts"]],
                  example_labels=[str(t) for t in z["example_labels"]], train_seconds=seconds)
        clf._text = _Text.from_state(z, "text_") if bool(z["has_text"]) else None
        clf.use_text = clf._text is not None
        return clf
