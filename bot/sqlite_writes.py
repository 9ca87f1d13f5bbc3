"""Small SQLite writes from an event loop: committed before they return, cheap, never stalling.

In WAL mode with synchronous=NORMAL a commit writes into the operating system's page cache and
does not wait for the disk: a session or an event commits in ~20 µs, while handing the same
write to a worker thread costs ~150 µs of CPU (a queue, a wake-up, the GIL passed back and
forth), more than the rest of a message's handling. So a write is committed on the loop's own
thread, on a connection that never waits: it has no busy timeout, and it never checkpoints
(a checkpoint waits for the disk). A write goes to the worker thread instead only when it
might wait:

- another connection (another process, or the worker thread itself) holds the write lock: the
  loop's connection is told so at once, and the thread waits the busy timeout;
- writes are already queued for the thread: a later write must not overtake them.

Writes queued together are committed in one transaction (group commit); a batch that fails is
retried write by write, so one bad write fails alone. Every `CHECKPOINT_EVERY` commits on the
loop's connection a passive checkpoint runs in the thread, so the WAL file stays small.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

Statements = list[tuple[str, tuple[object, ...]]]

_WAITS = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _commit(db: sqlite3.Connection, statements: Statements) -> None:
    """`statements` in one transaction on `db`, rolled back if any fails."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for sql, args in statements:
            db.execute(sql, args)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


@dataclass(slots=True)
class _PendingWrite:
    """Statements waiting for the thread's next group commit, and the future that says done."""

    statements: Statements
    done: asyncio.Future[None]


class SqliteWriter:
    """Commits lists of statements to one SQLite file, each list in a transaction of its own
    or shared with others queued beside it, and returns once they are committed.

    `db` is the worker thread's connection and `lock` guards it (the owner also uses both, for
    its own work in a thread); the loop's connection is opened here. Raises `sqlite3.Error`.
    """

    CHECKPOINT_EVERY = 250
    """Commits on the loop's connection between passive checkpoints (~1,000 WAL pages)."""

    def __init__(self, path: str | Path, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db = db
        self._lock = lock
        self._loop_db = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=0
        )
        # Both are per connection: never wait for the disk on the loop.
        self._loop_db.execute("PRAGMA synchronous=NORMAL")
        self._loop_db.execute("PRAGMA wal_autocheckpoint=0")
        self._pending: list[_PendingWrite] = []
        self._flusher: asyncio.Task[None] | None = None
        self._checkpointer: asyncio.Task[None] | None = None
        self._since_checkpoint = 0
        self.in_thread = 0  # writes the thread committed (for tests and benchmarks)

    # -- the loop's own thread ---------------------------------------------------------------

    def _commit_here(self, statements: Statements) -> bool:
        """Commits `statements` now, on the loop's connection; False when that would mean
        waiting (the write lock is taken, or writes are queued ahead), and nothing was done."""
        if self._queued():
            return False
        if not self._lock.acquire(blocking=False):
            return False
        try:
            _commit(self._loop_db, statements)
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF in _WAITS:
                return False
            raise
        finally:
            self._lock.release()
        self._since_checkpoint += 1
        if self._since_checkpoint >= self.CHECKPOINT_EVERY:
            self._since_checkpoint = 0
            if self._checkpointer is None or self._checkpointer.done():
                self._checkpointer = asyncio.get_running_loop().create_task(self._checkpoint())
        return True

    def _queued(self) -> bool:
        """Whether writes are waiting for, or being committed by, the worker thread."""
        return bool(self._pending) or (self._flusher is not None and not self._flusher.done())

    async def write(self, statements: Statements) -> None:
        """Returns once `statements` are committed, together, in one transaction. No
        statements: returns once everything handed over before is committed (at once when
        nothing is queued, without a transaction)."""
        if not statements and not self._queued():
            return
        if self._commit_here(statements):
            return
        loop = asyncio.get_running_loop()
        write = _PendingWrite(statements, loop.create_future())
        self._pending.append(write)
        flusher = self._flusher
        if flusher is None or flusher.done() or flusher.get_loop() is not loop:
            self._flusher = loop.create_task(self._flush())
        await write.done

    async def close(self) -> None:
        """Waits for what was handed to the thread (when on its loop), then closes the loop's
        connection; the owner closes `db`."""
        loop = asyncio.get_running_loop()
        busy = [
            task
            for task in (self._flusher, self._checkpointer)
            if task is not None and not task.done() and task.get_loop() is loop
        ]
        if busy:
            await asyncio.wait(busy)
        with self._lock:
            self._loop_db.close()

    def discard(self) -> None:
        """Closes the loop's connection at once, when the owner fails to open after all."""
        self._loop_db.close()

    # -- the worker thread ---------------------------------------------------------------------

    def write_now(self, statements: Statements) -> None:
        """Commits `statements` on the caller's thread, waiting the busy timeout if need be
        (the worker thread's path; also for set-up, before any loop runs)."""
        with self._lock:
            _commit(self._db, statements)

    def _write_batch(self, batch: list[_PendingWrite]) -> list[sqlite3.Error | None]:
        """Every write of `batch` in one transaction (one commit, one thread hop), else, when
        that fails, each in its own, so one bad write fails alone. Per write: None or its
        error."""
        if len(batch) > 1:
            try:
                self.write_now([statement for write in batch for statement in write.statements])
                return [None] * len(batch)
            except sqlite3.Error:
                pass
        results: list[sqlite3.Error | None] = []
        for write in batch:
            try:
                self.write_now(write.statements)
                results.append(None)
            except sqlite3.Error as error:
                results.append(error)
        return results

    async def _flush(self) -> None:
        """Commits everything queued, batch after batch, until nothing is left."""
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                results = await asyncio.to_thread(self._write_batch, batch)
            except BaseException as error:  # cancelled with the loop: nobody waits forever
                for write in batch:
                    if not write.done.done():
                        write.done.set_exception(error)
                raise
            self.in_thread += len(batch)
            for write, failure in zip(batch, results, strict=True):
                if write.done.done():  # its caller was cancelled: the write still happened
                    continue
                if failure is None:
                    write.done.set_result(None)
                else:
                    write.done.set_exception(failure)

    def _checkpoint_now(self) -> None:
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    async def _checkpoint(self) -> None:
        try:
            await asyncio.to_thread(self._checkpoint_now)
        except sqlite3.Error as error:  # the next one, or the thread's own, will catch up
            log.warning("could not checkpoint the SQLite WAL: %s", error)
