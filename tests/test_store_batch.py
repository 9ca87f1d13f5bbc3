"""SqliteStore's group commit (issue 15): writes that arrive together share one transaction,
and every put is still durable, on its own, before it returns."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.sessions import Session, SqliteStore, StoreUnavailable


def committed(path: Path, key: str) -> str | None:
    """The row as another connection sees it: only committed data."""
    with sqlite3.connect(path) as other:
        row = other.execute("SELECT data FROM sessions WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


async def test_concurrent_puts_share_commits_and_each_is_durable_on_return(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path)
    transactions = 0
    write = store._write

    def counting(statements: list[tuple[str, tuple[object, ...]]]) -> None:
        nonlocal transactions
        transactions += 1
        write(statements)

    store._write = counting  # type: ignore[method-assign]

    async def put_then_check(n: int) -> None:
        await store.put(f"k{n}", Session(mode="steps", position=f"s{n}", lang="es"))
        # Durable before put returned: another connection already sees it.
        data = committed(path, f"k{n}")
        assert data is not None and f"s{n}" in data

    await asyncio.gather(*(put_then_check(n) for n in range(50)))
    assert 1 <= transactions < 50, transactions
    for n in range(50):
        assert await store.get(f"k{n}") == Session("steps", f"s{n}", "es")
    await store.close()


async def test_a_failing_write_fails_alone(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    bad = store._write_async([("INSERT INTO no_such_table VALUES (1)", ())])
    results = await asyncio.gather(
        store.put("a", Session(mode="steps", position="one")),
        bad,
        store.put("b", Session(mode="steps", position="two")),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], StoreUnavailable) and "no_such_table" in str(results[1])
    assert committed(store.path, "a") and committed(store.path, "b")
    await store.close()


async def test_writes_keep_their_order_within_a_batch(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    await asyncio.gather(
        store.put("k", Session(mode="steps", position="first")),
        store.delete("k"),
        store.put("k", Session(mode="steps", position="last")),
    )
    assert await store.get("k") == Session(mode="steps", position="last")
    await store.close()


async def test_a_cancelled_put_does_not_stall_the_others(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    first = asyncio.ensure_future(store.put("a", Session(mode="steps", position="one")))
    second = asyncio.ensure_future(store.put("b", Session(mode="steps", position="two")))
    await asyncio.sleep(0)
    first.cancel()
    await second
    with pytest.raises(asyncio.CancelledError):
        await first
    await store.put("c", Session(mode="steps", position="three"))
    assert committed(store.path, "b") and committed(store.path, "c")
    await store.close()


def test_one_store_serves_one_event_loop_after_another(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    asyncio.run(store.put("a", Session(mode="steps", position="one")))
    asyncio.run(store.put("b", Session(mode="steps", position="two")))
    assert committed(store.path, "a") and committed(store.path, "b")
    asyncio.run(store.close())
