"""Verdicts a message earns by what it says outright, before any scoring.

- Small talk ("hi", "thanks", "are you a bot"): a message that is one of a `smalltalk` item's
  examples (after normalisation; emoji each once, without skin tones) gets that item at once.
- Refusal kinds' `signals:` (guide.yaml): a question naming another site ("ebay") or a break-in
  ("hacked") is that kind, whatever its other words say, unless it also names one of the kind's
  "!" words ("aliexpress": then it is about this site after all).

Each kind's phrases are indexed (`Phrases`), so a question costs a few set and dict lookups
per word instead of trying every phrase at every word position; the normalised examples and
phrases are kept in `knowledge.prepared`, so the index cache (bot/cache.py) stores them too.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable

from bot.knowledge import BASE_LANG, Knowledge
from bot.text import normalize, squeeze_repeats

_Phrases = list[tuple[str, ...]]

PREFIX_LETTERS = 5
"""A phrase's last word of this many letters or more also matches as the start of a word
("госуслуг" in "госуслугах")."""


# Variation selectors, the zero-width joiner, skin tones and the gender signs of joined emoji:
# "❤️" is "❤", "👍🏽" is "👍", "🤷‍♂️" is "🤷".
_EMOJI_MARKS = frozenset({"\ufe0e", "\ufe0f", "\u200d", "\u2640", "\u2642"}) | {
    chr(c) for c in range(0x1F3FB, 0x1F400)
}


def talk_key(text: str) -> str:
    """What a small-talk example or message is compared as: its normalised words, with a
    syllable repeated three times or more kept twice ("jajajaja" and "jajaja" are "jaja",
    "хахахаха" is "хаха"), or for a message of emoji only its emoji, each once and without
    punctuation ("🙏🙏" is "🙏", "❤️" is "❤", "👍!" is "👍")."""
    words = normalize(text)
    if words:
        return squeeze_repeats(words)
    kept = [ch for ch in text.strip() if ch not in _EMOJI_MARKS and not ch.isspace()]
    # punctuation beside emoji is tone, not content: "🤖?" is "🤖", "👍!!" is "👍"
    emoji = [ch for ch in kept if not unicodedata.category(ch).startswith("P")]
    return "".join(dict.fromkeys(emoji or kept))


class Phrases:
    """Phrases of words, found in a message's words (`names`): whole words in order, the last
    one also as the start of a word when it has `PREFIX_LETTERS` letters or more."""

    __slots__ = ("by_first", "exact", "prefixes")

    def __init__(self, phrases: Iterable[tuple[str, ...]]) -> None:
        exact: set[str] = set()
        prefixes: set[str] = set()
        by_first: dict[str, list[tuple[str, ...]]] = {}
        for phrase in phrases:
            if len(phrase) > 1:
                by_first.setdefault(phrase[0], []).append(phrase)
            elif len(phrase[0]) >= PREFIX_LETTERS:
                prefixes.add(phrase[0])  # a word starts with itself: exact matches too
            else:
                exact.add(phrase[0])
        self.exact = frozenset(exact)
        self.prefixes = tuple(sorted(prefixes))
        self.by_first = {first: tuple(found) for first, found in by_first.items()}

    def names(self, tokens: list[str]) -> bool:
        """Whether `tokens` (a normalised message's words) contain one of the phrases."""
        if not self.exact.isdisjoint(tokens):
            return True
        if self.prefixes and any(token.startswith(self.prefixes) for token in tokens):
            return True
        if self.by_first:
            for i, token in enumerate(tokens):
                for phrase in self.by_first.get(token, ()):
                    end = i + len(phrase)
                    if end > len(tokens) or tokens[i + 1 : end - 1] != list(phrase[1:-1]):
                        continue
                    word, last = tokens[end - 1], phrase[-1]
                    if word == last or (len(last) >= PREFIX_LETTERS and word.startswith(last)):
                        return True
        return False


MAX_TALK_WORDS = 5  # longer messages are small talk only as one of the examples


class Signals:
    """The small-talk examples and refusal signals of one knowledge base, by language."""

    def __init__(self, knowledge: Knowledge) -> None:
        prepared = knowledge.prepared.get("signals")
        if prepared is None:
            prepared = knowledge.prepared["signals"] = _prepare(knowledge)
        self._talk: dict[str, str]
        self._signals: dict[str, dict[str, tuple[_Phrases, _Phrases]]]
        self._talk, self._signals = prepared
        # Each small-talk item's words (all its examples'), for "hey there" and "chao, hasta
        # luego": an example said with more of the same item's words (see `talk`).
        words: dict[str, set[str]] = {}
        for key, item in self._talk.items():
            words.setdefault(item, set()).update(key.split())
        self._talk_words = {item: frozenset(found) for item, found in words.items()}
        self._all_talk_words = frozenset().union(*self._talk_words.values())
        # Kinds that yield to "!" words name other things (another site): see Matcher.evidence.
        self.yielding_kinds = frozenset(
            kind
            for by_kind in self._signals.values()
            for kind, (_, unless) in by_kind.items()
            if unless
        )
        # (kind, its phrases, its "!" phrases) in the order they are tried, per language order
        self._indexes: dict[tuple[str, ...], tuple[tuple[str, Phrases, Phrases], ...]] = {}

    def talk(self, message: str) -> str | None:
        """The small-talk item `message` is an example of, if any: the example itself, or a
        short message that holds an example and otherwise only words of the same item's
        examples ("hey there" with "hey" and "hello there"; "chao, hasta luego" with "chao" and
        "hasta luego"), whatever their order."""
        key = talk_key(message)
        found = self._talk.get(key)
        if found is not None or " " not in key:
            return found
        words = key.split()
        if len(words) > MAX_TALK_WORDS or not self._all_talk_words.issuperset(words):
            return None
        items = {
            item
            for start in range(len(words))
            for end in range(start + 1, len(words) + 1)
            if (item := self._talk.get(" ".join(words[start:end]))) is not None
            and self._talk_words[item].issuperset(words)
        }
        return items.pop() if len(items) == 1 else None

    def refusal_kind(
        self, question: str, langs: frozenset[str], rewrite: Callable[[str], str]
    ) -> str | None:
        """The refusal kind one of whose signals the question names, as written or with the
        knowledge base's synonyms applied (`rewrite`)."""
        normalized = normalize(question)
        if not normalized:
            return None
        texts = (normalized.split(), rewrite(normalized).split())
        order = tuple(sorted(langs, key=lambda code: code != BASE_LANG))
        kinds = self._indexes.get(order)
        if kinds is None:
            kinds = self._indexes[order] = self._index(order)
        for kind, words, unless in kinds:
            if any(words.names(tokens) for tokens in texts) and not any(
                unless.names(tokens) for tokens in texts
            ):
                return kind
        return None

    def _index(self, order: tuple[str, ...]) -> tuple[tuple[str, Phrases, Phrases], ...]:
        """Each kind's phrases in the languages of `order`, kinds in the order they are tried
        (first seen in the base language, then in the others)."""
        kinds: dict[str, tuple[_Phrases, _Phrases]] = {}
        for lang in order:
            for kind, (words, unless) in self._signals.get(lang, {}).items():
                merged = kinds.setdefault(kind, ([], []))
                merged[0].extend(words)
                merged[1].extend(unless)
        return tuple(
            (kind, Phrases(words), Phrases(unless)) for kind, (words, unless) in kinds.items()
        )


def _prepare(
    knowledge: Knowledge,
) -> tuple[dict[str, str], dict[str, dict[str, tuple[_Phrases, _Phrases]]]]:
    """The normalised small-talk examples (text -> item id) and, per language and refusal kind,
    its signal phrases and its "!" phrases, as word tuples."""
    talk: dict[str, str] = {}
    for pack in knowledge.packs.values():
        for item in pack.smalltalk:
            for text in item.examples:
                talk.setdefault(talk_key(text), item.id)
    signals: dict[str, dict[str, tuple[_Phrases, _Phrases]]] = {}
    for pack in knowledge.packs.values():
        for refusal in pack.refusals:
            words, unless = signals.setdefault(pack.lang, {}).setdefault(refusal.id, ([], []))
            for signal in refusal.signals:
                target = unless if signal.startswith("!") else words
                phrase = tuple(normalize(signal.removeprefix("!")).split())
                if phrase:
                    target.append(phrase)
    return talk, signals
