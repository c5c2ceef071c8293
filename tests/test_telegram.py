"""The Telegram connector, driven through the real python-telegram-bot Application against a local fake Bot API.

Updates are queued on the fake and fetched by the connector's own getUpdates loop (or posted to its webhook);
what Resonate sends to Telegram is read back from the fake. Slack cards and clicks go through the fake Slack
of test_slack.
"""

import dataclasses
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from click.testing import CliRunner

from bot.autoreply import auto_reply_decision
from bot.bootstrap import App
from bot.channels import telegram as tg_mod
from bot.channels.telegram import MAX_MESSAGE_CHARS, UpdateNotStored, split_text, to_message
from bot.cli import cli
from bot.config import Config
from bot.errors import ConfigError
from bot.message import utcnow
from nlp.embeddings import HashingEmbedder
from tests.fake_slack import FakeSlack
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.test_slack import REVIEW, SECRET, buttons, card_of, click, send_button

CHAT, USER = 4242, 4242
NASTY = "Привет 👋🏽 שלום עולם! *bold* _it_ `code` [link](http://x.y) <b>&amp;</b> \\ ~~ 1*2 **"


@pytest.fixture
def tgfake():
    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture
def slackfake():
    server = FakeSlack().start()
    yield server
    server.stop()


def make_app(tmp_path, tmp_path_factory, tgfake, slackfake=None, **settings):
    slack = {} if slackfake is None else dict(
        slack_bot_token="xoxb-test-token", slack_signing_secret=SECRET, slack_api_url=slackfake.url,
        review_channel=REVIEW)
    return App(Config(db=tmp_path / "tg.db", cache_dir=tmp_path_factory.getbasetemp() / "cache", embedder="hashing",
                      min_similarity=0.1, min_confidence=0.2, telegram_bot_token=TOKEN,
                      telegram_api_url=tgfake.url, **slack, **settings), embedder=HashingEmbedder())


@pytest.fixture
def app(tmp_path, tmp_path_factory, tgfake):
    application = make_app(tmp_path, tmp_path_factory, tgfake)
    yield application
    application.close()


@pytest.fixture
def both(tmp_path, tmp_path_factory, tgfake, slackfake):
    """Telegram and Slack: the Slack relay delivers to Telegram through the Telegram sender."""
    application = make_app(tmp_path, tmp_path_factory, tgfake, slackfake)
    slack = application.slack
    slack.relay.per_channel_interval = 0.0
    slack.add_sender("telegram", application.telegram.sender)
    yield application
    application.close()


def update(update_id, text="where is my order FB-20431?", *, message_id=None, chat=CHAT, user=USER, **extra):
    message = {"message_id": message_id or update_id + 100, "date": 1700000000 + update_id,
               "chat": {"id": chat, "type": "private" if chat > 0 else "group", "first_name": "Ben"},
               "from": {"id": user, "is_bot": False, "first_name": "Ben", "last_name": "Ode", "username": "benode",
                        "language_code": "de"}, **extra}
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


def poll(application, times=1):
    connector = application.telegram
    return sum(connector.call(connector.poll_once(timeout=0)) for _ in range(times))


def mid(application, message_id, chat=CHAT):
    """The store id of the Telegram message ``message_id`` (update N carries message N + 100)."""
    return rows(application, "SELECT id FROM messages WHERE source_id = ?", [f"{chat}:{message_id}"])[0]["id"]


def rows(application, sql, params=()):
    return list(application.store.db.query(sql, params))


# -- in: updates -> messages ------------------------------------------------------------------------------------
def test_a_private_message_is_stored_with_its_contact_and_gets_a_slack_card(both, tgfake, slackfake):
    tgfake.push(update(1, "where is my order FB-20431? it's late"))
    assert poll(both) == 1
    message = both.store.message(1)
    assert message["source"] == "telegram" and message["source_id"] == f"{CHAT}:101" and message["event_id"] == "1"
    assert message["chat_id"] == str(CHAT) and message["sender_id"] == str(USER) and message["kind"] == "text"
    assert message["first_name"] == "Ben" and message["username"] == "benode" and message["display_name"] == "Ben Ode"
    contact = rows(both, "SELECT language FROM contacts")[0]
    assert contact["language"] == "de"
    assert json.loads(message["raw"])["update_id"] == 1
    card = card_of(slackfake)
    dumped = json.dumps(card["blocks"])
    assert "Ben Ode" in dumped and "telegram" in dumped and "FB-20431" in dumped
    assert [b["text"]["text"] for b in buttons(card["blocks"]) if b["type"] == "button"].count("Send") >= 1
    assert rows(both, "SELECT update_id, kind, message_id FROM telegram_updates") == [
        {"update_id": 1, "kind": "message", "message_id": 1}]
    assert not tgfake.sent()  # nothing goes to the customer without a decision (auto-reply is off)


