"""Sentiment: negative / neutral / positive with a score in [-1, 1].

:class:`EmbeddingSentiment` is the shipped model: a small linear head over the
message's MiniLM embedding (already computed for intent), its tone vector (a
middle layer of the same pass, ``nlp.embeddings.TONE_LAYER``) and the lexicon
features below, trained on public data (see ``bench/train_sentiment.py``); only
its weights ship. Another embedder gets the lexicon alone.

:class:`LexiconSentiment` is VADER (a rule-based lexicon model that handles
negation, intensifiers, capitals and punctuation) with a customer-service layer:
words and phrases that are neutral in general English but a complaint in an
inbox ("still waiting", "never arrived", "doesn't connect", "charged twice"),
and politeness ("thanks", "please") ignored when the message reports a
problem, so "my order hasn't arrived, thanks" reads negative. Sarcasm is not
detected.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from nlp.closings import without_closing
from nlp.gloss import gloss, glossary
from nlp.ratings import score_valence, scores

NEGATIVE, NEUTRAL, POSITIVE = "negative", "neutral", "positive"
LABELS = (NEGATIVE, NEUTRAL, POSITIVE)


@dataclass(frozen=True)
class SentimentResult:
    label: str
    score: float  # -1 (very negative) .. 1 (very positive)


@runtime_checkable
class SentimentScorer(Protocol):
    name: str

    def score(self, texts: Sequence[str], vectors: np.ndarray | None = None,
              tone: np.ndarray | None = None, languages: Sequence[str | None] | None = None
              ) -> list[SentimentResult]: ...


def encode_for(scorer, embedder, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """The embeddings of ``texts``, and their tone vectors when ``scorer`` reads them (else None)."""
    if getattr(scorer, "needs_tone", False):
        return embedder.encode_with_tone(texts)
    return embedder.encode(texts), None


# Words whose valence in a support inbox differs from general English (VADER scale -4..4).
SERVICE_LEXICON = {
    "broken": -2.2, "refund": -0.8, "late": -1.2, "delayed": -1.5, "delay": -1.3, "missing": -1.6,
    "stuck": -1.5, "crash": -2.0, "crashes": -2.0, "crashing": -2.0, "crashed": -2.0, "drains": -1.3,
    "draining": -1.3, "unusable": -2.6, "useless": -2.2, "waiting": -0.6, "overcharged": -2.3,
    "scam": -3.0, "ignored": -1.8, "unacceptable": -2.6, "faulty": -2.2, "defective": -2.3,
    "error": -1.3, "bug": -1.2, "buggy": -1.8, "glitch": -1.4, "glitchy": -1.6, "fails": -1.6,
    "failing": -1.6, "damaged": -2.0, "leaking": -1.8, "leaks": -1.6, "dented": -1.6,
    "cracked": -1.8, "overpriced": -2.0, "rip-off": -2.6, "ripoff": -2.6, "disconnects": -1.6,
    "freezes": -1.6, "frozen": -1.0, "wrong": -1.8, "worse": -2.1, "annoying": -1.8,
    "smooth": 1.2, "consistent": 0.9, "flawless": 2.6, "lifesaver": 2.2, "legend": 1.6,
    "obsessed": 1.6, "gamechanger": 2.2, "game-changer": 2.2, "spot-on": 1.8, "delicious": 2.4,
    "unsubscribe": -0.4, "spam": -1.6,
    # words of buying, not of feeling, in a shop's inbox: "can I pay with Apple Pay?", "pay by credit card"
    "pay": 0.0, "credit": 0.0,
}

# Customers' words of feeling in German, Spanish, French, Portuguese, Italian and Dutch, on VADER's scale: the embedding
# model and VADER are English, so a German complaint read as neutral. Words VADER knows already keep its value
# ("fantastico"); a word customers often negate ("zufrieden", "contento", "content", "soddisfatto", "tevreden", "blij")
# is left out, as VADER negates in English only ("not happy"), and so is a word that is also English ("male", "top").
OTHER_LANGUAGES_LEXICON = {
    # German
    "enttäuscht": -2.0, "enttäuschend": -2.0, "enttäuschung": -2.0, "kaputt": -2.2, "defekt": -2.2, "schlecht": -2.0,
    "schlimm": -2.0, "ärgerlich": -1.8, "verärgert": -2.0, "frustriert": -2.0, "frustrierend": -2.0,
    "unverschämt": -2.6, "katastrophal": -2.8, "mies": -2.0, "miserabel": -2.5, "unzufrieden": -2.0, "nervig": -1.8,
    "leider": -0.8, "beschädigt": -2.0, "fehlerhaft": -2.0, "verspätet": -1.2, "frechheit": -2.6, "schade": -1.2,
    "wütend": -2.5, "abzocke": -2.6, "unterirdisch": -2.5, "toll": 2.2, "tolle": 2.2, "tollen": 2.2, "großartig": 2.8,
    "grossartig": 2.8, "klasse": 2.0, "prima": 2.0, "wunderbar": 2.8, "fantastisch": 2.8, "perfekt": 2.6,
    "lecker": 2.2, "begeistert": 2.6, "hervorragend": 2.8, "spitze": 2.2, "danke": 1.0,
    # Spanish
    "decepcionado": -2.0, "decepcionada": -2.0, "decepcionante": -2.0, "roto": -2.0, "rota": -2.0, "malo": -2.0,
    "mala": -2.0, "pésimo": -2.8, "pésima": -2.8, "pesimo": -2.8, "desastre": -2.6, "enfadado": -2.2,
    "enfadada": -2.2, "molesto": -1.8, "molesta": -1.8, "harto": -2.0, "harta": -2.0, "inaceptable": -2.6,
    "vergüenza": -2.2, "estafa": -2.8, "defectuoso": -2.2, "dañado": -2.0, "retraso": -1.3, "queja": -1.5,
    "lamentable": -2.2, "frustrante": -2.0, "encanta": 2.4, "encantado": 2.2, "encantada": 2.2, "increíble": 2.6,
    "maravilloso": 2.8, "perfecta": 2.6, "excelente": 2.8, "buenísimo": 2.6, "buenísima": 2.6, "feliz": 2.4,
    "delicioso": 2.4, "fantástico": 2.8, "estupendo": 2.6, "gracias": 1.0,
    # French
    "déçu": -2.0, "déçue": -2.0, "décevant": -2.0, "décevante": -2.0, "déception": -2.0, "cassé": -2.0,
    "cassée": -2.0, "nul": -2.2, "nulle": -2.2, "mauvais": -2.0, "mauvaise": -2.0, "honteux": -2.4,
    "inadmissible": -2.6, "inacceptable": -2.6, "énervé": -2.0, "fâché": -2.0, "furieux": -2.6,
    "catastrophique": -2.8, "arnaque": -2.8, "défectueux": -2.2, "endommagé": -2.0, "abîmé": -2.0, "retard": -1.2,
    "marre": -2.0, "pénible": -1.8, "dommage": -1.2, "génial": 2.6, "géniale": 2.6, "parfait": 2.6,
    "parfaite": 2.6, "j'adore": 2.6, "adore": 2.6, "merveilleux": 2.8, "magnifique": 2.8, "ravi": 2.4, "ravie": 2.4,
    "bravo": 2.2, "incroyable": 2.6, "délicieux": 2.4, "formidable": 2.6, "impeccable": 2.4, "merci": 1.0,
    # Portuguese
    "desiludido": -2.0, "desiludida": -2.0, "quebrado": -2.0, "quebrada": -2.0, "avariado": -2.0,
    "estragado": -2.0, "péssima": -2.8, "ruim": -2.0, "horrível": -2.6, "terrível": -2.6, "chateado": -2.0,
    "chateada": -2.0, "irritado": -2.0, "irritada": -2.0, "insatisfeito": -2.0, "insatisfeita": -2.0,
    "inaceitável": -2.6, "vergonha": -2.2, "absurdo": -2.2, "atraso": -1.3, "decepção": -2.0, "lamentável": -2.2,
    "adorei": 2.6, "adoro": 2.6, "amei": 2.6, "ótimo": 2.6, "ótima": 2.6, "maravilhoso": 2.8, "maravilhosa": 2.8,
    "perfeito": 2.6, "perfeita": 2.6, "incrível": 2.6, "obrigado": 1.0, "obrigada": 1.0,
    # Italian
    "deluso": -2.0, "delusa": -2.0, "deludente": -2.0, "delusione": -2.0, "rotto": -2.0, "rotta": -2.0,
    "difettoso": -2.2, "difettosa": -2.2, "danneggiato": -2.0, "danneggiata": -2.0, "pessimo": -2.8, "pessima": -2.8,
    "orribile": -2.6, "terribile": -2.6, "vergognoso": -2.4, "vergogna": -2.2, "inaccettabile": -2.6, "schifo": -2.6,
    "arrabbiato": -2.2, "arrabbiata": -2.2, "furioso": -2.6, "truffa": -2.8, "scandaloso": -2.6, "ritardo": -1.3,
    "peccato": -1.2, "purtroppo": -0.8, "stufo": -2.0, "inutile": -2.0, "fastidioso": -1.8, "insoddisfatto": -2.0,
    "insoddisfatta": -2.0, "incredibile": 2.6, "meraviglioso": 2.8, "meravigliosa": 2.8, "eccezionale": 2.8,
    "stupendo": 2.6, "stupenda": 2.6, "ottimo": 2.6, "ottima": 2.6, "bellissimo": 2.6, "bellissima": 2.6,
    "buonissimo": 2.6, "buonissimi": 2.6, "delizioso": 2.4, "benissimo": 2.4, "complimenti": 2.2, "perfetto": 2.6,
    "perfetta": 2.6, "grazie": 1.0,
    # Dutch
    "teleurgesteld": -2.0, "teleurstellend": -2.0, "teleurstelling": -2.0, "kapot": -2.2, "slecht": -2.0,
    "slechte": -2.0, "belachelijk": -2.4, "schandalig": -2.6, "waardeloos": -2.5, "boos": -2.2, "woedend": -2.6,
    "gefrustreerd": -2.0, "frustrerend": -2.0, "vervelend": -1.8, "jammer": -1.2, "helaas": -0.8, "beschadigd": -2.0,
    "oplichterij": -2.8, "ontevreden": -2.0, "onacceptabel": -2.6, "rampzalig": -2.8, "vertraging": -1.3,
    "klacht": -1.5, "prachtig": 2.8, "geweldig": 2.8, "geweldige": 2.8, "heerlijk": 2.4, "uitstekend": 2.8,
    "tof": 2.0, "gaaf": 2.2, "dol": 2.0, "lekt": -1.6, "aanrader": 2.2, "enthousiast": 2.2, "bedankt": 1.0,
    "dankjewel": 1.0, "dankuwel": 1.0,
}

# Emojis as a chat means them (VADER's scale), where VADER's reading of the emoji's name is wrong or empty: it reads
# "fire" (negative) for 🔥, "broken" and "heart" (positive overall) for 💔, nothing for 👍, 👎, 😡 or 🤌.
CHAT_EMOJIS = {
    "🔥": 2.0, "💯": 2.0, "🤌": 2.0, "👏": 1.8, "🙌": 1.8, "👍": 1.5,
    "👎": -2.0, "😡": -2.5, "😠": -2.3, "🤬": -3.0, "🤮": -2.5, "💩": -2.0, "🤦": -1.5, "💔": -2.0,
}
# Emoji presentation selector: VADER glues it to the emoji's name ("red heart\ufe0f"), which then means nothing.
_VARIATION_SELECTOR = "\ufe0f"

# Phrases that signal a problem in a support conversation, with the adjustment to the compound score.
PROBLEM_PHRASES = [
    (re.compile(r"\bstill (?:not|no|haven'?t|hasn'?t|havent|hasnt|waiting|nothing|broken)\b", re.I), -0.35),
    (re.compile(r"\b(?:doesn'?t|does not|won'?t|will not|can'?t|cannot|isn'?t|is not|not|stopped|keeps? failing to)"
                r" (?:work|working|connect|connecting|turn on|turning on|charge|charging|sync|syncing|load|loading"
                r"|pair|pairing|log ?in|logging in|arrive|arrived|show up|respond|responding|heat|heating|open)\b",
                re.I), -0.4),
    (re.compile(r"\bnever (?:arrived|came|received|got|showed up|heard back)\b", re.I), -0.45),
    (re.compile(r"\b(?:no|zero|without any) (?:response|reply|answer|update|tracking)\b", re.I), -0.35),
    (re.compile(r"\bhasn'?t (?:arrived|shipped|moved|been updated)\b|\bhaven'?t (?:received|got|heard)\b", re.I), -0.35),
    (re.compile(r"\bcharged (?:me )?(?:twice|double|again)\b|\bdouble[- ]charged\b", re.I), -0.45),
    (re.compile(r"\bany (?:update|news)\b", re.I), -0.15),
    (re.compile(r"\b(?:days|weeks) (?:later|now|already)\b|\bfor (?:\d+|two|three|four|five|a few) (?:days|weeks)\b", re.I), -0.15),
    (re.compile(r"\b(?:what a joke|waste of money|not happy|not impressed|fed up|sick of|had enough)\b", re.I), -0.5),
    (re.compile(r"\b(?:drains?|dies|died|dead) (?:overnight|in (?:a|one) day|after)\b", re.I), -0.35),
    (re.compile(r"\b(?:nobody|no one|no-one) (?:called|answered|replied|responded|got back|helped|showed up)\b"
                r"|\bwas promised\b|\bstill no\b", re.I), -0.4),
    (re.compile(r"\bexpected (?:better|more)\b|\b(?:chipping|peeling|rusting|scratched|wobbly|rattles?)\b", re.I), -0.45),
    # the same thing again and again: "I've unsubscribed 3 times and still get your newsletter"
    (re.compile(r"\b(?:asked|tried|unsubscribed|called|emailed|written|wrote|reset it|contacted (?:you|support))"
                r" (?:\d+|two|three|four|five|several|multiple|many) times\b"
                r"|\bstill (?:get|getting|receive|receiving|being charged|charged)\b", re.I), -0.35),
    (re.compile(r"\b(?:flat|empty|dead|drained) (?:every|each) (?:single )?(?:morning|day|night|time)\b", re.I), -0.35),
    # an escalation letter thanks and hopes around the problem: "at the end of my patience", "written four emails",
    # "waited 40 minutes on the phone", "someone who can actually make a decision"
    (re.compile(r"\b(?:end of my (?:patience|tether|rope)|(?:lost|losing|running out of) (?:my |all )?patience)\b"
                r"|\bsomeone who can actually\b", re.I), -0.5),
    (re.compile(r"\b(?:written|sent|wrote|emailed) (?:you )?(?:\d+|two|three|four|five|six|several|multiple|many)"
                r" (?:e-?mails|messages|letters)\b|\bwaited (?:for )?(?:over |almost |nearly )?(?:\d+|an?|two|three|"
                r"forty|thirty) (?:minutes|hours) on (?:the )?(?:phone|hold)\b", re.I), -0.35),
    # "the second week I'm waiting", "third time I'm asking", "I expect it on time"
    (re.compile(r"\b(?:second|third|fourth|fifth|2nd|3rd|4th|5th) (?:week|time|email|message|reminder)"
                r" (?:I'?m|I am|I'?ve|I have|that I|in a row|now)\b|\bI expect(?:ed)? (?:it|them|this|my \w+) "
                r"(?:on time|by now)\b", re.I), -0.35),
    # a device that sounds or smells wrong: "makes a scraping noise", "a burning smell"
    (re.compile(r"\b(?:weird|strange|loud|grinding|scraping|squeaking|squeaky|clicking|rattling|buzzing|humming|"
                r"whining|horrible|awful|funny|odd|burning) (?:noises?|sounds?|smell)\b", re.I), -0.35),
]
# The same kinds of problem in German, Spanish, French, Portuguese, Italian and Dutch ("immer noch nicht", "todavía
# no", "toujours pas", "ainda não", "ancora non", "nog steeds niet"; "funktioniert nicht", "no funciona", "ne marche
# pas", "não funciona", "non funziona", "werkt niet"; "keine Antwort", "nessuna risposta", "geen antwoord")
PROBLEM_PHRASES += [
    (re.compile(r"\b(?:immer noch (?:nicht|kein\w*|nichts)|noch (?:nicht|immer nicht) (?:da|angekommen|geliefert|"
                r"verschickt)|todav[ií]a no|todav[ií]a nada|sigue sin|toujours (?:pas|rien|aucun\w*)|"
                r"ainda n[ãa]o|ainda nada|continua sem|ancora (?:non|niente|nulla|nessun\w*)|non (?:\w+ ){0,2}ancora|"
                r"(?:sto|stiamo) ancora aspettando|aspetto ancora|wacht(?:en)? nog (?:steeds|altijd)|"
                r"nog (?:steeds|altijd) (?:niet|geen|niks|niets)|nog (?:niet|niks|niets|geen \w+) (?:binnen|"
                r"ontvangen|aangekomen|geleverd|bezorgd|verzonden|gehoord|terug))\b", re.I), -0.35),
    (re.compile(r"\b(?:funktioniert|geht|l[äa]dt|heizt|verbindet sich) (?:\w+ )?(?:nicht|nie)\b|"
                r"\bno (?:funciona|enciende|carga|calienta|conecta|llega|lleg[óo])\b|"
                r"\bne (?:marche|fonctionne|s'allume|chauffe|charge|se connecte) (?:plus|pas)\b|"
                r"\bn[ãa]o (?:funciona|liga|carrega|aquece|conecta|chegou)\b|"
                r"\bnon (?:mi |si )?(?:funziona\w*|accende|carica|collega|connette|scalda|parte|va|arriva\w*)\b|"
                r"\bnon (?:è|e|sono|ho) (?:mai )?(?:arrivat\w|ricevuto)|\bsmesso di funzionare\b|"
                r"\bnon riesco (?:più )?ad? (?:accedere|entrare|collegar\w*|connetter\w*|caricar\w*|accender\w*)\b|"
                r"\b(?:werkt|doet het|gaat|laadt|verbindt|warmt|start|komt) (?:\w+ ){0,2}(?:niet|nooit)\b|"
                r"\bniet (?:meer )?inloggen\b|\bmaakt geen verbinding\b|"
                r"\b(?:niet|nooit|niks|niets) (?:aangekomen|ontvangen|geleverd|bezorgd)\b", re.I), -0.4),
    (re.compile(r"\b(?:keine (?:antwort|rückmeldung|reaktion)|niemand (?:antwortet|meldet sich)|sin respuesta|"
                r"nadie (?:responde|contesta)|aucune r[ée]ponse|personne ne r[ée]pond|sem resposta|"
                r"ningu[ée]m (?:responde|atende)|nessuna risposta|nessun riscontro|senza risposta|"
                r"nessuno (?:mi |ci )?(?:risponde|ha risposto|richiama|si fa sentire)|geen (?:antwoord|reactie)|"
                r"niemand (?:reageert|antwoordt|belt (?:me )?terug|neemt op)|niks (?:meer )?(?:van jullie )?gehoord)\b",
                re.I), -0.4),
]
POLITENESS = re.compile(r"\b(?:thanks+|thank you|thx|ty|please|pls|plz|appreciate(?: it)?|cheers|kind regards|regards|hi|hello|hey)\b", re.I)


def problem_adjustment(text: str) -> float:
    """How strongly a message reports a problem: the sum of the matching PROBLEM_PHRASES weights (<= 0)."""
    return sum(weight for pattern, weight in PROBLEM_PHRASES if pattern.search(text))


_ANY_PROBLEM_FROM = 32  # batch size from which compiling the one-pass search (~2 ms) pays


def _lower_literals(pattern: str) -> str:
    """``pattern`` with its letters lower-cased, its escapes (``\\W``, ``\\D``) kept as they are."""
    return re.sub(r"\\.|[^\\]+", lambda m: m.group() if m.group().startswith("\\") else m.group().lower(), pattern)


@functools.cache
def _any_problem() -> Callable[[str], object]:
    """One search for any problem phrase at all, in a lower-cased text: it finds at least what the phrases find
    (they ignore case), and a search that need not ignore case runs about 4x faster."""
    search = re.compile("|".join(f"(?:{_lower_literals(p.pattern)})" for p, _ in PROBLEM_PHRASES)).search
    return lambda text: search(text.lower())


def problem_adjustments(texts: Sequence[str]) -> list[float]:
    """``problem_adjustment`` of each text. A batch first searches for any phrase at all, in one pass: most
    messages report no problem, and that pass costs about a quarter of the phrases one by one."""
    if len(texts) < _ANY_PROBLEM_FROM:
        return [problem_adjustment(t) for t in texts]
    found = _any_problem()
    return [problem_adjustment(t) if found(t) else 0 for t in texts]


# A score this far from neutral (9/10 or better, 5/5; 2/10 or worse, 1/5) is the customer's own verdict: the head
# reads a score only through the lexicon features, which alone did not move "The grinder is 10/10" off neutral.
VERDICT = 2.0


def score_verdict(text: str) -> float | None:
    """The valence of the strongest score in ``text`` (see :mod:`nlp.ratings`), or None without one."""
    found = [score_valence(points, top) for _, points, top in scores(text)]
    return max(found, key=abs) if found else None


def _with_scores(text: str) -> str:
    """``text`` with each score ("10/10 customer service") as one word of the lexicon ("score100tenthsof10"); dates that
    look the same ("since 10/10") are left as they are, VADER reads nothing in them."""
    for m, points, top in reversed(list(scores(text))):
        text = f"{text[:m.start()]}{_score_word(points, top)}{text[m.end():]}"
    return text


def _score_word(points: float, top: int) -> str:
    return f"score{round(points * 10)}tenthsof{top}"


class LexiconSentiment:
    """VADER plus a customer-service layer. Deterministic and fast: also the test implementation."""

    name = "vader-service-1"

    def __init__(self, positive_at: float = 0.4, negative_at: float = -0.25):
        from nlp.vader import FastVader

        self.positive_at = positive_at
        self.negative_at = negative_at
        self._vader = FastVader()
        self._vader.lexicon.update(SERVICE_LEXICON)
        for word, valence in OTHER_LANGUAGES_LEXICON.items():
            self._vader.lexicon.setdefault(word, valence)
        for top in (5, 10):
            for tenths in range(10 * top + 11):  # 0/10 to 11/10, 0/5 to 6/5, in steps of 0.1
                self._vader.lexicon[_score_word(tenths / 10, top)] = score_valence(tenths / 10, top)
        for emoji, valence in CHAT_EMOJIS.items():
            token = f"emoji-{ord(emoji):x}"  # one word of VADER's lexicon in place of the emoji's name
            self._vader.emojis[emoji] = token
            self._vader.lexicon[token] = valence

    def vader(self, text: str) -> dict:
        """VADER's scores of ``text`` with the service lexicon, chat emojis and scores out of 10 or 5."""
        return self._vader.polarity_scores(_with_scores(text.replace(_VARIATION_SELECTOR, "")))

    def score_one(self, text: str) -> SentimentResult:
        adjust = problem_adjustment(text)
        basis = without_closing(text)
        basis = POLITENESS.sub(" ", basis) if adjust < 0 else basis
        compound = self.vader(basis)["compound"] if basis.strip() else 0.0
        if adjust < 0 and compound > 0:
            compound *= 0.3  # a reported problem outweighs kind words around it
        value = float(max(-1.0, min(1.0, compound + adjust)))
        if value >= self.positive_at:
            label = POSITIVE
        elif value <= self.negative_at:
            label = NEGATIVE
        else:
            label = NEUTRAL
        return SentimentResult(label, round(value, 4))

    def score(self, texts: Sequence[str], vectors: np.ndarray | None = None,
              tone: np.ndarray | None = None, languages: Sequence[str | None] | None = None
              ) -> list[SentimentResult]:
        return [self.score_one(t) for t in texts]


