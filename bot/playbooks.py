"""Playbooks: the YAML files a team edits to teach Resonate an intent and its replies.

A folder holds one file per intent (``*.yml``/``*.yaml``) plus two reserved
files: ``brand.yml`` (constants every reply may use, product names for the entity
recogniser) and ``campaigns.yml`` (campaign rules, read elsewhere). The file
format is documented in README.md ("Playbook format"). Loading checks every file
and reports each problem with its file, line and what is wrong.
"""

from __future__ import annotations

import functools
import hashlib
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from bot.errors import PlaybookError, PlaybookErrors

RESERVED_FILES = {"brand.yml", "brand.yaml", "campaigns.yml", "campaigns.yaml"}
UNKNOWN_INTENT = "unknown"
CONTACT_VARIABLES = ("first_name", "name")
ENTITY_VARIABLES = ("order_id", "product", "place", "email", "phone", "url", "money", "date")
# Filled from the conversation of a follow-up: the day of the earlier message it chases ("yesterday", "Monday",
# "2 October"; in a reply for one of bot.suggest.DAYS_IN's languages, as it says it: "am Montag"), and of our last
# reply to that message, when there was one
CONVERSATION_VARIABLES = ("earlier_day", "replied_day")
FILLED_VARIABLES = CONTACT_VARIABLES + ENTITY_VARIABLES + CONVERSATION_VARIABLES  # filled per message, not constants
SENTIMENTS = ("negative", "neutral", "positive")
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
CONDITIONS = ("sentiment", "source", "tags", "language", "missing", "says", "not_says")
# true-or-false keys, with their defaults
FLAGS = {"auto_reply": False, "questions": True, "opts_out": False, "follows_up": False}
PLAYBOOK_KEYS = {"intent", "description", *FLAGS, "card_note", "constants", "examples", "examples_in", "replies"}
MAX_NOTE_CHARS = 500
REPLY_KEYS = {"id", "text", "when", "situation"}
MIN_EXAMPLES = 3
MIN_REPLIES = 2
MAX_REPLY_CHARS = 2000


def default_playbooks_dir() -> Path:
    """The shipped playbooks (installed as the ``playbooks`` package)."""
    import playbooks

    return Path(playbooks.__file__).resolve().parent


@dataclass(frozen=True)
class ReplyContext:
    """What a reply's conditions and variables are checked against."""

    sentiment: str = "neutral"
    source: str = "import"
    tags: frozenset[str] = frozenset()
    language: str | None = None  # what the source says (a Telegram user's app language); see ``reply_language``
    values: dict[str, str] = field(default_factory=dict)
    sent_at: str | None = None  # when the message was sent (ISO 8601): a follow-up's ``{earlier_day}`` counts from it
    text: str = ""  # the message, for ``says`` and ``not_says`` (the suggester reads its body and a chased one's)

    @functools.cached_property
    def reply_language(self) -> str:
        """The language a reply should be in: the message's own words tell, else the source's ``language``, else
        English. Worked out only when a reply's ``language`` condition asks (a few µs a message)."""
        from nlp.language import language_of

        return language_of(self.text, self.language) or "en"


@dataclass(frozen=True)
class Reply:
    id: str
    text: str
    when: dict[str, tuple[str, ...]]
    variables: tuple[str, ...]
    path: str = ""
    line: int = 0
    # the situation this reply answers, which what the message says (``says``) names on its own ("known battery
    # drain"): the reply is offered first also to a message whose intent is unsure, and the messages answered with it,
    # in any language, are one thread in the themes
    situation: str = ""

    def matches(self, ctx: ReplyContext) -> bool:
        """Do the conditions hold for this context? (Variables are checked by :meth:`missing`.)"""
        for key, allowed in self.when.items():
            if key == "sentiment" and ctx.sentiment not in allowed:
                return False
            if key == "source" and ctx.source not in allowed:
                return False
            if key == "tags" and not set(allowed) <= set(ctx.tags):
                return False
            if key == "language" and ctx.reply_language not in allowed:
                return False
            if key == "missing" and any(str(ctx.values.get(v) or "").strip() for v in allowed):
                return False  # a reply that asks for the order number is not for a message that gave one
            if key == "says" and not said(ctx.text, allowed):
                return False
            if key == "not_says" and said(ctx.text, allowed):
                return False  # a reply that asks whether the item was sent back is not for one who said so
        return True

    def missing(self, values: dict[str, str]) -> list[str]:
        return [v for v in self.variables if not str(values.get(v) or "").strip()]

    def render(self, values: dict[str, str]) -> str:
        """Fill the variables; raises KeyError if one has no value (check :meth:`missing` first)."""
        missing = self.missing(values)
        if missing:
            raise KeyError(", ".join(missing))
        return self.text.format_map({k: str(values[k]).strip() for k in self.variables})


