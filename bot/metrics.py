"""Prometheus metrics and the `/healthz`, `/readyz`, `/metrics` HTTP server (`--metrics-port`).

`Metrics` owns its own `CollectorRegistry` (never the process-wide default one), so two bots in
one process or one test never mix figures. Everything is anonymous: labels only take values
from small known sets (platform, message kind, language, error kind, store operation), and
anything else is counted as "other", so no person's id or text can become a label and the
number of time series stays bounded.

The engine and adapters call a small API::

    metrics.message("telegram", "answered", "es", seconds=0.012)
    metrics.api_error("discord", "rate_limited"); metrics.api_retry("discord")
    metrics.store_call("get", seconds=0.002, ok=True)   # or: with metrics.store_timer("put"): ...
    metrics.walkthroughs_from(callback); metrics.set_handoffs_open(3)

`MetricsServer` is a deliberately tiny HTTP/1.1 server on `asyncio.start_server`: GET/HEAD
only, one request per connection, requests over 8 KiB or slower than 5 s are dropped, at most
64 connections at once. Run it in the bot's event loop (`await server.start()`) or in its own
thread (`server.start_in_thread()`). prometheus-client is imported only when metrics are
used (`pip install 'helpbot[metrics]'`), so `helpbot ask` never pays for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from bot.events import Event, EventLog
    from bot.sessions import Session, SessionStore

log = logging.getLogger(__name__)

OTHER = "other"
PLATFORMS = frozenset({"telegram", "discord", "console"})
LANGUAGES = frozenset({"en", "es", "pt", "ru", "fr"})
# What a handled message turned out to be.
# The engine's event kinds (bot.events.KINDS: what `MeteredEventLog` counts) and the older
# adapter-side names, both accepted.
KINDS = frozenset(
    {"answer", "did_you_mean", "fallback", "smalltalk", "command", "walkthrough", "feedback"}
    | {"handoff", "answered", "unanswered", "button", "inline", "autocomplete"}
)
# Why a platform API call failed.
API_ERRORS = frozenset(
    {"network", "timeout", "rate_limited", "unauthorized", "forbidden", "bad_request", "server"}
)
STORE_OPS = frozenset({"get", "put", "delete", "lock", "purge", "ready"})

HANDLING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STORE_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)

INSTALL_HINT = "pip install 'helpbot[metrics]'"


class MetricsUnavailable(RuntimeError):
    """prometheus-client is not installed; the message says how to install it."""


def require_prometheus() -> None:
    """Raise `MetricsUnavailable` with a one-line fix if prometheus-client is missing."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError as error:
        raise MetricsUnavailable(
            f"--metrics-port needs prometheus-client, which is not installed: {INSTALL_HINT}"
        ) from error


def _known(value: str | None, allowed: frozenset[str]) -> str:
    value = (value or "").lower()
    return value if value in allowed else OTHER


