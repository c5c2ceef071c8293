"""resonate forget: a person's data leaves the database, everyone else's stays."""

import json

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.store import Store
from tests.fake_slack import FakeSlack

ROWS = [
    {"id": "e1", "text": "Please delete my account and all my data. Zebulon Quark", "sender": "mail:zq@example.com",
     "sender_name": "Zebulon Quark", "source": "email", "timestamp": "2026-11-02T10:00:00Z"},
    {"id": "e2", "text": "Also my old order FB-40404 from the zebra address", "sender": "mail:zq@example.com",
     "sender_name": "Zebulon Quark", "source": "email", "timestamp": "2026-11-02T10:05:00Z"},
    {"id": "t1", "text": "where is my order FB-20431?", "sender": "tg:7", "sender_name": "Ann Lee",
     "source": "telegram", "timestamp": "2026-11-02T11:00:00Z"},
]


def setup(monkeypatch, tmp_path):
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    monkeypatch.setenv("RESONATE_CACHE_DIR", str(tmp_path / "cache"))
    rows = tmp_path / "in.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    db = str(tmp_path / "r.db")
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(rows), "--db", db]).exit_code == 0
    assert runner.invoke(cli, ["reply", "1", "--text", "We'll erase it within 30 days.", "--db", db]).exit_code == 0
    store = Store(db)
    zq, ann = (store.db.execute("SELECT id FROM contacts WHERE external_id = ?", [s]).fetchone()[0]
               for s in ("mail:zq@example.com", "tg:7"))
    theme = store.db["themes"].insert({"label": "Data", "keyphrases": "[]", "dimension": 1, "centroid": b"\0" * 4,
                                       "first_seen_at": "x", "last_seen_at": "x", "created_at": "x"}).last_pk
    card = {"title": "t", "quotes": [{"from": "Zebulon Quark", "text": "Please delete my account and all my data.",
                                      "message_id": 1},
                                     {"from": "Ann Lee", "text": "where is my order FB-20431?", "message_id": 3}]}
    store.db["campaigns"].insert({"theme_id": theme, "rule": "r", "kind": "faq", "card": json.dumps(card),
                                  "segment": json.dumps([zq, ann]), "metric": "theme_volume", "window_end": "x",
                                  "segment_messages": json.dumps([1, 3]), "created_at": "x", "updated_at": "x"})
    store.db["theme_runs"].insert({"key": "k", "assignment": b"\0", "clusters": "[]", "created_at": "x"})
    store.close()
    return runner, db, zq, ann


def rows_of(db, contact):
    store = Store(db)
    try:
        ids = [r[0] for r in store.db.execute("SELECT id FROM messages WHERE contact_id = ?", [contact])]
        marks = ",".join("?" * len(ids)) or "NULL"
        counts = {"messages": len(ids), "contacts": store.db.execute(
            "SELECT COUNT(*) FROM contacts WHERE id = ?", [contact]).fetchone()[0]}
        for table in ("analyses", "embeddings", "suggestions", "decisions", "outbox", "cards"):
            counts[table] = store.db.execute(f"SELECT COUNT(*) FROM {table} WHERE message_id IN ({marks})",
                                             ids).fetchone()[0]
        return counts
    finally:
        store.close()


def test_without_yes_nothing_is_erased(monkeypatch, tmp_path):
    runner, db, zq, _ = setup(monkeypatch, tmp_path)
    before = rows_of(db, zq)
    result = runner.invoke(cli, ["forget", "--message", "1", "--db", db])
    assert result.exit_code == 0, result.output
    assert "Would erase Zebulon Quark (email, mail:zq@example.com): 2 messages from them" in result.output
    assert "--yes" in result.output and rows_of(db, zq) == before and before["messages"] >= 2


def test_forget_erases_the_person_everywhere_and_no_one_else(monkeypatch, tmp_path):
    runner, db, zq, ann = setup(monkeypatch, tmp_path)
    ann_before = rows_of(db, ann)
    result = runner.invoke(cli, ["forget", "--sender", "mail:zq@example.com", "--yes", "--json", "--db", db])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["erased"] and report["messages_in"] == 2 and report["messages_out"] == 1 and report["campaigns"] == 1
    assert all(n == 0 for n in rows_of(db, zq).values()), rows_of(db, zq)
    assert rows_of(db, ann) == ann_before
    store = Store(db)
    campaign = next(iter(store.db["campaigns"].rows))
    assert json.loads(campaign["segment"]) == [ann] and json.loads(campaign["segment_messages"]) == [3]
    assert [q["from"] for q in json.loads(campaign["card"])["quotes"]] == ["Ann Lee"]
    assert store.count("theme_runs") == 0 and store.count("conversations") == 1
    store.close()


def test_erased_text_is_overwritten_even_where_sqlite_keeps_deleted_pages(monkeypatch, tmp_path):
    from bot.privacy import erase_contact, find_contact

    _, db, _, _ = setup(monkeypatch, tmp_path)
    store = Store(db)
    store.db.execute("PRAGMA secure_delete = OFF")  # the default of many SQLite builds (Debian's turns it on)
    erase_contact(store, find_contact(store, sender="mail:zq@example.com"), dry_run=False)
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("r.db*"))
    assert b"Zebulon" not in raw and b"zebra" not in raw  # not left in free pages or the write-ahead log


