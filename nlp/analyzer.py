"""One message in, one :class:`Analysis` out: embedding, intent, sentiment, entities."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from nlp.closings import bodies
from nlp.embeddings import Embedder
from nlp.entities import Entity, EntityExtractor
from nlp.gloss import embedding_texts
from nlp.intent import IntentClassifier, IntentPrediction, TrainedOnFirstUse
from nlp.language import detect
from nlp.sentiment import SentimentResult, SentimentScorer, encode_for


@dataclass(frozen=True)
class Analysis:
    intent: str
    confidence: float
    sentiment: str
    sentiment_score: float
    entities: tuple[Entity, ...]
    embedding: np.ndarray = field(repr=False, compare=False)
    prediction: IntentPrediction = field(repr=False, compare=False)
    model_version: str = ""
    language: str | None = None  # told from the words (nlp.language.detect): en, de, ...; None when too few
    # the tone vector from the same forward pass (nlp.embeddings.TONE_LAYER), when the sentiment model reads it:
    # stored beside the embedding, the themes cluster on both (nlp.themes.ThemeEngine.space)
    tone: np.ndarray | None = field(default=None, repr=False, compare=False)

    def variables(self) -> dict[str, str]:
        """Entity values by reply variable name; the first of each kind wins."""
        out: dict[str, str] = {}
        for e in self.entities:
            out.setdefault(e.variable, e.value)
        return out

    def to_dict(self) -> dict:
        p = self.prediction
        return {
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "best_intent": p.best_intent,
            "ranking": [{"intent": i, "probability": round(s, 4)} for i, s in p.ranking],
            "nearest_example": p.nearest_example,
            "sentiment": self.sentiment,
            "sentiment_score": self.sentiment_score,
            "entities": [{"label": e.label, "text": e.text, "value": e.value, "start": e.start, "end": e.end}
                         for e in self.entities],
            "model_version": self.model_version,
            "language": self.language,
        }


def embedded_texts(texts: Sequence[str]) -> list[str]:
    """What the analysis embeds of each text: its body (no greeting, closing or quoted mail), through its English
    gloss when it is written in another language (:mod:`nlp.gloss`). Whatever compares with the analysis's
    embeddings (``resonate eval themes``, the benchmarks' reference) embeds this."""
    return embedding_texts(bodies(texts))


class Analyzer:
    """Composes the stages; every collaborator is passed in (see ``bot.bootstrap``)."""

    def __init__(self, embedder: Embedder, intents: IntentClassifier, sentiment: SentimentScorer,
                 entities: EntityExtractor, model_version: str = "",
                 other_languages: IntentClassifier | TrainedOnFirstUse | None = None):
        """``other_languages``: the intent model for a message told to be written in one of its ``languages``
        (see :func:`nlp.language.detect`; trained on first use when given as :class:`TrainedOnFirstUse`); every
        other message, and all of them without it, go to ``intents``."""
        self.embedder = embedder
        self.intents = intents
        self.other_languages = other_languages
        self.sentiment = sentiment
        self.entities = entities
        self.model_version = model_version or "+".join(
            [getattr(embedder, "name", "embedder"), f"intent:{len(intents.classes)}",
             getattr(sentiment, "name", "sentiment"), getattr(entities, "name", "entities")])

    def analyze(self, text: str) -> Analysis:
        return self.analyze_many([text])[0]

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """The embeddings of the bodies of ``texts`` (of their English gloss when written in another language: see
        :mod:`nlp.gloss`), and their tone vectors when the sentiment model reads them (else None)."""
        return encode_for(self.sentiment, self.embedder, embedded_texts(texts))

    def analyze_many(self, texts: Sequence[str], vectors: np.ndarray | None = None,
                     tone: np.ndarray | None = None) -> list[Analysis]:
        """``vectors`` and ``tone``: from :meth:`encode`, when the caller has them already. Given ``vectors``
        without ``tone``, the tone vectors are computed again when the sentiment model reads them."""
        texts = list(texts)
        if not texts:
            return []
        said = bodies(texts)
        languages = [detect(text) for text in said]
        if vectors is None:
            vectors, tone = encode_for(self.sentiment, self.embedder, embedding_texts(said, languages))
        elif tone is None and getattr(self.sentiment, "needs_tone", False):
            tone = self.embedder.encode_with_tone(embedding_texts(said, languages))[1]
        predictions = self.predict_intents(vectors, said, languages)
        feelings: list[SentimentResult] = self.sentiment.score(said, vectors, tone, languages=languages)
        found = self.entities.extract(texts)  # a signature's phone number or email is still the contact's
        return [
            Analysis(p.intent, p.confidence, s.label, s.score, tuple(ents), vectors[i], p, self.model_version,
                     languages[i], None if tone is None else tone[i])
            for i, (p, s, ents) in enumerate(zip(predictions, feelings, found))
        ]

    def predict_intents(self, vectors: np.ndarray, said: list[str], languages: list[str | None]
                        ) -> list[IntentPrediction]:
        """``languages``: of each text, as :func:`nlp.language.detect` tells it."""
        other = self.other_languages
        routed = [i for i, language in enumerate(languages) if language in other.languages] if other is not None else []
        if not routed:
            return self.intents.predict(vectors, said)
        out: list[IntentPrediction | None] = [None] * len(said)
        english = sorted(set(range(len(said))) - set(routed))
        for rows, model in ((english, self.intents), (routed, other)):
            if rows:
                for i, p in zip(rows, model.predict(vectors[rows], [said[i] for i in rows])):
                    out[i] = p
        return out
