"""``resonate demo``: the bundled Fernbrew sample inbox, ingested and analysed in a fresh database."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

from bot.config import Config, data_dir


def sample_inbox_path() -> Path:
    return Path(str(resources.files("bot") / "data" / "sample_inbox.jsonl"))


def fresh_db(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


def pick_examples(store, n: int = 5) -> list[int]:
    """Messages worth showing: different intents, ones with entities first, one negative, one unknown, one
    follow-up answered with the message it chases. The unknown one is the one Resonate is least sure of (banter,
    not a message that only just missed the threshold): it shows what abstaining is for."""
    rows = list(store.db.query(
        """SELECT m.id, a.intent, a.sentiment, a.entities, a.confidence,
                  EXISTS (SELECT 1 FROM suggestions s WHERE s.message_id = m.id AND s.answers_id IS NOT NULL)
                      AS chases
           FROM messages m JOIN analyses a ON a.message_id = m.id WHERE m.direction = 'in'
           ORDER BY (a.entities != '[]') DESC, a.confidence DESC, m.id"""))
    least_sure_first = sorted(rows, key=lambda r: (r["entities"] == "[]", r["confidence"], r["id"]))
    anything = (lambda r: True, rows)
    wanted = [(lambda r: r["sentiment"] == "negative" and r["entities"] != "[]", rows),
              (lambda r: r["intent"] == "unknown", least_sure_first),
              (lambda r: r["sentiment"] == "positive", rows),
              (lambda r: r["chases"], rows),
              anything]
    chosen, intents = [], set()
    for want, order in wanted + [anything] * n:
        if len(chosen) == n:
            break
        for r in order:
            if r["id"] not in chosen and r["intent"] not in intents and want(r):
                chosen.append(r["id"])
                intents.add(r["intent"])
                break
    return sorted(chosen)


def run_demo(db: Path | None = None, *, model: str | None = None, as_json: bool = False) -> dict:
    from bot import render
    from bot.bootstrap import App
    from bot.channels.files import read_file

    path = fresh_db(Path(db) if db else data_dir() / "demo.db")
    app = App(Config.load(db=path, model=model))
    try:
        read = read_file(sample_inbox_path())
        if not as_json:
            render.console.print(f"Loading the Fernbrew sample inbox ({len(read.messages)} messages) into {path}")
            render.console.print("[dim]The first run trains the intent model on the playbooks (cached afterwards).[/]")
        with render.progress("Analysing", len(read.messages), enabled=not as_json) as advance:
            report = app.pipeline.ingest(read.messages, progress=advance)
        summary = app.store.summary()
        examples = []
        for mid in pick_examples(app.store):
            msg = app.store.message(mid)
            examples.append({
                "message_id": mid, "from": msg["display_name"], "source": msg["source"], "text": msg["text"],
                "follows_up": app.store.followed_up(mid, app.playbooks.follow_up_intents()),
                "analysis": app.store.analysis(mid),
                "suggestions": [{"rank": s["rank"], "text": s["text"], "reason": s["reason"],
                                 "answers": s["answers_id"]} for s in app.store.suggestions(mid)],
            })
        # themes, ideas and the digest of the inbox's last week: "now" is the last message, so trends mean something
        from datetime import timedelta

        from bot.message import parse_time

        until = parse_time(summary["last_message_at"])
        themes = app.themes.find(timedelta(days=7), until)
        digest, _ = app.digest(timedelta(days=7), until, path.parent / "demo-digest.md", report=themes)
        result = {"db": str(path), "ingest": report.__dict__, "rejected": len(read.errors), "summary": summary,
                  "examples": examples, "themes": themes.to_dict(),
                  "campaign_ideas": app.campaigns.list(("idea",)), "digest": {"file": digest["file"],
                                                                               "chart": digest["chart"]}}
        if as_json:
            print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        else:
            _print(result)
        return result
    finally:
        app.close()


def _print(result: dict) -> None:
    from rich.markup import escape

    from bot import render
    from bot.campaigns import metric_text

    c = render.console
    s = result["summary"]
    c.print()
    c.print(f"[bold]Fernbrew inbox[/]: {s['messages']} messages from {s['contacts']} contacts, "
            f"{s['first_message_at'][:10]} to {s['last_message_at'][:10]}")
    c.print(render.sentiment_line(s))
    c.print()
    c.print(render.volume_table(s))
    c.print()
    c.print("[bold]Five messages and the replies Resonate drafts for them[/]")
    for ex in result["examples"]:
        a = ex["analysis"]
        ents = ", ".join(f"{e['label'].lower()}={e['value']}" for e in a["entities"])
        c.print()
        c.print(f"[bold]{escape(ex['from'] or '?')}[/] via {ex['source']}: “{escape(ex['text'])}”")
        c.print(f"  [dim]intent {a['intent']} ({a['confidence']:.2f}), {a['sentiment']}"
                f"{', ' + escape(ents) if ents else ''}[/]")
        if ex["follows_up"]:
            earlier = ex["follows_up"]
            # as `resonate inbox` shows it: the drafts that answer the earlier message are marked ↩
            answering = any(sug["answers"] for sug in ex["suggestions"])
            c.print(f"  [dim]↩ follows up their message of {earlier['sent_at'][:16].replace('T', ' ')} "
                    f"({earlier['intent']}): “{escape(' '.join(earlier['text'].split()))}”"
                    f"{'  (drafts marked ↩ answer it)' if answering else ''}[/]")
        for sug in ex["suggestions"]:
            c.print(f"  [cyan]{sug['rank']}.[/] {'↩ ' if sug['answers'] else ''}{escape(sug['text'])}")
    c.print()
    t = result["themes"]
    c.print(f"[bold]Themes of the last week[/] ({t['window']['start'][:10]} to {t['window']['end'][:10]}), trend "
            "against the week before")
    for th in t["themes"]:
        c.print(f"  #{th['id']} [bold]{escape(th['label'])}[/]: {th['size']} messages from {th['contacts']} people, "
                f"{th['trend']} ({th['previous']} → {th['size']}), mostly {th['intents'][0]['intent'].replace('_', ' ')}")
    for g in t["gone"][:5]:
        c.print(f"  [dim]#{g['id']} {escape(g['label'])}: gone ({g['previous']} → 0)[/]")
    c.print()
    c.print(f"[bold]{len(result['campaign_ideas'])} campaign ideas[/]")
    for idea in result["campaign_ideas"]:
        card = idea["card"]
        c.print(f"  #{idea['id']} {escape(card['title'])} [dim]({card['kind']}; {card['segment']['size']} people via "
                f"{card['channel']}; {card['days']} days; {card['metric']['description']}: "
                f"{metric_text(card['metric']['name'], card['metric']['baseline'])} now)[/]")
    c.print()
    c.print(f"Digest: [bold]{result['digest']['file']}[/] (chart [bold]{result['digest']['chart']}[/])")
    c.print(f"Database: [bold]{result['db']}[/]")
    me = _command()
    c.print("Next:")
    c.print(f"  [bold]{me} suggest \"where is my order FB-20431?\"[/]  draft replies to a message")
    c.print(f"  [bold]{me} themes --until {s['last_message_at']} --db {result['db']}[/]  the themes above again "
            "(the sample ends then)")
    if result["campaign_ideas"]:
        first = result["campaign_ideas"][0]["id"]
        c.print(f"  [bold]{me} campaigns people {first} --db {result['db']}[/]  who the first campaign idea is for, "
                "with what they wrote")
        c.print(f"  [bold]{me} campaigns adopt {first} --db {result['db']}[/]  start its time box")
    c.print(f"  [bold]{me} ingest your_inbox.jsonl --db {result['db']}[/]  add your own messages")


def _command() -> str:
    """How to run resonate again as it was run now: "resonate" when that is on the PATH, else the path typed
    (".venv/bin/resonate", as the README's quick start runs it)."""
    import os
    import shutil

    typed = sys.argv[0] if sys.argv else ""
    if os.path.basename(typed) != "resonate":
        return "resonate"
    found = shutil.which("resonate")
    try:
        return "resonate" if found and os.path.samefile(found, typed) else typed
    except OSError:
        return "resonate"
