"""Where each person is in a conversation, and the stores that keep it across restarts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol


@dataclass(slots=True)
class Session:
    """Plain, JSON-serialisable state. `position` is a step or checklist id from the YAML,
    never an index, so editing the walkthrough cannot silently move people."""

    mode: str | None = None  # None, "checklist", "steps" or "confirm" (the warning before a step)
    position: str | None = None
    lang: str | None = None  # chosen with the language command; wins over everything
    seen_lang: str | None = None  # the language of this walkthrough so far, for button presses
    updated_at: float = 0.0  # set by the engine from its clock when it stores the session

    @property
    def active(self) -> bool:
        return self.mode is not None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str) -> Session:
        raw = json.loads(data)
        known = {
            key: raw[key]
            for key in ("mode", "position", "lang", "seen_lang", "updated_at")
            if key in raw
        }
        return cls(**known)


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it: the ordering of
    one person's updates within one process."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def __call__(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]


class SessionStore(Protocol):
    """Async key-value storage of sessions; every `put` is durable before it returns.

    `lock(key)` serialises one person's updates: the engine holds it while it reads, changes
    and writes that person's session. In-process stores use `KeyedLocks`; a store shared by
    several processes must lock across them.
    """

    def lock(self, key: str) -> contextlib.AbstractAsyncContextManager[None]: ...

    async def get(self, key: str) -> Session | None: ...
    async def put(self, key: str, session: Session) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def purge(self, older_than: float) -> int: ...
    async def close(self) -> None: ...


class MemoryStore:
    """For tests and one-off runs: nothing survives the process."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self.lock = KeyedLocks()

    async def get(self, key: str) -> Session | None:
        data = self._data.get(key)
        return Session.from_json(data) if data is not None else None

    async def put(self, key: str, session: Session) -> None:
        self._data[key] = session.to_json()

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def purge(self, older_than: float) -> int:
        stale = [k for k, v in self._data.items() if Session.from_json(v).updated_at < older_than]
        for key in stale:
            del self._data[key]
        return len(stale)

    async def close(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class SqliteStore:
    """One SQLite file, written through on every change.

    WAL journal with synchronous=NORMAL: a committed update survives the process being killed
    (it may not survive the machine losing power), and other processes may read the file at
    the same time. Writes run in a worker thread so the event loop never waits on the disk;
    reads use a second connection directly, since a WAL reader never waits for a writer and a
    point lookup takes microseconds (a thread hop per message cost more than the lookup).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lock = KeyedLocks()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=10
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sessions ("
            " key TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at REAL NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS sessions_updated ON sessions(updated_at)")
        self._reader = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=10
        )
        self._reader.execute("PRAGMA query_only=ON")

    def _run(self, sql: str, args: tuple[object, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    async def get(self, key: str) -> Session | None:
        row = self._reader.execute("SELECT data FROM sessions WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return Session.from_json(row[0])
        except (ValueError, TypeError):
            return None  # a row written by a future or broken version: start afresh

    async def put(self, key: str, session: Session) -> None:
        await asyncio.to_thread(
            self._run,
            "INSERT INTO sessions (key, data, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            (key, session.to_json(), session.updated_at),
        )

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._run, "DELETE FROM sessions WHERE key = ?", (key,))

    async def purge(self, older_than: float) -> int:
        cursor = await asyncio.to_thread(
            self._run, "DELETE FROM sessions WHERE updated_at < ?", (older_than,)
        )
        return cursor.rowcount

    async def close(self) -> None:
        with self._lock:
            self._db.close()
        self._reader.close()


def default_db_path() -> Path:
    """`HELPBOT_DB`, else the platform's per-user data folder."""
    if env := os.environ.get("HELPBOT_DB"):
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "helpbot" / "sessions.sqlite3"


def open_store(db: str | Path | None) -> SessionStore:
    """`:memory:` gives a throw-away store; anything else is a SQLite file path."""
    if db == ":memory:":
        return MemoryStore()
    return SqliteStore(db if db is not None else default_db_path())
