"""A follow-up ("any update on this?") is drafted with the message it chases: the earlier message's order number
fills the apology, and its own intent's replies come next, so one click can answer what was asked."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.desk import NoBoard, ReviewDesk
from bot.message import OUTBOUND, Message
from bot.suggest import earlier_day

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=timezone.utc)  # a Monday
ASKED = "where is my order FB-23700?"
CHASER = "any update on this?"  # a playbook example: the test embedder reads it as follow_up too


def msg(text, n, hours=0, sender="tg:1", chat="chat1", source="telegram"):
    return Message(text=text, source=source, sender_id=sender, source_id=f"m{n}", sender_name="Ava Turner",
                   chat_id=chat, timestamp=T0 + timedelta(hours=hours))


def test_a_follow_up_is_drafted_with_the_message_it_chases(fake_app):
    store, pipeline = fake_app.store, fake_app.pipeline
    asked = pipeline.receive(msg(ASKED, 1)).message_id
    chaser = pipeline.receive(msg(CHASER, 2, hours=26))
    assert chaser.analysis.intent == "follow_up" and store.analysis(asked)["intent"] == "order_status"
    first, *answers = store.suggestions(chaser.message_id)
    assert first["intent"] == "follow_up" and first["answers_id"] is None
    assert "FB-23700" in first["text"]  # the chased message's order number, which the follow-up does not repeat
    answers = [s for s in answers if s["answers_id"]]  # then the replies to the order question itself
    assert answers and all(s["intent"] == "order_status" and s["answers_id"] == asked for s in answers)
    assert all("FB-23700" in s["text"] for s in answers)
    assert "answers the message it follows up (yesterday: “where is my order FB-23700?”" in answers[0]["reason"]
    # the card and the inbox show what it chases; a message that is not a follow-up chases nothing
    follows = ReviewDesk(store, lambda: fake_app.suggester, lambda: fake_app.playbooks, NoBoard()) \
        .card_data(chaser.message_id).follows_up
    assert follows["id"] == asked and follows["text"] == ASKED
    assert store.followed_up(asked, fake_app.playbooks.follow_up_intents()) is None


def test_the_card_says_which_message_a_follow_up_chases(fake_app):
    from bot import review

    fake_app.pipeline.receive(msg(ASKED, 1))
    chaser = fake_app.pipeline.receive(msg(CHASER, 2, hours=3)).message_id
    data = ReviewDesk(fake_app.store, lambda: fake_app.suggester, lambda: fake_app.playbooks, NoBoard()) \
        .card_data(chaser)
    text = json.dumps(review.card_blocks(data), ensure_ascii=False)
    assert "Follows up their message of 2026-10-05 09:00 UTC (order_status): “where is my order FB-23700?”" in text
    marked = [b["text"]["text"] for b in review.card_blocks(data) if b.get("accessory", {}).get("type") == "button"
              and "↩️" in b["text"]["text"]]
    answering = [s for s in data.suggestions if s["answers_id"]]
    assert answering and len(marked) == len(answering)  # the replies to the question are marked


@pytest.mark.parametrize("other", [
    dict(sender="tg:2"),  # someone else in the same chat
    dict(sender="tg:1", source="slack"),  # the same id on another platform is another person
    dict(hours=-15 * 24),  # more than two weeks before
])
def test_only_the_same_persons_recent_message_is_chased(fake_app, other):
    fake_app.pipeline.receive(msg(ASKED, 1, **other))
    chaser = fake_app.pipeline.receive(msg(CHASER, 2, hours=2))
    offered = fake_app.store.suggestions(chaser.message_id)
    assert not any(s["answers_id"] for s in offered)
    assert "can't find your earlier message" in offered[0]["text"]  # so it asks for it instead of pretending


def test_the_conversation_comes_first_then_the_persons_latest_message(fake_app):
    """A thread's "any update?" chases the thread's question, even when the person wrote elsewhere since; posted as
    a new message (a new Slack post, a new email), it chases their latest message."""
    asked = fake_app.pipeline.receive(msg(ASKED, 1, chat="thread-1")).message_id
    later = fake_app.pipeline.receive(msg("do you sell gift cards?", 2, hours=2, chat="thread-2")).message_id
    in_thread = fake_app.pipeline.receive(msg(CHASER, 3, hours=30, chat="thread-1")).message_id
    anew = fake_app.pipeline.receive(msg(CHASER, 4, hours=31, chat="thread-3")).message_id
    follow_ups = fake_app.playbooks.follow_up_intents()
    assert fake_app.store.followed_up(in_thread, follow_ups)["id"] == asked
    assert fake_app.store.followed_up(anew, follow_ups)["id"] == later


def test_a_follow_up_after_our_reply_does_not_say_nobody_answered(fake_app):
    """"Any update?" after we wrote "we're checking" is a nudge about something still open, not about silence."""
    store = fake_app.store
    fake_app.pipeline.receive(msg("my grinder makes a weird noise", 1))
    store.add_message(Message(text="Sorry about that! Could you send a video?", source="telegram",
                              sender_id="resonate", chat_id="chat1", direction=OUTBOUND,
                              timestamp=T0 + timedelta(hours=2)))
    chaser = fake_app.pipeline.receive(msg(CHASER, 2, hours=50)).message_id
    assert fake_app.store.followed_up(chaser, fake_app.playbooks.follow_up_intents())["replied_at"] == \
        "2026-10-05T11:00:00Z"
    offered = [s["text"] for s in store.suggestions(chaser)]
    assert "ince our last reply (Monday)" in offered[0]
    assert not any("nobody got back to you" in t or "had to chase us" in t for t in offered)
    # without our reply, it does say so
    fake_app.pipeline.receive(msg("my grinder makes a weird noise", 3, sender="tg:9", chat="chat9"))
    silent = fake_app.pipeline.receive(msg(CHASER, 4, hours=50, sender="tg:9", chat="chat9")).message_id
    assert any("nobody got back to you" in s["text"] or "had to chase us" in s["text"]
               for s in store.suggestions(silent))


def test_a_second_follow_up_chases_the_question_not_the_first_follow_up(fake_app):
    asked = fake_app.pipeline.receive(msg(ASKED, 1)).message_id
    fake_app.pipeline.receive(msg(CHASER, 2, hours=5))
    again = fake_app.pipeline.receive(msg("bumping this", 3, hours=30))
    assert again.analysis.intent == "follow_up"
    assert {s["answers_id"] for s in fake_app.store.suggestions(again.message_id)} == {None, asked}


def test_an_import_drafts_a_follow_up_whose_question_is_in_the_same_batch(fake_app):
    report = fake_app.pipeline.ingest([msg(ASKED, 1), msg(CHASER, 2, hours=1)])
    assert report.analysed == 2
    chaser = fake_app.store.db.execute("SELECT id FROM messages WHERE source_id = 'm2'").fetchone()[0]
    assert any(s["answers_id"] for s in fake_app.store.suggestions(chaser))


def test_sending_the_answer_teaches_the_follow_up_and_keeps_the_answers_promise(fake_app):
    """An answer drafted for the chased message is not evidence that "any update on this?" is an order question;
    but when it answers an unsubscribe request, it opts the person out like any unsubscribe reply."""
    store, leave = fake_app.store, fake_app.playbooks.opt_out_intents()
    fake_app.pipeline.receive(msg(ASKED, 1))
    chaser = fake_app.pipeline.receive(msg(CHASER, 2, hours=1)).message_id
    answer = next(s for s in store.suggestions(chaser) if s["answers_id"])
    store.open_card(chaser)
    store.decide(chaser, "sent", "U1", suggestion_id=answer["id"], text=answer["text"], opt_out_intents=leave)
    assert [(r["text"], r["intent"]) for r in store.learned_examples()] == [(CHASER, "follow_up")]
    assert not store.opted_out("telegram", "tg:1")

    stop = fake_app.pipeline.receive(msg("unsubscribe", 3, hours=2, sender="tg:3")).message_id
    assert store.analysis(stop)["intent"] == "unsubscribe"
    chaser = fake_app.pipeline.receive(msg(CHASER, 4, hours=50, sender="tg:3")).message_id
    answer = next(s for s in store.suggestions(chaser) if s["answers_id"] == stop)
    store.open_card(chaser)
    store.decide(chaser, "sent", "U1", suggestion_id=answer["id"], text=answer["text"], opt_out_intents=leave)
    assert store.opted_out("telegram", "tg:3")


def test_a_correction_to_follow_up_redraws_with_the_chased_message(fake_app):
    store = fake_app.store
    asked = fake_app.pipeline.receive(msg(ASKED, 1)).message_id
    vague = fake_app.pipeline.receive(msg("hmm??", 2, hours=4)).message_id
    assert store.analysis(vague)["intent"] != "follow_up"
    store.open_card(vague)
    desk = ReviewDesk(store, lambda: fake_app.suggester, lambda: fake_app.playbooks, NoBoard())
    assert desk.correct_intent(vague, "follow_up", "U1").ok
    assert any(s["answers_id"] == asked for s in store.suggestions(vague))
    assert desk.card_data(vague).follows_up["id"] == asked


def test_the_inbox_shows_what_a_follow_up_chases(monkeypatch, tmp_path):
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    monkeypatch.setenv("RESONATE_CACHE_DIR", str(tmp_path / "cache"))
    rows = tmp_path / "in.jsonl"
    rows.write_text("\n".join(json.dumps({"text": text, "sender": "ava", "source": "email", "chat": "thread-1",
                                          "timestamp": f"2026-10-0{day}T09:00:00Z", "id": f"mail-{day}"})
                              for day, text in [(5, ASKED), (7, CHASER)]) + "\n", encoding="utf-8")
    db = str(tmp_path / "r.db")
    assert CliRunner().invoke(cli, ["ingest", str(rows), "--db", db]).exit_code == 0
    result = CliRunner().invoke(cli, ["inbox", "--db", db])
    assert result.exit_code == 0, result.output
    assert ("    ↩ follows up #1 (2026-10-05T09:00:00Z, order_status): where is my order FB-23700?  (replies marked "
            "↩ answer it)") in result.output
    assert "    2. ↩ " in result.output
    listed = json.loads(CliRunner().invoke(cli, ["inbox", "--db", db, "--json"]).output)["pending"]
    assert listed[1]["follows_up"]["id"] == 1 and listed[0]["follows_up"] is None
    assert [s["answers"] for s in listed[1]["suggestions"]][:2] == [None, 1]


@pytest.mark.parametrize("hours, said", [(3, "earlier today"), (20, "yesterday"), (24 * 3, "Monday"),
                                         (24 * 9, "5 October")])
def test_earlier_day_says_when_as_a_reply_would(hours, said):
    assert earlier_day(T0.isoformat(), (T0 + timedelta(hours=hours)).isoformat()) == said


@pytest.mark.parametrize("language, said", [
    ("de", ["heute", "gestern", "am Montag", "am 5. Oktober", "am 1. November"]),
    ("es", ["hoy", "ayer", "el lunes", "el 5 de octubre", "el 1 de noviembre"]),
    ("fr", ["aujourd'hui", "hier", "lundi", "le 5 octobre", "le 1er novembre"]),
    ("pt", ["hoje", "ontem", "na segunda-feira", "no dia 5 de outubro", "no dia 1 de novembro"]),
    ("it", ["oggi", "ieri", "lunedì", "il 5 ottobre", "il 1º novembre"]),
    ("nl", ["vandaag", "gisteren", "maandag", "op 5 oktober", "op 1 november"]),
    ("ko", ["earlier today", "yesterday", "Monday", "5 October", "1 November"]),  # no words for it: English
])
def test_earlier_day_says_when_as_a_sentence_of_the_replys_language_would(language, said):
    at = [(T0 + timedelta(hours=h)).isoformat() for h in (3, 20, 24 * 3, 24 * 9)]
    assert [earlier_day(T0.isoformat(), a, language) for a in at] + \
        [earlier_day("2026-11-01T09:00:00+00:00", "2026-11-20T09:00:00+00:00", language)] == said
    assert earlier_day("2026-10-08T09:00:00+00:00", "2026-10-30T09:00:00+00:00", "it") == "l'8 ottobre"


class Board:
    """Records the cards posted and updated, as Slack would show them."""

    def __init__(self):
        self.cards: dict[str, str] = {}

    def post(self, blocks, text):
        ts = f"1.{len(self.cards)}"
        self.cards[ts] = json.dumps(blocks, ensure_ascii=False)
        return "C1", ts

    def update(self, channel, ts, blocks, text):
        self.cards[ts] = json.dumps(blocks, ensure_ascii=False)


def test_answering_through_the_follow_up_closes_the_question_too(fake_app):
    """Else the question's card still offers Send, and the customer gets the answer twice."""
    store, board = fake_app.store, Board()
    desk = ReviewDesk(store, lambda: fake_app.suggester, lambda: fake_app.playbooks, board)
    asked = fake_app.pipeline.receive(msg(ASKED, 1)).message_id
    chaser = fake_app.pipeline.receive(msg(CHASER, 2, hours=30)).message_id
    question_card, chaser_card = desk.present(asked), desk.present(chaser)
    answer = next(s for s in store.suggestions(chaser) if s["answers_id"])
    assert desk.send(chaser, answer["id"], "U1").ok
    assert store.card(asked)["state"] == "decided" and store.card(asked)["action"] == "answered_in_follow_up"
    assert store.message(asked)["status"] == "answered"
    assert "Answered in the reply to their follow-up" in board.cards[question_card["ts"]]
    assert "Send" not in board.cards[question_card["ts"]]
    assert [r["id"] for r in store.pending_inbox()] == []
    again = desk.send(asked, store.suggestions(asked)[0]["id"], "U2")
    assert not again.ok and "answered it in the reply to their follow-up" in again.note
    assert store.count("outbox") == 1  # one reply queued, not two


