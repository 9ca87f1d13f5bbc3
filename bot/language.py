"""Which language a message is written in, when the text makes that clear.

Cheap and dependency-free: the script (Cyrillic means Russian here), letters only some
languages use (ñ ¿ ã õ), then which language's own words (its stopwords and the words of its
alternate questions and small-talk examples, less the one-word walkthrough answers) the message
uses most. Short or mixed text returns None, and the caller falls back to the platform's locale,
then English.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

from bot.knowledge import Knowledge
from bot.stopwords import STOPWORDS
from bot.text import normalize, squeeze_repeats

# Letters only one of the languages uses ("ê" and "ô" are French and Portuguese: "três")
_MARKERS = {"es": "ñ¿¡", "pt": "ãõ", "fr": "èëîûœ"}
_WORD = re.compile(r"[^\W\d_]+")
_ASCII_LETTER = re.compile(r"[A-Za-z]")


class LanguageDetector:
    def __init__(self, knowledge: Knowledge) -> None:
        self.languages = knowledge.languages
        cached = knowledge.prepared.get("language")
        if cached is not None:  # kept by bot.cache with the knowledge base
            self._counts: dict[str, Counter[str]] = cached
            kept = knowledge.prepared.get("language_words")
            self._langs_of: dict[str, tuple[str, ...]] = self._index() if kept is None else kept
            return
        counts: dict[str, Counter[str]] = {}
        for lang, pack in knowledge.packs.items():
            words: Counter[str] = Counter({word: 1 for word in STOPWORDS.get(lang, ())})
            for entry in pack.entries.values():
                for question in entry.questions:
                    words.update(normalize(question).split())
            for talk in pack.smalltalk:  # "oi", "valeu", "спасибо": short, but clearly one language
                for example in talk.examples:
                    words.update(squeeze_repeats(normalize(example)).split())
            counts[lang] = words
        shared = set.intersection(*(set(c) for c in counts.values())) if len(counts) > 1 else set()
        for word in shared:  # brand names and the like say nothing about the language
            for words in counts.values():
                del words[word]
        # One-word walkthrough answers ("hecho", "feito", "continue", "non") work in every
        # language and keep the conversation's (bot.reply_language): they must not mark one.
        # A guide line that happened to use one ("login feito", "je continue") made it switch
        # an English walkthrough's replies.
        for word in _walkthrough_words(knowledge):
            for words in counts.values():
                words.pop(word, None)
        self._counts = counts
        self._langs_of = self._index()

    def _index(self) -> dict[str, tuple[str, ...]]:
        """Each word and the languages (Russian aside: it goes by its script) whose vocabulary
        has it: one lookup per word in `detect` instead of one per word and language."""
        having: dict[str, list[str]] = {}
        for lang in self.languages:
            if lang != "ru":
                for word, count in self._counts.get(lang, Counter()).items():
                    if count > 0:
                        having.setdefault(word, []).append(lang)
        shared: dict[tuple[str, ...], tuple[str, ...]] = {}  # ~20 distinct tuples, kept once
        return {
            word: shared.setdefault(tuple(langs), tuple(langs)) for word, langs in having.items()
        }

    def keep_counts(self, knowledge: Knowledge) -> None:
        """Store the word counts and the word -> languages table in `knowledge.prepared` (for
        bot.cache: the table takes a few ms to build, a fraction of that to unpickle)."""
        knowledge.prepared["language"] = self._counts
        knowledge.prepared["language_words"] = self._langs_of

    def detect(
        self, text: str, ignore: tuple[str, str] | None = None, margin: float = 1.0
    ) -> str | None:
        """The language `text` is clearly in, or None. `ignore=(lang, question)` leaves that
        question's own words out of `lang`'s vocabulary (used when checking the questions)."""
        own: Counter[str] = Counter()
        if ignore is not None:
            own = Counter(normalize(ignore[1]).split())
        sample = text[:500]
        scores = {lang: 0.0 for lang in self.languages if lang != "ru"}
        if sample.isascii():  # the common case: no Cyrillic, no marker letters to look for
            if _ASCII_LETTER.search(sample) is None:
                return None
        else:
            letters = [ch for ch in sample if ch.isalpha()]
            if not letters:
                return None
            if sum(1 for ch in letters if _is_cyrillic(ch)) * 2 > len(letters):
                return "ru" if "ru" in self.languages else None
            lowered = sample.lower()
            for lang, marks in _MARKERS.items():
                if lang in scores and any(mark in lowered for mark in marks):
                    scores[lang] += 1.5
        words = _WORD.findall(normalize(sample))
        if any(len(w) == 1 for w in words):  # only one-letter words can be a mashed letter
            # "yyy", "eee": one letter mashed, which normalising made the Spanish "y" (and)
            # or the Portuguese "e"; such a letter says nothing about the language
            mashed = {
                w[0] for w in _WORD.findall(sample.lower()) if len(w) >= 3 and len(set(w)) == 1
            }
            words = [w for w in words if len(w) > 1 or w not in mashed]
        if ignore is None:
            langs_of = self._langs_of
            for word in words:
                having = langs_of.get(word, ())
                squeezed = _squeezed(word)  # "jajajaja": the small talk's "jaja"
                if squeezed != word and squeezed in langs_of:
                    having = tuple(dict.fromkeys(having + langs_of[squeezed]))
                for lang in having:
                    scores[lang] += 1.0
            return _clear_winner(scores, margin)
        empty: Counter[str] = Counter()
        tables = [(lang, self._counts.get(lang, empty)) for lang in scores]
        for word in words:
            squeezed = _squeezed(word)  # "jajajaja": the small talk's "jaja"
            for lang, counts in tables:
                # dict.get, not counts[word]: a Counter's miss runs Python code (__missing__).
                count = counts.get(word) or counts.get(squeezed) or 0
                if lang == ignore[0]:
                    count -= own[word]
                if count > 0:
                    scores[lang] += 1.0
        return _clear_winner(scores, margin)


def _clear_winner(scores: dict[str, float], margin: float) -> str | None:
    """The best-scoring language, if it scores at least 1 and `margin` above the next."""
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    if not ranked or ranked[0][1] < 1.0:
        return None
    if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < margin:
        return None  # too close to call
    return ranked[0][0]


def _walkthrough_words(knowledge: Knowledge) -> set[str]:
    """The one-word phrases of every language's ui.yaml `words_*` lists, normalised. Not
    `words_polite`: "merci", "gracias", "por favor" do say which language someone writes."""
    found: set[str] = set()
    for pack in knowledge.packs.values():
        for key, text in pack.ui.items():
            if key.startswith("words_") and key != "words_polite":
                found.update(w for w in (normalize(p) for p in text.split(",")) if " " not in w)
    return found - {""}


@lru_cache(maxsize=8192)
def _squeezed(word: str) -> str:
    """squeeze_repeats, remembered: the same words come back in message after message."""
    return squeeze_repeats(word)


@lru_cache(maxsize=4096)
def _is_cyrillic(ch: str) -> bool:
    return "CYRILLIC" in unicodedata.name(ch, "")


def from_locale(locale: str | None, languages: list[str]) -> str | None:
    """'pt-BR' -> 'pt', 'es_419' -> 'es', when the knowledge base has that language."""
    if not locale:
        return None
    code = re.split(r"[-_]", str(locale).lower(), maxsplit=1)[0]
    return code if code in languages else None


def wrong_language_questions(
    knowledge: Knowledge, detector: LanguageDetector | None = None
) -> list[str]:
    """Alternate questions that read clearly as another language than their folder's, e.g. an
    English question left untranslated in es/guide.yaml. Quoting an interface label is fine as
    long as the rest of the question is in the folder's language."""
    detector = detector or LanguageDetector(knowledge)
    found = []
    for lang, pack in knowledge.packs.items():
        for entry in pack.entries.values():
            for question in entry.questions:
                detected = detector.detect(question, ignore=(lang, question), margin=2.0)
                if detected is not None and detected != lang:
                    found.append(
                        f"{lang}/guide.yaml: entry '{entry.id}': question '{question}' looks like {detected}, not {lang}"
                    )
    return found
