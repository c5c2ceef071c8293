"""The glossaries that let the English embedding model read messages in German, Spanish, French, Portuguese,
Italian and Dutch (nlp/gloss.py): each is there, large enough, in lower case, and turns an everyday message into
the English words it says."""

import re

import pytest

from nlp.gloss import GLOSS_DIR, embedding_texts, gloss, glossary
from nlp.language import detect

LANGUAGES = ("de", "es", "fr", "pt", "it", "nl")


@pytest.mark.parametrize("code", LANGUAGES)
def test_each_glossary_loads_is_large_and_in_lower_case(code):
    assert (GLOSS_DIR / f"{code}.txt").is_file()
    words = glossary(code)
    assert len(words) >= 250
    for word, english in words.items():
        assert word == word.lower() and re.fullmatch(r"[^\W\d_]+", word), word  # one word as the lookup splits them
        assert english == english.lower() or "I" in english.split(), (word, english)  # "I" is the one capital


@pytest.mark.parametrize("text, code, english", [
    ("Wo bleibt meine Bestellung? Ich warte seit einer Woche.", "de", "where is my order i since week"),
    ("¿Dónde está mi pedido? Todavía no ha llegado.", "es", "where is my order still not arrived"),
    ("Bonjour, ma commande n'est toujours pas arrivée.", "fr", "hello my order still not arrived"),
    ("Olá, a minha encomenda ainda não chegou.", "pt", "hello my order still not arrived"),
    ("Ciao, il mio ordine non è ancora arrivato.", "it", "hi my order not is still arrived"),
    ("Hallo, mijn bestelling is nog niet aangekomen.", "nl", "hello my order is still not arrived"),
    ("Je veux annuler mon abonnement, merci", "fr", "i want cancel my subscription thanks"),
    ("Quero cancelar a minha assinatura, não consigo entrar na conta", "pt", "i want cancel my subscription log in account"),
    ("La batería de mi báscula se descarga en una noche", "es", "battery my scale"),
    ("Il bollitore non si accende più, è rotto?", "it", "kettle not turns on broken"),
    ("Ik wil mijn abonnement opzeggen, bedankt", "nl", "I want my subscription cancel thanks"),
    ("Können Sie mir bitte eine Rechnung schicken?", "de", "can you me please invoice send"),
])
def test_a_message_in_each_language_is_embedded_as_the_english_it_says(text, code, english):
    assert detect(text) == code
    read = embedding_texts([text])[0].lower()
    assert set(english.lower().split()) <= set(re.findall(r"[^\W\d_]+", read)), read


def test_english_and_unknown_messages_are_embedded_as_written():
    texts = ["Where is my order FB-20431? It still hasn't arrived", "hallo zusammen", "ok"]
    assert embedding_texts(texts) == texts
    assert gloss("die kettle is a fern kettle", "en") == "die kettle is a fern kettle"
