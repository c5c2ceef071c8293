"""The embedded store: SQLite through sqlite-utils.

WAL mode and a busy timeout so the bots, the CLI and a relay can share one file.
The schema changes only through the named migrations below; a database created
by an older version is upgraded in place when it is opened. Every platform id
that can arrive twice sits under a UNIQUE index and is inserted with INSERT OR
IGNORE, so a redelivered event is stored once.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import sqlite_utils
from sqlite_utils.migrations import Migrations

from bot.message import INBOUND, Message, iso, parse_time, utcnow

BUSY_TIMEOUT_MS = 10_000
AUTO_ACTOR = "resonate"  # the actor of automatic answers

migrations = Migrations("resonate")


@migrations(name="0001_initial")
def _initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE contacts (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            external_id TEXT NOT NULL,
            display_name TEXT,
            first_name TEXT,
            username TEXT,
            language TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            opted_out_at TEXT
        );
        CREATE UNIQUE INDEX contacts_source_external ON contacts (source, external_id);

        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            external_id TEXT NOT NULL,
            contact_id INTEGER REFERENCES contacts(id),
            created_at TEXT NOT NULL,
            last_message_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX conversations_source_external ON conversations (source, external_id);

        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            source_id TEXT NOT NULL,
            event_id TEXT,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id),
            contact_id INTEGER REFERENCES contacts(id),
            direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
            kind TEXT NOT NULL DEFAULT 'text',
            text TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            stored_at TEXT NOT NULL,
            reply_to_id TEXT,
            status TEXT NOT NULL DEFAULT 'new',
            raw TEXT
        );
        CREATE UNIQUE INDEX messages_source_id ON messages (source, source_id);
        CREATE UNIQUE INDEX messages_source_event ON messages (source, event_id) WHERE event_id IS NOT NULL;
        CREATE INDEX messages_sent_at ON messages (sent_at);
        CREATE INDEX messages_conversation ON messages (conversation_id, sent_at);
        CREATE INDEX messages_contact ON messages (contact_id, sent_at);

        CREATE TABLE analyses (
            message_id INTEGER PRIMARY KEY REFERENCES messages(id),
            intent TEXT NOT NULL,
            confidence REAL NOT NULL,
            best_intent TEXT,
            sentiment TEXT NOT NULL,
            sentiment_score REAL NOT NULL,
            entities TEXT NOT NULL DEFAULT '[]',
            ranking TEXT NOT NULL DEFAULT '[]',
            model_version TEXT NOT NULL,
            analyzed_at TEXT NOT NULL
        );
        CREATE INDEX analyses_intent ON analyses (intent);

        CREATE TABLE embeddings (
            message_id INTEGER PRIMARY KEY REFERENCES messages(id),
            model TEXT NOT NULL,
            dimension INTEGER NOT NULL,
            vector BLOB NOT NULL
        );

        CREATE TABLE suggestions (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id),
            rank INTEGER NOT NULL,
            intent TEXT NOT NULL,
            reply_id TEXT NOT NULL,
            text TEXT NOT NULL,
            reason TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'offered',
            created_at TEXT NOT NULL
        );
        CREATE INDEX suggestions_message ON suggestions (message_id, state);

        CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id),
            suggestion_id INTEGER REFERENCES suggestions(id),
            action TEXT NOT NULL CHECK (action IN ('sent', 'edited', 'skipped', 'intent_corrected', 'auto_sent')),
            actor TEXT NOT NULL,
            text TEXT,
            intent TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX decisions_message ON decisions (message_id);

        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id),
            decision_id INTEGER REFERENCES decisions(id),
            source TEXT NOT NULL,
            text TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'stuck')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_message_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX outbox_state ON outbox (state);
        """
    )


@migrations(name="0002_meta")
def _meta(db: sqlite_utils.Database) -> None:
    """Small key-value facts shared between processes, e.g. which intent model is current."""
    db.executescript(
        """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX decisions_action ON decisions (action, created_at);
        """
    )


@migrations(name="0003_review_cards")
def _review_cards(db: sqlite_utils.Database) -> None:
    """One review card per inbound message; ``state`` open -> decided is the decision's compare-and-set."""
    db.executescript(
        """
        CREATE TABLE cards (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id),
            channel TEXT,
            ts TEXT,
            state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'decided')),
            intent TEXT,
            action TEXT,
            decided_by TEXT,
            decided_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX cards_message ON cards (message_id);
        CREATE INDEX cards_channel_ts ON cards (channel, ts);

        ALTER TABLE outbox ADD COLUMN next_attempt_at TEXT;
        CREATE UNIQUE INDEX outbox_decision ON outbox (decision_id) WHERE decision_id IS NOT NULL;
        """
    )


@migrations(name="0004_telegram")
def _telegram(db: sqlite_utils.Database) -> None:
    """Every Telegram update as received, once per update_id, written before the update is acknowledged.

    Updates that are not messages (or that could not be read) are kept here too, so nothing Telegram
    delivered is lost even when it does not become a message.
    """
    db.executescript(
        """
        CREATE TABLE telegram_updates (
            update_id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            message_id INTEGER REFERENCES messages(id),
            error TEXT,
            raw TEXT NOT NULL,
            received_at TEXT NOT NULL
        );
        CREATE INDEX contacts_opted_out ON contacts (opted_out_at) WHERE opted_out_at IS NOT NULL;
        """
    )


@migrations(name="0005_themes")
def _themes(db: sqlite_utils.Database) -> None:
    """Recurring threads keep their id and label from one window to the next: matched by centroid cosine."""
    db.executescript(
        """
        CREATE TABLE themes (
            id INTEGER PRIMARY KEY,
            label TEXT NOT NULL,
            keyphrases TEXT NOT NULL DEFAULT '[]',
            dimension INTEGER NOT NULL,
            centroid BLOB NOT NULL,
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """
    )