def test_forget_says_what_it_could_not_find(monkeypatch, tmp_path):
    runner, db, _, _ = setup(monkeypatch, tmp_path)
    assert runner.invoke(cli, ["forget", "--db", db]).exit_code == 2
    missing = runner.invoke(cli, ["forget", "--message", "99", "--db", db])
    assert missing.exit_code == 1 and "no message 99" in missing.output
    nobody = runner.invoke(cli, ["forget", "--sender", "tg:404", "--db", db])
    assert nobody.exit_code == 1 and "no contact with sender id 'tg:404'" in nobody.output


def test_contact_shows_a_person_and_opts_them_out_and_back_in(monkeypatch, tmp_path):
    runner, db, zq, _ = setup(monkeypatch, tmp_path)
    shown = runner.invoke(cli, ["contact", "--sender", "tg:7", "--db", db])
    assert shown.exit_code == 0, shown.output
    assert "Ann Lee (telegram, tg:7): 1 message from them, 0 replies to them" in shown.output
    assert "Not opted out" in shown.output
    out = json.loads(runner.invoke(cli, ["contact", "--message", "3", "--opt-out", "--json", "--db", db]).output)
    assert out["sender"] == "tg:7" and out["opted_out_at"]
    assert Store(db).opted_out("telegram", "tg:7")
    back = runner.invoke(cli, ["contact", "--sender", "tg:7", "--opt-in", "--db", db])
    assert back.exit_code == 0 and "Not opted out" in back.output and not Store(db).opted_out("telegram", "tg:7")
    assert "1 reply to them" in runner.invoke(cli, ["contact", "--message", "1", "--db", db]).output


def test_forget_waits_for_a_reply_still_in_the_outbox(monkeypatch, tmp_path):
    """Erasing drops the outbox row too: the answer to their request would never reach them."""
    runner, db, _, ann = setup(monkeypatch, tmp_path)
    queued = runner.invoke(cli, ["reply", "3", "--text", "Checking FB-20431 now.", "--db", db])  # no Telegram token
    assert queued.exit_code == 0 and "Queued" in queued.output
    dry = runner.invoke(cli, ["forget", "--sender", "tg:7", "--db", db])
    assert dry.exit_code == 0 and "1 reply to them is not sent yet" in dry.output
    refused = runner.invoke(cli, ["forget", "--sender", "tg:7", "--yes", "--db", db])
    assert refused.exit_code == 1 and "not sent yet" in refused.output
    assert rows_of(db, ann)["messages"] == 1 and rows_of(db, ann)["outbox"] == 1


def test_forget_erases_a_persons_other_telegram_updates_too(monkeypatch, tmp_path):
    """An edit, a button press or an update that could not be read is kept as received, with their name and text,
    and no message of theirs: it is theirs all the same. Another person's updates stay."""
    runner, db, _, _ = setup(monkeypatch, tmp_path)
    store = Store(db)
    edit = {"update_id": 11, "edited_message": {"message_id": 5, "date": 1, "text": "where is my order, Ann Lee",
                                                "chat": {"id": 7, "type": "private"},
                                                "from": {"id": 7, "is_bot": False, "first_name": "Ann"}}}
    unreadable = {"update_id": 12, "message": {"from": {"id": 7, "first_name": "Ann"}, "text": 42}}
    other = {"update_id": 13, "edited_message": {"message_id": 6, "date": 1, "text": "hi", "chat": {"id": 8},
                                                 "from": {"id": 8, "first_name": "Bo"}, "reply_markup": {"id": "7"}}}
    store.record_update(11, "edited_message", edit)
    store.record_update(12, "malformed", unreadable, error="TypeError")
    store.record_update(13, "edited_message", other)
    store.close()
    dry = runner.invoke(cli, ["forget", "--sender", "tg:7", "--db", db])
    assert "2 other Telegram updates (edits, button presses, unreadable ones)" in dry.output
    result = runner.invoke(cli, ["forget", "--sender", "tg:7", "--yes", "--json", "--db", db])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["updates"] == 2
    store = Store(db)
    assert [r[0] for r in store.db.execute("SELECT update_id FROM telegram_updates")] == [13]
    store.close()


def post_cards(db, *message_ids):
    """Cards of these messages as the review desk records them once posted in Slack."""
    store = Store(db)
    for n, message_id in enumerate(message_ids, 1):
        store.open_card(message_id)
        store.card_posted(message_id, "C0REVIEW", f"1800000000.00000{n}")
    store.close()


@pytest.fixture
def fake_slack(monkeypatch):
    server = FakeSlack().start()
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", server.url)
    yield server
    server.stop()


