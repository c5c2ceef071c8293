"""A fake Slack Web API on 127.0.0.1 (port 0), in the spirit of bolt-python's tests/mock_web_api_server.

It records every call (method, parsed JSON or form body, headers) and answers like Slack does for the
methods Resonate uses. ``fail_next(method, ...)`` makes the next call of a method answer something else once
(an HTTP 429 with Retry-After, or an ``ok: false`` error).
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from tests.fake_http import LocalServer, QuietHandler

BOT_USER_ID, BOT_ID, TEAM_ID = "UBOT0001", "BBOT0001", "T00000001"


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    ok: bool = True  # what the fake answered


class FakeSlack(LocalServer):
    def __init__(self):
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._once: dict[str, list[tuple[int, dict, dict]]] = {}
        self._ts = itertools.count(1)
        self.deleted: set[tuple[str, str]] = set()  # (channel, ts) of messages chat.delete took away
        self.users = {"U0CUSTOMER": {"real_name": "Anna Kowalski", "display_name": "anna"}}
        fake = self

        class Handler(QuietHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                if self.path.startswith("/upload/"):  # files_upload_v2's second step: the file's bytes
                    fake._record(Call("upload", {"file_id": self.path.rsplit("/", 1)[-1], "bytes": data},
                                      dict(self.headers)))
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"OK")
                    return
                raw = data.decode("utf-8")
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(raw).items()}
                    for key in ("blocks", "view"):
                        if isinstance(body.get(key), str):
                            body[key] = json.loads(body[key])
                method = self.path.rsplit("/", 1)[-1]
                status, payload, headers = fake._answer(method, body)
                fake._record(Call(method, body, dict(self.headers), status, bool(payload.get("ok"))))
                self.send_json(status, payload, headers)

            do_GET = do_POST

        super().__init__(Handler)
        self.url = f"http://127.0.0.1:{self.port}/api/"

    # -- configuring -------------------------------------------------------------------------------------------
    def fail_next(self, method: str, *, status: int = 200, error: str = "internal_error",
                  headers: dict[str, str] | None = None) -> None:
        """The next call of ``method`` answers ``status`` with ``{"ok": false, "error": error}``, once."""
        with self._lock:
            self._once.setdefault(method, []).append((status, {"ok": False, "error": error}, headers or {}))

    def rate_limit_next(self, method: str, retry_after: int = 1) -> None:
        self.fail_next(method, status=429, error="ratelimited", headers={"Retry-After": str(retry_after)})

    # -- reading -----------------------------------------------------------------------------------------------
    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def of(self, method: str, ok_only: bool = True) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and (c.ok or not ok_only)]

    def posts_to(self, channel: str) -> list[dict]:
        return [c.body for c in self.of("chat.postMessage") if c.body.get("channel") == channel]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    # -- answering ---------------------------------------------------------------------------------------------
    def _answer(self, method: str, body: dict) -> tuple[int, dict, dict]:
        with self._lock:
            queued = self._once.get(method)
            if queued:
                return queued.pop(0)
        if method == "auth.test":
            return 200, {"ok": True, "url": "https://fernbrew.slack.com/", "team": "Fernbrew", "user": "resonate",
                         "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID}, {}
        if method == "chat.postMessage":
            ts = f"1800000000.{next(self._ts):06d}"
            return 200, {"ok": True, "channel": body.get("channel"), "ts": ts,
                         "message": {"text": body.get("text"), "ts": ts, "bot_id": BOT_ID}}, {}
        if method == "chat.update":
            return 200, {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}, {}
        if method == "chat.delete":
            key = (body.get("channel"), body.get("ts"))
            with self._lock:
                if key in self.deleted:
                    return 200, {"ok": False, "error": "message_not_found"}, {}
                self.deleted.add(key)
            return 200, {"ok": True, "channel": key[0], "ts": key[1]}, {}
        if method == "chat.postEphemeral":
            return 200, {"ok": True, "message_ts": f"1800000000.{next(self._ts):06d}"}, {}
        if method == "views.open":
            return 200, {"ok": True, "view": {"id": "V0001", **(body.get("view") or {})}}, {}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts):08d}"
            return 200, {"ok": True, "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}",
                         "file_id": file_id}, {}
        if method == "files.completeUploadExternal":
            files = body.get("files")
            files = json.loads(files) if isinstance(files, str) else files or []
            return 200, {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}, {}
        if method == "users.info":
            user = self.users.get(body.get("user"))
            if user is None:
                return 200, {"ok": False, "error": "user_not_found"}, {}
            return 200, {"ok": True, "user": {"id": body.get("user"), "name": user["display_name"],
                                              "profile": dict(user)}}, {}
        return 200, {"ok": False, "error": "unknown_method"}, {}
