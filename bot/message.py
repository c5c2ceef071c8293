"""The one platform-neutral message type every adapter produces and every stage reads.

Adapters (``bot.channels``) translate a platform payload into a :class:`Message`
and keep the payload itself aside in ``raw``; nothing downstream needs to know
which chat a message came from beyond ``source``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

MAX_TEXT_CHARS = 20_000
INBOUND, OUTBOUND = "in", "out"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    """UTC ISO 8601 with a Z, second precision (microseconds kept when present)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_time(value: Any) -> datetime:
    """ISO 8601 text (with Z or offset; naive means UTC) or Unix seconds -> aware UTC datetime."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        dt = datetime.fromtimestamp(float(value), tz=timezone.utc)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        dt = None
        if text[4:5] != "-" or text[7:8] != "-":  # a date has '-' there (no number does): no number attempt
            try:
                dt = datetime.fromtimestamp(float(text), tz=timezone.utc)
            except ValueError:
                pass
        if dt is None:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    else:
        raise ValueError(f"not a time: {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``n`` and the noun, plural unless one: "1 message", "0 messages", "2 replies" (``nouns``: the plural when it
    is not the noun and an s)."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def first_name_of(display_name: str | None) -> str | None:
    """A first name when the display name looks like a person's name ("Anna Kowalski" -> "Anna")."""
    if not display_name:
        return None
    first = display_name.strip().split()[0] if display_name.strip() else ""
    if first and first.isalpha() and not first.islower() and len(first) > 1:
        return first
    return None


@dataclass(frozen=True)
class Message:
    """A message from or to a customer, whatever the platform."""

    text: str
    source: str  # telegram, slack, email, instagram, forum, import, ...
    sender_id: str  # the platform's id of the person (stable per source)
    source_id: str = ""  # the platform's id of this message; derived from content when empty
    sender_name: str = ""
    chat_id: str = ""  # conversation in the source (chat, channel/thread, email thread); sender when empty
    timestamp: datetime = field(default_factory=utcnow)
    direction: str = INBOUND
    kind: str = "text"  # text, or what a non-text update was (sticker, photo, ...): stored, not analysed
    event_id: str | None = None  # the delivery's id (Slack event_id, Telegram update_id), for deduplication
    sender_tags: tuple[str, ...] = ()
    sender_first_name: str | None = None
    sender_username: str | None = None
    language: str | None = None
    reply_to_id: str | None = None  # source_id of the message this one answers
    raw: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def conversation_key(self) -> str:
        return self.chat_id or self.sender_id

    @property
    def key(self) -> str:
        """The platform id, or a content hash so re-importing the same file stores nothing twice."""
        if self.source_id:
            return self.source_id
        digest = hashlib.sha256(
            "\x1f".join([self.source, self.sender_id, self.conversation_key, iso(self.timestamp), self.text]).encode()
        ).hexdigest()[:20]
        return f"h:{digest}"

    @property
    def first_name(self) -> str | None:
        return self.sender_first_name or first_name_of(self.sender_name)

    @property
    def analysable(self) -> bool:
        return self.direction == INBOUND and self.kind == "text" and bool(self.text.strip())
