"""Verdicts a message earns by what it says outright, before any scoring.

- Small talk ("hi", "thanks", "are you a bot"): a message that is one of a `smalltalk` item's
  examples (after normalisation, or as typed for an emoji) gets that item at once.
- Refusal kinds' `signals:` (guide.yaml): a question naming another site ("ebay") or a break-in
  ("hacked") is that kind, whatever its other words say, unless it also names one of the kind's
  "!" words ("aliexpress": then it is about this site after all).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.knowledge import BASE_LANG, Knowledge
from bot.text import normalize

_Phrases = list[tuple[str, ...]]


class Signals:
    """The small-talk examples and refusal signals of one knowledge base, by language."""

    def __init__(self, knowledge: Knowledge) -> None:
        self._talk: dict[str, str] = {}
        for pack in knowledge.packs.values():
            for talk in pack.smalltalk:
                for text in talk.examples:
                    self._talk.setdefault(normalize(text) or text.strip(), talk.id)
        self._signals: dict[str, dict[str, tuple[_Phrases, _Phrases]]] = {}
        for pack in knowledge.packs.values():
            for refusal in pack.refusals:
                words, unless = self._signals.setdefault(pack.lang, {}).setdefault(
                    refusal.id, ([], [])
                )
                for signal in refusal.signals:
                    target = unless if signal.startswith("!") else words
                    phrase = tuple(normalize(signal.removeprefix("!")).split())
                    if phrase:
                        target.append(phrase)
        # Kinds that yield to "!" words name other things (another site): see Matcher.evidence.
        self.yielding_kinds = frozenset(
            kind
            for by_kind in self._signals.values()
            for kind, (_, unless) in by_kind.items()
            if unless
        )

    def talk(self, message: str) -> str | None:
        """The small-talk item `message` is an example of, if any."""
        return self._talk.get(normalize(message) or message.strip())

    def refusal_kind(
        self, question: str, langs: frozenset[str], rewrite: Callable[[str], str]
    ) -> str | None:
        """The refusal kind one of whose signals the question names, as written or with the
        knowledge base's synonyms applied (`rewrite`)."""
        normalized = normalize(question)
        if not normalized:
            return None
        texts = (normalized.split(), rewrite(normalized).split())
        kinds: dict[str, tuple[_Phrases, _Phrases]] = {}
        for lang in sorted(langs, key=lambda code: code != BASE_LANG):
            for kind, (words, unless) in self._signals.get(lang, {}).items():
                merged = kinds.setdefault(kind, ([], []))
                merged[0].extend(words)
                merged[1].extend(unless)
        for kind, (words, unless) in kinds.items():
            if any(_names(tokens, words) for tokens in texts) and not any(
                _names(tokens, unless) for tokens in texts
            ):
                return kind
        return None


def _names(tokens: list[str], phrases: _Phrases) -> bool:
    """Whether `tokens` contain one of `phrases` word for word; a phrase's last word of five
    letters or more also matches as the start of a word ("госуслуг" in "госуслугах")."""
    for phrase in phrases:
        n = len(phrase)
        head, last = phrase[:-1], phrase[-1]
        for i in range(len(tokens) - n + 1):
            if tuple(tokens[i : i + n - 1]) != head:
                continue
            token = tokens[i + n - 1]
            if token == last or (len(last) >= 5 and token.startswith(last)):
                return True
    return False