@migrations(name="0006_campaigns")
def _campaigns(db: sqlite_utils.Database) -> None:
    """Micro-campaign ideas and their life: idea -> adopted -> reviewed -> closed (or dismissed)."""
    db.executescript(
        """
        CREATE TABLE campaigns (
            id INTEGER PRIMARY KEY,
            theme_id INTEGER NOT NULL REFERENCES themes(id),
            rule TEXT NOT NULL,
            kind TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'idea'
                CHECK (state IN ('idea', 'adopted', 'closed', 'dismissed')),
            card TEXT NOT NULL,
            segment TEXT NOT NULL DEFAULT '[]',
            metric TEXT NOT NULL,
            baseline REAL,
            window_end TEXT NOT NULL,
            created_at TEXT NOT NULL,
            adopted_at TEXT,
            adopted_by TEXT,
            review_at TEXT,
            reviewed_at TEXT,
            result TEXT,
            decision TEXT CHECK (decision IS NULL OR decision IN ('continue', 'pivot', 'stop')),
            closed_at TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX campaigns_theme_rule_window ON campaigns (theme_id, rule, window_end);
        CREATE INDEX campaigns_state ON campaigns (state);
        """
    )


@migrations(name="0007_digests")
def _digests(db: sqlite_utils.Database) -> None:
    """One row per digest period: the UNIQUE period is what makes the scheduled post happen once."""
    db.executescript(
        """
        CREATE TABLE digests (
            id INTEGER PRIMARY KEY,
            period TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'posting' CHECK (state IN ('posting', 'posted', 'failed')),
            channel TEXT,
            ts TEXT,
            path TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX digests_period ON digests (period);
        """
    )


@migrations(name="0008_theme_runs")
def _theme_runs(db: sqlite_utils.Database) -> None:
    """A window's clustering, kept under a hash of its messages, vectors and the engine's settings: the digest
    after ``resonate themes`` (or next week's trends) does not cluster the same messages again."""
    db.executescript(
        """
        CREATE TABLE theme_runs (
            key TEXT PRIMARY KEY,
            assignment BLOB NOT NULL,
            clusters TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX theme_runs_created ON theme_runs (created_at);
        """
    )


@migrations(name="0009_suggestion_answers")
def _suggestion_answers(db: sqlite_utils.Database) -> None:
    """A suggestion drafted for the earlier message a follow-up chases says which one (``answers_id``): sending it
    answers that message, and it teaches nothing about the follow-up's own intent. No foreign key: both messages
    are the same person's, erased together."""
    db.execute("ALTER TABLE suggestions ADD COLUMN answers_id INTEGER")
    db.execute("CREATE INDEX suggestions_answers ON suggestions (answers_id) WHERE answers_id IS NOT NULL")


@migrations(name="0010_theme_span")
def _theme_span(db: sqlite_utils.Database) -> None:
    """A theme belongs to windows of one length (``span_hours``): a 49-day window's threads are broader than a
    week's, and took the name of whichever week's theme their centre was nearest ("Lisbon Brew Jam" for every
    city's). Themes stored before had no span; they came from the default week (NULL reads as 168)."""
    db.execute("ALTER TABLE themes ADD COLUMN span_hours INTEGER")


@migrations(name="0011_analysis_language")
def _analysis_language(db: sqlite_utils.Database) -> None:
    """The language the analysis told a message to be written in (``nlp.language.detect``: en, de, es, ...; NULL
    when its words were too few to tell, and for messages analysed before), so the inbox can list the German ones
    and the digest count them without telling every message again."""
    db.execute("ALTER TABLE analyses ADD COLUMN language TEXT")


@migrations(name="0012_campaign_segment_messages")
def _campaign_segment_messages(db: sqlite_utils.Database) -> None:
    """The messages on the theme that put each person in a campaign's segment (ids, JSON): who to write to is a
    list of people with what they said, not a count. Campaigns recorded before have none ('[]')."""
    db.execute("ALTER TABLE campaigns ADD COLUMN segment_messages TEXT NOT NULL DEFAULT '[]'")


@migrations(name="0013_embedding_tone")
def _embedding_tone(db: sqlite_utils.Database) -> None:
    """Beside a message's embedding, its tone vector (float32, the pooled states of an earlier layer of the same
    forward pass, see ``nlp.embeddings.TONE_LAYER``): the themes cluster on both (``nlp.themes.ThemeEngine.space``).
    NULL for messages analysed before, and where the sentiment model reads no tone vectors (another model)."""
    db.execute("ALTER TABLE embeddings ADD COLUMN tone BLOB")


@migrations(name="0014_idf_weighted")
def _idf_weighted(db: sqlite_utils.Database) -> None:
    """Beside a message's embedding, its idf-weighted vector (float32: the last layer's token states pooled with
    the inbox's idf weights), which the themes cluster on in its place (``nlp.themes.ThemeEngine.space``); and the
    counts those weights come from: for each token id of the embedding model, how many analysed messages hold it
    (``nlp.embeddings.TokenCounts``; token -1 counts the messages). NULL for messages analysed before."""
    db.execute("ALTER TABLE embeddings ADD COLUMN weighted BLOB")
    db.execute("CREATE TABLE token_counts (token INTEGER PRIMARY KEY, texts INTEGER NOT NULL)")


# meta: the tokenizer whose token ids the idf counts (token_counts) are, None while they are to be made again
COUNTS_KEY = "token_counts_of"

# A message's language in SQL: what the analysis told from its words, else the contact's (the source's tag: "de-AT"
# -> "de"), as nlp.language.language_of (and its primary) decide for a reply
_TAG = "REPLACE(TRIM(c.language), '_', '-')"
_LANGUAGE = f"COALESCE(a.language, NULLIF(LOWER(SUBSTR({_TAG}, 1, INSTR({_TAG} || '-', '-') - 1)), ''))"


@dataclass(frozen=True)
class Decided:
    decision_id: int
    outbox_id: int | None  # the reply waiting to be sent, for sent/edited
    answered_earlier: int | None = None  # the message a follow-up chased, whose card this reply closed too


@dataclass(frozen=True)
class StoredMessage:
    id: int
    created: bool  # False when the platform id (or event id) was already stored