def test_clicking_send_in_slack_sends_exactly_one_plain_reply_to_the_right_chat(both, tgfake, slackfake):
    tgfake.push(update(1, "where is my order FB-20431?"))
    tgfake.push(update(2, "hello", chat=777, user=777))
    poll(both)
    button = send_button(card_of(slackfake, 0)["blocks"], 1)
    chosen = both.store.suggestions(1)[0]["text"]
    for _ in range(2):  # a double click
        click(both.slack, {"action_id": button["action_id"], "value": button["value"], "type": "button"})
    both.slack.relay.drain(timeout=10)
    both.slack.relay.drain(timeout=10)
    sent = tgfake.sent()
    assert len(sent) == 1
    assert sent[0]["chat_id"] == str(CHAT) and sent[0]["text"] == chosen
    assert sent[0]["reply_parameters"]["message_id"] == 101 and "parse_mode" not in sent[0]
    outbox = both.store.outbox_of(1)
    assert outbox["state"] == "sent" and outbox["sent_message_id"] == f"{CHAT}:1000"
    out = rows(both, "SELECT source_id, text, reply_to_id FROM messages WHERE direction = 'out'")
    assert out == [{"source_id": f"{CHAT}:1000", "text": chosen, "reply_to_id": f"{CHAT}:101"}]
    assert "Delivered" in json.dumps(slackfake.of("chat.update")[-1].body["blocks"])


def test_an_edited_message_is_analysed_again_and_its_card_redrawn(both, tgfake, slackfake):
    tgfake.push(update(1, "where is my order? it's late"))
    poll(both)
    edited = update(1, "where is my order FB-20431? it's late")["message"]
    tgfake.push({"update_id": 2, "edited_message": {**edited, "edit_date": 1700000100}})
    assert poll(both) == 1
    assert "edited_message" in tgfake.of("getUpdates")[-1].params["allowed_updates"]  # Telegram sends edits only then
    assert both.store.message(1)["text"] == "where is my order FB-20431? it's late"
    assert both.store.count("messages") == 1 and "FB-20431" in both.store.suggestions(1)[0]["text"]
    assert "FB-20431" in json.dumps(slackfake.of("chat.update")[-1].body["blocks"])
    assert rows(both, "SELECT update_id, kind, message_id FROM telegram_updates") == [
        {"update_id": 1, "kind": "message", "message_id": 1},
        {"update_id": 2, "kind": "edited_message", "message_id": 1}]


def test_the_same_update_delivered_twice_is_stored_and_carded_once(both, tgfake, slackfake):
    tgfake.push(update(1, "refund please"))
    poll(both)
    # Telegram delivers it again (we crashed before acknowledging), once with the same update_id and once
    # as a new update carrying the same message
    both.telegram.offset = None
    tgfake.push(update(1, "refund please"))
    tgfake.push(update(2, "refund please", message_id=101))
    poll(both, 2)
    assert both.store.count("messages") == 1 and both.store.count("analyses") == 1
    assert len(slackfake.posts_to(REVIEW)) == 1


def test_an_update_is_acknowledged_only_after_it_is_stored(app, tgfake, monkeypatch):
    real = app.pipeline.receive
    calls = {"n": 0}

    def flaky(message):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk full")
        return real(message)

    monkeypatch.setattr(app.pipeline, "receive", flaky)
    tgfake.push(update(1, "first"))
    tgfake.push(update(2, "second"))
    with pytest.raises(UpdateNotStored):
        poll(app)
    assert app.store.count("messages") == 0 and app.telegram.offset is None
    assert poll(app) == 2  # delivered again, because it was never acknowledged
    assert [m["text"] for m in rows(app, "SELECT text FROM messages ORDER BY id")] == ["first", "second"]
    poll(app)
    assert tgfake.of("getUpdates")[-1].params["offset"] == "3"  # acknowledged now


