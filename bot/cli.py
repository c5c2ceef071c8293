"""The ``resonate`` command line: a thin layer over the same functions the bots call."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click

from bot.errors import ResonateError
from bot.message import parse_time, plural


def _quiet_model_logs() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def common_options(func):
    """--db, --playbooks, --config and --embedder, shared by every command that needs them."""

    @click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
                  help="TOML config file [env RESONATE_CONFIG].")
    @click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
                  help="SQLite database file [env RESONATE_DB; default: resonate.db in the user data folder].")
    @click.option("--playbooks", type=click.Path(file_okay=False, path_type=Path),
                  help="Playbooks folder [env RESONATE_PLAYBOOKS; default: the shipped set].")
    @click.option("--model", help="Local sentence-transformers model folder [env RESONATE_MODEL; default: packaged "
                                  "all-MiniLM-L6-v2].")
    @functools.wraps(func)
    def wrapper(*args, config_file=None, db=None, playbooks=None, model=None, **kwargs):
        from bot.bootstrap import App
        from bot.config import Config

        _quiet_model_logs()
        config = Config.load(config_file=config_file, db=db, playbooks=playbooks, model=model)
        app = App(config)
        try:
            return func(app, *args, **kwargs)
        finally:
            app.close()

    return wrapper


def json_option(func):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for programs instead of text.")(func)


class ResonateGroup(click.Group):
    """Turns a ResonateError into a one-line message and exit code 1, instead of a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ResonateError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            ctx.exit(1)


@click.group(cls=ResonateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="resonate")
def cli():
    """Resonate: understand your community's messages, draft replies, find micro-campaigns."""


def main() -> None:  # console script
    cli()


# -- analyze / suggest ---------------------------------------------------------------------------------------------


def _message_text(ctx, param, text: str) -> str:
    """A message to read: not blank (an empty text was read as a greeting), and no longer than an imported one."""
    from bot.message import MAX_TEXT_CHARS

    if not text.strip():
        raise click.BadParameter("the message is empty", param=param)
    if len(text) > MAX_TEXT_CHARS:
        raise click.BadParameter(f"the message is {len(text):,} characters; at most {MAX_TEXT_CHARS:,}", param=param)
    return text


@cli.command()
@click.argument("text", callback=_message_text)
@common_options
@json_option
def analyze(app, text, as_json):
    """Show the intent, sentiment and entities of TEXT (nothing is stored)."""
    analysis = app.analyzer.analyze(text)
    if as_json:
        click.echo(json.dumps({"text": text, **analysis.to_dict()}, ensure_ascii=False, indent=2))
        return
    from bot import render

    render.analysis(text, analysis)


@cli.command()
@click.argument("text", callback=_message_text)
@click.option("--name", default="", help="The sender's display name, for personal replies.")
@click.option("--source", default="import", show_default=True, help="Where the message came from.")
@click.option("--tag", "tags", multiple=True, help="A contact tag (repeatable), for replies with tag conditions.")
@click.option("--language", help="The sender's language code (as Telegram gives it), for a message too short to tell.")
@common_options
@json_option
def suggest(app, text, name, source, tags, language, as_json):
    """Suggest up to three replies to TEXT (nothing is stored)."""
    from bot.message import first_name_of
    from bot.playbooks import ReplyContext

    analysis = app.analyzer.analyze(text)
    values = {k: v for k, v in {"first_name": first_name_of(name) or "", "name": name}.items() if v}
    context = ReplyContext(source=source, tags=frozenset(tags), values=values, text=text, language=language)
    suggestions = app.suggester.suggest(analysis, context)
    if as_json:
        click.echo(json.dumps({"text": text, "analysis": analysis.to_dict(), "language": context.reply_language,
                               "suggestions": [s.__dict__ for s in suggestions]}, ensure_ascii=False, indent=2))
        return
    from bot import render

    render.analysis(text, analysis, context.reply_language)
    render.suggestions(suggestions)


# -- ingest ------------------------------------------------------------------------------------------------------


def _column_map(ctx, param, values) -> dict[str, str]:
    """``--map text=message``: Resonate's column name = the file's."""
    from bot.channels.files import KNOWN

    out: dict[str, str] = {}
    for value in values:
        name, sep, theirs = value.partition("=")
        name, theirs = name.strip(), theirs.strip()
        if not sep or not name or not theirs:
            raise click.BadParameter(f"{value!r}: write NAME=COLUMN, e.g. text=message", ctx, param)
        if name not in KNOWN:
            raise click.BadParameter(f"{value!r}: {name!r} is not one of {', '.join(sorted(KNOWN))}", ctx, param)
        if name in out or theirs in out.values():
            raise click.BadParameter(f"{value!r}: {name!r} or {theirs!r} is mapped twice", ctx, param)
        out[name] = theirs
    return out


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), help="File format (default: from the extension).")
@click.option("--map", "columns", multiple=True, metavar="NAME=COLUMN", callback=_column_map,
              help="Read the file's COLUMN as Resonate's NAME (repeatable): --map text=message --map sender=from.")
