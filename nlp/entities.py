"""Entities: order numbers, emails, phone numbers, URLs, money, dates, product names.

A spaCy pipeline: the blank English tokenizer (no download) or, when one is
installed and asked for, a full English pipeline, plus an entity ruler with the
playbooks' product names (matched case-insensitively), money and date patterns,
and regular expressions for the shapes a tokenizer splits (order ids, phone
numbers, emails, URLs, numeric dates). Longer matches win over shorter ones.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Iterable, Sequence

LABELS = ("ORDER_ID", "EMAIL", "PHONE", "URL", "MONEY", "DATE", "PRODUCT")

REGEXES = [
    ("ORDER_ID", re.compile(r"(?<![\w-])(?:[A-Z]{2,4}-\d{4,8}|#\d{4,8})(?![\w-])", re.I)),
    ("EMAIL", re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+(?<!\.)")),
    ("URL", re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]*[^\s<>\"')\].,;:!?]", re.I)),
    ("PHONE", re.compile(r"(?<![\w+])\+\d{1,3}[\s.-]?(?:\(?\d{1,4}\)?[\s.-]?){2,5}\d{2,4}(?!\w)")),
    ("DATE", re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b")),
]

_MONTHS = ["jan", "january", "feb", "february", "mar", "march", "apr", "april", "may", "jun", "june", "jul",
           "july", "aug", "august", "sep", "sept", "september", "oct", "october", "nov", "november", "dec",
           "december"]
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mon", "tue", "wed",
         "thu", "fri", "sat", "sun"]

_RULER_PATTERNS = [
    {"label": "MONEY", "pattern": [{"IS_CURRENCY": True}, {"LIKE_NUM": True}]},
    {"label": "MONEY", "pattern": [{"LIKE_NUM": True}, {"IS_CURRENCY": True}]},
    {"label": "MONEY", "pattern": [{"LIKE_NUM": True}, {"LOWER": {"IN": ["eur", "euro", "euros", "usd", "dollars",
                                                                         "gbp", "pounds", "bucks"]}}]},
    {"label": "MONEY", "pattern": [{"TEXT": {"REGEX": r"^[€$£]\d+(?:[.,]\d{1,2})?$"}}]},
    {"label": "DATE", "pattern": [{"LOWER": {"IN": ["today", "yesterday", "tomorrow", "tonight"]}}]},
    {"label": "DATE", "pattern": [{"LOWER": {"IN": ["last", "next", "this"]}},
                                  {"LOWER": {"IN": _DAYS + ["week", "month", "weekend", "year"]}}]},
    {"label": "DATE", "pattern": [{"LOWER": {"IN": ["on", "since", "by", "until", "before", "after"]}, "OP": "?"},
                                  {"LOWER": {"IN": _DAYS}}]},
    {"label": "DATE", "pattern": [{"LOWER": {"IN": _MONTHS}}, {"IS_DIGIT": True}]},
    {"label": "DATE", "pattern": [{"IS_DIGIT": True}, {"LOWER": {"IN": _MONTHS}}]},
    {"label": "DATE", "pattern": [{"TEXT": {"REGEX": r"^\d{1,2}(st|nd|rd|th)$"}}, {"LOWER": "of", "OP": "?"},
                                  {"LOWER": {"IN": _MONTHS}}]},
]


def _import_spacy(allow_torch: bool):
    """``import spacy``, without letting thinc import torch (2-3 s) when this process has not loaded it.

    thinc (spaCy's machine-learning layer) imports torch whenever it is installed, for GPU and PyTorch-wrapper
    features that a blank pipeline with rules never uses; an absent torch is a supported case of thinc's. A
    full pipeline (``spacy_model``) may need those features, so then torch is allowed.
    """
    import sys

    if allow_torch or "spacy" in sys.modules or "torch" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
    try:
        import spacy
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return spacy


@dataclass(frozen=True)
class Entity:
    label: str
    text: str
    start: int  # character offsets in the message
    end: int
    value: str  # normalised: upper-case order id, canonical product name, lower-case email

    @property
    def variable(self) -> str:
        """The reply variable this entity fills: ORDER_ID -> ``order_id``."""
        return self.label.lower()


class EntityExtractor:
    """spaCy rules over a blank (or installed full) English pipeline; built on first use."""

    name = "rules-1"

    def __init__(self, products: Iterable[str] = (), spacy_model: str | None = None):
        self.products = sorted({p.strip() for p in products if p and p.strip()})
        self._canonical = {p.lower(): p for p in self.products}
        self.spacy_model = spacy_model
        self._nlp = None
        self._lock = threading.Lock()

    @property
    def nlp(self):
        with self._lock:
            if self._nlp is None:
                self._nlp = self._build()
            return self._nlp

    def _build(self):
        spacy = _import_spacy(allow_torch=bool(self.spacy_model))

        if self.spacy_model:
            nlp = spacy.load(self.spacy_model, exclude=["lemmatizer", "textcat"])
            before = {"before": "ner"} if "ner" in nlp.pipe_names else {}
        else:
            nlp = spacy.blank("en")
            before = {}
        ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True},
                             **before)
        patterns = list(_RULER_PATTERNS)
        patterns += [{"label": "PRODUCT", "pattern": p} for p in self.products]
        ruler.add_patterns(patterns)
        return nlp

    def extract(self, texts: Sequence[str]) -> list[list[Entity]]:
        nlp = self.nlp  # first: it imports spaCy its own way
        from spacy.util import filter_spans

        results = []
        for doc in nlp.pipe(texts, batch_size=256):
            spans = [e for e in doc.ents if e.label_ in LABELS]
            for label, pattern in REGEXES:
                for m in pattern.finditer(doc.text):
                    span = doc.char_span(m.start(), m.end(), label=label, alignment_mode="expand")
                    if span is not None:
                        spans.append(span)
            # Regex shapes (order id, email, URL) are exact; prefer them over ruler guesses of equal length.
            spans.sort(key=lambda s: 0 if s.label_ in ("ORDER_ID", "EMAIL", "URL", "PHONE") else 1)
            kept = sorted(filter_spans(spans), key=lambda s: s.start_char)
            results.append([self._entity(s) for s in kept])
        return results

    def _entity(self, span) -> Entity:
        text, label = span.text, span.label_
        if label == "ORDER_ID":
            value = text.upper()
        elif label == "PRODUCT":
            value = self._canonical.get(text.lower(), text)
        elif label == "EMAIL":
            value = text.lower()
        elif label == "URL":
            value = text.rstrip(".,;:!?")
        else:
            value = text
        return Entity(label, text, span.start_char, span.end_char, value)