def test_stickers_photos_and_captions(both, tgfake, slackfake):
    tgfake.push(update(1, None, sticker={"file_id": "S1", "file_unique_id": "u1", "width": 512, "height": 512,
                                         "is_animated": False, "is_video": False, "type": "regular"}))
    photo = [{"file_id": "P1", "file_unique_id": "p1", "width": 90, "height": 90}]
    tgfake.push(update(2, None, photo=photo))
    tgfake.push(update(3, None, photo=photo, caption="my grinder arrived broken, see photo"))
    tgfake.push(update(4, None, location={"latitude": 52.5, "longitude": 13.4}))
    assert poll(both) == 4
    got = rows(both, "SELECT kind, text, status FROM messages ORDER BY id")
    assert got == [{"kind": "sticker", "text": "", "status": "ignored"}, {"kind": "photo", "text": "", "status": "ignored"},
                   {"kind": "text", "text": "my grinder arrived broken, see photo", "status": "suggested"},
                   {"kind": "location", "text": "", "status": "ignored"}]
    assert both.store.count("analyses") == 1 and len(slackfake.posts_to(REVIEW)) == 1


def test_group_messages_use_the_chat_as_conversation_and_the_sender_as_contact(app, tgfake):
    tgfake.push(update(1, "does the grinder fit the V60?", chat=-100123, user=55))
    poll(app)
    message = app.store.message(1)
    assert message["chat_id"] == "-100123" and message["sender_id"] == "55"


def test_malformed_updates_are_kept_and_do_not_block_the_next_ones(app, tgfake):
    tgfake.push({"update_id": 1, "message": {"message_id": "x", "chat": "nope"}})
    tgfake.push({"update_id": 2, "edited_message": update(2)["message"]})
    tgfake.push(update(3, "still here?"))
    assert poll(app) == 3
    assert [m["text"] for m in rows(app, "SELECT text FROM messages")] == ["still here?"]
    kept = {r["update_id"]: r for r in rows(app, "SELECT * FROM telegram_updates")}
    assert kept[1]["kind"] == "malformed" and kept[1]["error"] and json.loads(kept[1]["raw"])["update_id"] == 1
    assert kept[2]["kind"] == "edited_message" and kept[3]["message_id"] == 1
    assert app.telegram.offset == 4


def test_to_message_is_a_pure_translation():
    message = to_message(update(9, "/stop@fernbrew_bot"), "fernbrew_bot")
    assert message.kind == "command" and message.event_id == "9" and message.source_id == f"{CHAT}:109"
    assert to_message(update(9, "/stop@other_bot"), "fernbrew_bot").kind == "text"
    assert to_message({"update_id": 3, "my_chat_member": {}}) is None
    with pytest.raises(ValueError):
        to_message({"message": {}})
    long = to_message(update(1, "x" * 30_000))
    assert len(long.text) == 20_000


# -- commands -------------------------------------------------------------------------------------------------------
def test_start_help_and_stop(app, tgfake):
    tgfake.push(update(1, "/start"))
    tgfake.push(update(2, "/help"))
    tgfake.push(update(3, "/stop"))
    poll(app)
    sent = tgfake.sent()
    assert len(sent) == 3 and all(s["chat_id"] == str(CHAT) and "parse_mode" not in s for s in sent)
    assert "Ben" in sent[0]["text"] and "read by a person" in sent[0]["text"]
    assert "/stop" in sent[1]["text"] and "won't contact you" in sent[2]["text"]
    assert app.store.opted_out("telegram", str(USER))
    assert app.store.reachable_contacts("telegram") == []  # campaign outreach skips them
    assert app.store.count("analyses") == 0  # commands are stored, not analysed
    app.telegram.offset = None
    tgfake.push(update(3, "/stop"))
    poll(app)
    assert len(tgfake.sent()) == 3  # a redelivered command is not answered twice
    tgfake.push(update(4, "/start"))
    poll(app)
    assert not app.store.opted_out("telegram", str(USER))


# -- sending --------------------------------------------------------------------------------------------------------
def test_a_429_is_waited_out_then_the_reply_is_sent(both, tgfake, slackfake):
    tgfake.push(update(1, "where is my order FB-20431?"))
    poll(both)
    button = send_button(card_of(slackfake)["blocks"])
    tgfake.rate_limit_next("sendMessage", retry_after=1)
    click(both.slack, {"action_id": button["action_id"], "value": button["value"], "type": "button"})
    start = time.monotonic()
    both.slack.relay.drain(timeout=10)
    assert [c.status for c in tgfake.of("sendMessage", ok_only=False)] == [429, 200]
    assert time.monotonic() - start >= 0.9
    row = both.store.outbox_of(1)
    assert row["state"] == "sent" and row["attempts"] == 1


