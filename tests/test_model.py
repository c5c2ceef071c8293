"""End to end with the real packaged all-MiniLM-L6-v2 (marked ``model``: skip with ``-m 'not model'``)."""

import json

import numpy as np
import pytest
import sqlite_utils
from click.testing import CliRunner

from bot.channels.files import read_file
from bot.cli import cli
from bot.demo import sample_inbox_path

pytestmark = pytest.mark.model


def test_packaged_model_loads_offline_and_embeds(real_app):
    vectors = real_app.embedder.encode(["where is my order", "where's my parcel", "I love this kettle"])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


@pytest.mark.parametrize("text, intent", [
    ("hey, where's my package? ordered FB-20431 two weeks ago", "order_status"),
    # a subscription's box that is late is an order to find, not a plan to change (was subscription, 0.92)
    ("third week waiting for my November coffee box, I'm paying monthly for this", "order_status"),
    ("I'd like to return the grinder and get my money back", "refund_return"),
    ("can't log in, the magic link never shows up", "account_login"),
    ("please take me off your mailing list", "unsubscribe"),
    ("can I speak to an actual human please", "human_handoff"),
    ("When is the next Brew Jam in Berlin?", "event_question"),
    ("would love a dark mode in the app", "feature_request"),
    ("hello!", "greeting"),
    ("Please erase my account and every bit of personal data you have on me", "privacy_request"),
    ("Can I skip the Bean Club box in January? I'm travelling", "subscription"),
    ("Hello? I wrote to you last week and still no answer", "follow_up"),
    ("That did the trick, all working again. Thanks a lot!", "thanks"),
    ("Could you email me a receipt for FB-20431? I need it for my expenses", "billing"),
    ("my card was declined twice at checkout", "billing"),
    ("Do you accept Google Pay?", "billing"),
])
def test_clear_messages_get_the_right_intent(real_app, text, intent):
    a = real_app.analyzer.analyze(text)
    assert a.intent == intent, (text, a.to_dict()["ranking"])


@pytest.mark.parametrize("text", ["Can you recommend a good coffee podcast?",
                                  "hiya, who does your packaging design? It's lovely"])
def test_a_question_is_not_thanked_for_as_praise(real_app, text):
    assert "praise" in real_app.analyzer.intents.not_for_questions  # the shipped praise playbook's setting
    a = real_app.analyzer.analyze(text)
    assert a.intent != "praise" and a.prediction.ranking[0][0] == "praise", a.to_dict()["ranking"]


def test_off_topic_message_is_unknown_and_gets_a_clarifying_reply(real_app):
    a = real_app.analyzer.analyze("what is the capital of mongolia")
    assert a.intent == "unknown"
    from bot.playbooks import ReplyContext

    out = real_app.suggester.suggest(a, ReplyContext())
    assert out[0].intent == "unknown" and "?" in out[0].text


def test_ingest_analyse_suggest_end_to_end(real_app):
    messages = read_file(sample_inbox_path()).messages[:120]
    report = real_app.pipeline.ingest(messages)
    assert report.stored == 120 and report.analysed == 120
    store = real_app.store
    assert store.count("analyses") == 120 and store.count("embeddings") == 120
    ids = [r["id"] for r in store.db.query("SELECT id FROM messages ORDER BY id")]
    for mid in ids:
        suggestions = store.suggestions(mid)
        assert 1 <= len(suggestions) <= 3
        assert all("{" not in s["text"] for s in suggestions)
    with_order = [r for r in store.db.query(
        "SELECT a.message_id, a.intent FROM analyses a WHERE a.entities LIKE '%ORDER_ID%'")]
    assert with_order
    # the stored embedding equals a fresh encoding: clustering later never recomputes
    first = ids[0]
    fresh = real_app.embedder.encode([store.message(first)["text"]])[0]
    np.testing.assert_allclose(store.embeddings([first])[first], fresh, atol=1e-5)
    # ingesting the same messages again stores nothing twice
    assert real_app.pipeline.ingest(messages).duplicates == 120


