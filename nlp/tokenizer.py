"""spaCy's English tokenizer (``spacy.blank("en")``) in plain Python, for the entity rules.

Importing spaCy costs about a second of start-up; the entity rules only need its tokens. This module gives the
same tokens by the same steps (spaCy's ``tokenizer.pyx``): split the text on whitespace; peel prefixes and
suffixes off each piece until none is left or what is left is a special case (a tokenizer exception such as
"Jan." or "don't"); split the rest on infixes unless it looks like a URL; then merge runs of tokens that spell a
special case. The tables are spaCy's own (``nlp/data/en_tokenizer.json``, checked against spaCy by the tests);
the prefix, suffix and infix rules of spaCy's ``lang/punctuation.py`` and ``lang/en/punctuation.py`` are
restated as code here, because compiling spaCy's regular expressions for them alone takes ~80 ms.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from functools import partial
from pathlib import Path
from typing import NamedTuple

TABLES_PATH = Path(__file__).resolve().parent / "data" / "en_tokenizer.json"
# JSON, not a Python module: it loads in ~1 ms where compiling a 60 kB module takes ~40 ms without a .pyc.
_tables = json.loads(TABLES_PATH.read_text(encoding="utf-8"))


class _CharClass:
    """Membership in a set of code point ranges."""

    def __init__(self, ranges: list[list[int]]):
        self.ranges = ranges
        self._starts = [a for a, _ in ranges]

    def __contains__(self, char: str) -> bool:
        i = bisect_right(self._starts, ord(char)) - 1
        return i >= 0 and ord(char) <= self.ranges[i][1]

    def regex(self) -> str:
        """The class as the inside of a regex ``[...]``."""
        return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                       for a, b in self.ranges)


ALPHA = _CharClass(_tables["ALPHA"])
ALPHA_LOWER = _CharClass(_tables["ALPHA_LOWER"])
ALPHA_UPPER = _CharClass(_tables["ALPHA_UPPER"])
ICONS = _CharClass(_tables["ICONS"])
EXCEPTIONS: dict[str, list[str]] = _tables["EXCEPTIONS"]  # special cases: a whole string -> its tokens
_PUNCT, _QUOTES, _CURRENCY = _tables["PUNCT"], _tables["QUOTES"], _tables["CURRENCY"]
_UNITS, _HYPHENS = _tables["UNITS"], _tables["HYPHENS"]
_DIGITS = "0123456789"  # spaCy's rules say [0-9]: ASCII digits only

# Prefixes: spaCy's regex tries its alternatives in order at the start; all but a few are one character.
_PREFIX_CHARS = frozenset(["§", "%", "=", "—", "–"] + [p for p in _PUNCT + _QUOTES + _CURRENCY
                                                        if len(p) == 1])
_PREFIX_STRINGS = tuple(p for p in _CURRENCY if len(p) > 1)  # US$, C$, A$
# Suffixes: fixed strings, some only after an ASCII digit (currency, units, "+").
_SUFFIXES = frozenset(_PUNCT + _QUOTES + ["'s", "'S", "’s", "’S", "—", "–"])
_SUFFIXES_AFTER_DIGIT = frozenset(_CURRENCY + _UNITS + ["+"])
_SUFFIX_MAX = max(map(len, _SUFFIXES | _SUFFIXES_AFTER_DIGIT))
_QUOTE_CHARS = frozenset(_tables["QUOTE_CHARS"])
_DOT_AFTER = frozenset(_tables["DOT_AFTER"])


def prefix_length(s: str) -> int:
    """Length of the prefix spaCy splits off the start of ``s`` (0 if none)."""
    c = s[0]
    if c == "+":  # \+(?![0-9])
        return 0 if s[1:2] and s[1] in _DIGITS else 1
    if c in _PREFIX_CHARS:
        return 1
    if s.startswith(".."):  # \.\.+
        return len(s) - len(s.lstrip("."))
    for p in _PREFIX_STRINGS:
        if s.startswith(p):
            return len(p)
    return 1 if c in ICONS else 0


def suffix_length(s: str) -> int:
    """Length of the suffix spaCy splits off the end of ``s`` (0 if none).

    spaCy searches ``alt1$|alt2$|...``, so the suffix starts at the leftmost position where any alternative
    matches the rest of the string.
    """
    n = len(s)
    if s.endswith(".."):  # \.\.+$ : nothing else ends in two dots, so the run of dots wins
        return n - len(s.rstrip("."))
    for p in range(max(0, n - _SUFFIX_MAX), n):
        tail = s[p:]
        before = s[p - 1] if p else ""
        if tail in _SUFFIXES or (len(tail) == 1 and tail in ICONS):
            return n - p
        if before and before in _DIGITS and tail in _SUFFIXES_AFTER_DIGIT:
            return n - p
        if tail == "." and before and (before in ALPHA_LOWER or before in _DOT_AFTER
                                       or (p >= 2 and s[p - 2] == "°" and before in "FfCcKk")
                                       or (p >= 2 and s[p - 2] in ALPHA_UPPER and before in ALPHA_UPPER)):
            return n - p
    return 0


def infix_spans(s: str) -> list[tuple[int, int]]:
    """(start, end) of each infix in ``s``, left to right, as spaCy's ``infix_finditer`` finds them."""
    if s.isalnum():  # every infix starts with punctuation or an icon (checked over all of Unicode by a test)
        return []
    spans = []
    n, i = len(s), 0
    while i < n:
        c = s[i]
        before = s[i - 1] if i else ""
        after = s[i + 1] if i + 1 < n else ""
        end = 0
        if c == "." and after == ".":  # \.\.+
            end = n - len(s[i:].lstrip("."))
        elif c == "…" or c in ICONS:
            end = i + 1
        elif c in "+-*^" and before and before in _DIGITS and after and after in _DIGITS + "-":
            end = i + 1
        elif (c == "." and before and after and (before in ALPHA_LOWER or before in _QUOTE_CHARS)
              and (after in ALPHA_UPPER or after in _QUOTE_CHARS)):
            end = i + 1
        elif c == "," and before and after and before in ALPHA and after in ALPHA:
            end = i + 1
        elif before and (before in ALPHA or before in _DIGITS):
            for h in _HYPHENS:  # in spaCy's order: the first one followed by a letter
                if s.startswith(h, i) and i + len(h) < n and s[i + len(h)] in ALPHA:
                    end = i + len(h)
                    break
            if not end and c in ":<>=/" and after and after in ALPHA:
                end = i + 1
        if end:
            spans.append((i, end))
            i = end
        else:
            i += 1
    return spans


