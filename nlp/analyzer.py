"""One message in, one :class:`Analysis` out: embedding, intent, sentiment, entities."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

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
    # the idf-weighted vector (the last layer's token states pooled with the inbox's idf weights, see
    # nlp.embeddings.TokenCounts): stored too, the themes cluster on it in the embedding's place
    weighted: np.ndarray | None = field(default=None, repr=False, compare=False)

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


class Encoded(NamedTuple):
    """What one pass of the embedding model gives for some texts (see :meth:`Analyzer.encode`)."""

    vectors: np.ndarray
    tone: np.ndarray | None = None  # when the sentiment model reads tone vectors
    weighted: np.ndarray | None = None  # when idf weights were given and the embedder pools with them


def counts_tokens(embedder) -> bool:
    """Whether ``embedder`` gives token ids and idf-weighted vectors (see :class:`nlp.embeddings.TokenCounts`)."""
    return hasattr(embedder, "encode_all") and hasattr(embedder, "token_ids")


def encode_embedded(embedder, sentiment, embedded: Sequence[str], idf: np.ndarray | None = None) -> Encoded:
    """One pass of ``embedder`` over ``embedded`` (what the analysis embeds of some texts): their embeddings, their
    tone vectors when ``sentiment`` reads them, and with ``idf`` their idf-weighted vectors when ``embedder`` makes
    them."""
    if idf is None or not hasattr(embedder, "encode_all"):
        return Encoded(*encode_for(sentiment, embedder, list(embedded)))
    vectors, tone, weighted = embedder.encode_all(list(embedded), idf)
    return Encoded(vectors, tone if getattr(sentiment, "needs_tone", False) else None, weighted)


def idf_of(embedder, embedded: Sequence[str]) -> np.ndarray | None:
    """The idf weights over ``embedded`` alone (as an import of these texts into an empty inbox counts them), or
    None when ``embedder`` makes no idf-weighted vectors."""
    if not counts_tokens(embedder):
        return None
    from nlp.embeddings import TokenCounts

    return TokenCounts(embedder.vocabulary).idf(TokenCounts.of(embedder.token_ids(list(embedded))), len(embedded))


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

    def encode(self, texts: Sequence[str], idf: np.ndarray | None = None) -> Encoded:
        """The embeddings of the bodies of ``texts`` (of their English gloss when written in another language: see
        :mod:`nlp.gloss`), their tone vectors when the sentiment model reads them, and with ``idf`` (one weight a
        token id, see :class:`nlp.embeddings.TokenCounts`) their idf-weighted vectors when the embedder makes
        them, from the same pass."""
        return self.encode_embedded(embedded_texts(texts), idf)

    def encode_embedded(self, embedded: Sequence[str], idf: np.ndarray | None = None) -> Encoded:
        """:meth:`encode` of what it embeds of some texts (``embedded_texts``), when the caller has that already."""
        return encode_embedded(self.embedder, self.sentiment, embedded, idf)

    @property
    def counts_tokens(self) -> bool:
        """Whether the embedder gives token ids and idf-weighted vectors (see :func:`counts_tokens`)."""
        return counts_tokens(self.embedder)

    def token_ids(self, embedded: Sequence[str]) -> list[list[int]]:
        """Each text's token ids as the embedding model reads it, for :class:`nlp.embeddings.TokenCounts`;
        ``embedded``: what the analysis embeds of the texts (``embedded_texts``)."""
        return self.embedder.token_ids(list(embedded))

    @property
    def vocabulary(self) -> int:
        """The embedding model's number of token ids."""
        return int(self.embedder.vocabulary)

    def analyze_many(self, texts: Sequence[str], vectors: np.ndarray | None = None,
                     tone: np.ndarray | None = None, weighted: np.ndarray | None = None,
                     idf: np.ndarray | None = None) -> list[Analysis]:
        """``vectors``, ``tone`` and ``weighted``: from :meth:`encode`, when the caller has them already. Given
        ``vectors`` without ``tone``, the tone vectors are computed again when the sentiment model reads them.
        ``idf``: the weights of the idf-weighted vectors, when they are to be made here."""
        texts = list(texts)
        if not texts:
            return []
        said = bodies(texts)
        languages = [detect(text) for text in said]
        if vectors is None:
            vectors, tone, weighted = encode_embedded(self.embedder, self.sentiment, embedding_texts(said, languages),
                                                      idf)
        elif tone is None and getattr(self.sentiment, "needs_tone", False):
            tone = self.embedder.encode_with_tone(embedding_texts(said, languages))[1]
        predictions = self.predict_intents(vectors, said, languages)
        feelings: list[SentimentResult] = self.sentiment.score(said, vectors, tone, languages=languages)
        found = self.entities.extract(texts)  # a signature's phone number or email is still the contact's
        return [
            Analysis(p.intent, p.confidence, s.label, s.score, tuple(ents), vectors[i], p, self.model_version,
                     languages[i], None if tone is None else tone[i], None if weighted is None else weighted[i])
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
