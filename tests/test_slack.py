"""The Slack connector, driven through the real slack-bolt App and WebClient against a local fake Web API.

Incoming events, clicks and commands are signed with slack_sdk's SignatureVerifier and dispatched to the
bolt App (as Slack's HTTP requests would be); what Resonate sends to Slack is read back from the fake.
"""

import json
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot import review
from bot.bootstrap import App
from bot.cli import cli
from bot.config import Config
from bot.errors import ConfigError
from nlp.embeddings import HashingEmbedder
from tests.fake_slack import BOT_ID, BOT_USER_ID, TEAM_ID, FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5".replace("y", "1").replace("z", "2")
INBOX, REVIEW, OTHER = "CINBOX001", "CREVIEW01", "COTHER001"
CUSTOMER, MANAGER, MANAGER2 = "U0CUSTOMER", "UMANAGER1", "UMANAGER2"


@pytest.fixture
def fake():
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def app(tmp_path, tmp_path_factory, fake):
    cache = tmp_path_factory.getbasetemp() / "cache"  # shared: the intent model trains once per session
    application = App(Config(db=tmp_path / "slack.db", cache_dir=cache, embedder="hashing",
                             min_similarity=0.1, min_confidence=0.2, slack_bot_token="xoxb-test-token",
                             slack_signing_secret=SECRET, slack_api_url=fake.url, review_channel=REVIEW,
                             watch_channels=(INBOX,)), embedder=HashingEmbedder())
    yield application
    application.close()


@pytest.fixture
def slack(app):
    connector = app.slack
    connector.relay.per_channel_interval = 0.0
    return connector


# -- building signed requests -------------------------------------------------------------------------------------
def signed_headers(body: str, content_type: str, timestamp: int | None = None) -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"content-type": content_type, "x-slack-request-timestamp": ts,
            "x-slack-signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)}


def dispatch(connector, body: str, content_type: str, headers: dict | None = None):
    all_headers = signed_headers(body, content_type)
    all_headers.update(headers or {})
    return connector.bolt.dispatch(BoltRequest(body=body, headers=all_headers))


def event_body(text="where is my order FB-20431?", *, channel=INBOX, ts="1700000000.000100", event_id="Ev0001",
               user=CUSTOMER, **extra) -> str:
    event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts, "event_ts": ts,
             "channel_type": "channel", **extra}
    return json.dumps({"token": "legacy", "team_id": TEAM_ID, "api_app_id": "A0001", "type": "event_callback",
                       "event_id": event_id, "event_time": 1700000000, "event": event})


def post_event(connector, *args, headers=None, **kwargs):
    return dispatch(connector, event_body(*args, **kwargs), "application/json", headers)


def action_body(action: dict, user=MANAGER, card_ts="1800000000.000001") -> str:
    payload = {"type": "block_actions", "team": {"id": TEAM_ID}, "user": {"id": user, "team_id": TEAM_ID},
               "api_app_id": "A0001", "token": "legacy", "trigger_id": "1111.2222.abcd",
               "container": {"type": "message", "message_ts": card_ts, "channel_id": REVIEW},
               "channel": {"id": REVIEW, "name": "review"}, "message": {"ts": card_ts, "type": "message"},
               "response_url": "http://127.0.0.1:9/never-used", "actions": [{**action, "action_ts": "1800000001.0"}]}
    return "payload=" + urllib.request.quote(json.dumps(payload))


def click(connector, action: dict, user=MANAGER):
    return dispatch(connector, action_body(action, user), "application/x-www-form-urlencoded")


def card_of(fake, index=-1) -> dict:
    return fake.posts_to(REVIEW)[index]


def buttons(blocks) -> list[dict]:
    out = []
    for b in blocks:
        if b.get("accessory", {}).get("type") == "button":
            out.append(b["accessory"])
        out += [e for e in b.get("elements", []) if e.get("type") in ("button", "static_select")]
    return out


def send_button(blocks, rank=1) -> dict:
    return next(b for b in buttons(blocks) if b.get("action_id") == f"{review.ACTION_SEND}_{rank}")


def thread_replies(fake, channel=INBOX) -> list[dict]:
    return fake.posts_to(channel)


# -- events -> cards ----------------------------------------------------------------------------------------------
def test_card_posted_for_a_watched_channel_message(slack, fake, app):
    response = post_event(slack, "where is my order FB-20431? still nothing")
    assert response.status == 200
    cards = fake.posts_to(REVIEW)
    assert len(cards) == 1
    card = cards[0]
    assert card["unfurl_links"] is False and card["unfurl_media"] is False
    text = json.dumps(card["blocks"])
    assert "Anna Kowalski" in text and "slack" in text and "0 earlier messages" in text
    assert "where is my order FB-20431? still nothing" in text
    assert "Intent *" in text and "Sentiment" in text and "FB-20431" in text
    labels = [b["text"]["text"] for b in buttons(card["blocks"]) if b["type"] == "button"]
    assert 1 <= labels.count("Send") <= 3 and "Edit" in labels and "Skip" in labels
    select = next(b for b in buttons(card["blocks"]) if b["type"] == "static_select")
    assert select["placeholder"]["text"] == "Wrong intent" and len(select["options"]) >= 10
    assert app.store.count("messages") == 1 and app.store.card(1)["ts"] == "1800000000.000001"


