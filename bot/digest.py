"""The weekly digest: numbers, themes, campaign ideas and running campaigns, as Markdown/HTML, a PNG chart and
Slack Block Kit; and the schedule that posts it exactly once per period.
"""

from __future__ import annotations

import html
import math
import shutil
import statistics
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.campaigns import metric_text
from bot.errors import ResonateError
from bot.message import iso, parse_time, plural, utcnow

ACTION_ADOPT, ACTION_DISMISS = "campaign_adopt", "campaign_dismiss"
TREND_ARROWS = {"new": "🆕", "growing": "📈", "steady": "➡️", "fading": "📉"}


def _pct(a: int, b: int) -> float | None:
    return round(100.0 * (a - b) / b, 1) if b else None


def response_figures(store, start: datetime, end: datetime) -> dict:
    """Median time to first reply, share answered, and messages waiting over 24 hours (at ``end``). A message is
    answered by the first reply in its conversation after it, or, when it was answered in the reply to the person's
    follow-up in another conversation (a new email), by that reply."""
    rows = list(store.db.query(
        """SELECT m.id, m.sent_at, m.status, COALESCE(
                  (SELECT MIN(o.sent_at) FROM messages o WHERE o.conversation_id = m.conversation_id
                       AND o.direction = 'out' AND o.sent_at >= m.sent_at),
                  CASE WHEN k.action = 'answered_in_follow_up' THEN
                      (SELECT MIN(o.sent_at) FROM suggestions s JOIN decisions d ON d.suggestion_id = s.id
                           JOIN messages f ON f.id = d.message_id
                           JOIN messages o ON o.conversation_id = f.conversation_id AND o.direction = 'out'
                                AND o.sent_at >= f.sent_at
                       WHERE s.answers_id = m.id) END) AS replied_at
           FROM messages m LEFT JOIN cards k ON k.message_id = m.id
           WHERE m.direction = 'in' AND m.kind = 'text' AND m.sent_at > ? AND m.sent_at <= ?""",
        [iso(start), iso(end)]))
    waits = [(parse_time(r["replied_at"]) - parse_time(r["sent_at"])).total_seconds() / 3600
             for r in rows if r["replied_at"] and r["replied_at"] <= iso(end)]
    cutoff = iso(end - timedelta(hours=24))
    waiting = [r for r in rows if not (r["replied_at"] and r["replied_at"] <= iso(end))
               and r["status"] not in ("skipped", "ignored") and r["sent_at"] <= cutoff]
    return {"messages": len(rows), "answered": len(waits),
            "share_answered": round(len(waits) / len(rows), 3) if rows else None,
            "median_hours_to_first_reply": round(statistics.median(waits), 2) if waits else None,
            "waiting_over_24h": len(waiting)}


def chased(store, start: datetime, end: datetime, follow_ups) -> int:
    """Messages of (start, end] that chased an earlier one (intent in ``follow_ups``; a person's correction counts):
    how often people had to ask again."""
    follow_ups = sorted(follow_ups)
    if not follow_ups:
        return 0
    return store.db.execute(
        f"""SELECT COUNT(*) FROM messages m JOIN analyses a ON a.message_id = m.id
            LEFT JOIN cards k ON k.message_id = m.id
            WHERE m.direction = 'in' AND m.sent_at > ? AND m.sent_at <= ?
              AND COALESCE(k.intent, a.intent) IN ({", ".join("?" * len(follow_ups))})""",
        [iso(start), iso(end), *follow_ups]).fetchone()[0]


