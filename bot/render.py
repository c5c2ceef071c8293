"""Human-readable terminal output (rich), kept apart from the commands that compute what is shown."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.message import plural

console = Console(highlight=False, soft_wrap=True)

_SENTIMENT_STYLE = {"negative": "red", "neutral": "white", "positive": "green"}


def analysis(text: str, a, language: str | None = None) -> None:
    """The analysis of ``text``; ``language``: the one a reply should be in, shown unless English."""
    console.print(f"[bold]Message:[/] {escape(text)}")
    p = a.prediction
    intent = f"[bold]{a.intent}[/] ({a.confidence:.2f})"
    if a.intent == "unknown":
        intent = f"[bold yellow]unknown[/] (best guess {p.best_intent}, {a.confidence:.2f})"
    console.print(f"  intent:    {intent}")
    others = ", ".join(f"{i} {s:.2f}" for i, s in p.ranking[1:])
    if others:
        console.print(f"             [dim]then {others}[/]")
    style = _SENTIMENT_STYLE.get(a.sentiment, "white")
    console.print(f"  sentiment: [{style}]{a.sentiment}[/] ({a.sentiment_score:+.2f})")
    if a.entities:
        ents = ", ".join(f"{e.label.lower()}={escape(e.value)}" for e in a.entities)
        console.print(f"  entities:  {ents}")
    if language and language != "en":
        from nlp.gloss import word_for_word
        from nlp.language import name

        console.print(f"  language:  {escape(name(language))} ({escape(language)})")
        glossed = word_for_word(text, language)
        if glossed:
            console.print(f"  word for word: [dim]{escape(glossed)}[/]")


def suggestions(items) -> None:
    for s in items:
        console.print(f"  [cyan]{s.rank}.[/] {escape(s.text)}")
        console.print(f"     [dim]{escape(s.reason)}[/]")


@contextlib.contextmanager
def progress(label: str, total: int, enabled: bool = True) -> Iterator:
    """A progress bar on stderr for long work; yields ``advance(n)``."""
    if not enabled or total < 50:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def volume_table(summary: dict) -> Table:
    table = Table(title="Volume by intent", title_justify="left", show_edge=False)
    table.add_column("intent")
    table.add_column("messages", justify="right")
    table.add_column("share", justify="right")
    total = max(1, sum(summary["by_intent"].values()))
    for intent, n in summary["by_intent"].items():
        table.add_row(intent, str(n), f"{100 * n / total:.0f}%")
    return table


def sentiment_line(summary: dict) -> str:
    total = max(1, sum(summary["by_sentiment"].values()))
    parts = []
    for label in ("negative", "neutral", "positive"):
        n = summary["by_sentiment"].get(label, 0)
        parts.append(f"[{_SENTIMENT_STYLE[label]}]{label} {n} ({100 * n / total:.0f}%)[/]")
    return "Sentiment: " + "  ".join(parts)


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def intent_eval(r: dict) -> None:
    c = console
    c.print(f"[bold]Intent evaluation[/]: trained on {r['n_train']} examples ({r['n_labels']} intents) in "
            f"{r['train_seconds']:.1f} s ({r['train_total_seconds']:.1f} s with embedding), tested on {r['n_test']} ({r['predict_per_second']:.0f} messages/s)")
    c.print(f"  accuracy   {_pct(r['accuracy'])}")
    c.print(f"  macro-F1   {_pct(r['macro_f1'])}")
    c.print(f"  auto-reply threshold {r['auto_threshold']:.2f}: covers {_pct(r['auto_coverage'])} of messages, "
            f"{_pct(r['auto_accuracy'])} of those correct")
    if "oos_recall" in r:
        c.print(f"  in-scope accuracy {_pct(r['in_scope_accuracy'])} (abstentions count as wrong)")
        c.print(f"  out-of-scope recall {_pct(r['oos_recall'])}, precision {_pct(r['oos_precision'])}")
    table = Table(title="Per intent", title_justify="left", show_edge=False)
    for col in ("intent", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="left" if col == "intent" else "right")
    for intent, v in sorted(r["per_intent"].items(), key=lambda kv: kv[1]["f1"]):
        table.add_row(intent, f"{v['precision']:.2f}", f"{v['recall']:.2f}", f"{v['f1']:.2f}", str(v["support"]))
    c.print(table)
    if r["confused_pairs"]:
        c.print("[bold]Most confused[/] (label -> predicted):")
        for p in r["confused_pairs"]:
            c.print(f"  {p['label']} -> {p['predicted']}: {p['count']}")


def sentiment_eval(r: dict) -> None:
    c = console
    c.print(f"[bold]Sentiment evaluation[/] of {r['model']} on {r['n_test']} messages ({r['seconds']:.1f} s)")
    c.print(f"  accuracy      {_pct(r['accuracy'])}")
    c.print(f"  macro recall  {_pct(r['macro_recall'])}")
    for label, v in r["recall"].items():
        c.print(f"  recall {label:<9} {_pct(v)}")
    table = Table(title="Confusion (rows: label, columns: predicted)", title_justify="left", show_edge=False)
    table.add_column("")
    labels = list(r["confusion"])
    for label in labels:
        table.add_column(label, justify="right")
    for g in labels:
        table.add_row(g, *(str(r["confusion"][g][p]) for p in labels))
    c.print(table)


_TREND_STYLE = {"new": "magenta", "growing": "yellow", "steady": "cyan", "fading": "dim"}


def themes(report) -> None:
    w = report.window
    console.print(f"[bold]Themes[/] of {plural(report.messages, 'message')}, {w.start:%Y-%m-%d %H:%M} to "
                  f"{w.end:%Y-%m-%d %H:%M} UTC ({report.left_out} fit no theme); trends against the "
                  f"{plural(report.previous_messages, 'message')} of the window before")
    for t in report.themes:
        style = _TREND_STYLE.get(t.trend, "white")
        sent = ", ".join(f"{n} {s}" for s, n in t.sentiment.items() if n)
        intents = ", ".join(f"{i['intent']} {i['count']}" for i in t.intents)
        console.print()
        console.print(f"[bold]#{t.id} {escape(t.label)}[/]  [{style}]{t.trend}[/] ({t.previous} → {t.size}), "
                      f"{t.contacts} people via {', '.join(t.sources)}" + _written_in(t.languages))
        situation = f"; answered for {t.situation.replace('_', ' ')}" if t.situation else ""
        console.print(f"  [dim]{sent}; intents {intents}{situation}; keyphrases: "
                      f"{escape(', '.join(t.keyphrases[:4]))}[/]")
        for q in t.quotes:
            console.print(f"  “{escape(q['text'])}” — {escape(q['from'])}, {q['source']}")
    if report.gone:
        console.print()
        console.print("[dim]Gone since the window before: " + ", ".join(
            f"{escape(g['label'])} ({g['previous']} → 0)" for g in report.gone) + "[/]")


def _written_in(languages: dict[str, int]) -> str:
    """", written in Spanish 4, German 1" for a theme's messages in other languages than English; "" for none."""
    from nlp.language import names_with_counts

    return f", written in {names_with_counts(languages)}" if languages else ""