class Metrics:
    """Counters, histograms and gauges of one bot, in a registry of their own."""

    def __init__(
        self,
        *,
        platforms: frozenset[str] = PLATFORMS,
        languages: frozenset[str] = LANGUAGES,
    ) -> None:
        require_prometheus()
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.platforms, self.languages = frozenset(platforms), frozenset(languages)
        self.registry: CollectorRegistry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._messages = Counter(
            "helpbot_messages",
            "Messages handled, by platform, what they were and the language answered in.",
            ["platform", "kind", "lang"],
            registry=r,
        )
        self._handling = Histogram(
            "helpbot_handling_seconds",
            "Time from receiving a message to having its replies, in seconds.",
            ["platform"],
            buckets=HANDLING_BUCKETS,
            registry=r,
        )
        self._api_errors = Counter(
            "helpbot_platform_api_errors",
            "Failed calls to a platform's API, by platform and kind of failure.",
            ["platform", "kind"],
            registry=r,
        )
        self._api_retries = Counter(
            "helpbot_platform_api_retries",
            "Platform API calls retried (after flood control or a network error).",
            ["platform"],
            registry=r,
        )
        self._define_state_metrics()
        # Labelled children by their (already bounded) label values: prometheus-client's
        # `labels()` checks and joins the values and takes a lock on every call, and a message
        # makes several (its kind, handling time, each store operation).
        self._children: dict[tuple[Any, ...], Any] = {}

    def _define_state_metrics(self) -> None:
        """The session store's latency and errors, and the open walkthroughs and handoffs."""
        from prometheus_client import Counter, Gauge, Histogram

        r = self.registry
        self._store_seconds = Histogram(
            "helpbot_store_seconds",
            "Latency of session store operations, in seconds.",
            ["op"],
            buckets=STORE_BUCKETS,
            registry=r,
        )
        self._store_errors = Counter(
            "helpbot_store_errors",
            "Session store operations that failed, by operation.",
            ["op"],
            registry=r,
        )
        self._walkthroughs = Gauge(
            "helpbot_walkthroughs_open",
            "Walkthroughs in progress (read from the store when scraped).",
            registry=r,
        )
        self._walkthroughs.set_function(lambda: math.nan)
        self._handoffs = Gauge(
            "helpbot_handoffs_open", "Hand-offs to a human not yet closed.", registry=r
        )

    def _child(self, metric: Any, *values: str) -> Any:
        """`metric.labels(*values)`, looked up once per metric and values."""
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    # -- what the engine and adapters call -----------------------------------------------

    def message(self, platform: str, kind: str, lang: str | None, seconds: float) -> None:
        """One handled message: what it was, the language of the answer, how long it took."""
        p = _known(platform, self.platforms)
        kind, lang = _known(kind, KINDS), _known(lang, self.languages)
        self._child(self._messages, p, kind, lang).inc()
        self._child(self._handling, p).observe(max(0.0, seconds))

    def api_error(self, platform: str, kind: str) -> None:
        platform, kind = _known(platform, self.platforms), _known(kind, API_ERRORS)
        self._child(self._api_errors, platform, kind).inc()

    def api_retry(self, platform: str) -> None:
        self._child(self._api_retries, _known(platform, self.platforms)).inc()

    def store_call(self, op: str, seconds: float, ok: bool = True) -> None:
        op = _known(op, STORE_OPS)
        self._child(self._store_seconds, op).observe(max(0.0, seconds))
        if not ok:
            self._child(self._store_errors, op).inc()

    @contextlib.contextmanager
    def store_timer(self, op: str) -> Iterator[None]:
        """Time a store operation; an exception counts as an error and is re-raised."""
        start = time.perf_counter()
        try:
            yield
        except BaseException:
            self.store_call(op, time.perf_counter() - start, ok=False)
            raise
        self.store_call(op, time.perf_counter() - start, ok=True)

    def walkthroughs_from(self, callback: Callable[[], float]) -> None:
        """Read the open-walkthrough count from `callback` at each scrape. It must be quick
        and thread-safe (a cached number); if it fails the gauge reads NaN and the scrape
        still succeeds."""

        def read() -> float:
            try:
                return float(callback())
            except Exception:
                log.warning("open-walkthrough count unavailable", exc_info=True)
                return math.nan

        self._walkthroughs.set_function(read)

    def set_handoffs_open(self, count: int) -> None:
        self._handoffs.set(count)

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format of every metric, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


# -- the HTTP server --------------------------------------------------------------------

Check = Callable[[], "bool | Awaitable[bool]"]

