"""Review cards: pure functions from stored data to Slack Block Kit (no I/O, no Slack client).

Customer text (the message, names, entities, and the suggestions that quote them) is shown literally: it is
escaped for mrkdwn (``&`` ``<`` ``>`` become ``&amp;`` ``&lt;`` ``&gt;``), which is what turns ``<!channel>``,
``<@U…>`` and ``<url|label>`` into harmless text, and it goes into text objects with ``verbatim`` set so
Slack does not link-ify it. Text longer than a Block Kit limit is cut with a marker, never rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from bot.outbox import BY_HAND, SENDABLE_SOURCES
from nlp.gloss import word_for_word
from nlp.language import language_of
from nlp.language import name as language_name

CUT_MARKER = "… (cut)"
SECTION_LIMIT = 3000  # section / context text
BUTTON_LIMIT = 75  # button text
OPTION_LIMIT = 75  # plain_text of an option
INPUT_LIMIT = 3000  # plain_text_input initial_value and max_length
FALLBACK_LIMIT = 3000  # the notification text of a message with blocks
MAX_OPTIONS = 100  # static_select

ACTION_SEND = "resonate_send"  # + "_<rank>"
ACTION_EDIT = "resonate_edit"
ACTION_SKIP = "resonate_skip"
ACTION_INTENT = "resonate_intent"
EDIT_VIEW = "resonate_edit"
EDIT_BLOCK, EDIT_INPUT = "reply", "text"

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


# -- text ------------------------------------------------------------------------------------------------------
def escape(text: str) -> str:
    """Escape mrkdwn's control characters so customer text cannot mention, link or format."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int, marker: str = CUT_MARKER) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and the marker (within the limit)."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))].rstrip() + marker


