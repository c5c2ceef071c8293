"""Inbox webhook: other inboxes (an email forwarder, a web form, an automation step) post messages to
``resonate run --inbox-webhook``.

``POST /inbox`` with ``Authorization: Bearer <RESONATE_WEBHOOK_TOKEN>`` and a JSON body: one message or a list of
up to :data:`MAX_MESSAGES`, each with the import columns (``text`` and ``sender`` required; ``source``, ``id``,
``timestamp``... as in :mod:`bot.channels.files`; other keys are not read and are named in the answer). Every
message is checked first: one bad message refuses the request (400, each problem named by its position) and
nothing is stored. Stored messages go through the pipeline like any other: analysed, given suggestions and, when
Slack runs, a review card. Give each message its ``id``, or the request an ``Idempotency-Key`` header (the same
key on a retry: a message without an id is then known by the key and its place in the request), or each message
its ``timestamp``: a delivery retried after a timeout is then stored once. A message with none of them is dated
when it arrives, so a retry would store it again: the answer's ``warning`` says so. A message whose ``id`` is
stored with another text was edited in its inbox: the stored one follows (see :meth:`bot.pipeline.Pipeline.edit`).

Answers are JSON: 200 ``{"stored", "duplicates", "edited", "message_ids", "not_read"}`` (and ``warning``); 401 without
the right token; 400 for a body that is not JSON or a message that is wrong; 413 over :data:`MAX_BYTES`; 500 when
storing failed part way (it says how far it got: send the request again).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading

from bot.channels.files import known_columns, to_message
from bot.message import utcnow

log = logging.getLogger(__name__)

PATH = "/inbox"
MAX_BYTES = 1_000_000
MAX_MESSAGES = 500
MAX_KEY_CHARS = 255


class InboxWebhook:
    """The WSGI app for ``POST /inbox`` (see the module's docstring)."""

    def __init__(self, app, token: str, lock=None):
        if not token:
            raise ValueError("the inbox webhook needs a token")
        self.app = app
        self.token = token
        self.lock = lock or getattr(app, "lock", None) or threading.RLock()

    def __call__(self, environ, start_response):
        def answer(status: str, payload: dict):
            start_response(status, [("Content-Type", "application/json; charset=utf-8")])
            return [json.dumps(payload, ensure_ascii=False).encode()]

        auth = environ.get("HTTP_AUTHORIZATION", "")
        given = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else ""
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            log.warning("inbox webhook: refused a request with a %s token", "wrong" if given else "missing")
            return answer("401 Unauthorized", {"error": "missing or wrong token: send Authorization: Bearer "
                                                        "<RESONATE_WEBHOOK_TOKEN>"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return answer("400 Bad Request", {"error": "Content-Length is not a byte count"})
        if length > MAX_BYTES:
            return answer("413 Payload Too Large", {"error": f"the body must be at most {MAX_BYTES} bytes"})
        try:
            body = json.loads(environ["wsgi.input"].read(length).decode("utf-8")) if length else None
        except (ValueError, UnicodeDecodeError) as exc:
            return answer("400 Bad Request", {"error": f"the body is not JSON ({exc})"})
        key = environ.get("HTTP_IDEMPOTENCY_KEY", "").strip()
        if len(key) > MAX_KEY_CHARS:
            return answer("400 Bad Request", {"error": f"the Idempotency-Key header must be at most {MAX_KEY_CHARS} "
                                                       "characters"})
        key_id = "key:" + hashlib.sha256(key.encode()).hexdigest()[:20] if key else ""
        rows = body if isinstance(body, list) else [body]
        if not rows or len(rows) > MAX_MESSAGES:
            return answer("400 Bad Request", {"error": f"send 1 to {MAX_MESSAGES} messages, not {len(rows)}"})
        messages, problems, not_read, undated, own_ids = [], [], {}, [], []
        received_at = utcnow().replace(microsecond=0)
        for n, row in enumerate(rows, 1):
            if not isinstance(row, dict):
                problems.append(f"message {n}: must be a JSON object with text and sender")
                continue
            named, extra = known_columns(row)
            not_read.update(dict.fromkeys(extra))
            own_ids.append(named.get("id") not in (None, ""))
            if not own_ids[-1]:
                if key_id:
                    named["id"] = f"{key_id}:{n}"  # the same on a retry of this request
                elif named.get("timestamp") in (None, ""):
                    undated.append(n)
            try:
                messages.append(to_message(named, received_at))
            except ValueError as exc:
                problems.append(f"message {n}: {exc}")
        if problems:
            return answer("400 Bad Request", {"error": "nothing was stored: " + "; ".join(problems[:20]),
                                              "problems": problems})
        results, edited = [], 0
        try:
            with self.lock:  # as the other connectors: one message at a time through the shared store
                for m, own_id in zip(messages, own_ids):
                    results.append(self.app.pipeline.receive(m))
                    # the id of a stored message with another text: the inbox's post was edited (a retry sends
                    # the same text; an id made from the Idempotency-Key is no message's own)
                    if not results[-1].created and own_id and self.app.pipeline.edit(m) is not None:
                        edited += 1
        except Exception as exc:  # noqa: BLE001 - say how far it got; what is stored is recognised by its id
            log.exception("inbox webhook: storing failed")
            return answer("500 Internal Server Error", {
                "error": f"stored {len(results)} of {len(messages)} messages, then failed ({type(exc).__name__}); "
                         "send them again (those with an id are stored once)",
                "message_ids": [r.message_id for r in results]})
        payload = {"stored": sum(r.created for r in results),
                   "duplicates": sum(not r.created for r in results) - edited, "edited": edited,
                   "message_ids": [r.message_id for r in results], "not_read": list(not_read)}
        if undated:
            payload["warning"] = (f"{len(undated)} message(s) ({', '.join(map(str, undated[:20]))}) had no id and no "
                                  "timestamp: a retry of this request would store them again. Send an id per "
                                  "message or an Idempotency-Key header")
        return answer("200 OK", payload)
