"""Anonymous usage events: what the bot did with each message, never who sent it.

An `Event` holds the time, platform, reply language, what kind of handling it was, the entry
and score, the handling time and, for walkthrough moves, the check/step id and the move. There
is no field for a user, chat or message id, so none can be stored.

Question text is the one piece of what people wrote that is kept, and only where it helps the
guide: the normalised text (`bot.text.normalize`, cut to 200 characters) of questions that fell
back, got "did you mean", or whose answer was rated unhelpful; and not at all when the log is
made with `log_questions=False`. The log enforces this itself: the engine may pass the text
with every question event and the log drops what it must not keep. For an answer the text is
held in memory only (never on disk, for at most `PENDING_SECONDS`) so that a 👎 can attach it.

Feedback: every answer shown gets a fresh random `token` (`new_token()`), carried in its
rating buttons. `rate(token, +1 | -1)` stores one `feedback` event per token, so pressing
again changes the rating and never counts twice. The token is random, so it cannot be turned
back into a person.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import operator
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, TypeVar, get_args

from bot.limits import DEFAULT_RETENTION_DAYS, PENDING_MAX, PENDING_SECONDS
from bot.sqlite_writes import SqliteWriter
from bot.text import normalize

T = TypeVar("T")
log = logging.getLogger(__name__)

Kind = Literal[
    "answer",
    "did_you_mean",
    "fallback",
    "smalltalk",
    "command",
    "walkthrough",
    "feedback",
    "handoff",
]
Move = Literal["start", "next", "back", "cancel", "finish", "idle"]
KINDS: tuple[str, ...] = get_args(Kind)
MOVES: tuple[str, ...] = get_args(Move)
# Kinds whose question text may be kept (feedback: only when the rating is -1).
QUESTION_KINDS = frozenset({"fallback", "did_you_mean"})
MAX_QUESTION_CHARS = 200


def new_token() -> str:
    """A random, per-answer rating token (16 URL-safe characters) for the feedback buttons."""
    return secrets.token_urlsafe(12)


def clean_question(text: str | None) -> str | None:
    """The form in which question text is stored: normalised, at most 200 characters."""
    if not text:
        return None
    cleaned = normalize(text)[:MAX_QUESTION_CHARS].strip()
    return cleaned or None


@dataclass(frozen=True, slots=True)
class Event:
    """One anonymous event. Deliberately no user, chat or message id."""

    kind: Kind
    platform: str
    lang: str
    at: float = dataclasses.field(default_factory=time.time)
    entry: str | None = None
    score: float | None = None
    ms: float | None = None  # handling time in milliseconds
    position: str | None = None  # walkthrough: the check or step id the move arrived at / left
    move: Move | None = None
    rating: int | None = None  # feedback: +1 helpful, -1 not helpful
    token: str | None = None  # answer and feedback: the random per-answer rating token
    question: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown event kind {self.kind!r} (expected one of {KINDS})")
        if self.move is not None and self.move not in MOVES:
            raise ValueError(f"unknown walkthrough move {self.move!r} (expected one of {MOVES})")
        if self.kind == "walkthrough" and self.move is None:
            raise ValueError("a walkthrough event needs a move")
        if self.rating not in (None, 1, -1):
            raise ValueError(f"a rating is +1 or -1, not {self.rating!r}")
        if self.kind == "feedback" and self.rating is None:
            raise ValueError("a feedback event needs a rating")
        if self.question is not None:
            object.__setattr__(self, "question", clean_question(self.question))

    def stored(self, log_questions: bool = True) -> Event:
        """This event as it may be kept on disk: question text only where the rules allow."""
        if self.question is None or self.keeps_question(log_questions):
            return self
        return dataclasses.replace(self, question=None)

    def keeps_question(self, log_questions: bool = True) -> bool:
        """Whether the rules allow this event's question text on disk."""
        return log_questions and (
            self.kind in QUESTION_KINDS or (self.kind == "feedback" and self.rating == -1)
        )