def test_a_10000_character_reply_is_split_paced_and_sent_whole(app, tgfake):
    sentence = "Thanks for waiting, we checked your grinder and the burr set is fine. "
    text = (sentence * 200)[:10_000].strip()
    slept = []
    sender = app.telegram.sender
    sender.sleep = slept.append
    tgfake.rate_limit_next("sendMessage", retry_after=1)  # the first part: the relay's to wait out
    with pytest.raises(tg_mod.RateLimited):
        sender.send(str(CHAT), text, f"{CHAT}:101")
    tgfake.push(update(1))
    sent_id = sender.send(str(CHAT), text, f"{CHAT}:101")
    parts = tgfake.sent()
    assert len(parts) == 3 and all(len(p["text"]) <= MAX_MESSAGE_CHARS for p in parts)
    assert all(p["text"].endswith(".") for p in parts[:-1])  # cut after a sentence
    assert " ".join(p["text"] for p in parts) == text
    assert parts[0]["reply_parameters"]["message_id"] == 101 and "reply_parameters" not in parts[1]
    assert slept == [1.0, 1.0]  # one message per second in a chat
    assert sent_id == f"{CHAT}:{1000}"


def test_a_429_in_the_middle_of_a_long_reply_is_waited_out_without_resending_the_start(app, tgfake):
    slept = []
    sender = app.telegram.sender
    sender.sleep = slept.append
    text = "word " * 2000
    tgfake.push(update(1))
    real_answer = tgfake._answer
    count = {"n": 0}

    def answer(token, method, params):
        if method == "sendMessage":
            count["n"] += 1
            if count["n"] == 2:
                return 429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                             "parameters": {"retry_after": 1}}
        return real_answer(token, method, params)

    tgfake._answer = answer
    sender.send(str(CHAT), text, None)
    assert len(tgfake.sent()) == 3 and slept == [1.0, 1.0, 1.0]


def test_split_text_prefers_sentences_then_words():
    assert split_text("short") == ["short"]
    words = split_text("abc " * 3000, 100)
    assert all(len(p) <= 100 and not p.endswith(" ") for p in words) and "".join(words).count("abc") == 3000
    assert all(len(p) <= 50 for p in split_text("x" * 120, 50))  # no space at all: hard cut


def test_text_with_emoji_rtl_and_markdown_arrives_unchanged(app, tgfake):
    tgfake.push(update(1, NASTY))
    poll(app)
    assert app.store.message(1)["text"] == NASTY
    app.telegram.sender.send(str(CHAT), NASTY, f"{CHAT}:101")
    sent = tgfake.sent()[-1]
    assert sent["text"] == NASTY and "parse_mode" not in sent


def test_a_blocked_bot_is_a_permanent_failure(app, tgfake):
    from bot.errors import SendError

    tgfake.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(SendError) as err:
        app.telegram.sender.send(str(CHAT), "hello", None)
    assert err.value.permanent and "blocked" in str(err.value)


# -- auto-reply -----------------------------------------------------------------------------------------------------
NOW = utcnow()
OK = dict(enabled=True, intent="greeting", playbook_allows=True, confidence=0.95, threshold=0.9,
          sentiment="positive", opted_out=False, last_human_reply_at=None, now=NOW)


@pytest.mark.parametrize("change, reason", [
    ({"enabled": False}, "auto-reply is off"),
    ({"intent": "unknown"}, "unknown"),
    ({"playbook_allows": False}, "does not allow"),
    ({"confidence": 0.89}, "below 0.90"),
    ({"sentiment": "negative"}, "negative"),
    ({"opted_out": True}, "opted out"),
    ({"last_human_reply_at": NOW - timedelta(hours=23)}, "a person replied"),
])
def test_auto_reply_refusals(change, reason):
    ok, why = auto_reply_decision(**{**OK, **change})
    assert not ok and reason in why


def test_auto_reply_allowed():
    assert auto_reply_decision(**OK)[0]
    assert auto_reply_decision(**{**OK, "confidence": 0.90})[0]  # at the threshold
    assert auto_reply_decision(**{**OK, "last_human_reply_at": NOW - timedelta(hours=25)})[0]


