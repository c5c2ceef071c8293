import sqlite3
from datetime import datetime, timedelta, timezone

import numpy as np

from bot.message import Message
from bot.store import Store

T0 = datetime(2026, 10, 5, 12, 0, tzinfo=timezone.utc)


def msg(text="where is my order?", **kw):
    base = dict(text=text, source="telegram", sender_id="tg:1", source_id="m1", sender_name="Anna Kowalski",
                chat_id="chat1", timestamp=T0)
    base.update(kw)
    return Message(**base)


def test_file_store_uses_wal_and_named_migrations(tmp_path):
    store = Store(tmp_path / "r.db")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert store.applied_migrations[:3] == ["0001_initial", "0002_meta", "0003_review_cards"]
    assert store.applied_migrations[-3:] == ["0012_campaign_segment_messages", "0013_embedding_tone",
                                             "0014_idf_weighted"]
    applied = store.applied_migrations
    store.close()
    again = Store(tmp_path / "r.db")  # reopening applies nothing twice
    assert again.applied_migrations == applied
    again.close()


def test_same_platform_message_is_stored_once(tmp_path):
    store = Store(tmp_path / "r.db")
    first = store.add_message(msg())
    second = store.add_message(msg(text="edited copy"))
    assert first.created and not second.created and first.id == second.id
    assert store.count("messages") == 1
    assert store.message(first.id)["text"] == "where is my order?"  # nothing already stored is lost


def test_same_event_delivered_twice_is_stored_once(tmp_path):
    store = Store(tmp_path / "r.db")
    a = store.add_message(msg(event_id="Ev1", source_id="m1"))
    b = store.add_message(msg(event_id="Ev1", source_id="m2"))
    assert a.created and not b.created
    assert store.count("messages") == 1


def test_unique_index_holds_even_for_raw_inserts(tmp_path):
    store = Store(tmp_path / "r.db")
    store.add_message(msg())
    try:
        store.db.execute("INSERT INTO messages (source, source_id, conversation_id, direction, text, sent_at, stored_at)"
                         " VALUES ('telegram', 'm1', 1, 'in', 'x', 'now', 'now')")
        raised = False
    except sqlite3.IntegrityError:
        raised = True
    assert raised


def test_messages_without_platform_id_dedupe_on_content(tmp_path):
    store = Store(tmp_path / "r.db")
    a = store.add_message(msg(source="email", source_id=""))
    b = store.add_message(msg(source="email", source_id=""))
    c = store.add_message(msg(source="email", source_id="", text="another"))
    assert a.id == b.id and c.id != a.id


def test_contact_and_conversation_are_tracked(tmp_path):
    store = Store(tmp_path / "r.db")
    store.add_message(msg(sender_tags=("vip",)))
    store.add_message(msg(source_id="m2", timestamp=T0 + timedelta(days=2), sender_tags=("bean_club",)))
    store.add_message(msg(source_id="m0", timestamp=T0 - timedelta(days=1)))
    contact = next(store.db["contacts"].rows)
    assert contact["first_name"] == "Anna"
    assert contact["first_seen"].startswith("2026-10-04") and contact["last_seen"].startswith("2026-10-07")
    assert contact["tags"] == '["bean_club", "vip"]'
    assert store.count("contacts") == 1 and store.count("conversations") == 1


def test_analysis_embedding_suggestions_and_decisions(fake_app):
    store = fake_app.store
    processed = fake_app.pipeline.receive(msg("Where is my order FB-12345?"))
    assert processed.created
    row = store.analysis(processed.message_id)
    assert row["intent"] and row["model_version"]
    assert any(e["label"] == "ORDER_ID" for e in row["entities"])
    vectors = store.embeddings([processed.message_id])
    np.testing.assert_allclose(vectors[processed.message_id], processed.analysis.embedding)
    offered = store.suggestions(processed.message_id)
    assert 1 <= len(offered) <= 3
    store.record_decision(processed.message_id, "sent", "U123", suggestion_id=offered[0]["id"], text=offered[0]["text"])
    assert store.message(processed.message_id)["status"] == "answered"
    assert store.suggestions(processed.message_id, state="sent")[0]["id"] == offered[0]["id"]
    # redrawing suggestions supersedes the old offered ones
    store.save_suggestions(processed.message_id, processed.suggestions)
    assert {s["state"] for s in store.suggestions(processed.message_id, state=None)} >= {"sent", "offered"}


def test_non_text_messages_are_stored_but_not_analysed(fake_app):
    result = fake_app.pipeline.receive(msg("", kind="sticker"))
    assert result.created and result.analysis is None
    assert fake_app.store.message(result.message_id)["status"] == "ignored"


def test_a_letters_closing_is_not_analysed_but_its_contact_details_are_found(fake_app):
    analyzer = fake_app.analyzer
    body = "Is the Fern Scale waterproof or just splash resistant?"
    letter, bare = analyzer.analyze_many([body + "\n\nBest regards,\nKayla Nguyen\nkayla.n@example.com", body])
    np.testing.assert_array_equal(letter.embedding, bare.embedding)
    assert (letter.intent, letter.sentiment, letter.sentiment_score) == (bare.intent, bare.sentiment,
                                                                         bare.sentiment_score)
    assert [e.value for e in letter.entities if e.label == "EMAIL"] == ["kayla.n@example.com"]
    only_closing = analyzer.analyze("Cheers!")  # a message that is only a closing keeps its words
    np.testing.assert_array_equal(only_closing.embedding, analyzer.embedder.encode(["Cheers!"])[0])
    greeted = analyzer.analyze("Hi Fernbrew team,\n\n" + body)  # nor is its salutation
    np.testing.assert_array_equal(greeted.embedding, bare.embedding)
    assert (greeted.intent, greeted.sentiment) == (bare.intent, bare.sentiment)


def test_a_reply_to_an_unsubscribe_request_opts_the_contact_out(fake_app):
    """'We'll remove you from our lists' must hold: once that reply goes out, campaigns and automatic answers leave
    the contact alone (Telegram's /stop did this already; a DM, an email or a Slack message did not)."""
    store = fake_app.store
    leave = fake_app.playbooks.opt_out_intents()  # the playbooks that say opts_out: true
    order = fake_app.pipeline.receive(msg("where is my order?", source_id="m1")).message_id
    stop = fake_app.pipeline.receive(msg("unsubscribe", source_id="m2")).message_id
    assert store.analysis(stop)["intent"] == "unsubscribe"
    for mid in (order, stop):
        store.open_card(mid)
    s = store.suggestions(order)[0]
    store.decide(order, "sent", "U1", suggestion_id=s["id"], text=s["text"], opt_out_intents=leave)
    assert not store.message(order)["opted_out_at"]  # an answer to another intent opts nobody out
    s = store.suggestions(stop)[0]
    store.decide(stop, "sent", "U1", suggestion_id=s["id"], text=s["text"], opt_out_intents=leave)
    assert store.message(stop)["opted_out_at"] and store.opted_out("telegram", "tg:1")
    assert not store.reachable_contacts("telegram")


def test_a_correction_to_unsubscribe_then_an_own_reply_opts_out(fake_app):
    store = fake_app.store
    mid = fake_app.pipeline.receive(msg("please never message me again about anything", sender_id="tg:2")).message_id
    store.open_card(mid)
    store.correct_intent(mid, "unsubscribe", "U1")
    store.decide(mid, "edited", "U1", text="Done, you're off every list.",
                 opt_out_intents=fake_app.playbooks.opt_out_intents())
    assert store.opted_out("telegram", "tg:2")
