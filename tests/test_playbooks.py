import json
import re
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.errors import PlaybookErrors
from bot.playbooks import (FILLED_VARIABLES, UNKNOWN_INTENT, Reply, ReplyContext, check_playbooks,
                           default_playbooks_dir, fillable_contexts, load_playbooks)

REQUIRED_INTENTS = {"greeting", "product_question", "pricing", "order_status", "refund_return", "technical_problem",
                    "account_login", "feature_request", "complaint", "praise", "partnership", "event_question",
                    "unsubscribe", "human_handoff", "privacy_request", "subscription", "billing"}


def test_shipped_set_covers_the_required_intents(shipped):
    assert REQUIRED_INTENTS <= set(shipped.intents)
    assert UNKNOWN_INTENT in shipped.playbooks
    assert shipped.products and "Fern Scale" in shipped.products


@pytest.mark.parametrize("intent", sorted(REQUIRED_INTENTS))
def test_each_shipped_playbook_is_complete(shipped, intent):
    pb = shipped.get(intent)
    assert len(pb.examples) >= 12
    assert len(pb.replies) >= 2
    assert len(set(pb.examples)) == len(pb.examples)
    # whatever the message gives, some reply can be offered: with nothing known, and with everything known
    for values in ({}, {"order_id": "FB-1", "product": "Fern Kettle", "email": "a@example.com", "first_name": "Al",
                        "name": "Al Bo", "money": "€5", "date": "Friday", "phone": "+44 1", "url": "https://x.example"}):
        ctx = ReplyContext(sentiment="neutral", source="import", values=values)
        assert any(r.matches(ctx) and not r.missing(values) for r in pb.replies), (intent, values)


def test_every_shipped_reply_renders_and_invites_an_answer(shipped):
    for pb in shipped.playbooks.values():
        for reply in pb.replies:
            text = reply.render(fillable_contexts(reply))
            assert "{" not in text and "}" not in text, (pb.path, reply.id, text)
            assert "?" in text or pb.intent == "unsubscribe" or "reply" in text.lower(), (pb.path, reply.id)


def test_no_example_is_shared_by_two_intents(shipped):
    seen = {}
    for intent in shipped.intents:
        pb = shipped.get(intent)
        for ex in [*pb.examples, *(e for examples in pb.examples_in.values() for e in examples)]:
            assert ex.lower() not in seen, (ex, intent, seen.get(ex.lower()))
            seen[ex.lower()] = intent


def test_reply_with_missing_variable_is_not_offered(shipped):
    reply = next(r for r in shipped.get("order_status").replies if "order_id" in r.variables)
    assert reply.missing({}) == ["order_id"] or "order_id" in reply.missing({})
    assert not reply.missing(fillable_contexts(reply))
    with pytest.raises(KeyError):
        reply.render({})


def test_conditions_match_sentiment_source_and_tags(shipped):
    for pb in shipped.playbooks.values():
        for reply in pb.replies:
            if "sentiment" in reply.when:
                ok = ReplyContext(sentiment=reply.when["sentiment"][0], source=(reply.when.get("source") or ["slack"])[0],
                                  tags=frozenset(reply.when.get("tags", ())),
                                  text=reply.when.get("says", ("",))[0].replace("*", "x"),  # "refund*": "refundx"
                                  language=(reply.when.get("language") or [None])[0])  # as a Telegram app says
                assert reply.matches(ok)
                bad = [s for s in ("negative", "neutral", "positive") if s not in reply.when["sentiment"]]
                if bad:
                    assert not reply.matches(replace(ok, sentiment=bad[0]))