def force_analysis(application, intent, confidence, sentiment):
    analyzer = application.analyzer
    real = analyzer.analyze_many

    def analyze_many(texts, vectors=None, tone=None, weighted=None, idf=None):
        return [dataclasses.replace(a, intent=intent, confidence=confidence, sentiment=sentiment)
                for a in real(texts, vectors, tone, weighted, idf)]

    analyzer.analyze_many = analyze_many


@pytest.fixture
def auto(tmp_path, tmp_path_factory, tgfake, slackfake):
    application = make_app(tmp_path, tmp_path_factory, tgfake, slackfake, auto_reply=True)
    application.slack.relay.per_channel_interval = 0.0
    application.slack.add_sender("telegram", application.telegram.sender)
    yield application
    application.close()


def test_auto_reply_answers_a_safe_message_at_once_with_an_fyi_card(auto, tgfake, slackfake):
    force_analysis(auto, "greeting", 0.97, "positive")
    tgfake.push(update(1, "hi there!"))
    poll(auto)
    auto.slack.relay.drain(timeout=10)
    sent = tgfake.sent()
    assert len(sent) == 1 and sent[0]["text"] == auto.store.suggestions(1, state="auto_sent")[0]["text"]
    assert [d["action"] for d in rows(auto, "SELECT action FROM decisions")] == ["auto_sent"]
    card = card_of(slackfake)
    dumped = json.dumps(card["blocks"])
    assert "FYI: answered automatically" in dumped and "resonate_send_" not in dumped
    assert auto.store.outbox_of(1)["state"] == "sent"


@pytest.mark.parametrize("intent, confidence, sentiment", [
    ("greeting", 0.80, "positive"),  # not confident enough
    ("greeting", 0.97, "negative"),
    ("order_status", 0.99, "neutral"),  # its playbook never allows automatic answers
])
def test_auto_reply_refused_waits_for_a_person(auto, tgfake, slackfake, intent, confidence, sentiment):
    force_analysis(auto, intent, confidence, sentiment)
    tgfake.push(update(1, "hi there!"))
    poll(auto)
    auto.slack.relay.drain(timeout=5)
    assert not tgfake.sent() and auto.store.card(1)["state"] == "open"
    assert "resonate_send_1" in json.dumps(card_of(slackfake)["blocks"])


def test_auto_reply_respects_opt_out_and_a_recent_human_reply(auto, tgfake, slackfake):
    force_analysis(auto, "greeting", 0.97, "positive")
    tgfake.push(update(1, "where is my order FB-20431?"))
    poll(auto)  # answered automatically: the first message
    auto.slack.relay.drain(timeout=5)
    tgfake.push(update(2, "hello again"))
    auto.store.db.execute("UPDATE decisions SET action = 'sent'")  # as if a person had answered it
    poll(auto)
    assert auto.store.card(mid(auto, 102))["state"] == "open"
    tgfake.push(update(3, "/stop"))
    tgfake.push(update(4, "hello", chat=999, user=999))
    tgfake.push(update(5, "/stop", chat=999, user=999))
    tgfake.push(update(6, "hello?", chat=999, user=999))
    poll(auto)
    assert auto.store.card(mid(auto, 106, 999))["state"] == "open"  # opted out
    assert auto.store.card(mid(auto, 105, 999)) is None  # commands get no card
    auto.slack.relay.drain(timeout=5)
    # automatic answers to the first messages of each chat, and the two /stop confirmations
    assert sorted(s["chat_id"] for s in tgfake.sent()) == [str(CHAT), str(CHAT), "999", "999"]


def test_auto_reply_is_off_by_default_and_on_with_the_environment():
    assert Config.load(env={}).auto_reply is False
    assert Config.load(env={"RESONATE_AUTO_REPLY": "1"}).auto_reply is True
    assert Config.load(env={}).auto_reply_threshold == 0.90