def test_forget_deletes_their_review_cards_in_slack_first(monkeypatch, tmp_path, fake_slack):
    runner, db, zq, ann = setup(monkeypatch, tmp_path)
    post_cards(db, 1, 2, 3)  # 1 and 2 are theirs, 3 is Ann's
    fake_slack.deleted.add(("C0REVIEW", "1800000000.000002"))  # someone deleted it in Slack already
    dry = runner.invoke(cli, ["forget", "--sender", "mail:zq@example.com", "--db", db])
    assert "2 review cards of theirs are posted in Slack." in dry.output and not fake_slack.calls
    assert "--yes deletes those cards in Slack too." in dry.output
    result = runner.invoke(cli, ["forget", "--sender", "mail:zq@example.com", "--yes", "--json", "--db", db])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["in_slack"] == [{"channel": "C0REVIEW", "ts": "1800000000.000001"},
                                  {"channel": "C0REVIEW", "ts": "1800000000.000002"}]
    assert report["left_in_slack"] == []
    assert [c.body["ts"] for c in fake_slack.of("chat.delete", ok_only=False)] == ["1800000000.000001",
                                                                                   "1800000000.000002"]
    assert all(n == 0 for n in rows_of(db, zq).values()) and rows_of(db, ann)["cards"] == 1


def test_a_card_slack_will_not_delete_stops_the_erasure_unless_left_on_purpose(monkeypatch, tmp_path, fake_slack):
    runner, db, zq, _ = setup(monkeypatch, tmp_path)
    post_cards(db, 1, 2)
    before = rows_of(db, zq)
    fake_slack.fail_next("chat.delete", error="cant_delete_message")  # one card's own trouble: the next is tried
    refused = runner.invoke(cli, ["forget", "--message", "1", "--yes", "--db", db])
    assert refused.exit_code == 1
    assert ("nothing was erased: 1 review card of Zebulon Quark in Slack could not be deleted (channel C0REVIEW, "
            "ts 1800000000.000001, because Slack said cant_delete_message)") in refused.output
    assert "--leave-slack" in refused.output and rows_of(db, zq) == before
    assert len(fake_slack.of("chat.delete")) == 1  # the second card went
    fake_slack.fail_next("chat.delete", error="cant_delete_message")
    left = runner.invoke(cli, ["forget", "--message", "1", "--yes", "--leave-slack", "--db", db])
    assert left.exit_code == 0, left.output
    assert ("Deleted 1 review card in Slack. Left in Slack, to delete there by hand: channel C0REVIEW, "
            "ts 1800000000.000001, because Slack said cant_delete_message.") in left.output  # the second: already gone
    assert all(n == 0 for n in rows_of(db, zq).values())


def test_a_wrong_slack_token_stops_at_the_first_card(monkeypatch, tmp_path, fake_slack):
    runner, db, zq, _ = setup(monkeypatch, tmp_path)
    post_cards(db, 1, 2)
    before = rows_of(db, zq)
    fake_slack.fail_next("chat.delete", error="invalid_auth")
    refused = runner.invoke(cli, ["forget", "--message", "1", "--yes", "--db", db])
    assert refused.exit_code == 1 and "2 review cards of Zebulon Quark" in refused.output
    assert "Slack said invalid_auth" in refused.output and rows_of(db, zq) == before
    assert len(fake_slack.of("chat.delete", ok_only=False)) == 1  # the token fails every card alike


def test_without_a_slack_token_the_cards_are_left_only_on_purpose(monkeypatch, tmp_path):
    runner, db, zq, _ = setup(monkeypatch, tmp_path)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    post_cards(db, 1)
    before = rows_of(db, zq)
    dry = runner.invoke(cli, ["forget", "--message", "1", "--db", db])
    assert "No SLACK_BOT_TOKEN is set to delete those cards" in dry.output
    refused = runner.invoke(cli, ["forget", "--message", "1", "--yes", "--db", db])
    assert refused.exit_code == 1 and "no Slack token is set to delete them with (SLACK_BOT_TOKEN)" in refused.output
    assert rows_of(db, zq) == before
    left = runner.invoke(cli, ["forget", "--message", "1", "--yes", "--leave-slack", "--db", db])
    assert left.exit_code == 0, left.output
    assert ("Left in Slack, to delete there by hand: channel C0REVIEW, ts 1800000000.000001, because no Slack token "
            "was set") in left.output
    assert all(n == 0 for n in rows_of(db, zq).values())


def test_erasing_one_message_leaves_the_persons_others(monkeypatch, tmp_path):
    from bot.privacy import erase_message

    _, db, zq, _ = setup(monkeypatch, tmp_path)
    store = Store(db)
    assert erase_message(store, 1) and not erase_message(store, 1)
    assert store.message(1) is None and store.message(2)["text"].startswith("Also my old order")
    assert store.count("theme_runs") == 0
    quotes = json.loads(next(iter(store.db["campaigns"].rows))["card"])["quotes"]
    assert [q["from"] for q in quotes] == ["Ann Lee"]
    out = store.db.execute("SELECT COUNT(*) FROM messages WHERE direction = 'out'").fetchone()[0]
    assert out == 1 and not erase_message(store, 4)  # our reply is not theirs to delete
    store.close()