def write(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


GOOD = """\
    intent: {intent}
    description: Test intent.
    examples:
      - one example
      - another example
      - a third example
    replies:
      - id: a
        text: Hello {{first_name}}, how can I help?
      - id: b
        text: Hello, how can I help?
    """


def good_folder(tmp_path):
    write(tmp_path, "a.yml", GOOD.format(intent="alpha"))
    write(tmp_path, "b.yml", GOOD.format(intent="beta"))
    return tmp_path


def test_a_valid_folder_loads(tmp_path):
    pbs = load_playbooks(good_folder(tmp_path))
    assert pbs.intents == ["alpha", "beta"]
    assert pbs.examples_in() == ([], [], frozenset())


def test_examples_in_other_languages_are_kept_apart_from_the_english_ones(tmp_path):
    good_folder(tmp_path)
    write(tmp_path, "b.yml", GOOD.format(intent="beta").replace("    replies:", """\
    examples_in:
      de: [Wo ist meine Bestellung?, "  Noch nicht da  "]
      es: [¿Dónde está mi pedido?]
    replies:"""))
    pbs = load_playbooks(tmp_path)
    assert pbs.get("beta").examples == ("one example", "another example", "a third example")
    assert pbs.training_examples()[0].count("one example") == 2  # alpha's and beta's English ones only
    assert pbs.examples_in() == (["Wo ist meine Bestellung?", "Noch nicht da", "¿Dónde está mi pedido?"],
                                 ["beta"] * 3, frozenset({"de", "es"}))


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    good_folder(tmp_path)
    write(tmp_path, "broken.yml", """\
        intent: gamma
        description: x
        examples: [a, b
        replies: []
        """)
    _, errors = check_playbooks(tmp_path)
    assert len(errors) == 1
    assert errors[0].path.endswith("broken.yml")
    assert errors[0].line in (3, 4)
    assert "invalid YAML" in errors[0].problem


def test_every_word_list_of_the_shipped_playbooks_keeps_its_compiled_pattern(shipped):
    """`says` and `not_says` lists are compiled once each and kept; with more lists than the cache holds, every reply
    checked would compile its pattern again (the shipped playbooks went from 120 lists to 149 this session, near
    the 256 the cache held)."""
    from bot.playbooks import _phrases

    lists = {r.when[k] for pb in shipped.playbooks.values() for r in pb.replies for k in ("says", "not_says")
             if k in r.when}
    assert 100 < len(lists) <= _phrases.cache_info().maxsize / 4


def test_a_word_list_named_but_not_defined_is_named_in_the_error(tmp_path):
    """The shipped replies share word lists by YAML anchors (`says: &code_de [...]`, `not_says: *code_de`); libyaml
    says only "found undefined alias" when one is missing, so the check names it."""
    good_folder(tmp_path)
    write(tmp_path, "broken.yml", """\
        intent: gamma
        description: x
        examples: [a, b]
        replies:
          - id: one
            when: {not_says: [*code_de, *expired]}
            text: Hello
        """)
    _, errors = check_playbooks(tmp_path)
    assert len(errors) == 1 and errors[0].line == 6
    assert "*code_de: no list above it in this file is named &code_de" in errors[0].problem, errors[0].problem


def test_unknown_variable_names_the_reply_line(tmp_path):
    good_folder(tmp_path)
    write(tmp_path, "c.yml", """\
        intent: gamma
        description: x
        examples: [a, b, c]
        replies:
          - id: ok
            text: Fine?
          - id: bad
            text: Your order {order_number} is on its way?
        """)
    _, errors = check_playbooks(tmp_path)
    assert [(e.line, "order_number" in e.problem) for e in errors] == [(8, True)]
    assert str(errors[0]).startswith(str(tmp_path / "c.yml") + ":8:")


@pytest.mark.parametrize("body, needle, line", [
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nreplies:\n  - id: a\n    text: hi?\n", "at least 2", 5),
    ("intent: g\ndescription: x\nexamples: [a]\nreplies:\n  - {id: a, text: x}\n  - {id: b, text: y}\n", "examples", 3),
    ("intent: g\ndescription: x\ncolour: red\nexamples: [a, b, c]\nreplies:\n  - {id: a, text: x}\n  - {id: b, text: y}\n", "unknown key 'colour'", 3),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nreplies:\n  - {id: a, text: x}\n  - {id: a, text: y}\n", "used twice", 6),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nreplies:\n  - {id: a, text: x, when: {mood: [sad]}}\n  - {id: b, text: y}\n", "unknown condition 'mood'", 5),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nreplies:\n  - {id: a, text: x, when: {sentiment: [angry]}}\n  - {id: b, text: y}\n", "sentiment 'angry'", 5),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nreplies:\n  - {id: a, text: 'x {first_name!r}'}\n  - {id: b, text: y}\n", "format or conversion", 5),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nreplies:\n  - {id: a, text: 'x {'}\n  - {id: b, text: y}\n", "broken braces", 5),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nreplies:\n  - {id: a, text: x, when: {missing: [colour]}}\n  - {id: b, text: y}\n", "missing 'colour'", 5),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nreplies:\n  - {id: a, text: x, when: {says: ['*']}}\n  - {id: b, text: y}\n", "says needs words or phrases", 5),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nreplies:\n  - {id: a, text: x, when: {not_says: [1]}}\n  - {id: b, text: y}\n", "condition 'not_says' must be a list", 5),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nreplies:\n  - id: a\n    text: x\n    when: {says: &s [late], not_says: *s}\n  - {id: b, text: y}\n", "says and not_says both list 'late', so it is never offered", 7),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nreplies:\n  - id: a\n    text: x\n    situation: late_order\n  - {id: b, text: y}\n", "situation needs a 'says' condition", 7),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nreplies:\n  - id: a\n    text: x\n    when: {says: [late]}\n    situation: Late order\n  - {id: b, text: y}\n", "situation must be a name in lower_snake_case", 8),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nreplies:\n  - {id: a, text: x, if: [late]}\n  - {id: b, text: y}\n", "unknown key 'if' (allowed: id, situation, text, when)", 5),
    ("- just\n- a list\n", "must be a mapping", 1),
    ("intent: g\ndescription: x\nquestions: never\nexamples: [a, b, c]\nreplies:\n  - {id: a, text: x}\n  - {id: b, text: y}\n", "'questions' must be true or false", 3),
    ("intent: g\ndescription: x\nfollows_up: sometimes\nexamples: [a, b, c]\nreplies:\n  - {id: a, text: x}\n  - {id: b, text: y}\n", "'follows_up' must be true or false", 3),
    ("intent: g\ndescription: x\ncard_note: [a]\nexamples: [a, b, c]\nreplies:\n  - {id: a, text: x}\n  - {id: b, text: y}\n", "'card_note' must be text", 3),
    ("intent: g\ndescription: x\ncard_note: see {order_id}\nexamples: [a, b, c]\nreplies:\n  - {id: a, text: x}\n  - {id: b, text: y}\n", "card_note: unknown variable {order_id} (known: message_id)", 3),
    ("intent: Bad Name\ndescription: x\nexamples: [a, b, c]\nreplies:\n  - {id: a, text: x}\n  - {id: b, text: y}\n", "lower_snake_case", 1),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nexamples_in: [hallo]\nreplies:\n  - {id: a, text: x}\n  - {id: b, text: y}\n", "'examples_in' must map a language code", 4),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nexamples_in:\n  german: [hallo]\nreplies:\n  - {id: a, text: x}\n  - {id: b, text: y}\n", "'german' is not a language code", 5),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nexamples_in:\n  en: [hello]\nreplies:\n  - {id: a, text: x}\n  - {id: b, text: y}\n", "English examples go under 'examples'", 5),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nexamples_in:\n  de: hallo\nreplies:\n  - {id: a, text: x}\n  - {id: b, text: y}\n", "de must be a list of example messages", 5),
    ("intent: g\ndescription: x\nexamples: [a, b, c]\nexamples_in:\n  de:\n    - hallo\n    - ''\nreplies:\n  - {id: a, text: x}\n  - {id: b, text: y}\n", "de example 2 must be non-empty text", 7),
])
def test_broken_playbooks_say_what_and_where(tmp_path, body, needle, line):
    good_folder(tmp_path)
    (tmp_path / "bad.yml").write_text(body)
    _, errors = check_playbooks(tmp_path)
    assert errors, body
    assert any(needle in e.problem and e.line == line and e.path.endswith("bad.yml") for e in errors), \
        [str(e) for e in errors]


