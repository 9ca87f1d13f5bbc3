"""Benchmarks, run by hand from the checkout's root as modules (`python -m bench.matching`),
so that `bot`, `adapters` and the test fakes in `tests/` import without editing `sys.path`."""

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.events import EventLog
    from bot.sessions import SessionStore


def lexical_path_unless(semantic: bool) -> None:
    """Issue 15's throughput targets are for the lexical path: switch the sentence model off
    (HELPBOT_SEMANTIC=0) unless the bench was asked to include it (`--semantic`)."""
    if not semantic:
        os.environ["HELPBOT_SEMANTIC"] = "0"


def deployed_store(kind: str, path: Path) -> tuple["SessionStore", "EventLog"]:
    """The session store and event log as `helpbot telegram` / `helpbot discord` open them:
    `sqlite`, both in the SQLite file `path`; `memory`, both in memory."""
    from bot.events import MemoryEventLog, SqliteEventLog
    from bot.sessions import MemoryStore, SqliteStore

    if kind == "sqlite":
        return SqliteStore(path), SqliteEventLog(path)
    return MemoryStore(), MemoryEventLog()
