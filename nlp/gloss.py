"""English words for the embedding model in place of another language's (a word-for-word gloss).

The embedding model (all-MiniLM-L6-v2) is English: a German "Wo bleibt meine Bestellung?" lands far from "where is
my order?", so the intents and themes of messages in other languages rested on a few examples per language. A
message told to be in German, Spanish, French, Portuguese, Italian or Dutch (:func:`nlp.language.detect`) is
embedded with each word that its language's glossary knows replaced by English ("where is my order?" from the
German above), the rest as written; VADER reads the gloss too (``nlp.sentiment``). The intents' word features, the
problem phrases, entities, theme names and everything shown or stored as the message keep its own words. English
messages, and messages too short to tell, are embedded as written.

Glossaries: ``nlp/data/gloss/<code>.txt``, one ``word = english`` a line (lower case; an empty English drops the
word, e.g. a separable verb's particle), ``#`` starts a comment.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from nlp.closings import body
from nlp.language import detect

GLOSS_DIR = Path(__file__).resolve().parent / "data" / "gloss"
_TOKEN = re.compile(r"[^\W\d_]+|[\W\d_]+")  # words (letters only: "l'app" is "l", "'", "app") and what is between


@lru_cache(maxsize=None)
def glossary(code: str) -> dict[str, str]:
    """The glossary of language ``code`` (empty when there is none)."""
    path = GLOSS_DIR / f"{code}.txt"
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        word, sep, english = line.partition("=")
        word = word.strip()
        if not sep or not word or " " in word or word != word.lower():
            raise ValueError(f"{path}:{number}: expected 'word = english' with one lower-case word, got {line!r}")
        out[word] = " ".join(english.split())
    return out


@lru_cache(maxsize=1)
def version() -> str:
    """A short hash of every glossary: models trained on glossed texts are cached under it."""
    h = hashlib.sha256()
    for path in sorted(GLOSS_DIR.glob("*.txt")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


def gloss(text: str, language: str | None) -> str:
    """``text`` with the words the glossary of ``language`` knows in English; as written for English or None."""
    words = glossary(language) if language and language != "en" else None
    if not words:
        return text
    out = [words.get(part.lower(), part) for part in _TOKEN.findall(text)]
    return re.sub(r"\s{2,}", " ", "".join(out)).strip()


def word_for_word(text: str, language: str | None) -> str | None:
    """The gloss of what ``text`` says (without a greeting or closing) on one line, for a person who does not read
    ``language``: a rough reading, the words the model reads; None when nothing in it was glossed."""
    said = body(text)
    glossed = gloss(said, language)
    return " ".join(glossed.split()) if glossed != said else None


def embedding_texts(texts: Sequence[str], languages: Sequence[str | None] | None = None) -> list[str]:
    """What the embedding model reads of each text: its gloss in its language (told when ``languages`` is not
    given)."""
    if languages is None:
        languages = [detect(t) for t in texts]
    return [gloss(t, language) for t, language in zip(texts, languages)]
