"""How SqliteStore commits (issue 15, bot/sqlite_writes.py): on the event loop when nothing
would wait, else in a worker thread with the writes queued beside it sharing one transaction;
either way every put is durable, on its own, before it returns, and the loop never blocks.
The event log's rows wait in memory for up to FLUSH_SECONDS and commit together."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

from bot import events as events_module
from bot.events import Event, SqliteEventLog
from bot.sessions import Session, SqliteStore, StoreUnavailable
from bot.sqlite_writes import Statements

T = TypeVar("T")


def committed(path: Path, key: str) -> str | None:
    """The row as another connection sees it: only committed data."""
    with sqlite3.connect(path) as other:
        row = other.execute("SELECT data FROM sessions WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


@contextmanager
def write_lock_held(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection (as another process would) holding the file's write lock until the
    caller commits it."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("COMMIT")
        other.close()


def counting_transactions(store: SqliteStore) -> list[int]:
    """Counts the worker thread's transactions (one list item, incremented)."""
    count = [0]
    writer = store._writer
    write_now = writer.write_now

    def counting(statements: Statements) -> None:
        count[0] += 1
        write_now(statements)

    writer.write_now = counting  # type: ignore[method-assign]
    return count


async def release_after(other: sqlite3.Connection, seconds: float) -> None:
    await asyncio.sleep(seconds)
    other.execute("COMMIT")


async def under_held_lock(path: Path, work: Awaitable[T], seconds: float = 0.05) -> T:
    """`work`, started while another connection holds the write lock, let go after `seconds`
    (so every write in it has to go to the worker thread)."""
    with write_lock_held(path) as other:
        _, result = await asyncio.gather(release_after(other, seconds), work)
    return result


async def test_a_put_commits_on_the_loop_without_a_thread(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path)
    transactions = counting_transactions(store)
    for n in range(20):
        await store.put(f"k{n}", Session(mode="steps", position=f"s{n}", lang="es"))
        data = committed(path, f"k{n}")  # durable before put returned
        assert data is not None and f"s{n}" in data
    assert transactions == [0] and store._writer.in_thread == 0
    await store.close()


async def test_held_lock_sends_writes_to_the_thread_sharing_commits_and_loop_runs_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path)
    transactions = counting_transactions(store)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def put_then_check(n: int) -> None:
        await store.put(f"k{n}", Session(mode="steps", position=f"s{n}", lang="es"))
        data = committed(path, f"k{n}")
        assert data is not None and f"s{n}" in data

    ticking = asyncio.create_task(ticker())
    await under_held_lock(path, asyncio.gather(*(put_then_check(n) for n in range(50))), 0.3)
    ticking.cancel()
    assert ticks >= 10, ticks  # the loop kept running while the thread waited for the lock
    assert store._writer.in_thread == 50
    assert 1 <= transactions[0] < 50, transactions
    for n in range(50):
        assert await store.get(f"k{n}") == Session("steps", f"s{n}", "es")
    # The lock is free again: the next put commits on the loop.
    await store.put("after", Session(mode="steps", position="x"))
    assert store._writer.in_thread == 50 and committed(path, "after")
    await store.close()


@pytest.mark.parametrize("held", [False, True], ids=["on the loop", "in the thread"])
async def test_a_failing_write_fails_alone(tmp_path: Path, held: bool) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path)

    async def three() -> list[object]:
        return await asyncio.gather(
            store.put("a", Session(mode="steps", position="one")),
            store._write_async([("INSERT INTO no_such_table VALUES (1)", ())]),
            store.put("b", Session(mode="steps", position="two")),
            return_exceptions=True,
        )

    results = await (under_held_lock(path, three()) if held else three())
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], StoreUnavailable) and "no_such_table" in str(results[1])
    assert committed(path, "a") and committed(path, "b")
    assert store._writer.in_thread == (3 if held else 0)
    await store.close()