def test_thread_replies_are_inbox_messages_but_bots_and_other_channels_are_not(slack, fake, app):
    post_event(slack, "hello, my grinder is broken", ts="1700000000.000100", event_id="Ev1")
    post_event(slack, "any news?", ts="1700000050.000200", thread_ts="1700000000.000100", event_id="Ev2")
    post_event(slack, "I am a bot", ts="1700000060.000300", event_id="Ev3", bot_id="B999", subtype="bot_message")
    post_event(slack, "I am Resonate", ts="1700000061.000300", event_id="Ev3b", user=BOT_USER_ID, bot_id=BOT_ID)
    post_event(slack, "in the review channel", channel=REVIEW, ts="1700000070.000400", event_id="Ev4")
    post_event(slack, "somewhere else", channel=OTHER, ts="1700000080.000500", event_id="Ev5")
    post_event(slack, "edited", ts="1700000090.000600", event_id="Ev6", subtype="message_changed")
    assert app.store.count("messages") == 2
    assert len(fake.posts_to(REVIEW)) == 2
    reply = app.store.message(2)
    assert reply["chat_id"] == f"{INBOX}:1700000000.000100" and reply["reply_to_id"] == f"{INBOX}:1700000000.000100"
    assert "1 earlier message" in json.dumps(card_of(fake)["blocks"])


def test_the_same_event_delivered_again_is_stored_and_carded_once(slack, fake, app):
    first = post_event(slack, "refund please", event_id="EvSame")
    again = post_event(slack, "refund please", event_id="EvSame",
                       headers={"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"})
    assert first.status == again.status == 200
    assert app.store.count("messages") == 1 and app.store.count("analyses") == 1
    assert len(fake.posts_to(REVIEW)) == 1


def test_malformed_event_is_ignored_and_nothing_is_lost(slack, fake, app):
    post_event(slack, "first", event_id="EvA")
    body = json.dumps({"type": "event_callback", "team_id": TEAM_ID, "event_id": "EvBad",
                       "event": {"type": "message", "channel": INBOX, "ts": "not-a-time", "user": CUSTOMER}})
    assert dispatch(slack, body, "application/json").status == 200
    assert app.store.count("messages") == 1


# -- signatures ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tamper", ["wrong secret", "no signature", "old timestamp", "changed body"])
def test_bad_signature_is_refused_and_nothing_is_stored(slack, fake, app, tamper):
    body = event_body("hello")
    headers = signed_headers(body, "application/json")
    if tamper == "wrong secret":
        headers["x-slack-signature"] = SignatureVerifier("0" * 32).generate_signature(
            timestamp=headers["x-slack-request-timestamp"], body=body)
    elif tamper == "no signature":
        del headers["x-slack-signature"], headers["x-slack-request-timestamp"]
    elif tamper == "old timestamp":
        headers = signed_headers(body, "application/json", timestamp=int(time.time()) - 6 * 60)
    else:
        body = body.replace("hello", "hellO")
    response = slack.bolt.dispatch(BoltRequest(body=body, headers=headers))
    assert response.status == 401
    assert app.store.count("messages") == 0 and not fake.posts_to(REVIEW)