def test_duplicate_intent_is_an_error(tmp_path):
    good_folder(tmp_path)
    write(tmp_path, "c.yml", GOOD.format(intent="alpha"))
    with pytest.raises(PlaybookErrors, match="already defined"):
        load_playbooks(tmp_path)


def test_constants_are_filled_and_other_variables_kept(tmp_path):
    good_folder(tmp_path)
    write(tmp_path, "brand.yml", "brand: Acme\nconstants:\n  help_url: https://acme.example/help\nproducts: [Rocket]\n")
    write(tmp_path, "c.yml", """\
        intent: gamma
        description: x
        constants: {hours: '9-5'}
        examples: [a, b, c]
        replies:
          - id: a
            text: "{brand} help: {help_url} ({hours}). Is {order_id} yours? {{literal}}"
          - id: b
            text: y?
        """)
    pbs = load_playbooks(tmp_path)
    reply = pbs.get("gamma").replies[0]
    assert reply.variables == ("order_id",)
    assert reply.render({"order_id": "AC-1"}) == "Acme help: https://acme.example/help (9-5). Is AC-1 yours? {literal}"
    assert pbs.products == ("Rocket",)


def test_a_product_may_say_what_customers_also_call_it(tmp_path):
    good_folder(tmp_path)
    write(tmp_path, "brand.yml", "brand: Acme\nproducts:\n  - Rocket: [rocket ship, the ship]\n  - Anvil\n")
    pbs = load_playbooks(tmp_path)
    assert pbs.products == ("Rocket", "Anvil") and pbs.aliases == {"rocket ship": "Rocket", "the ship": "Rocket"}


