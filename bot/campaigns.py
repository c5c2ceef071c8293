"""Micro-campaigns: rules (``campaigns.yml``) turn themes into campaign cards; adopted cards are tracked.

A rule says *when* it applies to a theme (dominant intent, sentiment, trend, contact tags) and *what* to do
(a template: title, one channel, a time box, 3 to 5 actions, a success metric). ``rule.matches(theme)`` is the
pure check; ``card_for(theme, ...)`` draws the card. :class:`CampaignDesk` stores ideas, adopts them (the time
box starts), reviews them (the metric since adoption against the baseline) and closes them with a decision.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import PlaybookError, ResonateError
from bot.message import iso, parse_time, utcnow
from bot.playbooks import SENTIMENTS, _line, _read_yaml

CONDITIONS = ("intent", "sentiment", "trend", "tags")
TEMPLATE_KEYS = ("title", "channel", "days", "actions", "metric")
PLACEHOLDERS = ("label", "size", "contacts", "top_source", "intent", "negative", "positive")
DECISIONS = ("continue", "pivot", "stop")
# metric -> (what it measures, better when it goes "down" or "up", a "count" or a "share")
METRICS = {
    "theme_volume": ("messages a week on the theme, from anyone", "down", "count"),
    "negative_share": ("share of the segment's messages that are negative", "down", "share"),
    "response_rate": ("share of the segment who wrote to us again", "up", "share"),
    "positive_share": ("share of the segment's messages that are positive", "up", "share"),
}
MIN_REVIEW_AGE = timedelta(days=1)  # a review sooner measures nothing yet
THEME_MATCH = 0.6  # cosine to the theme centroid for a later message to count as "on the theme"


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    when: dict[str, tuple[str, ...]]
    template: dict[str, Any] | None  # None: the themes this rule takes get no campaign (``campaign: false``)
    line: int = 0

    def matches(self, theme) -> bool:
        for key, allowed in self.when.items():
            if key == "intent" and theme.dominant_intent not in allowed:
                return False
            if key == "sentiment" and theme.dominant_sentiment not in allowed:
                return False
            if key == "trend" and theme.trend not in allowed:
                return False
            if key == "tags" and not all(theme.tags.get(t, 0) * 2 >= max(theme.contacts, 1) for t in allowed):
                return False
        return True


@dataclass(frozen=True)
class CampaignRules:
    rules: tuple[Rule, ...]
    min_contacts: int = 3
    path: str = ""

    def rule_for(self, theme) -> Rule | None:
        return next((r for r in self.rules if r.matches(theme)), None)


def default_rules_path() -> Path:
    from bot.playbooks import default_playbooks_dir

    return default_playbooks_dir() / "campaigns.yml"


def load_rules(path: str | Path | None = None) -> CampaignRules:
    """Read and check ``campaigns.yml``; a problem raises PlaybookError with the file, line and what is wrong."""
    path = Path(path) if path else default_rules_path()
    if path.is_dir():
        found = [path / n for n in ("campaigns.yml", "campaigns.yaml") if (path / n).is_file()]
        path = found[0] if found else default_rules_path()
    data, node = _read_yaml(path)
    where = str(path)

    def fail(problem: str, *at: Any) -> PlaybookError:
        return PlaybookError(where, _line(node, *at), problem)

    if not isinstance(data, dict):
        raise PlaybookError(where, 1, "campaign rules must be a mapping with 'rules' (and optional 'min_contacts')")
    unknown = set(data) - {"rules", "min_contacts"}
    if unknown:
        key = sorted(unknown)[0]
        raise fail(f"unknown key {key!r} (allowed: rules, min_contacts)", key)
    min_contacts = data.get("min_contacts", 3)
    if not isinstance(min_contacts, int) or isinstance(min_contacts, bool) or min_contacts < 1:
        raise fail("'min_contacts' must be a whole number of at least 1", "min_contacts")
    rules_data = data.get("rules")
    if not isinstance(rules_data, list) or not rules_data:
        raise fail("'rules' must be a non-empty list of rules", "rules")
    rules, ids = [], set()
    for i, raw in enumerate(rules_data):
        at = ("rules", i)
        if not isinstance(raw, dict):
            raise fail("a rule must be a mapping with id, kind, when, template", *at)
        extra = set(raw) - {"id", "kind", "when", "template", "campaign"}
        if extra:
            key = sorted(extra)[0]
            raise fail(f"unknown key {key!r} in a rule (allowed: id, kind, when, template, campaign)", *at, key)
        rid = raw.get("id")
        if not isinstance(rid, str) or not rid.strip():
            raise fail("a rule needs an 'id'", *at)
        if rid in ids:
            raise fail(f"rule id {rid!r} is used twice", *at, "id")
        ids.add(rid)
        kind = raw.get("kind") or rid
        when_raw = raw.get("when") or {}
        if not isinstance(when_raw, dict):
            raise fail(f"rule {rid}: 'when' must be a mapping of conditions", *at, "when")
        when = {}
        for key, value in when_raw.items():
            if key not in CONDITIONS:
                raise fail(f"rule {rid}: unknown condition {key!r} (known: {', '.join(CONDITIONS)})", *at, "when", key)
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                raise fail(f"rule {rid}: condition {key!r} must be a list of names", *at, "when", key)
            allowed = {"sentiment": SENTIMENTS, "trend": ("new", "growing", "steady", "fading")}.get(key)
            bad = [v for v in values if allowed and v not in allowed]
            if bad:
                raise fail(f"rule {rid}: {key} {bad[0]!r} is not one of {', '.join(allowed)}", *at, "when", key)
            when[key] = tuple(values)
        if "campaign" in raw:
            if raw["campaign"] is not False or "template" in raw:
                raise fail(f"rule {rid}: 'campaign: false' (the themes it takes get no campaign) goes without a "
                           "template", *at, "campaign")
            rules.append(Rule(rid, str(kind), when, None, _line(node, *at)))
            continue
        template = raw.get("template")
        if not isinstance(template, dict):
            raise fail(f"rule {rid}: needs a 'template' mapping ({', '.join(TEMPLATE_KEYS)})", *at)
        for key in TEMPLATE_KEYS:
            if key not in template:
                raise fail(f"rule {rid}: template lacks {key!r}", *at, "template")
        extra = set(template) - set(TEMPLATE_KEYS)
        if extra:
            key = sorted(extra)[0]
            raise fail(f"rule {rid}: unknown template key {key!r}", *at, "template", key)
        days = template["days"]
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 90:
            raise fail(f"rule {rid}: 'days' must be a whole number from 1 to 90", *at, "template", "days")
        actions = template["actions"]
        if not isinstance(actions, list) or not 3 <= len(actions) <= 5 or not all(isinstance(a, str) for a in actions):
            raise fail(f"rule {rid}: 'actions' must be a list of 3 to 5 texts", *at, "template", "actions")
        if template["metric"] not in METRICS:
            raise fail(f"rule {rid}: metric {template['metric']!r} is not one of {', '.join(METRICS)}",
                       *at, "template", "metric")
        for key in ("title", "channel", *[None] * 0):
            if not isinstance(template[key], str) or not template[key].strip():
                raise fail(f"rule {rid}: {key!r} must be a text", *at, "template", key)
        for n, text in enumerate([template["title"], template["channel"], *actions]):
            for _, name, _, _ in string.Formatter().parse(text):
                if name is not None and name not in PLACEHOLDERS:
                    raise fail(f"rule {rid}: unknown placeholder {{{name}}} (known: {', '.join(PLACEHOLDERS)})",
                               *at, "template")
        rules.append(Rule(rid, str(kind), when, dict(template), _line(node, *at)))
    return CampaignRules(tuple(rules), min_contacts, where)


def metric_text(metric: str, value: float | None) -> str:
    """A metric's value as a person reads it: a share as a percentage ("43%", not 0.429), a count as a number ("16",
    not 16.0)."""
    if value is None:
        return "no data yet"
    return f"{value:.0%}" if METRICS[metric][2] == "share" else f"{round(value, 1):g}"


# -- cards --------------------------------------------------------------------------------------------------------
def _fill(text: str, theme) -> str:
    values = {"label": theme.label, "size": theme.size, "contacts": theme.contacts,
              "top_source": next(iter(theme.sources), "email"), "intent": theme.dominant_intent,
              "negative": theme.sentiment.get("negative", 0), "positive": theme.sentiment.get("positive", 0)}
    return text.format(**values)


def baseline(metric: str, theme, window_days: float) -> float:
    n = max(theme.size, 1)
    if metric == "theme_volume":
        return round(theme.size * 7 / max(window_days, 1e-9), 2)
    if metric == "negative_share":
        return round(theme.sentiment.get("negative", 0) / n, 3)
    if metric == "positive_share":
        return round(theme.sentiment.get("positive", 0) / n, 3)
    if metric == "response_rate":  # contacts who wrote more than once on the theme in the window
        return round(max(theme.size - theme.contacts, 0) / max(theme.contacts, 1), 3)
    raise ValueError(metric)


def card_for(theme, rule: Rule, window) -> dict:
    days = int(rule.template["days"])
    window_days = window.length.total_seconds() / 86400
    metric = rule.template["metric"]
    why = (f"{theme.size} messages from {theme.contacts} people in the last {window_days:g} days "
           f"({theme.trend}: {theme.previous} → {theme.size}); mostly {theme.dominant_intent.replace('_', ' ')}, "
           f"{theme.sentiment.get('negative', 0)} negative / {theme.sentiment.get('positive', 0)} positive.")
    language = theme.language
    if language:  # a segment of people who write in Spanish is written to in Spanish
        from nlp.language import name

        why += (f" Written in {name(language)} ({theme.languages[language]} of {theme.size}): write to them in "
                f"{name(language)}.")
    elif theme.languages:  # some of them write in another language: to them, in theirs
        from nlp.language import names_with_counts

        why += f" Some wrote in other languages ({names_with_counts(theme.languages)}): write to them in theirs."
    start, end = window.start.date().isoformat(), window.end.date().isoformat()
    return {
        "title": _fill(rule.template["title"], theme),
        "kind": rule.kind, "rule": rule.id,
        "theme": {"id": theme.id, "label": theme.label, "trend": theme.trend, "current": theme.size,
                  "previous": theme.previous},
        "why": why,
        "language": language,
        "quotes": [{"from": q["from"], "text": q["text"], "message_id": q.get("message_id")} for q in theme.quotes],
        "segment": {"filter": f"contacts who wrote about “{theme.label}” between {start} and {end}, "
                              "opted-out contacts excluded",
                    "size": len(theme.segment_contact_ids),
                    "opted_out_excluded": theme.contacts - len(theme.segment_contact_ids)},
        "channel": _fill(rule.template["channel"], theme),
        "days": days,
        "actions": [_fill(a, theme) for a in rule.template["actions"]],
        "metric": {"name": metric, "description": METRICS[metric][0], "better": METRICS[metric][1],
                   "baseline": baseline(metric, theme, window_days)},
        "review_date": (window.end + timedelta(days=days)).date().isoformat(),
    }


def ideas_for(report, rules: CampaignRules) -> list[tuple[Any, Rule, dict]]:
    """(theme, rule, card) for every theme with at least ``min_contacts`` people and a rule that applies."""
    out = []
    for theme in report.themes:
        if theme.contacts < rules.min_contacts:
            continue
        rule = rules.rule_for(theme)
        if rule is not None and rule.template is not None:
            out.append((theme, rule, card_for(theme, rule, report.window)))
    return out


# -- tracking -----------------------------------------------------------------------------------------------------
@dataclass
class CampaignDesk:
    store: Any
    rules: CampaignRules
    now: Any = field(default=utcnow)

    def record_ideas(self, report) -> list[dict]:
        """Store the ideas of a theme report (once per theme, rule and window) and return them as rows."""
        rows = []
        now = iso(self.now())
        with self.store.db.atomic():  # one transaction for all: a large window can have hundreds of ideas
            for theme, rule, card in ideas_for(report, self.rules):
                self.store.db.execute(
                    """INSERT OR IGNORE INTO campaigns (theme_id, rule, kind, state, card, segment, segment_messages,
                           metric, baseline, window_end, created_at, updated_at)
                       VALUES (?, ?, ?, 'idea', ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [theme.id, rule.id, rule.kind, json.dumps(card, ensure_ascii=False),
                     json.dumps(theme.segment_contact_ids), json.dumps(theme.segment_message_ids),
                     card["metric"]["name"], card["metric"]["baseline"], iso(report.window.end), now, now])
                rows.append(self.get_by(theme.id, rule.id, iso(report.window.end)))
        return rows

    def get_by(self, theme_id: int, rule: str, window_end: str) -> dict:
        rows = list(self.store.db.query("SELECT * FROM campaigns WHERE theme_id = ? AND rule = ? AND window_end = ?",
                                        [theme_id, rule, window_end]))
        return _row(rows[0])

    def get(self, campaign_id: int) -> dict:
        rows = list(self.store.db.query("SELECT * FROM campaigns WHERE id = ?", [campaign_id]))
        if not rows:
            where = f" in {self.store.path}" if self.store.path else ""
            raise ResonateError(f"campaign {campaign_id}: no such campaign{where} (see resonate campaigns list)")
        return _row(rows[0])

    def list(self, states: tuple[str, ...] = ("idea", "adopted")) -> list[dict]:
        marks = ",".join("?" * len(states))
        return [_row(r) for r in self.store.db.query(
            f"SELECT * FROM campaigns WHERE state IN ({marks}) ORDER BY state = 'idea', id", list(states))]

    def adopt(self, campaign_id: int, actor: str = "cli") -> dict:
        c = self.get(campaign_id)
        now = self.now()
        review_at = now + timedelta(days=int(c["card"]["days"]))
        cur = self.store.db.execute(
            "UPDATE campaigns SET state = 'adopted', adopted_at = ?, adopted_by = ?, review_at = ?, updated_at = ? "
            "WHERE id = ? AND state = 'idea'", [iso(now), actor, iso(review_at), iso(now), campaign_id])
        if cur.rowcount != 1:
            raise ResonateError(f"campaign {campaign_id} is {c['state']}, not an idea: it cannot be adopted")
        return self.get(campaign_id)

    def dismiss(self, campaign_id: int, actor: str = "cli") -> dict:
        c = self.get(campaign_id)
        cur = self.store.db.execute("UPDATE campaigns SET state = 'dismissed', closed_at = ?, updated_at = ? "
                                    "WHERE id = ? AND state = 'idea'", [iso(self.now()), iso(self.now()), campaign_id])
        if cur.rowcount != 1:
            raise ResonateError(f"campaign {campaign_id} is {c['state']}, not an idea: it cannot be dismissed")
        return self.get(campaign_id)

    def people(self, campaign_id: int) -> dict:
        """Who a campaign is for, to write to one by one: each person of its segment who has not opted out since,
        with where they wrote (source, handle), the language they wrote in, and what they wrote on the theme (each
        message with its id, for ``resonate reply``, and when we last answered in that conversation). Campaigns
        recorded before segments kept their messages show each person's last message up to the window's end."""
        c = self.get(campaign_id)
        rows = self.store.people_of(c["segment"], c["segment_messages"], c["window_end"])
        people: dict[int, dict] = {}
        for r in rows:
            if r["opted_out_at"]:
                continue
            person = people.setdefault(r["contact_id"], {
                "contact_id": r["contact_id"], "name": r["display_name"] or r["username"] or r["external_id"],
                "source": r["source"], "handle": r["username"] or r["external_id"], "language": r["language"],
                "messages": []})
            person["language"] = person["language"] or r["language"]
            person["messages"].append({"id": r["id"], "sent_at": r["sent_at"], "text": r["text"],
                                       "answered_at": r["answered_at"]})
        opted_out = len({r["contact_id"] for r in rows if r["opted_out_at"]})
        return {"campaign": {k: c[k] for k in ("id", "state", "kind", "theme_id")} | {"title": c["card"]["title"]},
                "people": list(people.values()), "opted_out_since": opted_out}

    def due(self) -> list[dict]:
        return [c for c in self.list(("adopted",)) if c["review_at"] and c["review_at"] <= iso(self.now())]

    def measure(self, campaign: dict, since: datetime, until: datetime) -> dict:
        """The campaign's metric over (since, until], from the conversations."""
        metric = campaign["metric"]
        segment = campaign["segment"] or [-1]
        marks = ",".join("?" * len(segment))
        rows = list(self.store.db.query(
            f"""SELECT m.id, m.contact_id, a.sentiment FROM messages m JOIN analyses a ON a.message_id = m.id
                WHERE m.direction = 'in' AND m.sent_at > ? AND m.sent_at <= ? AND m.contact_id IN ({marks})""",
            [iso(since), iso(until), *segment]))
        days = max((until - since).total_seconds() / 86400, 1e-9)
        out = {"messages_from_segment": len(rows), "contacts_who_wrote": len({r["contact_id"] for r in rows})}
        if metric == "theme_volume":
            centroid = self.store.db.execute("SELECT centroid FROM themes WHERE id = ?",
                                             [campaign["theme_id"]]).fetchone()
            all_rows = list(self.store.db.query(
                "SELECT id FROM messages WHERE direction = 'in' AND sent_at > ? AND sent_at <= ?",
                [iso(since), iso(until)]))
            vectors = self.store.embeddings([r["id"] for r in all_rows])
            c = np.frombuffer(centroid[0], dtype=np.float32) if centroid else None
            on_theme = sum(1 for v in vectors.values() if c is not None and len(v) == len(c) and float(v @ c) >= THEME_MATCH)
            out["on_theme_messages"] = on_theme
            value = round(on_theme * 7 / days, 2)
        elif metric in ("negative_share", "positive_share"):
            label = "negative" if metric == "negative_share" else "positive"
            value = round(sum(1 for r in rows if r["sentiment"] == label) / len(rows), 3) if rows else None
        else:  # response_rate: replies to outreach, i.e. segment contacts who wrote again since adoption
            value = round(out["contacts_who_wrote"] / max(len(campaign["segment"]), 1), 3)
        out["value"] = value
        return out

    def review(self, campaign_id: int) -> dict:
        c = self.get(campaign_id)
        if c["state"] != "adopted":
            raise ResonateError(f"campaign {campaign_id} is {c['state']}: only an adopted campaign can be reviewed")
        now = self.now()
        adopted = parse_time(c["adopted_at"])
        measured = self.measure(c, adopted, now)
        base, value = c["baseline"], measured["value"]
        better = METRICS[c["metric"]][1]
        if now - adopted < MIN_REVIEW_AGE:  # a weekly rate over minutes is 0 whatever happens: not "better"
            verdict = "too early: less than a day since adoption"
        elif value is None or base is None:
            verdict = "no data yet"
        elif value == base:
            verdict = "no change"
        else:
            verdict = "better" if (value < base) == (better == "down") else "worse"
        result = {**measured, "metric": c["metric"], "baseline": base, "verdict": verdict,
                  "since": c["adopted_at"], "until": iso(now), "due": c["review_at"] <= iso(now)}
        self.store.db.execute("UPDATE campaigns SET reviewed_at = ?, result = ?, updated_at = ? WHERE id = ?",
                              [iso(now), json.dumps(result), iso(now), campaign_id])
        return {**self.get(campaign_id), "result": result}

    def close(self, campaign_id: int, decision: str) -> dict:
        if decision not in DECISIONS:
            raise ResonateError(f"--decision {decision!r}: expected one of {', '.join(DECISIONS)}")
        c = self.get(campaign_id)
        if c["state"] != "adopted":
            raise ResonateError(f"campaign {campaign_id} is {c['state']}: only an adopted campaign can be closed")
        if c["result"] is None:
            c = self.review(campaign_id)
        now = iso(self.now())
        self.store.db.execute("UPDATE campaigns SET state = 'closed', decision = ?, closed_at = ?, updated_at = ? "
                              "WHERE id = ? AND state = 'adopted'", [decision, now, now, campaign_id])
        return self.get(campaign_id)


def _row(row: dict) -> dict:
    row = dict(row)
    row["card"] = json.loads(row["card"])
    row["segment"] = json.loads(row["segment"])
    row["segment_messages"] = json.loads(row.get("segment_messages") or "[]")
    row["result"] = json.loads(row["result"]) if row.get("result") else None
    return row
