"""Measuring understanding on labelled data: ``resonate eval intents`` and ``resonate eval sentiment``.

Files are JSONL with ``{"text": ..., "label": ...}`` per line. Intent evaluation
trains the same classifier the bot uses (``nlp.intent.IntentClassifier``) on the
training file and scores the test file; a test label ``oos`` that is absent from
training marks out-of-scope messages, which the bot should answer with
``unknown``.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from nlp.analyzer import Encoded, embedded_texts, encode_embedded, idf_of
from nlp.closings import bodies
from nlp.gloss import embedding_texts
from nlp.intent import UNKNOWN, IntentClassifier
from nlp.sentiment import encode_for

OOS = "oos"


def read_labelled(path: str | Path) -> tuple[list[str], list[str]]:
    """Texts and labels of a JSONL file; a bad line raises ValueError naming file and line."""
    texts, labels = [], []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text, label = row["text"], row["label"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: expected a JSON object with text and label ({exc})") from None
            if not isinstance(text, str) or not isinstance(label, (str, int)):
                raise ValueError(f"{path}:{n}: text must be a string and label a string")
            texts.append(text)
            labels.append(str(label))
    if not texts:
        raise ValueError(f"{path}: no examples")
    return texts, labels


def sample_shots(texts: Sequence[str], labels: Sequence[str], shots: int, seed: int) -> tuple[list[str], list[str]]:
    """``shots`` examples per label, drawn with ``seed``; the same arguments always give the same sample."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    rng = random.Random(seed)
    chosen: list[int] = []
    for label in sorted(by_label):
        idx = by_label[label]
        chosen += sorted(rng.sample(idx, min(shots, len(idx))))
    chosen.sort()
    return [texts[i] for i in chosen], [labels[i] for i in chosen]


def _prf(gold: list[str], pred: list[str], classes: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for c in classes:
        tp = sum(1 for g, p in zip(gold, pred) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, pred) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, pred) if g == c and p != c)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[c] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    return out


def eval_intents(embedder, train: tuple[list[str], list[str]], test: tuple[list[str], list[str]], *,
                 auto_threshold: float = 0.90, classifier: IntentClassifier | None = None,
                 top_confusions: int = 10) -> dict:
    train_texts, train_labels = bodies(train[0]), train[1]  # as the bot reads a message
    test_texts, test_labels = bodies(test[0]), test[1]
    clf = classifier or IntentClassifier()
    start = time.perf_counter()
    train_vectors = embedder.encode(embedding_texts(train_texts))
    embed_seconds = time.perf_counter() - start
    clf.fit(train_vectors, train_labels, train_texts, encode=embedder.encode)
    train_seconds = time.perf_counter() - start - embed_seconds
    start = time.perf_counter()
    predictions = clf.predict(embedder.encode(embedding_texts(test_texts)), test_texts)
    predict_seconds = time.perf_counter() - start
    known = set(train_labels)
    oos_mode = OOS in set(test_labels) and OOS not in known
    best = [p.best_intent for p in predictions]
    final = [p.intent for p in predictions]
    conf = np.array([p.confidence for p in predictions])
    gold = list(test_labels)
    in_scope = [i for i, g in enumerate(gold) if g != OOS] if oos_mode else list(range(len(gold)))
    # closed-set accuracy: the best intent against the label (what a forced choice would get)
    accuracy = float(np.mean([best[i] == gold[i] for i in in_scope]))
    classes = sorted(known)
    per = _prf([gold[i] for i in in_scope], [best[i] for i in in_scope], classes)
    macro_f1 = float(np.mean([v["f1"] for v in per.values()]))
    confusions = Counter((gold[i], best[i]) for i in in_scope if gold[i] != best[i])
    auto = [i for i in in_scope if conf[i] >= auto_threshold] if not oos_mode else \
        [i for i in range(len(gold)) if conf[i] >= auto_threshold and final[i] != UNKNOWN]
    result = {
        "accuracy": accuracy,
        "macro_f1": macro_f1,
        "n_train": len(train_texts),
        "n_test": len(test_texts),
        "n_labels": len(classes),
        "train_seconds": round(train_seconds, 3),  # fitting the classifier
        "train_total_seconds": round(train_seconds + embed_seconds, 3),  # embedding the examples included
        "predict_per_second": round(len(test_texts) / predict_seconds, 1) if predict_seconds else None,
        "auto_threshold": auto_threshold,
        "auto_coverage": len(auto) / len(gold),
        "auto_accuracy": float(np.mean([best[i] == gold[i] for i in auto])) if auto else None,
        "abstained": float(np.mean([f == UNKNOWN for f in final])),
        "per_intent": per,
        "confused_pairs": [{"label": g, "predicted": p, "count": n} for (g, p), n in confusions.most_common(top_confusions)],
        "classifier": {"min_confidence": clf.min_confidence, "min_similarity": clf.min_similarity,
                       "temperature": clf.temperature, "embedding_weight": clf.embedding_weight,
                       "lr_weight": clf.lr_weight},
    }
    if oos_mode:
        oos_idx = [i for i, g in enumerate(gold) if g == OOS]
        said_unknown = [i for i, f in enumerate(final) if f == UNKNOWN]
        result["in_scope_accuracy"] = float(np.mean([final[i] == gold[i] for i in in_scope]))
        result["oos_recall"] = float(np.mean([final[i] == UNKNOWN for i in oos_idx]))
        result["oos_precision"] = float(np.mean([gold[i] == OOS for i in said_unknown])) if said_unknown else 0.0
    return result


