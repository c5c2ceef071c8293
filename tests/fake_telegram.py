"""A fake Telegram Bot API on 127.0.0.1 (port 0), for python-telegram-bot's ``base_url``.

Paths are ``/bot{token}/{method}``. Bodies are parsed whether they come form-encoded, as JSON or multipart;
every request is recorded as (method, params). It answers getMe, getUpdates (from a list the test fills; like
Telegram, an update stays until a later offset acknowledges it), sendMessage (with increasing message ids),
setWebhook and deleteWebhook. ``rate_limit_next`` makes the next call of a method answer HTTP 429 once.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from tests.fake_http import LocalServer, QuietHandler

TOKEN = "123456789:TEST-token_abcdefghijklmnopqrstu"
BOT = {"id": 123456789, "is_bot": True, "first_name": "Fernbrew", "username": "fernbrew_bot",
       "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
JSON_FIELDS = ("reply_parameters", "allowed_updates", "reply_markup", "link_preview_options", "entities")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200


class FakeTelegram(LocalServer):
    def __init__(self, token: str = TOKEN):
        self.token = token
        self.calls: list[Call] = []
        self.updates: list[dict] = []
        self._lock = threading.Lock()
        self._once: dict[str, list[tuple[int, dict]]] = {}
        self._ids = itertools.count(1000)
        fake = self

        class Handler(QuietHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                params = _parse(raw, self.headers.get("Content-Type", ""))
                _, _, rest = self.path.partition("/bot")
                token, _, method = rest.partition("/")
                status, payload = fake._answer(token, method, params)
                with fake._lock:
                    fake.calls.append(Call(method, params, status))
                self.send_json(status, payload)

            do_GET = do_POST

        super().__init__(Handler)
        self.url = f"http://127.0.0.1:{self.port}/bot"

    # -- configuring -------------------------------------------------------------------------------------------
    def push(self, update: dict) -> None:
        with self._lock:
            self.updates.append(update)

    def rate_limit_next(self, method: str = "sendMessage", retry_after: int = 1) -> None:
        with self._lock:
            self._once.setdefault(method, []).append((429, {
                "ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {retry_after}",
                "parameters": {"retry_after": retry_after}}))

    def fail_next(self, method: str, status: int = 400, description: str = "Bad Request: chat not found") -> None:
        with self._lock:
            self._once.setdefault(method, []).append((status, {"ok": False, "error_code": status,
                                                               "description": description}))

    # -- reading -----------------------------------------------------------------------------------------------
    def of(self, method: str, ok_only: bool = True) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)]

    def sent(self) -> list[dict]:
        return [c.params for c in self.of("sendMessage")]

    # -- answering ---------------------------------------------------------------------------------------------
    def _answer(self, token: str, method: str, params: dict) -> tuple[int, dict]:
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        with self._lock:
            queued = self._once.get(method)
            if queued:
                return queued.pop(0)
        if method == "getMe":
            return 200, {"ok": True, "result": BOT}
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            with self._lock:
                if offset:
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]  # acknowledged
                pending = [u for u in self.updates if u["update_id"] >= offset]
            if not pending:
                time.sleep(min(float(params.get("timeout") or 0), 0.05))
            return 200, {"ok": True, "result": pending[:100]}
        if method == "sendMessage":
            chat_id = int(params["chat_id"])
            message = {"message_id": next(self._ids), "date": int(time.time()), "text": params.get("text", ""),
                       "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"}, "from": BOT}
            return 200, {"ok": True, "result": message}
        if method in ("setWebhook", "deleteWebhook"):
            return 200, {"ok": True, "result": True}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}


def _parse(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    if "json" in content_type:
        params = json.loads(raw)
    elif "multipart/form-data" in content_type:
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        params = {part.get_param("name", header="content-disposition"): part.get_content()
                  for part in msg.iter_parts()}
    else:
        params = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(raw.decode("utf-8"),
                                                                     keep_blank_values=True).items()}
    for key in JSON_FIELDS:
        if isinstance(params.get(key), str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                pass
    return params
