"""Baselines for the quality figures in RESULTS.md, measured in the same run as Resonate's own.

    python bench/baselines.py [--data ../shared/datasets] [--json]

Intent: TF-IDF (word 1-2 + char 2-5) + logistic regression, and frozen MiniLM embeddings + logistic
regression, on BANKING77 (full and 10-shot, seeds 0-2) and Bitext. Sentiment: plain VADER on TweetEval.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from nlp.evaluate import read_labelled, sample_shots  # noqa: E402


def tfidf_lr(train, test):
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
    X = hstack([word.fit_transform(train[0]), char.fit_transform(train[0])]).tocsr()
    clf = LogisticRegression(C=20, max_iter=2000).fit(X, train[1])
    seconds = time.perf_counter() - start
    Xt = hstack([word.transform(test[0]), char.transform(test[0])]).tocsr()
    return float(np.mean(clf.predict(Xt) == np.array(test[1]))), seconds


def minilm_lr(embed, train, test):
    from sklearn.linear_model import LogisticRegression

    Xtr, Xte = embed(train[0]), embed(test[0])
    start = time.perf_counter()
    clf = LogisticRegression(C=10, max_iter=3000).fit(Xtr, train[1])
    seconds = time.perf_counter() - start
    return float(np.mean(clf.predict(Xte) == np.array(test[1]))), seconds


def vader(test):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    pred = []
    for t in test[0]:
        c = sia.polarity_scores(t)["compound"]
        pred.append("positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral")
    gold = np.array(test[1])
    pred = np.array(pred)
    recalls = [float(np.mean(pred[gold == c] == c)) for c in ("negative", "neutral", "positive")]
    return {"accuracy": float(np.mean(pred == gold)), "macro_recall": float(np.mean(recalls))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    d = Path(args.data)
    from nlp.embeddings import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()
    cache: dict[str, np.ndarray] = {}

    def embed(texts):
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            for t, v in zip(missing, emb.encode(missing)):
                cache[t] = v
        return np.stack([cache[t] for t in texts])

    out = {}
    b_train, b_test = read_labelled(d / "banking77/train.jsonl"), read_labelled(d / "banking77/test.jsonl")
    out["banking77_full"] = {"tfidf_lr": tfidf_lr(b_train, b_test), "minilm_lr": minilm_lr(embed, b_train, b_test)}
    for name, fn in (("tfidf_lr", lambda tr: tfidf_lr(tr, b_test)), ("minilm_lr", lambda tr: minilm_lr(embed, tr, b_test))):
        accs = [fn(sample_shots(*b_train, 10, seed))[0] for seed in (0, 1, 2)]
        out.setdefault("banking77_10shot", {})[name] = float(np.mean(accs))
    x_train = read_labelled(d / "bitext_customer_service_tagged/train.jsonl")
    x_test = read_labelled(d / "bitext_customer_service_tagged/test.jsonl")
    out["bitext"] = {"tfidf_lr": tfidf_lr(x_train, x_test), "minilm_lr": minilm_lr(embed, x_train, x_test)}
    out["tweeteval_sentiment_vader"] = vader(read_labelled(d / "tweeteval_sentiment/test.jsonl"))
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(k, v)


if __name__ == "__main__":
    main()
