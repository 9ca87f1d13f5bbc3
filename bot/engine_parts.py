"""The engine's collaborators that are costly to import, made on first use.

`helpbot ask` builds an Engine only to answer: importing the session stores, the event log,
handoffs, hot reload and asyncio was a third of its start-up. The bots use every one of them
on their first message anyway. `Engine` inherits these properties; assigning one still works.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.events import EventLog
    from bot.handoff import Handoffs
    from bot.knowledge import Knowledge
    from bot.sessions import SessionStore


class LazyParts:
    """The store, the event log, the handoffs and the reload gate's question sets."""

    _store: SessionStore | None
    _events: EventLog | None
    _handoffs: Handoffs | None
    _reload_sets: list[Path] | None
    knowledge: Knowledge

    @property
    def store(self) -> SessionStore:
        """Where sessions live: the one given, else a `MemoryStore` made on first use."""
        if self._store is None:
            from bot.sessions import MemoryStore

            self._store = MemoryStore()
        return self._store

    @store.setter
    def store(self, store: SessionStore) -> None:
        self._store = store

    @property
    def events(self) -> EventLog:
        """The anonymous event log: the one given, else a `MemoryEventLog` made on first use."""
        if self._events is None:
            from bot.events import MemoryEventLog

            self._events = MemoryEventLog()
        return self._events

    @events.setter
    def events(self, events: EventLog) -> None:
        self._events = events

    @property
    def handoffs(self) -> Handoffs:
        """Handing conversations to a person (bot.handoff), made on first use."""
        if self._handoffs is None:
            from bot.handoff import Handoffs

            self._handoffs = Handoffs(self)  # type: ignore[arg-type]  # an Engine, whose base this is
        return self._handoffs

    @handoffs.setter
    def handoffs(self, handoffs: Handoffs) -> None:
        self._handoffs = handoffs

    @property
    def reload_sets(self) -> list[Path]:
        """The question sets a reload must not answer worse: the ones given, else
        `bot.reload.default_sets()` for the guide served (read on first use)."""
        if self._reload_sets is None:
            from bot.reload import default_sets

            self._reload_sets = list(default_sets(self.knowledge.path))
        return self._reload_sets

    @reload_sets.setter
    def reload_sets(self, sets: Sequence[Path]) -> None:
        self._reload_sets = list(sets)