@pytest.mark.parametrize("held", [False, True], ids=["on the loop", "in the thread"])
async def test_writes_keep_their_order(tmp_path: Path, held: bool) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path)

    async def three() -> None:
        await asyncio.gather(
            store.put("k", Session(mode="steps", position="first")),
            store.delete("k"),
            store.put("k", Session(mode="steps", position="last")),
        )

    await (under_held_lock(path, three()) if held else three())
    assert await store.get("k") == Session(mode="steps", position="last")
    await store.close()


async def test_a_write_never_overtakes_writes_queued_for_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path)
    with write_lock_held(path) as other:
        first = asyncio.create_task(store.put("k", Session(mode="steps", position="first")))
        await asyncio.sleep(0.01)  # queued for the thread, which waits for the lock
        other.execute("COMMIT")  # free now: only the queue ahead keeps the next one back
        await store.put("k", Session(mode="steps", position="second"))
        await first
    assert store._writer.in_thread == 2
    assert await store.get("k") == Session(mode="steps", position="second")
    await store.close()


async def test_a_cancelled_put_does_not_stall_the_others(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path)
    with write_lock_held(path) as other:
        first = asyncio.ensure_future(store.put("a", Session(mode="steps", position="one")))
        second = asyncio.ensure_future(store.put("b", Session(mode="steps", position="two")))
        await asyncio.sleep(0.01)
        first.cancel()
        other.execute("COMMIT")
        await second
    with pytest.raises(asyncio.CancelledError):
        await first
    await store.put("c", Session(mode="steps", position="three"))
    assert committed(path, "b") and committed(path, "c")
    await store.close()


def test_one_store_serves_one_event_loop_after_another(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path)
    asyncio.run(store.put("a", Session(mode="steps", position="one")))
    asyncio.run(under_held_lock(path, store.put("b", Session(mode="steps", position="two"))))
    asyncio.run(store.put("c", Session(mode="steps", position="three")))
    assert committed(path, "a") and committed(path, "b") and committed(path, "c")
    asyncio.run(store.close())


async def test_checkpoints_keep_the_wal_small(tmp_path: Path) -> None:
    """The loop's connection never checkpoints; the thread does, every CHECKPOINT_EVERY
    commits, so the WAL file stops growing."""

    async def wal_size(every: int) -> int:
        path = tmp_path / f"every{every}.sqlite3"
        store = SqliteStore(path)
        store._writer.CHECKPOINT_EVERY = every
        for n in range(400):
            await store._write_async(
                [
                    (
                        "INSERT INTO meta (name, value) VALUES (?, ?)"
                        " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                        (f"k{n % 7}", f"{n}" * 8000),
                    )
                ]
            )
            await asyncio.sleep(0)  # a bot awaits the network between messages
            await asyncio.sleep(0.0005)
        size = path.with_name(path.name + "-wal").stat().st_size
        await store.close()
        return size

    unchecked = await wal_size(10_000)
    checked = await wal_size(20)
    assert unchecked > 400 * 8000  # every commit appended its pages
    assert checked < unchecked / 4, (checked, unchecked)


def stored_events(path: Path) -> list[str]:
    """The kinds of the events another connection sees: only committed rows."""
    with sqlite3.connect(path) as other:
        return [row[0] for row in other.execute("SELECT kind FROM events ORDER BY id")]


async def test_events_wait_in_memory_and_commit_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_module, "FLUSH_SECONDS", 0.05)
    path = tmp_path / "s.sqlite3"
    log = SqliteEventLog(path)
    assert log._writer is not None
    writes: list[int] = []
    write = log._writer.write

    async def counting(statements: Statements) -> None:
        writes.append(len(statements))
        await write(statements)

    log._writer.write = counting  # type: ignore[method-assign]
    for n in range(5):
        await log.record(Event("command", "console", "en", at=float(n)))
    assert stored_events(path) == []  # recorded, not yet committed
    for _ in range(100):  # ~1 s at most
        await asyncio.sleep(0.01)
        if writes:
            break
    assert writes == [5] and stored_events(path) == ["command"] * 5  # one transaction
    for n in range(events_module.FLUSH_ROWS):  # a full buffer commits without waiting
        await log.record(Event("smalltalk", "console", "en", at=float(n)))
    assert writes == [5, events_module.FLUSH_ROWS]
    await log.close()


