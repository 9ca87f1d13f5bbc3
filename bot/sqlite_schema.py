"""The tables of `bot.sessions.SqliteStore`: created, migrated from older versions, and the
start-up write check. Apart from the store so the store is about reading and writing."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable


def create_tables(db: sqlite3.Connection, busy_timeout: float, version: int) -> None:
    """The session tables, migrated to `version` and proven writable, in one transaction.
    Runs once per open, before any other use of the file."""
    # Changing the journal mode needs an exclusive lock, and SQLite returns "database is
    # locked" at once instead of waiting the busy timeout while another process is
    # creating the same new file: retry it for as long as the busy timeout allows.
    deadline = time.monotonic() + busy_timeout
    delay = 0.001
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "CREATE TABLE IF NOT EXISTS sessions ("
            " key TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at REAL NOT NULL)"
        )
        db.execute("CREATE INDEX IF NOT EXISTS sessions_updated ON sessions(updated_at)")
        db.execute(
            "CREATE TABLE IF NOT EXISTS languages (key TEXT PRIMARY KEY, lang TEXT NOT NULL)"
        )
        db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        if db.execute("PRAGMA user_version").fetchone()[0] < version:
            _move_language_choices(db)
            db.execute(f"PRAGMA user_version={version}")
        # The start-up write check: a real committed write, not just a successful open.
        db.execute(
            "INSERT INTO meta (name, value) VALUES ('opened_at', ?)"
            " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (repr(time.time()),),
        )
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def create_handoff_tables(write: Callable[[list[tuple[str, tuple[object, ...]]]], None]) -> None:
    """The handoff tables (bot.handoff): the open handoff per person, one ticket per
    platform mapping to exactly one person, and the open times behind the rate limit."""
    write(
        [
            (
                "CREATE TABLE IF NOT EXISTS handoffs (key TEXT PRIMARY KEY,"
                " platform TEXT NOT NULL, ticket TEXT NOT NULL, data TEXT NOT NULL)",
                (),
            ),
            (
                "CREATE UNIQUE INDEX IF NOT EXISTS handoffs_ticket ON handoffs(platform, ticket)",
                (),
            ),
            (
                "CREATE TABLE IF NOT EXISTS handoff_opens (key TEXT NOT NULL,"
                " at REAL NOT NULL, PRIMARY KEY (key, at))",
                (),
            ),
        ]
    )


def _move_language_choices(db: sqlite3.Connection) -> None:
    """Version 0 kept the language choice inside the session row, where the purge erased
    it with the walkthrough: copy it to `languages`, where it lasts."""
    from bot.sessions import Session  # it imports this module

    rows = db.execute('SELECT key, data FROM sessions WHERE data LIKE \'%"lang":"%\'')
    for key, data in rows.fetchall():
        try:
            lang = Session.from_json(data).lang
        except ValueError:
            continue
        if lang:
            db.execute("INSERT OR IGNORE INTO languages (key, lang) VALUES (?, ?)", (key, lang))