_url_match = None


def url_match(s: str) -> bool:
    """spaCy's URL_MATCH: such strings are not split on infixes. Compiled on first use (it is large)."""
    global _url_match
    if "." not in s:  # both the host name and the IP address forms need a dot
        return False
    if _url_match is None:
        _url_match = re.compile(
            r"^(?:(?:[\w\+\-\.]{2,})://)?"  # scheme
            r"(?:\S+(?::\S*)?@)?"  # user:password@
            r"(?:(?!(?:10|127)(?:\.\d{1,3}){3})(?!(?:169\.254|192\.168)(?:\.\d{1,3}){2})"  # IP address, not private
            r"(?!172\.(?:1[6-9]|2\d|3[0-1])(?:\.\d{1,3}){2})"
            r"(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}"
            r"(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))"
            r"|(?:(?:[A-Za-z0-9\u00a1-\uffff][A-Za-z0-9\u00a1-\uffff_-]{0,62})?[A-Za-z0-9\u00a1-\uffff]\.)+"  # host
            r"(?:[" + ALPHA_LOWER.regex() + r"]{2,63}))"  # top-level domain
            r"(?::\d{2,5})?(?:[/?#]\S*)?$"  # port, path
        ).match
    return _url_match(s) is not None


def _split_affixes(s: str, prefixes: list[str], suffixes: list[str], exceptions: dict) -> str:
    """Peel prefixes and suffixes off ``s`` (spaCy's ``_split_affixes``); returns what is left."""
    last = 0
    while s and len(s) != last:
        if s in exceptions:
            break
        last = len(s)
        pre = prefix_length(s)
        if pre:
            minus_pre = s[pre:]
            if minus_pre and minus_pre in exceptions:
                prefixes.append(s[:pre])
                return minus_pre
        suf = suffix_length(s[pre:])
        if suf:
            minus_suf = s[:-suf]
            if minus_suf and minus_suf in exceptions:
                suffixes.append(s[-suf:])
                return minus_suf
        if pre and suf and pre + suf <= len(s):
            prefixes.append(s[:pre])
            suffixes.append(s[-suf:])
            s = s[pre:-suf]
        elif pre:
            prefixes.append(s[:pre])
            s = s[pre:]
        elif suf:
            suffixes.append(s[-suf:])
            s = s[:-suf]
    return s


def _split_infixes(s: str, exceptions: dict) -> list[str]:
    """Split what the affixes left on infixes (spaCy's ``_attach_tokens``)."""
    if not s:
        return []
    if s in exceptions:
        return list(exceptions[s])
    spans = infix_spans(s)
    if not spans or url_match(s):
        return [s]
    pieces, start = [], 0
    for a, b in spans:
        if a == 0:  # spaCy ignores an infix at the very start
            continue
        if a != start:
            pieces.append(s[start:a])
        pieces.append(s[a:b])
        start = b
    if s[start:]:
        pieces.append(s[start:])
    return pieces