def build(store, report, ideas: list[dict], running: list[dict], due: list[dict], follow_ups=()) -> dict:
    """Every figure of the digest, as plain data (JSON-able). ``follow_ups``: the intents of messages that chase
    an earlier one (the playbooks that say ``follows_up: true``)."""
    w, p = report.window, report.previous_window

    days = max(1, round(w.length.total_seconds() / 86400))

    where = "WHERE m.direction = 'in' AND m.sent_at > ? AND m.sent_at <= ?"
    base = f"FROM messages m JOIN analyses a ON a.message_id = m.id {where}"
    corrected = f"FROM messages m JOIN analyses a ON a.message_id = m.id LEFT JOIN cards k ON k.message_id = m.id " \
                f"{where}"

    def counts(a, b) -> tuple[dict[str, int], Counter, list[int]]:
        """Sentiment and intent counts and messages per day of (a, b], all added up by SQLite (a week of 50,000
        messages: no row per message comes back to Python)."""
        span = [iso(a), iso(b)]
        by_sentiment = dict(store.db.execute(f"SELECT a.sentiment, COUNT(*) {base} GROUP BY a.sentiment", span))
        # a person's correction on the card counts, as in the inbox and the follow-up count
        by_intent = Counter(dict(store.db.execute(
            f"SELECT COALESCE(k.intent, a.intent), COUNT(*) {corrected} GROUP BY 1", span)))
        # seconds since the window's start, whole ones, divided by a day: the day a message falls in (exact for
        # timestamps in whole seconds; one less than a second from the end of a day may count on the next)
        per_day = [0] * days
        for day, n in store.db.execute(
                f"SELECT (CAST(strftime('%s', m.sent_at) AS INTEGER) - ?) / 86400 AS day, COUNT(*) {base} GROUP BY day",
                [math.ceil(a.timestamp()), *span]):
            per_day[min(max(int(day), 0), days - 1)] += n
        return {s: by_sentiment.get(s, 0) for s in ("negative", "neutral", "positive")}, by_intent, per_day

    # messages told (from their words) to be in another language than English: who on the team is needed
    languages = dict(store.db.execute(
        f"SELECT a.language, COUNT(*) {base} AND a.language IS NOT NULL AND a.language != 'en' "
        "GROUP BY a.language ORDER BY 2 DESC, 1", [iso(w.start), iso(w.end)]))

    (sentiment, intents, per_day), (prev_sentiment, prev_intents, prev_per_day) = counts(w.start, w.end), \
        counts(p.start, p.end)
    intents.pop("unknown", None)
    prev_intents.pop("unknown", None)
    volume, previous = sum(per_day), sum(prev_per_day)
    return {
        "window": w.to_dict(), "previous_window": p.to_dict(),
        "volume": {"messages": volume, "previous": previous, "change_pct": _pct(volume, previous), "per_day": per_day,
                   "previous_per_day": prev_per_day,
                   "days": [(w.start + timedelta(days=i + 1)).date().isoformat() for i in range(days)]},
        "sentiment": sentiment, "previous_sentiment": prev_sentiment, "other_languages": languages,
        "response": {**response_figures(store, w.start, w.end), "chased": chased(store, w.start, w.end, follow_ups),
                     "previous_chased": chased(store, p.start, p.end, follow_ups)},
        "top_intents": [{"intent": i, "count": n, "previous": prev_intents.get(i, 0)}
                        for i, n in sorted(intents.items(), key=lambda kv: (-kv[1], kv[0]))[:5]],
        "themes": [{"id": t.id, "label": t.label, "current": t.size, "previous": t.previous, "trend": t.trend,
                    "contacts": t.contacts, "quote": t.quotes[0]["text"] if t.quotes else "", "language": t.language}
                   for t in report.themes[:8]],
        "left_out": report.left_out,
        "ideas": [{"id": c["id"], **_idea(c["card"])} for c in ideas],
        "running": [{"id": c["id"], "title": c["card"]["title"], "adopted_at": c["adopted_at"],
                     "review_at": c["review_at"], "due": c["id"] in {d["id"] for d in due}} for c in running],
    }


def _idea(card: dict) -> dict:
    return {k: card[k] for k in ("title", "kind", "why", "segment", "channel", "days", "actions", "metric",
                                 "review_date", "quotes")}


# -- Markdown / HTML --------------------------------------------------------------------------------------------
def written_in(theme: dict) -> str:
    """", in German" for a theme most of whose messages are in German (its segment is written to in German)."""
    from nlp.language import name

    return f", in {name(theme['language'])}" if theme.get("language") else ""


def other_languages(d: dict) -> str:
    """ "German 3, Spanish 2" """
    from nlp.language import names_with_counts

    return names_with_counts(d["other_languages"])