# -- webhook --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("header, status", [("s3cret-token_OK", 200), ("wrong", 403), (None, 403)])
def test_webhook_checks_the_secret_token_on_every_request(app, tgfake, header, status):
    from bot.channels.slack import serve_wsgi

    connector = app.telegram
    path = connector.set_webhook("https://bot.example.com/telegram/hook", "s3cret-token_OK")
    hook = tgfake.of("setWebhook")[-1].params
    assert hook["url"] == "https://bot.example.com/telegram/hook" and hook["secret_token"] == "s3cret-token_OK"
    assert hook.get("drop_pending_updates") in (None, "False", "false")
    ready = threading.Event()
    box = {}

    def on_ready(server):
        box["server"] = server
        ready.set()

    thread = threading.Thread(target=serve_wsgi, args=({path: connector.wsgi_app}, 0, "127.0.0.1", on_ready),
                              daemon=True)
    thread.start()
    ready.wait(10)
    server = box["server"]
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}{path}"
        headers = {"Content-Type": "application/json"}
        if header is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = header
        req = urllib.request.Request(url, data=json.dumps(update(1, NASTY)).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                got = r.status
        except urllib.error.HTTPError as e:
            got = e.code
        assert got == status
        assert app.store.count("messages") == (1 if status == 200 else 0)
        if status == 200:
            assert app.store.message(1)["text"] == NASTY
    finally:
        server.shutdown()
        server.server_close()


# -- configuration, start-up and the CLI ----------------------------------------------------------------------------
def test_telegram_settings_use_telegrams_own_environment_names():
    cfg = Config.load(env={"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": "http://127.0.0.1:1/bot",
                           "TELEGRAM_WEBHOOK_SECRET": "abc_DEF-1"})
    assert cfg.telegram_bot_token == TOKEN and cfg.telegram_api_url == "http://127.0.0.1:1/bot"
    assert cfg.telegram_webhook_secret == "abc_DEF-1" and TOKEN not in repr(cfg)
    assert Config.load(env={}).telegram_api_url == "https://api.telegram.org/bot"


@pytest.mark.parametrize("env, setting", [
    ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN"),
    ({"TELEGRAM_API_URL": "api.telegram.org/bot"}, "TELEGRAM_API_URL"),
    ({"TELEGRAM_WEBHOOK_SECRET": "has spaces!"}, "TELEGRAM_WEBHOOK_SECRET"),
])
def test_malformed_telegram_settings_name_the_setting(env, setting):
    with pytest.raises(ConfigError) as err:
        Config.load(env=env)
    assert err.value.setting == setting


def test_a_token_telegram_rejects_stops_start_up(tmp_path, tgfake):
    application = App(Config(db=tmp_path / "t.db", embedder="hashing", telegram_api_url=tgfake.url,
                             telegram_bot_token="987654321:WRONG-token_abcdefghijklmnopq"))
    with pytest.raises(ConfigError) as err:
        application.telegram.start()
    assert err.value.setting == "TELEGRAM_BOT_TOKEN" and "987654321:WRONG" not in str(err.value)
    application.close()


def test_inbox_and_reply_work_without_slack(app, tgfake, tmp_path, monkeypatch):
    tgfake.push(update(1, "where is my order FB-20431?"))
    tgfake.push(update(2, "/start"))
    poll(app)
    for key, value in {"RESONATE_DB": str(tmp_path / "tg.db"), "RESONATE_EMBEDDER": "hashing",
                       "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": tgfake.url}.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    listed = runner.invoke(cli, ["inbox", "--json"])
    assert listed.exit_code == 0, listed.output
    pending = json.loads(listed.stdout)["pending"]
    assert [p["id"] for p in pending] == [1] and pending[0]["suggestions"]
    text_listing = runner.invoke(cli, ["inbox"])
    assert "#1" in text_listing.output and "resonate reply" in text_listing.output
    assert runner.invoke(cli, ["reply", "1"]).exit_code == 2  # N or --text
    before = len(tgfake.sent())
    sent = runner.invoke(cli, ["reply", "1", "--text", NASTY, "--json"])
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.stdout)["state"] == "sent"
    assert tgfake.sent()[before:] == [{"chat_id": str(CHAT), "text": NASTY,
                                       "reply_parameters": {"allow_sending_without_reply": True, "message_id": 101}}]
    again = runner.invoke(cli, ["reply", "1", "1"])
    assert again.exit_code == 1 and "already handled" in again.output
    assert json.loads(runner.invoke(cli, ["inbox", "--json"]).stdout)["pending"] == []


def test_resonate_run_without_any_connector_names_the_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("RESONATE_DB", str(tmp_path / "x.db"))
    result = CliRunner().invoke(cli, ["run"])
    assert result.exit_code == 1 and "SLACK_BOT_TOKEN" in result.output and "TELEGRAM_BOT_TOKEN" in result.output
