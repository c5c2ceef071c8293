"""A score out of 10 or 5: "10/10 customer service", "Way fewer fines. 10/10", "3/5 stars".

The same digits are a date in "since 10/10" or "placed my order 1/10": the entity rules must not call a score a
date, and the sentiment must read a score's verdict (VADER reads nothing in "10/10") but nothing in a date. A score
is n/10 (or 11/10) or n/5, followed by a word (after a comma too), "!" or the end of the text, with no date word
("on", "since", "ordered", "delivered", ...) among the three words before it in the same sentence.
"""

from __future__ import annotations

import re
from typing import Iterator

SCORE = re.compile(r"(?<![\w/.,])(?:(?P<n10>11|10|\d(?:\.\d)?)/10|(?P<n5>[0-5](?:\.\d)?)/5)(?![\w/]|[.,]\d)")
_AFTER = re.compile(r",?\s+[^\W\d]|\s*!|\s*$")  # a word ("2/10, would not buy again"), "!" or the end
_DATE_WORDS = (r"on|since|by|until|till|before|after|from|due|of|ordered|order|placed|shipped|dispatched|sent|"
               r"delivered|delivery|arrived|arriving|paid|charged|received|bought|booked|dated|expected|ETA")
_DATE_BEFORE = re.compile(rf"\b(?:{_DATE_WORDS})[^\w.!?\n]+(?:[\w'\u2019]+[^\w.!?\n]+){{0,2}}$", re.I)


def score_valence(points: float, top: int) -> float:
    """What a score says, on VADER's scale: -3 for nothing, 2.7 for full marks, about neutral at half marks."""
    return round(max(-3.0, (points * 10 / top - 5.5) * 0.6), 1) if points <= top else 3.0  # 11/10


def scores(text: str) -> Iterator[tuple[re.Match, float, int]]:
    """The scores in ``text``: each match with its points and the most it could have been."""
    if "/" not in text:
        return
    for m in SCORE.finditer(text):
        if _AFTER.match(text, m.end()) and not _DATE_BEFORE.search(text, max(0, m.start() - 60), m.start()):
            yield (m, float(m["n10"]), 10) if m["n10"] is not None else (m, float(m["n5"]), 5)


def is_score(text: str, start: int, end: int) -> bool:
    """Whether the digits at ``text[start:end]`` ("10/10", the "5/10" of "8.5/10") are (in) a score, not a date."""
    return any(m.start() <= start and end <= m.end() for m, _, _ in scores(text))