def test_the_brand_may_name_its_places(tmp_path):
    good_folder(tmp_path)
    write(tmp_path, "brand.yml", "brand: Acme\nplaces:\n  - Lisbon: [Lisboa]\n  - Berlin\n")
    pbs = load_playbooks(tmp_path)
    assert pbs.places == ("Lisbon", "Berlin") and pbs.place_aliases == {"lisboa": "Lisbon"}
    write(tmp_path, "brand.yml", "brand: Acme\nplaces:\n  - Lisbon\n  - [a]\n")
    _, errors = check_playbooks(tmp_path)
    assert [(e.problem, e.line) for e in errors] == [("place 2 must be a name, or a name with what it is also called "
                                                      "('- Lisbon: [Lisboa]')", 4)]
    write(tmp_path, "brand.yml", "brand: Acme\nshops: [Lisbon]\n")
    _, errors = check_playbooks(tmp_path)
    assert "unknown key 'shops' (allowed: brand, constants, products, places)" in errors[0].problem


@pytest.mark.parametrize("products, needle, line", [
    ("  - Rocket: ship\n", "must be a list of names", 3),
    ("  - Rocket: [ship]\n  - Anvil: [ship]\n", "'ship' is given for both 'Rocket' and 'Anvil'", 4),
    ("  - Rocket\n  - [a, b]\n", "product 2 must be a name", 4),
])
def test_a_broken_product_list_says_what_and_where(tmp_path, products, needle, line):
    good_folder(tmp_path)
    write(tmp_path, "brand.yml", "brand: Acme\nproducts:\n" + products)
    _, errors = check_playbooks(tmp_path)
    assert [(needle in e.problem, e.line, e.path.endswith("brand.yml")) for e in errors] == [(True, line, True)], \
        [str(e) for e in errors]


@pytest.mark.parametrize("broken, problem", [
    (lambda brand: re.sub(r"- Fern Scale: \[[^]]*\]", "- Fern Scale: scale", brand), "must be a list of names"),
    (lambda brand: "brand: [\n" + brand, "invalid YAML"),  # its constants unknown: not reported once per reply
])
def test_a_broken_brand_file_is_the_one_problem_reported(tmp_path, broken, problem):
    import shutil

    from bot.playbooks import default_playbooks_dir

    folder = shutil.copytree(default_playbooks_dir(), tmp_path / "pb")
    brand = (folder / "brand.yml").read_text()
    assert broken(brand) != brand
    (folder / "brand.yml").write_text(broken(brand))
    _, errors = check_playbooks(folder)
    assert [(problem in e.problem, Path(e.path).name) for e in errors] == [(True, "brand.yml")], \
        [str(e) for e in errors][:3]


def test_playbooks_check_command(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["playbooks", "check", str(good_folder(tmp_path))])
    assert ok.exit_code == 0, ok.output
    assert "2 playbooks OK" in ok.output
    shipped = runner.invoke(cli, ["playbooks", "check"])
    assert shipped.exit_code == 0, shipped.output
    listed = json.loads(runner.invoke(cli, ["playbooks", "check", "--json"]).output)["intents"]
    assert listed["follow_up"]["follows_up"] and listed["unsubscribe"]["opts_out"] and not listed["praise"]["questions"]
    assert "resonate forget" in listed["privacy_request"]["card_note"]
    (tmp_path / "bad.yml").write_text("intent: [\n")
    bad = runner.invoke(cli, ["playbooks", "check", str(tmp_path)])
    assert bad.exit_code == 1
    assert "bad.yml:" in bad.output and "invalid YAML" in bad.output


def test_every_entity_variable_is_used_by_some_shipped_reply(shipped):
    used = {v for pb in shipped.playbooks.values() for r in pb.replies for v in r.variables}
    assert {"first_name", "order_id", "product", "earlier_day"} <= used
    assert used <= set(FILLED_VARIABLES)
    assert set(fillable_contexts(Reply("r", "", {}, FILLED_VARIABLES))) == set(FILLED_VARIABLES)  # check has samples
    assert default_playbooks_dir().name == "playbooks"
    assert all(re.fullmatch(r"[a-z_]+", i) for i in shipped.intents)


@pytest.mark.parametrize("intent", ["privacy_request", "subscription", "account_login", "order_status"])
def test_a_reply_that_asks_for_the_email_is_not_offered_when_the_message_gave_it(shipped, intent):
    ctx = ReplyContext(sentiment="negative", source="telegram", tags=frozenset({"bean_club"}),
                       values={"email": "ivan@example.com", "first_name": "Ivan", "name": "Ivan Horvat"})
    offered = [r for r in shipped.get(intent).replies if r.matches(ctx) and not r.missing(ctx.values)]
    asks = re.compile(r"(send|tell) me (the email|what to change and the email)|the email you signed up")
    assert offered and not any(asks.search(r.render(fillable_contexts(r))) for r in offered)


