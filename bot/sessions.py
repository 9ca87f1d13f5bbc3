"""Where each person is in a conversation, and the stores that keep it across restarts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import sqlite3
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from bot.handoff import Handoff
from bot.session_state import Session as Session  # re-exported: the stores' API
from bot.session_state import StoreUnavailable as StoreUnavailable
from bot.sqlite_schema import create_handoff_tables, create_tables
from bot.sqlite_writes import SqliteWriter, Statements

if TYPE_CHECKING:
    import redis.asyncio

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_SESSION_TTL = 48 * 3600.0  # twice the engine's default walkthrough time-out
HANDOFF_TTL = 30 * 24 * 3600.0
"""Redis: an open handoff nobody touched for this long expires (staff forgot to close it)."""
HANDOFF_OPENS_TTL = 24 * 3600.0
"""How long the open times behind the handoff rate limit are kept (well over its window)."""


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
    """Async storage of sessions; every `put` is durable before it returns.

    A person's state has two lifetimes, and every store keeps them apart:
    - the walkthrough (mode, position, seen_lang) is short-lived: `purge` (SQLite, memory) or
      a key TTL (Redis) drops it once it has been idle for twice the engine's time-out;
    - the language choice (`Session.lang`) lasts until the person changes it or uses /forget
      (`delete`), however long they stay away.
    `get` joins the two (a language choice alone comes back as an inactive Session); `put`
    with `lang=None` removes the choice.

    `lock(key)` serialises one person's updates: the engine holds it while it reads, changes
    and writes that person's session. In-process stores use `KeyedLocks`; a store shared by
    several processes (Redis) locks across them, with a lease that expires within a few
    seconds when its holder dies.

    Any operation raises `StoreUnavailable` when the backend cannot be reached or written;
    `ready()` answers the same question without raising (for /readyz).

    Growing this Protocol (events, handoffs): add one async method per record kind beside
    these (e.g. `add_event(event)`, `put_handoff(key, handoff)` / `get_handoff(key)`), keyed
    like sessions where a record belongs to a person so `delete(key)` (/forget) erases it too;
    events carry no person id at all. SQLite gets one table per kind (created in
    `SqliteStore._setup`), Redis one key prefix per kind with its own TTL (no purge loop),
    memory one dict. The store contract tests in tests/test_store.py run against all three.
    """

    def lock(self, key: str) -> contextlib.AbstractAsyncContextManager[None]: ...

    async def get(self, key: str) -> Session | None: ...
    async def put(self, key: str, session: Session) -> None: ...
    async def delete(self, key: str) -> None: ...
    # the walkthrough and the language choice only: an open handoff and its rate limit stay
    async def clear(self, key: str) -> None: ...
    async def purge(self, older_than: float) -> int: ...
    async def ready(self) -> bool: ...
    async def close(self) -> None: ...

    # Handoffs to a person (bot.handoff): one open handoff per key, found by its ticket too;
    # every put of a new handoff also records its open time for the rate limit.
    async def get_handoff(self, key: str) -> Handoff | None: ...
    async def put_handoff(self, handoff: Handoff) -> None: ...
    async def delete_handoff(self, key: str) -> None: ...
    async def handoff_by_ticket(self, platform: str, ticket: str) -> Handoff | None: ...
    async def count_handoffs_since(self, key: str, since: float) -> int: ...


def _split(session: Session) -> tuple[str, str | None]:
    """(walkthrough JSON without the language choice, the language choice)."""
    return replace(session, lang=None).to_json(), session.lang


def _join(data: str | bytes | None, lang: str | bytes | None) -> Session | None:
    """The stored halves back into one Session; raises ValueError for a corrupt half."""
    if isinstance(lang, bytes):
        lang = lang.decode()
    if lang is not None and not isinstance(lang, str):
        raise ValueError(f"the language choice is {type(lang).__name__}, not text")
    if data is None:
        return Session(lang=lang) if lang else None
    session = Session.from_json(data)
    session.lang = lang or None
    return session


class MemoryStore:
    """For tests and one-off runs: nothing survives the process."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._langs: dict[str, str] = {}
        self._handoffs: dict[str, Handoff] = {}
        self._tickets: dict[tuple[str, str], str] = {}
        self._opens: dict[str, set[float]] = {}
        self.lock = KeyedLocks()

    async def get(self, key: str) -> Session | None:
        return _join(self._data.get(key), self._langs.get(key))

    async def put(self, key: str, session: Session) -> None:
        self._data[key], lang = _split(session)
        if lang:
            self._langs[key] = lang
        else:
            self._langs.pop(key, None)

    async def delete(self, key: str) -> None:
        await self.clear(key)
        await self.delete_handoff(key)
        self._opens.pop(key, None)

    async def clear(self, key: str) -> None:
        self._data.pop(key, None)
        self._langs.pop(key, None)

    async def purge(self, older_than: float) -> int:
        stale = [k for k, v in self._data.items() if Session.from_json(v).updated_at < older_than]
        for key in stale:
            del self._data[key]
        for key, opens in list(self._opens.items()):
            opens.difference_update({t for t in opens if t < older_than})
            if not opens:
                del self._opens[key]
        return len(stale)

    async def get_handoff(self, key: str) -> Handoff | None:
        found = self._handoffs.get(key)
        return None if found is None else replace(found)

    async def put_handoff(self, handoff: Handoff) -> None:
        await self.delete_handoff(handoff.key)
        self._handoffs[handoff.key] = replace(handoff)
        self._tickets[(handoff.platform, handoff.ticket)] = handoff.key
        self._opens.setdefault(handoff.key, set()).add(handoff.opened_at)

    async def delete_handoff(self, key: str) -> None:
        gone = self._handoffs.pop(key, None)
        if gone is not None:
            self._tickets.pop((gone.platform, gone.ticket), None)

    async def handoff_by_ticket(self, platform: str, ticket: str) -> Handoff | None:
        key = self._tickets.get((platform, ticket))
        return None if key is None else await self.get_handoff(key)

    async def count_handoffs_since(self, key: str, since: float) -> int:
        return sum(1 for t in self._opens.get(key, ()) if t >= since)

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()
        self._langs.clear()
        self._handoffs.clear()
        self._tickets.clear()
        self._opens.clear()

    def __len__(self) -> int:
        return len(self._data.keys() | self._langs.keys())