async def test_reading_rating_and_closing_commit_what_waits(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    log = SqliteEventLog(path)
    await log.record(Event("answer", "console", "en", at=1.0, entry="how_long", token="t1"))
    assert await log.rate("t1", 1)  # its answer was still in memory
    await log.record(Event("fallback", "console", "en", at=2.0))
    assert [e.kind for e in await log.events(0)] == ["answer", "fallback", "feedback"]  # by time
    await log.record(Event("command", "console", "en", at=3.0))
    await log.close()
    assert stored_events(path) == ["answer", "feedback", "fallback", "command"]


async def test_events_under_a_held_lock_go_to_the_thread_in_order(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path)
    log = SqliteEventLog(path)
    assert log._writer is not None
    await log.record(Event("answer", "console", "en", at=1.0, entry="how_long", token="t1"))
    await log.record(Event("fallback", "console", "en", at=2.0))
    found = await under_held_lock(path, log.events(0))
    assert log._writer.in_thread == 1
    assert [e.kind for e in found] == ["answer", "fallback"]
    await log.close()
    await store.close()
    reader = SqliteEventLog(path, read_only=True)
    with pytest.raises(sqlite3.OperationalError, match="read-only"):
        await reader.record(Event("fallback", "console", "en", at=3.0))
    await reader.close()


def test_events_of_a_loop_that_ends_without_close_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    log = SqliteEventLog(path)

    async def one_command() -> None:
        await log.record(Event("command", "console", "en", at=1.0))

    asyncio.run(one_command())  # the loop ends, its flusher cancelled, before FLUSH_SECONDS
    assert stored_events(path) == ["command"]
    asyncio.run(one_command())
    asyncio.run(log.close())
    assert stored_events(path) == ["command", "command"]


async def test_a_failed_commit_of_events_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "s.sqlite3"
    log = SqliteEventLog(path)
    await log.record(Event("command", "console", "en", at=1.0))
    with sqlite3.connect(path) as other:
        other.execute("DROP TABLE events")
    await log.close()  # the rows cannot go anywhere: said, and the bot goes on
    assert "could not record 1 events" in caplog.text and "no such table" in caplog.text


def test_a_store_that_fails_to_open_leaves_no_connection_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[sqlite3.Connection] = []
    connect = sqlite3.connect

    def failing_third(*args: object, **kwargs: object) -> sqlite3.Connection:
        if len(opened) == 2:  # the writer's and the loop's are open: the reader's fails
            raise sqlite3.OperationalError("unable to open database file")
        opened.append(connect(*args, **kwargs))  # type: ignore[arg-type]
        return opened[-1]

    monkeypatch.setattr(sqlite3, "connect", failing_third)
    with pytest.raises(sqlite3.OperationalError):
        SqliteStore(tmp_path / "s.sqlite3")
    assert len(opened) == 2
    for connection in opened:
        with pytest.raises(sqlite3.ProgrammingError):  # closed
            connection.execute("SELECT 1")


async def test_reading_events_with_nothing_waiting_needs_no_write_lock(tmp_path: Path) -> None:
    """Nothing recorded and nothing queued: reading starts no transaction, so another
    connection holding the write lock does not make it wait (the busy timeout is 10 s)."""
    path = tmp_path / "s.sqlite3"
    log = SqliteEventLog(path)
    await log.record(Event("command", "console", "en", at=1.0))
    assert [e.kind for e in await log.events(0)] == ["command"]
    with write_lock_held(path):
        found = await asyncio.wait_for(log.events(0), timeout=2)
    assert [e.kind for e in found] == ["command"]
    await log.close()
