"""Which language a message is written in, from its function words: enough to tell a reply drafted in English
that the customer wrote in German, Spanish, French, Portuguese, Italian or Dutch.

A message is said to be in a language only on clear evidence: at least two of that language's common words (or
one and a letter only it uses, such as "ñ" or "ß"), more than any other language has, and more than English has.
A short or mixed message ("Olá! Any date for the Lisbon meetup?") is English or unknown (None), never a guess.
Words that are also English words ("die", "war", "hat", "van", "son") are left out of the other languages'
lists.
"""

from __future__ import annotations

import re

from nlp.closings import body

NAMES = {"en": "English", "de": "German", "es": "Spanish", "fr": "French", "pt": "Portuguese", "it": "Italian",
         "nl": "Dutch"}

_WORDS = {
    "en": """the and is are was were it's i'm you your my our this that with for of to have has not don't can't what
             when where why how please thanks thank hi hello order still just would could""",
    "de": """der das und ich ist nicht ein eine einen mit für auf sind bitte danke vielen seit des sie wir mein
             meine meiner mir mich noch schon aber oder wenn wann warum wie auch über nach jeden jede obwohl hallo
             leider kann können gibt habe möchte zurück geht wird werden bin kein keine mehr sehr gern gerne dem den
             vom zum zur ja nein guten immer einfach euch eure euren eurem ihr ihnen uns unser unsere wäre würde
             funktioniert bestellung erledigt akku kaputt waage mühle wasserkocher lieferung geliefert bestellt
             woche gestern heute rechnung rückerstattung erstattung zurückgeschickt passwort anmelden""",
    "es": """el los las del que qué para por pero con una uno hola gracias cuándo cuando dónde está están es mis
             nuestro vuestro vuestra quiero puedo muy también esto este esta pedido todavía ir amigos encanta mi hay
             hace tengo tiene puede podéis sigue nada ya buenas buenos días cómo sí lo y más desde favor mucho nunca
             nadie algún alguna ningún han hemos cuánto cuesta envío llegado llega suscripción cuenta contraseña
             hablar persona datos noche llegó batería báscula molinillo hervidor semana ayer hoy compré pedí recibí
             envié devolver factura correo ahora""",
    "fr": """le les des une sont je vous nous mon mes pour avec dans sur pas mais bonjour merci quand où comment
             pourquoi très aussi cette ce commande toujours j'ai c'est n'est est et du au aux votre vos notre rien
             tout tous bien ça ai suis êtes fait peux pouvez voudrais veux svp s'il plaît coucou salut livraison
             compte données encore déjà qui quoi chez ne ma beaucoup bouilloire livré reçu semaine aujourd'hui
             remboursement facture connexion""",
    "pt": """olá obrigado obrigada não você vocês meu minha para com uma são está estão quando onde porque também
             muito pedido ainda nós tenho tem todos quero na nos ao às pra faço fazer tudo bem oi já estou é vai vou
             ser ter posso pode podem mais mas assinatura encomenda conta dados seria gostaria bom boa tarde ótimo
             grátis frete mim balança moinho chaleira entrega entregue ontem hoje comprei chegou fatura senha""",
    "it": """il che di della delle degli gli una sono è non per con grazie ciao buongiorno quando dove perché anche
             molto ordine ancora mio mia ho""",
    "nl": """het een ik je niet zijn voor met op maar bedankt hallo wanneer waar waarom ook nog mijn bestelling heb""",
}
# a word in several lists counts for none of them ("de", "para", "con", "una": Spanish or Portuguese or Italian?)
_SEEN: dict[str, int] = {}
for _words in _WORDS.values():
    for _w in set(_words.split()):
        _SEEN[_w] = _SEEN.get(_w, 0) + 1
_LISTS = {lang: frozenset(w for w in words.split() if _SEEN[w] == 1) for lang, words in _WORDS.items()}
# letters that only one of these languages writes
_LETTERS = {"es": "ñ¿¡", "de": "ßäöü", "pt": "ãõ", "fr": "œ"}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def detect(text: str) -> str | None:
    """The language code of ``text`` (see :data:`NAMES`), or None when the evidence is thin."""
    words = _WORD.findall(str(text).lower().replace("’", "'"))
    if not words:
        return None
    hits = {lang: sum(w in wanted for w in words) for lang, wanted in _LISTS.items()}
    low = str(text).lower()
    for lang, letters in _LETTERS.items():
        if any(ch in low for ch in letters):
            hits[lang] += 1
    best = max(hits, key=lambda lang: (hits[lang], lang == "en"))
    runner_up = max(n for lang, n in hits.items() if lang != best)
    if best == "en":
        return "en" if hits["en"] >= 1 else None
    if hits[best] >= 2 and hits[best] > runner_up:
        return best
    return None


def language_of(text: str, declared: str | None = None) -> str | None:
    """The language a reply to ``text`` should be in: what the message's own words say (without a greeting,
    closing or quoted thread), else what its source ``declared`` (a Telegram user's app language, an import's
    column; a tag such as "pt-BR" is its language, "pt"), else None (English)."""
    return detect(body(text)) or primary(declared)


def primary(tag: str | None) -> str | None:
    """The language of a language tag: "pt" for "pt-BR" or "pt_br", lower-cased; None for none."""
    code = (tag or "").strip().replace("_", "-").split("-")[0].lower()
    return code or None


def name(code: str | None) -> str:
    """"German" for "de"; the code itself for a language not listed."""
    return NAMES.get(code or "", code or "")


def names_with_counts(counts: dict[str, int]) -> str:
    """"German 3, Spanish 2" for ``{"de": 3, "es": 2}``, in the order given."""
    return ", ".join(f"{name(code)} {n}" for code, n in counts.items())
