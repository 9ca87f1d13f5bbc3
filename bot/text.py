"""Text normalisation shared by the matcher and the validator, so both agree on what counts
as "the same question"."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MAX_INPUT_CHARS = 500
"""Longer messages are cut before matching: a question is never that long, and the cap keeps
matching time bounded whatever someone pastes."""

_APOSTROPHES = re.compile(r"['’‘`´]")
_NON_WORD = re.compile(r"[^\w]+|_+")
_REPEATS = re.compile(r"([^\W\d])\1{2,}")
_LETTER_DIGIT = re.compile(r"(?<=\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=\d)")


def normalize(text: str) -> str:
    """Lower-case, accent-free, punctuation- and emoji-free text with single spaces.

    "Hoooow   do I DELETE my account?? 😭" -> "how do i delete my account".
    """
    text = text[:MAX_INPUT_CHARS]
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold()
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
    if len(word) <= 3 or not word.isalpha() or not word.isascii():
        return word
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
