"""Entities: order numbers, emails, phone numbers, URLs, money, dates, product names.

Rules over English tokens: token patterns for money and dates, the playbooks'
product names (matched case-insensitively), and regular expressions for the
shapes a tokenizer splits (order ids, phone numbers, emails, URLs, numeric
dates). Longer matches win over shorter ones.

By default the rules run in plain Python over :mod:`nlp.tokenizer`'s tokens,
which are spaCy's blank English tokens, with the semantics of spaCy's entity
ruler; importing spaCy would cost about a second of start-up. When a full spaCy
pipeline is asked for (``spacy_model``), the same rules run as a spaCy entity
ruler in that pipeline, before its statistical entity recogniser.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from nlp.ratings import is_score
from nlp.tokenizer import Token, tokenize

LABELS = ("ORDER_ID", "EMAIL", "PHONE", "URL", "MONEY", "DATE", "PRODUCT", "PLACE")

# What each regex cannot match without, as C-level checks: most messages have no digit, "@", "+" or URL, and
# these cost a tenth of the searches.
_DIGIT = re.compile(r"\d").search
_NINE_DIGITS = re.compile(r"\d(?:[\s().-]{0,2}\d){8}").search

# (label, pattern, what a text needs before the pattern is searched in it)
REGEXES = [
    ("ORDER_ID", re.compile(r"(?<![\w-])(?:[A-Z]{2,4}-\d{4,8}|#\d{4,8})(?![\w-])", re.I),
     lambda text: _DIGIT(text) is not None),
    ("EMAIL", re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+(?<!\.)"), lambda text: "@" in text),
    ("URL", re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]*[^\s<>\"')\].,;:!?]", re.I),
     lambda text: "://" in text or "www." in text.lower()),
    # international ("+44 7700 900123") or national: 0, not 00, then 9 to 11 more digits ("07700 900123",
    # "06 12 34 56 78", "0171 1234567"); a date or a shorter number is not one
    ("PHONE", re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?(?:\(?\d{1,4}\)?[\s.-]?){2,5}\d{2,4}"
                         r"|(?<!\d[\s.-])0(?=(?:[\s.-]?\d){9,11}(?![\s.-]?\d))[1-9]\d{0,4}(?:[\s.-]?\d{2,4}){1,4})"
                         r"(?!\w)"),
     lambda text: "+" in text or "0" in text),
    # a number without a leading 0 or + is a phone number only where the message says so just before it: Spanish,
    # Italian and Portuguese numbers are written that way ("llámame al 612 345 678", "il mio cellulare è 347 123
    # 4567", "meu celular é (11) 98765-4321"); only the number is the entity
    ("PHONE", re.compile(
        r"\b(?:call\s+me|text\s+me|whats\s?app\s+me|my\s+(?:phone|mobile|cell)(?:\s+number)?|phone(?:\s+number)?"
        r"|mobile|tel|ll[aá]mame|mi\s+(?:n[uú]mero|m[oó]vil|tel[eé]fono)|tel[eé]fono|m[oó]vil|chiamami"
        r"|(?:il\s+)?mio\s+(?:numero|cellulare)|cellulare|cell|liga-me|ligue(?:-me)?|me\s+liga"
        r"|meu\s+(?:n[uú]mero|telem[oó]vel|celular|telefone)|telem[oó]vel|celular|telefone|whats\s?app"
        r"|ruf\s+mich\s+an|meine\s+nummer|(?:meine\s+)?(?:handy|telefon)(?:nummer)?|appelez-moi|appelle-moi"
        r"|mon\s+(?:num[eé]ro|portable)|t[eé]l[eé]phone|portable|bel\s+me|mijn\s+(?:telefoon)?nummer"
        r"|telefoonnummer|mobiel)"
        r"(?:\s+(?:is|es|è|é|ist|est|on|at|al|au|op|unter|para|no|sur|:))?[\s:.,-]*"
        r"(?P<number>(?:\(\d{2,3}\)\s?)?(?<![\d+])[1-9](?=(?:[\s.-]?\d){8,10}(?![\s.-]?\d))\d{0,4}"
        r"(?:[\s.-]?\d{2,5}){1,4})(?!\w)", re.I),
     lambda text: _NINE_DIGITS(text) is not None),
    ("DATE", re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b"),
     lambda text: _DIGIT(text) is not None),
]


def _span(match: re.Match) -> tuple[int, int]:
    """Where the entity of a regex match is: its ``number`` group when the pattern has one (the words before it
    only tell that it is a phone number), else the whole match."""
    return match.span("number") if "number" in match.re.groupindex else match.span()


# A DATE match that is a score ("10/10 customer service", "9/10 would recommend") is left out: see nlp.ratings.


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
    {"label": "DATE", "pattern": [{"LOWER": {"IN": ["on", "since", "by", "until", "before", "after"]}},
                                  {"LOWER": {"IN": _DAYS}}]},
    # alone, a day's abbreviation is a date only as one is written: "the sun", French "mon compte" are not
    {"label": "DATE", "pattern": [{"LOWER": {"IN": _DAYS[:7]}}]},
    {"label": "DATE", "pattern": [{"TEXT": {"REGEX": r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|MON|TUE|WED|THU|FRI|SAT|SUN)$"}}]},
    {"label": "DATE", "pattern": [{"LOWER": {"IN": _MONTHS}}, {"IS_DIGIT": True}]},
    {"label": "DATE", "pattern": [{"IS_DIGIT": True}, {"LOWER": {"IN": _MONTHS}}]},
    {"label": "DATE", "pattern": [{"TEXT": {"REGEX": r"^\d{1,2}(st|nd|rd|th)$"}}, {"LOWER": "of", "OP": "?"},
                                  {"LOWER": {"IN": _MONTHS}}]},
]


_DATE_PREPOSITION = re.compile(r"^(?:on|since|by|until|before|after)\s+", re.IGNORECASE)

# Regex shapes (order id, email, URL, phone) are exact; they win over ruler guesses of equal length.
_EXACT = ("ORDER_ID", "EMAIL", "URL", "PHONE")

# spaCy's English LIKE_NUM (spacy/lang/en/lex_attrs.py)
_NUM_WORDS = frozenset("""zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred
    thousand million billion trillion quadrillion quintillion sextillion septillion octillion nonillion decillion
    gajillion bazillion""".split())
_ORDINAL_WORDS = frozenset("""first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth
    thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth fortieth
    fiftieth sixtieth seventieth eightieth ninetieth hundredth thousandth millionth billionth trillionth
    quadrillionth quintillionth sextillionth septillionth octillionth nonillionth decillionth gajillionth
    bazillionth""".split())


def _like_num(text: str) -> bool:
    if text.startswith(("+", "-", "±", "~")):
        text = text[1:]
    text = text.replace(",", "").replace(".", "")
    if text.isdigit():
        return True
    if text.count("/") == 1:
        num, denom = text.split("/")
        if num.isdigit() and denom.isdigit():
            return True
    lower = text.lower()
    return (lower in _NUM_WORDS or lower in _ORDINAL_WORDS
            or (lower.endswith(("st", "nd", "rd", "th")) and lower[:-2].isdigit()))


def _is_currency(text: str) -> bool:
    return all(unicodedata.category(c) == "Sc" for c in text)


def _token_test(spec: dict) -> Callable[[str, str], bool]:
    """One token of a ruler pattern as a predicate of (text, lower-cased text), with the spaCy Matcher's
    meaning of each key."""
    tests: list[Callable[[str, str], bool]] = []
    for key, want in spec.items():
        if key == "OP":
            continue
        if key == "IS_CURRENCY":
            tests.append(lambda t, low, w=want: _is_currency(t) == w)
        elif key == "LIKE_NUM":
            tests.append(lambda t, low, w=want: _like_num(t) == w)
        elif key == "IS_DIGIT":
            tests.append(lambda t, low, w=want: t.isdigit() == w)
        elif key == "LOWER" and isinstance(want, str):
            tests.append(lambda t, low, w=want: low == w)
        elif key == "LOWER" and isinstance(want, dict) and set(want) == {"IN"}:
            tests.append(lambda t, low, w=frozenset(want["IN"]): low in w)
        elif key == "TEXT" and isinstance(want, dict) and set(want) == {"REGEX"}:
            tests.append(lambda t, low, search=re.compile(want["REGEX"]).search: search(t) is not None)
        else:
            raise ValueError(f"entity pattern token {spec}: {key}={want!r} is not supported by the plain-Python rules")
    if spec.get("OP", "?") != "?":
        raise ValueError(f"entity pattern token {spec}: only OP '?' is supported by the plain-Python rules")
    if len(tests) == 1:
        return tests[0]
    return lambda t, low: all(test(t, low) for test in tests)


def _compile_patterns(patterns: list[dict]):
    """The token patterns as (label, [(test bit, optional)]) over the distinct token tests, bit ``1 << i`` for
    the i-th, so one integer per token says which tests it passes. The tests that only compare the lower-cased
    text with words become one dict from word to bits; the others stay predicates (bit, test)."""
    numbers: dict[str, int] = {}
    lower_bits: dict[str, int] = {}
    others = []
    compiled = []
    for p in patterns:
        steps = []
        for spec in p["pattern"]:
            want = {k: v for k, v in spec.items() if k != "OP"}
            key = repr(want)
            if key not in numbers:
                bit = numbers[key] = 1 << len(numbers)
                test = _token_test(spec)  # also checks that the spec is supported
                if set(want) == {"LOWER"}:
                    for word in [want["LOWER"]] if isinstance(want["LOWER"], str) else want["LOWER"]["IN"]:
                        lower_bits[word] = lower_bits.get(word, 0) | bit
                else:
                    others.append((bit, test))
            steps.append((numbers[key], spec.get("OP") == "?"))
        compiled.append((p["label"], steps))
    return lower_bits, others, compiled


_LOWER_BITS, _OTHER_TESTS, _PATTERNS = _compile_patterns(_RULER_PATTERNS)
_masks: dict[str, int] = {}
_MASKS_SIZE = 20_000


def _token_mask(text: str) -> int:
    """Which token tests a token's text passes, as bits. Remembered per text: the same words come back all
    the time, and the tests (number words, currency symbols, a regex) cost far more than a dict look-up."""
    mask = _masks.get(text)
    if mask is None:
        low = text.lower()
        mask = _LOWER_BITS.get(low, 0)
        for bit, test in _OTHER_TESTS:
            if test(text, low):
                mask |= bit
        if len(_masks) < _MASKS_SIZE:
            _masks[text] = mask
    return mask


def _filter_spans(spans: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """spacy.util.filter_spans on (label, start, end) token spans: longest first, then leftmost; a span
    overlapping one kept already is dropped. Among equal spans the earlier in ``spans`` wins."""
    kept, seen = [], set()
    for span in sorted(spans, key=lambda s: (s[2] - s[1], -s[1]), reverse=True):
        if span[1] not in seen and span[2] - 1 not in seen:
            kept.append(span)
            seen.update(range(span[1], span[2]))
    return sorted(kept, key=lambda s: s[1])


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
    """The rules in plain Python or, given ``spacy_model``, in that spaCy pipeline (built on first use)."""

    name = "rules-1"

    def __init__(self, products: Iterable[str] = (), spacy_model: str | None = None,
                 aliases: Mapping[str, str] | None = None, places: Iterable[str] = (),
                 place_aliases: Mapping[str, str] | None = None):
        """``aliases``: what customers also call a product ("grinder": "Fern Grinder"); found as that product.
        ``places``: the brand's cities, stores or venues (PLACE, ``{place}``), with ``place_aliases`` likewise
        ("lisboa": "Lisbon"). Where one phrase names both, the product wins."""
        self.products = sorted({p.strip() for p in products if p and p.strip()})
        self._canonical: dict[str, tuple[str, str]] = {}  # every way a name is written, lower-case: (label, name)
        for label, names, also in (("PRODUCT", self.products, aliases), ("PLACE", places, place_aliases)):
            for name in names:
                if name and name.strip():
                    self._canonical.setdefault(name.strip().lower(), (label, name.strip()))
            for alias, name in (also or {}).items():
                if alias.strip():
                    self._canonical.setdefault(alias.strip().lower(), (label, name.strip()))
        self._phrases = sorted(self._canonical)
        self._names_by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}  # (tokens, label) by first token
        for p in self._phrases:
            seq = tuple(t.text.lower() for t in tokenize(p))
            self._names_by_first.setdefault(seq[0], []).append((seq, self._canonical[p][0]))
        self.spacy_model = spacy_model
        self._nlp = None
        self._lock = threading.Lock()

    def extract(self, texts: Sequence[str]) -> list[list[Entity]]:
        if self.spacy_model:
            return self._extract_spacy(texts)
        return [self._extract_one(text) for text in texts]

    # -- plain Python ----------------------------------------------------------------------------------------

    def _extract_one(self, text: str) -> list[Entity]:
        tokens = tokenize(text)
        spans = self._ruler_spans(tokens)
        starts = [t.idx for t in tokens]
        for label, pattern, needs in REGEXES:
            if not needs(text):
                continue
            for m in pattern.finditer(text):
                start, end = _span(m)
                if label == "DATE" and is_score(text, start, end):
                    continue
                # spaCy's doc.char_span(..., alignment_mode="expand"): every token the match touches
                first = bisect_right(starts, start) - 1
                if start == starts[first] + len(tokens[first].text):  # in the space after a token
                    first += 1
                spans.append((label, first, bisect_right(starts, end - 1)))
        if not spans:
            return []
        spans.sort(key=lambda s: 0 if s[0] in _EXACT else 1)
        found = []
        for label, first, end in _filter_spans(spans):
            start, stop = tokens[first].idx, tokens[end - 1].idx + len(tokens[end - 1].text)
            found.append(self._make(label, text[start:stop], start, stop))
        return found

    def _ruler_spans(self, tokens: list[Token]) -> list[tuple[str, int, int]]:
        """What spaCy's entity ruler (overwrite_ents, LOWER phrase matching) puts in ``doc.ents``: every match
        of every pattern (all ways around an optional token), then longest first, then leftmost, without
        overlaps."""
        n = len(tokens)
        texts = [t.text for t in tokens]
        masks = list(map(_masks.get, texts))
        if None in masks:
            masks = [_token_mask(t) if m is None else m for t, m in zip(texts, masks)]
        # Names first: where a product or place name is exactly a money or date phrase ("Today"), the name wins.
        # (spaCy's ruler keeps whichever its set of matches happens to list first.)
        matches: dict[tuple[str, int, int], None] = {}
        by_first = self._names_by_first
        lowers = list(map(str.lower, texts)) if by_first else []
        if not by_first.keys().isdisjoint(lowers):
            for start, low in enumerate(lowers):
                for seq, label in by_first.get(low, ()):
                    if tuple(lowers[start:start + len(seq)]) == seq:
                        matches[label, start, start + len(seq)] = None
        # A match consumes its first token, so it can only start at a token that passes some test.
        if any(masks):
            starts = [i for i, m in enumerate(masks) if m]
            for label, steps in _PATTERNS:
                first, first_optional = steps[0]
                for start in starts:
                    if not first_optional and not masks[start] & first:
                        continue
                    ends = {start}
                    for test, optional in steps:
                        ends = ({j for j in ends if optional}
                                | {j + 1 for j in ends if j < n and masks[j] & test})
                        if not ends:
                            break
                    for end in sorted(ends):
                        if end > start:
                            matches[label, start, end] = None
        return _filter_spans(list(matches)) if matches else []

    # -- spaCy -----------------------------------------------------------------------------------------------

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
        patterns += [{"label": self._canonical[p][0], "pattern": p} for p in self._phrases]
        ruler.add_patterns(patterns)
        return nlp

    def _extract_spacy(self, texts: Sequence[str]) -> list[list[Entity]]:
        nlp = self.nlp  # first: it imports spaCy its own way
        from spacy.util import filter_spans

        results = []
        for doc in nlp.pipe(texts, batch_size=256):
            spans = [e for e in doc.ents if e.label_ in LABELS]
            for label, pattern, _ in REGEXES:
                for m in pattern.finditer(doc.text):
                    start, end = _span(m)
                    if label == "DATE" and is_score(doc.text, start, end):
                        continue
                    span = doc.char_span(start, end, label=label, alignment_mode="expand")
                    if span is not None:
                        spans.append(span)
            spans.sort(key=lambda s: 0 if s.label_ in _EXACT else 1)
            kept = sorted(filter_spans(spans), key=lambda s: s.start_char)
            results.append([self._make(s.label_, s.text, s.start_char, s.end_char) for s in kept])
        return results

    def _make(self, label: str, text: str, start: int, end: int) -> Entity:
        if label == "ORDER_ID":
            value = text.upper()
        elif label in ("PRODUCT", "PLACE"):
            value = self._canonical.get(text.lower(), (label, text))[1]
        elif label == "EMAIL":
            value = text.lower()
        elif label == "URL":
            value = text.rstrip(".,;:!?")
        elif label == "DATE":  # the day itself: a reply says "the event on {date}", not "on on Saturday"
            value = _DATE_PREPOSITION.sub("", text)
        else:
            value = text
        return Entity(label, text, start, end, value)


class _SpacyBlankExtractor(EntityExtractor):
    """The same rules as a spaCy entity ruler over ``spacy.blank("en")``, even without ``spacy_model``: the
    reference that the plain-Python rules are tested against."""

    def extract(self, texts: Sequence[str]) -> list[list[Entity]]:
        return self._extract_spacy(texts)