def campaign_card(c: dict) -> None:
    from bot.campaigns import metric_text

    card = c["card"]
    m = card["metric"]
    console.print(f"[bold]#{c['id']} {escape(card['title'])}[/]  [dim]({card['kind']}, {c['state']})[/]")
    console.print(f"  why: {escape(card['why'])}")
    for q in card["quotes"]:
        console.print(f"    “{escape(q['text'])}” — {escape(q['from'])}")
    console.print(f"  segment: {escape(card['segment']['filter'])}: [bold]{card['segment']['size']}[/] people")
    console.print(f"  channel: {card['channel']}; time box {card['days']} days; review {c.get('review_at') and c['review_at'][:10] or card['review_date']}")
    console.print(f"  metric: {m['description']}: baseline {metric_text(m['name'], m['baseline'])} "
                  f"(better when {m['better']})")
    for n, a in enumerate(card["actions"], 1):
        console.print(f"  {n}. {escape(a)}")


def campaign_people(data: dict) -> None:
    from bot.themes import quote_text
    from nlp.language import name

    c = data["campaign"]
    console.print(f"[bold]#{c['id']} {escape(c['title'])}[/]  [dim]({c['kind']}, {c['state']})[/]")
    gone = data["opted_out_since"]
    console.print(f"{plural(len(data['people']), 'person', 'people')} to write to"
                  + (f"; {plural(gone, 'person', 'people')} opted out since, left out" if gone else ""))
    for p in data["people"]:
        language = f", writes in {name(p['language'])}" if p["language"] not in (None, "en") else ""
        console.print(f"\n  [bold]{escape(p['name'])}[/] ({p['source']} {escape(p['handle'])}{language})")
        for m in p["messages"]:
            answered = f"answered {m['answered_at'][:10]}" if m["answered_at"] else "[yellow]not answered[/]"
            said = escape(quote_text(m["text"], 160))
            console.print(f"    message {m['id']}, {m['sent_at'][:10]}, {answered}: “{said}”")
    if data["people"]:
        console.print("\n[dim]Write to one in their conversation: resonate reply MESSAGE_ID --text \"...\"[/]")


def campaign_list(rows) -> None:
    if not rows:
        console.print("No campaigns yet: run resonate themes or resonate digest to draw ideas from the themes.")
        return
    for c in rows:
        campaign_card(c)
        console.print()
