"""Up to three ranked, personalised reply suggestions for an analysed message.

Replies come from the playbook of the recognised intent (and, when the
classifier hesitates, from the runner-up's). A reply is offered only when its
conditions hold (``Reply.matches``) and every variable it uses has a value
(``Reply.missing``), so a literal ``{order_id}`` never reaches a customer. An
``unknown`` intent gets the clarifying replies of the ``unknown`` playbook, not a
guess, unless the message says the words of one of the best guess's replies
for a ``situation`` ("the battery dies overnight": the known issue's reply),
which then comes first. Each suggestion says why it was chosen.

A follow-up ("any update on this?", a playbook with ``follows_up: true``) is drafted with the message it chases
(``earlier``): that message's order number or product fill what the follow-up does not say, ``{earlier_day}`` says
when it was sent (``{replied_day}``: when we last answered it, if we did), and after the follow-up's best reply
come the replies to the earlier message itself, so one click can both apologise for the wait and answer what was
asked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

from bot.message import parse_time
from bot.playbooks import UNKNOWN_INTENT, Playbook, PlaybookSet, Reply, ReplyContext, said
from nlp.closings import body
from nlp.language import name as language_name

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
    answers: int | None = None  # drafted for this earlier message, which the follow-up chases


class Suggester:
    def __init__(self, playbooks: PlaybookSet, limit: int = 3, runner_up_min: float = 0.15):
        self.playbooks = playbooks
        self.limit = limit
        self.runner_up_min = runner_up_min

    def suggest(self, analysis, ctx: ReplyContext, earlier: Mapping[str, Any] | None = None) -> list[Suggestion]:
        """Suggestions for an :class:`nlp.analyzer.Analysis` in a context (contact, source, entity values).

        ``earlier``: the message a follow-up chases (:meth:`bot.store.Store.followed_up`), used when the intent's
        playbook says ``follows_up: true``."""
        values = {**analysis.variables(), **{k: v for k, v in ctx.values.items() if v}}
        written = _places_as_written(analysis.entities, values)
        pb = self.playbooks.get(analysis.intent) if analysis.intent != UNKNOWN_INTENT else None
        chased = earlier if pb is not None and pb.follows_up else None
        days: dict[str, str] = {}  # a follow-up's days: when the chased message was sent, when we last replied to it
        if chased:
            days = {"earlier_day": chased["sent_at"], "replied_day": chased.get("replied_at") or ""}
            values = {**{e["label"].lower(): e["value"] for e in reversed(chased.get("entities") or [])},
                      **{k: earlier_day(at, ctx.sent_at) if at else "" for k, at in days.items()}, **values}
        # what they wrote, not the earlier mails their reply quotes; what they said before counts too: "you received
        # the return on Sep 30" is not asked whether it was sent back
        text = f"{body(chased['text'])}\n{body(ctx.text)}" if chased else body(ctx.text)
        ctx = replace(ctx, sentiment=analysis.sentiment, values=values, text=text)
        # (playbook, reply, why, the earlier message it answers when that is not this one)
        candidates: list[tuple[Playbook, Reply, str, int | None]] = []
        if analysis.intent == UNKNOWN_INTENT:
            unknown = self.playbooks.get(UNKNOWN_INTENT)
            best = analysis.prediction.best_intent
            why = (f"no intent is likely enough (best guess {best} at {analysis.confidence:.2f}); "
                   "asks what the customer needs")
            guess = self.playbooks.get(best) if best and best != UNKNOWN_INTENT else None
            if guess:  # what the message says may be enough for one of the best guess's replies
                candidates += [(guess, r, f"no intent is likely enough (best guess {best} at "
                                f"{analysis.confidence:.2f}), but its words are enough for this reply", None)
                               for r in self._ordered(guess, ctx) if r.situation][:1]
            if unknown:
                candidates += [(unknown, r, why, None) for r in self._ordered(unknown, ctx)]
        else:
            nearest = analysis.prediction.nearest_example
            why = f"intent {analysis.intent} ({analysis.confidence:.2f})"
            if nearest:
                why += f", like the example “{_short(nearest)}”"
            if pb:
                own = [(pb, r, why, None) for r in self._ordered(pb, ctx)]
                candidates += own[:1] + (self._answers(chased, ctx) if chased else []) + own[1:]
            for other, p in analysis.prediction.ranking[1:2]:
                runner = self.playbooks.get(other)
                if runner and p >= self.runner_up_min and other != analysis.intent:
                    candidates += [(runner, r, f"also possible: intent {other} ({p:.2f})", None)
                                   for r in self._ordered(runner, ctx)[:1]]
        out: list[Suggestion] = []
        seen_texts: set[str] = set()
        for pb, reply, why, answers in candidates:
            values = _in_its_language(reply, ctx.values, days, ctx.sent_at, written)
            text = reply.render(values)
            if text in seen_texts:
                continue
            seen_texts.add(text)
            reason = why + _condition_note(reply, ctx, values)
            out.append(Suggestion(len(out) + 1, pb.intent, reply.id, text, reason, pb.auto_reply, answers))
            if len(out) == self.limit:
                break
        if not out:
            out.append(Suggestion(1, UNKNOWN_INTENT, "built_in_clarify", DEFAULT_CLARIFY,
                                  "no playbook reply fits this message; asks what the customer needs"))
        return out

    def _answers(self, chased: Mapping[str, Any], ctx: ReplyContext) -> list[tuple[Playbook, Reply, str, int]]:
        """The best two replies to the message a follow-up chases, for its intent."""
        pb = self.playbooks.get(chased["intent"]) if chased["intent"] != UNKNOWN_INTENT else None
        if pb is None or pb.follows_up:
            return []
        why = (f"answers the message it follows up ({ctx.values['earlier_day']}: “{_short(chased['text'])}”, "
               f"intent {chased['intent']})")
        return [(pb, r, why, chased["id"]) for r in self._ordered(pb, ctx)[:2]]

    def _ordered(self, pb: Playbook, ctx: ReplyContext) -> list[Reply]:
        """Replies that apply and can be filled; those in the message's language first, then the most specific,
        then file order.

        A reply written for the message's language (the ``language`` condition) ranks above every other: a German
        customer is answered in German before anything else fits better, and the English reply it translates
        (``with_name`` for ``with_name_de``) is not offered beside it. Then a reply that uses what the customer told
        us (an order id, a product) ranks above one that fits only the mood, which ranks above a generic one.
        """
        usable = [r for r in pb.replies if r.matches(ctx) and not r.missing(ctx.values)]
        translated = {r.id.removesuffix(f"_{code}") for r in usable for code in r.when.get("language", ())}
        return sorted((r for r in usable if "language" in r.when or r.id not in translated),
                      key=lambda r: ("language" not in r.when, -_specificity(r)))


def earlier_day(earlier_at: str, at: str | None, language: str | None = None) -> str:
    """When an earlier message was sent (UTC days). In English as "your message from ..." ends: "earlier today",
    "yesterday", "Monday" (within the week before ``at``), else "2 October". In a language of ``DAYS_IN`` as a
    sentence of it says when something was sent ("die du uns gestern geschickt hast", "am Montag", "el 2 de
    octubre"); in any other language as in English."""
    then = parse_time(earlier_at)
    days = (parse_time(at).date() - then.date()).days if at else 7
    today, yesterday, weekdays, months, on_date = DAYS_IN.get(language or "", _ENGLISH)
    if days <= 0:
        return today
    if days == 1:
        return yesterday
    if days < 7:
        return weekdays.split(",")[then.weekday()]
    return on_date(then.day, months.split()[then.month - 1])


_IT_ARTICLE = {1: "il 1º", 8: "l'8", 11: "l'11"}
_ENGLISH = ("earlier today", "yesterday", "Monday,Tuesday,Wednesday,Thursday,Friday,Saturday,Sunday",
            "January February March April May June July August September October November December",
            lambda day, month: f"{day} {month}")
# today, yesterday, on each weekday (Monday first), the months, on a date: as a sentence says when something was sent
DAYS_IN: dict[str, tuple[str, str, str, str, Callable[[int, str], str]]] = {
    "de": ("heute", "gestern", "am Montag,am Dienstag,am Mittwoch,am Donnerstag,am Freitag,am Samstag,am Sonntag",
           "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
           lambda day, month: f"am {day}. {month}"),
    "es": ("hoy", "ayer", "el lunes,el martes,el miércoles,el jueves,el viernes,el sábado,el domingo",
           "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
           lambda day, month: f"el {day} de {month}"),
    "fr": ("aujourd'hui", "hier", "lundi,mardi,mercredi,jeudi,vendredi,samedi,dimanche",
           "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
           lambda day, month: f"le {'1er' if day == 1 else day} {month}"),
    "pt": ("hoje", "ontem", "na segunda-feira,na terça-feira,na quarta-feira,na quinta-feira,na sexta-feira,no sábado,"
           "no domingo", "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
           lambda day, month: f"no dia {day} de {month}"),
    "it": ("oggi", "ieri", "lunedì,martedì,mercoledì,giovedì,venerdì,sabato,domenica",
           "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
           lambda day, month: f"{_IT_ARTICLE.get(day, f'il {day}')} {month}"),
    "nl": ("vandaag", "gisteren", "maandag,dinsdag,woensdag,donderdag,vrijdag,zaterdag,zondag",
           "januari februari maart april mei juni juli augustus september oktober november december",
           lambda day, month: f"op {day} {month}"),
}


def _in_its_language(reply: Reply, values: dict[str, str], days: dict[str, str], at: str | None,
                     written: dict[str, str]) -> dict[str, str]:
    """``values`` as a reply written for one language (its ``language`` condition) says them: a follow-up's days
    (``days``: their times) in that language ("gestern", not "yesterday"), and the place as the customer wrote it
    (``written``: "Lisboa", not the brand's "Lisbon")."""
    languages = reply.when.get("language", ())
    if len(languages) != 1:
        return values
    values = {**values, **written}
    if languages[0] not in DAYS_IN:
        return values
    return {**values, **{k: earlier_day(when, at, languages[0]) for k, when in days.items() if when and values.get(k)}}


def _places_as_written(entities, values: dict[str, str]) -> dict[str, str]:
    """``{"place": ...}`` as the message writes the place that fills ``{place}``, when it writes another name for it
    ("Lisboa", "lissabon": "Lissabon"); empty when it writes the brand's name or the place came from elsewhere."""
    for e in entities:
        if e.variable == "place" and values.get("place") == e.value and e.text.lower() != e.value.lower():
            return {"place": e.text[:1].upper() + e.text[1:] if e.text.islower() else e.text}
    return {}


def _specificity(reply: Reply) -> int:
    entity_vars = [v for v in reply.variables if v not in ("first_name", "name")]
    conditions = len([k for k in reply.when if k not in ("missing", "not_says")])  # those only rule a reply out
    return 3 * len(entity_vars) + 2 * conditions + (len(reply.variables) - len(entity_vars))


def _condition_note(reply: Reply, ctx: ReplyContext, values: dict[str, str]) -> str:
    """Why ``reply`` fits: its conditions, and the ``values`` it uses as it uses them ("am Freitag")."""
    notes = []
    if "sentiment" in reply.when:
        notes.append(f"written for {ctx.sentiment} messages")
    if "source" in reply.when:
        notes.append(f"for {ctx.source}")
    if "missing" in reply.when:
        notes.append("asks for " + ", ".join(reply.when["missing"]))
    if "tags" in reply.when:
        notes.append("for contacts tagged " + ", ".join(reply.when["tags"]))
    if "language" in reply.when:
        notes.append(f"for a message in {language_name(ctx.reply_language)}")
    if "says" in reply.when:
        notes.append(f"for a message that says “{said(ctx.text, reply.when['says'])}”")
    entity_vars = [v for v in reply.variables if v not in ("first_name", "name")]
    if entity_vars:
        notes.append("uses " + ", ".join(f"{v} {values[v]}" for v in entity_vars))
    if "first_name" in reply.variables or "name" in reply.variables:
        notes.append("personal greeting")
    return ("; " + "; ".join(notes)) if notes else ""


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