def test_intent_model_is_cached_by_content(real_app, tmp_path):
    from bot.bootstrap import train_intents

    real_app.analyzer.intents, real_app.intents_in_other_languages.model  # the English model, the other languages'
    cache = sorted(path.name for path in real_app.config.cache_dir.glob("intents-*.npz"))
    assert len(cache) == 2
    again, key = train_intents(real_app.embedder, real_app.playbooks, real_app.config)
    assert again.classes == real_app.intents.classes
    assert f"intents-{key}.npz" in cache
    assert sorted(path.name for path in real_app.config.cache_dir.glob("intents-*.npz")) == cache


def test_demo_command(tmp_path):
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(cli, ["demo", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["summary"]["messages"] >= 400 and out["summary"]["analysed"] == out["summary"]["messages"]
    assert len(out["examples"]) == 5
    assert len({e["analysis"]["intent"] for e in out["examples"]}) == 5
    assert all(e["suggestions"] for e in out["examples"])
    assert "unknown" in out["summary"]["by_intent"]
    # the message shown abstained on is the one Resonate is least sure of, not one that just missed the threshold
    shown = [e["analysis"]["confidence"] for e in out["examples"] if e["analysis"]["intent"] == "unknown"]
    least = sqlite_utils.Database(db).execute(
        "SELECT min(a.confidence) FROM analyses a JOIN messages m ON m.id = a.message_id "
        "WHERE m.direction = 'in' AND a.intent = 'unknown' AND a.entities != '[]'").fetchone()[0]
    assert shown == [pytest.approx(least)] and least < 0.3
    text = CliRunner().invoke(cli, ["demo", "--db", str(db)])
    assert text.exit_code == 0 and str(db) in text.output and "Volume by intent" in text.output
    # the drafts that answer the message a follow-up chases are marked as `resonate inbox` marks them
    answering = [s["rank"] for e in out["examples"] if e["follows_up"] for s in e["suggestions"] if s["answers"]]
    assert answering and "(drafts marked ↩ answer it)" in text.output
    assert all(f"{rank}. ↩ " in text.output for rank in answering)


def test_analyze_and_suggest_commands(tmp_path):
    runner = CliRunner()
    out = runner.invoke(cli, ["analyze", "my Fern Scale won't pair, order FB-20431", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["intent"] == "technical_problem" and data["sentiment"] == "negative"
    assert {e["label"] for e in data["entities"]} >= {"PRODUCT", "ORDER_ID"}
    sug = runner.invoke(cli, ["suggest", "where is my order FB-20431?", "--name", "Anna Kowalski", "--json"])
    data = json.loads(sug.stdout)
    assert data["suggestions"] and any("FB-20431" in s["text"] for s in data["suggestions"])


@pytest.mark.parametrize("text, label", [
    ("my order hasn't arrived yet, thanks", "negative"),
    ("still waiting on my refund. 3 weeks now.", "negative"),
    ("The paint is chipping. For €249 I expected better. Kind regards, Ann", "negative"),
    ("This is the worst customer service I have ever had", "negative"),
    ("where is my order FB-12345?", "neutral"),
    ("How much is the grinder? Kind regards, Vera", "neutral"),
    ("Do you ship to Norway?", "neutral"),
    ("Love the new grinder, thank you so much!", "positive"),
    ("works perfectly now, you are legends", "positive"),
    ("Hi, my grinder makes a scraping noise since yesterday. Order FB-20431.", "negative"),
    ("The grinder is 10/10", "positive"),  # a score is the customer's own verdict
    ("Ordered on 10/10, what is the status?", "neutral"),  # the same digits as a date are not
    ("2/10, the app logs me out every day", "negative"),
    ("can I pay with apple pay?", "neutral"),  # paying is buying here, not "you'll pay for this"
    ("Do you take credit cards?", "neutral"),
    # an escalation letter: its thanks and hopes surround the problem
    ("Hi Fernbrew team, I'm honestly at the end of my patience and I'd like this to reach someone who can actually "
     "make a decision. The kettle arrived with a cracked lid and I was promised a replacement. I really wanted to "
     "love these products and recommended them to two friends. Kind regards, Ava", "negative"),
    ("I have written three emails and waited 40 minutes on the phone. I'd really appreciate a quick answer, thanks!",
     "negative"),
    ("Hi team, this is the second week I'm waiting for the October box. I pay €18 every month, I expect it on time. "
     "Thank you! Oliver", "negative"),
])
def test_shipped_sentiment_reads_customer_service_language(real_app, text, label):
    assert real_app.sentiment.name.startswith("minilm-head")
    assert real_app.analyzer.analyze(text).sentiment == label


def test_stored_embeddings_without_tone_vectors_give_the_same_analysis(real_app, sample_texts):
    analyzer = real_app.analyzer
    texts = list(sample_texts[:40])
    vectors, tone, weighted = analyzer.encode(texts)
    assert weighted is None  # without idf weights, none are made
    assert tone is not None and tone.shape == vectors.shape  # the shipped head reads the tone vectors
    fresh, stored = analyzer.analyze_many(texts), analyzer.analyze_many(texts, vectors)
    assert [(a.sentiment, a.sentiment_score) for a in fresh] == [(a.sentiment, a.sentiment_score) for a in stored]
    with pytest.raises(ValueError, match="tone vectors"):
        real_app.sentiment.probabilities(texts, vectors)


def test_a_message_is_stored_with_the_tone_vector_of_its_analysis(real_app):
    """The themes cluster on the embeddings and the tone vectors (nlp.themes.ThemeEngine.space): the analysis
    stores both, from the one forward pass that the sentiment head reads too."""
    from datetime import datetime, timezone

    from bot.message import Message

    text = "my top-up was reverted, where did the money go?"
    processed = real_app.pipeline.receive(Message(text=text, source="telegram", sender_id="tone-1",
                                                  timestamp=datetime(2026, 11, 30, tzinfo=timezone.utc)))
    row = real_app.store.db.execute("SELECT vector, tone, weighted FROM embeddings WHERE message_id = ?",
                                    [processed.message_id]).fetchone()
    vectors, tone, _ = real_app.analyzer.encode([text])
    assert row[1] is not None and np.frombuffer(row[1], dtype=np.float32).shape == (384,)
    assert np.allclose(np.frombuffer(row[1], dtype=np.float32), tone[0], atol=1e-5)
    assert np.allclose(np.frombuffer(row[0], dtype=np.float32), vectors[0], atol=1e-5)
    assert not np.allclose(tone[0], vectors[0], atol=0.1)  # another layer's states, not the embedding again
    # and the idf-weighted vector, with the store's idf weights (the message itself counted)
    assert row[2] is not None and np.frombuffer(row[2], dtype=np.float32).shape == (384,)
    assert not np.allclose(np.frombuffer(row[2], dtype=np.float32), vectors[0], atol=0.01)
    assert not np.allclose(np.frombuffer(row[2], dtype=np.float32), tone[0], atol=0.1)  # the last layer's, weighted


def test_eval_themes_clusters_what_the_analysis_stores(real_app, tmp_path):
    """`resonate eval themes` reads the embeddings and, for an input as large as the themes read them for, the tone
    and idf-weighted vectors, as the analysis stores them for an import of the file into an empty inbox; here on
    the playbooks' 403 English examples, labelled by intent."""
    from bot.playbooks import default_playbooks_dir, load_playbooks

    texts, labels = load_playbooks(default_playbooks_dir()).training_examples()
    assert len(texts) >= real_app.theme_engine.tone_from
    path = tmp_path / "examples.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in zip(texts, labels)))
    out = CliRunner().invoke(cli, ["eval", "themes", "--test", str(path), "--db", str(tmp_path / "x.db"), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["tone_vectors"] is True and data["idf_weighted"] is True and data["n_texts"] == len(texts)
    assert data["embedding_bulk"] == "off"  # fp32 on every CPU, so the figure does not depend on the machine
    assert {"v_measure", "ari", "n_themes", "left_out", "seconds"} <= data.keys()
    assert data["v_measure"] > 0.3 and data["n_themes"] >= 10  # 19 broad intents: V 0.49 here
    half = CliRunner().invoke(cli, ["eval", "themes", "--test", str(path), "--db", str(tmp_path / "x.db")])
    assert "on the idf-weighted vectors and the tone vectors" in half.output