@dataclass(frozen=True)
class Playbook:
    intent: str
    description: str
    examples: tuple[str, ...]
    replies: tuple[Reply, ...]
    constants: dict[str, str]
    auto_reply: bool = False
    path: str = ""
    questions: bool = True  # false: a message that mostly asks questions is not this intent (its replies thank)
    opts_out: bool = False  # true: a reply sent for this intent opts the person out of outreach (unsubscribe)
    follows_up: bool = False  # true: the message chases an earlier one, whose replies are drafted too (follow_up)
    card_note: str = ""  # shown on the review card of its messages; {message_id} is filled in
    examples_in: dict[str, tuple[str, ...]] = field(default_factory=dict)  # language code -> examples in it


@dataclass
class PlaybookSet:
    playbooks: dict[str, Playbook]
    constants: dict[str, str]
    products: tuple[str, ...]
    directory: Path | None = None
    brand: str = ""
    aliases: dict[str, str] = field(default_factory=dict)  # what customers also call a product: "grinder" -> name
    places: tuple[str, ...] = ()  # the brand's cities, stores, venues ({place})
    place_aliases: dict[str, str] = field(default_factory=dict)  # "lisboa" -> "Lisbon"

    @property
    def intents(self) -> list[str]:
        return sorted(i for i in self.playbooks if i != UNKNOWN_INTENT)

    def get(self, intent: str) -> Playbook | None:
        return self.playbooks.get(intent)

    def not_for_questions(self) -> frozenset[str]:
        """The intents whose playbook says ``questions: false``."""
        return frozenset(i for i in self.intents if not self.playbooks[i].questions)

    def opt_out_intents(self) -> frozenset[str]:
        """The intents whose playbook says ``opts_out: true``: their replies promise to leave the person alone."""
        return frozenset(i for i in self.intents if self.playbooks[i].opts_out)

    def follow_up_intents(self) -> frozenset[str]:
        """The intents whose playbook says ``follows_up: true``: their messages chase an earlier message."""
        return frozenset(i for i in self.intents if self.playbooks[i].follows_up)

    def card_note(self, intent: str | None, message_id: int) -> str:
        """The note a playbook asks the review card of a message of ``intent`` to show ("" for none)."""
        pb = self.playbooks.get(intent or "")
        return pb.card_note.format(message_id=message_id) if pb and pb.card_note else ""

    def training_examples(self) -> tuple[list[str], list[str]]:
        texts, labels = [], []
        for intent in self.intents:
            for example in self.playbooks[intent].examples:
                texts.append(example)
                labels.append(intent)
        return texts, labels

    def situations(self) -> dict[tuple[str, str], str]:
        """The situation each reply that names one answers, by (intent, reply id)."""
        return {(intent, r.id): r.situation for intent in self.intents for r in self.playbooks[intent].replies
                if r.situation}

    def examples_in(self) -> tuple[list[str], list[str], frozenset[str]]:
        """The examples written in other languages (``examples_in``), their intents, and those languages."""
        texts, labels, languages = [], [], set()
        for intent in self.intents:
            for language, examples in sorted(self.playbooks[intent].examples_in.items()):
                languages.add(language)
                texts.extend(examples)
                labels.extend([intent] * len(examples))
        return texts, labels, frozenset(languages)

    def fingerprint(self) -> str:
        texts, labels = self.training_examples()
        h = hashlib.sha256()
        for t, l in zip(texts, labels):
            h.update(f"{l}\t{t}\n".encode())
        return h.hexdigest()[:16]


# -- loading ----------------------------------------------------------------------------------------------------