@common_options
@json_option
def ingest(app, file, fmt, columns, as_json):
    """Import messages from a JSONL or CSV FILE, analyse them and store suggestions.

    Columns: text, sender (required); sender_name, source, chat, timestamp, id, sender_tags, language; an
    export that names them otherwise is read with --map. Other columns are not read (listed once).
    Bad rows are reported with their line number and skipped; good rows are kept.
    """
    from bot import render
    from bot.channels.files import COLUMNS, read_file

    result = read_file(file, fmt, columns)
    if result.ignored:
        click.secho(f"not read: column{'s' * (len(result.ignored) > 1)} {', '.join(result.ignored)} (Resonate reads "
                    f"{', '.join(COLUMNS)}; --map NAME=COLUMN reads a column under one of these names)",
                    fg="yellow", err=True)
    for error in result.errors:
        click.secho(f"skipped {error}", fg="yellow", err=True)
    with render.progress("Analysing", len(result.messages), enabled=not as_json) as advance:
        report = app.pipeline.ingest(result.messages, progress=advance)
    out = {**report.__dict__, "rejected": len(result.errors), "not_read_columns": result.ignored,
           "db": str(app.config.db_path)}
    if as_json:
        out["errors"] = [{"line": e.line, "problem": e.problem} for e in result.errors]
        click.echo(json.dumps(out, indent=2))
    else:
        edited = f", {report.edited} edited since" if report.edited else ""
        click.echo(f"{plural(report.stored, 'new message')} stored ({report.duplicates} already there{edited}, "
                   f"{plural(len(result.errors), 'row')} rejected), {report.analysed} analysed, in {app.config.db_path}")
    if result.errors and not result.messages:
        sys.exit(1)


# -- playbooks -----------------------------------------------------------------------------------------------------


@cli.group()
def playbooks():
    """Check the playbooks."""


@playbooks.command("check")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@json_option
def playbooks_check(directory, as_json):
    """Validate every playbook in DIRECTORY (default: the configured or shipped set); exit 1 on errors."""
    from bot.config import Config
    from bot.playbooks import check_playbooks, default_playbooks_dir, fillable_contexts

    directory = directory or Config.load().playbooks or default_playbooks_dir()
    playbook_set, errors = check_playbooks(directory)
    if as_json:
        click.echo(json.dumps({
            "directory": str(directory), "ok": not errors,
            "errors": [{"file": e.path, "line": e.line, "problem": e.problem} for e in errors],
            "intents": {} if playbook_set is None else {
                i: {"examples": len(pb.examples), "examples_in": {k: len(v) for k, v in pb.examples_in.items()},
                    "replies": len(pb.replies), "auto_reply": pb.auto_reply,
                    "questions": pb.questions, "opts_out": pb.opts_out, "follows_up": pb.follows_up,
                    "card_note": pb.card_note}
                for i, pb in sorted(playbook_set.playbooks.items())},
        }, indent=2))
    else:
        for e in errors:
            click.secho(str(e), fg="red", err=True)
        if playbook_set is not None and not errors:
            for intent, pb in sorted(playbook_set.playbooks.items()):
                for reply in pb.replies:  # every reply renders with sample values
                    reply.render(fillable_contexts(reply))
                other = ", ".join(f"{len(v)} {k}" for k, v in sorted(pb.examples_in.items()))
                click.echo(f"  {intent:<20} {len(pb.examples):>3} examples{f' (+ {other})' if other else ''}  "
                           f"{plural(len(pb.replies), 'reply', 'replies')}"
                           f"{'  auto-reply allowed' if pb.auto_reply else ''}")
            click.echo(f"{len(playbook_set.playbooks)} playbooks OK in {directory}")
    if errors:
        if not as_json:
            click.secho(f"{plural(len(errors), 'problem')} in {directory}", fg="red", err=True)
        sys.exit(1)


@playbooks.command("gaps")
@common_options
@json_option
def playbooks_gaps(app, as_json):
    """List intents that people named in corrections but that have no playbook yet, with example messages."""
    ts = app.training_set()
    if as_json:
        click.echo(json.dumps({"gaps": ts.gaps}, ensure_ascii=False, indent=2))
        return
    if not ts.gaps:
        click.echo("No gaps: every corrected intent has a playbook.")
        return
    for intent, examples in sorted(ts.gaps.items(), key=lambda kv: -len(kv[1])):
        click.echo(f"{intent}: {plural(len(examples), 'message')} corrected to it, no playbook yet")
        for text in examples[:5]:
            click.echo(f"  - {text}")
    click.echo("Write a playbook for each (see README, Adding a playbook); `resonate train` then learns them.")


# -- train ---------------------------------------------------------------------------------------------------------


