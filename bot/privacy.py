"""A person's data in Resonate's database: what `resonate contact` shows, and erasing it all for a deletion request
(a privacy_request answered).

Erasing takes everything stored about one contact, in one transaction: their messages and the replies to them, with the
analyses, embeddings, suggestions, decisions, review cards, outbox rows and raw Telegram updates of those messages,
their other Telegram updates (edits, button presses, unreadable ones: any update that carries their user id),
their conversations and the contact itself; campaign ideas drop them from their segment and their quotes; cached
clusterings (which list message ids) are dropped and rebuilt when next needed, and so are the inbox's idf counts
(how many messages hold each token, theirs included). Themes keep only aggregates (a
label, a centroid) and stay. SQLite's secure_delete overwrites what is deleted, and the write-ahead log is
checkpointed, so the text does not linger in free pages of the file.

Review cards posted in Slack show what the person wrote: they are deleted there first (``chat.delete``), and if one
cannot be (no Slack token, Slack refuses), nothing is erased unless the caller agrees to leave the cards and delete
them by hand (they are listed). Slack first, so that an erasure interrupted half way is simply run again: a card
already deleted counts as deleted, and the database still says where the others are.

Outside the database and the review cards nothing is touched: digest files written by `resonate digest` (they
quote customers; posted digests hold counts and theme names only, and the scheduled one keeps no file), the CSV
files of a campaign's people (`resonate campaigns people --out`), backups.

One message its author deleted in Slack is erased alone (:func:`erase_message`), with what was derived from it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Callable

from bot.errors import CardNotDeleted, ResonateError
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
# the review cards of their messages that were posted in Slack, where they are
_POSTED_CARDS = f"SELECT channel, ts FROM cards WHERE ts IS NOT NULL AND message_id IN ({_MESSAGES}) ORDER BY id"


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
    in_slack: list[dict] = field(default_factory=list)  # their review cards posted in Slack: {"channel", "ts"}
    left_in_slack: list[dict] = field(default_factory=list)  # those not deleted there, each with its "error"

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        what = (f"{plural(self.messages_in, 'message')} from them, {plural(self.messages_out, 'reply', 'replies')} "
                f"to them, {plural(self.cards, 'review card')}, their place in {plural(self.campaigns, 'campaign')}, "
                + (f"{plural(self.updates, 'other Telegram update')} (edits, button presses, unreadable ones), "
                   if self.updates else "") + "and the contact itself")
        verb = "Erased" if self.erased else "Would erase"
        line = f"{verb} {self.name} ({self.source}, {self.sender}): {what}."
        if self.erased and self.in_slack:
            deleted = len(self.in_slack) - len(self.left_in_slack)
            line += f" Deleted {plural(deleted, 'review card')} in Slack." if deleted else ""
            if self.left_in_slack:
                line += f" Left in Slack, to delete there by hand: {where(self.left_in_slack)}."
        elif self.in_slack:
            n = len(self.in_slack)
            line += f" {plural(n, 'review card')} of theirs {'is' if n == 1 else 'are'} posted in Slack."
        if self.unsent:
            line += (f" But {plural(self.unsent, 'reply', 'replies')} to them {'is' if self.unsent == 1 else 'are'} "
                     "not sent yet: erase after it is delivered (a running resonate run sends it), or it never "
                     "reaches them.")
        return line


def where(cards: list[dict], most: int = 5) -> str:
    """Where cards are in Slack, for a person to find them, and why they are still there: "channel C0REVIEW, ts
    1800000000.000001, because Slack said cant_delete_message"."""
    shown = [f"channel {c['channel']}, ts {c['ts']}" + (f", because {c['error']}" if c.get("error") else "")
             for c in cards[:most]]
    return "; ".join(shown) + (f"; and {len(cards) - most} more" if len(cards) > most else "")


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


def _campaigns_naming(store: Store, contact_id: int | None, quoted: set[int], texts: set[str]
                      ) -> list[tuple[dict, dict]]:
    """(campaign row, its card without the quotes of ``quoted`` messages) for every campaign that quotes them or
    has the contact in its segment (``contact_id`` None: quotes only)."""
    out = []
    for row in store.db.query("SELECT id, card, segment FROM campaigns"):
        card, segment = json.loads(row["card"]), json.loads(row["segment"])
        quotes = card.get("quotes", [])
        # by message id, or by text for cards from before quotes carried their message id
        kept = [q for q in quotes if q.get("message_id") not in quoted and q.get("text") not in texts]
        if contact_id in segment or len(kept) != len(quotes):
            others = [c for c in segment if c != contact_id]
            out.append(({"id": row["id"], "segment": others}, {**card, "quotes": kept}))
    return out