def load_playbooks(directory: str | Path | None = None) -> PlaybookSet:
    """Load and validate a folder; raises :class:`PlaybookErrors` listing every problem found."""
    directory = Path(directory) if directory else default_playbooks_dir()
    playbook_set, errors = check_playbooks(directory)
    if errors:
        raise PlaybookErrors(errors)
    return playbook_set


def check_playbooks(directory: str | Path) -> tuple[PlaybookSet | None, list[PlaybookError]]:
    """Validate a folder, collecting every problem instead of stopping at the first."""
    directory = Path(directory)
    errors: list[PlaybookError] = []
    if not directory.is_dir():
        return None, [PlaybookError(str(directory), None, "playbooks folder not found")]
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())
    brand_constants: dict[str, str] = {}
    products: tuple[str, ...] = ()
    aliases: dict[str, str] = {}
    places: tuple[str, ...] = ()
    place_aliases: dict[str, str] = {}
    brand_name = ""
    brand_file = next((p for p in files if p.name in ("brand.yml", "brand.yaml")), None)
    brand_read = True
    if brand_file is not None:
        try:
            brand_name, brand_constants, (products, aliases), (places, place_aliases) = _load_brand(brand_file,
                                                                                                    errors)
        except PlaybookError as exc:
            errors.append(exc)
            # Its constants are unknown, so every reply that uses one would be reported too, burying this error.
            brand_read = False
    playbooks: dict[str, Playbook] = {}
    for path in files:
        if path.name in RESERVED_FILES:
            continue
        try:
            pb = _load_playbook(path, brand_constants, check_variables=brand_read)
        except PlaybookErrors as exc:
            errors.extend(exc.errors)
            continue
        except PlaybookError as exc:
            errors.append(exc)
            continue
        if pb.intent in playbooks:
            errors.append(PlaybookError(str(path), 1, f"intent {pb.intent!r} is already defined in "
                                                         f"{playbooks[pb.intent].path}"))
            continue
        playbooks[pb.intent] = pb
    if not errors and not [i for i in playbooks if i != UNKNOWN_INTENT]:
        errors.append(PlaybookError(str(directory), None, "no playbook files (*.yml) found"))
    if not errors and len([i for i in playbooks if i != UNKNOWN_INTENT]) < 2:
        errors.append(PlaybookError(str(directory), None, "at least two intents are needed to classify messages"))
    return PlaybookSet(playbooks, brand_constants, products, directory, brand_name, aliases, places,
                       place_aliases), errors


# libyaml's parser when PyYAML was built with it: the same safe loading, about ten times faster (start-up).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_UNDEFINED_ALIAS = re.compile(r"\*([^\s,\]}]+)")