@cli.command()
@common_options
@json_option
def train(app, as_json):
    """Rebuild the intent model from the playbooks plus the team's corrections and sent replies.

    Reports the cross-validated accuracy before and after the learned examples; a running
    `resonate run` picks up the new model without a restart.
    """
    from bot.learning import cross_validated_change
    from nlp.gloss import embedding_texts
    from nlp.intent import IntentClassifier
    from nlp.language import name as language_name

    ts = app.training_set()
    app.train_intents(publish=True)
    vectors = app.embedder.encode(embedding_texts(ts.texts))
    change = cross_validated_change(vectors, ts, lambda: IntentClassifier(
        min_confidence=app.config.min_confidence, min_similarity=app.config.min_similarity))
    learned = {o: ts.origins.count(o) for o in ("correction", "sent", "edited")}
    out = {"examples": len(ts.texts), "playbook_examples": ts.origins.count("playbook"), "learned": learned,
           "overruled_playbook_examples": len(ts.dropped), "gaps": {k: len(v) for k, v in ts.gaps.items()},
           "cross_validated_accuracy": change, "model": app.intent_key}
    other = app.intents_in_other_languages
    if other is not None:
        out["other_languages"] = {"languages": sorted(other.languages), "examples": len(other.example_texts),
                                  "taught": len(app.training_split[1].texts)}
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"Trained on {len(ts.texts)} examples: {out['playbook_examples']} from playbooks, "
               f"{learned['correction']} corrections, {learned['sent'] + learned['edited']} sent or edited replies"
               + (f"; {len(ts.dropped)} playbook examples overruled by corrections" if ts.dropped else ""))
    if change["before"] is not None:
        click.echo(f"Cross-validated accuracy: {100 * change['before']:.1f}% with playbooks only -> "
                   f"{100 * change['after']:.1f}% with what the team taught ({100 * change['change']:+.1f} points)")
    if other is not None:
        o = out["other_languages"]
        click.echo(f"Messages in {', '.join(language_name(c) for c in o['languages'])}: a model of their own, on "
                   f"{o['examples']} examples ({o['taught']} taught by the team in those languages)")
    if ts.gaps:
        click.echo(f"{plural(len(ts.gaps), 'corrected intent')} {'has' if len(ts.gaps) == 1 else 'have'} no "
                   "playbook: see `resonate playbooks gaps`.")
    click.echo("Running processes pick up the new model on their next message.")


# -- eval ----------------------------------------------------------------------------------------------------------


@cli.group("eval")
def eval_group():
    """Measure intent and sentiment quality on labelled JSONL files ({"text", "label"} per line)."""


def _labelled(path: Path):
    from bot.errors import ResonateError
    from nlp.evaluate import read_labelled

    try:
        return read_labelled(path)
    except (OSError, ValueError) as exc:
        raise ResonateError(str(exc)) from exc


@eval_group.command("intents")
@click.option("--train", "train_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Training examples (JSONL).")
@click.option("--test", "test_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Test examples (JSONL); label 'oos' marks out-of-scope messages when absent from --train.")
@click.option("--shots", type=click.IntRange(min=1), help="Train on N random examples per label.")
@click.option("--seed", default=0, show_default=True, help="Seed for --shots sampling.")
@common_options
@json_option
def eval_intents_cmd(app, train_file, test_file, shots, seed, as_json):
    """Train the bot's intent classifier on --train and score it on --test."""
    from nlp.evaluate import eval_intents, sample_shots
    from nlp.intent import IntentClassifier

    app.for_evaluation()
    train = _labelled(train_file)
    if shots:
        train = sample_shots(*train, shots, seed)
    test = _labelled(test_file)
    clf = IntentClassifier(min_confidence=app.config.min_confidence, min_similarity=app.config.min_similarity)
    result = eval_intents(app.embedder, train, test, auto_threshold=app.config.auto_reply_threshold, classifier=clf)
    result.update({"train": str(train_file), "test": str(test_file), "shots": shots, "seed": seed if shots else None,
                   "embedder": getattr(app.embedder, "name", ""),
                   "embedding_bulk": getattr(app.embedder, "bulk", None)})
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    from bot import render

    render.intent_eval(result)


@eval_group.command("sentiment")
@click.option("--test", "test_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Test examples (JSONL) labelled negative / neutral / positive.")
@common_options
@json_option
def eval_sentiment_cmd(app, test_file, as_json):
    """Score the shipped sentiment model as it is on --test."""
    from nlp.evaluate import eval_sentiment

    app.for_evaluation()
    test = _labelled(test_file)
    try:
        result = eval_sentiment(app.sentiment, test, embedder=getattr(app.sentiment, "needs_embeddings", False)
                                and app.embedder or None)
    except ValueError as exc:
        raise ResonateError(f"{test_file}: {exc}") from exc
    result["test"] = str(test_file)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    from bot import render

    render.sentiment_eval(result)


