"""Slack adapter: Slack events and clicks in, text and cards out, through slack-bolt and slack_sdk's WebClient.

It translates and nothing else: a message event becomes a :class:`bot.message.Message` for the pipeline; a
click on a review card becomes a call on :class:`bot.desk.ReviewDesk`; ``/resonate`` goes to the command
registry (:mod:`bot.commands`); replies go out as a message in the customer's thread (:class:`SlackSender`,
used by the outbox relay) and cards as messages in the review channel (:class:`SlackBoard`).

HTTP mode serves events, interactivity and slash commands at ``POST /slack/events``; bolt verifies every
request's signature and timestamp (older than 5 minutes is refused) before any listener runs.
"""

from __future__ import annotations

import html
import logging
import re
import threading
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot import review
from bot.errors import CardNotDeleted, ConfigError, RateLimited, SendError
from bot.message import MAX_TEXT_CHARS, Message, parse_time

log = logging.getLogger(__name__)

SOURCE = "slack"
EVENTS_PATH = "/slack/events"
# Message subtypes a person writes; everything else (joins, bots) is not an inbox message; an edit
# (message_changed) changes the stored one (see edited_message), a deletion (message_deleted) erases it.
PERSON_SUBTYPES = {None, "thread_broadcast", "file_share"}
# Slack errors that another try will not fix.
PERMANENT_ERRORS = {"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed",
                    "account_inactive", "token_revoked", "missing_scope", "msg_too_long", "no_text",
                    "restricted_action", "thread_not_found", "invalid_blocks", "invalid_arguments"}
# Why one card cannot be deleted while the next may be (its channel archived or gone, another app's message); any
# other error (the token, a scope) stops every card alike.
ONE_CARD_ERRORS = {"cant_delete_message", "channel_not_found", "is_archived", "not_in_channel"}


# -- in: Slack -> Message -----------------------------------------------------------------------------------------
def to_message(event: dict, event_id: str | None = None, sender_name: str = "") -> Message | None:
    """A ``message`` event written by a person -> Message; None for everything else (bots, edits, joins)."""
    if not isinstance(event, dict) or event.get("type") != "message":
        return None
    if event.get("subtype") not in PERSON_SUBTYPES or event.get("bot_id") or event.get("hidden"):
        return None
    channel, user, ts = event.get("channel"), event.get("user"), event.get("ts")
    if not (isinstance(channel, str) and isinstance(user, str) and isinstance(ts, str) and channel and user and ts):
        return None
    try:
        timestamp = parse_time(ts)
    except (ValueError, OverflowError, OSError):
        return None
    thread_ts = event.get("thread_ts") if isinstance(event.get("thread_ts"), str) else None
    text = html.unescape(str(event.get("text") or "")) if "&" in str(event.get("text") or "") else \
        str(event.get("text") or "")  # Slack sends & < > escaped; we keep what the person typed
    if len(text) > MAX_TEXT_CHARS:
        log.warning("slack message %s:%s is %d characters; keeping the first %d", channel, ts, len(text),
                    MAX_TEXT_CHARS)
        text = review.cut(text, MAX_TEXT_CHARS)
    return Message(
        text=text, source=SOURCE, sender_id=user, source_id=f"{channel}:{ts}", sender_name=sender_name,
        chat_id=f"{channel}:{thread_ts or ts}", timestamp=timestamp, event_id=event_id,
        kind="text" if text.strip() else "file",
        reply_to_id=f"{channel}:{thread_ts}" if thread_ts and thread_ts != ts else None, raw=event,
    )


def edited_message(event: dict, sender_name: str = "") -> Message | None:
    """A ``message_changed`` event (a person edited their message) -> the edited Message, with the same platform id
    as the original; None for anything else (a bot's message, a malformed event)."""
    if not isinstance(event, dict) or event.get("subtype") != "message_changed":
        return None
    inner = event.get("message")
    if not isinstance(inner, dict):
        return None
    return to_message({**inner, "type": "message", "channel": event.get("channel")}, None, sender_name)