def test_the_follow_ups_own_reply_leaves_the_question_open(fake_app):
    desk = ReviewDesk(fake_app.store, lambda: fake_app.suggester, lambda: fake_app.playbooks, Board())
    asked = fake_app.pipeline.receive(msg(ASKED, 1)).message_id
    chaser = fake_app.pipeline.receive(msg(CHASER, 2, hours=30)).message_id
    desk.present(asked), desk.present(chaser)
    apology = fake_app.store.suggestions(chaser)[0]
    assert apology["answers_id"] is None and desk.send(chaser, apology["id"], "U1").ok
    assert [r["id"] for r in fake_app.store.pending_inbox()] == [asked]  # "I'm on it": the question still waits


def test_the_digest_counts_a_question_answered_in_the_reply_to_its_follow_up(fake_app):
    """Asked in one email, chased in a new one, answered there: both were answered, and when."""
    from bot.digest import response_figures

    store = fake_app.store
    fake_app.pipeline.receive(msg(ASKED, 1, chat="mail-1", source="email"))
    chaser = fake_app.pipeline.receive(msg(CHASER, 2, hours=30, chat="mail-2", source="email")).message_id
    answer = next(s for s in store.suggestions(chaser) if s["answers_id"])
    store.open_card(chaser)
    store.decide(chaser, "sent", "U1", suggestion_id=answer["id"], text=answer["text"])
    store.add_message(Message(text=answer["text"], source="email", sender_id="resonate", chat_id="mail-2",
                              direction=OUTBOUND, timestamp=T0 + timedelta(hours=32)))
    r = response_figures(store, T0 - timedelta(days=1), T0 + timedelta(days=3))
    assert (r["answered"], r["messages"], r["waiting_over_24h"]) == (2, 2, 0)
    assert r["median_hours_to_first_reply"] == 17.0  # 32 h for the question, 2 h for the follow-up


def test_the_answers_to_a_chased_question_read_what_it_said(fake_app):
    """The refund they are chasing was for an item already returned: its answers say where the refund stands."""
    store, pipeline = fake_app.store, fake_app.pipeline
    asked = pipeline.receive(msg("I sent the kettle back two weeks ago and still no refund", 1)).message_id
    chaser = pipeline.receive(msg(CHASER, 2, hours=26))
    assert store.analysis(asked)["intent"] == "refund_return"
    answers = [s for s in store.suggestions(chaser.message_id) if s["answers_id"] == asked]
    assert answers and all(s["reply_id"].startswith("refund_underway") for s in answers)
