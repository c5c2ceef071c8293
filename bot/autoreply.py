"""Automatic answers: when may Resonate reply without a person, and doing so through the outbox.

The decision is a pure function (:func:`auto_reply_decision`) so every refusal reason is tested on its own;
:class:`AutoResponder` gathers its inputs from the store and, when the answer is yes, closes the message's
card as "answered automatically" and queues the reply in the same transaction (``Store.auto_send``). The
review desk then posts that card as an FYI: what was sent, no buttons. Everything else waits for a person.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable, Iterable

from bot.message import parse_time, utcnow

log = logging.getLogger(__name__)

HUMAN_QUIET_PERIOD = timedelta(hours=24)  # no automatic answer where a person replied this recently
AUTO_REPLY_SOURCES = ("telegram",)  # where customers write to the brand's bot


def auto_reply_decision(*, enabled: bool, intent: str | None, playbook_allows: bool, confidence: float,
                        threshold: float, sentiment: str | None, opted_out: bool,
                        last_human_reply_at: datetime | None, now: datetime,
                        quiet_period: timedelta = HUMAN_QUIET_PERIOD) -> tuple[bool, str]:
    """May this message be answered at once, without review? Returns (ok, reason in plain words)."""
    if not enabled:
        return False, "auto-reply is off"
    if not intent or intent == "unknown":
        return False, "the intent is unknown"
    if not playbook_allows:
        return False, f"the {intent} playbook does not allow automatic answers"
    if confidence < threshold:
        return False, f"confidence {confidence:.2f} is below {threshold:.2f}"
    if sentiment == "negative":
        return False, "the sentiment is negative"
    if opted_out:
        return False, "the contact opted out"
    if last_human_reply_at is not None and now - last_human_reply_at < quiet_period:
        hours = (now - last_human_reply_at).total_seconds() / 3600
        return False, f"a person replied in this conversation {hours:.1f} h ago"
    return True, f"{intent} at {confidence:.2f}, playbook allows automatic answers"


class AutoResponder:
    """A pipeline ``on_new`` hook: answers the safe cases at once; registered before the review desk's."""

    def __init__(self, store, config, *, sources: Iterable[str] = AUTO_REPLY_SOURCES,
                 on_queued: Callable[[], None] = lambda: None, clock: Callable[[], datetime] = utcnow,
                 opt_out_intents: Callable[[], Iterable[str]] = tuple):
        """``opt_out_intents``: the playbooks' ``opts_out`` intents (read when answering: they may be reloaded)."""
        self.store = store
        self.config = config
        self.opt_out_intents = opt_out_intents
        self.sources = tuple(sources)
        self.on_queued = on_queued
        self.clock = clock

    def __call__(self, processed) -> None:
        try:
            self.consider(processed.message_id, processed.analysis, processed.suggestions)
        except Exception:  # an automatic answer is a nicety: the message still gets its review card
            log.exception("auto-reply: could not consider message %s", processed.message_id)

    def consider(self, message_id: int, analysis, suggestions) -> tuple[bool, str]:
        message = self.store.message(message_id)
        if message is None or message["source"] not in self.sources:
            return False, "not a source Resonate answers automatically"
        if not self.config.auto_reply:
            return False, "auto-reply is off"  # the common case: no further reads
        top = suggestions[0] if suggestions else None
        last = self.store.last_human_reply_at(message_id)
        ok, reason = auto_reply_decision(
            enabled=self.config.auto_reply, intent=getattr(analysis, "intent", None),
            playbook_allows=bool(top and top.auto_reply and top.intent == analysis.intent),
            confidence=float(getattr(analysis, "confidence", 0.0)), threshold=self.config.auto_reply_threshold,
            sentiment=getattr(analysis, "sentiment", None), opted_out=bool(message.get("opted_out_at")),
            last_human_reply_at=parse_time(last) if last else None, now=self.clock())
        if not ok:
            log.info("auto-reply: message %s waits for a person: %s", message_id, reason)
            return ok, reason
        offered = self.store.suggestions(message_id)
        if not offered:
            return False, "no suggestion was stored"
        decided = self.store.auto_send(message_id, offered[0]["id"], offered[0]["text"], self.opt_out_intents())
        if decided is None:
            return False, "a person decided first"
        log.info("auto-reply: message %s answered automatically (%s)", message_id, reason)
        self.on_queued()
        return True, reason
