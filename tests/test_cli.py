"""The CLI is documented: every command has help, and README.md names every command (sqlite-utils' test_docs)."""

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def all_commands(group=cli, prefix=()):
    for name, command in group.commands.items():
        path = prefix + (name,)
        yield path
        if isinstance(command, click.Group):
            yield from all_commands(command, path)


@pytest.mark.parametrize("path", list(all_commands()), ids=lambda p: " ".join(p))
def test_every_command_has_help_and_is_in_the_readme(path):
    result = CliRunner().invoke(cli, list(path) + ["--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert f"resonate {' '.join(path)}" in README


def test_unknown_command_is_a_clear_error():
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2 and "No such command 'frobnicate'" in result.output


def test_bad_configuration_is_one_line_not_a_traceback(monkeypatch):
    monkeypatch.setenv("RESONATE_MIN_CONFIDENCE", "lots")
    result = CliRunner().invoke(cli, ["analyze", "hi"])
    assert result.exit_code == 1
    assert "configuration min_confidence" in result.output and "Traceback" not in result.output


def test_missing_model_folder_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["analyze", "hi", "--model", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "never downloads" in result.output


def test_analyze_json_with_the_test_embedder(monkeypatch):
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    result = CliRunner().invoke(cli, ["analyze", "refund order FB-12345 please", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"intent", "confidence", "sentiment", "entities", "model_version"} <= set(data)


@pytest.mark.parametrize("command", ["analyze", "suggest"])
def test_an_empty_or_too_long_message_is_refused_not_read(command, monkeypatch):
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    result = CliRunner().invoke(cli, [command, "  "])
    assert result.exit_code == 2 and "the message is empty" in result.output  # was read as a greeting
    result = CliRunner().invoke(cli, [command, "x" * 20_001])
    assert result.exit_code == 2 and "20,001 characters; at most 20,000" in result.output


def test_a_digest_file_of_another_kind_is_refused_before_the_work(monkeypatch, tmp_path):
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    out = tmp_path / "digest.pdf"
    result = CliRunner().invoke(cli, ["digest", "--out", str(out), "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 1 and "Markdown (.md) or HTML (.html), not .pdf" in result.output
    assert not out.exists() and not out.with_suffix(".png").exists()


def test_the_inbox_keeps_a_letters_lines_under_its_header(monkeypatch, tmp_path):
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    monkeypatch.setenv("RESONATE_CACHE_DIR", str(tmp_path / "cache"))
    letter = "Dear Fernbrew,\n\nThe lid of my kettle is cracked.\n\nKind regards,\nPaula"
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"text": letter, "sender": "paula", "source": "email"}) + "\n", encoding="utf-8")
    db = str(tmp_path / "r.db")
    assert CliRunner().invoke(cli, ["ingest", str(rows), "--db", db]).exit_code == 0
    result = CliRunner().invoke(cli, ["inbox", "--db", db])
    assert result.exit_code == 0, result.output
    body = result.output.split("\n")[1:5]
    assert body == ["    Dear Fernbrew,", "    The lid of my kettle is cracked.", "    Kind regards,", "    Paula"]


def test_a_reply_to_an_imported_email_says_to_send_it_yourself(monkeypatch, tmp_path):
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    monkeypatch.setenv("RESONATE_CACHE_DIR", str(tmp_path / "cache"))
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"text": "Is the kettle lid dishwasher safe?", "sender": "paula", "source": "email"})
                    + "\n", encoding="utf-8")
    db = str(tmp_path / "r.db")
    assert CliRunner().invoke(cli, ["ingest", str(rows), "--db", db]).exit_code == 0
    result = CliRunner().invoke(cli, ["reply", "1", "--text", "Yes, top rack.", "--db", db])
    assert result.exit_code == 0, result.output
    assert "no connector that sends to email" in result.output and result.output.rstrip().endswith("Yes, top rack.")
    assert "a running resonate run sends it" not in result.output  # it never would
    from bot.store import Store

    store = Store(db)
    assert store.outbox_of(1)["state"] == "sent" and store.outbox_of(1)["sent_message_id"].startswith("by-hand:")


def test_replying_by_hand_leaves_another_sources_queued_reply_alone(monkeypatch, tmp_path):
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    monkeypatch.setenv("RESONATE_CACHE_DIR", str(tmp_path / "cache"))
    rows = tmp_path / "in.jsonl"
    rows.write_text("\n".join(json.dumps(r) for r in [
        {"text": "where is my order?", "sender": "42", "source": "telegram", "id": "42:1"},
        {"text": "Is the lid dishwasher safe?", "sender": "paula", "source": "email", "id": "mail-1"}]) + "\n")
    db = str(tmp_path / "r.db")
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(rows), "--db", db]).exit_code == 0
    queued = runner.invoke(cli, ["reply", "1", "--text", "Checking now!", "--db", db])  # no Telegram token here
    assert queued.exit_code == 0 and "Queued" in queued.output
    assert runner.invoke(cli, ["reply", "2", "--text", "Yes.", "--db", db]).exit_code == 0
    from bot.store import Store

    store = Store(db)
    assert store.outbox_of(1)["state"] == "pending"  # still waiting for a process that can send to Telegram
    assert store.outbox_of(2)["sent_message_id"].startswith("by-hand:")


