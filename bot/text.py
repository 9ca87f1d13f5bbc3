"""Text normalisation shared by the matcher and the validator, so both agree on what counts
as "the same question"."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

MAX_INPUT_CHARS = 500
"""Longer messages are cut before matching: a question is never that long, and the cap keeps
matching time bounded whatever someone pastes."""

_APOSTROPHES = re.compile(r"['’‘`´]")
# French elisions: "l'historique" is two words, "don't" is one.
_ELISION = re.compile(r"(?<!\w)(qu|[cdjlmnst])['’‘`´](?=\w)")
_NON_WORD = re.compile(r"[^\w]+|_+")
_REPEATS = re.compile(r"([^\W\d])\1{2,}")
_LETTER_DIGIT = re.compile(r"(?<=\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=\d)")


@lru_cache(maxsize=8192)
def normalize(text: str) -> str:
    """Lower-case, accent-free, punctuation- and emoji-free text with single spaces.

    "Hoooow   do I DELETE my account?? 😭" -> "how do i delete my account".
    """
    text = text[:MAX_INPUT_CHARS]
    if text.isascii():
        text = text.lower()  # the common case, without the per-character Unicode work
    else:
        text = unicodedata.normalize("NFKD", text)
        # Accents go, and so do invisible format characters (zero-width space and joiners,
        # soft hyphen, bidi marks): "del\u200bete" is "delete" (issue 9.21).
        text = "".join(
            ch for ch in text if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf"
        )
        text = text.casefold()
    text = _ELISION.sub(r"\1 ", text)
    text = _APOSTROPHES.sub("", text)
    text = _NON_WORD.sub(" ", text)
    text = _REPEATS.sub(r"\1", text)
    text = _LETTER_DIGIT.sub(" ", text)
    return " ".join(text.split())


_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "edly", "ed", "ly", "es", "s", "e")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A deliberately light, language-agnostic suffix stripper.

    It only needs to be consistent (the same stem for "deleting", "deleted", "delete"), since
    both the knowledge base and the question go through it.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if not word.isascii():
        return _stem_cyrillic(word) if _is_cyrillic(word) else word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                continue
            word = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                word += "y"
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


# Endings as they look after normalize() (й -> и, ё -> е), longest first.
_RU_REFLEXIVE = ("ся", "сь")
_RU_ENDINGS = tuple(
    sorted(
        """иями ями ами ыми ими ого его ому ему ение ения ении ений ением ание ания ании
    ить ать ять еть уть ешь ишь ете ите ет ит ут ют ат ят ил ила или ило ал ала али ало
    ои еи ии ыи ая яя ое ее ую юю ом ем ам ям ах ях ов ев ы и а я о е у ю ь""".split(),
        key=len,
        reverse=True,
    )
)


def _is_cyrillic(word: str) -> bool:
    return "\u0400" <= word[0] <= "\u04ff"


def _stem_cyrillic(word: str) -> str:
    """A light Russian suffix stripper: "удалить", "удаление", "удалю" -> "удал"."""
    for ending in _RU_REFLEXIVE:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            word = word[: -len(ending)]
            break
    for ending in _RU_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


# Long messages (issue 11.4): the question is often one clause in a story. Sentences end at
# . ! ? ; or a line break; a sentence splits again at a comma or dash that is followed by a
# word that starts a new clause ("..., so how do i close it").
_SENTENCE_END = re.compile(r"(?<=[.!?;…。])\s+|\n+|(?<=[.!?])(?=[^\W\d_])")
_CLAUSE_BREAK = re.compile(
    r"\s*(?:,|\s-+|\s—|\s–)\s*(?=(?:so|but|and|then|anyway|now|how|what|where|when|can|do|"
    r"pero|entonces|y|asi que|así que|cómo|como|qué|dónde|"
    r"mais|alors|donc|et|comment|où|mas|então|entao|e|aí|o que|"
    r"но|так что|и|а|поэтому|ну|как|что|где)\b)",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^(?:(?:so|but|and|then|anyway|now|ok|okay|well|pero|entonces|y|mais|alors|donc|et|mas|"
    r"então|entao|e|но|и|а|ну)\s+)*"
    r"(?:how|what|whats|when|where|why|which|who|can|could|do|does|did|is|are|will|would|should|"
    r"shall|may|i want|i need|i wanna|i would like|id like|help|please|pls|tell me|explain|"
    r"cómo|como|qué|que|cuándo|cuando|dónde|donde|por qué|puedo|se puede|quiero|necesito|"
    r"o que|quanto|posso|dá para|da pra|quero|preciso|"
    r"comment|quoi|quand|où|pourquoi|est-ce|puis-je|je veux|je voudrais|combien|"
    r"как|что|когда|где|почему|зачем|можно|могу|хочу|сколько|помогите|подскажите)\b",
    re.IGNORECASE,
)


_REPEATED = re.compile(r"(\w{1,3}?)\1{2,}")


def squeeze_repeats(words: str) -> str:
    """A run of three or more of the same one to three letters kept twice: laughter of any
    length ("jajajaja", "хахахаха") reads as "jaja", "хаха"."""
    return _REPEATED.sub(r"\1\1", words)


def clauses(text: str, min_words: int = 2) -> list[str]:
    """The sentences and clauses of a message, in order (each at least `min_words` words)."""
    parts: list[str] = []
    for sentence in _SENTENCE_END.split(text[:MAX_INPUT_CHARS]):
        for clause in _CLAUSE_BREAK.split(sentence):
            clause = clause.strip(" ,-—–")
            if len(clause.split()) >= min_words:
                parts.append(clause)
    return parts


# "... and how long does it take", "... y cuánto tarda", "... и сколько это займёт": "and"
# before a question word starts another question
_AND_ASKS = re.compile(
    r"\s+(?:and|y|et|e|и|а)\s+(?=(?:how|what|whats|when|where|why|can|will|do|does|is|"
    r"cómo|como|qué|cuánto|cuanto|cuándo|cuando|dónde|donde|puedo|se puede|"
    r"comment|combien|quand|où|est-ce|quel|quelle|je peux|peut-on|on peut|"
    r"quanto|quando|o que|onde|posso|dá pra|da pra|"
    r"как|сколько|что|когда|где|можно|могу)\b)",
    re.IGNORECASE,
)


def asked_in_turn(text: str) -> list[str]:
    """The questions of a message that asks them one after the other joined by "and" ("how do
    i delete my account and how long does it take"): each part at least 2 words, the first a
    question itself; else no parts."""
    parts = [part.strip(" ,") for part in _AND_ASKS.split(text[:MAX_INPUT_CHARS])]
    if len(parts) < 2 or not is_question_like(parts[0]):
        return []
    if any(len(part.split()) < 2 for part in parts):
        return []
    return parts


def is_question_like(clause: str) -> bool:
    """Whether a clause asks something or asks for something (a question mark, a question
    word, or a request such as "i want to..."), as opposed to telling a story."""
    stripped = clause.strip()
    return (
        stripped.endswith(("?", "¿"))
        or stripped.startswith("¿")
        or bool(_QUESTION_START.match(stripped.lstrip("¿¡ ")))
    )


class SynonymRewriter:
    """Rewrite every listed variant to its canonical word, longest phrases first, in text that
    has been through `normalize()` (words of \\w characters, single spaces).

    Word-based rather than one big regex: it gives the same text as substituting
    `(?<!\\w)(?:variants, longest first)(?!\\w)` on normalised text, but it is plain dicts, so
    the pickled index cache (bot.cache) loads it without compiling a pattern (~10 ms of every
    `helpbot ask`).
    """

    __slots__ = ("_lengths", "_table")

    def __init__(self, pairs: Iterable[tuple[str, tuple[str, ...]]]) -> None:
        table: dict[str, str] = {}
        for canonical, variants in pairs:
            for variant in variants:
                key = normalize(variant)
                if key and key != normalize(canonical):
                    table[key] = normalize(canonical)
        self._table = table
        # First word of a variant -> the word counts of the variants starting with it, longest
        # first: most words start none, so they cost one dict lookup.
        lengths: dict[str, set[int]] = {}
        for key in table:
            words = key.split(" ")
            lengths.setdefault(words[0], set()).add(len(words))
        self._lengths = {word: sorted(n, reverse=True) for word, n in lengths.items()}

    def __call__(self, text: str) -> str:
        lengths = self._lengths
        if not lengths:
            return text
        words = text.split(" ")
        if lengths.keys().isdisjoint(words):
            return text
        table = self._table
        out: list[str] = []
        i, count = 0, len(words)
        while i < count:
            for n in lengths.get(words[i], ()):
                if i + n <= count:
                    found = table.get(words[i] if n == 1 else " ".join(words[i : i + n]))
                    if found is not None:
                        out.append(found)
                        i += n
                        break
            else:
                out.append(words[i])
                i += 1
        return " ".join(out)

    def __getstate__(self) -> tuple[dict[str, str], dict[str, list[int]]]:
        return self._table, self._lengths

    def __setstate__(self, state: tuple[dict[str, str], dict[str, list[int]]]) -> None:
        self._table, self._lengths = state
