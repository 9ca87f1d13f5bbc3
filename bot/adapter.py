"""The contract every platform adapter keeps (platform-neutral: no SDK is imported here).

An adapter module in `adapters/` exposes `ADAPTER = SomeAdapter`, a subclass of `Adapter`; the
`helpbot` command finds it by that attribute (`adapters.<module>.ADAPTER`), so a new platform is
one new file plus its tests. The subclass declares its platform's facts as class attributes and
implements three coroutines; everything platforms have in common lives here, once:

    class DiscordAdapter(Adapter):
        command = "discord"                 # the `helpbot` subcommand
        platform = "discord"                # IncomingMessage.platform
        text_limit = 2000                   # characters of one message
        payload_limit = 100                 # what one button payload may carry (bytes)
        requires = {"discord": "discord"}   # importable module -> pip extra that brings it
        secret_patterns = ()                # regexes masked in every log line (token shapes)
        quiet_loggers = ("discord.gateway",)  # SDK loggers held at WARNING or above

        @classmethod
        def add_arguments(cls, parser): ...    # its own options (token file, URLs, ...)
        def render(self, markup): ...          # neutral markup -> the platform's markup
        async def start(self): ...             # connect / log in; AdapterExit(status, why) to refuse
        async def run(self): ...               # serve until stop() is called (or the link fails)
        async def stop(self): ...              # stop taking updates, let those in progress finish

    ADAPTER = DiscordAdapter

Provided by the base:

- `serve_until_signal()`: `asyncio.run` of start, run, then on SIGINT/SIGTERM stop (bounded by
  `drain_timeout`), always `engine.close()`; `engine.purge_expired()` every `purge_every`
  seconds in the background when the engine has it. Returns the process exit status.
- Metrics (`--metrics-port`, i.e. `args.metrics` set by the CLI): `serve()` wraps the engine's
  store and event log once (`bot.metrics.MeteredStore`, `MeteredEventLog`: store latency and
  errors, messages by platform/kind/language and handling time), starts the `MetricsServer` in
  this event loop before `start()` (so `/readyz` can await `engine.store.ready()` on the bot's
  own Redis client), and refreshes the open-walkthroughs gauge every `gauge_every` seconds.
  Subclasses report `mark_connected(True/False, why)` when the platform link comes and goes,
  and `api_error(kind)` / `api_retry()` in their retry paths; all are no-ops without metrics.
- `missing_extra()`: the one-line "install the extra" message when the platform library is
  absent (the CLI prints it and exits 2 before opening anything).
- `language(locale)`: the knowledge base language for a platform locale (`pt-BR` -> `pt`).
- `split(markup)`: rendered pieces within `text_limit`; `clip(text, limit)` for labels/names.

Ordering per person is the engine's job (`Engine.handle` holds a per-person lock from the
session store), so adapters add no locks of their own. Search and autocomplete go through
`Engine.suggest(message)`, which honours a language chosen with /language. Adapters never
read `engine.knowledge`: `engine.languages`, `engine.ui(key, lang)` and
`engine.command_specs(lang)` give them what they show.
"""

from __future__ import annotations

import abc
import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from bot.actions import MAX_PAYLOAD_BYTES
from bot.adapter_metrics import WalkthroughGauge, serve_metrics
from bot.language import from_locale
from bot.logs import add_secret_pattern, quiet_loggers
from bot.markup import split_message, to_plain

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.metrics import Metrics, MetricsServer

log = logging.getLogger(__name__)

ELLIPSIS = "…"


class AdapterExit(Exception):
    """Raised by `start()` (or `run()`) to end with `status` after one clear line, e.g. a
    missing token (2) or a token the platform rejected (1). The message never holds a secret."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_T = TypeVar("_T")


def env_setting(name: str, convert: Callable[[str], _T]) -> _T | None:
    """The setting in environment variable `name` (None when unset or blank), converted;
    AdapterExit(2) naming the variable when it does not convert, rather than a traceback or
    a setting silently dropped (from an adapter's `__init__` or `start()`: both are
    reported)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return convert(value)
    except (ValueError, argparse.ArgumentTypeError) as error:
        raise AdapterExit(2, f"${name}: {error}") from None