class SqliteStore:
    """One SQLite file, written through on every change.

    WAL journal with synchronous=NORMAL: a committed update survives the process being killed
    (it may not survive the machine losing power), and other processes may read the file at
    the same time. Writes commit on the event loop's thread unless they would wait for a lock,
    and then in a worker thread, together with any others waiting (`bot.sqlite_writes`); reads
    use a connection of their own directly, since a WAL reader never waits for a writer and a
    point lookup takes microseconds (a thread hop per message cost more than the lookup).

    Opening proves the file can be written (a committed write to the `meta` table), so a
    read-only file or folder, or one owned by another user, fails at start-up, not on every
    message.

    The sessions (and language choices) this process last read or wrote are remembered, for
    up to `REMEMBERED` people: one process serves a file's conversations (its per-person lock
    is in-process too), so what it wrote is what the file holds, and a message needs no read.
    In a bot a lookup cost ~10% of a message's handling, its pages cold in the CPU's cache
    after the platform library's work (issue 15). `delete` and `purge` forget too.
    """

    SCHEMA_VERSION = 1
    BUSY_TIMEOUT = 10.0
    REMEMBERED = 10_000

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lock = KeyedLocks()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # key -> (walkthrough JSON, language choice) as stored, least recently used first
        self._known: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=self.BUSY_TIMEOUT
        )
        try:
            create_tables(self._db, self.BUSY_TIMEOUT, self.SCHEMA_VERSION)
            self._writer = SqliteWriter(self.path, self._db, self._lock)
            create_handoff_tables(self._writer.write_now)
            self._reader = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=self.BUSY_TIMEOUT
            )
            self._reader.execute("PRAGMA query_only=ON")
        except sqlite3.Error:
            writer = getattr(self, "_writer", None)
            if writer is not None:
                writer.discard()
            self._db.close()
            raise

    def _unavailable(self, error: sqlite3.Error) -> StoreUnavailable:
        return StoreUnavailable(f"the session database {self.path} cannot be used: {error}")

    def _run(self, sql: str, args: tuple[object, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    async def _write_async(self, statements: Statements) -> None:
        """Returns once `statements` are committed (see `bot.sqlite_writes`)."""
        try:
            await self._writer.write(statements)
        except sqlite3.Error as error:
            raise self._unavailable(error) from None

    def _remember(self, key: str, stored: tuple[str | None, str | None]) -> None:
        known = self._known
        known[key] = stored
        known.move_to_end(key)
        if len(known) > self.REMEMBERED:
            known.popitem(last=False)

    async def get(self, key: str) -> Session | None:
        stored = self._known.get(key)
        if stored is not None:
            self._known.move_to_end(key)
            return _join(*stored)
        try:
            rows = self._reader.execute(
                "SELECT 's', data FROM sessions WHERE key = ?"
                " UNION ALL SELECT 'l', lang FROM languages WHERE key = ?",
                (key, key),
            ).fetchall()
        except sqlite3.Error as error:
            raise self._unavailable(error) from None
        found = dict(rows)
        try:
            session = _join(found.get("s"), found.get("l"))
        except (ValueError, TypeError) as error:
            # One unreadable row (a bug, a hand edit, a future version) must not make every
            # message fail: drop that walkthrough, keep a valid language choice.
            log.warning("dropped an unreadable session in %s: %s", self.path, error)
            await self._write_async([("DELETE FROM sessions WHERE key = ?", (key,))])
            lang = found.get("l")
            if isinstance(lang, str) and lang:
                return Session(lang=lang)
            await self._write_async([("DELETE FROM languages WHERE key = ?", (key,))])
            return None
        self._remember(key, (found.get("s"), found.get("l")))
        return session

    async def put(self, key: str, session: Session) -> None:
        data, lang = _split(session)
        self._known.pop(key, None)  # until the write has succeeded
        statements: Statements = [
            (
                "INSERT INTO sessions (key, data, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET data = excluded.data,"
                " updated_at = excluded.updated_at",
                (key, data, session.updated_at),
            )
        ]
        if lang:
            statements.append(
                (
                    "INSERT INTO languages (key, lang) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET lang = excluded.lang",
                    (key, lang),
                )
            )
        else:
            statements.append(("DELETE FROM languages WHERE key = ?", (key,)))
        await self._write_async(statements)
        self._remember(key, (data, lang or None))

    async def delete(self, key: str) -> None:
        self._known.pop(key, None)
        await self._write_async(
            [
                ("DELETE FROM sessions WHERE key = ?", (key,)),
                ("DELETE FROM languages WHERE key = ?", (key,)),
                ("DELETE FROM handoffs WHERE key = ?", (key,)),
                ("DELETE FROM handoff_opens WHERE key = ?", (key,)),
            ]
        )
        self._known.pop(key, None)  # and what a read during the write may have put back

    async def clear(self, key: str) -> None:
        self._known.pop(key, None)
        await self._write_async(
            [
                ("DELETE FROM sessions WHERE key = ?", (key,)),
                ("DELETE FROM languages WHERE key = ?", (key,)),
            ]
        )
        self._known.pop(key, None)

    async def purge(self, older_than: float) -> int:
        """Drops idle walkthroughs and handoff-open times older than `older_than`; language
        choices and open handoffs stay."""
        try:
            cursor = await asyncio.to_thread(
                self._run, "DELETE FROM sessions WHERE updated_at < ?", (older_than,)
            )
            await asyncio.to_thread(
                self._run, "DELETE FROM handoff_opens WHERE at < ?", (older_than,)
            )
        except sqlite3.Error as error:
            raise self._unavailable(error) from None
        finally:
            self._known.clear()
        return cursor.rowcount

    def _handoff_row(self, sql: str, args: tuple[object, ...]) -> Handoff | None:
        try:
            row = self._reader.execute(sql, args).fetchone()
        except sqlite3.Error as error:
            raise self._unavailable(error) from None
        if row is None:
            return None
        try:
            return Handoff.from_json(row[0])
        except (ValueError, TypeError) as error:
            log.warning("ignored an unreadable handoff in %s: %s", self.path, error)
            return None

    async def get_handoff(self, key: str) -> Handoff | None:
        return self._handoff_row("SELECT data FROM handoffs WHERE key = ?", (key,))

    async def put_handoff(self, handoff: Handoff) -> None:
        await self._write_async(
            [
                ("DELETE FROM handoffs WHERE key = ?", (handoff.key,)),
                (
                    "INSERT INTO handoffs (key, platform, ticket, data) VALUES (?, ?, ?, ?)",
                    (handoff.key, handoff.platform, handoff.ticket, handoff.to_json()),
                ),
                (
                    "INSERT OR IGNORE INTO handoff_opens (key, at) VALUES (?, ?)",
                    (handoff.key, handoff.opened_at),
                ),
            ]
        )

    async def delete_handoff(self, key: str) -> None:
        await self._write_async([("DELETE FROM handoffs WHERE key = ?", (key,))])

    async def handoff_by_ticket(self, platform: str, ticket: str) -> Handoff | None:
        return self._handoff_row(
            "SELECT data FROM handoffs WHERE platform = ? AND ticket = ?", (platform, ticket)
        )

    async def count_handoffs_since(self, key: str, since: float) -> int:
        try:
            row = self._reader.execute(
                "SELECT COUNT(*) FROM handoff_opens WHERE key = ? AND at >= ?", (key, since)
            ).fetchone()
        except sqlite3.Error as error:
            raise self._unavailable(error) from None
        return int(row[0])

    async def ready(self) -> bool:
        try:
            self._reader.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        return True

    async def close(self) -> None:
        await self._writer.close()  # writes already handed over are committed first
        with self._lock:
            self._db.close()
        self._reader.close()


_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages and logs."""
    return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)


class RedisStore:
    """Sessions in Redis (redis-py's asyncio client), shared by any number of processes.

    Keys (under `prefix`): `s:<key>` the walkthrough as JSON, expiring `session_ttl` seconds
    after its last change (no purge loop); `l:<key>` the language choice, without expiry;
    `lock:<key>` the per-person lock. The lock is a lease: SET NX with a `lock_timeout`
    expiry, renewed every third of it while the holder works, released only by its holder
    (compare-and-delete). A process that dies holding it blocks that person for at most
    `lock_timeout` seconds. Waiting for a live holder gives up after `lock_wait` seconds.

    Durability is Redis's: run it with `appendonly yes` so a restart loses no session.
    """

    def __init__(
        self,
        url: str,
        *,
        session_ttl: float = DEFAULT_SESSION_TTL,
        lock_timeout: float = 5.0,
        lock_wait: float = 15.0,
        prefix: str = "helpbot:",
        timeout: float = 2.0,
    ) -> None:
        require_redis()
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff

        self.where = redact_url(url)
        self.session_ttl = session_ttl
        self.lock_timeout = lock_timeout
        self.lock_wait = lock_wait
        self.prefix = prefix
        self._redis = redis_client(
            url,
            timeout,
            # Two quick retries, then StoreUnavailable: a person waits seconds, not minutes.
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
        )
        self._release = self._redis.register_script(_RELEASE)
        self._renew = self._redis.register_script(_RENEW)
        self._local = KeyedLocks()

    def _unavailable(self, error: Exception) -> StoreUnavailable:
        reason = redact_url(str(error)) or type(error).__name__
        return StoreUnavailable(f"the session store {self.where} is unavailable: {reason}")

    async def _call(self, operation: Awaitable[T]) -> T:
        import redis.exceptions

        try:
            return await operation
        except (redis.exceptions.RedisError, OSError) as error:
            raise self._unavailable(error) from None

    async def check(self) -> None:
        """Raises StoreUnavailable unless Redis answers and accepts a write."""
        probe = f"{self.prefix}probe:{secrets.token_hex(4)}"
        await self._call(self._redis.set(probe, "1", px=10_000))
        await self._call(self._redis.delete(probe))

    async def ready(self) -> bool:
        try:
            return bool(await self._call(self._redis.ping()))
        except StoreUnavailable:
            return False

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        async with self._local(key):  # this process's own order first, without polling Redis
            name = f"{self.prefix}lock:{key}"
            token = secrets.token_hex(16)
            lease = max(1, int(self.lock_timeout * 1000))
            deadline = time.monotonic() + self.lock_wait
            delay = 0.002
            while not await self._call(self._redis.set(name, token, nx=True, px=lease)):
                if time.monotonic() > deadline:
                    raise StoreUnavailable(
                        f"the session store {self.where} is unavailable: this person's "
                        f"lock stayed taken for {self.lock_wait:g} s"
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.05)
            renewer = asyncio.create_task(self._keep(name, token, lease))
            try:
                yield
            finally:
                renewer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewer
                with contextlib.suppress(StoreUnavailable):  # else it expires by itself
                    await self._call(self._release(keys=[name], args=[token]))

    async def _keep(self, name: str, token: str, lease: int) -> None:
        while True:
            await asyncio.sleep(lease / 3000)
            try:
                kept = await self._call(self._renew(keys=[name], args=[token, lease]))
            except StoreUnavailable as error:
                log.warning("could not renew a person's lock: %s", error)
                continue
            if not kept:
                log.warning("a person's lock expired while held; their updates may overlap")
                return

    async def get(self, key: str) -> Session | None:
        data, lang = await self._call(
            self._redis.mget(f"{self.prefix}s:{key}", f"{self.prefix}l:{key}")
        )
        try:
            return _join(data, lang)
        except (ValueError, TypeError, UnicodeDecodeError) as error:
            log.warning("dropped an unreadable session in %s: %s", self.where, error)
            await self._call(self._redis.delete(f"{self.prefix}s:{key}"))
            return Session(lang=lang.decode()) if isinstance(lang, bytes) and lang else None

    async def put(self, key: str, session: Session) -> None:
        data, lang = _split(session)
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(f"{self.prefix}s:{key}", data, px=max(1, int(self.session_ttl * 1000)))
        if lang:
            pipe.set(f"{self.prefix}l:{key}", lang)
        else:
            pipe.delete(f"{self.prefix}l:{key}")
        await self._call(pipe.execute())

    async def delete(self, key: str) -> None:
        await self.delete_handoff(key)
        await self._call(
            self._redis.delete(
                f"{self.prefix}s:{key}", f"{self.prefix}l:{key}", f"{self.prefix}ho:{key}"
            )
        )

    async def clear(self, key: str) -> None:
        await self._call(self._redis.delete(f"{self.prefix}s:{key}", f"{self.prefix}l:{key}"))

    async def purge(self, older_than: float) -> int:
        """Nothing to do: walkthrough keys expire by themselves."""
        return 0

    # Handoffs: `h:<key>` the open handoff as JSON and `t:<platform>:<ticket>` its person's
    # key, both expiring HANDOFF_TTL after the last change; `ho:<key>` a sorted set of open
    # times for the rate limit, expiring HANDOFF_OPENS_TTL after the last open.

    async def get_handoff(self, key: str) -> Handoff | None:
        data = await self._call(self._redis.get(f"{self.prefix}h:{key}"))
        if data is None:
            return None
        try:
            return Handoff.from_json(data)
        except (ValueError, TypeError, UnicodeDecodeError) as error:
            log.warning("ignored an unreadable handoff in %s: %s", self.where, error)
            return None

    async def put_handoff(self, handoff: Handoff) -> None:
        old = await self.get_handoff(handoff.key)
        ttl = max(1, int(HANDOFF_TTL * 1000))
        opens = f"{self.prefix}ho:{handoff.key}"
        pipe = self._redis.pipeline(transaction=True)
        if old is not None and (old.platform, old.ticket) != (handoff.platform, handoff.ticket):
            pipe.delete(f"{self.prefix}t:{old.platform}:{old.ticket}")
        pipe.set(f"{self.prefix}h:{handoff.key}", handoff.to_json(), px=ttl)
        pipe.set(f"{self.prefix}t:{handoff.platform}:{handoff.ticket}", handoff.key, px=ttl)
        pipe.zadd(opens, {repr(handoff.opened_at): handoff.opened_at})
        pipe.pexpire(opens, max(1, int(HANDOFF_OPENS_TTL * 1000)))
        await self._call(pipe.execute())

    async def delete_handoff(self, key: str) -> None:
        old = await self.get_handoff(key)
        names = [f"{self.prefix}h:{key}"]
        if old is not None:
            names.append(f"{self.prefix}t:{old.platform}:{old.ticket}")
        await self._call(self._redis.delete(*names))

    async def handoff_by_ticket(self, platform: str, ticket: str) -> Handoff | None:
        key = await self._call(self._redis.get(f"{self.prefix}t:{platform}:{ticket}"))
        if key is None:
            return None
        found = await self.get_handoff(key.decode() if isinstance(key, bytes) else str(key))
        if found is None or (found.platform, found.ticket) != (platform, ticket):
            return None
        return found

    async def count_handoffs_since(self, key: str, since: float) -> int:
        count = await self._call(self._redis.zcount(f"{self.prefix}ho:{key}", since, "+inf"))
        return int(count)

    async def close(self) -> None:
        await self._redis.aclose()


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


STORE_SCHEMES = ("sqlite://", "memory://", "redis://", "rediss://")


class UnknownStore(ValueError):
    """A store URL helpbot cannot use as given: an unknown scheme, or redis:// without the
    redis extra installed. A usage error (exit 2), unlike a store that is down."""


def require_redis() -> None:
    """Raise `UnknownStore` with the one-line fix when the redis package is missing."""
    try:
        import redis.asyncio  # noqa: F401
    except ImportError:
        raise UnknownStore(
            "redis:// needs the redis package, which is not installed: pip install 'helpbot[redis]'"
        ) from None


def redis_client(url: str, timeout: float, **extra: Any) -> redis.asyncio.Redis:
    """A Redis client for `url` (sessions and events share this): `timeout` seconds to
    connect and per command, the password from `$REDIS_PASSWORD` unless the URL has one.
    Raises `UnknownStore` without the redis extra, ValueError (password masked) for a URL
    redis cannot parse."""
    require_redis()
    import redis.asyncio

    options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    options.update(extra)
    password = os.environ.get("REDIS_PASSWORD")
    if password and "@" not in url.partition("://")[2].partition("/")[0]:
        options["password"] = password
    try:
        client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(url, **options)
    except ValueError as error:
        raise ValueError(f"not a usable Redis URL {redact_url(url)}: {error}") from None
    return client


def open_store(
    where: str | Path | None,
    *,
    session_ttl: float = DEFAULT_SESSION_TTL,
    lock_timeout: float = 5.0,
) -> SessionStore:
    """A store from a URL or a path.

    `memory://` (or `:memory:`, or a bare `memory`, never meant as a file name) keeps nothing; `sqlite:///abs/path` or `sqlite://rel/path`
    (or a bare path, or None for `default_db_path()`) is a SQLite file; `redis://host:port/db`
    and `rediss://` (TLS) are Redis, with the password from the URL or `$REDIS_PASSWORD`.
    `session_ttl` is how long an idle walkthrough lives in Redis (the engine's ttl * 2).
    Raises ValueError for an unknown scheme, OSError/sqlite3.Error for an unusable file.
    """
    if where is None:
        return SqliteStore(default_db_path())
    text = str(where)
    if text in (":memory:", "memory://", "memory"):
        return MemoryStore()
    if text.startswith(("redis://", "rediss://")):
        return RedisStore(text, session_ttl=session_ttl, lock_timeout=lock_timeout)
    if text.startswith("sqlite://"):
        path = text.removeprefix("sqlite://")
        if path.startswith("//"):
            path = path[1:]
        if not path:
            return SqliteStore(default_db_path())
        return SqliteStore(Path(path).expanduser())
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        scheme = text.partition("://")[0]
        raise UnknownStore(
            f"unknown store {scheme}://; use one of {', '.join(STORE_SCHEMES)} or a file path"
        )
    return SqliteStore(Path(text).expanduser())