@eval_group.command("themes")
@click.option("--test", "test_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Labelled texts (JSONL); the labels are only used to score the themes.")
@common_options
@json_option
def eval_themes_cmd(app, test_file, as_json):
    """Cluster the texts of --test with the theme engine and score the themes against the labels."""
    import time

    from nlp.evaluate import eval_themes, theme_vectors

    app.for_evaluation()
    texts, labels = _labelled(test_file)
    start = time.perf_counter()
    vectors, tone, weighted = theme_vectors(app.embedder, app.sentiment, texts)
    embed_seconds = time.perf_counter() - start
    result = eval_themes(app.theme_engine, vectors, texts, labels, tone, weighted)
    result.update({"test": str(test_file), "embedder": getattr(app.embedder, "name", ""),
                   "embedding_bulk": getattr(app.embedder, "bulk", None),
                   "tone_vectors": app.theme_engine.reads_tone(len(texts), tone),
                   "idf_weighted": app.theme_engine.reads_weighted(len(texts), weighted),
                   "embed_seconds": round(embed_seconds, 2),
                   "left_out_counted_as": "one extra cluster (label -1), as BERTopic's outlier topic"})
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    click.echo(f"{result['n_texts']} texts, {result['n_labels']} labels -> {result['n_themes']} themes, "
               f"{100 * result['left_out']:.1f}% left out")
    click.echo(f"V-measure {result['v_measure']:.4f} (homogeneity {result['homogeneity']:.4f}, completeness "
               f"{result['completeness']:.4f}), adjusted Rand index {result['ari']:.4f}")
    read = ("the idf-weighted vectors and the tone vectors" if result["idf_weighted"] else
            "the embeddings and their tone vectors" if result["tone_vectors"] else "the embeddings")
    click.echo(f"Clustering {result['seconds']:.1f} s on {read} (embedding {embed_seconds:.1f} s); left-out texts "
               "count as one extra cluster in the scores")
    for t in result["themes"][:10]:
        click.echo(f"  {t['size']:>4}  {t['label']:<40} (mostly {t['top_label']})")


# -- themes / campaigns / digest -----------------------------------------------------------------------------------


def _window_options(func):
    func = click.option("--until", help="End of the window: a date or time (default: now).")(func)
    return click.option("--since", default="7d", show_default=True,
                        help="Length of the window: 7d, 2w, 36h. Trends compare with the window before it.")(func)


@cli.command()
@_window_options
@common_options
@json_option
def themes(app, since, until, as_json):
    """Group the inbound messages of a window into recurring themes, with their trend against the window before."""
    from bot import render
    from bot.themes import parse_span, parse_until

    report = app.themes.find(parse_span(since), parse_until(until))
    ideas = app.campaigns.record_ideas(report)
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "campaign_ideas": ideas}, ensure_ascii=False, indent=2))
        return
    render.themes(report)
    _hint_if_empty(app, report.messages)
    if ideas:
        click.echo()
        click.echo(f"{plural(len(ideas), 'campaign idea')}: see resonate campaigns list")


def _hint_if_empty(app, messages: int) -> None:
    """A window without messages on an inbox whose messages are older (an import, the demo): say where they are."""
    last = app.store.last_inbound_at() if not messages else None
    if last:
        click.echo(f"No message in this window; the newest is from {last[:10]}: try --until {last}")