def markdown(d: dict, chart_name: str | None = None) -> str:
    v, r, s = d["volume"], d["response"], d["sentiment"]
    total = max(sum(s.values()), 1)
    change = f"{v['change_pct']:+.0f}%" if v["change_pct"] is not None else "no previous week"
    lines = [f"# Resonate weekly digest: {d['window']['start'][:10]} to {d['window']['end'][:10]}", ""]
    if chart_name:
        lines += [f"![Messages per day and top themes]({chart_name})", ""]
    before = f"{change} against {v['previous']} the week before" if v["previous"] else "none the week before"
    lines += ["## Volume", f"- **{plural(v['messages'], 'message')}** ({before})",
              f"- Sentiment: {s['negative']} negative ({100 * s['negative'] / total:.0f}%), {s['neutral']} neutral "
              f"({100 * s['neutral'] / total:.0f}%), {s['positive']} positive ({100 * s['positive'] / total:.0f}%)",
              *([f"- Written in other languages: {other_languages(d)}"] if d["other_languages"] else []),
              "", "## Response"]
    med = r["median_hours_to_first_reply"]
    lines += [f"- Median time to first reply: {'%.1f h' % med if med is not None else 'no replies yet'}",
              f"- Answered: {r['answered']} of {r['messages']}"
              + (f" ({100 * r['share_answered']:.0f}%)" if r["share_answered"] is not None else ""),
              f"- Waiting over 24 hours: {r['waiting_over_24h']}",
              f"- Follow-ups (people asking again): {r['chased']} (previous week {r['previous_chased']})",
              "", "## Top intents"]
    lines += [f"- {i['intent']}: {i['count']} (previous week {i['previous']})" for i in d["top_intents"]] or ["- none"]
    lines += ["", "## Themes"]
    for t in d["themes"]:
        lines.append(f"- {TREND_ARROWS.get(t['trend'], '')} **{t['label']}**: {t['current']} messages from "
                     f"{t['contacts']} people{written_in(t)}, {t['trend']} (previous week {t['previous']}). "
                     f"“{t['quote']}”")
    if not d["themes"]:
        lines.append("- no recurring theme this week")
    lines += ["", "## New campaign ideas"]
    for c in d["ideas"]:
        m = c["metric"]
        lines += [f"### #{c['id']} {c['title']}", f"- Why: {c['why']}",
                  *[f"  > {q['from']}: {q['text']}" for q in c["quotes"]],
                  f"- Segment: {c['segment']['filter']} ({c['segment']['size']} people)",
                  f"- Channel: {c['channel']}; time box: {c['days']} days; review on {c['review_date']}",
                  f"- Success metric: {m['description']} (baseline {metric_text(m['name'], m['baseline'])}, "
                  f"better when {m['better']})",
                  "- Actions:", *[f"  {n}. {a}" for n, a in enumerate(c["actions"], 1)],
                  f"- Adopt it: `resonate campaigns adopt {c['id']}`", ""]
    if not d["ideas"]:
        lines.append("- none this week")
    lines += ["", "## Running campaigns"]
    for c in d["running"]:
        lines.append(f"- #{c['id']} {c['title']}: adopted {c['adopted_at'][:10]}, review {c['review_at'][:10]}"
                     + (" — **review due**: `resonate campaigns review %d`" % c["id"] if c["due"] else ""))
    if not d["running"]:
        lines.append("- none")
    return "\n".join(lines) + "\n"


