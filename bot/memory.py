"""What the engine remembers between one person's messages, in this process's memory only.

Neither memory is ever written to the session store or the events: both hold entry ids (never
a question's text), expire on their own, and are bounded, so a busy bot cannot grow them.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from bot.limits import PENDING_MAX, PENDING_SECONDS

CONTEXT_TTL = 30 * 60.0
"""How long the last answered entry is remembered for follow-ups ("and then?")."""
CONTEXT_MAX = 100_000
"""At most this many people's last answered entries are held (oldest dropped first)."""
ASKED = "#asked:"
"""Kept in ContextMemory instead of an entry id when the last reply asked a yes/no question
("shall we go step by step?", "erase everything?", "pass this on to a person?"), followed by
which one (Turn.asking): no entry id contains "#"."""


class ContextMemory:
    """session key -> the last entry answered outside a walkthrough, for CONTEXT_TTL, so a
    follow-up ("and then?", "where is that") is read against it. /forget drops it."""

    def __init__(self) -> None:
        # key -> (entry, when, whether the person's last message was answered with it)
        self._kept: OrderedDict[str, tuple[str, float, bool]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def recall(self, key: str, now: float) -> str | None:
        """The entry last answered to this person, if within CONTEXT_TTL."""
        kept = self._kept.get(key)
        if kept is None or now - kept[1] > CONTEXT_TTL:
            self._kept.pop(key, None)
            return None
        return kept[0]

    def just_answered(self, key: str) -> bool:
        """Whether the kept entry is the answer to this person's last message ("yes" to the
        overview's offer counts only then, not after a "thanks" in between)."""
        kept = self._kept.get(key)
        return kept is not None and kept[2]

    def remember(self, key: str, entry_id: str | None, now: float, just: bool = False) -> None:
        """Keep `entry_id` for this person (None forgets), `just` answered or carried on;
        drops the expired and the oldest."""
        self._kept.pop(key, None)
        if entry_id is None:
            return
        self._kept[key] = (entry_id, now, just)
        while len(self._kept) > CONTEXT_MAX or (
            self._kept and now - next(iter(self._kept.values()))[1] > CONTEXT_TTL
        ):
            self._kept.popitem(last=False)


class AlternativesMemory:
    """Rating token -> the runner-up entry ids of that answer's question, so a 👎 can offer
    "did you mean" without keeping the question. Entry ids only: nothing about the person."""

    def __init__(self) -> None:
        self._kept: OrderedDict[str, tuple[float, tuple[str, ...]]] = OrderedDict()

    def remember(self, token: str, entry_ids: tuple[str, ...]) -> None:
        self._kept[token] = (time.monotonic(), entry_ids)
        while len(self._kept) > PENDING_MAX:
            self._kept.popitem(last=False)

    def remember_runners_up(
        self,
        token: str,
        ranked: tuple[tuple[str, float], ...],
        answered: str | None,
        floor: float,
        otherwise: tuple[str, ...] = (),
    ) -> None:
        """Keep the best three entries of an answer's ranking besides the one it answered with
        (those scoring at least `floor`, `Thresholds.offer`), else `otherwise` (the fallback's
        topics) without it: a 👎 must not offer the answer it was given. Taken from the
        ranking the answer was made from: ranking the question again with completions of its
        last word (`Matcher.search`) cost as much as answering it."""
        runners_up = tuple(e for e, score in ranked if e != answered and score >= floor)
        if not runners_up:
            runners_up = tuple(e for e in otherwise if e != answered)
        self.remember(token, runners_up[:3])

    def get(self, token: str) -> tuple[str, ...] | None:
        """The runners-up kept for `token`, or None when unknown or older than PENDING_SECONDS."""
        found = self._kept.get(token)
        if found is None or time.monotonic() - found[0] > PENDING_SECONDS:
            return None
        return found[1]

    def clear(self) -> None:
        """Forget everything (after a reload: the ids belonged to the old knowledge)."""
        self._kept.clear()
