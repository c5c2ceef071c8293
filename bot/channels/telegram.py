"""Telegram adapter: updates in, text out, through python-telegram-bot (PTB).

It translates and nothing else: an update's message becomes a :class:`bot.message.Message` for the pipeline
(the review card, the automatic answer and the outbox are someone else's business); ``/start``, ``/help`` and
``/stop`` get their fixed answers; replies go out with ``sendMessage`` (:class:`TelegramSender`, used by the
outbox relay) as plain text, split under Telegram's 4,096 characters.

Storing before acknowledging. Telegram forgets an update once it is acknowledged: in long polling by the next
``getUpdates`` whose offset is past it, in webhook mode by our HTTP 200. PTB's own Updater puts a batch on a
queue and asks for the next one straight away, so a crash while the batch is being handled would lose it.
Here the connector asks ``getUpdates`` for the next batch only after every update of the last one went
through the Application's handlers and was written to the store, and the webhook answers 200 only then
(500 otherwise, so Telegram delivers it again). A redelivered update is stored once: the store keys messages
on ``update_id`` and on ``chat:message_id``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import secrets
import threading
import time
import warnings
from typing import Any, Callable
from urllib.parse import urlsplit

from bot.errors import ConfigError, RateLimited, SendError
from bot.message import MAX_TEXT_CHARS, Message, parse_time

log = logging.getLogger(__name__)

SOURCE = "telegram"
MAX_MESSAGE_CHARS = 4096  # sendMessage's limit on text length
COMMANDS = ("start", "help", "stop")
ALLOWED_UPDATES = ["message", "edited_message"]  # an edit changes the stored message (see edited_message)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# What a message without text can be; the first key present names its kind.
NON_TEXT_KINDS = ("sticker", "photo", "animation", "video", "video_note", "voice", "audio", "document",
                  "location", "venue", "contact", "poll", "dice", "game", "story", "invoice")
# What the bot answers to its commands. Plain text: sent without a parse mode.
START_TEXT = ("Hi{name}! You're writing to our team. Every message you send here is read by a person "
              "(a few simple questions may get an instant automatic answer), and we'll reply right in this chat. "
              "Send /help to see what I understand, or /stop if you don't want us to contact you.")
HELP_TEXT = ("Just write your question here, as you would to a person: order numbers (like FB-20431) help us "
             "find your order faster.\n/start - how your messages are handled\n/help - this message\n"
             "/stop - no more messages from us except replies to what you write")
STOP_TEXT = ("Done: we won't contact you with news or offers any more. We'll still answer when you write to us. "
             "Send /start to undo this.")


# -- in: Update -> Message ------------------------------------------------------------------------------------------
def command_of(message: dict, bot_username: str | None = None) -> str | None:
    """``/start``, ``/stop@fernbrew_bot x`` -> "start", "stop" (one of COMMANDS, addressed to us), else None."""
    text = message.get("text")
    if not isinstance(text, str) or not text.startswith("/"):
        return None
    match = re.match(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]+))?(?:\s|$)", text)
    if not match:
        return None
    name, addressee = match.group(1).lower(), match.group(2)
    if addressee and bot_username and addressee.lower() != bot_username.lower():
        return None
    return name if name in COMMANDS else None


def to_message(update: dict, bot_username: str | None = None) -> Message | None:
    """An update with a new ``message`` -> Message; None for anything else (edits, channel posts, members).

    Text and captions are the message's text; a sticker, a photo without caption and the like are kept with
    their kind (and not analysed); our commands are kept as kind "command".
    """
    if not isinstance(update, dict):
        raise ValueError("an update is a JSON object")
    update_id = update.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise ValueError("the update has no integer update_id")
    message = update.get("message")
    if message is None:
        return None
    if not isinstance(message, dict):
        raise ValueError("message is not an object")
    chat, sender, message_id = message.get("chat"), message.get("from"), message.get("message_id")
    if not isinstance(chat, dict) or not isinstance(chat.get("id"), int):
        raise ValueError("the message has no chat id")
    if not isinstance(message_id, int):
        raise ValueError("the message has no message_id")
    if not isinstance(sender, dict) or not isinstance(sender.get("id"), int):
        sender = {"id": chat["id"], "first_name": chat.get("title") or chat.get("first_name") or ""}
    text = message.get("text")
    if not isinstance(text, str):
        text = message.get("caption") if isinstance(message.get("caption"), str) else ""
    if command_of(message, bot_username):
        kind = "command"
    elif text.strip():
        kind = "text"
    else:
        kind = next((k for k in NON_TEXT_KINDS if k in message), "other")
    if len(text) > MAX_TEXT_CHARS:  # Telegram caps text at 4,096, but a bad update must not stop us
        log.warning("telegram update %s: %d characters; keeping the first %d", update_id, len(text), MAX_TEXT_CHARS)
        text = text[:MAX_TEXT_CHARS]
    first, last = str(sender.get("first_name") or ""), str(sender.get("last_name") or "")
    reply_to = message.get("reply_to_message")
    date = message.get("date")
    return Message(
        text=text, source=SOURCE, sender_id=str(sender["id"]), source_id=f"{chat['id']}:{message_id}",
        sender_name=" ".join(p for p in (first, last) if p), chat_id=str(chat["id"]),
        timestamp=parse_time(date) if isinstance(date, (int, float)) and date > 0 else parse_time(time.time()),
        kind=kind, event_id=str(update_id), sender_first_name=first or None,
        sender_username=sender.get("username") if isinstance(sender.get("username"), str) else None,
        language=sender.get("language_code") if isinstance(sender.get("language_code"), str) else None,
        reply_to_id=f"{chat['id']}:{reply_to['message_id']}"
        if isinstance(reply_to, dict) and isinstance(reply_to.get("message_id"), int) else None,
        raw=update,
    )


def edited_message(update: dict, bot_username: str | None = None) -> Message | None:
    """An update with an ``edited_message`` -> the edited Message, with the same platform id as the original;
    None for any other update. Raises ValueError as :func:`to_message` does."""
    if not isinstance(update, dict) or "edited_message" not in update:
        return None
    return to_message({"update_id": update.get("update_id"), "message": update["edited_message"]}, bot_username)


def update_kind(update: dict) -> str:
    """What an update carries (message, edited_message, my_chat_member, ...)."""
    return next((k for k in update if k != "update_id"), "empty") if isinstance(update, dict) else "invalid"


# -- out: text --------------------------------------------------------------------------------------------------
def split_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Parts of at most ``limit`` characters, cut after a sentence where possible, else between words."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max((m.end() for m in re.finditer(r"[.!?…。！？](?:[\"')\]»”’]*)\s+|\n\s*", window)), default=0)
        if cut < limit // 2:  # no sentence end in the second half: cut between words
            space = window.rfind(" ")
            cut = space + 1 if space > limit // 4 else limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def retry_after_seconds(exc) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that retry_after becomes a timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)


class TelegramSender:
    """Sends a reply in the customer's chat, answering their message. Used by the outbox relay (a thread).

    ``conversation`` is the chat id, ``reply_to`` the customer's message (``chat:message_id``). A 429 before
    anything went out is the relay's to wait out (RateLimited); once the first part of a long reply is out,
    the rest is paced and retried here, so that the relay never sends the first part twice.
    """

    def __init__(self, connector: "TelegramConnector", *, interval: float = 1.0, max_waits: int = 5,
                 sleep: Callable[[float], None] = time.sleep):
        self.connector = connector
        self.interval = interval  # at most one message per second per chat
        self.max_waits = max_waits
        self.sleep = sleep

    def send(self, conversation: str, text: str, reply_to: str | None) -> str:
        from telegram import ReplyParameters

        chat_id = int(conversation)
        reply_id = None
        if reply_to and reply_to.partition(":")[2].isdigit():
            reply_id = int(reply_to.partition(":")[2])
        parts = split_text(text)
        if not parts:
            raise SendError("the reply is empty", permanent=True)
        sent_ids: list[int] = []
        for index, part in enumerate(parts):
            if index:
                self.sleep(self.interval)
            params = ReplyParameters(message_id=reply_id, allow_sending_without_reply=True) \
                if reply_id and index == 0 else None
            sent_ids.append(self._send_part(chat_id, part, params, first=index == 0, index=index, total=len(parts)))
        return f"{chat_id}:{sent_ids[0]}"

    def _send_part(self, chat_id: int, text: str, params, *, first: bool, index: int, total: int) -> int:
        from telegram import error

        waits = 0
        while True:
            try:
                message = self.connector.call(self.connector.bot.send_message(
                    chat_id=chat_id, text=text, reply_parameters=params))
                return message.message_id
            except error.RetryAfter as exc:
                seconds = retry_after_seconds(exc)
                if first:
                    raise RateLimited(seconds, "Telegram flood control") from exc
                problem = str(exc)
            except (error.Forbidden, error.BadRequest, error.InvalidToken) as exc:
                raise SendError(f"Telegram refused the message: {exc}{_sent_so_far(index, total)}",
                                permanent=True) from exc
            except (error.TimedOut, error.NetworkError) as exc:
                if first:
                    raise SendError(f"Telegram could not be reached: {exc}") from exc
                seconds, problem = self.interval, str(exc)
            waits += 1
            if waits > self.max_waits:
                raise SendError(f"Telegram kept refusing part {index + 1} of {total}: {problem}"
                                f"{_sent_so_far(index, total)}", permanent=True)
            log.info("telegram: part %d of %d to %s: %s; waiting %g s", index + 1, total, chat_id, problem, seconds)
            self.sleep(seconds)


def _sent_so_far(index: int, total: int) -> str:
    return f" ({index} of {total} parts were delivered; please send the rest by hand)" if index else ""


# -- the connector ------------------------------------------------------------------------------------------------
class UpdateNotStored(Exception):
    """Handling an update failed: it must not be acknowledged, so that Telegram delivers it again."""


class TelegramConnector:
    """The PTB Application on its own event loop thread, its handlers, the polling loop and the webhook."""

    def __init__(self, app, *, poll_timeout: int = 30):
        from telegram.ext import ApplicationBuilder, CommandHandler, MessageHandler, TypeHandler, filters
        from telegram import Update

        cfg = app.config
        if not cfg.telegram_bot_token:
            raise ConfigError("TELEGRAM_BOT_TOKEN", "is not set")
        self.app = app
        self.config = cfg
        self.poll_timeout = poll_timeout
        # Updates one at a time, each handled to the end (stored) before the next: see the module docstring.
        self.application = (ApplicationBuilder().token(cfg.telegram_bot_token).base_url(cfg.telegram_api_url)
                            .concurrent_updates(False).updater(None).build())
        self.application.add_handler(CommandHandler(list(COMMANDS), self._on_command))
        self.application.add_handler(MessageHandler(filters.ALL, self._on_message))
        self.application.add_handler(TypeHandler(Update, self._on_other))
        self.application.add_error_handler(self._on_error)
        self.sender = TelegramSender(self)
        self.relay = None
        self.offset: int | None = None
        self.webhook_path: str | None = None
        self.webhook_secret: str | None = None
        self._failures: dict[int, BaseException] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def bot(self):
        return self.application.bot

    # -- the event loop -------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the loop thread and initialise the Application (getMe: a wrong token stops here)."""
        if self._loop is not None:
            return
        from telegram import error

        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="resonate-telegram", daemon=True)
        self._thread.start()
        self._loop = loop
        try:
            self.call(self.application.initialize(), timeout=60)
        except error.InvalidToken as exc:
            self.stop()
            raise ConfigError("TELEGRAM_BOT_TOKEN", f"Telegram did not accept it ({exc.message.split('`')[0]}"
                                                    "rejected by the server)") from None
        except error.TelegramError as exc:
            self.stop()
            raise ConfigError("TELEGRAM_API_URL", f"could not reach the Bot API ({exc})") from None

    def call(self, coro, timeout: float | None = 120):
        """Run a coroutine on the connector's loop from any other thread and wait for its result."""
        if self._loop is None:
            self.start()
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self) -> None:
        self._stop.set()
        if self.relay is not None:
            self.relay.kick()
        for thread in self._threads:
            thread.join(timeout=5)
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            if self.application._initialized:  # noqa: SLF001 - PTB has no public flag
                asyncio.run_coroutine_threadsafe(self.application.shutdown(), loop).result(10)
        except Exception:  # shutting down: nothing more to do about it
            log.debug("telegram: shutdown", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        loop.close()

    # -- updates --------------------------------------------------------------------------------------------------
    async def handle(self, data: Any) -> None:
        """Handle one update as Telegram sent it (JSON object). Raises UpdateNotStored if it was not stored."""
        from telegram import Update

        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int):
            log.error("telegram: an update without an integer update_id was skipped: %.200r", data)
            return
        try:
            update = Update.de_json(data, self.bot)
            if update is None:
                raise ValueError("empty update")
        except Exception as exc:  # a malformed update: keep it as received, say why, go on
            log.error("telegram: update %s could not be read (%s); kept as received", update_id, exc)
            await self._in_thread(self._record, update_id, "malformed", data, None, f"{type(exc).__name__}: {exc}")
            return
        self._failures.pop(update_id, None)
        await self.application.process_update(update)
        failure = self._failures.pop(update_id, None)
        if failure is not None:
            raise UpdateNotStored(f"update {update_id}: {failure}") from failure

    async def _on_message(self, update, context) -> None:
        await self._in_thread(self._receive, update)

    async def _on_other(self, update, context) -> None:
        data = update.to_dict()
        await self._in_thread(self._record, update.update_id, update_kind(data), data, None, None)

    async def _on_command(self, update, context) -> None:
        processed = await self._in_thread(self._receive, update)
        if processed is None or not processed.created:
            return  # a redelivered command was answered the first time
        message = update.effective_message
        command = command_of(message.to_dict(), self.bot.username)
        user = update.effective_user
        if command == "stop":
            await self._in_thread(self.app.store.set_opted_out, SOURCE, str(user.id if user else message.chat_id))
            text = STOP_TEXT
        elif command == "start":
            if user is not None:
                await self._in_thread(self.app.store.set_opted_out, SOURCE, str(user.id), False)
            text = START_TEXT.format(name=f", {user.first_name}" if user and user.first_name else "")
        else:
            text = HELP_TEXT
        try:
            await message.reply_text(text, do_quote=message.chat.type != "private")
        except Exception:  # the command is stored and done; its answer is a courtesy
            log.exception("telegram: could not answer /%s in chat %s", command, message.chat_id)

    async def _on_error(self, update, context) -> None:
        if update is not None and hasattr(update, "update_id"):
            self._failures[update.update_id] = context.error
        log.error("telegram: handling update %s failed: %s", getattr(update, "update_id", "?"), context.error,
                  exc_info=context.error)

    def _receive(self, update):
        """Store (and analyse) the update's message; then note the update as handled. Runs in a worker thread."""
        data = update.to_dict()
        try:
            message = to_message(data, self.bot.username)
        except ValueError as exc:  # PTB read it, but it is not a message we can keep as one: keep it as received
            log.error("telegram: update %s is not a usable message (%s); kept as received", update.update_id, exc)
            self._record(update.update_id, "malformed", data, None, str(exc))
            return None
        with self.app.lock:
            if message is None:
                try:
                    edit = edited_message(data, self.bot.username)
                except ValueError:
                    edit = None  # kept as received below, as any update that is not a message
                processed = self.app.pipeline.edit(edit) if edit is not None else None  # on_edit redraws the card
                self.app.store.record_update(update.update_id, update_kind(data), data,
                                             message_id=processed.message_id if processed else None)
                return None
            processed = self.app.pipeline.receive(message)  # stored first; a new message is carded by on_new
            self.app.store.record_update(update.update_id, update_kind(data), data, message_id=processed.message_id)
            return processed

    def _record(self, update_id, kind, data, message_id, error):
        with self.app.lock:
            self.app.store.record_update(update_id, kind, data, message_id=message_id, error=error)

    @staticmethod
    async def _in_thread(func, *args):
        return await asyncio.to_thread(func, *args)

    # -- long polling ---------------------------------------------------------------------------------------------
    async def poll_once(self, timeout: int | None = None) -> int:
        """One getUpdates; every update is handled and stored before the next call acknowledges it."""
        from telegram.warnings import PTBUserWarning

        wait = self.poll_timeout if timeout is None else timeout
        with warnings.catch_warnings():
            # raw JSON on purpose: one malformed update must not make the whole batch unreadable
            warnings.simplefilter("ignore", PTBUserWarning)
            data = await self.bot.do_api_request(
                "getUpdates", api_kwargs={"offset": self.offset, "timeout": wait, "allowed_updates": ALLOWED_UPDATES},
                read_timeout=wait + 10)
        handled = 0
        for item in data or []:
            await self.handle(item)  # raises UpdateNotStored: the offset stays, Telegram sends it again
            if isinstance(item, dict) and isinstance(item.get("update_id"), int):
                self.offset = item["update_id"] + 1
            handled += 1
        return handled

    async def _poll_forever(self) -> None:
        from telegram import error

        # A webhook left set would make getUpdates fail; removing it keeps the updates waiting for us.
        await self.bot.delete_webhook(drop_pending_updates=False)
        delay = 1.0
        while not self._stop.is_set():
            try:
                await self.poll_once()
                delay = 1.0
            except error.InvalidToken:
                log.critical("telegram: the token was revoked; stopping the connector")
                return
            except error.RetryAfter as exc:
                await asyncio.sleep(retry_after_seconds(exc))
            except (UpdateNotStored, error.TelegramError, OSError) as exc:
                log.warning("telegram: %s; polling again in %g s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    def run_polling(self) -> threading.Thread:
        """Poll in the background until :meth:`stop`; updates are never dropped at start-up."""
        self.start()
        future = asyncio.run_coroutine_threadsafe(self._poll_forever(), self._loop)
        thread = threading.Thread(target=_wait_quietly, args=(future, self._stop), name="resonate-telegram-poll",
                                  daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    # -- webhook --------------------------------------------------------------------------------------------------
    def set_webhook(self, url: str, secret: str | None = None) -> str:
        """Tell Telegram where to post updates; every request must then carry the secret. Returns the path."""
        self.start()
        self.webhook_secret = secret or self.config.telegram_webhook_secret or secrets.token_urlsafe(32)
        self.webhook_path = urlsplit(url).path or "/"
        self.call(self.bot.set_webhook(url=url, secret_token=self.webhook_secret, allowed_updates=ALLOWED_UPDATES,
                                       drop_pending_updates=False))
        return self.webhook_path

    def wsgi_app(self, environ, start_response):
        """``POST {webhook path}``: 403 without the right secret header; 200 only once the update is stored."""
        def answer(status: str, text: str = ""):
            start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
            return [text.encode()]

        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != self.webhook_path:
            return answer("404 Not Found", "not found\n")
        given = environ.get("HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN", "")
        if not self.webhook_secret or not hmac.compare_digest(given.encode(), self.webhook_secret.encode()):
            log.warning("telegram webhook: refused a request with a %s secret token",
                        "wrong" if given else "missing")
            return answer("403 Forbidden", "forbidden\n")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            data = json.loads(environ["wsgi.input"].read(length).decode("utf-8")) if length else None
        except (ValueError, UnicodeDecodeError):
            return answer("400 Bad Request", "not JSON\n")
        try:
            self.call(self.handle(data), timeout=120)
        except Exception as exc:  # not stored: Telegram will deliver it again
            log.error("telegram webhook: %s", exc)
            return answer("500 Internal Server Error", "not stored; please retry\n")
        return answer("200 OK")

    # -- sending without Slack ------------------------------------------------------------------------------------
    def start_relay(self) -> None:
        """Send approved and automatic replies when no Slack connector runs the outbox relay."""
        from bot.outbox import Relay
        from bot.store import Store

        self.relay = Relay(Store(self.config.db_path), {SOURCE: self.sender})
        self.app.add_relay_kicker(self.relay.kick)
        thread = threading.Thread(target=self.relay.run_forever, args=(self._stop,), name="resonate-outbox",
                                  daemon=True)
        thread.start()
        self._threads.append(thread)


def _wait_quietly(future, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            future.result(timeout=0.5)
            return
        except TimeoutError:
            continue
        except Exception:
            log.exception("telegram: polling stopped")
            return
    future.cancel()