@cli.group(invoke_without_command=True)
@click.pass_context
def campaigns(ctx):
    """Micro-campaigns: list ideas and running ones, the people to write to, adopt, review, close."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(campaigns_list)


@campaigns.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also closed and dismissed campaigns.")
@common_options
@json_option
def campaigns_list(app, show_all=False, as_json=False):
    """Campaign ideas and adopted campaigns (ideas come from resonate themes / digest)."""
    states = ("idea", "adopted", "closed", "dismissed") if show_all else ("idea", "adopted")
    rows = app.campaigns.list(states)
    if as_json:
        click.echo(json.dumps({"campaigns": rows}, ensure_ascii=False, indent=2))
        return
    from bot import render

    render.campaign_list(rows)


@campaigns.command("adopt")
@click.argument("campaign_id", type=int)
@common_options
@json_option
def campaigns_adopt(app, campaign_id, as_json):
    """Adopt a campaign idea: its time box starts now."""
    c = app.campaigns.adopt(campaign_id, actor=os.environ.get("USER", "cli"))
    click.echo(json.dumps(c, ensure_ascii=False, indent=2) if as_json else
               f"Adopted #{c['id']} {c['card']['title']}; review on {c['review_at'][:10]} "
               f"(resonate campaigns review {c['id']})")


@campaigns.command("people")
@click.argument("campaign_id", type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write them to this CSV file (one row per message), for a spreadsheet or a mail merge.")
@common_options
@json_option
def campaigns_people(app, campaign_id, out, as_json):
    """Who a campaign is for: each person of its segment (opted-out people left out), where they wrote, in which
    language, and what they wrote on the theme, with the message ids to answer them with resonate reply."""
    if out is not None and out.suffix.lower() != ".csv":
        raise ResonateError(f"--out {out}: write the people to a .csv file")
    data = app.campaigns.people(campaign_id)
    if out is not None:
        write_people_csv(data, out)
    if as_json:
        click.echo(json.dumps(data | ({"file": str(out)} if out else {}), ensure_ascii=False, indent=2))
        return
    from bot import render

    render.campaign_people(data)
    if out is not None:
        click.echo(f"Written to {out}")


def write_people_csv(data: dict, path: Path) -> None:
    """One row per message: who (name, source, handle, language), the message (id, when, text) and when we last
    answered in its conversation. UTF-8 with a byte order mark, so that spreadsheets read accents right."""
    import csv

    try:
        with path.open("w", newline="", encoding="utf-8-sig") as fh:
            writer = csv.writer(fh)
            writer.writerow(["name", "source", "handle", "language", "message_id", "sent_at", "answered_at", "text"])
            for person in data["people"]:
                for m in person["messages"]:
                    writer.writerow([person["name"], person["source"], person["handle"], person["language"] or "",
                                     m["id"], m["sent_at"], m["answered_at"] or "", m["text"]])
    except OSError as exc:
        raise ResonateError(f"--out {path}: cannot write it ({exc.strerror or exc})") from exc


@campaigns.command("review")
@click.argument("campaign_id", type=int)
@common_options
@json_option
def campaigns_review(app, campaign_id, as_json):
    """Measure an adopted campaign's metric since adoption against its baseline."""
    from bot.campaigns import metric_text

    c = app.campaigns.review(campaign_id)
    if as_json:
        click.echo(json.dumps(c, ensure_ascii=False, indent=2))
        return
    r = c["result"]
    click.echo(f"#{c['id']} {c['card']['title']}")
    value = metric_text(r["metric"], r["value"]) + ("" if r["value"] is None else f" ({r['verdict']})")
    click.echo(f"{c['card']['metric']['description']} since {r['since'][:10]}: {value}, against a baseline of "
               f"{metric_text(r['metric'], r['baseline'])}; "
               f"{r['messages_from_segment']} messages from {r['contacts_who_wrote']} people of the segment")
    click.echo(f"Decide: resonate campaigns close {c['id']} --decision continue|pivot|stop")


@campaigns.command("close")
@click.argument("campaign_id", type=int)
@click.option("--decision", required=True, type=click.Choice(["continue", "pivot", "stop"]),
              help="What the team decided at review.")
@common_options
@json_option
def campaigns_close(app, campaign_id, decision, as_json):
    """Close an adopted campaign with the team's decision (reviewing it first if needed)."""
    c = app.campaigns.close(campaign_id, decision)
    click.echo(json.dumps(c, ensure_ascii=False, indent=2) if as_json else
               f"Closed #{c['id']} {c['card']['title']}: {decision}")


@cli.command()
@_window_options
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the digest here: .md for Markdown, .html for HTML; the PNG chart goes beside it.")
@click.option("--post", "post_it", is_flag=True, help="Post it to the Slack digest channel (RESONATE_DIGEST_CHANNEL).")
@common_options
@json_option
def digest(app, since, until, out, post_it, as_json):
    """The weekly digest: volume, sentiment, response figures, intents, themes, campaign ideas."""
    from bot.themes import parse_span, parse_until

    if post_it:
        from bot.errors import ConfigError

        if not app.config.slack_bot_token:
            raise ConfigError("SLACK_BOT_TOKEN", "is not set: --post needs the Slack app")
        if not app.config.digest_channel:
            raise ConfigError("RESONATE_DIGEST_CHANNEL", "is not set: where should the digest go?")
    if out is not None:
        from bot.digest import check_out

        check_out(out)  # before the work, not after it
    data, png = app.digest(parse_span(since), parse_until(until), out)
    if post_it:
        from slack_sdk import WebClient

        from bot import digest as digest_mod

        client = WebClient(token=app.config.slack_bot_token, base_url=app.config.slack_api_url)
        data["posted"] = {"channel": app.config.digest_channel,
                          "ts": digest_mod.post(client, app.config.digest_channel, data, png)}
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not out:
        click.echo(Path(data["file"]).read_text(encoding="utf-8"))
    click.echo(f"Digest: {data['file']} (chart {data['chart']})" + (
        f"; posted to {app.config.digest_channel}" if post_it else ""))
    _hint_if_empty(app, data["volume"]["messages"])


# -- run ---------------------------------------------------------------------------------------------------------


@cli.command()
@click.option("--slack-http", is_flag=True,
              help="Serve Slack over HTTP at POST /slack/events instead of Socket Mode (needs SLACK_SIGNING_SECRET).")
@click.option("--telegram-webhook", metavar="URL",
              help="Receive Telegram updates at this public https URL (served on --port) instead of long polling.")
@click.option("--port", type=click.IntRange(0, 65535), default=3000, show_default=True,
              help="HTTP mode (Slack and/or the Telegram webhook): the port.")