def clip(text: str, limit: int) -> str:
    """`text` on one line, cut to at most `limit` characters with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


class Adapter(abc.ABC):
    """One chat platform: translates its events to `IncomingMessage`s and `Reply`s back."""

    command: ClassVar[str]
    platform: ClassVar[str]
    text_limit: ClassVar[int]
    payload_limit: ClassVar[int] = MAX_PAYLOAD_BYTES
    requires: ClassVar[dict[str, str]] = {}  # module to import -> pip extra providing it
    secret_patterns: ClassVar[tuple[re.Pattern[str], ...]] = ()
    quiet_loggers: ClassVar[tuple[str, ...]] = ()
    drain_timeout: ClassVar[float] = 5.0
    purge_every: ClassVar[float] = 600.0
    gauge_every: ClassVar[float] = 30.0
    # True when the adapter calls `mark_connected` itself as its link comes and goes; else the
    # base marks it connected once `start()` returned (the console has no link to lose).
    marks_connection: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Importing an adapter module is enough for its token shapes to be masked in logs.
        for pattern in cls.secret_patterns:
            add_secret_pattern(pattern)
        quiet_loggers(*cls.quiet_loggers)

    def __init__(self, engine: Engine, args: argparse.Namespace | None = None) -> None:
        if self.payload_limit < MAX_PAYLOAD_BYTES:
            raise ValueError(
                f"{self.platform} carries {self.payload_limit}-byte button payloads; "
                f"the engine makes up to {MAX_PAYLOAD_BYTES}"
            )
        self.engine = engine
        self.args = args if args is not None else argparse.Namespace()
        self.metrics: Metrics | None = getattr(self.args, "metrics", None)
        self.metrics_server: MetricsServer | None = None
        self._gauge = WalkthroughGauge()

    # -- what each platform implements -------------------------------------------------------

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add this platform's own options to its subcommand's parser (none by default)."""
        return None

    @classmethod
    def description(cls) -> str:
        """The subcommand's help text: the adapter module's docstring."""
        module = sys.modules.get(cls.__module__)
        return ((module.__doc__ if module else None) or cls.__doc__ or cls.command).strip()

    def render(self, markup: str) -> str:
        """Neutral markup (`bot.markup`) as this platform shows it; plain text by default."""
        return to_plain(markup)

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and log in. Raise `AdapterExit` to stop with a clear message."""

    @abc.abstractmethod
    async def run(self) -> None:
        """Serve until `stop()` is called; return early only when the platform link ends."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop taking updates and let those being handled finish."""

    def describe_failure(self, error: BaseException) -> str:
        """One line for a failure that ended `start()` or `run()` (no secrets in it)."""
        return f"{type(error).__name__}: {error}"

    # -- shared by every platform -------------------------------------------------------------

    @classmethod
    def missing_extra(cls) -> str | None:
        """None when the platform library imports, else the line telling what to install."""
        for module, extra in cls.requires.items():
            try:
                importlib.import_module(module)
            except ImportError:
                return (
                    f"helpbot {cls.command}: the {cls.platform} library ({module}) is not "
                    f"installed. From a clone of helpbot: pip install '.[{extra}]' "
                    f"(from an index: pip install 'helpbot[{extra}]')."
                )
        return None

    def language(self, locale: str | None) -> str | None:
        """The knowledge base's language for a platform locale ('pt-BR' -> 'pt'), if any."""
        return from_locale(locale, list(self.engine.languages))

    def split(self, markup: str) -> list[str]:
        """`markup` rendered for this platform, in pieces of at most `text_limit` characters."""
        if not markup.strip():
            return []
        return split_message(markup, self.text_limit, self.render)

    @staticmethod
    def clip(text: str, limit: int) -> str:
        return clip(text, limit)

    # -- metrics and readiness (no-ops without --metrics-port) -----------------------------

    def mark_connected(self, connected: bool, reason: str = "") -> None:
        """The platform link is up (or down, and why): `/readyz`'s "platform" check."""
        if self.metrics_server is not None:
            why = reason or (
                f"connected to {self.platform}"
                if connected
                else f"not connected to {self.platform}"
            )
            self.metrics_server.mark("platform", connected, why)

    def api_error(self, kind: str) -> None:
        """A platform API call failed: network, timeout, rate_limited, unauthorized,
        forbidden, bad_request or server."""
        if self.metrics is not None:
            self.metrics.api_error(self.platform, kind)

    def api_retry(self) -> None:
        """A platform API call is being tried again."""
        if self.metrics is not None:
            self.metrics.api_retry(self.platform)

    async def _start_metrics(self) -> bool:
        """Serve metrics (see `bot.adapter_metrics`); False when the port cannot be had."""
        assert self.metrics is not None
        self.metrics_server = await serve_metrics(
            self.engine, self.metrics, self.args, self.platform, self.command, self._gauge
        )
        return self.metrics_server is not None

    def serve_until_signal(self) -> int:
        """Run the adapter in a new event loop until SIGINT/SIGTERM; the exit status."""
        return asyncio.run(self.serve())

    async def serve(self, stopping: asyncio.Event | None = None) -> int:
        """start, run until a signal (or `stopping` is set), stop and drain, close the engine.
        0 after a requested stop, `AdapterExit.status`, or 1 when the platform link failed."""
        stopping = stopping or asyncio.Event()
        loop = asyncio.get_running_loop()
        background: list[asyncio.Task[Any]] = []
        handled = _handle_signals(loop, stopping, getattr(self.engine, "reload", None), background)
        try:
            return await self._start_and_run(stopping, background)
        finally:
            for task in background:
                task.cancel()
            for signum in handled:
                loop.remove_signal_handler(signum)
            if self.metrics_server is not None:
                self.mark_connected(False, "stopping")
                await self.metrics_server.stop()
                self.metrics_server = None
            await self.engine.close()

    async def _start_and_run(
        self, stopping: asyncio.Event, background: list[asyncio.Task[Any]]
    ) -> int:
        """Metrics, model warm-up and `start()`, then run until stopped; the exit status."""
        if self.metrics is not None:
            if not await self._start_metrics():
                return 2
            background.append(
                asyncio.create_task(
                    self._gauge.count_forever(self.engine, self.gauge_every), name="helpbot-gauge"
                )
            )
        # Load the sentence model before taking traffic, off the event loop: loaded lazily,
        # the first question would wait for it (over a second; Discord allows three).
        await self.engine.warm_up()
        try:
            await self.start()
        except AdapterExit as refused:
            return self.report_exit(refused)
        except Exception as failure:
            log.error("%s: could not start: %s", self.command, self.describe_failure(failure))
            return 1
        if not self.marks_connection:
            self.mark_connected(True, "started")
        background.append(asyncio.create_task(self._purge_forever(), name="helpbot-purge"))
        return await self._run_until_stopped(stopping, background)

    async def _run_until_stopped(
        self, stopping: asyncio.Event, background: list[asyncio.Task[Any]]
    ) -> int:
        """`run()` until it ends or `stopping` is set; then `stop()` and drain, both bounded by
        `drain_timeout`. 0, `AdapterExit.status`, or 1 when the link failed."""
        running = asyncio.create_task(self.run(), name=f"helpbot-{self.command}")
        waiting = asyncio.create_task(stopping.wait())
        background.append(waiting)
        await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if not running.done():
            log.info("%s: stopping, finishing the updates in progress", self.command)
            try:
                await asyncio.wait_for(self.stop(), self.drain_timeout)
            except Exception as trouble:
                log.warning("%s: stop did not finish cleanly: %s", self.command, trouble)
            done, _ = await asyncio.wait({running}, timeout=self.drain_timeout)
            if not done:
                running.cancel()
                with contextlib.suppress(BaseException):
                    await running
                return 0
        error = running.exception()
        if error is None:
            return 0
        if isinstance(error, AdapterExit):
            return self.report_exit(error)
        log.error("%s: stopped: %s", self.command, self.describe_failure(error))
        return 1

    @classmethod
    def report_exit(cls, done: AdapterExit) -> int:
        """Say why on standard error (one line, when there is a reason); the exit status.
        A classmethod: the CLI reports an `AdapterExit` raised while constructing one."""
        if done.message:
            print(f"helpbot {cls.command}: {done.message}", file=sys.stderr, flush=True)
        return done.status

    async def _purge_forever(self) -> None:
        purge = getattr(self.engine, "purge_expired", None)  # added to Engine in another branch
        if purge is None:
            return
        while True:
            await asyncio.sleep(self.purge_every)
            try:
                removed = await purge()
                log.debug("purged %s expired conversations", removed)
            except Exception:
                log.exception("purging expired conversations failed")


def _handle_signals(
    loop: asyncio.AbstractEventLoop,
    stopping: asyncio.Event,
    reload: Callable[[], Coroutine[Any, Any, Any]] | None,
    background: list[asyncio.Task[Any]],
) -> list[signal.Signals]:
    """SIGINT/SIGTERM set `stopping`; SIGHUP reloads the knowledge (`Engine.reload` validates
    and checks it first). The signals actually handled, for removal later: none on Windows or
    off the main thread, where the caller stops us with `stopping`."""
    handled: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stopping.set)
            handled.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    hup = getattr(signal, "SIGHUP", None)
    if reload is not None and hup is not None:

        def reload_knowledge() -> None:
            background.append(asyncio.create_task(reload(), name="helpbot-reload"))

        try:
            loop.add_signal_handler(hup, reload_knowledge)
            handled.append(hup)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    return handled