# -- out: text and cards ------------------------------------------------------------------------------------------
def split_conversation(conversation: str) -> tuple[str, str | None]:
    """``C123:1700000000.000100`` (channel and thread) -> ("C123", "1700000000.000100")."""
    channel, _, thread_ts = conversation.partition(":")
    return channel, thread_ts or None


class SlackSender:
    """Sends a reply in the customer's thread. Used by the outbox relay; raises SendError / RateLimited."""

    def __init__(self, client: WebClient):
        self.client = client

    @staticmethod
    def channel_of(conversation: str) -> str:
        return split_conversation(conversation)[0]

    def send(self, conversation: str, text: str, reply_to: str | None) -> str:
        channel, thread_ts = split_conversation(conversation)
        try:
            response = self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=review.escape(text),
                                                    unfurl_links=False, unfurl_media=False)
        except SlackApiError as exc:
            raise _send_error(exc) from exc
        return f"{response.get('channel') or channel}:{response['ts']}"


def _send_error(exc: SlackApiError) -> SendError:
    response = exc.response
    status = getattr(response, "status_code", None)
    error = (response.get("error") if hasattr(response, "get") else None) or "unknown_error"
    if status == 429 or error == "ratelimited":
        headers = getattr(response, "headers", {}) or {}
        retry_after = next((v for k, v in headers.items() if k.lower() == "retry-after"), "1")
        try:
            seconds = float(retry_after if not isinstance(retry_after, list) else retry_after[0])
        except (TypeError, ValueError):
            seconds = 1.0
        return RateLimited(seconds, "Slack rate limit")
    return SendError(f"Slack refused the message: {error}", permanent=error in PERMANENT_ERRORS)


class SlackBoard:
    """Where review cards live: messages in the review channel, updated in place."""

    def __init__(self, client: WebClient, channel: str):
        self.client = client
        self.channel = channel

    def post(self, blocks: list[dict], text: str) -> tuple[str, str]:
        response = self.client.chat_postMessage(channel=self.channel, blocks=blocks, text=text, unfurl_links=False,
                                                unfurl_media=False)
        return response["channel"], response["ts"]

    def update(self, channel: str, ts: str, blocks: list[dict], text: str) -> None:
        self.client.chat_update(channel=channel, ts=ts, blocks=blocks, text=text)

    def delete(self, channel: str, ts: str) -> None:
        """Delete a card (its person is being erased); one already deleted counts as deleted. Raises
        CardNotDeleted with Slack's reason."""
        try:
            self.client.chat_delete(channel=channel, ts=ts)
        except SlackApiError as exc:
            error = exc.response.get("error") or "unknown_error"
            if error != "message_not_found":
                raise CardNotDeleted(f"Slack said {error}", every_card=error not in ONE_CARD_ERRORS) from exc
        except OSError as exc:  # the network (urllib's URLError is an OSError)
            raise CardNotDeleted(f"Slack could not be reached: {getattr(exc, 'reason', exc)}", every_card=True) from exc