@click.option("--host", default="0.0.0.0", show_default=True, help="HTTP mode: the address to listen on.")
@click.option("--inbox-webhook", is_flag=True,
              help="Also accept messages from other inboxes at POST /inbox (served on --port; needs "
                   "RESONATE_WEBHOOK_TOKEN).")
@common_options
def run(app, slack_http, telegram_webhook, port, host, inbox_webhook):
    """Run the connectors until interrupted.

    Slack when SLACK_BOT_TOKEN is set (Socket Mode with SLACK_APP_TOKEN, else --slack-http --port N); Telegram
    when TELEGRAM_BOT_TOKEN is set (long polling, or --telegram-webhook URL --port N); other inboxes with
    --inbox-webhook.
    """
    import logging
    import threading

    from bot.errors import ConfigError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per getUpdates otherwise
    config = app.config
    if not config.slack_configured and not config.telegram_configured and not inbox_webhook:
        raise ConfigError("SLACK_BOT_TOKEN", "is not set, nor is TELEGRAM_BOT_TOKEN: resonate run needs a Slack app "
                                             "or a Telegram bot (see the README, Slack app setup, Telegram setup), "
                                             "or --inbox-webhook")
    if inbox_webhook and not config.webhook_token:
        raise ConfigError("RESONATE_WEBHOOK_TOKEN", "is not set: the other inboxes that post to --inbox-webhook "
                                                    "present it as a Bearer token (openssl rand -hex 32)")
    if telegram_webhook and not config.telegram_configured:
        raise ConfigError("TELEGRAM_BOT_TOKEN", "is not set (needed for --telegram-webhook)")
    if telegram_webhook and not telegram_webhook.startswith(("https://", "http://")):
        raise click.BadParameter(f"{telegram_webhook!r} is not a URL", param_hint="--telegram-webhook")
    if config.slack_configured:
        config.require_slack(http=slack_http)
    slack = app.slack if config.slack_configured else None
    telegram = app.telegram if config.telegram_configured else None
    if telegram is not None:
        telegram.start()  # getMe: a wrong token stops here, before the model loads
        if slack is not None:
            slack.add_sender("telegram", telegram.sender)  # Send in Slack delivers to Telegram
    click.echo("Loading the model and playbooks…", err=True)
    app.for_long_running()
    app.analyzer  # noqa: B018 - load now, not on the first message
    if slack is not None:
        slack.start_relay()
        if config.digest_channel:
            slack.start_digest_schedule()
            click.echo(f"Digest: posted to {config.digest_channel} every {config.digest_schedule} "
                       f"({config.timezone})", err=True)
    elif telegram is not None:
        telegram.start_relay()
    if slack is None:
        click.echo("Slack is not configured: review with `resonate inbox` and `resonate reply`", err=True)
    routes = {}
    if inbox_webhook:
        from bot.channels import webhook

        routes[webhook.PATH] = webhook.InboxWebhook(app, config.webhook_token)
        click.echo(f"Inbox webhook: POST {webhook.PATH} (Bearer token checked on every request)", err=True)
    if slack is not None and slack_http:
        from bot.channels.slack import EVENTS_PATH, SlackWsgi

        routes[EVENTS_PATH] = SlackWsgi(slack.bolt)
    if telegram is not None:
        if telegram_webhook:
            routes[telegram.set_webhook(telegram_webhook)] = telegram.wsgi_app
            click.echo(f"Telegram: webhook {telegram_webhook} (secret token checked on every request)", err=True)
        else:
            telegram.run_polling()
            click.echo("Telegram: long polling", err=True)
    restore = _stop_on_sigterm()
    try:
        if slack is not None and not slack_http:
            click.echo("Slack: connected in Socket Mode", err=True)
            if not routes:
                slack.serve_socket_mode()
                return
            threading.Thread(target=slack.serve_socket_mode, name="resonate-slack", daemon=True).start()
        if routes:
            from bot.channels.slack import serve_wsgi

            click.echo(f"Serving {', '.join('POST ' + p for p in routes)} on {host}:{port}", err=True)
            serve_wsgi(routes, port, host)
        else:
            threading.Event().wait()  # polling runs on its own thread until interrupted
    except KeyboardInterrupt:
        click.echo("Stopping…", err=True)
    finally:
        restore()


