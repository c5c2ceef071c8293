"""Which encoder layer the sentiment head's tone vector comes from, chosen on the TweetEval validation split alone.

    python bench/sentiment_layers.py [--data ../shared/datasets] [--repeats 2]

For each layer of all-MiniLM-L6-v2 (through transformers, all hidden states of one pass), cross-validates the
head of bench/train_sentiment.py (logistic regression, C 0.5, balanced) over [embedding, w x mean of that layer's
token states (L2-normalised), lexicon features] and prints the macro recall (5 folds x --repeats, seed 0). The test
split is never read. Takes about 1.5 minutes on 2 cores.
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

from nlp.embeddings import default_model_path  # noqa: E402
from nlp.evaluate import read_labelled  # noqa: E402
from nlp.sentiment import EmbeddingSentiment, LexiconSentiment  # noqa: E402


def layer_means(texts: list[str]) -> np.ndarray:
    """(texts, layers + 1, hidden) L2-normalised means of each layer's token states; index 0 is the embeddings."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = str(default_model_path())
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            batch = tokenizer(texts[start:start + 64], padding=True, truncation=True, max_length=256,
                              return_tensors="pt")
            states = torch.stack(model(**batch, output_hidden_states=True).hidden_states, 1)
            mask = batch["attention_mask"][:, None, :, None].to(states.dtype)
            out.append(((states * mask).sum(2) / mask.sum(2)).numpy())
    means = np.concatenate(out)
    return means / np.linalg.norm(means, axis=2, keepdims=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets"))
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import recall_score
    from sklearn.model_selection import RepeatedStratifiedKFold

    texts, labels = read_labelled(Path(args.data) / "tweeteval_sentiment" / "valid.jsonl")
    y = np.array(labels)
    means = layer_means(texts)
    last = means.shape[1] - 1
    lexicon = EmbeddingSentiment.lexicon_features(LexiconSentiment(), texts)
    folds = list(RepeatedStratifiedKFold(n_splits=5, n_repeats=args.repeats, random_state=0).split(texts, y))

    def cv(X: np.ndarray) -> float:
        scores = []
        for train, test in folds:
            clf = LogisticRegression(C=0.5, max_iter=5000, class_weight="balanced").fit(X[train], y[train])
            scores.append(recall_score(y[test], clf.predict(X[test]), average="macro"))
        return float(np.mean(scores))

    print(f"no tone vector: macro recall {cv(np.hstack([means[:, last], lexicon])):.4f}", flush=True)
    for layer in range(last):
        for w in (1.0, 1.25):
            print(f"layer {layer} w {w}: {cv(np.hstack([means[:, last], w * means[:, layer], lexicon])):.4f}",
                  flush=True)


if __name__ == "__main__":
    main()