def test_an_empty_window_says_where_the_messages_are(monkeypatch, tmp_path):
    """After importing an old inbox (or the demo), `themes` and `digest` of this week find nothing: say when the
    newest message is instead of an empty report alone."""
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    monkeypatch.setenv("RESONATE_CACHE_DIR", str(tmp_path / "cache"))
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"text": "Is the kettle back in stock?", "sender": "ana",
                                "timestamp": "2026-03-02T10:00:00Z"}) + "\n", encoding="utf-8")
    db = str(tmp_path / "r.db")
    assert CliRunner().invoke(cli, ["ingest", str(rows), "--db", db]).exit_code == 0
    hint = "No message in this window; the newest is from 2026-03-02: try --until 2026-03-02T10:00:00Z"
    result = CliRunner().invoke(cli, ["themes", "--db", db, "--until", "2026-11-30"])
    assert result.exit_code == 0 and "Themes of 0 messages" in result.output and hint in result.output
    result = CliRunner().invoke(cli, ["digest", "--db", db, "--until", "2026-11-30", "--out", str(tmp_path / "d.md")])
    assert result.exit_code == 0 and hint in result.output
    result = CliRunner().invoke(cli, ["digest", "--db", db, "--until", "2026-03-02", "--out", str(tmp_path / "d.md")])
    assert "No message in this window" not in result.output
    assert "- **1 message** (none the week before)" in (tmp_path / "d.md").read_text(encoding="utf-8")


def test_themes_say_which_language_their_people_wrote_in(monkeypatch, tmp_path):
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    monkeypatch.setenv("RESONATE_CACHE_DIR", str(tmp_path / "cache"))
    rows = tmp_path / "in.jsonl"
    texts = ["Der Akku meiner Fern Scale ist jeden Morgen leer, was kann ich tun?",
             "Der Akku der Fern Scale ist nach einer Nacht leer, ist das bekannt?",
             "Mein Akku der Fern Scale ist schon wieder leer, das ist nicht normal"]
    rows.write_text("".join(json.dumps({"text": t, "sender": f"p{i}", "timestamp": f"2026-11-2{4 + i}T10:00:00Z"}) + "\n"
                            for i, t in enumerate(texts)), encoding="utf-8")
    db = str(tmp_path / "r.db")
    assert CliRunner().invoke(cli, ["ingest", str(rows), "--db", db]).exit_code == 0
    result = CliRunner().invoke(cli, ["themes", "--db", db, "--until", "2026-11-28"])
    assert result.exit_code == 0 and "3 people via import, written in German 3" in result.output


def test_the_demo_names_its_next_commands_as_they_can_be_typed(monkeypatch, tmp_path):
    """The README runs `.venv/bin/resonate demo` without activating the environment: "resonate ..." would not run."""
    from bot.demo import _command

    script = tmp_path / ".venv" / "bin" / "resonate"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setattr("sys.argv", [str(script), "demo"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert _command() == str(script)
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
    assert _command() == "resonate"
    monkeypatch.setattr("sys.argv", ["/somewhere/bot/cli.py", "demo"])  # python -m bot.cli
    assert _command() == "resonate"


def test_the_inbox_lists_one_intent_at_a_time_and_says_how_many_wait(monkeypatch, tmp_path):
    """Alike messages are answered together: `--intent` lists those, by the intent a person set if they did."""
    from bot.store import Store

    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    monkeypatch.setenv("RESONATE_CACHE_DIR", str(tmp_path / "cache"))
    texts = ["where is my order??", "order FB-20431 still says processing, when will it ship?",
             "love my fern kettle, best purchase this year!"]
    rows = tmp_path / "in.jsonl"
    rows.write_text("".join(json.dumps({"text": t, "sender": f"p{i}", "source": "email",
                                        "timestamp": f"2026-11-0{i + 1}T10:00:00Z"}) + "\n"
                            for i, t in enumerate(texts)), encoding="utf-8")
    db = str(tmp_path / "r.db")
    assert CliRunner().invoke(cli, ["ingest", str(rows), "--db", db]).exit_code == 0

    def listed(*args):
        result = CliRunner().invoke(cli, ["inbox", "--db", db, *args])
        assert result.exit_code == 0, result.output
        return result.output

    out = listed("--intent", "order_status", "--limit", "1")
    assert "#1 " in out and "#2 " not in out and "praise" not in out
    assert "2 messages waiting (order_status), the oldest 1 shown (--limit)." in out
    assert "1 message waiting (praise)." in listed("--intent", "praise")
    store = Store(db)
    store.open_card(2)
    assert store.correct_intent(2, "praise", "cm")  # a person says it is praise after all (in Slack)
    store.close()
    assert "#2 " in listed("--intent", "praise") and "(praise set by a person, neutral)" in listed()
    assert "1 message waiting (order_status)." in listed("--intent", "order_status")
    assert "3 messages waiting." in listed()
    assert "Nothing waiting for a person (complaint)." in listed("--intent", "complaint")
    wrong = CliRunner().invoke(cli, ["inbox", "--intent", "login", "--db", db])
    assert wrong.exit_code == 2 and "no playbook has the intent 'login'; known: account_login" in wrong.output