class EventLog(Protocol):
    """Where events go. Every method is safe to call from the event loop."""

    async def record(self, event: Event) -> None: ...

    async def rate(self, token: str, rating: int) -> bool:
        """Store (or change) the rating of the answer shown with `token`; False if that answer
        is unknown (never recorded, or purged)."""
        ...

    async def events(self, since: float) -> list[Event]: ...
    async def purge(self, older_than: float) -> int: ...
    async def close(self) -> None: ...


def retention_cutoff(days: float = DEFAULT_RETENTION_DAYS, now: float | None = None) -> float:
    """The `older_than` time for `purge` that keeps `days` days of events."""
    return (time.time() if now is None else now) - days * 86400.0


class _Pending:
    """Answered questions' text, in memory only, until rated or `PENDING_SECONDS` pass."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def put(self, token: str, question: str) -> None:
        self._items[token] = (time.monotonic(), question)
        while len(self._items) > PENDING_MAX:
            self._items.popitem(last=False)

    def get(self, token: str) -> str | None:
        found = self._items.get(token)
        if found is None or time.monotonic() - found[0] > PENDING_SECONDS:
            return None
        return found[1]

    def clear(self) -> None:
        self._items.clear()


def _check_rating(rating: int) -> None:
    if rating not in (1, -1):
        raise ValueError(f"a rating is +1 or -1, not {rating!r}")


class MemoryEventLog:
    """For tests and `:memory:` runs: nothing survives the process."""

    def __init__(self, log_questions: bool = True) -> None:
        self.log_questions = log_questions
        self._events: list[Event] = []
        self._pending = _Pending()

    async def record(self, event: Event) -> None:
        if event.kind == "answer" and event.token and event.question and self.log_questions:
            self._pending.put(event.token, event.question)
        self._events.append(event.stored(self.log_questions))

    async def rate(self, token: str, rating: int) -> bool:
        _check_rating(rating)
        answer = next((e for e in self._events if e.kind == "answer" and e.token == token), None)
        if answer is None:
            return False
        self._events = [e for e in self._events if not (e.kind == "feedback" and e.token == token)]
        question = self._pending.get(token) if rating == -1 else None
        feedback = Event(
            "feedback",
            answer.platform,
            answer.lang,
            entry=answer.entry,
            rating=rating,
            token=token,
            question=question,
        )
        self._events.append(feedback.stored(self.log_questions))
        return True

    async def events(self, since: float) -> list[Event]:
        return sorted((e for e in self._events if e.at >= since), key=lambda e: e.at)

    async def purge(self, older_than: float) -> int:
        before = len(self._events)
        self._events = [e for e in self._events if e.at >= older_than]
        return before - len(self._events)

    async def close(self) -> None:
        self._events.clear()
        self._pending.clear()


_COLUMNS = (
    "kind",
    "platform",
    "lang",
    "at",
    "entry",
    "score",
    "ms",
    "position",
    "move",
    "rating",
    "token",
    "question",
)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events ("
    " id INTEGER PRIMARY KEY, kind TEXT NOT NULL, platform TEXT NOT NULL, lang TEXT NOT NULL,"
    " at REAL NOT NULL, entry TEXT, score REAL, ms REAL, position TEXT, move TEXT,"
    " rating INTEGER, token TEXT, question TEXT)",
    "CREATE INDEX IF NOT EXISTS events_at ON events(at)",
    # One rating per answer shown: a second press replaces the first.
    "CREATE UNIQUE INDEX IF NOT EXISTS events_feedback ON events(token) WHERE kind = 'feedback'",
    "CREATE INDEX IF NOT EXISTS events_answer ON events(token) WHERE kind = 'answer'",
)

_INSERT = f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_ALL_BUT_QUESTION = operator.attrgetter(*_COLUMNS[:-1])

FLUSH_SECONDS = 0.5
"""How long a recorded event may wait in memory before it is committed with the others."""
FLUSH_ROWS = 256
"""Events waiting in memory that are committed at once, without waiting for FLUSH_SECONDS."""


def _row(event: Event, log_questions: bool) -> tuple[object, ...]:
    """The `events` row of `event` as stored (`Event.stored`, without building a copy)."""
    question = event.question if event.keeps_question(log_questions) else None
    return (*_ALL_BUT_QUESTION(event), question)


class SqliteEventLog:
    """A table `events` in a SQLite file (by default the sessions file), with its own
    connections: WAL, a busy timeout, and writes committed like `SqliteStore`'s (on the
    event loop unless they would wait, see `bot.sqlite_writes`).

    Events are analytics, not anyone's state: `record` keeps the row in memory and returns, and
    the rows of the last `FLUSH_SECONDS` (or `FLUSH_ROWS` rows) are committed together, in one
    transaction. One commit per message had been a fifth of a message's handling (issue 15).
    Reading (`events`, `rate`, `purge`) and `close` commit what waits first; a `kill -9` loses
    at most the last half second of events, never a session.

    `read_only=True` (for `helpbot report`) never writes or creates anything; a file without
    the table simply has no events.
    """

    def __init__(
        self, path: str | Path, log_questions: bool = True, read_only: bool = False
    ) -> None:
        self.path = Path(path)
        self.log_questions = log_questions
        self.read_only = read_only
        self._pending = _Pending()
        self._lock = threading.Lock()
        self._writer: SqliteWriter | None = None  # none when read-only
        self._rows: list[tuple[object, ...]] = []  # recorded, not yet committed
        self._flusher: asyncio.Task[None] | None = None  # commits them after FLUSH_SECONDS
        if read_only:
            if not self.path.is_file():
                raise FileNotFoundError(f"no such file: {self.path}")
            self._db = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                check_same_thread=False,
                isolation_level=None,
                timeout=10,
            )
            self._db.execute("PRAGMA query_only=ON")
            self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # not a database?
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=10
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._writer = SqliteWriter(self.path, self._db, self._lock)

    def _run(self, sql: str, args: tuple[object, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    async def record(self, event: Event) -> None:
        if self._writer is None:
            raise sqlite3.OperationalError(f"the event log {self.path} was opened read-only")
        if event.kind == "answer" and event.token and event.question and self.log_questions:
            self._pending.put(event.token, event.question)
        self._rows.append(_row(event, self.log_questions))
        if len(self._rows) >= FLUSH_ROWS:
            await self._commit_rows()
            return
        loop = asyncio.get_running_loop()
        flusher = self._flusher
        if flusher is None or flusher.done() or flusher.get_loop() is not loop:
            self._flusher = loop.create_task(self._commit_later())

    async def _commit_later(self) -> None:
        """Commits the waiting rows after FLUSH_SECONDS; at once, on this thread, when
        cancelled (`asyncio.run` cancels what is left when its loop ends without `close`)."""
        try:
            await asyncio.sleep(FLUSH_SECONDS)
        except asyncio.CancelledError:
            self._commit_rows_now()
            raise
        self._flusher = None  # rows recorded from now on get a flusher of their own
        await self._commit_rows()

    async def _commit_rows(self) -> None:
        """Commits every row waiting in memory, after what the writer already holds (with none
        waiting, just waits for that: a reader then sees everything recorded before)."""
        rows, self._rows = self._rows, []
        if self._writer is None:
            return
        try:
            await self._writer.write([(_INSERT, row) for row in rows])
        except sqlite3.Error as error:
            if rows:
                log.error("could not record %d events in %s: %s", len(rows), self.path, error)
            else:
                raise

    def _commit_rows_now(self) -> None:
        rows, self._rows = self._rows, []
        if rows and self._writer is not None:
            try:
                self._writer.write_now([(_INSERT, row) for row in rows])
            except sqlite3.Error as error:
                log.error("could not record %d events in %s: %s", len(rows), self.path, error)

    def _rate(self, token: str, rating: int, question: str | None) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT platform, lang, entry FROM events WHERE kind = 'answer' AND token = ?"
                " ORDER BY id LIMIT 1",
                (token,),
            ).fetchone()
            if row is None:
                return False
            feedback = Event(
                "feedback",
                row[0],
                row[1],
                entry=row[2],
                rating=rating,
                token=token,
                question=question,
            ).stored(self.log_questions)
            values = tuple(getattr(feedback, name) for name in _COLUMNS)
            self._db.execute(
                f"INSERT INTO events ({', '.join(_COLUMNS)})"
                f" VALUES ({', '.join('?' * len(_COLUMNS))})"
                " ON CONFLICT(token) WHERE kind = 'feedback' DO UPDATE SET"
                " rating = excluded.rating, at = excluded.at, question = excluded.question",
                values,
            )
            return True

    async def rate(self, token: str, rating: int) -> bool:
        _check_rating(rating)
        question = self._pending.get(token) if rating == -1 else None
        await self._commit_rows()  # the answer's own event may still be waiting
        return await asyncio.to_thread(self._rate, token, rating, question)

    def _select(self, since: float) -> list[Event]:
        with self._lock:
            try:
                rows = self._db.execute(
                    f"SELECT {', '.join(_COLUMNS)} FROM events WHERE at >= ? ORDER BY at, id",
                    (since,),
                ).fetchall()
            except sqlite3.OperationalError as error:
                if "no such table" in str(error):
                    return []  # a sessions file no bot has written events to yet
                raise
        found: list[Event] = []
        for row in rows:
            try:
                found.append(Event(**dict(zip(_COLUMNS, row, strict=True))))
            except (TypeError, ValueError):
                continue  # a row written by a newer version (an unknown kind): not counted
        return found

    async def events(self, since: float) -> list[Event]:
        await self._commit_rows()
        return await asyncio.to_thread(self._select, since)

    async def purge(self, older_than: float) -> int:
        await self._commit_rows()
        cursor = await asyncio.to_thread(
            self._run, "DELETE FROM events WHERE at < ?", (older_than,)
        )
        return cursor.rowcount

    async def close(self) -> None:
        if self._writer is not None:
            if self._rows:
                await self._commit_rows()
            flusher, self._flusher = self._flusher, None
            if flusher is not None and flusher.get_loop() is asyncio.get_running_loop():
                flusher.cancel()  # nothing left for it to commit
                await asyncio.gather(flusher, return_exceptions=True)
            await self._writer.close()
        with self._lock:
            self._db.close()
        self._pending.clear()


DAY = 86400


def _day(at: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(at))


def _event_json(event: Event) -> str:
    """The event's set fields as compact JSON (`None`s left out: a fifth of the bytes)."""
    values = {name: getattr(event, name) for name in _COLUMNS}
    return json.dumps({k: v for k, v in values.items() if v is not None}, separators=(",", ":"))


