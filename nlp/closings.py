"""A letter's furniture: "Hi team," at the start of a message and "Kind regards, Nadia Popescu" at its end say
nothing about it.

The analysis reads a message's body (:func:`body`): the salutation, the closing, the signature and the earlier
mails a reply quotes are left out of what is embedded, classified and scored (entities still read the whole text:
a signature's email or phone is the contact's).
"""

from __future__ import annotations

import re
from typing import Sequence

# Letter furniture: "Kind regards" must not make a complaint positive or two letters alike. A closing ends the
# message, alone or followed by a name of a line or two ("Best regards,\nDaniel", "Cheers, Ben"), and starts the
# text, a line or a sentence or follows a comma or a dash: "the best coffee" keeps its word, "...is the best." too.
# Thanks close a letter only on a line of their own ("...since 10/4.\n\nThanks,\nRyan"); "The burrs are great,
# thank you!" and "Works now. Thanks!" are what the message says.
_CLOSINGS = (r"(?:^|(?<=[\n.!?,;:)\-\u2013\u2014]))\s*"
             r"(?:(?:kind|best|warm|many) (?:regards|wishes|thanks)|regards|best|all the best|cheers|"
             r"(?:yours )?sincerely|thanks in advance|thank you in advance)")
_THANKS = r"(?:^|(?<=\n))[ \t]*(?:(?:many )?thanks(?: again| so much| a lot)?|thank you(?: so much)?|thx|take care)"
SIGN_OFFS = re.compile(rf"(?:{_CLOSINGS}|{_THANKS})\b[,.!]*"
                       r"(?:\s*$|[ \t]*[,\n]\s*[^\n,]{1,30}(?:\n[^\n,]{1,30})?\s*$)", re.I)

# A mail app's footer on a line of its own ("Sent from my iPhone", "Get Outlook for Android"), wherever the letter
# puts it: "Dear Fernbrew,\n\nSent from my iPhone\n\nCheers,\nJonas" says nothing (it was read as an order question);
# "the payment I just sent from my account" is not a footer.
FOOTER = re.compile(r"^[ \t]*(?:sent from (?:my |mail for |outlook|yahoo mail|proton ?mail|gmail)[^\n]{0,40}"
                    r"|get outlook for [^\n]{0,30})[ \t]*$\n?", re.I | re.M)

# A salutation starts the message and ends at a comma, a dash, "!", "?" or the end of its line, and something follows
# it: "Hi there, 10/10 customer service" is read as "10/10 customer service" (the greeting made it look like an order
# question), "Dear Fernbrew,\n\nIs the scale waterproof?" as its question, "Hello?? FB-21481" as a chased order.
# The greeting may name whom it greets ("Hi Fernbrew team —", "Hey @maya!"); "Hi I ordered..." and "Hey is it in
# stock" keep their first word, and a message that is only a greeting ("Hi team!", "Hello?") stays one.
_GREETING = (r"(?i:hi+|hello+|hey+|heya|hiya|howdy|yo|greetings|dear|hallo|hola|ol\u00e1|ciao|bonjour|salut|hej|"
             r"(?:good )?(?:morning|afternoon|evening|day))")
_ADDRESSEE = (r"(?:[ \t]+(?:(?i:there|all|everyone|everybody|team|guys|folks|friends|again|y'all|you two)"
              r"|[A-Z@][\w'\u2019.@&-]*)){0,3}")
SALUTATION = re.compile(rf"^\s*{_GREETING}\b{_ADDRESSEE}[ \t]*(?:[,!?.:;~\-\u2013\u2014]+[ \t]*\n?|\n)\s*(?=\S)")


# The earlier mails a reply quotes below (or above) what the customer wrote: a mail app's reply header ("On Mon, 5
# Oct 2026, Fernbrew <support@...> wrote:", wrapped over two lines or not; "Am ... schrieb ...:", "Le ... a écrit :",
# "El ... escribió:"), an Outlook "-----Original Message-----" or a "From: ... / Sent: ..." header block start the
# quoted part, which runs to the end; lines that start with ">" are quoted wherever they are. Our own reply, quoted,
# made a thank-you read as an order question and matched a reply's ``says`` words the customer never wrote.
QUOTE_START = re.compile(r"^[ \t]*(?:(?:on|am|le|el)\b[^\n]{0,200}(?:\n[^\n]{0,200})?"
                         r"\b(?:(?:wrote|a \u00e9crit|escribi\u00f3)[ \t]*|schrieb[^\n]{0,150}):[ \t]*$"
                         r"|-{2,}[ \t]*original message[ \t]*-{2,}"
                         r"|from:[^\n]*\n(?:[^\n]*\n){0,2}?[ \t]*(?:sent|date):)", re.I | re.M)
QUOTED_LINE = re.compile(r"^[ \t]*>[^\n]*(?:\n|$)", re.M)


def without_quoted(text: str) -> str:
    """``text`` without the earlier mails a reply quotes (unchanged when nothing else is left)."""
    match = QUOTE_START.search(text)
    own = QUOTED_LINE.sub("", text[:match.start()] if match else text)
    return own if own.strip() else text


def without_salutation(text: str) -> str:
    """``text`` without a greeting at its start (unchanged when nothing follows the greeting)."""
    return SALUTATION.sub("", text, count=1)


def without_closing(text: str) -> str:
    """``text`` without a letter's closing at its end, and without a mail app's footer wherever it is."""
    return SIGN_OFFS.sub("", FOOTER.sub("", text).rstrip()).rstrip()


def body(text: str) -> str:
    """What a text says: a letter's salutation ("Hi team,") and closing ("Kind regards, Nadia Popescu") dropped,
    since they carry no intent, topic or feeling (a name and "regards" made questions positive and letters look
    alike), and the earlier mails a reply quotes; a text that is only a closing ("Cheers!") or only a greeting stays
    as it is."""
    text = without_quoted(text)
    return without_salutation(without_closing(text) or text)


def bodies(texts: Sequence[str]) -> list[str]:
    """:func:`body` of each text."""
    return [body(t) for t in texts]
