"""Train the shipped sentiment head (nlp/data/sentiment-minilm.npz). Only the weights ship, never the texts.

    python bench/train_sentiment.py [--data ../shared/datasets] [--out nlp/data/sentiment-minilm.npz]

A multinomial logistic regression, with balanced class weights, over frozen all-MiniLM-L6-v2 embeddings plus
the customer-service lexicon features of nlp.sentiment (VADER compound, positive and negative shares, problem
phrases), trained on the TweetEval sentiment validation split (2,000 tweets; TweetEval has no other split
with these labels here). Evaluate with `resonate eval sentiment --test .../tweeteval_sentiment/test.jsonl`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from nlp.embeddings import SentenceTransformerEmbedder  # noqa: E402
from nlp.evaluate import read_labelled  # noqa: E402
from nlp.sentiment import LABELS, EmbeddingSentiment, LexiconSentiment  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets"))
    ap.add_argument("--out", default=str(ROOT / "nlp" / "data" / "sentiment-minilm.npz"))
    ap.add_argument("--C", type=float, default=0.5)
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression

    texts, labels = read_labelled(Path(args.data) / "tweeteval_sentiment" / "valid.jsonl")
    emb = SentenceTransformerEmbedder()
    lexicon = LexiconSentiment()
    X = np.hstack([emb.encode(texts), EmbeddingSentiment.lexicon_features(lexicon, texts)])
    clf = LogisticRegression(C=args.C, max_iter=5000, class_weight="balanced").fit(X, labels)
    order = [list(clf.classes_).index(c) for c in LABELS]
    np.savez_compressed(
        args.out, coef=clf.coef_[order].astype(np.float32), intercept=clf.intercept_[order].astype(np.float32),
        labels=np.array(LABELS), embedder=np.array(emb.name), dimension=np.array(emb.dimension),
        trained_on=np.array("TweetEval sentiment validation split (2,000 tweets), CC BY 4.0 / SemEval-2017 4A"),
    )
    print(f"wrote {args.out}: {len(texts)} examples, features {X.shape[1]}")


if __name__ == "__main__":
    main()
