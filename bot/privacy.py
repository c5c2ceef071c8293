"""A person's data in Resonate's database: what `resonate contact` shows, and erasing it all for a deletion request
(a privacy_request answered).

Erasing takes everything stored about one contact, in one transaction: their messages and the replies to them, with the
analyses, embeddings, suggestions, decisions, review cards, outbox rows and raw Telegram updates of those messages,
their other Telegram updates (edits, button presses, unreadable ones: any update that carries their user id),
their conversations and the contact itself; campaign ideas drop them from their segment and their quotes; cached
clusterings (which list message ids) are dropped and rebuilt when next needed. Themes keep only aggregates (a
label, a centroid) and stay. SQLite's secure_delete overwrites what is deleted, and the write-ahead log is
checkpointed, so the text does not linger in free pages of the file.

Outside the database nothing is touched: review cards already posted in Slack, digests written to files, backups.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from bot.errors import ResonateError
from bot.message import plural
from bot.store import Store
from bot.themes import quote_text

# the message ids of a contact: what they sent and what was sent to them (outbound rows carry the chat's contact)
_MESSAGES = """SELECT id FROM messages WHERE contact_id = :c
               OR conversation_id IN (SELECT id FROM conversations WHERE contact_id = :c)"""
# children first: foreign keys are on
_BY_MESSAGE = ("outbox", "decisions", "suggestions", "cards", "analyses", "embeddings", "telegram_updates")
# Telegram updates kept as received that are not one of their messages (an edit, a button press, leaving the chat,
# one that could not be read) but carry their user id, and with it their name and what they wrote
_TELEGRAM_UPDATES = f"""SELECT DISTINCT u.update_id FROM telegram_updates u, json_tree(u.raw) j
                        WHERE j.key = 'id' AND j.type = 'integer' AND j.value = :telegram_id
                        AND (u.message_id IS NULL OR u.message_id NOT IN ({_MESSAGES}))"""


@dataclass(frozen=True)
class Erasure:
    contact_id: int
    name: str
    source: str
    sender: str
    messages_in: int
    messages_out: int
    cards: int
    campaigns: int  # campaign ideas or running campaigns that named them in their segment or quotes
    unsent: int  # replies to them still waiting in the outbox: erasing would drop them, so it waits
    erased: bool
    updates: int = 0  # other Telegram updates of theirs (edits, button presses, unreadable ones)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        what = (f"{plural(self.messages_in, 'message')} from them, {plural(self.messages_out, 'reply', 'replies')} "
                f"to them, {plural(self.cards, 'review card')}, their place in {plural(self.campaigns, 'campaign')}, "
                + (f"{plural(self.updates, 'other Telegram update')} (edits, button presses, unreadable ones), "
                   if self.updates else "") + "and the contact itself")
        verb = "Erased" if self.erased else "Would erase"
        line = f"{verb} {self.name} ({self.source}, {self.sender}): {what}."
        if self.unsent:
            line += (f" But {plural(self.unsent, 'reply', 'replies')} to them {'is' if self.unsent == 1 else 'are'} "
                     "not sent yet: erase after it is delivered (a running resonate run sends it), or it never "
                     "reaches them.")
        return line


def find_contact(store: Store, *, message_id: int | None = None, sender: str | None = None) -> dict:
    """The contact who sent a message (its id, as `resonate inbox` shows it), or the contact with a sender id
    (``tg:123``, ``mail:ana@example.com``: the import's ``sender``). A ResonateError says what was not found."""
    if (message_id is None) == (sender is None):
        raise ResonateError("give either a message id (--message) or a sender id (--sender)")
    if message_id is not None:
        row = store.db.execute("SELECT contact_id, direction FROM messages WHERE id = ?", [message_id]).fetchone()
        if row is None:
            raise ResonateError(f"no message {message_id} in {store.path}")
        if row[0] is None:
            raise ResonateError(f"message {message_id} has no contact (no sender was stored with it)")
        rows = list(store.db.query("SELECT * FROM contacts WHERE id = ?", [row[0]]))
    else:
        rows = list(store.db.query("SELECT * FROM contacts WHERE external_id = ?", [sender]))
        if not rows:
            raise ResonateError(f"no contact with sender id {sender!r} in {store.path}")
        if len(rows) > 1:
            raise ResonateError(f"{len(rows)} contacts have sender id {sender!r} (sources: "
                                f"{', '.join(r['source'] for r in rows)}): give one of their message ids instead")
    return rows[0]


def describe(store: Store, contact_id: int) -> dict:
    """A contact as a person reads it: names, when first and last seen, messages each way, the opt-out."""
    row = next(store.db.query("SELECT * FROM contacts WHERE id = ?", [contact_id]))
    counts = dict(store.db.execute(
        "SELECT direction, COUNT(*) FROM messages WHERE contact_id = ? GROUP BY direction", [contact_id]).fetchall())
    return {"name": row["display_name"] or row["external_id"], "source": row["source"], "sender": row["external_id"],
            "first_seen": row["first_seen"], "last_seen": row["last_seen"], "messages_in": counts.get("in", 0),
            "messages_out": counts.get("out", 0), "opted_out_at": row["opted_out_at"]}


def _campaigns_naming(store: Store, contact_id: int, quoted: set[int], texts: set[str]) -> list[tuple[dict, dict]]:
    """(campaign row, its card without the contact's quotes) for every campaign that names the contact."""
    out = []
    for row in store.db.query("SELECT id, card, segment FROM campaigns"):
        card, segment = json.loads(row["card"]), json.loads(row["segment"])
        quotes = card.get("quotes", [])
        kept = [q for q in quotes if q.get("message_id") not in quoted and q.get("text") not in texts]
        if contact_id in segment or len(kept) != len(quotes):
            others = [c for c in segment if c != contact_id]
            out.append(({"id": row["id"], "segment": others}, {**card, "quotes": kept}))
    return out


def erase_contact(store: Store, contact: dict, *, dry_run: bool = True) -> Erasure:
    """Erase everything stored about ``contact`` (a contacts row), or with ``dry_run`` only count it."""
    c = contact["id"]
    params = {"c": c}
    with store.db.atomic():
        rows = list(store.db.query(f"SELECT id, direction, text FROM messages WHERE id IN ({_MESSAGES})", params))
        ids = {r["id"] for r in rows}
        texts = {quote_text(r["text"]) for r in rows if r["direction"] == "in"}
        cards = store.db.execute(f"SELECT COUNT(*) FROM cards WHERE message_id IN ({_MESSAGES})", params).fetchone()[0]
        campaigns = _campaigns_naming(store, c, ids, texts)
        telegram_id = _telegram_user_id(contact)
        updates = [r[0] for r in store.db.execute(_TELEGRAM_UPDATES, {**params, "telegram_id": telegram_id})] \
            if telegram_id is not None else []
        unsent = store.db.execute(f"SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending') "
                                  f"AND message_id IN ({_MESSAGES})", params).fetchone()[0]
        if unsent and not dry_run:
            raise ResonateError(f"{plural(unsent, 'reply', 'replies')} to {contact.get('display_name') or c} "
                                "not sent yet: erase after delivery (a running resonate run sends it), or the "
                                "answer to their request never reaches them")
        if not dry_run:
            store.db.execute("PRAGMA secure_delete = ON")
            for table in _BY_MESSAGE:
                store.db.execute(f"DELETE FROM {table} WHERE message_id IN ({_MESSAGES})", params)
            store.db.conn.executemany("DELETE FROM telegram_updates WHERE update_id = ?", [[u] for u in updates])
            store.db.execute(f"DELETE FROM messages WHERE id IN ({_MESSAGES})", params)
            store.db.execute("DELETE FROM conversations WHERE contact_id = :c", params)
            store.db.execute("DELETE FROM contacts WHERE id = :c", params)
            for row, card in campaigns:
                store.db.execute("UPDATE campaigns SET card = ?, segment = ? WHERE id = ?",
                                 [json.dumps(card, ensure_ascii=False), json.dumps(row["segment"]), row["id"]])
            store.db.execute("DELETE FROM theme_runs")  # a cache that lists message ids; rebuilt when needed
    if not dry_run:
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Erasure(contact_id=c, name=contact.get("display_name") or contact["external_id"],
                   source=contact["source"], sender=contact["external_id"],
                   messages_in=sum(r["direction"] == "in" for r in rows),
                   messages_out=sum(r["direction"] == "out" for r in rows), cards=cards, campaigns=len(campaigns),
                   unsent=unsent, erased=not dry_run, updates=len(updates))


def _telegram_user_id(contact: dict) -> int | None:
    """A Telegram contact's user id ("123456" as the channel stores it, "tg:123456" as an import may), else None."""
    sender = str(contact["external_id"]).removeprefix("tg:")
    return int(sender) if contact["source"] == "telegram" and sender.isdigit() else None