def to_html(md: str) -> str:
    """A small Markdown-to-HTML for the digest's own constructs (headings, lists, quotes, bold, images)."""
    import re

    out = ["<!doctype html><meta charset='utf-8'><title>Resonate digest</title>",
           "<body style='font-family:system-ui,sans-serif;max-width:860px;margin:2em auto;line-height:1.45'>"]
    in_list = False
    for line in md.splitlines():
        text = html.escape(line.strip())
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
        text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
        img = re.match(r"!\[(.*?)\]\((.*?)\)", line.strip())
        if in_list and not line.strip().startswith(("-", ">", "1", "2", "3", "4", "5")):
            out.append("</ul>")
            in_list = False
        if img:
            out.append(f"<p><img src='{html.escape(img.group(2))}' alt='{html.escape(img.group(1))}' width='100%'></p>")
        elif line.startswith("### "):
            out.append(f"<h3>{text[4:]}</h3>")
        elif line.startswith("## "):
            out.append(f"<h2>{text[3:]}</h2>")
        elif line.startswith("# "):
            out.append(f"<h1>{text[2:]}</h1>")
        elif line.strip().startswith("&gt;"):
            out.append(f"<blockquote>{text[4:].strip()}</blockquote>")
        elif line.strip().startswith("- ") or re.match(r"\s+\d+\. ", line):
            if not in_list:
                out.append("<ul>")
                in_list = True
            item = re.sub(r"^(- |\d+\. )", "", text)
            out.append(f"<li>{item}</li>")
        elif text:
            out.append(f"<p>{text}</p>")
    if in_list:
        out.append("</ul>")
    return "\n".join(out) + "\n</body>\n"