def eval_sentiment(scorer, test: tuple[list[str], list[str]], embedder=None) -> dict:
    texts, gold = test
    labels = ["negative", "neutral", "positive"]
    unknown = sorted(set(gold) - set(labels))
    if unknown:
        raise ValueError(f"sentiment labels must be negative, neutral or positive (found {unknown[0]!r})")
    start = time.perf_counter()
    said = bodies(texts)  # as the analysis reads a message
    vectors, tone = encode_for(scorer, embedder, said) if embedder is not None else (None, None)
    pred = [r.label for r in scorer.score(said, vectors, tone)]
    seconds = time.perf_counter() - start
    recall = {}
    for c in labels:
        idx = [i for i, g in enumerate(gold) if g == c]
        recall[c] = float(np.mean([pred[i] == c for i in idx])) if idx else None
    present = [v for v in recall.values() if v is not None]
    matrix = {g: {p: sum(1 for a, b in zip(gold, pred) if a == g and b == p) for p in labels} for g in labels}
    return {
        "accuracy": float(np.mean([p == g for p, g in zip(pred, gold)])),
        "macro_recall": float(np.mean(present)),
        "recall": recall,
        "confusion": matrix,
        "n_test": len(texts),
        "seconds": round(seconds, 3),
        "model": getattr(scorer, "name", type(scorer).__name__),
    }


def cluster_scores(labels: Sequence[str], predicted: Sequence[int]) -> dict:
    """V-measure, homogeneity, completeness and adjusted Rand index of a clustering against gold labels, with
    whatever ``predicted`` holds for left-out texts (-1) scored as one more cluster."""
    from sklearn.metrics import adjusted_rand_score, homogeneity_completeness_v_measure

    homogeneity, completeness, v = homogeneity_completeness_v_measure(list(labels), list(predicted))
    return {"v_measure": round(float(v), 4), "homogeneity": round(float(homogeneity), 4),
            "completeness": round(float(completeness), 4),
            "ari": round(float(adjusted_rand_score(list(labels), list(predicted))), 4)}


def theme_vectors(embedder, sentiment, texts: Sequence[str]) -> Encoded:
    """The embeddings, tone vectors and idf-weighted vectors of ``texts`` that the analysis stores for them (and so
    the themes read) when they are imported into an empty inbox: of their bodies, through their English gloss when
    written in another language, with idf weights over these texts; tone and idf-weighted vectors None when the
    ``sentiment`` model or the embedder makes none."""
    embedded = embedded_texts(texts)
    return encode_embedded(embedder, sentiment, embedded, idf_of(embedder, embedded))


def eval_themes(engine, vectors: np.ndarray, texts: Sequence[str], labels: Sequence[str],
                tone: np.ndarray | None = None, weighted: np.ndarray | None = None) -> dict:
    """Cluster ``texts`` with the theme engine and score the clusters against ``labels``. ``tone`` and
    ``weighted``: the texts' tone and idf-weighted vectors, as the analysis stores them beside the embeddings (see
    ``nlp.themes.ThemeEngine.space``).

    Left-out texts count as one more cluster (label -1) in the scores, as BERTopic's outlier topic does, so
    leaving texts out is never free: it costs homogeneity (V-measure) and agreement (ARI).
    """
    start = time.perf_counter()
    result = engine.find(texts, vectors, tone, weighted)
    seconds = time.perf_counter() - start
    return {
        **cluster_scores(labels, [int(a) for a in result.assignment]),
        "n_themes": len(result.clusters),
        "n_labels": len(set(labels)),
        "n_texts": len(texts),
        "left_out": round(result.left_out / max(len(texts), 1), 4),
        "left_out_texts": result.left_out,
        "seconds": round(seconds, 3),
        "themes": [{"label": c.label, "size": c.size, "keyphrases": c.keyphrases,
                    "top_label": Counter(labels[i] for i in c.members).most_common(1)[0][0]}
                   for c in result.clusters],
    }
