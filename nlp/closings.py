"""A letter's closing: "Kind regards, Nadia Popescu" at the end of a message says nothing about it.

The analysis reads a message's body (:func:`body`): the closing and signature are left out of what is embedded,
classified and scored (entities still read the whole text: a signature's email or phone is the contact's).
"""

from __future__ import annotations

import re
from typing import Sequence

# Letter furniture: "Kind regards" must not make a complaint positive or two letters alike. A closing ends the
# message, alone or followed by a name of a line or two ("Best regards,\nDaniel", "Cheers, Ben"), and starts the
# text, a line or a sentence or follows a comma or a dash: "the best coffee" keeps its word, "...is the best." too.
# Thanks close a letter only on a line of their own ("...since 10/4.\n\nThanks,\nRyan"); "The burrs are great,
# thank you!" and "Works now. Thanks!" are what the message says.
_CLOSINGS = (r"(?:^|(?<=[\n.!?,;:)\-\u2013\u2014]))\s*"
             r"(?:(?:kind|best|warm|many) (?:regards|wishes|thanks)|regards|best|all the best|cheers|"
             r"(?:yours )?sincerely|thanks in advance|thank you in advance)")
_THANKS = r"(?:^|(?<=\n))[ \t]*(?:(?:many )?thanks(?: again| so much| a lot)?|thank you(?: so much)?|thx|take care)"
SIGN_OFFS = re.compile(rf"(?:{_CLOSINGS}|{_THANKS})\b[,.!]*"
                       r"(?:\s*$|[ \t]*[,\n]\s*[^\n,]{1,30}(?:\n[^\n,]{1,30})?\s*$)", re.I)


def without_closing(text: str) -> str:
    """``text`` without a letter's closing at its end."""
    return SIGN_OFFS.sub("", text).rstrip()


def body(text: str) -> str:
    """What a text says: a letter's closing ("Kind regards, Nadia Popescu") dropped, since it carries no intent,
    topic or feeling (a name and "regards" made questions positive and letters look alike); a text that is only a
    closing ("Cheers!") stays as it is."""
    return without_closing(text) or text


def bodies(texts: Sequence[str]) -> list[str]:
    """:func:`body` of each text."""
    return [body(t) for t in texts]