def erase_contact(store: Store, contact: dict, *, dry_run: bool = True,
                  delete_card: Callable[[str, str], None] | None = None, leave_slack: bool = False) -> Erasure:
    """Erase everything stored about ``contact`` (a contacts row), or with ``dry_run`` only count it.

    ``delete_card(channel, ts)`` deletes a review card in Slack (see :meth:`bot.channels.slack.SlackBoard.delete`);
    the contact's posted cards go first. A card it cannot delete, or no ``delete_card`` at all, stops the erasure
    with a ResonateError naming the cards, unless ``leave_slack``: then they are left and listed."""
    c = contact["id"]
    params = {"c": c}
    name = contact.get("display_name") or contact["external_id"]
    in_slack = [{"channel": channel, "ts": ts} for channel, ts in store.db.execute(_POSTED_CARDS, params)]
    left = []
    if not dry_run:
        _refuse_unsent(_unsent(store, params), name)  # before anything is deleted in Slack
        left = _delete_cards(in_slack, delete_card, name, leave_slack)
    with store.db.atomic():
        rows = list(store.db.query(f"SELECT id, direction, text FROM messages WHERE id IN ({_MESSAGES})", params))
        ids = {r["id"] for r in rows}
        texts = {quote_text(r["text"]) for r in rows if r["direction"] == "in"}
        cards = store.db.execute(f"SELECT COUNT(*) FROM cards WHERE message_id IN ({_MESSAGES})", params).fetchone()[0]
        campaigns = _campaigns_naming(store, c, ids, texts)
        telegram_id = _telegram_user_id(contact)
        updates = [r[0] for r in store.db.execute(_TELEGRAM_UPDATES, {**params, "telegram_id": telegram_id})] \
            if telegram_id is not None else []
        unsent = _unsent(store, params)
        if not dry_run:
            _refuse_unsent(unsent, name)  # again: a reply may have been queued since
            _delete_messages(store, _MESSAGES, params, campaigns)  # secure_delete on from here
            store.db.conn.executemany("DELETE FROM telegram_updates WHERE update_id = ?", [[u] for u in updates])
            store.db.execute("DELETE FROM conversations WHERE contact_id = :c", params)
            store.db.execute("DELETE FROM contacts WHERE id = :c", params)
    if not dry_run:
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Erasure(contact_id=c, name=name, source=contact["source"], sender=contact["external_id"],
                   messages_in=sum(r["direction"] == "in" for r in rows),
                   messages_out=sum(r["direction"] == "out" for r in rows), cards=cards, campaigns=len(campaigns),
                   unsent=unsent, erased=not dry_run, updates=len(updates), in_slack=in_slack, left_in_slack=left)


def _unsent(store: Store, params: dict) -> int:
    return store.db.execute(f"SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending') "
                            f"AND message_id IN ({_MESSAGES})", params).fetchone()[0]


def _refuse_unsent(unsent: int, name: str) -> None:
    if unsent:
        raise ResonateError(f"{plural(unsent, 'reply', 'replies')} to {name} not sent yet: erase after delivery (a "
                            "running resonate run sends it), or the answer to their request never reaches them")


def _delete_cards(cards: list[dict], delete_card: Callable[[str, str], None] | None, name: str,
                  leave_slack: bool) -> list[dict]:
    """Delete ``cards`` in Slack; the ones left, each with its error. Raises (nothing erased yet) when one is left
    and not ``leave_slack``."""
    if not cards:
        return []
    if delete_card is None:
        left = [{**card, "error": "no Slack token was set"} for card in cards]
    else:
        left = []
        for i, card in enumerate(cards):
            try:
                delete_card(card["channel"], card["ts"])
            except CardNotDeleted as exc:
                left.append({**card, "error": exc.problem})
                if exc.every_card:  # the token or the network: the others would fail alike
                    left += [{**other, "error": exc.problem} for other in cards[i + 1:]]
                    break
    if left and not leave_slack:
        why = ("no Slack token is set to delete them with (SLACK_BOT_TOKEN): set it" if delete_card is None
               else "fix that and run this again")
        raise ResonateError(f"nothing was erased: {plural(len(left), 'review card')} of {name} in Slack could not "
                            f"be deleted ({where(left)}); {why}, or add --leave-slack to erase the rest and delete "
                            "the cards in Slack by hand")
    return left


def erase_message(store: Store, message_id: int) -> bool:
    """Erase one inbound message its author deleted (in Slack): the message, its analysis, embedding,
    suggestions, decisions, card and raw updates, a reply to it still waiting in the outbox, and its quotes in
    campaign cards; cached clusterings are dropped. Replies already sent stay (they are ours). False when it is
    not stored."""
    with store.db.atomic():
        row = store.db.execute("SELECT text FROM messages WHERE id = ? AND direction = 'in'", [message_id]).fetchone()
        if row is None:
            return False
        _delete_messages(store, ":m", {"m": message_id},
                         _campaigns_naming(store, None, {message_id}, {quote_text(row[0])}))
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return True


def _delete_messages(store: Store, ids: str, params: dict, campaigns: list[tuple[dict, dict]]) -> None:
    """Delete the messages ``ids`` (SQL giving their ids) with what was derived from them, overwritten on disk;
    write ``campaigns`` (from :func:`_campaigns_naming`) without their quotes, and every campaign without their
    ids in its segment's messages; drop the cached clusterings, which list message ids, and the idf counts, which
    counted these messages' tokens (both made again when needed).
    Inside the caller's transaction."""
    store.db.execute("PRAGMA secure_delete = ON")
    for table in _BY_MESSAGE:
        store.db.execute(f"DELETE FROM {table} WHERE message_id IN ({ids})", params)
    store.db.execute(f"DELETE FROM messages WHERE id IN ({ids})", params)
    for row, card in campaigns:
        store.db.execute("UPDATE campaigns SET card = ?, segment = ? WHERE id = ?",
                         [json.dumps(card, ensure_ascii=False), json.dumps(row["segment"]), row["id"]])
    # nor the ids of the messages that put people in a segment: an id may be given to a new message later
    store.db.execute("""UPDATE campaigns SET segment_messages = (
                            SELECT json_group_array(j.value) FROM json_each(campaigns.segment_messages) j
                            WHERE j.value IN (SELECT id FROM messages))
                        WHERE segment_messages != '[]'""")
    store.db.execute("DELETE FROM theme_runs")
    store.forget_token_counts()  # the idf counts held these texts' tokens: made again from what remains


def _telegram_user_id(contact: dict) -> int | None:
    """A Telegram contact's user id ("123456" as the channel stores it, "tg:123456" as an import may), else None."""
    sender = str(contact["external_id"]).removeprefix("tg:")
    return int(sender) if contact["source"] == "telegram" and sender.isdigit() else None
