"""Train the shipped sentiment head (nlp/data/sentiment-minilm.npz). Only the weights ship, never the texts.

    python bench/train_sentiment.py [--data ../shared/datasets] [--out nlp/data/sentiment-minilm.npz]

A multinomial logistic regression, with balanced class weights, over frozen all-MiniLM-L6-v2 features of the
product's own embedder (the sentence embedding, and the tone vector: the mean of the token states after encoder
layer ``nlp.embeddings.TONE_LAYER``) plus the customer-service lexicon features of nlp.sentiment (VADER
compound, positive and negative shares, problem phrases), trained on the TweetEval sentiment validation split
(2,000 tweets; TweetEval has no other split with these labels here). The settings (layer 4, its weight 1.25, C
0.5) were chosen by cross-validation on that split alone (bench/RESULTS.md). Evaluate with
`resonate eval sentiment --test .../tweeteval_sentiment/test.jsonl`.
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

from bot.bootstrap import make_embedder  # noqa: E402
from bot.config import Config  # noqa: E402
from nlp.closings import bodies  # noqa: E402
from nlp.embeddings import TONE_LAYER  # noqa: E402
from nlp.evaluate import read_labelled  # noqa: E402
from nlp.sentiment import LABELS, EmbeddingSentiment, LexiconSentiment  # noqa: E402

TONE_WEIGHT = 1.25  # the tone vector's scale in the regression (its penalty), folded into the saved coefficients


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets"))
    ap.add_argument("--out", default=str(ROOT / "nlp" / "data" / "sentiment-minilm.npz"))
    ap.add_argument("--C", type=float, default=0.5)
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression

    texts, labels = read_labelled(Path(args.data) / "tweeteval_sentiment" / "valid.jsonl")
    texts = bodies(texts)  # as the analysis reads a message
    emb = make_embedder(Config.load())
    vectors, tone = emb.encode_with_tone(texts)
    lexicon = EmbeddingSentiment.lexicon_features(LexiconSentiment(), texts)
    X = np.hstack([vectors, TONE_WEIGHT * tone, lexicon])
    clf = LogisticRegression(C=args.C, max_iter=5000, class_weight="balanced").fit(X, labels)
    order = [list(clf.classes_).index(c) for c in LABELS]
    coef = clf.coef_[order].copy()
    d = vectors.shape[1]
    coef[:, d:2 * d] *= TONE_WEIGHT  # the head multiplies the plain tone vector
    np.savez_compressed(
        args.out, coef=coef.astype(np.float32), intercept=clf.intercept_[order].astype(np.float32),
        labels=np.array(LABELS), embedder=np.array(emb.name), dimension=np.array(d),
        tone_layer=np.array(TONE_LAYER), name=np.array("minilm-head-2"),
        trained_on=np.array("TweetEval sentiment validation split (2,000 tweets), CC BY 4.0 / SemEval-2017 4A"),
    )
    print(f"wrote {args.out}: {len(texts)} examples, {X.shape[1]} features ({emb.backend} embedder)")


if __name__ == "__main__":
    main()
