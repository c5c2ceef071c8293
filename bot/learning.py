"""Learning from the team: corrections and sent replies become training examples.

The intent model trains on the playbook examples plus what people taught it in
review: a "Wrong intent" correction, or a reply they sent or edited (its intent
confirmed). A correction weighs more than a playbook example, and a playbook
example with the same text and another intent is dropped, so the team always
wins over the shipped files. Corrections that name an intent with no playbook
are kept aside as *gaps* for the team to write a playbook for.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from nlp.closings import body

CORRECTION_WEIGHT = 3.0
CONFIRMED_WEIGHT = 1.0
MODEL_KEY = "intent_model"  # meta key: the content key of the current intent model


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


@dataclass
class TrainingSet:
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)  # playbook, correction, sent, edited
    gaps: dict[str, list[str]] = field(default_factory=dict)  # intent without playbook -> example messages
    dropped: list[str] = field(default_factory=list)  # playbook examples overruled by a correction

    def key_parts(self) -> list:
        return [self.texts, self.labels, self.weights]

    def by_language(self) -> tuple["TrainingSet", "TrainingSet", frozenset[str]]:
        """What the English model learns; what the team taught about messages in other languages (a correction of a
        German message), which only the model for other languages learns; and those languages."""
        from nlp.language import detect

        english, other, languages = TrainingSet(gaps=self.gaps, dropped=self.dropped), TrainingSet(), set()
        for row in zip(self.texts, self.labels, self.weights, self.origins):
            language = detect(row[0]) if row[3] != "playbook" else None
            part = english if language in (None, "en") else other
            if part is other:
                languages.add(language)
            for column, value in zip((part.texts, part.labels, part.weights, part.origins), row):
                column.append(value)
        return english, other, frozenset(languages)

    def __add__(self, more: "TrainingSet") -> "TrainingSet":
        return TrainingSet(self.texts + more.texts, self.labels + more.labels, self.weights + more.weights,
                           self.origins + more.origins, self.gaps, self.dropped)


def training_set(playbook_set, learned: list[dict] | None = None) -> TrainingSet:
    texts, labels = playbook_set.training_examples()
    known = set(playbook_set.intents)
    out = TrainingSet()
    corrected: dict[str, str] = {}
    taught: list[dict] = []
    for row in learned or []:
        if row["intent"] not in known:
            if row["origin"] == "correction":
                out.gaps.setdefault(row["intent"], []).append(row["text"])
            continue
        taught.append(row)
        if row["origin"] == "correction":
            corrected[_norm(row["text"])] = row["intent"]
    for text, label in zip(texts, labels):
        overruled = corrected.get(_norm(text))
        if overruled is not None and overruled != label:
            out.dropped.append(text)
            continue
        out.texts.append(body(text))  # read as a message is: "Hi, I run a café..." teaches what follows the greeting
        out.labels.append(label)
        out.weights.append(1.0)
        out.origins.append("playbook")
    for row in taught:
        out.texts.append(body(row["text"]))  # a letter's closing teaches nothing (as the analysis reads it)
        out.labels.append(row["intent"])
        out.weights.append(CORRECTION_WEIGHT if row["origin"] == "correction" else CONFIRMED_WEIGHT)
        out.origins.append(row["origin"])
    return out


def cross_validated_change(vectors: np.ndarray, ts: TrainingSet, make_classifier, folds: int = 5,
                           seed: int = 0) -> dict:
    """Accuracy on held-out folds of the *new* set, of a model trained as before (playbook examples only) and
    of one trained with everything the team taught. Same folds, same test items: the difference is the gain."""
    from sklearn.model_selection import StratifiedKFold

    labels = np.array(ts.labels)
    texts = np.array(ts.texts, dtype=object)
    counts = defaultdict(int)
    for label in labels:
        counts[label] += 1
    n_folds = int(min(folds, min(counts.values())))
    if n_folds < 2:
        return {"folds": 0, "before": None, "after": None, "change": None}
    playbook = np.array([o == "playbook" for o in ts.origins])
    weights = np.array(ts.weights)
    right_before = right_after = total = 0
    for train_idx, test_idx in StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(vectors, labels):
        after = make_classifier().fit(vectors[train_idx], labels[train_idx], list(texts[train_idx]),
                                      weights=weights[train_idx], calibrate=False)
        before_idx = train_idx[playbook[train_idx]]
        before = make_classifier().fit(vectors[before_idx], labels[before_idx], list(texts[before_idx]),
                                       calibrate=False)
        pa = [p.best_intent for p in after.predict(vectors[test_idx], list(texts[test_idx]))]
        pb = [p.best_intent for p in before.predict(vectors[test_idx], list(texts[test_idx]))]
        right_after += sum(int(a == g) for a, g in zip(pa, labels[test_idx]))
        right_before += sum(int(b == g) for b, g in zip(pb, labels[test_idx]))
        total += len(test_idx)
    return {"folds": n_folds, "before": right_before / total, "after": right_after / total,
            "change": (right_after - right_before) / total}