MAX_REQUEST_BYTES = 8192
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
CHECK_TIMEOUT = 2.0
MAX_CONNECTIONS = 64

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class MetricsServer:
    """`/healthz` (200 while the process runs), `/readyz` (200 only when every readiness check
    passes, else 503 with a JSON body naming what is not ready) and `/metrics`.

    Checks are added with `add_check(name, fn)` (fn returns a bool, or an awaitable of one,
    and is given 2 s) or set directly with `mark(name, ready, reason)`. A check that raises or
    times out is not ready. Async checks run in the server's event loop: in thread mode use
    `mark` from the bot's loop instead of a coroutine bound to that loop.
    """

    def __init__(self, metrics: Metrics, host: str = "127.0.0.1", port: int = 9100) -> None:
        self.metrics = metrics
        self.host, self.port = host, port
        self._checks: dict[str, Check] = {}
        self._marks: dict[str, tuple[bool, str]] = {}
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    # -- readiness ------------------------------------------------------------------------

    def add_check(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def mark(self, name: str, ready: bool, reason: str = "") -> None:
        """Set a readiness flag (e.g. "platform" when connected or disconnected)."""
        self._marks[name] = (ready, reason or ("ready" if ready else "not ready"))
        if name not in self._checks:

            def flag() -> bool:
                return self._marks[name][0]

            self._checks[name] = flag

    async def readiness(self) -> dict[str, str]:
        """Check name -> "ready" or why not."""
        names = list(self._checks)
        results = await asyncio.gather(*(self._run_check(n) for n in names))
        return dict(zip(names, results, strict=True))

    async def _run_check(self, name: str) -> str:
        try:
            result = self._checks[name]()
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(result, CHECK_TIMEOUT)
        except TimeoutError:
            return f"no answer within {CHECK_TIMEOUT:g} s"
        except Exception as error:
            return f"failed: {type(error).__name__}: {error}"[:200]
        if result:
            return "ready"
        return self._marks.get(name, (False, "not ready"))[1]

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen in the running event loop; `self.port` is the bound port (useful with 0)."""
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=MAX_REQUEST_BYTES
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics and health on http://%s:%d/", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and drop the connections still open (their handlers then end)."""
        if self._server is not None:
            self._server.close()
            self._server = None
            for writer in list(self._open):
                writer.close()
            for _ in range(100):  # the handlers see the closed connection within a few ticks
                if not self._open:
                    break
                await asyncio.sleep(0.01)

    async def __aenter__(self) -> MetricsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self) -> None:
        """Serve from a daemon thread with its own event loop; returns once listening and
        raises the bind error (e.g. port in use) if it could not."""
        started = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._thread_loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as error:
                failure.append(error)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop())
                loop.close()

        self._thread = threading.Thread(target=main, name="helpbot-metrics", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]

    def stop_thread(self) -> None:
        if self._thread is not None and self._thread_loop is not None:
            self._thread_loop.call_soon_threadsafe(self._thread_loop.stop)
            self._thread.join(5.0)
            self._thread = None

    # -- HTTP -----------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._open) >= MAX_CONNECTIONS or self._server is None:
            writer.close()
            return
        self._open.add(writer)
        try:
            status, ctype, body, head, extra = await self._respond(reader)
            await self._write(writer, status, ctype, body, head, extra)
        except Exception:
            log.debug("metrics request failed", exc_info=True)
        finally:
            self._open.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _respond(
        self, reader: asyncio.StreamReader
    ) -> tuple[int, str, bytes, bool, dict[str, str]]:
        text = "text/plain; charset=utf-8"
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        except TimeoutError:
            return 408, text, b"request too slow\n", False, {}
        except asyncio.LimitOverrunError:
            return 431, text, b"request too large\n", False, {}
        except asyncio.IncompleteReadError:
            return 400, text, b"incomplete request\n", False, {}
        parts = raw.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return 400, text, b"bad request line\n", False, {}
        method, target = parts[0], parts[1]
        head = method == "HEAD"
        if method not in ("GET", "HEAD"):
            return 405, text, b"only GET and HEAD\n", False, {"Allow": "GET, HEAD"}
        path = target.split("?", 1)[0]
        if path == "/healthz":
            return 200, text, b"ok\n", head, {}
        if path == "/readyz":
            checks = await self.readiness()
            failing = {name: why for name, why in checks.items() if why != "ready"}
            body = {"ready": not failing, "checks": checks}
            if failing:
                body["not_ready"] = sorted(failing)
            data = (json.dumps(body, sort_keys=True) + "\n").encode()
            return (503 if failing else 200), "application/json", data, head, {}
        if path == "/metrics":
            try:
                data, ctype = self.metrics.exposition()
            except Exception:
                log.exception("could not render /metrics")
                return 500, text, b"could not render metrics\n", head, {}
            return 200, ctype, data, head, {}
        return 404, text, b"not found: try /healthz, /readyz or /metrics\n", head, {}

    @staticmethod
    async def _write(
        writer: asyncio.StreamWriter,
        status: int,
        ctype: str,
        body: bytes,
        head: bool,
        extra: dict[str, str],
    ) -> None:
        headers = {
            "Content-Type": ctype,
            "Content-Length": str(len(body)),
            "Cache-Control": "no-store",
            "Connection": "close",
            **extra,
        }
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if not head:
            writer.write(body)
        await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)


# -- what feeds the metrics: one wrapper around the store, one around the event log --------