class Store:
    """All reads and writes of Resonate's data. One instance per process and thread."""

    def __init__(self, path: str | Path | None = None, *, memory: bool = False):
        if memory or path is None or str(path) == ":memory:":
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            self.path = None
        else:
            self.path = Path(path).expanduser()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.db.execute("PRAGMA foreign_keys = ON")
        if self.path is not None:
            self.db.enable_wal()
        migrations.apply(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def applied_migrations(self) -> list[str]:
        return [m.name for m in migrations.applied(self.db)]

    # -- writes -------------------------------------------------------------------------------------------------
    def add_message(self, msg: Message) -> StoredMessage:
        """Store a message with its contact and conversation, once per platform id, in one transaction."""
        now = iso(utcnow())
        sent_at = iso(msg.timestamp)
        with self.db.atomic():
            if msg.event_id is not None:
                seen = self.db.execute(
                    "SELECT id FROM messages WHERE source = ? AND event_id = ?", [msg.source, str(msg.event_id)]
                ).fetchone()
                if seen:
                    return StoredMessage(seen[0], False)
            existing = self.db.execute(
                "SELECT id FROM messages WHERE source = ? AND source_id = ?", [msg.source, msg.key]
            ).fetchone()
            if existing:
                return StoredMessage(existing[0], False)
            contact_id = self._touch_contact(msg, sent_at) if msg.direction == INBOUND else self._contact_of_chat(msg)
            conversation_id = self._touch_conversation(msg, contact_id, sent_at)
            cursor = self.db.execute(
                """INSERT OR IGNORE INTO messages (source, source_id, event_id, conversation_id, contact_id, direction,
                       kind, text, sent_at, stored_at, reply_to_id, status, raw)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [msg.source, msg.key, None if msg.event_id is None else str(msg.event_id), conversation_id,
                 contact_id, msg.direction, msg.kind, msg.text, sent_at, now, msg.reply_to_id,
                 "new" if msg.analysable else "ignored",
                 json.dumps(msg.raw, ensure_ascii=False, default=str) if msg.raw is not None else None],
            )
            if cursor.rowcount == 0:  # lost a race with another writer
                row = self.db.execute("SELECT id FROM messages WHERE source = ? AND source_id = ?",
                                      [msg.source, msg.key]).fetchone()
                return StoredMessage(row[0], False)
            return StoredMessage(cursor.lastrowid, True)

    def message_id_of(self, source: str, source_id: str) -> int | None:
        """The id of the message with this platform id, None when it is not stored."""
        row = self.db.execute("SELECT id FROM messages WHERE source = ? AND source_id = ?",
                              [source, source_id]).fetchone()
        return row[0] if row else None

    def edit_message(self, msg: Message) -> int | None:
        """Its sender edited a stored message: the text (and the raw event) become the edited ones. The message's id
        when its text changed; None when it is not stored (sent before Resonate listened) or the text is the same
        (Slack also sends an edit when it adds a link preview)."""
        with self.db.atomic():
            row = self.db.execute("SELECT id, text FROM messages WHERE source = ? AND source_id = ?",
                                  [msg.source, msg.key]).fetchone()
            if row is None or row[1] == msg.text:
                return None
            self.db.execute("UPDATE messages SET text = ?, raw = COALESCE(?, raw) WHERE id = ?",
                            [msg.text, json.dumps(msg.raw, ensure_ascii=False, default=str)
                             if msg.raw is not None else None, row[0]])
            return row[0]

    def _touch_contact(self, msg: Message, seen_at: str) -> int:
        self.db.execute(
            """INSERT INTO contacts (source, external_id, display_name, first_name, username, language, tags,
                   first_seen, last_seen)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (source, external_id) DO UPDATE SET
                   display_name = COALESCE(NULLIF(excluded.display_name, ''), contacts.display_name),
                   first_name = COALESCE(excluded.first_name, contacts.first_name),
                   username = COALESCE(excluded.username, contacts.username),
                   language = COALESCE(excluded.language, contacts.language),
                   first_seen = MIN(contacts.first_seen, excluded.first_seen),
                   last_seen = MAX(contacts.last_seen, excluded.last_seen)""",
            [msg.source, msg.sender_id, msg.sender_name or None, msg.first_name, msg.sender_username, msg.language,
             "[]", seen_at, seen_at],
        )
        row = self.db.execute("SELECT id, tags FROM contacts WHERE source = ? AND external_id = ?",
                              [msg.source, msg.sender_id]).fetchone()
        if msg.sender_tags:
            tags = sorted(set(json.loads(row[1] or "[]")) | set(msg.sender_tags))
            self.db.execute("UPDATE contacts SET tags = ? WHERE id = ?", [json.dumps(tags), row[0]])
        return row[0]

    def _contact_of_chat(self, msg: Message) -> int | None:
        row = self.db.execute("SELECT contact_id FROM conversations WHERE source = ? AND external_id = ?",
                              [msg.source, msg.conversation_key]).fetchone()
        return row[0] if row else None

    def _touch_conversation(self, msg: Message, contact_id: int | None, at: str) -> int:
        self.db.execute(
            """INSERT INTO conversations (source, external_id, contact_id, created_at, last_message_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (source, external_id) DO UPDATE SET
                   last_message_at = MAX(conversations.last_message_at, excluded.last_message_at),
                   contact_id = COALESCE(conversations.contact_id, excluded.contact_id)""",
            [msg.source, msg.conversation_key, contact_id, at, at],
        )
        return self.db.execute("SELECT id FROM conversations WHERE source = ? AND external_id = ?",
                               [msg.source, msg.conversation_key]).fetchone()[0]

    def save_analysis(self, message_id: int, analysis, *, embedding_model: str = "") -> None:
        """Store an :class:`nlp.analyzer.Analysis` and its embedding (so clustering never recomputes it)."""
        self.save_analyses([(message_id, analysis)], embedding_model=embedding_model)

    def save_analyses(self, items: Iterable[tuple[int, Any]], *, embedding_model: str = "") -> None:
        """:meth:`save_analysis` for many (message id, analysis) pairs: one statement per table for the lot, in one
        transaction, instead of two and a savepoint per message."""
        now = iso(utcnow())
        analyses, vectors = [], []
        for message_id, analysis in items:
            d = analysis.to_dict()
            vector = np.asarray(analysis.embedding, dtype=np.float32)
            analyses.append([message_id, d["intent"], d["confidence"], d["best_intent"], d["sentiment"],
                             d["sentiment_score"], json.dumps(d["entities"], ensure_ascii=False),
                             json.dumps(d["ranking"]), d["model_version"], now, d["language"]])
            tone = None if analysis.tone is None else np.asarray(analysis.tone, dtype=np.float32).tobytes()
            weighted = None if analysis.weighted is None else np.asarray(analysis.weighted, dtype=np.float32).tobytes()
            vectors.append([message_id, embedding_model or d["model_version"].split("+")[0], int(vector.shape[-1]),
                            vector.tobytes(), tone, weighted])
        with self.db.atomic():
            self.db.conn.executemany(
                """INSERT OR REPLACE INTO analyses (message_id, intent, confidence, best_intent, sentiment,
                       sentiment_score, entities, ranking, model_version, analyzed_at, language)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", analyses)
            self.db.conn.executemany(
                """INSERT OR REPLACE INTO embeddings (message_id, model, dimension, vector, tone, weighted)
                   VALUES (?, ?, ?, ?, ?, ?)""", vectors)

    # -- idf counts (nlp.embeddings.TokenCounts) ------------------------------------------------------------------
    def token_counts(self, vocabulary: int):
        """How many analysed messages hold each token id of the embedding model, and how many were counted."""
        from nlp.embeddings import TokenCounts

        counts = TokenCounts(vocabulary)
        for token, texts in self.db.execute("SELECT token, texts FROM token_counts").fetchall():
            if token == -1:
                counts.texts = int(texts)
            elif 0 <= token < vocabulary:
                counts.df[token] = texts
        return counts

    def token_counts_state(self) -> tuple[str | None, int]:
        """Whose token ids the idf counts are (None: nobody's yet, or they are to be counted again) and how many
        messages they count: two lookups, to tell whether counts held in memory are still the store's."""
        row = self.db.execute("SELECT texts FROM token_counts WHERE token = -1").fetchone()
        return self.get_meta(COUNTS_KEY), int(row[0]) if row else 0

    def analysed_text_chunks(self, size: int = 2000) -> Iterator[list[str]]:
        """The texts of the inbound messages analysed so far, ``size`` at a time (to count them again)."""
        cursor = self.db.execute("""SELECT m.text FROM messages m JOIN analyses a ON a.message_id = m.id
                                    WHERE m.direction = 'in' ORDER BY m.id""")
        while rows := cursor.fetchmany(size):
            yield [r[0] for r in rows]

    def add_token_counts(self, held: dict[int, int], texts: int, key: str) -> bool:
        """Count ``texts`` more analysed messages, holding the tokens ``held`` (token id -> messages), when the
        counts are ``key``'s (the tokenizer's whose ids these are); False when they are not (another process is
        counting them again, or the model changed), and nothing is added."""
        if not texts:
            return True
        with self.db.atomic():
            if self.get_meta(COUNTS_KEY) != key:
                return False
            self.db.conn.executemany(
                """INSERT INTO token_counts (token, texts) VALUES (?, ?)
                   ON CONFLICT(token) DO UPDATE SET texts = texts + excluded.texts""",
                [(-1, int(texts)), *((int(t), int(n)) for t, n in held.items())])
        return True

    def replace_token_counts(self, held: dict[int, int], texts: int, key: str) -> bool:
        """The counts of every analysed message, made afresh with the tokenizer ``key``, in place of the stored
        ones, unless another process stored ``key``'s meanwhile (False). One write transaction taken at its start
        (BEGIN IMMEDIATE), so that two processes counting at once wait for each other instead of failing."""
        conn = self.db.conn
        if conn.in_transaction:  # inside a caller's transaction, which holds the lock
            with self.db.atomic():
                return self._replace_token_counts(held, texts, key)
        conn.execute("BEGIN IMMEDIATE")
        try:
            replaced = self._replace_token_counts(held, texts, key)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return replaced

    def _replace_token_counts(self, held: dict[int, int], texts: int, key: str) -> bool:
        if self.get_meta(COUNTS_KEY) == key:
            return False
        self.db.execute("DELETE FROM token_counts")
        self.db.conn.executemany("INSERT INTO token_counts (token, texts) VALUES (?, ?)",
                                 [(-1, int(texts)), *((int(t), int(n)) for t, n in held.items())])
        self.set_meta(COUNTS_KEY, key)
        return True

    def forget_token_counts(self) -> None:
        """Drop the idf counts, to be made again from the analysed messages before they are next used (after messages
        were erased, or analysed by an embedder that counts no tokens)."""
        if self.get_meta(COUNTS_KEY) is not None:
            with self.db.atomic():
                self.db.execute("DELETE FROM meta WHERE key = ?", [COUNTS_KEY])
                self.db.execute("DELETE FROM token_counts")

    def save_suggestions(self, message_id: int, suggestions: Sequence[Any]) -> None:
        """Offer new suggestions for a message; earlier offered ones are superseded."""
        self.save_suggestions_many([(message_id, suggestions)])

    def save_suggestions_many(self, items: Iterable[tuple[int, Sequence[Any]]]) -> None:
        """:meth:`save_suggestions` for many (message id, suggestions) pairs, in one transaction."""
        now = iso(utcnow())
        items = [(message_id, list(suggestions)) for message_id, suggestions in items]
        ids = [[message_id] for message_id, _ in items]
        with self.db.atomic():
            self.db.conn.executemany(
                "UPDATE suggestions SET state = 'superseded' WHERE message_id = ? AND state = 'offered'", ids)
            self.db.conn.executemany(
                """INSERT INTO suggestions (message_id, rank, intent, reply_id, text, reason, answers_id, state,
                                           created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, 'offered', ?)""",
                [[message_id, s.rank, s.intent, s.reply_id, s.text, s.reason, s.answers, now]
                 for message_id, suggestions in items for s in suggestions])
            self.db.conn.executemany("UPDATE messages SET status = 'suggested' WHERE id = ? AND status = 'new'", ids)

    def record_decision(self, message_id: int, action: str, actor: str, *, suggestion_id: int | None = None,
                        text: str | None = None, intent: str | None = None) -> int:
        with self.db.atomic():
            cur = self.db.execute(
                """INSERT INTO decisions (message_id, suggestion_id, action, actor, text, intent, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [message_id, suggestion_id, action, actor, text, intent, iso(utcnow())],
            )
            if suggestion_id is not None and action in ("sent", "edited", "skipped", "auto_sent"):
                self.db.execute("UPDATE suggestions SET state = ? WHERE id = ?", [action, suggestion_id])
            if action in ("sent", "edited", "auto_sent"):
                self.db.execute("UPDATE messages SET status = 'answered' WHERE id = ?", [message_id])
            elif action == "skipped":
                self.db.execute("UPDATE messages SET status = 'skipped' WHERE id = ?", [message_id])
            return cur.lastrowid

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            [key, value, iso(utcnow())])

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    # -- review cards and decisions -----------------------------------------------------------------------------
    def open_card(self, message_id: int) -> dict:
        """The message's review card, created (state open) the first time."""
        now = iso(utcnow())
        self.db.execute("INSERT OR IGNORE INTO cards (message_id, state, created_at, updated_at) VALUES (?, 'open', ?, ?)",
                        [message_id, now, now])
        return self.card(message_id)

    def card_posted(self, message_id: int, channel: str, ts: str) -> None:
        self.db.execute("UPDATE cards SET channel = ?, ts = ?, updated_at = ? WHERE message_id = ?",
                        [channel, ts, iso(utcnow()), message_id])

    def card(self, message_id: int) -> dict | None:
        rows = list(self.db.query("SELECT * FROM cards WHERE message_id = ?", [message_id]))
        return rows[0] if rows else None

    def decide(self, message_id: int, action: str, actor: str, *, suggestion_id: int | None = None,
               text: str | None = None, opt_out_intents: Iterable[str] = ()) -> Decided | None:
        """Close the card (first decision wins) and, for a reply, queue it in the outbox: one transaction. A reply to
        a message of one of ``opt_out_intents`` (the playbooks that say ``opts_out: true``: "we'll remove you from
        our lists") opts its sender out of campaign segments and automatic answers, as Telegram's /stop does.

        Returns None when the card was already decided (or has none): nothing is written then.
        """
        if action not in ("sent", "edited", "skipped", "auto_sent"):
            raise ValueError(f"not a closing decision: {action}")
        now = iso(utcnow())
        with self.db.atomic():
            cur = self.db.execute(
                "UPDATE cards SET state = 'decided', action = ?, decided_by = ?, decided_at = ?, updated_at = ? "
                "WHERE message_id = ? AND state = 'open'", [action, actor, now, now, message_id])
            if cur.rowcount != 1:
                return None
            decision_id = self.record_decision(message_id, action, actor, suggestion_id=suggestion_id, text=text)
            outbox_id = None
            if action in ("sent", "edited", "auto_sent"):
                self._opt_out_if_asked(message_id, suggestion_id, now, opt_out_intents)
                source = self.db.execute("SELECT source FROM messages WHERE id = ?", [message_id]).fetchone()[0]
                outbox_id = self.db.execute(
                    """INSERT INTO outbox (message_id, decision_id, source, text, state, attempts, created_at,
                           updated_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)""",
                    [message_id, decision_id, source, text, now, now]).lastrowid
                return Decided(decision_id, outbox_id, self._close_chased(suggestion_id, actor, now))
            return Decided(decision_id, outbox_id)

    def _close_chased(self, suggestion_id: int | None, actor: str, now: str) -> int | None:
        """A reply drafted for the message a follow-up chases answers that message too: its card closes (action
        ``answered_in_follow_up``, message answered), so nobody answers it a second time. Its id, when it closed."""
        row = self.db.execute("SELECT answers_id FROM suggestions WHERE id = ?", [suggestion_id]).fetchone()
        if not row or row[0] is None:
            return None
        self.open_card(row[0])
        cur = self.db.execute(
            "UPDATE cards SET state = 'decided', action = 'answered_in_follow_up', decided_by = ?, decided_at = ?, "
            "updated_at = ? WHERE message_id = ? AND state = 'open'", [actor, now, now, row[0]])
        if cur.rowcount != 1:
            return None  # answered (or skipped) already
        self.db.execute("UPDATE messages SET status = 'answered' WHERE id = ?", [row[0]])
        return row[0]

    def _opt_out_if_asked(self, message_id: int, suggestion_id: int | None, now: str,
                          opt_out_intents: Iterable[str]) -> None:
        """Opt the sender out when the reply answers a message of one of ``opt_out_intents``: by a person's intent
        correction, else the intent of the reply's suggestion, else the analysis."""
        opt_out_intents = frozenset(opt_out_intents)
        if not opt_out_intents:
            return
        intent = self.db.execute(
            """SELECT COALESCE(
                   (SELECT intent FROM decisions WHERE message_id = :m AND action = 'intent_corrected'
                    ORDER BY id DESC LIMIT 1),
                   (SELECT intent FROM suggestions WHERE id = :s),
                   (SELECT intent FROM analyses WHERE message_id = :m))""",
            {"m": message_id, "s": suggestion_id}).fetchone()[0]
        if intent in opt_out_intents:
            self.db.execute("UPDATE contacts SET opted_out_at = ? WHERE opted_out_at IS NULL "
                            "AND id = (SELECT contact_id FROM messages WHERE id = ?)", [now, message_id])

    def auto_send(self, message_id: int, suggestion_id: int, text: str,
                  opt_out_intents: Iterable[str] = ()) -> Decided | None:
        """Answer without review: the card is created already decided (an FYI card), the reply queued."""
        with self.db.atomic():
            self.open_card(message_id)
            return self.decide(message_id, "auto_sent", AUTO_ACTOR, suggestion_id=suggestion_id, text=text,
                               opt_out_intents=opt_out_intents)

    def last_human_reply_at(self, message_id: int) -> str | None:
        """When a person last sent a reply (sent or edited, not automatic) in the conversation of a message."""
        row = self.db.execute(
            """SELECT MAX(d.created_at) FROM decisions d JOIN messages m ON m.id = d.message_id
               WHERE d.action IN ('sent', 'edited')
                 AND m.conversation_id = (SELECT conversation_id FROM messages WHERE id = ?)""",
            [message_id]).fetchone()
        return row[0] if row else None

    def pending_inbox(self, limit: int = 50, source: str | None = None, intent: str | None = None,
                      language: str | None = None) -> list[dict]:
        """Inbound messages waiting for a person (analysed, not answered or skipped), oldest first; ``intent`` as a
        person corrected it, else as analysed; ``language`` as the analysis told it from the words, else as the
        source said (a Telegram user's app language, "de" for "de-AT"). Each row has ``waiting``: how many match,
        ``limit`` or not, and ``language``."""
        cond, params = "", []
        if source:
            cond += " AND m.source = ?"
            params.append(source)
        if intent:
            cond += " AND COALESCE(k.intent, a.intent) = ?"
            params.append(intent)
        if language:
            cond += f" AND {_LANGUAGE} = ?"
            params.append(language.lower())
        params.append(int(limit))
        return list(self.db.query(
            f"""SELECT m.id, m.source, m.text, m.sent_at, m.status, c.display_name, c.username,
                       c.external_id AS sender_id, COALESCE(k.intent, a.intent) AS intent, a.confidence, a.sentiment,
                       k.intent IS NOT NULL AS corrected, {_LANGUAGE} AS language, COUNT(*) OVER () AS waiting
                FROM messages m LEFT JOIN contacts c ON c.id = m.contact_id
                LEFT JOIN analyses a ON a.message_id = m.id
                LEFT JOIN cards k ON k.message_id = m.id
                WHERE m.direction = 'in' AND m.status IN ('new', 'suggested')
                  AND COALESCE(k.state, 'open') = 'open'{cond}
                ORDER BY m.sent_at, m.id LIMIT ?""", params))

    def people_of(self, contact_ids: list[int], message_ids: list[int], until: str) -> list[dict]:
        """For a campaign's segment: each of ``contact_ids``'s messages among ``message_ids`` (or, where none of a
        contact's is there, their last inbound message up to ``until``), oldest first, with the contact (name,
        source, handle, opted_out_at), the message's language and ``answered_at``: our last message in that
        conversation since (None: not answered). The ids go in as JSON arrays: a segment may hold thousands."""
        return list(self.db.query(
            f"""WITH people(id) AS (SELECT value FROM json_each(:people)),
                     listed(id) AS (SELECT value FROM json_each(:listed)),
                     chosen(id) AS (
                         SELECT m.id FROM messages m WHERE m.id IN listed AND m.contact_id IN people
                         UNION
                         SELECT (SELECT l.id FROM messages l WHERE l.contact_id = p.id AND l.direction = 'in'
                                   AND l.sent_at <= :until ORDER BY l.sent_at DESC, l.id DESC LIMIT 1)
                         FROM people p WHERE NOT EXISTS (
                             SELECT 1 FROM messages x WHERE x.contact_id = p.id AND x.id IN listed))
                SELECT m.id, m.sent_at, m.text, m.contact_id, c.display_name, c.source, c.username,
                       c.external_id, c.opted_out_at, {_LANGUAGE} AS language,
                       (SELECT MAX(o.sent_at) FROM messages o WHERE o.conversation_id = m.conversation_id
                          AND o.direction = 'out' AND o.sent_at >= m.sent_at) AS answered_at
                FROM chosen JOIN messages m ON m.id = chosen.id JOIN contacts c ON c.id = m.contact_id
                LEFT JOIN analyses a ON a.message_id = m.id
                ORDER BY m.sent_at, m.id""",
            {"people": json.dumps(list(contact_ids)), "listed": json.dumps(list(message_ids)), "until": until}))

    # -- contacts -----------------------------------------------------------------------------------------------
    def set_opted_out(self, source: str, external_id: str, opted_out: bool = True) -> bool:
        """Record (or withdraw) a contact's opt-out from outreach; False when there is no such contact."""
        cur = self.db.execute(
            "UPDATE contacts SET opted_out_at = ? WHERE source = ? AND external_id = ?",
            [iso(utcnow()) if opted_out else None, source, external_id])
        return cur.rowcount == 1

    def opted_out(self, source: str, external_id: str) -> bool:
        row = self.db.execute("SELECT opted_out_at FROM contacts WHERE source = ? AND external_id = ?",
                              [source, external_id]).fetchone()
        return bool(row and row[0])

    def reachable_contacts(self, source: str | None = None) -> list[dict]:
        """Contacts campaign outreach may write to: everyone who has not opted out."""
        where, params = "opted_out_at IS NULL", []
        if source:
            where += " AND source = ?"
            params.append(source)
        return list(self.db.query(f"SELECT * FROM contacts WHERE {where} ORDER BY id", params))

    # -- telegram updates ---------------------------------------------------------------------------------------
    def record_update(self, update_id: int, kind: str, raw: dict, *, message_id: int | None = None,
                      error: str | None = None) -> bool:
        """Keep a Telegram update once per update_id; False when it was already there (a redelivery)."""
        cur = self.db.execute(
            """INSERT OR IGNORE INTO telegram_updates (update_id, kind, message_id, error, raw, received_at)
               VALUES (?, ?, ?, ?, ?, ?)""",
            [int(update_id), kind, message_id, error, json.dumps(raw, ensure_ascii=False, default=str),
             iso(utcnow())])
        return cur.rowcount == 1

    def correct_intent(self, message_id: int, intent: str, actor: str) -> int | None:
        """Record a person's intent for a message whose card is still open; None if it was already decided."""
        with self.db.atomic():
            cur = self.db.execute("UPDATE cards SET intent = ?, updated_at = ? WHERE message_id = ? AND state = 'open'",
                                  [intent, iso(utcnow()), message_id])
            if cur.rowcount != 1:
                return None
            return self.record_decision(message_id, "intent_corrected", actor, intent=intent)

    def suggestion(self, suggestion_id: int) -> dict | None:
        rows = list(self.db.query("SELECT * FROM suggestions WHERE id = ?", [suggestion_id]))
        return rows[0] if rows else None

    # -- outbox -------------------------------------------------------------------------------------------------
    _OUTBOX_SELECT = """SELECT o.*, v.external_id AS conversation, m.source_id AS reply_to
                        FROM outbox o JOIN messages m ON m.id = o.message_id
                        JOIN conversations v ON v.id = m.conversation_id"""

    def outbox_row(self, outbox_id: int) -> dict | None:
        rows = list(self.db.query(self._OUTBOX_SELECT + " WHERE o.id = ?", [outbox_id]))
        return rows[0] if rows else None

    def outbox_of(self, message_id: int) -> dict | None:
        rows = list(self.db.query(self._OUTBOX_SELECT + " WHERE o.message_id = ? ORDER BY o.id DESC LIMIT 1",
                                  [message_id]))
        return rows[0] if rows else None

    def outbox_pending(self, message_id: int | None = None) -> list[dict]:
        """Rows waiting to be sent (only the reply to ``message_id`` when given), the ones due first, oldest first."""
        only = " AND o.message_id = ?" if message_id is not None else ""
        return list(self.db.query(self._OUTBOX_SELECT + f" WHERE o.state = 'pending'{only} "
                                  "ORDER BY COALESCE(o.next_attempt_at, ''), o.id",
                                  [message_id] if message_id is not None else []))

    def outbox_claim(self, outbox_id: int) -> bool:
        """pending -> sending (compare-and-set): only one relay sends a row."""
        cur = self.db.execute("UPDATE outbox SET state = 'sending', updated_at = ? WHERE id = ? AND state = 'pending'",
                              [iso(utcnow()), outbox_id])
        return cur.rowcount == 1

    def outbox_update(self, outbox_id: int, state: str, *, error: str | None = None, attempts: int | None = None,
                      next_attempt_at: str | None = None, sent_message_id: str | None = None) -> None:
        self.db.execute(
            """UPDATE outbox SET state = ?, last_error = COALESCE(?, last_error), attempts = COALESCE(?, attempts),
                   next_attempt_at = ?, sent_message_id = COALESCE(?, sent_message_id), updated_at = ?
               WHERE id = ?""",
            [state, error, attempts, next_attempt_at, sent_message_id, iso(utcnow()), outbox_id])

    def outbox_mark_stuck(self) -> list[int]:
        """After a crash: rows left in 'sending' may or may not have gone out. Flag them for a person."""
        with self.db.atomic():
            ids = [r[0] for r in self.db.execute("SELECT message_id FROM outbox WHERE state = 'sending'").fetchall()]
            self.db.execute("UPDATE outbox SET state = 'stuck', updated_at = ?, last_error = COALESCE(last_error, "
                            "'the relay stopped while sending; it may or may not have been delivered') "
                            "WHERE state = 'sending'", [iso(utcnow())])
        return ids

    # -- reads --------------------------------------------------------------------------------------------------
    def count(self, table: str) -> int:
        return self.db[table].count

    def message(self, message_id: int) -> dict | None:
        """A stored message with its contact's names, tags and ids and its chat's id."""
        return self.messages_by_id([message_id]).get(message_id)

    def messages_by_id(self, ids: Sequence[int]) -> dict[int, dict]:
        """:meth:`message` for many ids at once (one query per 500), by id; ids not stored are missing."""
        out: dict[int, dict] = {}
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            out.update((row["id"], row) for row in self.db.query(
                f"""SELECT m.*, c.display_name, c.first_name, c.username, c.tags, c.external_id AS sender_id,
                          c.opted_out_at, c.language AS contact_language, v.external_id AS chat_id
                   FROM messages m LEFT JOIN contacts c ON c.id = m.contact_id
                   JOIN conversations v ON v.id = m.conversation_id
                   WHERE m.id IN ({", ".join("?" * len(chunk))})""", chunk))
        return out

    def analysis(self, message_id: int) -> dict | None:
        rows = list(self.db.query("SELECT * FROM analyses WHERE message_id = ?", [message_id]))
        if not rows:
            return None
        row = rows[0]
        row["entities"] = json.loads(row["entities"])
        row["ranking"] = json.loads(row["ranking"])
        return row

    def suggestions(self, message_id: int, state: str | None = "offered") -> list[dict]:
        where, params = "message_id = ?", [message_id]
        if state:
            where += " AND state = ?"
            params.append(state)
        return list(self.db.query(f"SELECT * FROM suggestions WHERE {where} ORDER BY rank", params))

    def contact_history(self, contact_id: int, before: str | None = None) -> dict:
        """How many earlier messages a contact sent, and the sentiment of the last one."""
        params: list[Any] = [contact_id]
        cond = ""
        if before:
            cond = " AND m.sent_at < ?"
            params.append(before)
        count = self.db.execute(f"SELECT COUNT(*) FROM messages m WHERE m.contact_id = ? AND m.direction = 'in'{cond}",
                                params).fetchone()[0]
        last = self.db.execute(
            f"""SELECT a.sentiment FROM messages m JOIN analyses a ON a.message_id = m.id
                WHERE m.contact_id = ? AND m.direction = 'in'{cond} ORDER BY m.sent_at DESC LIMIT 1""",
            params).fetchone()
        return {"earlier_messages": count, "last_sentiment": last[0] if last else None}

    def followed_up(self, message_id: int, follow_ups: Iterable[str], within_days: int = 14) -> dict | None:
        """The message a follow-up chases, when the message is one (its intent is in ``follow_ups``; a person's
        correction counts): the same person's latest earlier inbound message, at most ``within_days`` older, that
        is not a follow-up itself; one in the same conversation (thread, chat) first, else their latest anywhere on
        that source ("any update?" posted as a new Slack message or a new email). With its intent, sentiment and
        entities, and ``replied_at``: when we last replied in its conversation before the follow-up (None: never).
        None when there is no such message."""
        skip = sorted(follow_ups)
        if not skip:
            return None
        row = next(self.db.query(
            """SELECT m.sent_at, m.contact_id, m.conversation_id, COALESCE(k.intent, a.intent) AS intent
               FROM messages m JOIN analyses a ON a.message_id = m.id LEFT JOIN cards k ON k.message_id = m.id
               WHERE m.id = ?""", [message_id]), None)
        if row is None or row["contact_id"] is None or row["intent"] not in skip:
            return None
        since = iso(parse_time(row["sent_at"]) - timedelta(days=within_days))
        not_follow_ups = ", ".join(f":s{i}" for i in range(len(skip)))
        found = list(self.db.query(
            f"""SELECT m.id, m.text, m.sent_at, COALESCE(k.intent, a.intent) AS intent, a.sentiment, a.entities,
                       (SELECT MAX(o.sent_at) FROM messages o WHERE o.conversation_id = m.conversation_id
                            AND o.direction = 'out' AND o.sent_at >= m.sent_at AND o.sent_at <= :at) AS replied_at
                FROM messages m JOIN analyses a ON a.message_id = m.id LEFT JOIN cards k ON k.message_id = m.id
                WHERE m.contact_id = :contact AND m.direction = 'in' AND (m.sent_at, m.id) < (:at, :id)
                  AND m.sent_at >= :since AND COALESCE(k.intent, a.intent) NOT IN ({not_follow_ups})
                ORDER BY m.conversation_id = :conversation DESC, m.sent_at DESC, m.id DESC LIMIT 1""",
            {"contact": row["contact_id"], "at": row["sent_at"], "id": message_id, "since": since,
             "conversation": row["conversation_id"], **{f"s{i}": intent for i, intent in enumerate(skip)}}))
        if not found:
            return None
        found[0]["entities"] = json.loads(found[0]["entities"])
        return found[0]

    def unanalysed(self, limit: int | None = None) -> list[dict]:
        sql = """SELECT m.id, m.text FROM messages m LEFT JOIN analyses a ON a.message_id = m.id
                 WHERE a.message_id IS NULL AND m.direction = 'in' AND m.kind = 'text' ORDER BY m.sent_at, m.id"""
        if limit:
            sql += f" LIMIT {int(limit)}"
        return list(self.db.query(sql))

    def embeddings(self, message_ids: Iterable[int]) -> dict[int, np.ndarray]:
        ids = list(message_ids)
        out: dict[int, np.ndarray] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for mid, dim, blob in self.db.execute(
                    f"SELECT message_id, dimension, vector FROM embeddings WHERE message_id IN ({marks})", chunk):
                out[mid] = np.frombuffer(blob, dtype=np.float32, count=dim)
        return out

    def theme_run(self, key: str) -> tuple[np.ndarray, list[dict]] | None:
        """A stored clustering: per message its cluster (-1: left out), and per cluster its label and keyphrases."""
        row = self.db.execute("SELECT assignment, clusters FROM theme_runs WHERE key = ?", [key]).fetchone()
        return (np.frombuffer(row[0], dtype=np.int32).astype(int), json.loads(row[1])) if row else None

    def save_theme_run(self, key: str, assignment: np.ndarray, clusters: list[dict], keep: int = 50) -> None:
        """Keep a clustering (see :meth:`theme_run`); only the ``keep`` most recent ones stay."""
        with self.db.atomic():
            self.db.execute("INSERT OR REPLACE INTO theme_runs (key, assignment, clusters, created_at) "
                            "VALUES (?, ?, ?, ?)", [key, np.asarray(assignment, dtype=np.int32).tobytes(),
                                                    json.dumps(clusters, ensure_ascii=False), iso(utcnow())])
            self.db.execute("DELETE FROM theme_runs WHERE key NOT IN "
                            "(SELECT key FROM theme_runs ORDER BY created_at DESC, rowid DESC LIMIT ?)", [keep])

    def learned_examples(self) -> list[dict]:
        """What the team taught: per message, its latest intent correction, else the intent of the reply a person
        sent or edited (a reply drafted for the earlier message a follow-up chases: the follow-up's analysed intent).
        Automatic sends teach nothing. Rows: text, intent, origin, message_id, at."""
        rows = self.db.query(
            """SELECT m.id AS message_id, m.text, d.action, d.created_at AS at,
                      COALESCE(d.intent, CASE WHEN s.answers_id IS NULL THEN s.intent END, a.intent) AS intent
               FROM decisions d JOIN messages m ON m.id = d.message_id
               LEFT JOIN suggestions s ON s.id = d.suggestion_id
               LEFT JOIN analyses a ON a.message_id = m.id
               WHERE d.action IN ('intent_corrected', 'sent', 'edited')
               ORDER BY m.id, d.created_at, d.id""")
        latest: dict[int, dict] = {}
        for r in rows:
            current = latest.get(r["message_id"])
            # a correction outranks a later send of a reply drawn for the corrected intent
            if current is None or r["action"] == "intent_corrected" or current["origin"] != "correction":
                latest[r["message_id"]] = {"message_id": r["message_id"], "text": r["text"], "intent": r["intent"],
                                           "origin": "correction" if r["action"] == "intent_corrected" else r["action"],
                                           "at": r["at"]}
        return [r for r in latest.values() if r["intent"] and r["intent"] != "unknown"]

    def last_inbound_at(self) -> str | None:
        """When the newest inbound message was sent (ISO 8601), None for an empty inbox."""
        return self.db.execute("SELECT MAX(sent_at) FROM messages WHERE direction = 'in'").fetchone()[0]

    def summary(self) -> dict:
        """Volume by intent and by sentiment of analysed inbound messages."""
        by_intent = {r["intent"]: r["n"] for r in self.db.query(
            "SELECT intent, COUNT(*) AS n FROM analyses GROUP BY intent ORDER BY n DESC, intent")}
        by_sentiment = {r["sentiment"]: r["n"] for r in self.db.query(
            "SELECT sentiment, COUNT(*) AS n FROM analyses GROUP BY sentiment ORDER BY n DESC")}
        span = self.db.execute("SELECT MIN(sent_at), MAX(sent_at) FROM messages WHERE direction = 'in'").fetchone()
        return {
            "messages": self.db.execute("SELECT COUNT(*) FROM messages WHERE direction = 'in'").fetchone()[0],
            "contacts": self.count("contacts"),
            "conversations": self.count("conversations"),
            "analysed": self.count("analyses"),
            "by_intent": by_intent,
            "by_sentiment": by_sentiment,
            "first_message_at": span[0],
            "last_message_at": span[1],
        }