def _read_yaml(path: Path) -> tuple[Any, Any]:
    """Return (data, node) of a YAML file; syntax errors name the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaybookError(str(path), None, f"cannot read file: {exc}") from exc
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context
        alias = _UNDEFINED_ALIAS.match(text.splitlines()[mark.line][mark.column:]) if (
            mark and problem == "found undefined alias") else None  # libyaml does not say which
        if alias:
            problem += f" *{alias[1]}: no list above it in this file is named &{alias[1]}"
        raise PlaybookError(str(path), line, f"invalid YAML: {problem}") from exc
    except yaml.YAMLError as exc:
        raise PlaybookError(str(path), None, f"invalid YAML: {exc}") from exc
    return data, node


def _line(node: Any, *path: Any) -> int:
    """1-based line of the value at ``path`` (keys and list indexes) in a composed YAML node."""
    current = node
    for key in path:
        if isinstance(current, yaml.MappingNode):
            for k, v in current.value:
                if k.value == key:
                    current = v
                    break
            else:
                break
        elif isinstance(current, yaml.SequenceNode) and isinstance(key, int) and key < len(current.value):
            current = current.value[key]
        else:
            break
    return current.start_mark.line + 1 if current is not None else 1


Names = tuple[tuple[str, ...], dict[str, str]]  # names, and what else they are called (lower-case -> name)
BRAND_KEYS = ("brand", "constants", "products", "places")


def _load_brand(path: Path, errors: list[PlaybookError]) -> tuple[str, dict[str, str], Names, Names]:
    """Raises when the file or its constants cannot be read; a broken product or place entry is added to
    ``errors`` and left out, the rest of the file still counts."""
    data, node = _read_yaml(path)
    if not isinstance(data, dict):
        raise PlaybookError(str(path), 1, f"brand file must be a mapping with {', '.join(map(repr, BRAND_KEYS))}")
    unknown = set(data) - set(BRAND_KEYS)
    if unknown:
        key = sorted(unknown)[0]
        raise PlaybookError(str(path), _line(node, key), f"unknown key {key!r} (allowed: {', '.join(BRAND_KEYS)})")
    constants = _constants(data.get("constants"), path, node, ("constants",))
    products = _names(data.get("products") or [], path, node, errors, "products", "Fern Grinder: [grinder]")
    places = _names(data.get("places") or [], path, node, errors, "places", "Lisbon: [Lisboa]")
    brand = data.get("brand") or constants.get("brand", "")
    if brand and "brand" not in constants:
        constants["brand"] = str(brand)
    return str(brand), constants, products, places


def _names(value: Any, path: Path, node: Any, errors: list[PlaybookError], key: str, example: str) -> Names:
    """Product (or place) names, and what customers also call them: ``- Fern Grinder: [grinder]`` finds "my
    grinder" as the Fern Grinder (so a reply can say "Sorry your Fern Grinder is acting up"). A broken entry is
    added to ``errors`` and left out."""
    kind = key.rstrip("s")
    if not isinstance(value, list):
        errors.append(PlaybookError(str(path), _line(node, key), f"'{key}' must be a list of {kind} names"))
        return (), {}
    names, aliases = [], {}
    for i, item in enumerate(value):
        where = str(path), _line(node, key, i)
        name, also = next(iter(item.items())) if isinstance(item, dict) and len(item) == 1 else (item, [])
        if not isinstance(name, str) or not name.strip():
            errors.append(PlaybookError(*where, f"{kind} {i + 1} must be a name, or a name with what it is also "
                                                f"called ('- {example}')"))
            continue
        if not isinstance(also, list) or not all(isinstance(a, str) and a.strip() for a in also):
            errors.append(PlaybookError(*where, f"{kind} {name!r}: what it is also called must be a list of names, "
                                                f"e.g. '- {example}'"))
            continue
        names.append(name.strip())
        for alias in also:
            other = aliases.setdefault(alias.strip().lower(), name.strip())
            if other != name.strip():
                errors.append(PlaybookError(*where, f"{alias.strip()!r} is given for both {other!r} and "
                                                    f"{name.strip()!r}"))
    return tuple(names), aliases


def _constants(value: Any, path: Path, node: Any, where: tuple) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PlaybookError(str(path), _line(node, *where), "'constants' must be a mapping of name: text")
    out = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k.isidentifier():
            raise PlaybookError(str(path), _line(node, *where, k), f"constant name {k!r} must be a plain identifier")
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            raise PlaybookError(str(path), _line(node, *where, k), f"constant {k!r} must be text or a number")
        out[k] = str(v)
    return out


def _load_playbook(path: Path, brand_constants: dict[str, str], check_variables: bool = True) -> Playbook:
    """``check_variables=False``: the brand's constants could not be read, so unknown variables are not reported."""
    data, node = _read_yaml(path)
    p = str(path)
    if not isinstance(data, dict):
        raise PlaybookError(p, 1, "a playbook must be a mapping with intent, description, examples, replies")
    errors: list[PlaybookError] = []
    for key in sorted(set(data) - PLAYBOOK_KEYS):
        errors.append(PlaybookError(p, _line(node, key), f"unknown key {key!r} (allowed: {', '.join(sorted(PLAYBOOK_KEYS))})"))
    intent = data.get("intent")
    if not isinstance(intent, str) or not intent.strip():
        errors.append(PlaybookError(p, _line(node, "intent") if "intent" in data else 1, "'intent' is required (a name such as order_status)"))
        intent = ""
    elif not intent.replace("_", "").isalnum() or intent != intent.lower():
        errors.append(PlaybookError(p, _line(node, "intent"), f"intent {intent!r} must be lower_snake_case"))
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        errors.append(PlaybookError(p, _line(node, "description") if "description" in data else 1, "'description' is required"))
    flags = {key: data.get(key, default) for key, default in FLAGS.items()}
    for key, value in flags.items():
        if not isinstance(value, bool):
            errors.append(PlaybookError(p, _line(node, key), f"'{key}' must be true or false"))
    card_note, note_line = data.get("card_note", ""), _line(node, "card_note")
    if not isinstance(card_note, str) or len(card_note) > MAX_NOTE_CHARS:
        errors.append(PlaybookError(p, note_line, f"'card_note' must be text of at most {MAX_NOTE_CHARS} characters"))
        card_note = ""
    else:
        try:
            unknown = [v for v in _variables(card_note) if v != "message_id"]
        except ValueError as exc:
            unknown = []
            errors.append(PlaybookError(p, note_line, f"card_note: {exc}"))
        if unknown:
            errors.append(PlaybookError(p, note_line, f"card_note: unknown variable {{{unknown[0]}}} (known: "
                                                      "message_id)"))
    try:
        constants = {**brand_constants, **_constants(data.get("constants"), path, node, ("constants",))}
    except PlaybookError as exc:
        errors.append(exc)
        constants = dict(brand_constants)
    examples = data.get("examples", None)
    minimum = 0 if intent == UNKNOWN_INTENT else MIN_EXAMPLES
    if examples is None:
        examples = []
        if minimum:
            errors.append(PlaybookError(p, 1, f"'examples' is required: at least {minimum} example messages"))
    elif not isinstance(examples, list):
        errors.append(PlaybookError(p, _line(node, "examples"), "'examples' must be a list of example messages"))
        examples = []
    else:
        for i, ex in enumerate(examples):
            if not isinstance(ex, str) or not ex.strip():
                errors.append(PlaybookError(p, _line(node, "examples", i), f"example {i + 1} must be non-empty text"))
        examples = [ex.strip() for ex in examples if isinstance(ex, str) and ex.strip()]
        if len(examples) < minimum:
            errors.append(PlaybookError(p, _line(node, "examples"), f"{len(examples)} examples; at least {minimum} are needed to learn an intent"))
    examples_in = _examples_in(data.get("examples_in", {}), p, node, errors)
    replies = _load_replies(data.get("replies"), path, node, constants, errors, check_variables)
    if errors:
        raise PlaybookErrors(errors) if len(errors) > 1 else errors[0]
    return Playbook(intent, description.strip(), tuple(examples), tuple(replies), constants, flags["auto_reply"], p,
                    flags["questions"], flags["opts_out"], flags["follows_up"], card_note.strip(), examples_in)