def test_http_mode_serves_post_slack_events_and_verifies_signatures(slack, app):
    from bot.channels.slack import make_http_server

    server = make_http_server(slack.bolt, 0, "127.0.0.1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
        body = event_body("hello from http")

        def post(headers):
            req = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    return r.status
            except urllib.error.HTTPError as e:
                return e.code

        assert post({"Content-Type": "application/json", "X-Slack-Signature": "v0=bad",
                     "X-Slack-Request-Timestamp": str(int(time.time()))}) == 401
        assert app.store.count("messages") == 0
        assert post(signed_headers(body, "application/json")) == 200
        assert app.store.count("messages") == 1
    finally:
        server.shutdown()
        server.server_close()


# -- decisions ----------------------------------------------------------------------------------------------------
def test_send_posts_the_chosen_text_in_the_customers_thread_once_under_a_double_click(slack, fake, app):
    post_event(slack, "where is my order FB-20431?", ts="1700000000.000100")
    blocks = card_of(fake)["blocks"]
    button = send_button(blocks, 1)
    chosen = app.store.suggestions(1)[0]["text"]
    assert click(slack, {"action_id": button["action_id"], "value": button["value"], "type": "button"}).status == 200
    assert click(slack, {"action_id": button["action_id"], "value": button["value"], "type": "button"},
                 user=MANAGER2).status == 200
    slack.relay.drain(timeout=10)
    slack.relay.drain(timeout=10)
    replies = thread_replies(fake)
    assert len(replies) == 1
    assert replies[0]["thread_ts"] == "1700000000.000100" and replies[0]["text"] == review.escape(chosen)
    assert replies[0]["unfurl_links"] is False
    polite = fake.of("chat.postEphemeral")
    assert len(polite) == 1 and polite[0].body["user"] == MANAGER2 and "already handled" in polite[0].body["text"]
    assert f"<@{MANAGER}>" in polite[0].body["text"]
    updated = json.dumps(fake.of("chat.update")[-1].body["blocks"])
    assert "Sent" in updated and f"<@{MANAGER}>" in updated and "UTC" in updated and "Delivered" in updated
    assert "resonate_send_1" not in updated  # the buttons are gone
    assert [d["action"] for d in app.store.db["decisions"].rows] == ["sent"]
    outbox = app.store.outbox_of(1)
    assert outbox["state"] == "sent" and outbox["attempts"] == 1
    assert outbox["sent_message_id"].startswith(f"{INBOX}:1800000000.")
    assert app.store.db.execute("SELECT COUNT(*) FROM messages WHERE direction = 'out'").fetchone()[0] == 1


def test_sending_the_unsubscribe_reply_opts_the_person_out_and_the_card_says_so(slack, fake, app):
    post_event(slack, "unsubscribe", ts="1700000000.000200")
    assert app.store.analysis(1)["intent"] == "unsubscribe"
    button = send_button(card_of(fake)["blocks"], 1)
    assert click(slack, {"action_id": button["action_id"], "value": button["value"], "type": "button"}).status == 200
    slack.relay.drain(timeout=10)
    assert app.store.message(1)["opted_out_at"]
    updated = json.dumps(fake.of("chat.update")[-1].body["blocks"])
    assert "Opted out" in updated and "no campaigns" in updated



def test_a_privacy_request_card_says_how_to_erase_the_person(slack, fake, app):
    post_event(slack, "hello there")
    assert "resonate forget" not in json.dumps(card_of(fake)["blocks"])
    select = next(b for b in buttons(card_of(fake)["blocks"]) if b["type"] == "static_select")
    option = next(o for o in select["options"] if o["value"] == "1:privacy_request")
    click(slack, {"action_id": review.ACTION_INTENT, "type": "static_select", "selected_option": option})
    assert "resonate forget --message 1 --yes" in json.dumps(fake.of("chat.update")[-1].body["blocks"])


def test_forget_deletes_the_persons_review_cards_in_slack(slack, fake, app, monkeypatch):
    """The card shows what they wrote: erasing them deletes it in Slack, and only theirs."""
    post_event(slack, "please delete all my data, Anna Kowalski")
    post_event(slack, "where is my order FB-20431?", user="U0OTHER01", ts="1700000000.000200", event_id="Ev0002")
    mine, other = app.store.card(1), app.store.card(2)
    assert mine["ts"] and other["ts"] and mine["ts"] != other["ts"]
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", fake.url)
    result = CliRunner().invoke(cli, ["forget", "--message", "1", "--yes", "--db", str(app.config.db)])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 review card in Slack." in result.output
    assert [(c.body["channel"], c.body["ts"]) for c in fake.of("chat.delete")] == [(REVIEW, mine["ts"])]
    assert app.store.card(1) is None and app.store.card(2)["ts"] == other["ts"]


def edit_body(text, *, ts="1700000000.000100", user=CUSTOMER, event_id="Ev0009"):
    """Slack's message_changed event: the customer edited their message ``ts`` to ``text``."""
    event = {"type": "message", "subtype": "message_changed", "channel": INBOX, "hidden": True,
             "ts": "1700000100.000001", "event_ts": "1700000100.000001",
             "message": {"type": "message", "user": user, "text": text, "ts": ts,
                         "edited": {"user": user, "ts": "1700000100.000000"}},
             "previous_message": {"type": "message", "user": user, "text": "before", "ts": ts}}
    return json.dumps({"token": "legacy", "team_id": TEAM_ID, "api_app_id": "A0001", "type": "event_callback",
                       "event_id": event_id, "event_time": 1700000100, "event": event})


def test_an_edited_message_is_analysed_again_and_its_card_redrawn(slack, fake, app):
    """The customer adds the order number by editing: the drafts use it instead of asking for it."""
    post_event(slack, "where is my order? it's late")
    assert not any("FB-20431" in s["text"] for s in app.store.suggestions(1))
    assert dispatch(slack, edit_body("where is my order FB-20431? it's late"), "application/json").status == 200
    assert app.store.message(1)["text"] == "where is my order FB-20431? it's late" and app.store.count("messages") == 1
    assert "FB-20431" in app.store.suggestions(1)[0]["text"]
    redrawn = fake.of("chat.update")[-1].body
    assert redrawn["ts"] == app.store.card(1)["ts"] and "FB-20431" in json.dumps(redrawn["blocks"])
    fake.clear()  # Slack also says "changed" when it adds a link preview: the same text changes nothing
    dispatch(slack, edit_body("where is my order FB-20431? it's late", event_id="Ev0010"), "application/json")
    assert not fake.of("chat.update")


def test_an_edit_keeps_a_persons_intent_correction(slack, fake, app):
    post_event(slack, "my scale arrived")
    select = next(b for b in buttons(card_of(fake)["blocks"]) if b["type"] == "static_select")
    option = next(o for o in select["options"] if o["value"] == "1:refund_return")
    click(slack, {"action_id": review.ACTION_INTENT, "type": "static_select", "selected_option": option})
    dispatch(slack, edit_body("my scale arrived broken, FB-20431"), "application/json")
    offered = app.store.suggestions(1)
    assert offered and all(s["intent"] == "refund_return" for s in offered)
    assert "FB-20431" in offered[0]["text"]


@pytest.mark.parametrize("event", [
    {"subtype": "message_changed", "message": "garbage"},
    {"subtype": "message_changed", "message": {"type": "message", "text": 42, "ts": "1700000000.000100"}},
    {"subtype": "message_changed", "message": {"type": "message", "user": CUSTOMER, "text": "from a bot",
                                               "ts": "1700000000.000100", "bot_id": "B1"}},
    {"subtype": "message_deleted"},
    {"subtype": "message_deleted", "deleted_ts": 1700000000.0001},
    {"subtype": "message_deleted", "deleted_ts": "1700000999.000100"},  # one Resonate never stored
])
def test_a_malformed_edit_or_deletion_changes_nothing(slack, fake, app, event):
    post_event(slack, "where is my order FB-20431?")
    before = (app.store.message(1)["text"], app.store.suggestions(1), app.store.card(1))
    body = json.dumps({"token": "legacy", "team_id": TEAM_ID, "api_app_id": "A0001", "type": "event_callback",
                       "event_id": "Ev0012", "event_time": 1700000200,
                       "event": {"type": "message", "channel": INBOX, "ts": "1700000200.000001", **event}})
    assert dispatch(slack, body, "application/json").status == 200
    assert (app.store.message(1)["text"], app.store.suggestions(1), app.store.card(1)) == before


def test_an_edit_after_the_reply_was_sent_keeps_what_was_sent(slack, fake, app):
    post_event(slack, "where is my order FB-20431?")
    click(slack, send_button(card_of(fake)["blocks"], 1))
    slack.relay.drain(timeout=10)
    offered = app.store.suggestions(1)
    dispatch(slack, edit_body("where is my order FB-20431? (the blue one)"), "application/json")
    assert app.store.message(1)["text"] == "where is my order FB-20431? (the blue one)"
    assert app.store.suggestions(1) == offered and app.store.outbox_of(1)["state"] == "sent"
    assert "the blue one" in json.dumps(fake.of("chat.update")[-1].body["blocks"])


def test_a_message_its_author_deleted_is_erased_and_its_card_cleared(slack, fake, app):
    post_event(slack, "my phone is +44 7700 900653, call me about FB-20431")
    post_event(slack, "where is my order FB-20432?", user="U0OTHER01", ts="1700000000.000200", event_id="Ev0002")
    card = app.store.card(1)
    deleted = {"type": "message", "subtype": "message_deleted", "channel": INBOX, "hidden": True,
               "deleted_ts": "1700000000.000100", "ts": "1700000200.000001", "event_ts": "1700000200.000001",
               "previous_message": {"type": "message", "user": CUSTOMER, "text": "my phone is ...",
                                    "ts": "1700000000.000100"}}
    body = json.dumps({"token": "legacy", "team_id": TEAM_ID, "api_app_id": "A0001", "type": "event_callback",
                       "event_id": "Ev0011", "event_time": 1700000200, "event": deleted})
    assert dispatch(slack, body, "application/json").status == 200
    assert app.store.message(1) is None and app.store.card(1) is None and not app.store.suggestions(1)
    assert app.store.analysis(1) is None and app.store.message(2)["text"] == "where is my order FB-20432?"
    cleared = fake.of("chat.update")[-1].body
    assert cleared["ts"] == card["ts"] and "deleted their message" in json.dumps(cleared["blocks"])
    assert "7700" not in json.dumps(cleared) and "FB-20431" not in json.dumps(cleared)


def test_skip_closes_the_card_without_sending(slack, fake, app):
    post_event(slack, "thanks, all good")
    click(slack, {"action_id": review.ACTION_SKIP, "value": "1", "type": "button"})
    slack.relay.drain(timeout=5)
    assert not thread_replies(fake)
    assert app.store.card(1)["state"] == "decided" and app.store.message(1)["status"] == "skipped"
    assert "Skipped" in json.dumps(fake.of("chat.update")[-1].body["blocks"])


def test_edit_opens_a_prefilled_modal_whose_submission_sends_the_edited_text(slack, fake, app):
    post_event(slack, "where is my order FB-20431?", ts="1700000000.000100")
    top = app.store.suggestions(1)[0]["text"]
    click(slack, {"action_id": review.ACTION_EDIT, "value": "1", "type": "button"})
    opened = fake.of("views.open")
    assert len(opened) == 1 and opened[0].body["trigger_id"] == "1111.2222.abcd"
    view = opened[0].body["view"]
    assert view["callback_id"] == review.EDIT_VIEW and view["private_metadata"] == "1"
    assert view["blocks"][1]["element"]["initial_value"] == top

    edited = "Hi Anna, FB-20431 left our warehouse today & should arrive Friday. Anything else?"
    submission = {"type": "view_submission", "team": {"id": TEAM_ID}, "user": {"id": MANAGER}, "api_app_id": "A0001",
                  "token": "legacy", "trigger_id": "3333.4444",
                  "view": {**view, "id": "V0001", "state": {"values": {
                      review.EDIT_BLOCK: {review.EDIT_INPUT: {"type": "plain_text_input", "value": edited}}}}}}
    body = "payload=" + urllib.request.quote(json.dumps(submission))
    response = dispatch(slack, body, "application/x-www-form-urlencoded")
    assert response.status == 200 and not response.body  # the modal closes
    slack.relay.drain(timeout=10)
    replies = thread_replies(fake)
    assert len(replies) == 1 and replies[0]["text"] == review.escape(edited)
    assert replies[0]["thread_ts"] == "1700000000.000100"
    decision = list(app.store.db["decisions"].rows)[0]
    assert decision["action"] == "edited" and decision["text"] == edited and decision["actor"] == MANAGER

    again = dispatch(slack, body, "application/x-www-form-urlencoded")  # a second submission: already handled
    assert again.status == 200 and "already handled" in json.loads(again.body)["errors"][review.EDIT_BLOCK]
    slack.relay.drain(timeout=5)
    assert len(thread_replies(fake)) == 1


def test_wrong_intent_records_a_correction_and_redraws_the_suggestions(slack, fake, app):
    post_event(slack, "hello there")
    before = [s["text"] for s in app.store.suggestions(1)]
    select = next(b for b in buttons(card_of(fake)["blocks"]) if b["type"] == "static_select")
    option = next(o for o in select["options"] if o["value"] == "1:refund_return")
    click(slack, {"action_id": review.ACTION_INTENT, "type": "static_select", "selected_option": option})
    decisions = list(app.store.db["decisions"].rows)
    assert [(d["action"], d["intent"], d["actor"]) for d in decisions] == [("intent_corrected", "refund_return",
                                                                          MANAGER)]
    after = app.store.suggestions(1)
    assert after and all(s["intent"] == "refund_return" for s in after)
    assert [s["text"] for s in after] != before
    assert app.store.suggestions(1, state="superseded")
    updated = json.dumps(fake.of("chat.update")[-1].body["blocks"])
    assert "refund_return" in updated and "corrected" in updated
    assert review.escape(after[0]["text"]) in updated
    assert app.store.card(1)["state"] == "open"  # still waiting for a reply decision
    # a Send from the card as it was before the correction is refused, the fresh one works
    old = json.loads(json.dumps(card_of(fake)["blocks"]))
    stale = send_button(old, 1)
    click(slack, {"action_id": stale["action_id"], "value": stale["value"], "type": "button"})
    assert "replaced" in fake.of("chat.postEphemeral")[-1].body["text"]
    assert app.store.card(1)["state"] == "open"


# -- sending: rate limits, failures, crashes -----------------------------------------------------------------------
def test_a_429_is_waited_out_then_the_reply_is_sent(slack, fake, app):
    post_event(slack, "where is my order FB-20431?")
    button = send_button(card_of(fake)["blocks"])
    fake.rate_limit_next("chat.postMessage", retry_after=1)
    click(slack, {"action_id": button["action_id"], "value": button["value"], "type": "button"})
    start = time.monotonic()
    slack.relay.drain(timeout=10)
    attempts = [c for c in fake.of("chat.postMessage", ok_only=False) if c.body.get("channel") == INBOX]
    assert [c.status for c in attempts] == [429, 200]
    assert time.monotonic() - start >= 0.9
    assert app.store.outbox_of(1)["state"] == "sent"


def test_a_send_that_keeps_failing_is_shown_on_the_card(slack, fake, app):
    post_event(slack, "where is my order FB-20431?")
    button = send_button(card_of(fake)["blocks"])
    slack.relay.backoff = (0.0,)
    slack.relay.max_attempts = 2
    fake.fail_next("chat.postMessage", error="internal_error")
    fake.fail_next("chat.postMessage", error="internal_error")
    click(slack, {"action_id": button["action_id"], "value": button["value"], "type": "button"})
    slack.relay.drain(timeout=10)
    row = app.store.outbox_of(1)
    assert row["state"] == "failed" and row["attempts"] == 2 and "internal_error" in row["last_error"]
    assert not fake.posts_to(INBOX)
    assert "Not delivered" in json.dumps(fake.of("chat.update")[-1].body["blocks"])


def test_a_reply_left_sending_by_a_crash_is_flagged_never_resent(slack, fake, app):
    post_event(slack, "where is my order FB-20431?")
    button = send_button(card_of(fake)["blocks"])
    click(slack, {"action_id": button["action_id"], "value": button["value"], "type": "button"})
    app.store.db.execute("UPDATE outbox SET state = 'sending'")  # the process died mid-send
    assert slack.relay.recover() == [1]
    slack.relay.drain(timeout=5)
    assert not fake.posts_to(INBOX)
    assert app.store.outbox_of(1)["state"] == "stuck"
    assert "Needs a person" in json.dumps(fake.of("chat.update")[-1].body["blocks"])


def test_one_message_per_second_per_channel():
    from bot.outbox import Relay

    class Clock:
        now = 0.0

    slept = []

    class FakeStore:
        def __init__(self):
            self.rows = [{"id": i, "message_id": i, "source": "slack", "conversation": f"C1:{i}", "reply_to": None,
                          "text": "hi", "attempts": 0, "next_attempt_at": None, "state": "pending"}
                         for i in (1, 2)]

        def outbox_pending(self, message_id=None):
            return [r for r in self.rows if r["state"] == "pending" and message_id in (None, r["message_id"])]

        def outbox_claim(self, i):
            self.rows[i - 1]["state"] = "sending"
            return True

        def outbox_update(self, i, state, **kw):
            self.rows[i - 1]["state"] = state

        def add_message(self, m):
            pass

    class Sender:
        def send(self, conversation, text, reply_to):
            return "C1:1"

        def channel_of(self, conversation):  # two threads of one channel share its pace
            return conversation.split(":")[0]

    def sleep(s):
        slept.append(s)
        Clock.now += s

    relay = Relay(FakeStore(), {"slack": Sender()}, sleep=sleep, clock=lambda: Clock.now,
                  per_channel_interval=1.0)
    relay.run_once()
    assert slept == [1.0]


# -- what customers write is shown, never obeyed -------------------------------------------------------------------
def test_customer_text_cannot_mention_link_or_break_the_card(slack, fake, app):
    nasty = "<!channel> <!here> hey <@U0ADMIN> see <https://evil.example/x|your invoice> & `code` *bold* > quote"
    fake.users[CUSTOMER] = {"real_name": "<!everyone> Mallory", "display_name": "m"}
    post_event(slack, nasty)
    card = card_of(fake)
    dumped = json.dumps(card["blocks"]) + card["text"]
    for raw in ("<!channel>", "<!here>", "<@U0ADMIN>", "<https://evil.example", "<!everyone>"):
        assert raw not in dumped
    assert "&lt;!channel&gt; &lt;!here&gt; hey &lt;@U0ADMIN&gt;" in dumped
    assert "&lt;https://evil.example/x|your invoice&gt; &amp; `code`" in dumped
    sections = [b["text"] for b in card["blocks"] if b["type"] == "section"]
    assert all(t.get("verbatim") is True for t in sections if t["type"] == "mrkdwn")
    assert card["unfurl_links"] is False and card["unfurl_media"] is False


def test_slack_escaped_text_is_stored_as_typed(slack, app):
    post_event(slack, "fish &amp; chips &lt;3")
    assert app.store.message(1)["text"] == "fish & chips <3"


def test_long_texts_are_cut_with_a_marker_not_rejected(slack, fake, app):
    post_event(slack, "my order " + "& very long " * 2000)  # escaping makes it longer still
    card = card_of(fake)
    for block in card["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= review.SECTION_LIMIT
    message_section = card["blocks"][1]["text"]["text"]
    assert message_section.endswith(review.CUT_MARKER) and "&am" not in message_section[-12:-len(review.CUT_MARKER)]
    assert len(card["text"]) <= review.FALLBACK_LIMIT
    assert app.store.count("messages") == 1


def test_block_kit_limits_on_buttons_options_and_modal():
    assert review.cut("x" * 5000, review.INPUT_LIMIT).endswith(review.CUT_MARKER)
    assert len(review.cut("x" * 5000, review.INPUT_LIMIT)) == review.INPUT_LIMIT
    block = review.action_block(7, ["i" * 200, "ok"], current=None)
    option = block["elements"][2]["options"][0]
    assert len(option["text"]["text"]) <= review.OPTION_LIMIT
    modal = review.edit_modal(7, "q" * 9000, "r" * 9000)
    assert len(modal["blocks"][1]["element"]["initial_value"]) <= review.INPUT_LIMIT
    assert review.mrkdwn_literal("&" * 1000, 100).endswith(review.CUT_MARKER)
    assert len(review.mrkdwn_literal("&" * 1000, 100)) <= 100


# -- /resonate ----------------------------------------------------------------------------------------------------
def command(connector, text):
    body = urlencode({"token": "legacy", "team_id": TEAM_ID, "channel_id": REVIEW, "user_id": MANAGER,
                      "command": "/resonate", "text": text, "response_url": "http://127.0.0.1:9/x",
                      "trigger_id": "5555.6666"})
    response = dispatch(connector, body, "application/x-www-form-urlencoded")
    assert response.status == 200
    return json.loads(response.body)


def test_slash_command_help_suggest_and_unknown(slack, app):
    helped = command(slack, "help")
    assert helped["response_type"] == "ephemeral" and "/resonate suggest TEXT" in helped["text"]
    suggested = command(slack, "suggest where is my order FB-20431? <!channel>")
    assert suggested["response_type"] == "ephemeral"
    dumped = json.dumps(suggested["blocks"])
    assert "Intent *" in dumped and "FB-20431" in dumped and "<!channel>" not in dumped
    unknown = command(slack, "frobnicate now")
    assert "frobnicate" in unknown["text"] and "/resonate suggest TEXT" in unknown["text"]
    assert command(slack, "")["text"] == helped["text"]
    assert app.store.count("messages") == 0  # nothing stored


def test_commands_plug_into_the_same_dispatcher():
    from bot.commands import CommandReply, Commands

    commands = Commands()
    commands.command("ping", "ping: answers pong")(lambda app, args, user: CommandReply(f"pong {args} {user}"))
    assert commands.dispatch(None, "ping 1", "U1").text == "pong 1 U1"
    assert "/resonate ping" in commands.dispatch(None, "nope").text


# -- configuration and start-up ------------------------------------------------------------------------------------
def test_slack_settings_use_slacks_own_environment_names(tmp_path):
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": SECRET, "SLACK_APP_TOKEN": "xapp-1",
           "SLACK_API_URL": "http://127.0.0.1:1/api", "RESONATE_REVIEW_CHANNEL": "C0REVIEW",
           "RESONATE_WATCH_CHANNELS": "C0AAA, C0BBB"}
    cfg = Config.load(env=env)
    assert cfg.slack_bot_token == "xoxb-1" and cfg.slack_app_token == "xapp-1"
    assert cfg.slack_api_url == "http://127.0.0.1:1/api/" and cfg.review_channel == "C0REVIEW"
    assert cfg.watch_channels == ("C0AAA", "C0BBB")
    assert "xoxb-1" not in repr(cfg)
    file = tmp_path / "r.toml"
    file.write_text('slack_bot_token = "xoxb-2"\nreview_channel = "C0FILE"\nwatch_channels = ["C0X"]\n')
    cfg = Config.load(config_file=file, env={})
    assert cfg.slack_bot_token == "xoxb-2" and cfg.watch_channels == ("C0X",)
    assert Config.load(env={}).slack_api_url == "https://slack.com/api/"


@pytest.mark.parametrize("env, setting", [
    ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
    ({"SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN"),
    ({"SLACK_SIGNING_SECRET": "not hex!"}, "SLACK_SIGNING_SECRET"),
    ({"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL"),
    ({"RESONATE_REVIEW_CHANNEL": "#review"}, "RESONATE_REVIEW_CHANNEL"),
    ({"RESONATE_WATCH_CHANNELS": "C0AAA,general"}, "RESONATE_WATCH_CHANNELS"),
])
def test_malformed_slack_settings_name_the_setting(env, setting):
    with pytest.raises(ConfigError) as err:
        Config.load(env=env)
    assert err.value.setting == setting and setting in str(err.value)


@pytest.mark.parametrize("env, args, missing", [
    ({}, [], "SLACK_BOT_TOKEN"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, [], "RESONATE_REVIEW_CHANNEL"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "RESONATE_REVIEW_CHANNEL": "C0R"}, [], "SLACK_APP_TOKEN"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "RESONATE_REVIEW_CHANNEL": "C0R"}, ["--slack-http", "--port", "0"],
     "SLACK_SIGNING_SECRET"),
])
def test_resonate_run_names_the_missing_setting(monkeypatch, tmp_path, env, args, missing):
    monkeypatch.setenv("RESONATE_DB", str(tmp_path / "x.db"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["run", *args])
    assert result.exit_code == 1, result.output
    assert f"configuration {missing}" in result.output and "Traceback" not in result.output


def test_a_token_slack_rejects_stops_start_up(tmp_path, fake):
    fake.fail_next("auth.test", error="invalid_auth")
    application = App(Config(db=tmp_path / "t.db", embedder="hashing", slack_bot_token="xoxb-wrong",
                             slack_signing_secret=SECRET, slack_api_url=fake.url, review_channel=REVIEW))
    with pytest.raises(ConfigError) as err:
        application.slack  # noqa: B018
    assert err.value.setting == "SLACK_BOT_TOKEN" and "invalid_auth" in str(err.value)
    application.close()


def test_the_manifest_asks_for_what_the_connector_uses():
    import yaml

    from tests.conftest import REPO

    manifest = yaml.safe_load((REPO / "deploy" / "slack-manifest.yml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert scopes == {"channels:history", "groups:history", "chat:write", "commands", "users:read"}
    settings = manifest["settings"]
    assert {"message.channels", "message.groups"} <= set(settings["event_subscriptions"]["bot_events"])
    assert settings["interactivity"]["is_enabled"] and settings["socket_mode_enabled"]
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/resonate"]
    for url in (settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]):
        assert url.endswith("/slack/events")


def test_messages_from_other_sources_get_a_card_and_go_out_through_their_sender(slack, fake, app):
    from bot.message import Message

    app.pipeline.receive(Message(text="where is my order FB-20431?", source="telegram", sender_id="42",
                                 source_id="42:7", chat_id="42", sender_name="Ben Ode"))
    card = card_of(fake)
    assert "Ben Ode" in json.dumps(card["blocks"]) and "telegram" in json.dumps(card["blocks"])
    button = send_button(card["blocks"])
    click(slack, {"action_id": button["action_id"], "value": button["value"], "type": "button"})
    slack.relay.drain(timeout=5)
    assert app.store.outbox_of(1)["state"] == "failed"  # no Telegram connector yet: said on the card
    assert "no connector can send to telegram" in json.dumps(fake.of("chat.update")[-1].body["blocks"])

    sent = []

    class TelegramSender:
        def send(self, conversation, text, reply_to):
            sent.append((conversation, text, reply_to))
            return "42:8"

    slack.add_sender("telegram", TelegramSender())
    app.store.db.execute("UPDATE outbox SET state = 'pending', attempts = 0")  # a person retries it
    slack.relay.drain(timeout=5)
    assert sent == [("42", app.store.outbox_of(1)["text"], "42:7")]
    assert app.store.outbox_of(1)["state"] == "sent"


# -- themes, digest and campaigns in Slack -----------------------------------------------------------------------
def test_a_message_from_an_inbox_without_connector_is_marked_sent_by_hand(slack, fake, app):
    from bot.message import Message

    app.pipeline.receive(Message(text="Is the kettle lid dishwasher safe?", source="email", sender_id="paula@x.org",
                                 source_id="mail-9", chat_id="thread-3", sender_name="Paula Novak"))
    card = card_of(fake)
    button = send_button(card["blocks"])
    assert button["text"]["text"] == "Mark sent" and "Resonate cannot send to email" in json.dumps(card["blocks"])
    click(slack, {"action_id": button["action_id"], "value": button["value"], "type": "button"})
    slack.relay.drain(timeout=5)
    row = app.store.outbox_of(1)
    assert row["state"] == "sent" and row["sent_message_id"].startswith("by-hand:")  # not "failed" after retries
    assert "answered by hand in email" in json.dumps(fake.of("chat.update")[-1].body["blocks"])
    replies = list(app.store.db.query("SELECT text FROM messages WHERE direction = 'out'"))
    assert [r["text"] for r in replies] == [row["text"]]  # counted as answered in the digest's response figures


def test_the_edit_form_of_an_inbox_without_connector_marks_sent_rather_than_sends(slack, fake, app):
    from bot.message import Message

    app.pipeline.receive(Message(text="Is the kettle lid dishwasher safe?", source="email", sender_id="paula@x.org",
                                 source_id="mail-9", chat_id="thread-3", sender_name="Paula Novak"))
    click(slack, {"action_id": review.ACTION_EDIT, "value": "1", "type": "button"})
    view = fake.of("views.open")[-1].body["view"]
    assert view["submit"]["text"] == "Mark sent" and "Resonate cannot send to email" in json.dumps(view["blocks"])
    post_event(slack, "where is my order FB-20431?", ts="1700000000.000100")
    click(slack, {"action_id": review.ACTION_EDIT, "value": "2", "type": "button"})
    assert fake.of("views.open")[-1].body["view"]["submit"]["text"] == "Send"


def test_slash_themes_digest_now_campaigns_and_the_adopt_button(tmp_path, fake):
    from datetime import timedelta

    from bot.message import Message, utcnow

    cache = tmp_path / "cache"
    application = App(Config(db=tmp_path / "d.db", cache_dir=cache, embedder="hashing", min_similarity=0.1,
                             min_confidence=0.2, slack_bot_token="xoxb-test-token", slack_signing_secret=SECRET,
                             slack_api_url=fake.url, review_channel=REVIEW, watch_channels=(INBOX,),
                             digest_channel="CDIGEST01"), embedder=HashingEmbedder())
    try:
        now = utcnow()
        application.pipeline.ingest([
            Message(text=f"Fern Scale battery drain after firmware 2.3 {w}", source="email", sender_id=f"p{i}",
                    timestamp=now - timedelta(hours=i + 1))
            for i, w in enumerate(["again", "today", "overnight", "badly"])] + [
            Message(text=f"Der Akku meiner Fern Scale ist {w} leer, was ist da los?", source="telegram",
                    sender_id=f"de{i}", timestamp=now - timedelta(hours=i + 1))
            for i, w in enumerate(["jeden Morgen", "schon wieder", "nach einer Nacht"])])
        connector = application.slack
        themes = command(connector, "themes 7d")
        assert "4 messages from 4 people, new (was 0)\n" in themes["text"] + "\n"
        assert "3 messages from 3 people, new (was 0), written in German" in themes["text"]
        assert "CDIGEST01" in command(connector, "digest now")["text"]
        post = fake.posts_to("CDIGEST01")[0]
        assert fake.of("files.completeUploadExternal")
        campaigns = command(connector, "campaigns")
        assert "#1" in campaigns["text"] and "(idea" in campaigns["text"]
        german = next(c for c in application.campaigns.list() if "German" in c["card"]["why"])
        people = command(connector, f"campaigns people {german['id']}")["text"]
        assert "3 people to write to" in people and people.count("(telegram, German, not answered)") == 3
        assert "Der Akku meiner Fern Scale ist" in people
        assert "no such campaign" in command(connector, "campaigns people 999")["text"]  # said, not a failure
        assert "Usage" in command(connector, "campaigns people")["text"]
        assert "7x" in command(connector, "themes 7x")["text"]
        adopt = next(e for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]
                     if e["action_id"] == "campaign_adopt")
        assert click(connector, {"type": "button", "action_id": adopt["action_id"], "value": adopt["value"],
                                 "block_id": "campaign_1"}).status == 200
        assert application.campaigns.get(int(adopt["value"]))["state"] == "adopted"
        assert "Adopted" in fake.of("chat.postEphemeral")[-1].body["text"]
    finally:
        application.close()


def test_a_follow_up_in_the_thread_is_answered_with_its_question_and_closes_both_cards(slack, fake, app):
    post_event(slack, "where is my order FB-20431?", ts="1700000000.000100", event_id="Ev1")
    post_event(slack, "any update on this?", ts="1700090000.000100", event_id="Ev2", thread_ts="1700000000.000100")
    assert app.store.analysis(2)["intent"] == "follow_up"
    blocks = card_of(fake)["blocks"]
    assert "Follows up their message of 2023-11-14 22:13 UTC (order_status)" in json.dumps(blocks, ensure_ascii=False)
    answer = next(s for s in app.store.suggestions(2) if s["answers_id"] == 1)
    assert "FB-20431" in answer["text"]
    button = send_button(blocks, answer["rank"])
    assert click(slack, {"action_id": button["action_id"], "value": button["value"], "type": "button"}).status == 200
    slack.relay.drain(timeout=10)
    replies = thread_replies(fake)
    assert [(r["thread_ts"], r["text"]) for r in replies] == [("1700000000.000100", review.escape(answer["text"]))]
    first_card_ts = app.store.card(1)["ts"]
    first = [u.body for u in fake.of("chat.update") if u.body["ts"] == first_card_ts]
    assert first and "Answered in the reply to their follow-up" in json.dumps(first[-1]["blocks"])
    assert "resonate_send_1" not in json.dumps(first[-1]["blocks"])  # nobody can answer it a second time
