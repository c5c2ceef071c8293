"""The relay: sends approved replies from the outbox through the adapter of each message's source.

A decision writes its outbox row in the same transaction as the decision (``Store.decide``); the relay
claims a row (pending -> sending, compare-and-set), sends it, and marks it sent, pending again (with the
time of the next try) or failed. Rate limits are honoured: a :class:`RateLimited` from a sender puts the row
back until ``Retry-After`` has passed (without using up a try), and at most one message per second goes to a
channel. A row still in "sending" when the relay starts again was interrupted mid-send: it may or may not
have gone out, so it is flagged "stuck" for a person and never resent blindly.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Callable, Mapping, Protocol, runtime_checkable

from bot.errors import RateLimited, SendError
from bot.message import OUTBOUND, Message, iso, utcnow

log = logging.getLogger(__name__)

# The sources a connector of this version can send replies to. Messages from elsewhere (an email imported or posted
# to the inbox webhook, an instagram DM, a forum post) are answered there by the person who decided the reply: the
# relay records such a reply as sent by hand (sent_message_id "by-hand:<outbox id>") instead of failing it.
SENDABLE_SOURCES = ("slack", "telegram")
BY_HAND = "by-hand:"
BACKOFF_SECONDS = (2.0, 10.0, 60.0, 300.0)  # before the 2nd, 3rd, ... try
MAX_ATTEMPTS = 5


@runtime_checkable
class Sender(Protocol):
    """One per source (slack, telegram, ...): deliver ``text`` in a conversation, answering ``reply_to``."""

    def send(self, conversation: str, text: str, reply_to: str | None) -> str:
        """Send and return the platform's id of the sent message; raise SendError / RateLimited."""


