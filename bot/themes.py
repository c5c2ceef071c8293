"""Themes of a time window: the recurring threads in the inbound messages, with identity and trend.

``nlp.themes`` clusters and labels; this module gives each cluster its facts (size, contacts, sources,
sentiment mix, intents, quotes), an identity that survives from one window to the next (a cluster whose
centroid is close to a stored theme's keeps that theme's id and label) and a trend against the previous window
of the same length (new, growing, steady, fading, with both counts).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np

from bot.errors import ResonateError
from bot.message import iso, parse_time, utcnow
from nlp.closings import body
from nlp.themes import WEAK_WORDS, distinct_label, same_word

TRENDS = ("new", "growing", "steady", "fading")
DEFAULT_SPAN_HOURS = 168  # the week themes stored before windows had a length came from
INTENT_NOUNS = {"praise": "praise", "complaint": "complaints", "technical_problem": "problems",
                "feature_request": "ideas", "event_question": "questions", "product_question": "questions",
                "pricing": "pricing", "order_status": "orders", "refund_return": "refunds",
                "account_login": "login", "greeting": "greetings", "unsubscribe": "unsubscribes",
                "partnership": "partnerships", "human_handoff": "requests", "subscription": "changes",
                "privacy_request": "requests", "follow_up": "follow-ups", "thanks": "thanks"}
# where a theme is named by the intent's own word ("Order"): what people say about it ("Order status")
_OTHER_NOUNS = {"order_status": "status", "refund_return": "requests", "account_login": "problems",
                "pricing": "questions", "unsubscribe": "requests", "partnership": "offers"}
_SPAN = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)


def parse_span(text: str) -> timedelta:
    """``7d``, ``2w``, ``36h`` -> timedelta; anything else is a ResonateError naming the value."""
    m = _SPAN.match(str(text or ""))
    if not m or int(m.group(1)) == 0:
        raise ResonateError(f"--since {text!r}: expected a length like 7d, 2w or 36h")
    n, unit = int(m.group(1)), m.group(2).lower()
    return {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]


def parse_until(text: str | None) -> datetime:
    if not text:
        return utcnow()
    try:
        dt = parse_time(text)
    except ValueError:
        raise ResonateError(f"--until {text!r}: expected a date like 2026-11-15 or 2026-11-15T18:00Z") from None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        dt += timedelta(days=1)  # a bare date means "up to the end of that day"
    return dt


def trend_of(current: int, previous: int) -> str:
    """new (absent before), growing / fading (a change of at least 30% and at least 2 messages), else steady."""
    if previous == 0:
        return "new"
    if current >= previous * 1.3 and current - previous >= 2:
        return "growing"
    if current <= previous * 0.7 and previous - current >= 2:
        return "fading"
    return "steady"


@dataclass
class Window:
    start: datetime  # exclusive
    end: datetime  # inclusive

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def span_hours(self) -> int:
        """The window's length in whole hours: themes are matched among those of windows as long."""
        return round(self.length.total_seconds() / 3600)

    def previous(self) -> "Window":
        return Window(self.start - self.length, self.start)

    def to_dict(self) -> dict:
        return {"start": iso(self.start), "end": iso(self.end)}


@dataclass
class Theme:
    id: int
    label: str
    size: int
    contacts: int
    sources: dict[str, int]
    sentiment: dict[str, int]
    intents: list[dict]
    quotes: list[dict]
    keyphrases: list[str]
    trend: str = "new"
    previous: int = 0
    message_ids: list[int] = field(default_factory=list, repr=False)
    contact_ids: list[int] = field(default_factory=list, repr=False)
    segment_contact_ids: list[int] = field(default_factory=list, repr=False)  # opted-out contacts excluded
    segment_message_ids: list[int] = field(default_factory=list, repr=False)  # what those contacts wrote on it
    tags: dict[str, int] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)  # messages told to be in another language than English
    situation: str | None = None  # what most of its messages were first answered for (a reply's ``situation``)

    @property
    def language(self) -> str | None:
        """The other language than English that most of the theme's messages are written in, if one is: a segment
        to write to in that language."""
        code, n = next(iter(self.languages.items()), (None, 0))
        return code if n * 2 > self.size else None

    @property
    def dominant_intent(self) -> str:
        return self.intents[0]["intent"] if self.intents else "unknown"

    @property
    def dominant_sentiment(self) -> str:
        return max(sorted(self.sentiment), key=lambda s: self.sentiment[s]) if self.sentiment else "neutral"

    def to_dict(self, full: bool = False) -> dict:
        if full:
            d = asdict(self)
        else:  # not copying the id lists only to drop them: a theme of a large window has thousands
            d = asdict(replace(self, message_ids=[], contact_ids=[], segment_contact_ids=[], segment_message_ids=[]))
            for key in ("message_ids", "contact_ids", "segment_contact_ids", "segment_message_ids"):
                d.pop(key)
        d["current"] = self.size
        return d


