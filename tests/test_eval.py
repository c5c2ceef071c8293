import json

import pytest
from click.testing import CliRunner

from bot.cli import cli
from nlp.embeddings import HashingEmbedder
from nlp.evaluate import eval_intents, eval_sentiment, read_labelled, sample_shots
from nlp.intent import IntentClassifier
from nlp.sentiment import SentimentResult

TRAIN = [
    ("where is my order", "order"), ("my order has not arrived", "order"), ("track my order please", "order"),
    ("when does my order arrive", "order"), ("has my order shipped yet", "order"), ("order status", "order"),
    ("I want a refund", "refund"), ("refund my money please", "refund"), ("give me my money back", "refund"),
    ("how do I get a refund", "refund"), ("refund for my purchase", "refund"), ("money back now", "refund"),
    ("hello", "hello"), ("hi there", "hello"), ("hey", "hello"), ("good morning", "hello"), ("hi team", "hello"),
    ("hello everyone", "hello"),
]
TEST = [("where is my order now", "order"), ("refund please", "refund"), ("hello there", "hello"),
        ("my order please", "order")]
OOS = [("zebra quantum xylophone", "oos"), ("purple elephants dancing", "oos")]


def write(path, rows):
    path.write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in rows))
    return path


def test_intent_eval_on_a_small_fixture_with_known_answers():
    train = ([t for t, _ in TRAIN], [l for _, l in TRAIN])
    test = ([t for t, _ in TEST], [l for _, l in TEST])
    r = eval_intents(HashingEmbedder(), train, test, classifier=IntentClassifier(min_similarity=0.1))
    assert r["accuracy"] == 1.0 and r["macro_f1"] == 1.0
    assert r["n_train"] == 18 and r["n_test"] == 4 and r["n_labels"] == 3
    assert set(r["per_intent"]) == {"order", "refund", "hello"}
    assert 0 <= r["auto_coverage"] <= 1
    assert "oos_recall" not in r


def test_intent_eval_reports_mistakes():
    train = ([t for t, _ in TRAIN], [l for _, l in TRAIN])
    test = (["refund please", "hello there"], ["order", "hello"])  # the first label is deliberately wrong
    r = eval_intents(HashingEmbedder(), train, test, classifier=IntentClassifier(min_similarity=0.1))
    assert r["accuracy"] == 0.5
    assert r["confused_pairs"][0] == {"label": "order", "predicted": "refund", "count": 1}


def test_out_of_scope_path():
    train = ([t for t, _ in TRAIN], [l for _, l in TRAIN])
    test = ([t for t, _ in TEST + OOS], [l for _, l in TEST + OOS])
    r = eval_intents(HashingEmbedder(), train, test, classifier=IntentClassifier(min_similarity=0.3, min_confidence=0.3))
    assert r["oos_recall"] == 1.0  # nothing like the training data: abstains
    assert r["oos_precision"] > 0
    assert 0 <= r["in_scope_accuracy"] <= r["accuracy"]


def test_shots_sampling_is_deterministic():
    texts, labels = [t for t, _ in TRAIN], [l for _, l in TRAIN]
    a = sample_shots(texts, labels, 2, seed=1)
    assert a == sample_shots(texts, labels, 2, seed=1)
    assert sorted(a[1]) == ["hello", "hello", "order", "order", "refund", "refund"]
    others = [sample_shots(texts, labels, 2, seed=s)[0] for s in range(2, 8)]
    assert any(o != a[0] for o in others)


def test_sentiment_eval_metrics():
    class Fixed:
        name = "fixed"

        def score(self, texts, vectors=None, tone=None):
            return [SentimentResult("positive" if "good" in t else "negative", 0.0) for t in texts]

    r = eval_sentiment(Fixed(), (["good", "bad", "good too", "meh"], ["positive", "negative", "neutral", "neutral"]))
    assert r["accuracy"] == 0.5
    assert r["recall"] == {"negative": 1.0, "neutral": 0.0, "positive": 1.0}
    assert r["macro_recall"] == pytest.approx(2 / 3)
    assert r["confusion"]["neutral"] == {"negative": 1, "neutral": 0, "positive": 1}


def test_bad_labelled_file_names_the_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "a", "label": "b"}\n{"text": "no label"}\n')
    with pytest.raises(ValueError, match="x.jsonl:2"):
        read_labelled(path)


def test_eval_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    monkeypatch.setenv("RESONATE_MIN_SIMILARITY", "0.1")
    train, test = write(tmp_path / "train.jsonl", TRAIN), write(tmp_path / "test.jsonl", TEST + OOS)
    runner = CliRunner()
    out = runner.invoke(cli, ["eval", "intents", "--train", str(train), "--test", str(test), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    for key in ("accuracy", "macro_f1", "n_train", "n_test", "train_seconds", "predict_per_second", "auto_threshold",
                "auto_coverage", "auto_accuracy", "in_scope_accuracy", "oos_recall", "oos_precision"):
        assert key in data
    shots = runner.invoke(cli, ["eval", "intents", "--train", str(train), "--test", str(test), "--shots", "3",
                                "--seed", "4", "--json"])
    assert json.loads(shots.stdout)["n_train"] == 9
    text = runner.invoke(cli, ["eval", "intents", "--train", str(train), "--test", str(test)])
    assert "macro-F1" in text.output and "out-of-scope recall" in text.output
    sent = write(tmp_path / "sent.jsonl", [("I love it", "positive"), ("this is terrible", "negative"),
                                           ("the box is blue", "neutral")])
    s = runner.invoke(cli, ["eval", "sentiment", "--test", str(sent), "--json"])
    assert s.exit_code == 0, s.output
    assert json.loads(s.stdout)["accuracy"] == 1.0
    bad = write(tmp_path / "bad.jsonl", [("x", "angry")])
    b = runner.invoke(cli, ["eval", "sentiment", "--test", str(bad)])
    assert b.exit_code == 1 and "angry" in b.output
    themes = runner.invoke(cli, ["eval", "themes", "--test", str(test), "--json"])
    assert themes.exit_code == 0, themes.output
    data = json.loads(themes.stdout)
    assert {"v_measure", "ari", "n_themes", "left_out", "seconds"} <= data.keys()
    assert data["tone_vectors"] is False  # the hashing embedder has none, and 6 texts are too few anyway
