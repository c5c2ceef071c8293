"""VADER's ``polarity_scores`` with the same numbers and less of its overhead per message.

vaderSentiment (3.3.2) walks every character of a message in Python to replace emojis by their descriptions,
even in a message without any, and lower-cases all of a message's words again each time it looks at the one to
three words before a sentiment word, and tests a word for negation by a loop over all negation words. This
subclass checks for emojis in one C-level pass (a message with an emoji goes through VADER's own replacement),
lower-cases only the words it looks at, looks negations up in a set, and calls neither ``sentiment_valence`` for
the many words outside the lexicon nor ``_but_check`` without a "but". Everything else is VADER's code; a test
compares the two over the sample inbox and many made-up messages.
"""

from __future__ import annotations

import string

from vaderSentiment.vaderSentiment import (BOOSTER_DICT, N_SCALAR, NEGATE, SPECIAL_CASES,
                                           SentimentIntensityAnalyzer, SentiText)

_PUNCTUATION = string.punctuation  # what SentiText strips off the ends of words
_NEGATE = frozenset(NEGATE)


def _negated(word: str) -> bool:
    """VADER's ``negated`` of a list of one lower-cased word, without its loop over all the negation words."""
    return word in _NEGATE or "n't" in word


class FastVader(SentimentIntensityAnalyzer):
    def polarity_scores(self, text):
        if not self.emojis.keys().isdisjoint(text):
            return super().polarity_scores(text)
        text = text.strip()  # what VADER's emoji replacement leaves of a message without emojis
        # from here on as SentimentIntensityAnalyzer.polarity_scores, with SentiText's two steps written out
        words_and_emoticons = [w if len(s := w.strip(_PUNCTUATION)) <= 2 else s for w in text.split()]
        sentitext = SentiText.__new__(SentiText)
        sentitext.text = text
        sentitext.words_and_emoticons = words_and_emoticons
        caps = sum(1 for w in words_and_emoticons if w.isupper())
        sentitext.is_cap_diff = 0 < len(words_and_emoticons) - caps < len(words_and_emoticons)
        sentiments = []
        lexicon = self.lexicon
        but = False
        for i, item in enumerate(words_and_emoticons):
            valence = 0
            lower = item.lower()
            but = but or lower == "but"
            if lower in BOOSTER_DICT:
                sentiments.append(valence)
                continue
            if (i < len(words_and_emoticons) - 1 and lower == "kind" and
                    words_and_emoticons[i + 1].lower() == "of"):
                sentiments.append(valence)
                continue
            if lower not in lexicon:  # all that sentiment_valence does with a word outside the lexicon
                sentiments.append(valence)
                continue
            sentiments = self.sentiment_valence(valence, sentitext, item, i, sentiments)
        if but:  # _but_check changes nothing without a "but"
            sentiments = self._but_check(words_and_emoticons, sentiments)
        return self.score_valence(sentiments, text)

    @staticmethod
    def _negation_check(valence, words_and_emoticons, start_i, i):
        """SentimentIntensityAnalyzer._negation_check, lower-casing only the words it reads."""
        def low(k: int) -> str:
            return str(words_and_emoticons[k]).lower()

        if start_i == 0:
            if _negated(low(i - 1)):
                valence = valence * N_SCALAR
        if start_i == 1:
            if low(i - 2) == "never" and (low(i - 1) == "so" or low(i - 1) == "this"):
                valence = valence * 1.25
            elif low(i - 2) == "without" and low(i - 1) == "doubt":
                pass
            elif _negated(low(i - 2)):
                valence = valence * N_SCALAR
        if start_i == 2:
            if (low(i - 3) == "never" and (low(i - 2) == "so" or low(i - 2) == "this")
                    or (low(i - 1) == "so" or low(i - 1) == "this")):
                valence = valence * 1.25
            elif low(i - 3) == "without" and (low(i - 2) == "doubt" or low(i - 1) == "doubt"):
                pass
            elif _negated(low(i - 3)):
                valence = valence * N_SCALAR
        return valence

    @staticmethod
    def _special_idioms_check(valence, words_and_emoticons, i):
        """SentimentIntensityAnalyzer._special_idioms_check, lower-casing only the words it reads."""
        n = len(words_and_emoticons)
        w3, w2, w1, w0 = (str(words_and_emoticons[k]).lower() for k in (i - 3, i - 2, i - 1, i))
        onezero = f"{w1} {w0}"
        twoonezero = f"{w2} {w1} {w0}"
        twoone = f"{w2} {w1}"
        threetwoone = f"{w3} {w2} {w1}"
        threetwo = f"{w3} {w2}"
        for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
            if seq in SPECIAL_CASES:
                valence = SPECIAL_CASES[seq]
                break
        if n - 1 > i:
            zeroone = f"{w0} {str(words_and_emoticons[i + 1]).lower()}"
            if zeroone in SPECIAL_CASES:
                valence = SPECIAL_CASES[zeroone]
        if n - 1 > i + 1:
            zeroonetwo = (f"{w0} {str(words_and_emoticons[i + 1]).lower()} "
                          f"{str(words_and_emoticons[i + 2]).lower()}")
            if zeroonetwo in SPECIAL_CASES:
                valence = SPECIAL_CASES[zeroonetwo]
        # booster/dampener bi-grams such as 'sort of' or 'kind of'
        for n_gram in (threetwoone, threetwo, twoone):
            if n_gram in BOOSTER_DICT:
                valence = valence + BOOSTER_DICT[n_gram]
        return valence