def _examples_in(value: Any, p: str, node: Any, errors: list[PlaybookError]) -> dict[str, tuple[str, ...]]:
    """``examples_in: {de: [...], es: [...]}``: example messages by the language they are written in."""
    if not isinstance(value, dict):
        errors.append(PlaybookError(p, _line(node, "examples_in"), "'examples_in' must map a language code (de, es, "
                                                                   "...) to a list of example messages"))
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for language, examples in value.items():
        line = _line(node, "examples_in", language)
        if not isinstance(language, str) or not LANGUAGE_CODE.fullmatch(language):
            errors.append(PlaybookError(p, line, f"examples_in: {language!r} is not a language code such as de or es"))
        elif language == "en":
            errors.append(PlaybookError(p, line, "examples_in: English examples go under 'examples'"))
        elif not isinstance(examples, list) or not examples:
            errors.append(PlaybookError(p, line, f"examples_in: {language} must be a list of example messages"))
        else:
            for i, ex in enumerate(examples):
                if not isinstance(ex, str) or not ex.strip():
                    errors.append(PlaybookError(p, _line(node, "examples_in", language, i),
                                                f"examples_in: {language} example {i + 1} must be non-empty text"))
            out[language] = tuple(ex.strip() for ex in examples if isinstance(ex, str) and ex.strip())
    return out