def _affix_pieces(s: str, exceptions: dict) -> list[str]:
    if s in exceptions:
        return list(exceptions[s])
    prefixes: list[str] = []
    suffixes: list[str] = []
    rest = _split_affixes(s, prefixes, suffixes, exceptions)
    return prefixes + _split_infixes(rest, exceptions) + suffixes[::-1]


class Token(NamedTuple):
    text: str
    idx: int  # character offset in the text
    space: bool  # followed by one space that belongs to no token (spaCy's ``whitespace_``)


# Every start of a special case's string: a run of tokens that spells none can grow into none.
_EXCEPTION_PREFIXES = frozenset(s[:i] for s in EXCEPTIONS for i in range(1, len(s) + 1))
_special_runs: dict[str, tuple[str, ...]] = {}


def _is_special_run(run: list[str], joined: str) -> bool:
    """Whether ``run`` is how affixes alone split the special case ``joined``: spaCy's special-case matcher
    finds such runs after tokenizing and replaces them by the special case's own tokens."""
    found = _special_runs.get(joined)
    if found is None:
        found = _special_runs[joined] = tuple(_affix_pieces(joined, {}))
    return tuple(run) == found


def _merge_special_cases(tokens: list[Token]) -> list[Token]:
    """spaCy's ``_apply_special_cases``: find runs of tokens whose texts are how affixes alone split a special
    case, longest first, then leftmost, dropping a run that overlaps one already seen; a kept run written without
    spaces becomes the special case's own tokens (one with a space inside, across chunks, stays as it is)."""
    runs = []
    prefixes = _EXCEPTION_PREFIXES
    for i in range(len(tokens) - 1):
        joined = tokens[i].text
        if joined not in prefixes:
            continue
        for j in range(i + 1, len(tokens)):
            joined += tokens[j].text
            if joined not in prefixes:
                break
            if joined in EXCEPTIONS and _is_special_run([t.text for t in tokens[i:j + 1]], joined):
                runs.append((i, j + 1))
    if not runs:
        return tokens
    seen: set[int] = set()
    kept = []
    for i, j in sorted(runs, key=lambda r: (r[0] - r[1], r[0])):
        if i not in seen and j - 1 not in seen:
            kept.append((i, j))
        seen.update(range(i, j))  # spaCy marks the tokens of a dropped run as seen too
    out: list[Token] = []
    at = 0
    for i, j in sorted(kept):
        out += tokens[at:i]
        if any(t.space for t in tokens[i:j - 1]):
            out += tokens[i:j]
        else:
            idx = tokens[i].idx
            for piece in EXCEPTIONS["".join(t.text for t in tokens[i:j])]:
                out.append(Token(piece, idx, False))
                idx += len(piece)
            out[-1] = out[-1]._replace(space=tokens[j - 1].space)
        at = j
    return out + tokens[at:]


_cache: dict[str, tuple[str, ...]] = {}
_CACHE_SIZE = 10_000


def chunk_tokens(chunk: str) -> tuple[str, ...]:
    """The tokens of one run of non-whitespace (or of whitespace) characters, before special cases are merged."""
    found = _cache.get(chunk)
    if found is None:
        if chunk.isalpha() and chunk not in EXCEPTIONS:  # no prefix, suffix or infix is made of letters alone
            found = (chunk,)
        else:
            found = tuple(_affix_pieces(chunk, EXCEPTIONS))
        if len(_cache) < _CACHE_SIZE:
            _cache[chunk] = found
    return found


# A run of non-whitespace with the one space after it that belongs to its last token, or a run of whitespace
# that is not such a space (it makes tokens of its own).
_RUNS = re.compile(r"(\S+)( ?)|(\s+)")
_new_token = partial(tuple.__new__, Token)  # Token(text, idx, space) without namedtuple's Python-level __new__


def tokenize(text: str) -> list[Token]:
    """spaCy's tokens of ``text``: one space after a token belongs to it; other whitespace makes tokens."""
    tokens: list[Token] = []
    append = tokens.append
    cache = _cache
    at = 0
    for chunk, space, blank in _RUNS.findall(text):  # the runs cover the text, so offsets add up
        chunk = chunk or blank
        pieces = cache.get(chunk)
        if pieces is None:
            pieces = chunk_tokens(chunk)
        if len(pieces) == 1:
            append(_new_token((pieces[0], at, bool(space))))
            at += len(chunk) + len(space)
            continue
        for piece in pieces:
            append(_new_token((piece, at, False)))
            at += len(piece)
        if space:
            tokens[-1] = _new_token((tokens[-1].text, tokens[-1].idx, True))
            at += 1
    return _merge_special_cases(tokens)
