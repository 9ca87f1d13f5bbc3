"""What the handoff feature remembers about a conversation, in this process's memory only.

Per person: their last few typed messages (for the summary staff see, never written to the
store) and how many fallbacks they met in a row (the second one offers a person). Both are
bounded in age and in people, and /forget drops both. Kept apart from `bot.handoff.Handoffs`,
which decides what to offer and open; this only remembers and renders.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.markup import escape

if TYPE_CHECKING:
    from bot.engine import Turn
    from bot.handoff import Summary
    from bot.knowledge import Knowledge

MAX_QUESTIONS = 5
"""The summary carries at most this many of the person's last messages."""
MAX_QUESTION_CHARS = 500
"""Each message in the summary is cut to this many characters."""
CONVERSATION_SECONDS = 2 * 3600.0
"""Messages older than this are no longer "this conversation" and never reach a summary."""
MAX_PEOPLE = 100_000
"""At most this many people's last messages and fallback counts are held in memory."""


class ConversationMemory:
    """The last messages and the fallbacks in a row, per session key, oldest people evicted
    first beyond `MAX_PEOPLE`."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.recent: OrderedDict[str, list[tuple[float, str]]] = OrderedDict()
        self.fallbacks: OrderedDict[str, int] = OrderedDict()

    def remember(self, key: str, text: str) -> None:
        """Keep `text` (cut to `MAX_QUESTION_CHARS`) as one of the person's last messages."""
        now = self.clock()
        kept = [(t, s) for t, s in self.recent.pop(key, []) if now - t < CONVERSATION_SECONDS]
        kept.append((now, text[:MAX_QUESTION_CHARS]))
        self.recent[key] = kept[-MAX_QUESTIONS:]
        while len(self.recent) > MAX_PEOPLE:
            self.recent.popitem(last=False)

    def questions(self, key: str) -> tuple[str, ...]:
        """The person's last messages of this conversation, oldest first."""
        now = self.clock()
        kept = [s for t, s in self.recent.get(key, []) if now - t < CONVERSATION_SECONDS]
        return tuple(kept[-MAX_QUESTIONS:])

    def fallback(self, key: str, enough: int) -> bool:
        """Count one more fallback in a row; True (and the count starts again) at `enough`."""
        count = self.fallbacks.pop(key, 0) + 1
        if count >= enough:
            return True
        self.fallbacks[key] = count
        while len(self.fallbacks) > MAX_PEOPLE:
            self.fallbacks.popitem(last=False)
        return False

    def answered(self, key: str) -> None:
        """Something was answered: the fallback count starts again."""
        self.fallbacks.pop(key, None)

    def forget(self, key: str) -> None:
        self.recent.pop(key, None)
        self.fallbacks.pop(key, None)


def where(k: Knowledge, turn: Turn, lang: str) -> str | None:
    """Where the person is in the walkthrough, with the entry's title; None when not in it."""
    from bot.walkthrough import (  # it imports bot.sessions, which imports bot.handoff
        describe,
        entry_at,
    )

    position = turn.walk.position()
    if position is None:
        return None
    entry = entry_at(k.walkthrough(lang), position)
    return f"{describe(k, position, lang)} ({k.entry(entry, lang).title})"


def render_summary(k: Knowledge, summary: Summary, lang: str) -> str:
    """The summary in `lang` (ui.yaml `handoff_summary`), everything the person typed escaped."""
    language = k.ui("language_name", summary.lang) if summary.lang in k.languages else summary.lang
    questions = "\n".join(f"- {escape(q)}" for q in summary.questions)
    return k.ui(
        "handoff_summary",
        lang,
        language=escape(f"{language} ({summary.lang})"),
        where=escape(summary.where) if summary.where else k.ui("handoff_nowhere", lang),
        questions=questions or k.ui("handoff_none", lang),
    )