def _load_replies(value: Any, path: Path, node: Any, constants: dict[str, str],
                  errors: list[PlaybookError], check_variables: bool = True) -> list[Reply]:
    p = str(path)
    if not isinstance(value, list):
        errors.append(PlaybookError(p, _line(node, "replies") if value is not None else 1,
                                    f"'replies' is required: a list of at least {MIN_REPLIES} replies"))
        return []
    if len(value) < MIN_REPLIES:
        errors.append(PlaybookError(p, _line(node, "replies"), f"{len(value)} replies; at least {MIN_REPLIES} variants are needed"))
    allowed_vars = set(FILLED_VARIABLES) | set(constants)
    replies, seen = [], set()
    for i, item in enumerate(value):
        line = _line(node, "replies", i)
        if not isinstance(item, dict):
            errors.append(PlaybookError(p, line, f"reply {i + 1} must be a mapping with id and text"))
            continue
        for key in sorted(set(item) - REPLY_KEYS):
            errors.append(PlaybookError(p, _line(node, "replies", i, key), f"reply {i + 1}: unknown key {key!r} "
                                        f"(allowed: {', '.join(sorted(REPLY_KEYS))})"))
        rid = item.get("id")
        if not isinstance(rid, str) or not rid.strip():
            errors.append(PlaybookError(p, line, f"reply {i + 1}: 'id' is required"))
            continue
        if rid in seen:
            errors.append(PlaybookError(p, _line(node, "replies", i, "id"), f"reply id {rid!r} is used twice"))
        seen.add(rid)
        text = item.get("text")
        text_line = _line(node, "replies", i, "text")
        if not isinstance(text, str) or not text.strip():
            errors.append(PlaybookError(p, text_line if "text" in item else line, f"reply {rid!r}: 'text' is required"))
            continue
        if len(text) > MAX_REPLY_CHARS:
            errors.append(PlaybookError(p, text_line, f"reply {rid!r}: text is {len(text)} characters, at most {MAX_REPLY_CHARS}"))
        try:
            variables = _variables(text)
        except ValueError as exc:
            errors.append(PlaybookError(p, text_line, f"reply {rid!r}: {exc}"))
            continue
        for var in variables if check_variables else ():
            if var not in allowed_vars:
                errors.append(PlaybookError(p, text_line, f"reply {rid!r}: unknown variable {{{var}}} (known: "
                                            f"{', '.join(sorted(allowed_vars))})"))
        when = _conditions(item.get("when"), path, node, i, rid, errors)
        situation = item.get("situation", "")
        if situation != "":
            situation_line = _line(node, "replies", i, "situation")
            if not isinstance(situation, str) or not situation.replace("_", "").isalnum() \
                    or situation != situation.lower():
                errors.append(PlaybookError(p, situation_line, f"reply {rid!r}: situation must be a name in "
                                                               "lower_snake_case, such as battery_drain"))
                situation = ""
            elif "says" not in when:
                errors.append(PlaybookError(p, situation_line, f"reply {rid!r}: situation needs a 'says' condition "
                                                               "(the words that name it)"))
        # Constants are known now: bake them in, leaving only contact and entity variables to fill per message.
        needed = tuple(v for v in variables if v not in constants)
        baked = _bake(text.strip(), constants)
        replies.append(Reply(rid, baked, when, needed, p, line, situation=situation))
    return replies


def _variables(text: str) -> tuple[str, ...]:
    out = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"broken braces in text ({exc}); write {{{{ and }}}} for literal braces") from exc
    for _, field_name, spec, conversion in parsed:
        if field_name is None:
            continue
        if not field_name or not field_name.isidentifier():
            raise ValueError(f"variable {{{field_name}}} must be a plain name such as {{first_name}}")
        if spec or conversion:
            raise ValueError(f"variable {{{field_name}}} must not have a format or conversion")
        if field_name not in out:
            out.append(field_name)
    return tuple(out)


def _bake(text: str, constants: dict[str, str]) -> str:
    """Replace constant variables with their values, keeping other variables (and escaped braces) as fields."""
    out = []
    for literal, field_name, _, _ in string.Formatter().parse(text):
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if field_name is None:
            continue
        if field_name in constants and field_name not in FILLED_VARIABLES:
            out.append(constants[field_name].replace("{", "{{").replace("}", "}}"))
        else:
            out.append("{" + field_name + "}")
    return "".join(out)