def _stop_on_sigterm():
    """Make SIGTERM (systemctl stop, docker stop, a container's PID 1) stop ``run`` the way Ctrl-C does, so the
    connectors and the database close; returns what puts the previous handler back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        return lambda: None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)


# -- inbox and reply (review without Slack) -------------------------------------------------------------------


@cli.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="At most this many.")
@click.option("--source", help="Only messages from this source (telegram, slack, email, ...).")
@click.option("--intent", help="Only messages of this intent (order_status, unknown, ...): answer alike ones together.")
@click.option("--language", help="Only messages written in this language (de, es, fr, pt, it, nl, en): for the "
                                 "teammate who speaks it.")
@common_options
@json_option
def inbox(app, limit, source, intent, language, as_json):
    """List messages waiting for a person, with their suggested replies (reply with `resonate reply`)."""
    from bot.playbooks import UNKNOWN_INTENT
    from bot.review import cut
    from nlp.language import name as language_name

    known = [*app.playbooks.intents, UNKNOWN_INTENT]
    if intent and intent not in known:
        raise click.BadParameter(f"no playbook has the intent {intent!r}; known: {', '.join(known)}",
                                 param_hint="--intent")

    rows = app.store.pending_inbox(limit=limit, source=source, intent=intent, language=language)
    follow_ups = app.playbooks.follow_up_intents()
    items = []
    for row in rows:
        earlier = app.store.followed_up(row["id"], follow_ups)
        offered = [{"n": s["rank"], "intent": s["intent"], "text": s["text"], "answers": s["answers_id"]}
                   for s in app.store.suggestions(row["id"])]
        items.append({**row, "follows_up": earlier, "suggestions": offered})
    if as_json:
        click.echo(json.dumps({"pending": items}, ensure_ascii=False, indent=2))
        return
    kind = ", ".join(k for k in (intent, language_name(language) if language else None) if k)
    if not items:
        click.echo("Nothing waiting for a person" + (f" ({kind})." if kind else "."))
        return
    for item in items:
        who = item["display_name"] or item["username"] or item["sender_id"] or "someone"
        analysed = "not analysed yet" if not item["intent"] else (
            f"{item['intent']} {'set by a person' if item['corrected'] else format(item['confidence'], '.2f')}, "
            f"{item['sentiment']}")
        written = f", written in {language_name(item['language'])}" if item["language"] not in (None, "en") else ""
        click.echo(f"#{item['id']}  {item['source']}  {who}  {item['sent_at']}  ({analysed}{written})")
        # a letter's lines stay under its header, not at the margin where the next message's header goes
        click.echo("\n".join(f"    {line}" for line in item["text"].strip().splitlines() if line.strip()))
        if item["follows_up"]:
            earlier = item["follows_up"]
            click.echo(f"    ↩ follows up #{earlier['id']} ({earlier['sent_at']}, {earlier['intent']}): "
                       f"{cut(' '.join(earlier['text'].split()), 100)}  (replies marked ↩ answer it)")
        for s in item["suggestions"]:
            click.echo(f"    {s['n']}. {'↩ ' if s['answers'] else ''}{s['text']}")
        click.echo("")
    waiting = items[0]["waiting"]
    click.echo(f"{plural(waiting, 'message')} waiting{f' ({kind})' if kind else ''}"
               + (f", the oldest {len(items)} shown (--limit)" if waiting > len(items) else "") + ".")
    click.echo("Send one with: resonate reply MESSAGE_ID N   (or --text TEXT)")


@cli.command()
@click.argument("message_id", type=int)
@click.argument("n", type=click.IntRange(1, 3), required=False)
@click.option("--text", help="Send this text instead of a suggestion.")
@common_options
@json_option
def reply(app, message_id, n, text, as_json):
    """Send suggestion N (1-3) of MESSAGE_ID, or --text TEXT, to the customer; the first decision wins."""
    import getpass

    from bot.desk import NoBoard, ReviewDesk
    from bot.errors import ResonateError
    from bot.outbox import SENDABLE_SOURCES

    if (n is None) == (text is None):
        raise click.UsageError("give either N (a suggestion number) or --text TEXT")
    message = app.store.message(message_id)
    if message is None or message["direction"] != "in":
        raise ResonateError(f"there is no inbound message {message_id} (see resonate inbox)")
    desk = ReviewDesk(app.store, lambda: app.suggester, lambda: app.playbooks, NoBoard())
    app.store.open_card(message_id)
    actor = f"cli:{getpass.getuser()}"
    if text is not None:
        outcome = desk.send_edited(message_id, text, actor)
    else:
        offered = {s["rank"]: s for s in app.store.suggestions(message_id)}
        if n not in offered:
            raise ResonateError(f"message {message_id} has no suggestion {n} (it has {len(offered)})")
        outcome = desk.send(message_id, offered[n]["id"], actor)
    if not outcome.ok:
        raise ResonateError(outcome.note)
    row = _deliver(app, message_id)
    elsewhere = None if message["source"] in SENDABLE_SOURCES else (
        f"Resonate has no connector that sends to {message['source']}: the reply is recorded as sent by you; "
        f"send it yourself in {message['source']}")
    if as_json:
        click.echo(json.dumps({"message_id": message_id, "state": row["state"], "text": row["text"],
                               "sent_message_id": row["sent_message_id"], "error": row["last_error"],
                               "send_yourself": elsewhere},
                              ensure_ascii=False, indent=2))
    elif elsewhere:
        click.echo(f"{elsewhere}:\n\n{row['text']}")
    elif row["state"] == "sent":
        click.echo(f"Sent to {message['source']} ({row['sent_message_id']}).")
    else:
        click.echo(f"Queued, not sent yet ({row['state']}: {row['last_error'] or 'a running resonate run sends it'})")
    if row["state"] in ("failed", "stuck"):
        sys.exit(1)


def _deliver(app, message_id: int) -> dict:
    """Send the queued reply now when this process can reach the message's platform."""
    from bot.outbox import SENDABLE_SOURCES, Relay

    row = app.store.outbox_of(message_id)
    if row["source"] == "telegram" and app.config.telegram_configured:
        app.telegram.start()
        relay = Relay(app.store, {"telegram": app.telegram.sender})
        relay.drain(timeout=60, message_id=message_id)
    elif row["source"] not in SENDABLE_SOURCES:
        # recorded as sent by hand: the person sends it in that inbox
        Relay(app.store, {}).drain(timeout=5, message_id=message_id)
    return app.store.outbox_of(message_id)


