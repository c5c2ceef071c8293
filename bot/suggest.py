"""Up to three ranked, personalised reply suggestions for an analysed message.

Replies come from the playbook of the recognised intent (and, when the
classifier hesitates, from the runner-up's). A reply is offered only when its
conditions hold (``Reply.matches``) and every variable it uses has a value
(``Reply.missing``), so a literal ``{order_id}`` never reaches a customer. An
``unknown`` intent gets the clarifying replies of the ``unknown`` playbook, not a
guess. Each suggestion says why it was chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.playbooks import UNKNOWN_INTENT, Playbook, PlaybookSet, Reply, ReplyContext

DEFAULT_CLARIFY = (
    "Thanks for your message! I want to make sure I get you the right answer: is this about an order, "
    "a product, your account, or something else?"
)


@dataclass(frozen=True)
class Suggestion:
    rank: int
    intent: str
    reply_id: str
    text: str
    reason: str
    auto_reply: bool = False  # the playbook allows this intent to be answered automatically


class Suggester:
    def __init__(self, playbooks: PlaybookSet, limit: int = 3, runner_up_min: float = 0.15):
        self.playbooks = playbooks
        self.limit = limit
        self.runner_up_min = runner_up_min

    def suggest(self, analysis, ctx: ReplyContext) -> list[Suggestion]:
        """Suggestions for an :class:`nlp.analyzer.Analysis` in a context (contact, source, entity values)."""
        values = {**analysis.variables(), **{k: v for k, v in ctx.values.items() if v}}
        ctx = ReplyContext(analysis.sentiment, ctx.source, ctx.tags, ctx.language, values)
        candidates: list[tuple[Playbook, Reply, str]] = []
        if analysis.intent == UNKNOWN_INTENT:
            unknown = self.playbooks.get(UNKNOWN_INTENT)
            best = analysis.prediction.best_intent
            why = (f"no intent is likely enough (best guess {best} at {analysis.confidence:.2f}); "
                   "asks what the customer needs")
            if unknown:
                candidates += [(unknown, r, why) for r in self._ordered(unknown, ctx)]
        else:
            pb = self.playbooks.get(analysis.intent)
            nearest = analysis.prediction.nearest_example
            why = f"intent {analysis.intent} ({analysis.confidence:.2f})"
            if nearest:
                why += f", like the example “{_short(nearest)}”"
            if pb:
                candidates += [(pb, r, why) for r in self._ordered(pb, ctx)]
            for other, p in analysis.prediction.ranking[1:2]:
                runner = self.playbooks.get(other)
                if runner and p >= self.runner_up_min and other != analysis.intent:
                    candidates += [(runner, r, f"also possible: intent {other} ({p:.2f})")
                                   for r in self._ordered(runner, ctx)[:1]]
        out: list[Suggestion] = []
        seen_texts: set[str] = set()
        for pb, reply, why in candidates:
            text = reply.render(ctx.values)
            if text in seen_texts:
                continue
            seen_texts.add(text)
            reason = why + _condition_note(reply, ctx)
            out.append(Suggestion(len(out) + 1, pb.intent, reply.id, text, reason, pb.auto_reply))
            if len(out) == self.limit:
                break
        if not out:
            out.append(Suggestion(1, UNKNOWN_INTENT, "built_in_clarify", DEFAULT_CLARIFY,
                                  "no playbook reply fits this message; asks what the customer needs"))
        return out

    def _ordered(self, pb: Playbook, ctx: ReplyContext) -> list[Reply]:
        """Replies that apply and can be filled; the most specific first, then file order.

        A reply that uses what the customer told us (an order id, a product) ranks above one that fits only
        the mood, which ranks above a generic one.
        """
        usable = [r for r in pb.replies if r.matches(ctx) and not r.missing(ctx.values)]
        return sorted(usable, key=lambda r: -_specificity(r))


def _specificity(reply: Reply) -> int:
    entity_vars = [v for v in reply.variables if v not in ("first_name", "name")]
    conditions = len([k for k in reply.when if k != "missing"])
    return 3 * len(entity_vars) + 2 * conditions + (len(reply.variables) - len(entity_vars))


def _condition_note(reply: Reply, ctx: ReplyContext) -> str:
    notes = []
    if "sentiment" in reply.when:
        notes.append(f"written for {ctx.sentiment} messages")
    if "source" in reply.when:
        notes.append(f"for {ctx.source}")
    if "missing" in reply.when:
        notes.append("asks for " + ", ".join(reply.when["missing"]))
    if "tags" in reply.when:
        notes.append("for contacts tagged " + ", ".join(reply.when["tags"]))
    entity_vars = [v for v in reply.variables if v not in ("first_name", "name")]
    if entity_vars:
        notes.append("uses " + ", ".join(f"{v} {ctx.values[v]}" for v in entity_vars))
    if "first_name" in reply.variables or "name" in reply.variables:
        notes.append("personal greeting")
    return ("; " + "; ".join(notes)) if notes else ""


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