def _conditions(value: Any, path: Path, node: Any, i: int, rid: str,
                errors: list[PlaybookError]) -> dict[str, tuple[str, ...]]:
    p = str(path)
    if value is None:
        return {}
    line = _line(node, "replies", i, "when")
    if not isinstance(value, dict):
        errors.append(PlaybookError(p, line, f"reply {rid!r}: 'when' must be a mapping such as {{sentiment: [negative]}}"))
        return {}
    out = {}
    for key, allowed in value.items():
        kline = _line(node, "replies", i, "when", key)
        if key not in CONDITIONS:
            errors.append(PlaybookError(p, kline, f"reply {rid!r}: unknown condition {key!r} (allowed: {', '.join(CONDITIONS)})"))
            continue
        if isinstance(allowed, str):
            allowed = [allowed]
        if key in ("says", "not_says") and isinstance(allowed, list):  # lists joined: [*expired, *code]
            allowed = [w for a in allowed for w in (a if isinstance(a, list) else [a])]
        if not isinstance(allowed, list) or not allowed or not all(isinstance(a, str) and a for a in allowed):
            errors.append(PlaybookError(p, kline, f"reply {rid!r}: condition {key!r} must be a list of values"))
            continue
        if key == "missing":
            bad = [a for a in allowed if a not in FILLED_VARIABLES]
            if bad:
                errors.append(PlaybookError(p, kline, f"reply {rid!r}: missing {bad[0]!r} is not one of "
                                            f"{', '.join(FILLED_VARIABLES)}"))
                continue
        if key in ("says", "not_says") and any(not a.replace("*", "").strip() for a in allowed):
            errors.append(PlaybookError(p, kline, f"reply {rid!r}: {key} needs words or phrases, not only '*'"))
            continue
        if key == "sentiment":
            bad = [a for a in allowed if a not in SENTIMENTS]
            if bad:
                errors.append(PlaybookError(p, kline, f"reply {rid!r}: sentiment {bad[0]!r} is not one of {', '.join(SENTIMENTS)}"))
                continue
        out[key] = tuple(allowed)
    both = [w for w in out.get("says", ()) if w.lower() in {x.lower() for x in out.get("not_says", ())}]
    if both:
        errors.append(PlaybookError(p, line, f"reply {rid!r}: says and not_says both list {both[0]!r}, so it is "
                                             "never offered"))
    return out


def said(text: str, phrases: tuple[str, ...]) -> str:
    """The first place where ``text`` says one of ``phrases``, as written there, or "": whole words, any case,
    curly apostrophes as straight ones, any spacing between a phrase's words; a word ending in ``*`` matches
    every word it begins ("refund*"), and a ``*`` alone any one word ("sent the * back")."""
    match = _phrases(phrases).search(text.replace("\u2019", "'"))  # one character for one: the same places
    return text[match.start():match.end()] if match else ""


# one compiled pattern per word list of the playbooks (the shipped ones have about 150, in seven languages): a cache
# smaller than the lists in use would compile a pattern at every reply checked
@functools.lru_cache(maxsize=2048)
def _phrases(phrases: tuple[str, ...]) -> re.Pattern:
    def pattern(phrase: str) -> str:
        words = phrase.replace("\u2019", "'").split()
        return r"\s+".join(re.escape(w[:-1]) + r"\w*" if w.endswith("*") else re.escape(w) for w in words)

    return re.compile(r"(?<!\w)(?:" + "|".join(pattern(p) for p in phrases) + r")(?!\w)", re.IGNORECASE)


def fillable_contexts(reply: Reply) -> dict[str, str]:
    """Sample values for every variable a reply needs (used by tests and ``playbooks check``)."""
    samples = {"first_name": "Sam", "name": "Sam Doe", "order_id": "FB-12345", "product": "Fern Kettle",
               "email": "sam@example.com", "phone": "+44 20 7946 0000", "url": "https://example.com",
               "money": "€20", "date": "Friday", "place": "Lisbon", "earlier_day": "yesterday",
               "replied_day": "Monday"}
    return {v: samples[v] for v in reply.variables if v in samples}


def iter_replies(playbook_set: PlaybookSet) -> Iterable[tuple[Playbook, Reply]]:
    for pb in playbook_set.playbooks.values():
        for reply in pb.replies:
            yield pb, reply