def default_head_path():
    from pathlib import Path

    return Path(__file__).resolve().parent / "data" / "sentiment-minilm.npz"


class EmbeddingSentiment:
    """Linear head over [embedding, tone vector, lexicon features]; reported problems in a support message stay
    negative. A head saved without ``tone_layer`` reads [embedding, lexicon features]."""

    needs_embeddings = True

    def __init__(self, path=None, lexicon: LexiconSentiment | None = None):
        from nlp.embeddings import TONE_LAYER

        path = path or default_head_path()
        z = np.load(path, allow_pickle=False)
        self.coef, self.intercept = z["coef"], z["intercept"]
        self.labels = [str(x) for x in z["labels"]]
        self.embedder_name = str(z["embedder"])
        self.dimension = int(z["dimension"])
        self.tone_layer = int(z["tone_layer"]) if "tone_layer" in z else None
        if self.tone_layer is not None and self.tone_layer != TONE_LAYER:
            raise ValueError(f"sentiment head {path} reads encoder layer {self.tone_layer}, but the embedders give "
                             f"layer {TONE_LAYER} (nlp.embeddings.TONE_LAYER): retrain it with bench/train_sentiment.py")
        width = self.dimension * (2 if self.needs_tone else 1) + 4
        if self.coef.shape != (len(self.labels), width):
            raise ValueError(f"sentiment head {path}: coefficients of shape {self.coef.shape}, expected "
                             f"({len(self.labels)}, {width}) for {self.dimension}-dimensional vectors")
        self.lexicon = lexicon or LexiconSentiment()
        version = str(z["name"]) if "name" in z else "minilm-head-1"
        self.name = f"{version}+{self.lexicon.name}"

    @property
    def needs_tone(self) -> bool:
        return self.tone_layer is not None

    @staticmethod
    def lexicon_features(lexicon: LexiconSentiment, texts: Sequence[str],
                         languages: Sequence[str | None] | None = None) -> np.ndarray:
        """VADER's scores and the problem phrases' adjustment of each text. VADER reads a text in another language
        through its English gloss (``languages``: of each text): German "die" is an article, not VADER's "die", and
        "nicht zufrieden" is "not satisfied"; the problem phrases read it as written."""
        rows = []
        for i, (t, adjust) in enumerate(zip(texts, problem_adjustments(texts))):
            scores = lexicon.vader(without_closing(gloss(t, languages[i]) if languages else t))
            rows.append([scores["compound"], scores["pos"], scores["neg"], adjust])
        return 2.0 * np.asarray(rows, dtype=np.float64).reshape(-1, 4)  # float64: exact when halved back

    def probabilities(self, texts: Sequence[str], vectors: np.ndarray, tone: np.ndarray | None = None,
                      features: np.ndarray | None = None) -> np.ndarray:
        if features is None:
            features = self.lexicon_features(self.lexicon, texts)
        parts = [vectors]
        if self.needs_tone:
            if tone is None:
                raise ValueError("this sentiment head reads the tone vectors too: encode with encode_for()")
            parts.append(tone)
        X = np.hstack([np.asarray(p, dtype=np.float32) for p in parts] + [features.astype(np.float32)])
        z = X @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def score(self, texts: Sequence[str], vectors: np.ndarray | None = None,
              tone: np.ndarray | None = None, languages: Sequence[str | None] | None = None
              ) -> list[SentimentResult]:
        """``languages``: of each text, as :func:`nlp.language.detect` tells it (told here when not given). The
        head learned English tweets: a text in a language with a glossary is read by it too, through the vectors of
        its English gloss (:mod:`nlp.gloss`, as the analysis embeds it); a text in another language by the lexicon
        model alone, as the head read most complaints and praise in a language it does not know as neutral."""
        if vectors is None or len(texts) == 0:
            return self.lexicon.score(texts)
        if languages is None:
            from nlp.language import detect

            languages = [detect(t) for t in texts]
        read = [i for i, language in enumerate(languages) if language in (None, "en") or glossary(language)]
        if len(read) == len(texts):
            return self._head(texts, vectors, tone, languages)
        # each text is read once: by the head when English or glossed, else by the lexicon
        foreign = sorted(set(range(len(texts))) - set(read))
        out: list[SentimentResult | None] = [None] * len(texts)
        for i, feeling in zip(foreign, self.lexicon.score([texts[i] for i in foreign])):
            out[i] = feeling
        if read:
            rows = np.asarray(read)
            feelings = self._head([texts[i] for i in read], vectors[rows], None if tone is None else tone[rows],
                                  [languages[i] for i in read])
            for i, feeling in zip(read, feelings):
                out[i] = feeling
        return out

    def _head(self, texts: Sequence[str], vectors: np.ndarray, tone: np.ndarray | None,
              languages: Sequence[str | None] | None = None) -> list[SentimentResult]:
        features = self.lexicon_features(self.lexicon, texts, languages)
        probs = self.probabilities(texts, vectors, tone, features)
        neg, pos = self.labels.index(NEGATIVE), self.labels.index(POSITIVE)
        out = []
        for text, best, value, problem in zip(texts, probs.argmax(axis=1).tolist(),
                                              (probs[:, pos] - probs[:, neg]).tolist(),
                                              (features[:, 3] / 2.0).tolist()):  # column 3: problem_adjustment, x2
            label = self.labels[best]
            if problem <= -0.3 and label != NEGATIVE:  # "still waiting", "never arrived": a complaint in an inbox
                label, value = NEGATIVE, min(value, -0.3)
            verdict = score_verdict(text)
            if verdict is not None and verdict >= VERDICT and label == NEUTRAL:  # "The grinder is 10/10"
                label, value = POSITIVE, max(value, 0.3)
            elif verdict is not None and verdict <= -VERDICT and label != NEGATIVE:  # "2/10, would not buy again"
                label, value = NEGATIVE, min(value, -0.3)
            out.append(SentimentResult(label, round(value, 4)))
        return out