# -- chart --------------------------------------------------------------------------------------------------------
def chart(d: dict, path: Path) -> Path:
    """Two panels: messages per day this week against last week, and the top themes now against before."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    v = d["volume"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1, 1.25]})
    days = [datetime.fromisoformat(x).strftime("%a %d") for x in v["days"]]
    xs = range(len(days))
    left.bar(xs, v["per_day"], color="#3b7dd8", label="this week", zorder=2)
    left.plot(xs, v["previous_per_day"], color="#999999", marker="o", linestyle="--", label="previous week", zorder=3)
    left.set_xticks(list(xs), days, fontsize=9)
    change = f" ({v['change_pct']:+.0f}%)" if v["change_pct"] is not None else ""
    left.set_title(f"Messages per day: {v['messages']} this week{change}", fontsize=11, loc="left")
    # headroom above the tallest day, so that the legend never covers a bar
    left.set_ylim(0, max([*v["per_day"], *v["previous_per_day"], 1]) * 1.22)
    left.legend(frameon=False, fontsize=9, loc="upper left", ncol=2)
    for side in ("top", "right"):
        left.spines[side].set_visible(False)
    left.grid(axis="y", color="#eeeeee", zorder=0)
    left.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # messages come whole
    themes = d["themes"][:7][::-1]
    colors = {"new": "#8e44ad", "growing": "#d35400", "steady": "#3b7dd8", "fading": "#95a5a6"}
    ys = range(len(themes))
    right.barh([y + 0.2 for y in ys], [t["current"] for t in themes], height=0.4,
               color=[colors[t["trend"]] for t in themes], zorder=2, label="this week")
    right.barh([y - 0.2 for y in ys], [t["previous"] for t in themes], height=0.4, color="#dddddd", zorder=2,
               label="previous week")
    right.set_yticks(list(ys), [_cut(t["label"], 28) for t in themes], fontsize=9)
    for y, t in zip(ys, themes):
        right.text(t["current"] + 0.2, y + 0.2, f"{t['current']}  {t['trend']}", va="center", fontsize=8,
                   color=colors[t["trend"]])
    right.set_title("Top themes: this week (colour = trend) vs previous", fontsize=11, loc="left")
    for side in ("top", "right"):
        right.spines[side].set_visible(False)
    right.grid(axis="x", color="#eeeeee", zorder=0)
    if themes:
        # one key per trend shown (the bars of this week take their trend's colour) and one for the week before,
        # under the axis, where it hides no bar
        trends = [trend for trend in colors if any(t["trend"] == trend for t in themes)]
        right.legend(handles=[Patch(color=colors[trend], label=trend) for trend in trends]
                     + [Patch(color="#dddddd", label="previous week")], frameon=False, fontsize=9,
                     loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=len(trends) + 1)
        right.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    else:
        right.text(0.5, 0.5, "no recurring theme", ha="center", transform=right.transAxes)
        right.set_xticks([])
    fig.suptitle(f"Resonate digest {d['window']['start'][:10]} – {d['window']['end'][:10]}", fontsize=12,
                 fontweight="bold", x=0.01, ha="left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


MARKDOWN, HTML = (".md", ".markdown"), (".html", ".htm")


def check_out(out: Path) -> Path:
    """``out`` if the digest can be written there: Markdown or HTML by its extension (the chart goes beside it as
    ``<stem>.png``); else a ResonateError naming the file."""
    out = Path(out)
    if out.suffix.lower() not in MARKDOWN + HTML:
        raise ResonateError(f"--out {out}: the digest is written as Markdown (.md) or HTML (.html), "
                            f"not {out.suffix or 'a file without an extension'}")
    return out


def write(d: dict, out: Path) -> tuple[Path, Path]:
    """Write the digest to ``out`` (.md, or .html/.htm) with its chart beside it (``<stem>.png``)."""
    out = check_out(out)
    png = chart(d, out.with_suffix(".png"))
    md = markdown(d, png.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(to_html(md) if out.suffix.lower() in HTML else md, encoding="utf-8")
    return out, png


# -- Slack --------------------------------------------------------------------------------------------------------
def blocks(d: dict) -> list[dict]:
    from bot import review

    v, r, s = d["volume"], d["response"], d["sentiment"]
    change = f"{v['change_pct']:+.0f}%" if v["change_pct"] is not None else "no previous week"
    med = r["median_hours_to_first_reply"]
    out = [
        {"type": "header", "text": review.plain(f"Weekly digest {d['window']['start'][:10]} – {d['window']['end'][:10]}", 150)},
        {"type": "section", "fields": [
            review.mrkdwn(f"*Messages*\n{v['messages']} ({change})"),
            review.mrkdwn(f"*Sentiment*\n{s['negative']} neg · {s['neutral']} neu · {s['positive']} pos"),
            review.mrkdwn(f"*First reply (median)*\n{'%.1f h' % med if med is not None else 'no replies'}"),
            review.mrkdwn(f"*Answered / waiting >24h*\n{r['answered']} of {r['messages']} / {r['waiting_over_24h']}"),
            review.mrkdwn(f"*Follow-ups (asked again)*\n{r['chased']} (was {r['previous_chased']})"),
            *([review.mrkdwn(f"*Other languages*\n{other_languages(d)}")] if d["other_languages"] else []),
        ]},
        {"type": "section", "text": review.mrkdwn("*Top intents:* " + (", ".join(
            f"{i['intent']} {i['count']}" for i in d["top_intents"]) or "none"))},
        {"type": "divider"},
    ]
    theme_lines = [f"{TREND_ARROWS.get(t['trend'], '')} *{review.mrkdwn_literal(t['label'], 80)}*: {t['current']} "
                   f"({t['trend']}, was {t['previous']}){written_in(t)}" for t in d["themes"]]
    out.append({"type": "section", "text": review.mrkdwn("*Themes*\n" + ("\n".join(theme_lines) or "none"))})
    for c in d["ideas"][:10]:
        text = (f"*💡 {review.mrkdwn_literal(c['title'], 200)}*\n{review.mrkdwn_literal(c['why'], 600)}\n"
                f"Segment: {c['segment']['size']} people · {c['channel']} · {c['days']} days\n"
                f"Success metric: {c['metric']['description']} (baseline "
                f"{metric_text(c['metric']['name'], c['metric']['baseline'])}, better when {c['metric']['better']})")
        out.append({"type": "section", "text": review.mrkdwn(review.cut(text, 2900))})
        out.append({"type": "actions", "block_id": f"campaign_{c['id']}", "elements": [
            {"type": "button", "action_id": ACTION_ADOPT, "style": "primary", "text": review.plain("Adopt", 30),
             "value": str(c["id"])},
            {"type": "button", "action_id": ACTION_DISMISS, "text": review.plain("Dismiss", 30), "value": str(c["id"])},
        ]})
    if d["running"]:
        out.append({"type": "section", "text": review.mrkdwn("*Running campaigns*\n" + "\n".join(
            f"#{c['id']} {review.mrkdwn_literal(c['title'], 150)}: review {c['review_at'][:10]}"
            + (" — *review due*" if c["due"] else "") for c in d["running"]))})
    return out[:50]


def post(client, channel: str, d: dict, png: Path | None) -> str:
    """Post the digest to ``channel`` and upload the chart into it; returns the message ts."""
    text = f"Resonate weekly digest: {d['volume']['messages']} messages, {len(d['themes'])} themes, " \
           f"{len(d['ideas'])} campaign ideas"
    response = client.chat_postMessage(channel=channel, text=text, blocks=blocks(d), unfurl_links=False)
    if png is not None:
        client.files_upload_v2(channel=channel, file=str(png), filename=png.name, title="Digest chart",
                               thread_ts=response["ts"])
    return response["ts"]


# -- schedule -----------------------------------------------------------------------------------------------------
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Schedule:
    weekday: int = 0  # Monday
    hour: int = 9
    minute: int = 0
    timezone: str = "UTC"

    @classmethod
    def parse(cls, text: str, timezone: str = "UTC") -> "Schedule":
        from bot.errors import ConfigError

        parts = str(text).strip().lower().split()
        try:
            day, hm = parts
            hour, minute = (int(x) for x in hm.split(":"))
            if day[:3] not in DAYS or not (0 <= hour < 24 and 0 <= minute < 60):
                raise ValueError
        except ValueError:
            raise ConfigError("RESONATE_DIGEST_SCHEDULE", f"{text!r} is not like 'mon 09:00'") from None
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("RESONATE_TIMEZONE", f"{timezone!r} is not a time zone like Europe/Lisbon") from None
        return cls(DAYS.index(day[:3]), hour, minute, timezone)

    def last_slot(self, now: datetime) -> datetime:
        """The most recent scheduled moment at or before ``now`` (aware, in the schedule's time zone)."""
        from zoneinfo import ZoneInfo

        local = now.astimezone(ZoneInfo(self.timezone))
        slot = local.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        slot -= timedelta(days=(local.weekday() - self.weekday) % 7)
        if slot > local:
            slot -= timedelta(days=7)
        return slot

    def period(self, now: datetime) -> str:
        slot = self.last_slot(now)
        return slot.strftime("%G-W%V")


def claim_period(store, period: str) -> bool:
    """Claim the digest of ``period`` (INSERT OR IGNORE on a UNIQUE period): True for the one process that may
    post it. A post that crashed half-way stays claimed: at most once, never twice."""
    now = iso(utcnow())
    cur = store.db.execute("INSERT OR IGNORE INTO digests (period, state, created_at, updated_at) "
                           "VALUES (?, 'posting', ?, ?)", [period, now, now])
    return cur.rowcount == 1


def finish_period(store, period: str, *, channel: str | None = None, ts: str | None = None,
                  path: str | None = None, error: str | None = None) -> None:
    store.db.execute("UPDATE digests SET state = ?, channel = ?, ts = ?, path = ?, error = ?, updated_at = ? "
                     "WHERE period = ?", ["failed" if error else "posted", channel, ts, path, error, iso(utcnow()),
                                          period])


def run_due(app, client, channel: str, schedule: Schedule, now: datetime | None = None) -> str | None:
    """Post the digest of the current period if it has not been posted; returns the period posted, if any."""
    now = now or utcnow()
    period = schedule.period(now)
    if not claim_period(app.store, period):
        return None
    folder = Path(tempfile.mkdtemp(prefix="resonate-digest-"))
    try:
        d, png = app.digest(until=schedule.last_slot(now), out=folder / "digest.md")
        ts = post(client, channel, d, png)
    except Exception as exc:
        finish_period(app.store, period, error=str(exc)[:500])
        raise
    finally:
        # the Markdown quotes customers and the chart is uploaded: nothing of it stays on disk, week after week
        shutil.rmtree(folder, ignore_errors=True)
    finish_period(app.store, period, channel=channel, ts=ts)
    return period


@dataclass
class Scheduler:
    """A background loop that calls :func:`run_due` every ``interval`` seconds until stopped."""

    app: Any
    client: Any
    channel: str
    schedule: Schedule
    interval: float = 60.0

    def run_forever(self, stop) -> None:
        import logging

        log = logging.getLogger(__name__)
        while not stop.is_set():
            try:
                period = run_due(self.app, self.client, self.channel, self.schedule)
                if period:
                    log.info("posted the digest of %s to %s", period, self.channel)
            except Exception:
                log.exception("could not post the digest")
            stop.wait(self.interval)