def test_the_shipped_opt_out_intents_are_the_playbooks_that_say_so(shipped, tmp_path):
    assert shipped.opt_out_intents() == {"unsubscribe", "privacy_request"}
    for name in ("greeting.yml", "praise.yml"):
        (tmp_path / name).write_text((default_playbooks_dir() / name).read_text())
    text = (tmp_path / "praise.yml").read_text()
    (tmp_path / "praise.yml").write_text(text.replace("questions: false", "questions: false\nopts_out: maybe"))
    _, errors = check_playbooks(tmp_path)
    assert any("'opts_out' must be true or false" in e.problem for e in errors), errors
    (tmp_path / "praise.yml").write_text(text.replace("questions: false", "questions: false\nopts_out: true"))
    assert load_playbooks(tmp_path).opt_out_intents() == {"praise"}  # any intent a team marks, by its own name


def test_a_playbook_can_ask_its_cards_for_a_note(shipped, tmp_path):
    """The privacy card's erase hint is the shipped privacy playbook's card_note, not a rule about an intent name:
    a team can write its own for any intent."""
    assert "resonate forget --message 7 --yes" in shipped.card_note("privacy_request", 7)
    assert shipped.card_note("order_status", 7) == "" and shipped.card_note(None, 7) == ""
    import shutil

    shutil.copytree(default_playbooks_dir(), tmp_path / "pb", ignore=shutil.ignore_patterns("__*"))
    path = tmp_path / "pb" / "technical_problem.yml"
    path.write_text(path.read_text().replace("auto_reply: false", "auto_reply: false\ncard_note: Check the warranty "
                                             "sheet first (message {message_id})", 1))
    assert load_playbooks(tmp_path / "pb").card_note("technical_problem", 3) == \
        "Check the warranty sheet first (message 3)"


@pytest.mark.parametrize("text, phrases, found", [
    ("Returned the scale a month ago", ("returned",), "Returned"),  # any case
    ("the refund still isn’t on my statement", ("refund still isn't",), "refund still isn’t"),  # curly apostrophe
    ("I have  sent\nit back", ("sent it back",), "sent\nit back"),  # any spacing between the words
    ("refunds take how long?", ("refund*",), "refunds"),  # a word's beginning
    ("I sent the kettle back", ("sent it back", "sent the * back"), "sent the kettle back"),  # any one word
    ("it was unreturned", ("returned",), ""),  # whole words only
    ("can I return it?", ("returned", "sent back"), ""),
])
def test_says_finds_whole_words_and_phrases(text, phrases, found):
    from bot.playbooks import said

    assert said(text, phrases) == found


def fitting(pb):
    """The ids of ``pb``'s replies whose conditions a message's text meets, as a function of the text."""
    return lambda text: [r.id for r in pb.replies if r.matches(ReplyContext(text=text))]


def test_says_and_not_says_choose_replies_by_what_the_message_says(tmp_path):
    write(tmp_path, "r.yml", """\
        intent: refund
        description: x
        examples: [a, b, c]
        replies:
          - id: waiting
            when: {says: &sent [sent it back, still no refund]}
            text: Sorry the refund is slow. Card or PayPal?
          - id: asking
            when: {not_says: *sent}
            text: Is the item still with you?
        """)
    good_folder(tmp_path)
    fits = fitting(load_playbooks(tmp_path).get("refund"))
    assert fits("I sent it back two weeks ago") == ["waiting"]
    assert fits("Still no refund!!") == ["waiting"]
    assert fits("can I return the kettle?") == ["asking"]


def test_word_lists_can_be_joined_in_says_and_not_says(tmp_path):
    write(tmp_path, "r.yml", """\
        intent: login
        description: x
        examples: [a, b, c]
        replies:
          - id: code
            when: {says: &code [code, sms]}
            text: The code is late?
          - id: expired
            when: {says: &expired [expired]}
            text: Expired?
          - id: link
            when: {says: [never arrives], not_says: [*expired, *code, spam]}
            text: The link is late?
        """)
    good_folder(tmp_path)
    pb = load_playbooks(tmp_path).get("login")
    assert next(r for r in pb.replies if r.id == "link").when["not_says"] == ("expired", "code", "sms", "spam")
    fits = fitting(pb)
    assert fits("the sign-in link never arrives") == ["link"]
    assert fits("the SMS never arrives") == ["code"]
    assert fits("it never arrives, or has expired") == ["expired"]
