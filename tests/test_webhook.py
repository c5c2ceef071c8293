"""The inbox webhook through a real HTTP server on 127.0.0.1, port 0."""

import json
import threading
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from bot.channels import webhook
from bot.channels.slack import make_wsgi_server
from bot.cli import cli

TOKEN = "s3cret-token-for-the-inbox-webhook"


@pytest.fixture
def inbox(fake_app):
    server = make_wsgi_server({webhook.PATH: webhook.InboxWebhook(fake_app, TOKEN)}, 0, "127.0.0.1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{webhook.PATH}", fake_app
    server.shutdown()
    server.server_close()


def post(url, body, token=TOKEN, raw=None, key=None):
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


MESSAGES = [
    {"id": "mail-1", "source": "email", "sender": "anna@example.com", "sender_name": "Anna Kowalski",
     "text": "Where is my order FB-20431?", "subject": "Order"},
    {"id": "form-7", "source": "webform", "sender": "ben", "text": "Do you ship to Canada?"},
]


def test_messages_posted_are_stored_analysed_and_suggested_once(inbox):
    url, app = inbox
    status, body = post(url, MESSAGES)
    assert status == 200, body
    assert (body["stored"], body["duplicates"], body["not_read"]) == (2, 0, ["subject"])
    first = body["message_ids"][0]
    assert app.store.message(first)["source"] == "email"
    assert app.store.analysis(first)["entities"] and app.store.suggestions(first)
    status, again = post(url, MESSAGES[0])  # one object is one message; a retried delivery is stored once
    assert status == 200 and (again["stored"], again["duplicates"]) == (0, 1)
    assert app.store.count("messages") == 2


def test_a_message_posted_again_with_its_id_and_another_text_is_an_edit(inbox):
    url, app = inbox
    post(url, MESSAGES[0])
    edited = {**MESSAGES[0], "text": "Where is my order FB-20431? It was due Friday."}
    status, body = post(url, edited)
    assert status == 200 and (body["stored"], body["duplicates"], body["edited"]) == (0, 0, 1), body
    message = app.store.message(body["message_ids"][0])
    assert message["text"] == edited["text"] and app.store.count("messages") == 1
    status, again = post(url, edited)  # a retry of the edit
    assert (again["stored"], again["duplicates"], again["edited"]) == (0, 1, 0)
    # without an id of its own (an Idempotency-Key's), another text is not taken for an edit
    post(url, {"sender": "cara", "text": "hello"}, key="k-1")
    status, reused = post(url, {"sender": "cara", "text": "bye"}, key="k-1")
    assert reused["edited"] == 0 and app.store.db.execute(
        "SELECT COUNT(*) FROM messages WHERE text = 'hello'").fetchone()[0] == 1


def test_a_retry_without_message_ids_is_stored_once_with_an_idempotency_key(inbox):
    url, app = inbox
    form = [{"source": "webform", "sender": "cleo", "text": "Do you ship to Chile?"},
            {"source": "webform", "sender": "cleo", "text": "Do you ship to Chile?"}]  # said twice: two messages
    status, first = post(url, form, key="form-submission-81")
    assert status == 200 and first["stored"] == 2 and "warning" not in first
    status, retry = post(url, form, key="form-submission-81")  # the same delivery after a timeout
    assert status == 200 and (retry["stored"], retry["duplicates"]) == (0, 2)
    assert retry["message_ids"] == first["message_ids"]
    status, later = post(url, form[:1], key="form-submission-82")  # a new submission
    assert status == 200 and later["stored"] == 1
    # with nothing to know a retry by, the answer says so
    status, unkeyed = post(url, [{"sender": "dan", "text": "hello?"}, {"sender": "dan", "text": "x", "id": "d1"}])
    assert status == 200 and "1 message(s) (1) had no id and no timestamp" in unkeyed["warning"]
    status, too_long = post(url, form, key="k" * 256)
    assert status == 400 and "Idempotency-Key" in too_long["error"]
    assert app.store.count("messages") == 5


@pytest.mark.parametrize("token", [None, "wrong-token-of-some-length", ""])
def test_a_missing_or_wrong_token_stores_nothing(inbox, token):
    url, app = inbox
    status, body = post(url, MESSAGES, token=token)
    assert status == 401 and "RESONATE_WEBHOOK_TOKEN" in body["error"]
    assert app.store.count("messages") == 0


@pytest.mark.parametrize("payload, raw, needle", [
    (None, b"{not json", "not JSON"),
    ([MESSAGES[0], {"sender": "c"}], None, "message 2: 'text' is missing"),
    ([MESSAGES[0], "just text"], None, "message 2: must be a JSON object"),
    ([], None, "send 1 to 500 messages, not 0"),
    ([MESSAGES[0], {"text": "x" * 20_001, "sender": "d"}], None, "message 2: 'text' is 20001 characters"),
])
def test_a_bad_request_says_what_and_stores_nothing(inbox, payload, raw, needle):
    url, app = inbox
    status, body = post(url, payload, raw=raw)
    assert status == 400 and needle in body["error"], body
    assert app.store.count("messages") == 0  # the good message of a refused request is not stored either


def test_a_body_over_the_limit_is_refused(inbox, monkeypatch):
    monkeypatch.setattr(webhook, "MAX_BYTES", 100)
    url, app = inbox
    status, body = post(url, MESSAGES)
    assert status == 413 and "100 bytes" in body["error"]
    assert app.store.count("messages") == 0


def test_run_with_the_webhook_needs_a_long_enough_token(monkeypatch, tmp_path):
    monkeypatch.setenv("RESONATE_DB", str(tmp_path / "w.db"))
    result = CliRunner().invoke(cli, ["run", "--inbox-webhook"])
    assert result.exit_code == 1 and "RESONATE_WEBHOOK_TOKEN" in result.output and "not set" in result.output
    monkeypatch.setenv("RESONATE_WEBHOOK_TOKEN", "short")
    result = CliRunner().invoke(cli, ["run", "--inbox-webhook"])
    assert result.exit_code == 1 and "RESONATE_WEBHOOK_TOKEN" in result.output and "16 characters" in result.output


@pytest.mark.parametrize("length", ["abc", "-5"])
def test_a_content_length_that_is_no_byte_count_is_refused(inbox, length):
    import http.client
    from urllib.parse import urlsplit

    url, app = inbox
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.putrequest("POST", parts.path)
    conn.putheader("Authorization", f"Bearer {TOKEN}")
    conn.putheader("Content-Length", length)
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 400 and "byte count" in json.loads(response.read())["error"]
    conn.close()
    assert app.store.count("messages") == 0


def test_run_stops_cleanly_on_sigterm(tmp_path):
    """systemctl stop and docker stop send SIGTERM: run closes down as on Ctrl-C instead of being killed."""
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "RESONATE_DB": str(tmp_path / "t.db"), "RESONATE_CACHE_DIR": str(tmp_path / "cache"),
           "RESONATE_EMBEDDER": "hashing", "RESONATE_WEBHOOK_TOKEN": TOKEN, "XDG_CONFIG_HOME": str(tmp_path)}
    for name in ("SLACK_BOT_TOKEN", "TELEGRAM_BOT_TOKEN", "RESONATE_CONFIG"):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable, "-c", "from bot.cli import main; main()", "run", "--inbox-webhook",
                             "--host", "127.0.0.1", "--port", "0"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not any(line.startswith("Serving") for line in lines):
            line = proc.stderr.readline()
            assert line, "".join(lines)  # it exited before serving
            lines.append(line)
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=30)[1]
    finally:
        proc.kill()
    assert proc.returncode == 0 and "Stopping" in rest, (proc.returncode, rest)
