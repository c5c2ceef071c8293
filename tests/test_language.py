"""The language a message is written in: told from its words, the source's word when they say too little, and a
playbook's `language` replies offered for it."""

import shutil
from datetime import datetime, timezone

import pytest

from bot import review
from bot.bootstrap import App
from bot.config import Config
from bot.desk import NoBoard, ReviewDesk
from bot.message import Message
from bot.pipeline import context_of
from bot.playbooks import default_playbooks_dir
from bot.suggest import Suggester
from nlp.embeddings import HashingEmbedder
from nlp.entities import Entity
from nlp.language import detect, language_of
from tests.test_suggest import analysis


@pytest.mark.parametrize("text, code", [
    ("Vielen Dank für den tollen Service, der Wasserkocher ist super!", "de"),
    ("Bitte keine Newsletter mehr an lukas.w@example.org. Danke.", "de"),
    ("Hola! ¿El Fern Kettle funciona con enchufe europeo?", "es"),
    ("Bonjour, ma commande n'est toujours pas arrivée, pouvez-vous vérifier ?", "fr"),
    ("Olá, o meu pedido ainda não chegou. Podem ver onde está?", "pt"),
    ("Ciao, il mio ordine non è ancora arrivato, dove si trova?", "it"),
    ("Hallo, mijn bestelling is nog niet binnen, wanneer komt die?", "nl"),
    ("Quero cancelar minha assinatura do Bean Club a partir do próximo mês.", "pt"),  # everyday words, no "ã"
    ("supprimez mon compte svp, je n'utilise plus rien", "fr"),
    ("he said ha ha, the kettle is y'all's now", "en"),  # short Spanish / Portuguese words left out: "he", "ha"
    ("Al and Em were at the Dem meetup", "en"),
    ("where is my order FB-20431?", "en"),
    ("Olá! Any date for the Lisbon meetup? I live in Porto", "en"),  # a greeting in another language is no letter
    ("the battery will die before the war on hat stands is over", "en"),  # English words other languages also use
    ("hallo zusammen", None),  # Dutch or German: too little to tell
    ("ok", None),
    ("👍", None),
])
def test_the_language_is_told_from_the_words_and_never_guessed(text, code):
    assert detect(text) == code


def test_a_message_too_short_to_tell_takes_the_sources_language_and_its_words_win_otherwise():
    assert language_of("ok", "de") == "de"
    assert language_of("where is my order?", "de") == "en"  # a German Telegram app, an English message
    assert language_of("Vielen Dank für den tollen Service!\n\nBest regards,\nLukas") == "de"
    assert language_of("ok") is None


GERMAN_REPLY = """
  - id: german_with_order_id
    when:
      language: [de]
    text: >-
      Danke für die Bestellnummer! Ich sehe mir {order_id} gleich an.
"""


@pytest.fixture
def german_app(tmp_path):
    """The shipped playbooks with one German order_status reply, the hashing embedder."""
    playbooks = tmp_path / "playbooks"
    shutil.copytree(default_playbooks_dir(), playbooks, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = playbooks / "order_status.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("replies:\n", "replies:" + GERMAN_REPLY, 1),
                    encoding="utf-8")
    app = App(Config(db=tmp_path / "t.db", cache_dir=tmp_path / "cache", embedder="hashing", playbooks=playbooks,
                     min_similarity=0.1, min_confidence=0.2), embedder=HashingEmbedder())
    yield app
    app.close()


def receive(app, text, n, language=None):
    return app.pipeline.receive(Message(text=text, source="telegram", sender_id=str(n), source_id=str(n),
                                        chat_id=str(n), sender_name="Lukas Weber", language=language,
                                        timestamp=datetime(2026, 11, 2, 10, n, tzinfo=timezone.utc)))


def test_a_playbooks_reply_in_the_customers_language_is_offered_first(german_app):
    """A `language` reply used to be offered never: the stored message's language did not reach its conditions."""
    german = receive(german_app, "Wo ist meine Bestellung FB-20431? Sie ist noch nicht da.", 1)
    english = receive(german_app, "where is my order FB-20432? it is still not here", 2, language="de")
    short = receive(german_app, "FB-20433??", 3, language="de")  # no words to tell by: Telegram's language
    order = Entity("ORDER_ID", "FB-20431", 0, 8, "FB-20431")
    suggester = Suggester(german_app.playbooks, limit=10)

    def offered(message_id):
        context = context_of(german_app.store.message(message_id))
        return suggester.suggest(analysis("order_status", entities=[order]), context)

    first = offered(german.message_id)[0]
    assert first.reply_id == "german_with_order_id" and "FB-20431" in first.text
    assert "for a message in German" in first.reason
    assert offered(short.message_id)[0].reply_id == "german_with_order_id"
    assert "german_with_order_id" not in [s.reply_id for s in offered(english.message_id)]


def test_the_card_says_which_language_the_message_is_in(fake_app):
    german = receive(fake_app, "Vielen Dank für den tollen Service, der Wasserkocher ist super!", 1)
    english = receive(fake_app, "ok", 2)  # no words to tell by, and Telegram said nothing
    desk = ReviewDesk(fake_app.store, lambda: fake_app.suggester, lambda: fake_app.playbooks, NoBoard())
    assert "written in German" in str(review.header_blocks(desk.card_data(german.message_id)))
    assert "written in" not in str(review.header_blocks(desk.card_data(english.message_id)))
