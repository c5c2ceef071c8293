import json

import pytest

from click.testing import CliRunner

from bot.channels.files import read_file
from bot.cli import cli
from bot.store import Store
from bot.demo import sample_inbox_path
from bot.message import MAX_TEXT_CHARS


def write_jsonl(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


ROWS = [
    {"text": "Where is my order FB-12345?", "sender": "a@example.com", "sender_name": "Ann Lee", "source": "email",
     "chat": "t1", "timestamp": "2026-10-05T10:00:00Z", "id": "e1"},
    "{not json",
    {"text": "", "sender": "b"},
    {"text": "hi", "sender": "c", "timestamp": "yesterday-ish"},
    {"text": "x" * (MAX_TEXT_CHARS + 1), "sender": "d"},
    {"text": "Love the kettle!", "sender": "e", "timestamp": 1790000000, "sender_tags": ["vip"]},
    {"text": "hello", "sender": "f", "colour": "red"},
]


def test_bad_rows_are_reported_with_line_numbers_and_good_rows_kept(tmp_path):
    result = read_file(write_jsonl(tmp_path / "in.jsonl", ROWS))
    assert [m.text for m in result.messages] == ["Where is my order FB-12345?", "Love the kettle!", "hello"]
    problems = {e.line: e.problem for e in result.errors}
    assert set(problems) == {2, 3, 4, 5}
    assert "invalid JSON" in problems[2]
    assert "'text' is missing" in problems[3]
    assert "timestamp" in problems[4]
    assert str(MAX_TEXT_CHARS) in problems[5]
    assert result.ignored == ["colour"]  # a column of the export's own: not read, said once, the row kept
    assert result.messages[1].sender_tags == ("vip",)


def test_an_export_with_its_own_column_names_is_read_with_a_map(tmp_path, monkeypatch):
    path = tmp_path / "export.csv"
    path.write_text("from,message,subject,date,text\n"
                    "anna@example.com,Where is my order FB-12345?,Order,2026-10-05T10:00:00Z,ignored\n",
                    encoding="utf-8")
    unmapped = read_file(path)
    assert not unmapped.messages
    result = read_file(path, columns={"text": "message", "sender": "from", "timestamp": "date"})
    assert [(m.text, m.sender_id, m.timestamp.isoformat()) for m in result.messages] == [
        ("Where is my order FB-12345?", "anna@example.com", "2026-10-05T10:00:00+00:00")]
    assert result.ignored == ["subject", "text"]  # the file's own "text" gives way to the mapped column
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    runner, db = CliRunner(), str(tmp_path / "r.db")
    refused = runner.invoke(cli, ["ingest", str(path), "--db", db])
    assert refused.exit_code == 1 and "--map text=COLUMN" in refused.output
    done = runner.invoke(cli, ["ingest", str(path), "--db", db, "--map", "text=message", "--map", "sender=from",
                               "--json"])
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert out["stored"] == 1 and out["not_read_columns"] == ["subject", "date", "text"]
    for bad in ("txt=message", "text", "text=message --map text=from".split(" --map ")[1]):
        assert runner.invoke(cli, ["ingest", str(path), "--db", db, "--map", "text=message", "--map", bad]
                             ).exit_code == 2, bad


def test_csv_import(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("text,sender,source,chat,timestamp,sender_tags\n"
                    "\"Hi, is the Fern Scale waterproof?\",u1,forum,th1,2026-10-01T08:00:00Z,vip;beta\n"
                    ",u2,forum,th2,2026-10-01T08:00:00Z,\n", encoding="utf-8")
    result = read_file(path)
    assert len(result.messages) == 1 and result.messages[0].sender_tags == ("vip", "beta")
    assert result.errors[0].line == 3


def test_a_row_cut_short_says_where(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "fine", "sender": "b"}\n{"text": "broken row\n{"text": "x"\n')
    result = read_file(path)
    assert [m.text for m in result.messages] == ["fine"]
    assert [e.problem for e in result.errors] == [
        "invalid JSON: Unterminated string starting at column 10",  # not "at at", nor the newline at column 21
        "invalid JSON: Expecting ',' delimiter at column 13 (the row ends there)",  # not "column 1" of the next line
    ]


def test_csv_without_required_columns(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("message,who\nhello,me\n")
    result = read_file(path)
    assert not result.messages and "text and sender" in result.errors[0].problem


def test_ingest_command_keeps_good_rows_and_is_idempotent(tmp_path, monkeypatch):
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    path = write_jsonl(tmp_path / "in.jsonl", ROWS)
    db = tmp_path / "r.db"
    runner = CliRunner()
    first = runner.invoke(cli, ["ingest", str(path), "--db", str(db), "--json"])
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert out["stored"] == 3 and out["rejected"] == 4 and out["analysed"] == 3
    assert {e["line"] for e in out["errors"]} == {2, 3, 4, 5}
    again = runner.invoke(cli, ["ingest", str(path), "--db", str(db), "--json"])
    assert json.loads(again.stdout)["duplicates"] == 3


def test_a_row_imported_again_with_its_id_and_another_text_is_an_edit(tmp_path, monkeypatch):
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    rows = [{"id": "p-1", "sender": "ana", "source": "forum", "text": "where is my order?"},
            {"id": "p-2", "sender": "bo", "source": "forum", "text": "love the kettle"}]
    db, runner = str(tmp_path / "r.db"), CliRunner()
    runner.invoke(cli, ["ingest", str(write_jsonl(tmp_path / "a.jsonl", rows)), "--db", db])
    rows[0]["text"] = "where is my order FB-20431?"  # edited on the forum since the last export
    again = runner.invoke(cli, ["ingest", str(write_jsonl(tmp_path / "b.jsonl", rows)), "--db", db])
    assert again.exit_code == 0, again.output
    assert "0 new messages stored (1 already there, 1 edited since" in again.output
    store = Store(db)
    message = store.message(store.message_id_of("forum", "p-1"))
    assert message["text"] == "where is my order FB-20431?" and store.count("messages") == 2
    assert any("FB-20431" in s["text"] for s in store.suggestions(message["id"]))
    store.close()


def test_rows_without_id_or_time_are_stored_once_however_often_the_file_is_imported(tmp_path, monkeypatch):
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    rows = [{"text": "thanks!", "sender": "f"}, {"text": "where is it?", "sender": "f"}, {"text": "thanks!", "sender": "f"}]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    db, runner = str(tmp_path / "r.db"), CliRunner()
    first = json.loads(runner.invoke(cli, ["ingest", str(path), "--db", db, "--json"]).stdout)
    again = json.loads(runner.invoke(cli, ["ingest", str(path), "--db", db, "--json"]).stdout)
    assert (first["stored"], again["stored"], again["duplicates"]) == (3, 0, 3)  # each dated at its own import


def test_ingest_of_a_file_with_only_bad_rows_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    path = write_jsonl(tmp_path / "in.jsonl", ["{nope"])
    result = CliRunner().invoke(cli, ["ingest", str(path), "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 1
    assert "in.jsonl:1: invalid JSON" in result.output


def test_bundled_sample_inbox_is_realistic():
    result = read_file(sample_inbox_path())
    assert not result.errors
    msgs = result.messages
    assert len(msgs) >= 400
    assert len({(m.source, m.sender_id) for m in msgs}) >= 80
    span = max(m.timestamp for m in msgs) - min(m.timestamp for m in msgs)
    assert span.days >= 42
    assert {"telegram", "slack"} <= {m.source for m in msgs}
    assert {m.source for m in msgs} - {"telegram", "slack"}  # imported sources too


def _inbox(n):
    from datetime import datetime, timedelta, timezone

    from bot.message import Message

    start = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
    texts = ["where is my order FB-1{:04d}?", "love the new burrs {}", "refund please, order {}", "hi there {}"]
    return [Message(text=texts[i % 4].format(i), source="telegram", sender_id=f"u{i % 5}", sender_name=f"U{i % 5}",
                    timestamp=start + timedelta(minutes=i)) for i in range(n)]


def _analyses(app, n):
    rows = [app.store.analysis(mid) for mid in range(1, n + 1)]
    vectors = app.store.embeddings(range(1, n + 1))
    return [(r["intent"], r["confidence"], r["sentiment"], r["entities"], vectors[i + 1].tolist())
            for i, r in enumerate(rows)]


def test_batches_embedded_ahead_give_the_same_analyses_as_one_batch(fake_app, tmp_path):
    import dataclasses

    from bot.bootstrap import App
    from nlp.embeddings import HashingEmbedder

    one = App(dataclasses.replace(fake_app.config, db=tmp_path / "one.db"), embedder=HashingEmbedder())
    try:
        one.pipeline.ingest(_inbox(11))  # a single batch: nothing embedded ahead
        fake_app.pipeline.batch_size = 3  # 4 batches, each embedded while the one before is stored
        done = []
        report = fake_app.pipeline.ingest(_inbox(11), progress=done.append)
        assert report.analysed == 11 and done == [3, 3, 3, 2]
        assert _analyses(fake_app, 11) == _analyses(one, 11)
        assert all(fake_app.store.suggestions(mid) for mid in range(1, 12))
    finally:
        one.close()


def test_an_embedding_error_ahead_keeps_the_batches_already_analysed(fake_app):
    embedder = fake_app.analyzer.embedder
    real = embedder.encode

    def encode(texts):
        if any("refund" in t and "order 6" in t for t in texts):
            raise RuntimeError("model crashed")
        return real(texts)

    embedder.encode = encode
    fake_app.pipeline.batch_size = 3
    with pytest.raises(RuntimeError, match="model crashed"):
        fake_app.pipeline.ingest(_inbox(11))  # message 7 ("refund please, order 6") is in the third batch
    assert fake_app.store.count("messages") == 11  # every message stays stored
    assert [fake_app.store.analysis(mid) is not None for mid in range(1, 12)] == [True] * 6 + [False] * 5
    embedder.encode = real
    assert fake_app.pipeline.analyse_pending() == 5


def test_analysis_runs_numpy_on_one_blas_thread_while_the_embedder_works(fake_app):
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    assert before, "no BLAS library found behind numpy"
    seen = []
    analyze_many = fake_app.analyzer.analyze_many

    def watched(texts, vectors=None, tone=None, weighted=None):
        seen.append(blas_threads())
        return analyze_many(texts, vectors, tone, weighted)

    fake_app.analyzer.analyze_many = watched
    fake_app.pipeline.batch_size = 4
    assert fake_app.pipeline.ingest(_inbox(9)).analysed == 9
    assert seen == [[1] * len(before)] * 3
    assert blas_threads() == before  # numpy gets its threads back afterwards