class RedisEventLog:
    """Events in Redis, for bots sharing a `redis://` store: no purge loop, no file.

    Keys (under `prefix`, default `helpbot:`):
    - `ev:<YYYY-MM-DD>` (UTC): a list of that day's events as compact JSON, expiring at the
      end of the day plus `retention_days` (so events live between N and N+1 days);
    - `ev:fb:<YYYY-MM-DD>`: a hash, rating token -> the feedback event, on the day of the
      answer it rates, expiring with it; HSET replaces, so a rating counts once however often
      it is pressed, from whichever process;
    - `ev:tok:<token>`: what `rate` needs of an answer (platform, language, entry, day),
      expiring with the answer's day.
    Answered questions' text waits for a 👎 in this process's memory only, as everywhere: a 👎
    handled by another worker keeps no text. `purge` has nothing to do.
    """

    def __init__(
        self,
        url: str,
        *,
        log_questions: bool = True,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        prefix: str = "helpbot:",
        timeout: float = 2.0,
    ) -> None:
        from bot.sessions import redact_url, redis_client

        self.where = redact_url(url)
        self.log_questions = log_questions
        self.retention = retention_days * DAY
        self.prefix = prefix
        self._redis = redis_client(url, timeout)
        self._pending = _Pending()

    def _expiry(self, at: float) -> int:
        """When the events of `at`'s day expire (a Unix time)."""
        return int((at // DAY + 1) * DAY + self.retention)

    async def _call(self, operation: Awaitable[T]) -> T:
        import redis.exceptions

        from bot.sessions import StoreUnavailable, redact_url

        try:
            return await operation
        except (redis.exceptions.RedisError, OSError) as error:
            reason = redact_url(str(error)) or type(error).__name__
            raise StoreUnavailable(f"the event log {self.where} is unavailable: {reason}") from None

    async def record(self, event: Event) -> None:
        if event.kind == "answer" and event.token and event.question and self.log_questions:
            self._pending.put(event.token, event.question)
        stored = event.stored(self.log_questions)
        day, expiry = _day(event.at), self._expiry(event.at)
        pipe = self._redis.pipeline(transaction=False)
        pipe.rpush(f"{self.prefix}ev:{day}", _event_json(stored))
        pipe.expireat(f"{self.prefix}ev:{day}", expiry)
        if event.kind == "answer" and event.token:
            answer = {"platform": event.platform, "lang": event.lang, "entry": event.entry}
            pipe.set(
                f"{self.prefix}ev:tok:{event.token}",
                json.dumps({**answer, "day": day, "exp": expiry}, separators=(",", ":")),
                exat=expiry,
            )
        await self._call(pipe.execute())

    async def rate(self, token: str, rating: int) -> bool:
        _check_rating(rating)
        found = await self._call(self._redis.get(f"{self.prefix}ev:tok:{token}"))
        if not found:
            return False
        answer = json.loads(found)
        question = self._pending.get(token) if rating == -1 else None
        feedback = Event(
            "feedback",
            answer["platform"],
            answer["lang"],
            entry=answer.get("entry"),
            rating=rating,
            token=token,
            question=question,
        ).stored(self.log_questions)
        name = f"{self.prefix}ev:fb:{answer['day']}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(name, token, _event_json(feedback))
        pipe.expireat(name, int(answer["exp"]))
        await self._call(pipe.execute())
        return True

    async def events(self, since: float) -> list[Event]:
        now = time.time()
        days = []
        at = max(since, now - self.retention - 2 * DAY)
        while at <= now + DAY:
            days.append(_day(at))
            at += DAY
        found: list[Event] = []
        for day in dict.fromkeys(days):
            rows = await self._call(self._redis.lrange(f"{self.prefix}ev:{day}", 0, -1))
            rated = await self._call(self._redis.hvals(f"{self.prefix}ev:fb:{day}"))
            for row in [*rows, *rated]:
                try:
                    event = Event(**json.loads(row))
                except (TypeError, ValueError):
                    continue  # written by a newer version (an unknown kind): not counted
                if event.at >= since:
                    found.append(event)
        found.sort(key=lambda e: e.at)
        return found

    async def purge(self, older_than: float) -> int:
        """Nothing to do: each day's events expire by themselves."""
        return 0

    async def close(self) -> None:
        self._pending.clear()
        await self._redis.aclose()


def open_event_log(
    db: str | Path | None,
    log_questions: bool = True,
    read_only: bool = False,
    retention_days: float = DEFAULT_RETENTION_DAYS,
) -> EventLog:
    """`:memory:` gives a throw-away log; `redis://` / `rediss://` a `RedisEventLog`; anything
    else is a SQLite file (default: the sessions file, `bot.sessions.default_db_path()`)."""
    if db == ":memory:":
        return MemoryEventLog(log_questions)
    if str(db).startswith(("redis://", "rediss://")):
        return RedisEventLog(str(db), log_questions=log_questions, retention_days=retention_days)
    if db is None:
        from bot.sessions import default_db_path

        db = default_db_path()
    return SqliteEventLog(db, log_questions=log_questions, read_only=read_only)
