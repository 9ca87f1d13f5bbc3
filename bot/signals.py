"""Verdicts a message earns by what it says outright, before any scoring.

- Small talk ("hi", "thanks", "are you a bot"): a message that is one of a `smalltalk` item's
  examples (after normalisation; emoji each once, without skin tones) gets that item at once.
- Refusal kinds' `signals:` (guide.yaml): a question naming another site ("ebay") or a break-in
  ("hacked") is that kind, whatever its other words say, unless it also names one of the kind's
  "!" words ("aliexpress": then it is about this site after all).

All the kinds' phrases are indexed together (`Phrases`, labelled by kind), so a question costs
one pass of a few dict lookups per word instead of trying every phrase at every position; the
normalised examples and phrases are kept in `knowledge.prepared`, so the index cache
(bot/cache.py) stores them too.
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
    """Phrases of words, found in a message's words (`names`, `named`): whole words in order,
    the last one also as the start of a word when it has `PREFIX_LETTERS` letters or more.
    Each phrase may carry a label, so that one pass over a message finds the labels of every
    phrase it names (all the refusal kinds at once, in Signals.refusal_kind)."""

    __slots__ = ("by_first", "exact", "prefix_lengths", "prefixes", "starts")

    def __init__(
        self, phrases: Iterable[tuple[str, ...]], labels: Iterable[str] | None = None
    ) -> None:
        exact: dict[str, set[str]] = {}
        prefixes: dict[str, set[str]] = {}
        by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        labelled = (
            zip(labels, phrases, strict=True)
            if labels is not None
            else (("", phrase) for phrase in phrases)
        )
        for label, phrase in labelled:
            if len(phrase) > 1:
                by_first.setdefault(phrase[0], []).append((phrase, label))
            elif len(phrase[0]) >= PREFIX_LETTERS:
                prefixes.setdefault(phrase[0], set()).add(label)  # a word starts with itself
            else:
                exact.setdefault(phrase[0], set()).add(label)
        self.exact = {word: frozenset(found) for word, found in exact.items()}
        self.prefixes = {word: frozenset(found) for word, found in prefixes.items()}
        self.starts = tuple(sorted(prefixes))  # str.startswith takes them all in one call
        self.prefix_lengths = tuple(sorted({len(word) for word in prefixes}))
        self.by_first = {first: tuple(found) for first, found in by_first.items()}

    def names(self, tokens: list[str]) -> bool:
        """Whether `tokens` (a normalised message's words) contain one of the phrases."""
        return bool(self.named(tokens))

    def named(self, tokens: list[str]) -> set[str]:
        """The labels of the phrases that `tokens` (a normalised message's words) contain."""
        found: set[str] = set()
        exact, prefixes, starts, by_first = self.exact, self.prefixes, self.starts, self.by_first
        count = len(tokens)
        for i, token in enumerate(tokens):
            labels = exact.get(token)
            if labels is not None:
                found.update(labels)
            if starts and token.startswith(starts):
                for length in self.prefix_lengths:
                    if length > len(token):
                        break
                    labels = prefixes.get(token[:length])
                    if labels is not None:
                        found.update(labels)
            for phrase, label in by_first.get(token, ()):
                end = i + len(phrase)
                if label in found or end > count or tokens[i + 1 : end - 1] != list(phrase[1:-1]):
                    continue
                word, last = tokens[end - 1], phrase[-1]
                if word == last or (len(last) >= PREFIX_LETTERS and word.startswith(last)):
                    found.add(label)
        return found


MAX_TALK_WORDS = 5  # longer messages are small talk only as one of the examples
NEAR_TALK = 88
"""How like a small-talk example (rapidfuzz ratio of the talk keys, 0-100) a short message
with no answer must be to get that item's reply: "you're useless" for "you are useless",
"thnak you so much" for "thank you so much"."""
NEAR_TALK_CHARS = 6  # shorter keys differ in a letter or two from anything ("no" and "ok")


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
        self._talk_keys: list[str] | None = None  # for talk_near, made on first use
        # Kinds that yield to "!" words name other things (another site): see Matcher.evidence.
        self.yielding_kinds = frozenset(
            kind
            for by_kind in self._signals.values()
            for kind, (_, unless) in by_kind.items()
            if unless
        )
        # Per language order: the kinds in the order they are tried, and all their phrases
        # in one index labelled by kind (see `_index`).
        self._indexes: dict[tuple[str, ...], tuple[tuple[str, ...], Phrases]] = {}

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

    def talk_near(self, message: str) -> str | None:
        """The small-talk item of the example `message` is nearly (a contraction, a typo):
        asked only of a short message the knowledge base has no answer for, so a question
        never turns into small talk."""
        key = talk_key(message)
        if len(key) < NEAR_TALK_CHARS or len(key.split()) > MAX_TALK_WORDS:
            return None
        from rapidfuzz import fuzz, process

        if self._talk_keys is None:
            self._talk_keys = [k for k in self._talk if len(k) >= NEAR_TALK_CHARS]
        found = process.extractOne(key, self._talk_keys, scorer=fuzz.ratio, score_cutoff=NEAR_TALK)
        return self._talk[found[0]] if found is not None else None

    def refusal_kind(
        self,
        question: str,
        langs: frozenset[str],
        rewrite: Callable[[str], str],
        exclude: frozenset[str] = frozenset(),
    ) -> str | None:
        """The refusal kind one of whose signals the question names, as written or with the
        knowledge base's synonyms applied (`rewrite`); none of `exclude`."""
        named = self.refusal_kinds(question, langs, rewrite)
        return next((kind for kind in named if kind not in exclude), None)

    def refusal_kinds(
        self, question: str, langs: frozenset[str], rewrite: Callable[[str], str]
    ) -> tuple[str, ...]:
        """Every refusal kind the question names by a signal and none of its "!" words, in
        the order they are tried (see `refusal_kind`)."""
        normalized = normalize(question)
        if not normalized:
            return ()
        order = tuple(sorted(langs, key=lambda code: code != BASE_LANG))
        index = self._indexes.get(order)
        if index is None:
            index = self._indexes[order] = self._index(order)
        kinds, phrases = index
        rewritten = rewrite(normalized)
        named = phrases.named(normalized.split())
        if rewritten != normalized:
            named |= phrases.named(rewritten.split())
        if not named:
            return ()
        return tuple(kind for kind in kinds if kind in named and "!" + kind not in named)

    def without(self, question: str, kind: str, langs: frozenset[str]) -> str:
        """`question` normalised, without the words of `kind`'s signal phrases (whole words,
        or a word a one-word signal starts): what is left to match ("can i delete it from
        the mobile app" without "mobile app")."""
        tokens = normalize(question).split()
        for lang in langs:
            for phrase in self._signals.get(lang, {}).get(kind, ([], []))[0]:
                size = len(phrase)
                i = 0
                while i + size <= len(tokens):
                    window = tokens[i : i + size]
                    same = window[:-1] == list(phrase[:-1]) and (
                        window[-1] == phrase[-1]
                        or (len(phrase[-1]) >= PREFIX_LETTERS and window[-1].startswith(phrase[-1]))
                    )
                    if same:
                        del tokens[i : i + size]
                    else:
                        i += 1
        return " ".join(tokens)

    def _index(self, order: tuple[str, ...]) -> tuple[tuple[str, ...], Phrases]:
        """The kinds in the order they are tried (first seen in the base language, then in
        the others), and every kind's phrases in the languages of `order` in one index,
        labelled with the kind ("!" and the kind for its "!" phrases)."""
        kinds: dict[str, None] = {}
        phrases: list[tuple[str, ...]] = []
        labels: list[str] = []
        for lang in order:
            for kind, (words, unless) in self._signals.get(lang, {}).items():
                kinds[kind] = None
                phrases += words + unless
                labels += [kind] * len(words) + ["!" + kind] * len(unless)
        return tuple(kinds), Phrases(phrases, labels)


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