class MeteredStore:
    """A session store that times every operation into `metrics` (helpbot_store_seconds,
    helpbot_store_errors_total) and otherwise behaves exactly like the store it wraps.

    Wrapping once here, rather than timing inside each store, keeps every store (memory,
    SQLite, Redis, and those still to come) measured the same way. `lock` is timed until the
    lock is held (the waiting is what shows contention). Other attributes pass through.
    """

    def __init__(self, store: SessionStore, metrics: Metrics) -> None:
        self.inner = store
        self.metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def _timed(self, op: str, call: Awaitable[Any]) -> Any:
        with self.metrics.store_timer(op):
            return await call

    async def get(self, key: str) -> Session | None:
        found: Session | None = await self._timed("get", self.inner.get(key))
        return found

    async def put(self, key: str, session: Session) -> None:
        await self._timed("put", self.inner.put(key, session))

    async def delete(self, key: str) -> None:
        await self._timed("delete", self.inner.delete(key))

    async def clear(self, key: str) -> None:
        await self._timed("delete", self.inner.clear(key))

    async def purge(self, older_than: float) -> int:
        removed: int = await self._timed("purge", self.inner.purge(older_than))
        return removed

    async def ready(self) -> bool:
        start = time.perf_counter()
        ok = False
        try:
            ok = bool(await self.inner.ready())
            return ok
        finally:
            self.metrics.store_call("ready", time.perf_counter() - start, ok=ok)

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        start = time.perf_counter()
        held = self.inner.lock(key)
        try:
            await held.__aenter__()
        except BaseException:
            self.metrics.store_call("lock", time.perf_counter() - start, ok=False)
            raise
        self.metrics.store_call("lock", time.perf_counter() - start, ok=True)
        try:
            yield
        except BaseException as error:
            if not await held.__aexit__(type(error), error, error.__traceback__):
                raise
        else:
            await held.__aexit__(None, None, None)

    async def close(self) -> None:
        await self.inner.close()


class MeteredEventLog:
    """An event log that also counts handled messages (helpbot_messages_total by platform,
    kind and language; helpbot_handling_seconds): the engine records the events of a message
    in one place (`Engine._record`), so this is the one place messages are counted.

    A message can give several events (an idle notice, walkthrough moves, the answer); they
    share the message's time and handling time, so only the first event with a handling time
    of each (time, handling time) pair is counted. Ratings arrive through `rate` and are not
    messages of their own here (the press that carried them is counted by the platform)."""

    def __init__(self, log: EventLog, metrics: Metrics) -> None:
        self.inner = log
        self.metrics = metrics
        self._last: tuple[float, float] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def record(self, event: Event) -> None:
        if event.ms is not None and (event.at, event.ms) != self._last:
            self._last = (event.at, event.ms)
            self.metrics.message(event.platform, event.kind, event.lang, event.ms / 1000.0)
        await self.inner.record(event)

    async def rate(self, token: str, rating: int) -> bool:
        return await self.inner.rate(token, rating)

    async def events(self, since: float) -> list[Event]:
        return await self.inner.events(since)

    async def purge(self, older_than: float) -> int:
        return await self.inner.purge(older_than)

    async def close(self) -> None:
        await self.inner.close()


OPEN_SCAN_LIMIT = 200_000  # Redis keys looked at per count; beyond it the gauge reads NaN


async def count_open_walkthroughs(store: Any, since: float) -> float:
    """Walkthroughs in progress (a mode set, changed at or after `since`) in `store`: a scan
    made every 30 s by the adapter for the helpbot_walkthroughs_open gauge. NaN for a store
    this does not know how to count, or a Redis with more than OPEN_SCAN_LIMIT of them."""
    from bot.sessions import MemoryStore, RedisStore, Session, SqliteStore

    store = getattr(store, "inner", store)

    def active(data: str | bytes | None) -> bool:
        if not data:
            return False
        try:
            session = Session.from_json(data)
        except (ValueError, TypeError, UnicodeDecodeError):
            return False
        return session.active and session.updated_at >= since

    if isinstance(store, MemoryStore):
        return float(sum(active(v) for v in list(store._data.values())))
    if isinstance(store, SqliteStore):
        reader = store._reader

        def count() -> int:
            row = reader.execute(
                "SELECT count(*) FROM sessions WHERE updated_at >= ?"
                " AND json_extract(data, '$.mode') IS NOT NULL",
                (since,),
            ).fetchone()
            return int(row[0])

        return float(await asyncio.to_thread(count))
    if isinstance(store, RedisStore):
        client = store._redis
        seen = total = 0
        batch: list[Any] = []
        async for name in client.scan_iter(match=f"{store.prefix}s:*", count=1000):
            batch.append(name)
            seen += 1
            if seen > OPEN_SCAN_LIMIT:
                return math.nan
            if len(batch) >= 500:
                total += sum(active(v) for v in await client.mget(batch))
                batch = []
        if batch:
            total += sum(active(v) for v in await client.mget(batch))
        return float(total)
    return math.nan