def person_options(func):
    """--message ID or --sender ID: the person a command is about, passed on as a contacts row after ``app``."""

    @click.option("--message", "message_id", type=int, help="The person who sent this message (its id in resonate "
                                                             "inbox).")
    @click.option("--sender", help="The person with this sender id (tg:123, slack:U123, the import's sender column).")
    @functools.wraps(func)
    def wrapper(app, *args, message_id=None, sender=None, **kwargs):
        from bot.privacy import find_contact

        if (message_id is None) == (sender is None):
            raise click.UsageError("give either --message ID or --sender ID")
        return func(app, find_contact(app.store, message_id=message_id, sender=sender), *args, **kwargs)

    return wrapper


@cli.command()
@click.option("--opt-out", "opt", flag_value="out", help="No campaigns and no automatic answers for them from now on.")
@click.option("--opt-in", "opt", flag_value="in", help="Withdraw their opt-out (they asked to hear from us again).")
@common_options
@person_options
@json_option
def contact(app, person, opt, as_json):
    """Show a person (messages, opt-out), and opt them out of outreach or back in."""
    from bot.privacy import describe

    if opt:
        app.store.set_opted_out(person["source"], person["external_id"], opt == "out")
    out = describe(app.store, person["id"])
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    click.echo(f"{out['name']} ({out['source']}, {out['sender']}): {plural(out['messages_in'], 'message')} from "
               f"them, {plural(out['messages_out'], 'reply', 'replies')} to them, {out['first_seen']} to "
               f"{out['last_seen']}")
    since = out["opted_out_at"] and parse_time(out["opted_out_at"]).strftime("%Y-%m-%d %H:%M UTC")
    click.echo(f"Opted out since {since}: no campaigns and no automatic answers" if since
               else "Not opted out: campaigns may include them")


@cli.command()
@click.option("--yes", is_flag=True, help="Erase. Without it nothing changes: it says what would be erased.")
@click.option("--leave-slack", is_flag=True,
              help="Erase even if their review cards in Slack cannot be deleted there (no Slack token, or Slack "
                   "refuses): the cards are listed, to delete by hand.")
@common_options
@person_options
@json_option
def forget(app, person, yes, leave_slack, as_json):
    """Erase a person: their messages, the replies to them, their review cards (in Slack too), the contact, their
    place in campaigns (a deletion request). Without --yes, only show what would go."""
    from bot.channels.slack import board_for
    from bot.privacy import erase_contact

    board = board_for(app.config)
    erasure = erase_contact(app.store, person, dry_run=not yes, delete_card=board.delete if board else None,
                            leave_slack=leave_slack)
    if as_json:
        click.echo(json.dumps(erasure.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(erasure.summary())
    if not yes:
        if erasure.in_slack and board is not None:
            click.echo("--yes deletes those cards in Slack too.")
        elif erasure.in_slack and not leave_slack:
            click.echo("No SLACK_BOT_TOKEN is set to delete those cards: set it, or add --leave-slack and delete "
                       "them in Slack by hand.")
        click.echo("Nothing was erased: run the same command with --yes to erase.")
    click.echo("Not touched: digest files written with `resonate digest` (their Markdown and HTML quote customers), "
               "CSV files written with `resonate campaigns people --out`, and backups: delete or edit those where "
               "they are. Digests posted in Slack hold counts and theme names, no quotes.")


# -- demo ----------------------------------------------------------------------------------------------------------


@cli.command()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the demo database (default: demo.db in the user data folder; replaced).")
@click.option("--model", help="Local sentence-transformers model folder (default: packaged all-MiniLM-L6-v2).")
@json_option
def demo(db, model, as_json):
    """Load the bundled sample inbox into a fresh database, analyse it and show what Resonate sees."""
    from bot.demo import run_demo

    _quiet_model_logs()
    run_demo(db, model=model, as_json=as_json)


if __name__ == "__main__":  # pragma: no cover
    main()