def mrkdwn_literal(text: str, limit: int = SECTION_LIMIT) -> str:
    """Escaped text that fits in ``limit`` *after* escaping; cut on a character, never inside ``&amp;``."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    budget, size, keep = limit - len(CUT_MARKER), 0, 0
    for ch in text:
        width = len(escape(ch))
        if size + width > budget:
            break
        size += width
        keep += 1
    return escape(text[:keep]).rstrip() + CUT_MARKER


def plain(text: str, limit: int) -> dict:
    return {"type": "plain_text", "text": cut(text, limit) or " ", "emoji": True}


def mrkdwn(text: str) -> dict:
    """A mrkdwn text object for text we composed (its customer parts already escaped)."""
    return {"type": "mrkdwn", "text": cut(text, SECTION_LIMIT) or " ", "verbatim": True}


def who(actor: str) -> str:
    """A Slack user id as a mention, anything else literally."""
    return f"<@{actor}>" if _USER_ID.match(actor or "") else escape(actor or "someone")


def when(timestamp: str | None) -> str:
    if not timestamp:
        return ""
    return timestamp[:16].replace("T", " ") + " UTC"


# -- cards -----------------------------------------------------------------------------------------------------
@dataclass
class CardData:
    """Everything a card shows; built by the review desk from the store."""

    message_id: int
    message: Mapping[str, Any]  # Store.message row
    analysis: Mapping[str, Any] | None  # Store.analysis row
    suggestions: Sequence[Mapping[str, Any]]  # offered suggestions (id, rank, intent, text, reason)
    history: Mapping[str, Any]  # Store.contact_history
    card: Mapping[str, Any] = field(default_factory=dict)  # state, intent, action, decided_by, decided_at
    outbox: Mapping[str, Any] | None = None
    decision_text: str | None = None  # the reply that was chosen
    intents: Sequence[str] = ()  # for "Wrong intent"
    follows_up: Mapping[str, Any] | None = None  # the earlier message a follow-up chases (Store.followed_up)
    note: str = ""  # the intent's playbook card_note, filled in (team-written mrkdwn)


def deleted_blocks(name: str) -> list[dict]:
    """What a card becomes when its message was deleted by its author: no trace of the text."""
    return [{"type": "section", "text": mrkdwn(f"🗑 *{mrkdwn_literal(name or 'Someone', 200)}* deleted their "
                                               "message; Resonate erased its copy and the drafts.")}]


def header_blocks(data: CardData) -> list[dict]:
    m = data.message
    name = m.get("display_name") or m.get("username") or m.get("sender_id") or "someone"
    earlier = data.history.get("earlier_messages", 0)
    facts = [f"*{mrkdwn_literal(str(name), 200)}*", escape(str(m.get("source", ""))),
             f"{earlier} earlier message{'' if earlier == 1 else 's'}"]
    if data.history.get("last_sentiment"):
        facts.append(f"last sentiment {escape(str(data.history['last_sentiment']))}")
    language = language_of(str(m.get("text") or ""), m.get("contact_language"))
    if language and language != "en":  # the drafts are English unless a playbook has replies in it
        facts.append(f"written in {escape(language_name(language))}")
    blocks = [
        {"type": "context", "elements": [mrkdwn(" · ".join(facts))]},
        {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn_literal(str(m.get("text") or " ")),
                                     "verbatim": True}},
    ]
    glossed = word_for_word(str(m.get("text") or ""), language)
    if glossed:  # a rough reading for a team that does not read the language
        blocks.append({"type": "context",
                       "elements": [mrkdwn(f"🔤 Word for word: “{mrkdwn_literal(glossed, 300)}”")]})
    if data.follows_up:
        earlier = data.follows_up
        blocks.append({"type": "context", "elements": [mrkdwn(
            f"↩️ Follows up their message of {when(earlier['sent_at'])} ({escape(str(earlier['intent']))}): "
            f"“{mrkdwn_literal(' '.join(str(earlier['text']).split()), 300)}” (replies marked ↩️ answer it)")]})
    if data.analysis:
        blocks.append({"type": "context", "elements": [mrkdwn(analysis_line(data.analysis, data.card.get("intent")))]})
    return blocks


def analysis_line(analysis: Mapping[str, Any], corrected: str | None = None) -> str:
    intent = f"*{escape(analysis['intent'])}* ({analysis['confidence']:.2f})"
    if corrected:
        intent = f"*{escape(corrected)}* (corrected; the model said {escape(analysis['intent'])} " \
                 f"{analysis['confidence']:.2f})"
    parts = [f"Intent {intent}",
             f"Sentiment {escape(analysis['sentiment'])} ({analysis['sentiment_score']:+.2f})"]
    entities = analysis.get("entities") or []
    if entities:
        parts.append("Entities " + ", ".join(
            f"{escape(str(e.get('label', '')).lower())} {mrkdwn_literal(str(e.get('value', '')), 100)}"
            for e in entities[:10]))
    return " · ".join(parts)


def suggestion_blocks(message_id: int, suggestions: Sequence[Mapping[str, Any]], buttons: bool = True,
                      send_label: str = "Send") -> list[dict]:
    """``send_label``: "Mark sent" where the person sends the reply in the customer's inbox themselves."""
    blocks = []
    for s in list(suggestions)[:3]:
        section = {"type": "section", "text": {
            "type": "mrkdwn", "verbatim": True,
            "text": f"*{s['rank']}.* " + ("↩️ " if s.get("answers_id") else "")
                    + mrkdwn_literal(str(s["text"]), SECTION_LIMIT - 15)}}
        if buttons:
            section["accessory"] = {"type": "button", "text": plain(send_label, BUTTON_LIMIT),
                                    "action_id": f"{ACTION_SEND}_{s['rank']}", "value": f"{message_id}:{s['id']}"}
        blocks.append(section)
        if s.get("reason"):
            blocks.append({"type": "context", "elements": [mrkdwn("_" + mrkdwn_literal(str(s["reason"]), 2900)
                                                                  + "_")]})
    return blocks


def action_block(message_id: int, intents: Iterable[str], current: str | None) -> dict:
    options = [{"text": plain(i, OPTION_LIMIT), "value": f"{message_id}:{i}"} for i in intents if i != current]
    elements: list[dict] = [
        {"type": "button", "text": plain("Edit", BUTTON_LIMIT), "action_id": ACTION_EDIT, "value": str(message_id)},
        {"type": "button", "text": plain("Skip", BUTTON_LIMIT), "action_id": ACTION_SKIP, "value": str(message_id)},
    ]
    if options:
        elements.append({"type": "static_select", "action_id": ACTION_INTENT,
                         "placeholder": plain("Wrong intent", OPTION_LIMIT), "options": options[:MAX_OPTIONS]})
    return {"type": "actions", "block_id": f"review_{message_id}", "elements": elements}


_ACTION_WORDS = {"sent": "✅ Sent", "edited": "✏️ Sent an edited reply", "skipped": "⏭️ Skipped",
                 "auto_sent": "🤖 FYI: answered automatically",
                 "answered_in_follow_up": "✅ Answered in the reply to their follow-up"}


