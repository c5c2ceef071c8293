import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from bot.bootstrap import App
from bot.cli import cli
from bot.config import Config
from bot.learning import training_set
from bot.message import Message
from nlp.embeddings import HashingEmbedder

TEXT = "the blue lantern on my balcony flickers"


def message(i, text=TEXT):
    return Message(text=text, source="telegram", sender_id=f"u{i}", source_id=f"m{i}", sender_name="Ann Lee",
                   timestamp=datetime(2026, 10, 1, 12, i, tzinfo=timezone.utc))


def make_app(tmp_path):
    return App(Config(db=tmp_path / "r.db", cache_dir=tmp_path / "cache", embedder="hashing", min_similarity=0.0,
                      min_confidence=0.0), embedder=HashingEmbedder())


def test_a_correction_changes_a_later_prediction_and_a_running_app_reloads(tmp_path):
    running = make_app(tmp_path)
    first = running.pipeline.receive(message(1))
    wrong = first.analysis.prediction.best_intent
    target = "partnership" if wrong != "partnership" else "praise"

    # a person in review says "Wrong intent" (in another process: the Slack handler or the CLI)
    other = make_app(tmp_path)
    for i in range(1, 4):
        mid = other.pipeline.receive(message(10 + i, TEXT + f" again {i}")).message_id
        other.store.record_decision(mid, "intent_corrected", "U1", intent=target)
    other.store.record_decision(first.message_id, "intent_corrected", "U1", intent=target)
    result = CliRunner().invoke(cli, ["train", "--db", str(tmp_path / "r.db"), "--json"],
                                env={"RESONATE_EMBEDDER": "hashing", "RESONATE_CACHE_DIR": str(tmp_path / "cache"),
                                     "RESONATE_MIN_SIMILARITY": "0", "RESONATE_MIN_CONFIDENCE": "0"})
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["learned"]["correction"] == 4
    assert out["cross_validated_accuracy"]["after"] is not None

    # the running process picks the new model up on its next message, without a restart
    later = running.pipeline.receive(message(2))
    assert later.analysis.intent == target
    assert running.reload_intents_if_changed() is False  # and does not reload again for nothing
    # a fresh process trains with the corrections from the start
    fresh = make_app(tmp_path)
    assert fresh.analyzer.analyze(TEXT).intent == target


def test_correction_outweighs_a_contradicting_playbook_example(fake_app, shipped):
    example = shipped.get("pricing").examples[0]
    mid = fake_app.pipeline.receive(message(1, example)).message_id
    fake_app.store.record_decision(mid, "intent_corrected", "U1", intent="complaint")
    ts = training_set(shipped, fake_app.store.learned_examples())
    assert example in ts.dropped
    pairs = list(zip(ts.texts, ts.labels, ts.weights))
    assert (example, "complaint", 3.0) in pairs and (example, "pricing", 1.0) not in pairs


def test_playbook_examples_are_learned_as_the_analysis_reads_a_message(shipped):
    greeted = "Hi, I'd like to exchange my grinder for the scale instead"
    assert greeted in shipped.get("refund_return").examples
    ts = training_set(shipped)
    assert "I'd like to exchange my grinder for the scale instead" in ts.texts and greeted not in ts.texts


def test_sent_replies_confirm_their_intent_and_auto_sends_teach_nothing(fake_app):
    p = fake_app.pipeline.receive(message(1, "where is my order"))
    s = fake_app.store.suggestions(p.message_id)[0]
    fake_app.store.record_decision(p.message_id, "sent", "U1", suggestion_id=s["id"], text=s["text"])
    q = fake_app.pipeline.receive(message(2, "hello you"))
    fake_app.store.record_decision(q.message_id, "auto_sent", "resonate", text="hi")
    learned = fake_app.store.learned_examples()
    assert [(r["text"], r["intent"], r["origin"]) for r in learned] == [("where is my order", s["intent"], "sent")]


def test_corrections_to_an_intent_without_playbook_are_gaps(tmp_path):
    app = make_app(tmp_path)
    for i, text in enumerate(["do you sell wholesale to cafes?", "bulk pricing for 40 grinders?"]):
        mid = app.pipeline.receive(message(i, text)).message_id
        app.store.record_decision(mid, "intent_corrected", "U1", intent="wholesale")
    ts = app.training_set()
    assert ts.gaps == {"wholesale": ["do you sell wholesale to cafes?", "bulk pricing for 40 grinders?"]}
    assert "wholesale" not in ts.labels
    env = {"RESONATE_EMBEDDER": "hashing", "RESONATE_CACHE_DIR": str(tmp_path / "cache")}
    text = CliRunner().invoke(cli, ["playbooks", "gaps", "--db", str(tmp_path / "r.db")], env=env)
    assert text.exit_code == 0 and "wholesale: 2 messages" in text.output and "bulk pricing" in text.output


def test_a_correction_of_a_german_message_reaches_a_running_app_and_leaves_the_english_model(tmp_path):
    """Corrections of messages in another language teach only the model for other languages, whose key is
    published with the English one's: published alone, that key did not change, so running processes kept the
    old model."""
    german = "die blaue Laterne auf meinem Balkon flackert seit gestern"

    def train():
        result = CliRunner().invoke(cli, ["train", "--db", str(tmp_path / "r.db"), "--json"],
                                    env={"RESONATE_EMBEDDER": "hashing", "RESONATE_CACHE_DIR": str(tmp_path / "cache"),
                                         "RESONATE_MIN_SIMILARITY": "0", "RESONATE_MIN_CONFIDENCE": "0"})
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    running = make_app(tmp_path)
    english_key = train()["model"]  # a model published before: the running process has it
    first = running.pipeline.receive(message(1, german))
    assert running.intent_key == english_key
    target = "partnership" if first.analysis.prediction.best_intent != "partnership" else "praise"

    other = make_app(tmp_path)
    for i in range(1, 4):
        mid = other.pipeline.receive(message(10 + i, german + f" und heute auch {i}")).message_id
        other.store.record_decision(mid, "intent_corrected", "U1", intent=target)
    out = train()
    assert out["model"] == english_key  # the English model learned nothing German
    assert out["other_languages"]["taught"] == 3 and "de" in out["other_languages"]["languages"]

    later = running.pipeline.receive(message(2, german + " wieder"))
    assert later.analysis.intent == target
    assert any("und heute auch" in text for text in running.analyzer.other_languages.example_texts)  # reloaded
    assert running.intent_key == english_key
    fresh = make_app(tmp_path / "fresh")  # another database, nothing taught: the English reading is the same

    def ranking(app):
        return app.analyzer.analyze(TEXT).prediction.ranking

    # the same intents in the same order, with the same probabilities up to float noise (the two differ by about
    # 3e-6; rounded to 5 places they once came out as 0.58233 and 0.58232 in CI); a model that learned the German
    # corrections moves them by far more
    assert [i for i, _ in ranking(running)] == [i for i, _ in ranking(fresh)]
    assert [p for _, p in ranking(running)] == pytest.approx([p for _, p in ranking(fresh)], abs=1e-4)