class Relay:
    def __init__(self, store, senders: Mapping[str, Sender], *, max_attempts: int = MAX_ATTEMPTS,
                 backoff: tuple[float, ...] = BACKOFF_SECONDS, per_channel_interval: float = 1.0,
                 on_change: Callable[[int], None] | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.senders = senders  # shared, not copied: a connector added later is seen at once
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.per_channel_interval = per_channel_interval
        self.on_change = on_change or (lambda message_id: None)
        self.sleep = sleep
        self.clock = clock
        self._last_sent: dict[tuple[str, str], float] = {}
        self._wake = threading.Event()

    # -- start-up -----------------------------------------------------------------------------------------------
    def recover(self) -> list[int]:
        """Flag rows an earlier run left in "sending"; returns their message ids (their cards need a person)."""
        stuck = self.store.outbox_mark_stuck()
        for message_id in stuck:
            log.warning("outbox: the reply to message %s was being sent when the relay stopped; flagged stuck",
                        message_id)
            self._notify(message_id)
        return stuck

    # -- sending ------------------------------------------------------------------------------------------------
    def run_once(self, message_id: int | None = None) -> float | None:
        """Send every due row once (only the reply to ``message_id`` when given). Returns seconds until the next row
        is due, or None when nothing waits."""
        wait: float | None = None
        for row in self.store.outbox_pending(message_id):
            due = _parse(row["next_attempt_at"]) if row["next_attempt_at"] else None
            if due is not None and due > utcnow():
                seconds = max(0.05, (due - utcnow()).total_seconds())
                wait = seconds if wait is None else min(wait, seconds)
                continue
            self._send(row)
        if wait is None and self.store.outbox_pending(message_id):
            wait = 0.0
        return wait

    def drain(self, timeout: float = 30.0, message_id: int | None = None) -> None:
        """Send until nothing is waiting (or ``timeout`` passes): for tests and one-shot commands. A one-shot command
        that holds only some senders passes ``message_id``: other sources' replies wait for the relay that can send
        them instead of being failed here."""
        deadline = self.clock() + timeout
        while True:
            wait = self.run_once(message_id)
            if wait is None or self.clock() >= deadline:
                return
            self.sleep(min(wait, max(0.0, deadline - self.clock())))

    def kick(self) -> None:
        """Wake a relay thread: a new row was queued."""
        self._wake.set()

    def run_forever(self, stop: threading.Event, idle: float = 5.0) -> None:
        self.recover()
        while not stop.is_set():
            try:
                wait = self.run_once()
            except Exception:  # a broken row must not stop every later send
                log.exception("outbox relay failed; trying again shortly")
                wait = idle
            self._wake.wait(idle if wait is None else min(wait, idle))
            self._wake.clear()

    def _send(self, row: dict) -> None:
        sender = self.senders.get(row["source"])
        if not self.store.outbox_claim(row["id"]):
            return  # another relay has it
        attempts = row["attempts"] + 1
        if sender is None and row["source"] not in SENDABLE_SOURCES:
            sent_id = f"{BY_HAND}{row['id']}"  # the person sends it in that inbox: keep it in the history as sent
            self.store.outbox_update(row["id"], "sent", attempts=attempts, sent_message_id=sent_id)
            self._remember_outbound(row, sent_id)
            self._notify(row["message_id"])
            return
        if sender is None:
            self._fail(row, attempts, f"no connector can send to {row['source']} yet")
            return
        pace_key = (row["source"], _pace_key(sender, row["conversation"]))
        gap = self._last_sent.get(pace_key, -1e9) + self.per_channel_interval - self.clock()
        if gap > 0:
            self.sleep(gap)
        try:
            sent_id = sender.send(row["conversation"], row["text"], row["reply_to"])
        except RateLimited as exc:
            self._last_sent[pace_key] = self.clock()
            self.store.outbox_update(row["id"], "pending", error=str(exc), attempts=row["attempts"],
                                     next_attempt_at=iso(utcnow() + timedelta(seconds=exc.retry_after)))
            log.info("outbox %s: %s", row["id"], exc)
            return
        except SendError as exc:
            self._retry_or_fail(row, attempts, str(exc), permanent=exc.permanent)
            return
        except Exception as exc:  # network trouble and the like: worth another try
            self._retry_or_fail(row, attempts, f"{type(exc).__name__}: {exc}", permanent=False)
            return
        self._last_sent[pace_key] = self.clock()
        self.store.outbox_update(row["id"], "sent", attempts=attempts, sent_message_id=str(sent_id))
        self._remember_outbound(row, str(sent_id))
        self._notify(row["message_id"])

    def _retry_or_fail(self, row: dict, attempts: int, error: str, *, permanent: bool) -> None:
        if permanent or attempts >= self.max_attempts:
            self._fail(row, attempts, error)
            return
        delay = self.backoff[min(attempts - 1, len(self.backoff) - 1)] if self.backoff else 0.0
        log.warning("outbox %s: try %d failed (%s); next try in %g s", row["id"], attempts, error, delay)
        self.store.outbox_update(row["id"], "pending", error=error, attempts=attempts,
                                 next_attempt_at=iso(utcnow() + timedelta(seconds=delay)))

    def _fail(self, row: dict, attempts: int, error: str) -> None:
        log.error("outbox %s: giving up after %d tries: %s", row["id"], attempts, error)
        self.store.outbox_update(row["id"], "failed", error=error, attempts=attempts)
        self._notify(row["message_id"])

    def _remember_outbound(self, row: dict, sent_id: str) -> None:
        """Keep the sent reply in the conversation's history (outbound, not analysed)."""
        try:
            self.store.add_message(Message(text=row["text"], source=row["source"], sender_id="resonate",
                                           source_id=sent_id, chat_id=row["conversation"], direction=OUTBOUND,
                                           reply_to_id=row["reply_to"]))
        except Exception:  # history is a nicety; the send itself is recorded in the outbox
            log.exception("outbox %s: could not store the sent reply", row["id"])

    def _notify(self, message_id: int) -> None:
        try:
            self.on_change(message_id)
        except Exception:  # a card that cannot be updated must not block sending
            log.exception("could not update the review card of message %s", message_id)


def _pace_key(sender: Sender, conversation: str) -> str:
    channel_of = getattr(sender, "channel_of", None)
    return channel_of(conversation) if callable(channel_of) else conversation


def _parse(value: str):
    from bot.message import parse_time

    return parse_time(value)