def board_for(cfg) -> SlackBoard | None:
    """The review board of a Slack app configured in ``cfg`` (a :class:`bot.config.Config`), to reach cards
    outside ``resonate run``; None without a bot token."""
    if not cfg.slack_bot_token:
        return None
    client = WebClient(token=cfg.slack_bot_token, base_url=cfg.slack_api_url,
                       retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    return SlackBoard(client, cfg.review_channel or "")


# -- the connector ------------------------------------------------------------------------------------------------
class SlackConnector:
    """The bolt App with its listeners, the WebClients, the review desk and the outbox relay for Slack."""

    def __init__(self, app, *, bolt_client: WebClient | None = None):
        from bot.desk import ReviewDesk
        from bot.outbox import Relay

        cfg = app.config
        if not cfg.slack_bot_token:
            raise ConfigError("SLACK_BOT_TOKEN", "is not set")
        if not cfg.review_channel:
            raise ConfigError("RESONATE_REVIEW_CHANNEL", "is not set")
        self.app = app
        self.config = cfg
        # listeners may run on several threads (and other connectors'); the store connection is shared
        self.lock = getattr(app, "lock", None) or threading.RLock()
        # Cards and modals: a 429 is simply waited out by the client.
        self.client = bolt_client or WebClient(token=cfg.slack_bot_token, base_url=cfg.slack_api_url,
                                               retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
        # Replies: no automatic retries (the relay decides, and a resent reply must never be a surprise).
        self.send_client = WebClient(token=cfg.slack_bot_token, base_url=cfg.slack_api_url, retry_handlers=[])
        self.sender = SlackSender(self.send_client)
        self._senders: dict[str, Any] = {SOURCE: self.sender}
        self.board = SlackBoard(self.client, cfg.review_channel)
        self.desk = ReviewDesk(app.store, lambda: app.suggester, lambda: app.playbooks, self.board,
                               on_queued=self.kick)
        self.relay = Relay(app.store, self._senders, on_change=self.refresh_card)
        self._relay_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._names: dict[str, str] = {}
        self.bolt = self._build_bolt()
        # Every new inbound message gets a card, whichever connector received it.
        app.pipeline.on_new(lambda processed: self._card(self.desk.present, processed.message_id, "post"))
        app.pipeline.on_edit(lambda processed: self._card(self.desk.edited, processed.message_id, "redraw"))
        if hasattr(app, "add_relay_kicker"):
            app.add_relay_kicker(self.kick)  # automatic answers are queued outside a click

    def add_sender(self, source: str, sender) -> None:
        """Let the relays send replies to messages from ``source`` (the Telegram connector calls this); both
        relays share this one map of senders by source."""
        self._senders[source] = sender

    # -- wiring ---------------------------------------------------------------------------------------------------
    def _build_bolt(self):
        from slack_bolt import App as BoltApp
        from slack_bolt.error import BoltError

        try:
            bolt = BoltApp(client=self.client, signing_secret=self.config.slack_signing_secret or "",
                           process_before_response=True, name="resonate")
        except BoltError as exc:  # auth.test failed: a wrong or revoked token
            raise ConfigError("SLACK_BOT_TOKEN", f"Slack did not accept it ({exc})") from None
        bolt.event("message")(self._on_message)
        bolt.action(re.compile(rf"^{review.ACTION_SEND}_\d+$"))(self._on_send)
        bolt.action(review.ACTION_EDIT)(self._on_edit)
        bolt.action(review.ACTION_SKIP)(self._on_skip)
        bolt.action(review.ACTION_INTENT)(self._on_intent)
        bolt.view(review.EDIT_VIEW)(self._on_edit_submitted)
        bolt.command("/resonate")(self._on_command)
        from bot import digest

        bolt.action(digest.ACTION_ADOPT)(self._on_campaign)
        bolt.action(digest.ACTION_DISMISS)(self._on_campaign)
        return bolt

    # -- listeners (translate, then call the desk / pipeline / commands) -----------------------------------------
    def _on_message(self, event, body, client):
        channel = event.get("channel")
        if channel not in self.config.watch_channels or channel == self.config.review_channel:
            return
        if event.get("subtype") == "message_deleted":
            self._on_deleted(channel, event.get("deleted_ts"))
            return
        edit = edited_message(event)
        if edit is not None:
            with self.lock:
                self.app.pipeline.edit(edit)  # the card is redrawn by the on_edit hook
            return
        message = to_message(event, body.get("event_id"), self._name_of(client, event.get("user")))
        if message is None:
            return
        with self.lock:
            processed = self.app.pipeline.receive(message)  # a new message is carded by the on_new hook
            if not self._has_card(processed.message_id):
                # the card could not be posted (or this is Slack's retry after that): try now, and let a
                # failure answer Slack with an error so that it delivers the event again
                self.desk.present(processed.message_id)

    def _on_deleted(self, channel: str, ts: Any) -> None:
        """The author deleted their message: the desk erases its copy and clears its card."""
        if not isinstance(ts, str):
            return
        with self.lock:
            message_id = self.app.store.message_id_of(SOURCE, f"{channel}:{ts}")
            if message_id is not None:
                self.desk.deleted(message_id)

    def _on_send(self, ack, body, action, client):
        ack()
        message_id, _, suggestion_id = str(action.get("value", "")).partition(":")
        with self.lock:
            outcome = self.desk.send(int(message_id), int(suggestion_id), body["user"]["id"])
        self._tell(client, body, outcome)

    def _on_skip(self, ack, body, action, client):
        ack()
        with self.lock:
            outcome = self.desk.skip(int(action["value"]), body["user"]["id"])
        self._tell(client, body, outcome)

    def _on_intent(self, ack, body, action, client):
        ack()
        message_id, _, intent = str(action["selected_option"]["value"]).partition(":")
        with self.lock:
            outcome = self.desk.correct_intent(int(message_id), intent, body["user"]["id"])
        self._tell(client, body, outcome)

    def _on_edit(self, ack, body, action, client):
        ack()
        message_id = int(action["value"])
        with self.lock:
            found = self.desk.edit_text(message_id)
        if not isinstance(found, tuple):
            self._tell(client, body, found)
            return
        customer_text, top, source = found
        client.views_open(trigger_id=body["trigger_id"],
                          view=review.edit_modal(message_id, customer_text, top, source))

    def _on_edit_submitted(self, ack, body, view):
        text = view["state"]["values"][review.EDIT_BLOCK][review.EDIT_INPUT].get("value") or ""
        with self.lock:
            outcome = self.desk.send_edited(int(view["private_metadata"]), text, body["user"]["id"])
        if outcome.ok:
            ack()
        else:
            ack(response_action="errors", errors={review.EDIT_BLOCK: review.cut(outcome.note, 150)})

    def _on_command(self, ack, command):
        from bot.commands import COMMANDS

        with self.lock:
            reply = COMMANDS.dispatch(self.app, command.get("text", ""), command.get("user_id", ""))
        ack(response_type="ephemeral", text=reply.text, blocks=reply.blocks or None)

    def _on_campaign(self, ack, body, action, client):
        from bot import digest
        from bot.errors import ResonateError

        ack()
        campaign_id, user = int(action["value"]), body["user"]["id"]
        adopt = action["action_id"] == digest.ACTION_ADOPT
        try:
            with self.lock:
                c = (self.app.campaigns.adopt if adopt else self.app.campaigns.dismiss)(campaign_id, user)
            note = (f"Adopted #{campaign_id} {c['card']['title']}: review on {c['review_at'][:10]}." if adopt
                    else f"Dismissed #{campaign_id}.")
        except ResonateError as exc:
            note = str(exc)
        self._whisper(client, body, note)

    # -- helpers --------------------------------------------------------------------------------------------------
    def _has_card(self, message_id: int) -> bool:
        card = self.app.store.card(message_id)
        return bool(card and card.get("ts"))

    def _tell(self, client, body, outcome) -> None:
        if not outcome.ok and outcome.note:
            self._whisper(client, body, outcome.note)

    @staticmethod
    def _whisper(client, body, text: str) -> None:
        """An ephemeral note to the person who clicked, in the channel of the click."""
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        if channel:
            client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text)

    def _name_of(self, client, user: str | None) -> str:
        if not user:
            return ""
        if user not in self._names:
            try:
                profile = client.users_info(user=user)["user"]
                p = profile.get("profile") or {}
                self._names[user] = p.get("real_name") or p.get("display_name") or profile.get("name") or ""
            except (SlackApiError, KeyError, TypeError) as exc:  # a name is a nicety: go on without it
                log.info("could not look up Slack user %s: %s", user, exc)
                return ""
        return self._names[user]

    def _card(self, work, message_id: int, what: str) -> None:
        """``work(message_id)`` (post or redraw its card) under the lock; a failure is logged, since the message
        is stored whatever happens to its card."""
        try:
            with self.lock:
                work(message_id)
        except Exception:
            log.exception("could not %s the review card of message %s", what, message_id)

    def refresh_card(self, message_id: int) -> None:
        with self.lock:
            self.desk.refresh(message_id)

    def kick(self) -> None:
        if self._relay_thread is not None:
            self._thread_relay.kick()

    # -- running --------------------------------------------------------------------------------------------------
    def start_relay(self) -> None:
        """Send approved replies on a thread with its own store connection; flags rows a crash left mid-send."""
        from bot.outbox import Relay
        from bot.store import Store

        self._thread_relay = Relay(Store(self.config.db_path), self._senders, on_change=self.refresh_card)
        self._relay_thread = threading.Thread(target=self._thread_relay.run_forever, args=(self._stop,),
                                              name="resonate-outbox", daemon=True)
        self._relay_thread.start()

    def start_digest_schedule(self, interval: float = 60.0) -> None:
        """Post the weekly digest at the configured time, once per period even across restarts."""
        from bot import digest

        schedule = digest.Schedule.parse(self.config.digest_schedule, self.config.timezone)
        self._scheduler = digest.Scheduler(self.app, self.client, self.config.digest_channel, schedule, interval)
        self._digest_thread = threading.Thread(target=self._locked_digest_loop, name="resonate-digest", daemon=True)
        self._digest_thread.start()

    def _locked_digest_loop(self) -> None:
        from bot import digest

        log_ = logging.getLogger("bot.digest")
        s = self._scheduler
        while not self._stop.is_set():
            try:
                with self.lock:
                    period = digest.run_due(s.app, s.client, s.channel, s.schedule)
                if period:
                    log_.info("posted the digest of %s to %s", period, s.channel)
            except Exception:
                log_.exception("could not post the digest")
            self._stop.wait(s.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._relay_thread is not None:
            self._thread_relay.kick()
            self._relay_thread.join(timeout=5)

    def serve_socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        SocketModeHandler(self.bolt, self.config.slack_app_token).start()


class SlackWsgi:
    """bolt's WSGI adapter for ``POST /slack/events``, to sit beside other routes on one server."""

    def __init__(self, bolt):
        from slack_bolt.adapter.wsgi import SlackRequestHandler

        self.handler = SlackRequestHandler(bolt, path=EVENTS_PATH)

    def __call__(self, environ, start_response):
        return self.handler(environ, start_response)


def make_wsgi_server(routes: dict, port: int, host: str = "0.0.0.0"):
    """A threaded WSGI server answering ``POST`` on each path of ``routes`` (path -> WSGI app), 404 elsewhere:
    Slack's events and Telegram's webhook can share one port."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, fmt, *args):
            log.info("%s %s", self.address_string(), fmt % args)

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    def wsgi_app(environ, start_response):
        target = routes.get(environ.get("PATH_INFO"))
        if target is None or environ.get("REQUEST_METHOD") != "POST":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [f"Not found: POST to {', '.join(routes)}\n".encode()]
        return target(environ, start_response)

    return make_server(host, port, wsgi_app, server_class=Server, handler_class=QuietHandler)


def serve_wsgi(routes: dict, port: int, host: str = "0.0.0.0", ready=None) -> None:
    """Serve ``routes`` (see :func:`make_wsgi_server`) until interrupted."""
    server = make_wsgi_server(routes, port, host)
    if ready:
        ready(server)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def make_http_server(bolt, port: int, host: str = "0.0.0.0"):
    """A server for Slack alone: only ``POST /slack/events`` is served."""
    return make_wsgi_server({EVENTS_PATH: SlackWsgi(bolt)}, port, host)