def status_lines(data: CardData) -> list[str]:
    lines = []
    card = data.card
    if card.get("state") == "decided":
        lines.append(f"{_ACTION_WORDS.get(card.get('action'), card.get('action'))}: {who(card.get('decided_by'))}, "
                     f"{when(card.get('decided_at'))}")
    o = data.outbox
    if o:
        state = o["state"]
        if state == "pending" and o.get("last_error"):
            lines.append(f"⏳ Not sent yet ({o['attempts']} tries so far: {mrkdwn_literal(o['last_error'], 500)}); "
                         "trying again")
        elif state in ("pending", "sending"):
            lines.append("⏳ Sending…")
        elif state == "sent" and str(o.get("sent_message_id") or "").startswith(BY_HAND):
            lines.append(f"✋ Marked sent: answered by hand in {escape(str(data.message.get('source', '')))}")
        elif state == "sent":
            lines.append("📨 Delivered")
        elif state == "failed":
            lines.append(f"⚠️ *Not delivered* after {o['attempts']} tries: {mrkdwn_literal(o['last_error'] or '', 500)}."
                         " Please answer the customer by hand.")
        elif state == "stuck":
            lines.append("⚠️ *Needs a person*: Resonate stopped while sending this reply, so it may or may not have "
                         "reached the customer. Check the conversation before answering again.")
    if data.message.get("opted_out_at"):
        lines.append("🔕 Opted out: no campaigns and no automatic answers for this person")
    if data.note:
        lines.append(escape(data.note))
    return lines


def card_blocks(data: CardData) -> list[dict]:
    blocks = header_blocks(data)
    if data.card.get("state") == "decided":
        if data.decision_text:
            blocks.append({"type": "section", "text": {
                "type": "mrkdwn", "verbatim": True, "text": "*Reply:* " + mrkdwn_literal(data.decision_text, 2900)}})
    else:
        blocks.append({"type": "divider"})
        by_hand = _by_hand_note(str(data.message.get("source", "")), "the reply")
        blocks += [by_hand] if by_hand else []
        blocks += suggestion_blocks(data.message_id, data.suggestions, send_label="Mark sent" if by_hand else "Send")
        blocks.append(action_block(data.message_id, data.intents, card_intent(data)))
    lines = status_lines(data)
    if lines:
        blocks.append({"type": "context", "elements": [mrkdwn("\n".join(lines))]})
    return blocks[:50]


def card_intent(data: CardData) -> str | None:
    """The card's intent: a person's correction, else the analysis's."""
    return data.card.get("intent") or (data.analysis or {}).get("intent")


def _by_hand_note(source: str | None, what: str) -> dict | None:
    """For a source Resonate cannot send to (an email, an instagram DM): the line saying to send ``what`` there by
    hand; None where a connector sends it."""
    if source is None or source in SENDABLE_SOURCES:
        return None
    return {"type": "context", "elements": [mrkdwn(
        f"Resonate cannot send to {escape(source)}: send {what} there yourself, then mark it sent.")]}


def card_text(data: CardData) -> str:
    """The notification text (also shown where blocks are not): escaped, short."""
    m = data.message
    name = m.get("display_name") or m.get("sender_id") or "someone"
    return mrkdwn_literal(f"New {m.get('source', '')} message from {name}: {m.get('text', '')}", 300)


def edit_modal(message_id: int, customer_text: str, initial: str, source: str | None = None) -> dict:
    """The "Edit" modal: the top suggestion prefilled; submitting sends the edited text (or, for a source Resonate
    cannot send to, records it as sent by hand, as the card's "Mark sent" does)."""
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "verbatim": True,
                                           "text": "*Customer:* " + mrkdwn_literal(customer_text, 1000)}},
              {"type": "input", "block_id": EDIT_BLOCK, "label": plain("Reply", 2000),
               "element": {"type": "plain_text_input", "action_id": EDIT_INPUT, "multiline": True,
                           "max_length": INPUT_LIMIT, "initial_value": cut(initial, INPUT_LIMIT)}}]
    by_hand = _by_hand_note(source, "this text")
    return {"type": "modal", "callback_id": EDIT_VIEW, "private_metadata": str(message_id),
            "title": plain("Edit reply", 24), "submit": plain("Mark sent" if by_hand else "Send", 24),
            "close": plain("Cancel", 24), "blocks": blocks + ([by_hand] if by_hand else [])}


def analysis_blocks(text: str, analysis: Mapping[str, Any], suggestions: Sequence[Mapping[str, Any]]) -> list[dict]:
    """For ``/resonate suggest``: the analysis and suggestions, without buttons."""
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "verbatim": True, "text": mrkdwn_literal(text)}},
        {"type": "context", "elements": [mrkdwn(analysis_line(analysis))]},
        {"type": "divider"},
    ]
    return blocks + suggestion_blocks(0, suggestions, buttons=False)