@dataclass
class ThemeReport:
    window: Window
    previous_window: Window
    themes: list[Theme]
    messages: int
    left_out: int
    previous_messages: int
    gone: list[dict] = field(default_factory=list)  # themes of the previous window with no cluster now

    def to_dict(self) -> dict:
        return {"window": self.window.to_dict(), "previous_window": self.previous_window.to_dict(),
                "messages": self.messages, "left_out": self.left_out, "previous_messages": self.previous_messages,
                "themes": [t.to_dict() for t in self.themes], "gone": self.gone}


class ThemeFinder:
    """Finds the themes of a window in the store; ``engine`` is an :class:`nlp.themes.ThemeEngine`."""

    def __init__(self, store, engine, *, match_similarity: float = 0.8,
                 situations: Mapping[tuple[str, str], str] | None = None):
        """``situations``: the situation each (intent, reply id) answers (:meth:`bot.playbooks.PlaybookSet.situations`):
        the messages whose first suggested reply answers one are one thread, in whatever language they are written."""
        self.store = store
        self.engine = engine
        self.match_similarity = match_similarity
        self.situations = dict(situations or {})

    # -- reading a window ---------------------------------------------------------------------------------------
    def messages(self, window: Window) -> list[dict]:
        """The window's analysed inbound messages, oldest first, each with its intent (a person's correction
        counts) and its stored embedding (``vector`` bytes and ``dimension``, None when it has none), tone vector
        (``tone`` bytes) and idf-weighted vector (``weighted`` bytes), each None when it has none: one query, so a
        large window reads in bulk."""
        # the first reply suggested for it (the latest suggestions), when some reply answers a situation
        answer = ("""(SELECT s.intent || char(31) || s.reply_id FROM suggestions s WHERE s.message_id = m.id
                     AND s.rank = 1 AND s.state != 'superseded' ORDER BY s.id DESC LIMIT 1)"""
                  if self.situations else "NULL")
        return list(self.store.db.query(
            f"""SELECT m.id, m.text, m.source, m.sent_at, m.contact_id, c.display_name, c.opted_out_at, c.tags,
                      COALESCE(k.intent, a.intent) AS intent, a.sentiment, a.language, e.dimension, e.vector,
                      e.tone, e.weighted, {answer} AS answer
               FROM messages m JOIN analyses a ON a.message_id = m.id
               LEFT JOIN cards k ON k.message_id = m.id
               LEFT JOIN contacts c ON c.id = m.contact_id
               LEFT JOIN embeddings e ON e.message_id = m.id
               WHERE m.direction = 'in' AND m.sent_at > ? AND m.sent_at <= ?
               ORDER BY m.sent_at, m.id""", [iso(window.start), iso(window.end)]))

    def _cluster(self, window: Window) -> tuple[list[Theme], int, int]:
        rows = [r for r in self.messages(window) if r["vector"] is not None]
        if not rows:
            return [], 0, 0
        # one embedding model at a time: after a model change, the dimension most messages have
        dim = Counter(r["dimension"] for r in rows).most_common(1)[0][0]
        rows = [r for r in rows if r["dimension"] == dim]
        matrix = np.frombuffer(b"".join(r.pop("vector") for r in rows), dtype=np.float32).reshape(len(rows), dim)
        # clustered with their tone and idf-weighted vectors only when every message has one of one size (messages
        # analysed before they were stored have none: such a window is clustered without them)
        tone, weighted = (_stacked([r.pop(column) for r in rows]) for column in ("tone", "weighted"))
        result = self._find([r["text"] for r in rows], matrix, [r["id"] for r in rows], tone, weighted)
        for r in rows:
            r["situation"] = self.situations.get(tuple(r["answer"].split("\x1f"))) if r["answer"] else None
        clusters, joined = by_situation(result.clusters, [r["situation"] for r in rows])
        themes = []
        # read once: a theme this window creates or moves is no longer ``free``, so later clusters never need it
        # a theme continues in windows of its own length: a month's threads are broader than a week's
        stored = list(self.store.db.query(
            "SELECT id, label, dimension, centroid, last_seen_at FROM themes WHERE dimension = ? "
            f"AND COALESCE(span_hours, {DEFAULT_SPAN_HOURS}) = ? ORDER BY id", [dim, window.span_hours]))
        centroids = (np.frombuffer(b"".join(r["centroid"] for r in stored), dtype=np.float32).reshape(-1, dim)
                     if stored else np.zeros((0, dim), dtype=np.float32))
        free = np.ones(len(stored), dtype=bool)
        taken = {r["label"].lower() for r in stored}  # a new theme is not named like one the team already saw
        for cluster in clusters:
            members = [rows[i] for i in cluster.members]
            intents = Counter(r["intent"] for r in members)
            theme_id, label, at = self._identify(cluster, intents.most_common(1)[0][0], window, stored, centroids,
                                                 free, taken)
            taken.add(label.lower())
            if at is not None:
                free[at] = False
            themes.append(_describe(theme_id, label, cluster, members, matrix[cluster.members], intents))
        return themes, len(rows), result.left_out - joined

    def _find(self, texts: list[str], matrix: np.ndarray, ids: list[int], tone: np.ndarray | None = None,
              weighted: np.ndarray | None = None):
        """The engine's result for these messages, stored under a hash of everything it depends on (ids, texts,
        vectors, tone and idf-weighted vectors, the engine's settings), so the same window is clustered once however
        often it is reported."""
        digest = hashlib.sha256(repr(self.engine).encode())
        digest.update(np.asarray(ids, dtype=np.int64).tobytes())
        digest.update("\x1f".join(texts).encode())
        digest.update(np.ascontiguousarray(matrix).tobytes())
        if tone is not None:
            digest.update(b"tone" + np.ascontiguousarray(tone).tobytes())
        if weighted is not None:
            digest.update(b"weighted" + np.ascontiguousarray(weighted).tobytes())
        key = digest.hexdigest()
        stored = self.store.theme_run(key)
        if stored is not None and len(stored[0]) == len(texts):
            return self.engine.rebuild(matrix, *stored)
        result = self.engine.find(texts, matrix, tone, weighted)
        self.store.save_theme_run(key, result.assignment, [{"label": c.label, "keyphrases": c.keyphrases}
                                                           for c in result.clusters])
        return result

    # -- identity -----------------------------------------------------------------------------------------------
    def _identify(self, cluster, intent: str, window: Window, stored: list[dict], centroids: np.ndarray,
                  free: np.ndarray, taken: set[str]) -> tuple[int, str, int | None]:
        """The stored theme this cluster continues (centroid cosine >= match_similarity, the later theme on a
        tie), or a new one, named apart from the ``taken`` labels (``intent``: what most of its messages are,
        which may tell it apart). ``free``: which of ``stored`` no earlier cluster of this window took. Returns the
        theme's id, its label and its position in ``stored`` (None for a new theme)."""
        best = None
        if len(stored):
            sims = np.where(free, centroids @ cluster.centroid.astype(np.float32), -np.inf)
            top = float(sims.max())
            if top >= self.match_similarity:
                best = int(np.flatnonzero(sims == top)[-1])
        now = iso(utcnow())
        end = iso(window.end)
        if best is None:
            label = distinct_label(cluster.label, cluster.keyphrases, taken, INTENT_NOUNS.get(intent, ""))
            cur = self.store.db.execute(
                """INSERT INTO themes (label, keyphrases, dimension, centroid, first_seen_at, last_seen_at,
                                      created_at, span_hours)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [label, json.dumps(cluster.keyphrases), int(cluster.centroid.shape[0]),
                 cluster.centroid.astype(np.float32).tobytes(), end, end, now, window.span_hours])
            return cur.lastrowid, label, None
        row = stored[best]
        if end > row["last_seen_at"]:
            # moving forward in time: let the centroid follow the thread a little (re-running a window never does)
            blended = centroids[best] + cluster.centroid.astype(np.float32)
            blended /= max(float(np.linalg.norm(blended)), 1e-9)
            self.store.db.execute("UPDATE themes SET centroid = ?, last_seen_at = ? WHERE id = ?",
                                  [blended.astype(np.float32).tobytes(), end, row["id"]])
        return row["id"], row["label"], best

    # -- the report ---------------------------------------------------------------------------------------------
    def find(self, since: timedelta = timedelta(days=7), until: datetime | None = None) -> ThemeReport:
        window = Window((until or utcnow()) - since, until or utcnow())
        previous_window = window.previous()
        with self.store.db.atomic():
            previous, prev_n, _ = self._cluster(previous_window)
            current, n, left_out = self._cluster(window)
        before = {t.id: t for t in previous}
        for theme in current:
            theme.previous = before[theme.id].size if theme.id in before else 0
            theme.trend = trend_of(theme.size, theme.previous)
        seen = {t.id for t in current}
        gone = [{"id": t.id, "label": t.label, "previous": t.size, "current": 0, "trend": "fading"}
                for t in previous if t.id not in seen]
        return ThemeReport(window, previous_window, current, n, left_out, prev_n, gone)


def _stacked(blobs: list[bytes | None]) -> np.ndarray | None:
    """float32 vectors stored as bytes, one a row, or None unless every row has one of one size."""
    if not blobs or not all(blobs) or len({len(b) for b in blobs}) != 1:
        return None
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)


def by_situation(clusters: list, situations: Sequence[str | None]) -> tuple[list, int]:
    """The clusters with those that answer one situation joined: ``situations`` says which each text's first
    suggested reply answers (None for none). A cluster answers the one most of its texts answer; the first
    cluster (the largest) that answers a situation takes the others that answer it, and the texts left out of every
    cluster that answer it. The embedding model is English: a German and an Italian report of the known battery issue
    are near each other's words, not the English reports', so without this one issue made a theme per language,
    and its campaign reached only the English reporters. Returns the clusters and how many left-out texts joined."""
    answers = []
    for cluster in clusters:
        counts = Counter(situations[i] for i in cluster.members if situations[i])
        (situation, n), = counts.most_common(1) or [(None, 0)]
        answers.append(situation if n * 2 > len(cluster.members) else None)
    if not any(answers):
        return clusters, 0
    first: dict[str, int] = {}
    for k, situation in enumerate(answers):
        if situation:
            first.setdefault(situation, k)
    members = {k: list(c.members) for k, c in enumerate(clusters)}
    for k, situation in enumerate(answers):
        if situation and first[situation] != k:
            members[first[situation]] += members.pop(k)
    clustered = {i for c in clusters for i in c.members}
    joined = [i for i, situation in enumerate(situations) if situation in first and i not in clustered]
    for i in joined:
        members[first[situations[i]]].append(i)
    return [replace(c, members=sorted(members[k])) if members[k] != c.members else c
            for k, c in enumerate(clusters) if k in members], len(joined)


def _describe(theme_id: int, label: str, cluster, members: list[dict], vectors: np.ndarray,
              intents: Counter | None = None) -> Theme:
    """The theme a cluster of ``members`` makes (``intents``: their intents, when already counted)."""
    intents = intents or Counter(r["intent"] for r in members)
    contacts = sorted({r["contact_id"] for r in members if r["contact_id"] is not None})
    segment = sorted({r["contact_id"] for r in members if r["contact_id"] is not None and not r["opted_out_at"]})
    tags = Counter(t for tags_json in _first_tags(members).values() for t in _read_tags(tags_json))
    languages = Counter(r["language"] for r in members if r["language"] not in (None, "en"))
    (situation, answered), = Counter(r.get("situation") for r in members if r.get("situation")).most_common(1) \
        or [(None, 0)]
    # quotes: closest to the centroid, one per contact
    order = np.argsort(-(vectors @ cluster.centroid), kind="stable")
    quotes, quoted = [], set()
    for i in order:
        r = members[int(i)]
        who = r["contact_id"] if r["contact_id"] is not None else f"m{r['id']}"
        if who in quoted:
            continue
        quoted.add(who)
        quotes.append({"message_id": r["id"], "text": quote_text(r["text"]), "from": r["display_name"] or "someone",
                       "source": r["source"], "sent_at": r["sent_at"]})
        if len(quotes) == 3:
            break
    (top, count), *second = intents.most_common(2)
    # a theme mostly of praise is "Kettle praise"; one of praise and problems alike says both; an intent of one
    # message names nothing ("Kettle messages" for a call-back request, a refund and an order question)
    also = second[0][0] if second and count < len(members) / 2 and second[0][1] >= 2 else None
    label = named_by_intent(label, top if count >= 2 else "", also)
    return Theme(
        id=theme_id, label=label, size=len(members), contacts=len(contacts),
        sources=dict(Counter(r["source"] for r in members).most_common()),
        sentiment={s: sum(1 for r in members if r["sentiment"] == s) for s in ("negative", "neutral", "positive")},
        intents=[{"intent": i, "count": c} for i, c in sorted(intents.items(), key=lambda kv: (-kv[1], kv[0]))[:3]],
        quotes=quotes, keyphrases=list(cluster.keyphrases),
        message_ids=[r["id"] for r in members], contact_ids=contacts, segment_contact_ids=segment,
        segment_message_ids=[r["id"] for r in members if r["contact_id"] is not None and not r["opted_out_at"]],
        tags=dict(tags.most_common()), languages=dict(sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))),
        situation=situation if answered * 2 > len(members) else None,
    )


def named_by_intent(label: str, intent: str, also: str | None = None) -> str:
    """A one-word label says too little: it is followed by what people do about it ("Kettle praise"), or, where
    that would repeat the word ("Order orders"), by what they ask about it ("Order status"). A word that only says
    when or how many ("Days", all a theme's messages shared) names nothing: the intent does ("Order status"). A
    plural of people or things ("Subscribers") goes singular before the noun ("Subscriber pricing"). ``also``: a
    second intent as common, when the first is not most of the theme ("Kettle praise and problems")."""
    if len(label.split()) >= 2:
        return label
    if label.lower() in WEAK_WORDS and intent:
        label = intent.split("_")[0].capitalize()
    if re.fullmatch(r"\w{3,}[eo]rs", label) and label.lower() != "others":
        label = label[:-1]  # a noun before another is singular: "Subscriber pricing", "Member questions"
    noun = INTENT_NOUNS.get(intent, "messages")
    if same_word(label.lower(), noun):
        noun = _OTHER_NOUNS.get(intent, "messages")
    other = INTENT_NOUNS.get(also or "", "messages")
    if also and "messages" not in (noun, other) and not same_word(other, noun) and not same_word(label.lower(), other):
        return f"{label} {noun} and {other}"
    return f"{label} {noun}"


def _first_tags(members: list[dict]) -> dict[int, str | None]:
    """Each contact's tags (JSON) as its first message in ``members`` carries them."""
    first: dict[int, str | None] = {}
    for r in members:
        if r["contact_id"] is not None and r["contact_id"] not in first:
            first[r["contact_id"]] = r["tags"]
    return first


def _read_tags(tags_json: str | None) -> list[str]:
    if not tags_json or tags_json == "[]":  # most contacts: no need to parse
        return []
    try:
        return list(json.loads(tags_json))
    except ValueError:
        return []


def quote_text(text: str, limit: int = 220) -> str:
    """A quote: the message on one line without a letter's closing, cut at ``limit`` characters."""
    text = " ".join(body(str(text)).split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"
