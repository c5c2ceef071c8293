"""The review desk: posts a card for each new inbound message and carries out a person's decision on it.

The desk knows the store, the suggester and a :class:`CardBoard` (where cards are posted: Slack's review
channel). It holds no Slack code: ``bot.channels.slack`` turns clicks into the calls below and shows the
:class:`Outcome` they return. A decision is taken once: ``Store.decide`` is a compare-and-set that also writes
the outbox row, so the first click wins and later ones get a polite "already handled".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from bot import review
from bot.playbooks import UNKNOWN_INTENT

log = logging.getLogger(__name__)


class CardBoard(Protocol):
    def post(self, blocks: list[dict], text: str) -> tuple[str, str]:
        """Post a card; return (channel, ts)."""

    def update(self, channel: str, ts: str, blocks: list[dict], text: str) -> None: ...


class NoBoard:
    """No review channel in this process (``resonate reply``): a card Slack posted is refreshed by the running
    connector's relay."""

    def post(self, blocks, text):
        return "", ""

    def update(self, channel, ts, blocks, text):
        pass


@dataclass(frozen=True)
class Outcome:
    ok: bool
    note: str = ""  # shown to the person who clicked (privately) when set


class ReviewDesk:
    def __init__(self, store, suggester: Callable[[], object], playbooks: Callable[[], object], board: CardBoard,
                 on_queued: Callable[[], None] = lambda: None):
        self.store = store
        self._suggester = suggester
        self._playbooks = playbooks
        self.board = board
        self.on_queued = on_queued

    # -- cards --------------------------------------------------------------------------------------------------
    def present(self, message_id: int) -> dict | None:
        """Post the message's card once (a card whose post failed is posted on the next delivery)."""
        if self.store.analysis(message_id) is None:
            return None  # not analysable (sticker, outbound): nothing to review
        card = self.store.open_card(message_id)
        if card.get("ts"):
            return card
        data = self.card_data(message_id)
        channel, ts = self.board.post(review.card_blocks(data), review.card_text(data))
        self.store.card_posted(message_id, channel, ts)
        return self.store.card(message_id)

    def refresh(self, message_id: int) -> None:
        card = self.store.card(message_id)
        if not card or not card.get("ts"):
            return
        data = self.card_data(message_id)
        self.board.update(card["channel"], card["ts"], review.card_blocks(data), review.card_text(data))

    def card_data(self, message_id: int) -> review.CardData:
        message = self.store.message(message_id)
        if message is None:
            raise KeyError(f"no message {message_id}")
        card = self.store.card(message_id) or {}
        outbox = self.store.outbox_of(message_id)
        decision_text = outbox["text"] if outbox else None
        playbooks = self._playbooks()
        intents = list(playbooks.intents) + [UNKNOWN_INTENT]
        data = review.CardData(
            message_id=message_id, message=message, analysis=self.store.analysis(message_id),
            follows_up=self.store.followed_up(message_id, playbooks.follow_up_intents()),
            suggestions=self.store.suggestions(message_id),
            history=self.store.contact_history(message["contact_id"], before=message["sent_at"])
            if message.get("contact_id") else {"earlier_messages": 0, "last_sentiment": None},
            card=card, outbox=outbox, decision_text=decision_text, intents=intents)
        data.note = playbooks.card_note(review.card_intent(data), message_id)
        return data

    # -- decisions ----------------------------------------------------------------------------------------------
    def send(self, message_id: int, suggestion_id: int, actor: str) -> Outcome:
        s = self.store.suggestion(suggestion_id)
        if s is None or s["message_id"] != message_id:
            return Outcome(False, "That suggestion does not belong to this card.")
        if s["state"] != "offered" and (self.store.card(message_id) or {}).get("state") == "open":
            return Outcome(False, "That suggestion was replaced after the intent was corrected; "
                                  "please pick one from the updated card.")
        return self._decide(message_id, "sent", actor, suggestion_id=suggestion_id, text=s["text"])

    def send_edited(self, message_id: int, text: str, actor: str) -> Outcome:
        if not text or not text.strip():
            return Outcome(False, "The reply is empty.")
        return self._decide(message_id, "edited", actor, text=text.strip())

    def skip(self, message_id: int, actor: str) -> Outcome:
        return self._decide(message_id, "skipped", actor)

    def edit_text(self, message_id: int) -> tuple[str, str, str] | Outcome:
        """(customer text, top suggestion, source) for the Edit modal, or an Outcome when the card is closed."""
        closed = self._closed(message_id)
        if closed:
            return closed
        message = self.store.message(message_id)
        offered = self.store.suggestions(message_id)
        return message["text"], offered[0]["text"] if offered else "", message["source"]

    def correct_intent(self, message_id: int, intent: str, actor: str) -> Outcome:
        """Record the right intent (training data) and redraw the suggestions for it."""
        playbooks = self._playbooks()
        if intent != UNKNOWN_INTENT and playbooks.get(intent) is None:
            return Outcome(False, f"There is no playbook for the intent {intent}.")
        row = self.store.analysis(message_id)
        if row is None:
            return Outcome(False, "This message has not been analysed.")
        if self.store.correct_intent(message_id, intent, actor) is None:
            return self._closed(message_id) or Outcome(False, "This card is closed.")
        self._suggest_for(message_id, row, intent)
        self.refresh(message_id)
        return Outcome(True)

    def edited(self, message_id: int) -> None:
        """Its sender edited the message (the pipeline analysed it again): the card shows the new text, and the
        suggestions follow a person's correction of the intent if there was one."""
        card = self.store.card(message_id)
        row = self.store.analysis(message_id)
        if card and card.get("intent") and card.get("state") == "open" and row is not None:
            self._suggest_for(message_id, row, card["intent"])
        self.refresh(message_id)

    def deleted(self, message_id: int) -> None:
        """Its author deleted the message: its copy goes (see :func:`bot.privacy.erase_message`), and its card says
        so instead of showing the text (a card that cannot be redrawn is logged: the copy is gone either way)."""
        from bot.privacy import erase_message

        card, message = self.store.card(message_id), self.store.message(message_id)
        if not erase_message(self.store, message_id) or not (card and card.get("ts")):
            return
        name = message.get("display_name") or message.get("username") or ""
        try:
            self.board.update(card["channel"], card["ts"], review.deleted_blocks(name),
                              f"{name or 'Someone'} deleted their message")
        except Exception as exc:  # noqa: BLE001 - the board's own errors (Slack's) are not known here
            log.warning("could not clear the card of deleted message %s: %s", message_id, exc)

    def _suggest_for(self, message_id: int, row: dict, intent: str) -> None:
        """Offer suggestions for the message as if its intent were ``intent`` (a person's correction)."""
        from bot.pipeline import context_of  # late: the pipeline imports the model stack lazily too

        suggestions = self._suggester().suggest(corrected_analysis(row, intent),
                                                context_of(self.store.message(message_id)),
                                                self.store.followed_up(message_id,
                                                                       self._playbooks().follow_up_intents()))
        self.store.save_suggestions(message_id, suggestions)

    def _decide(self, message_id: int, action: str, actor: str, **kw) -> Outcome:
        decided = self.store.decide(message_id, action, actor, opt_out_intents=self._playbooks().opt_out_intents(),
                                    **kw)
        if decided is None:
            return self._closed(message_id) or Outcome(False, "This card is closed.")
        if decided.outbox_id is not None:
            self.on_queued()
        self.refresh(message_id)
        if decided.answered_earlier is not None:
            self.refresh(decided.answered_earlier)
        return Outcome(True)

    def _closed(self, message_id: int) -> Outcome | None:
        card = self.store.card(message_id)
        if card is None:
            return Outcome(False, "There is no review card for this message.")
        if card["state"] != "decided":
            return None
        verb = {"sent": "sent a reply", "edited": "sent an edited reply", "skipped": "skipped it",
                "auto_sent": "answered it automatically",
                "answered_in_follow_up": "answered it in the reply to their follow-up"}.get(
            card["action"], card["action"])
        return Outcome(False, f"Thanks! This one was already handled: {review.who(card['decided_by'])} {verb} "
                              f"({review.when(card['decided_at'])}).")


def corrected_analysis(row: dict, intent: str):
    """The stored analysis with a person's intent, certain: what the suggester needs to redraw replies."""
    from nlp.analyzer import Analysis
    from nlp.entities import Entity
    from nlp.intent import IntentPrediction

    entities = tuple(Entity(e["label"], e["text"], e["start"], e["end"], e["value"]) for e in row["entities"])
    prediction = IntentPrediction(intent, 1.0, intent, ((intent, 1.0),), None, 1.0)
    return Analysis(intent, 1.0, row["sentiment"], row["sentiment_score"], entities, np.zeros(1, dtype=np.float32),
                    prediction, row["model_version"])

