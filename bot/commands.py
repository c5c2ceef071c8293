"""``/resonate`` subcommands: a registry of name -> handler that later features extend.

A handler takes the application (``bot.bootstrap.App``), the rest of the command text and the id of the
person who typed it, and returns a :class:`CommandReply` (text, and Block Kit blocks where useful). Nothing
here talks to Slack; the Slack adapter shows the reply to the person only (ephemeral).

Add a command from anywhere::

    from bot.commands import COMMANDS

    @COMMANDS.command("digest", "digest [DAYS]: the themes of the last DAYS days")
    def digest(app, args, user): ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from bot import review
from bot.errors import ResonateError


@dataclass
class CommandReply:
    text: str
    blocks: list[dict] = field(default_factory=list)

    @classmethod
    def section(cls, text: str) -> "CommandReply":
        """``text`` as the answer and as one Block Kit section (mrkdwn, cut to what a section holds)."""
        return cls(text, [{"type": "section", "text": review.mrkdwn(review.cut(text, 2900))}])


Handler = Callable[[object, str, str], CommandReply]


class Commands:
    def __init__(self, name: str = "/resonate"):
        self.name = name
        self.handlers: dict[str, Handler] = {}
        self.usage: dict[str, str] = {}

    def command(self, name: str, usage: str):
        def register(handler: Handler) -> Handler:
            self.handlers[name] = handler
            self.usage[name] = usage
            return handler

        return register

    def dispatch(self, app, text: str, user: str = "") -> CommandReply:
        """Run ``text`` ("suggest where is my order?"); an unknown or missing subcommand answers with the help."""
        name, _, args = (text or "").strip().partition(" ")
        handler = self.handlers.get(name.lower())
        if handler is None or name.lower() == "help":
            return self.help(unknown=name if name and name.lower() != "help" else None)
        try:
            return handler(app, args.strip(), user)
        except ResonateError as exc:  # bad input ("themes 7x", a campaign that does not exist): say what, not fail
            return CommandReply.section(str(exc))

    def help(self, unknown: str | None = None) -> CommandReply:
        lines = [f"`{self.name} {usage}`" for _, usage in sorted(self.usage.items())]
        intro = f"I don't know the command “{review.mrkdwn_literal(unknown, 100)}”. " if unknown else ""
        text = intro + "What I can do:\n" + "\n".join(lines)
        return CommandReply.section(text)


COMMANDS = Commands()


@COMMANDS.command("help", "help: this list")
def _help(app, args: str, user: str) -> CommandReply:  # dispatch answers help itself; kept for the list
    return COMMANDS.help()


@COMMANDS.command("suggest", "suggest TEXT: the analysis of TEXT and the replies I would suggest (nothing stored)")
def _suggest(app, args: str, user: str) -> CommandReply:
    if not args:
        return CommandReply(f"Usage: `{COMMANDS.name} suggest TEXT`, for example "
                            f"`{COMMANDS.name} suggest where is my order FB-20431?`")
    from bot.message import MAX_TEXT_CHARS
    from bot.playbooks import ReplyContext

    text = args[:MAX_TEXT_CHARS]
    analysis = app.analyzer.analyze(text)
    suggestions = app.suggester.suggest(analysis, ReplyContext(source="slack", text=text))
    rows = [{"id": 0, **s.__dict__} for s in suggestions]
    summary = f"{analysis.intent} ({analysis.confidence:.2f}), {analysis.sentiment}: " + " | ".join(
        s.text for s in suggestions)
    return CommandReply(review.mrkdwn_literal(summary), review.analysis_blocks(text, analysis.to_dict(), rows))


@COMMANDS.command("themes", "themes [7d]: the recurring themes of the last days, with their trend")
def _themes(app, args: str, user: str) -> CommandReply:
    from bot.themes import parse_span
    from nlp.language import name

    report = app.themes.find(parse_span(args or "7d"))
    app.campaigns.record_ideas(report)
    lines = [f"*{review.mrkdwn_literal(t.label, 100)}*: {t.size} messages from {t.contacts} people, {t.trend} "
             f"(was {t.previous})" + (f", written in {name(t.language)}" if t.language else "") for t in report.themes]
    text = (f"Themes of the last {args or '7d'} ({report.messages} messages):\n" + "\n".join(lines)) if lines else \
        f"No recurring theme in the last {args or '7d'} ({report.messages} messages)."
    return CommandReply.section(text)


@COMMANDS.command("digest", "digest now: build this week's digest and post it to the digest channel")
def _digest(app, args: str, user: str) -> CommandReply:
    from bot import digest

    if args.strip().lower() != "now":
        return CommandReply(f"Usage: `{COMMANDS.name} digest now`")
    channel = app.config.digest_channel
    if not channel:
        return CommandReply("No digest channel is configured (RESONATE_DIGEST_CHANNEL).")
    data, png = app.digest()
    digest.post(app.slack.client, channel, data, png)
    return CommandReply(f"Posted the digest to <#{channel}>: {data['volume']['messages']} messages, "
                        f"{len(data['themes'])} themes, {len(data['ideas'])} ideas.")


@COMMANDS.command("campaigns", "campaigns [people ID]: campaign ideas and running campaigns, or who one is for")
def _campaigns(app, args: str, user: str) -> CommandReply:
    words = args.split()
    if words and words[0].lower() == "people":
        if len(words) != 2 or not words[1].lstrip("#").isdigit():
            return CommandReply(f"Usage: `{COMMANDS.name} campaigns people ID` (the number `campaigns` shows)")
        return _people(app.campaigns.people(int(words[1].lstrip("#"))))
    rows = app.campaigns.list(("idea", "adopted"))
    if not rows:
        return CommandReply("No campaign ideas yet: try `/resonate themes`.")
    lines = [f"#{c['id']} *{review.mrkdwn_literal(c['card']['title'], 150)}* ({c['state']}"
             + (f", review {c['review_at'][:10]}" if c["review_at"] else "") + ")" for c in rows]
    text = "Campaigns:\n" + "\n".join(lines)
    return CommandReply.section(text)


def _people(data: dict) -> CommandReply:
    """Who a campaign is for, a line each: name, where, and the start of what they wrote (``resonate campaigns
    people ID --out FILE.csv`` has all of it)."""
    from bot.message import plural
    from bot.themes import quote_text
    from nlp.language import name

    c = data["campaign"]
    lines = []
    for p in data["people"]:
        m = p["messages"][-1]
        language = f", {name(p['language'])}" if p["language"] not in (None, "en") else ""
        answered = "" if m["answered_at"] else ", not answered"
        lines.append(f"• *{review.mrkdwn_literal(p['name'], 80)}* ({p['source']}{language}{answered}): "
                     f"“{review.mrkdwn_literal(quote_text(m['text'], 100), 120)}”")
    gone = f" ({data['opted_out_since']} opted out since, left out)" if data["opted_out_since"] else ""
    text = (f"#{c['id']} *{review.mrkdwn_literal(c['title'], 150)}*: {plural(len(lines), 'person', 'people')} to "
            f"write to{gone}\n" + "\n".join(lines))
    return CommandReply.section(text)
