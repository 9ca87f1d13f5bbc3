"""Run the bot on Telegram: private chats, groups and inline mode.

The bot token comes from $TELEGRAM_BOT_TOKEN or --token-file (never from the command line, so
it cannot leak through the process list or shell history). Create a bot and get its token from
@BotFather; the README's Telegram section walks through it, including privacy mode for groups and inline
mode.

Long polling is the default and needs no open port. For a server, webhook mode receives
updates over HTTPS through your reverse proxy:

  helpbot telegram --token-file /etc/helpbot/telegram-token
  helpbot telegram --token-file /etc/helpbot/telegram-token \\
      --secret-token-file /etc/helpbot/webhook-secret \\
      --webhook-url https://bot.example.com/telegram --listen 127.0.0.1 --port 8443

Webhook mode checks Telegram's secret-token header before reading a request's body
(--secret-token-file, $TELEGRAM_WEBHOOK_SECRET, or a fresh random secret per start).
--base-url (or $TELEGRAM_BASE_URL) points the bot at a self-hosted Bot API server. An update is
confirmed to Telegram only once it has been handled, so a crash can repeat a reply but never
lose one. SIGINT or SIGTERM stops it after the updates in progress are done.

Many workers (webhook mode only): --workers N starts N processes sharing --port (SO_REUSEPORT)
behind the one webhook URL; they need a shared store (--store redis://...). Long polling stays
one process: Telegram allows a single getUpdates consumer per bot.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import hmac
import html
import json
import logging
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from bot.adapter import Adapter, AdapterExit, env_setting
from bot.commands import REGISTRY
from bot.engine import Engine
from bot.handoff import Summary
from bot.logs import add_secret, redact
from bot.markup import parse, split_message, to_plain
from bot.tokens import add_token_option, load_token
from bot.types import IncomingMessage, Reply

if TYPE_CHECKING:
    from aiohttp import web
    from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, InlineQuery, Message, Update
    from telegram.ext import ExtBot

PLATFORM = "telegram"
# Telegram tokens look like 123456:ABC-def..., and also appear inside Bot API URLs: masked in
# every log line from the moment this module is imported (`TelegramAdapter.secret_patterns`).
TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
MESSAGE_LIMIT = 4096  # characters of text in one message, after entity parsing
CALLBACK_DATA_LIMIT = 64  # bytes
NOTICE_LIMIT = 200  # characters of an answerCallbackQuery notice
INLINE_RESULTS = 10
# Everything else (edits, reactions, member changes) is not requested at all. Telegram
# remembers the last list a bot asked for, so it is always sent explicitly.
ALLOWED_UPDATES = ("message", "callback_query", "inline_query")
# Callback and inline queries expire after a few seconds; waiting longer than this for flood
# control to lift is pointless for them.
QUERY_PATIENCE = 10.0
# Telegram's rules for setWebhook: the secret and the ports it will call.
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
WEBHOOK_PORTS = (443, 80, 88, 8443)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# An update is a few kilobytes (a 4096-character message with its entities and the message it
# replies to); anything much larger is not from Telegram and is refused unread.
MAX_UPDATE_BYTES = 1024 * 1024
UPDATES_PER_FETCH = 100  # getUpdates' own maximum

log = logging.getLogger(__name__)


# -- settings --------------------------------------------------------------------------


def webhook_problems(url: str, secret: str | None, listen_port: int = 8443) -> list[str]:
    """What Telegram (or the operating system) would refuse in these webhook settings, each
    said plainly; empty when they are fine. Checked before connecting to anything."""
    problems = []
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        problems.append(
            f"--webhook-url must be a full https:// address (Telegram only calls HTTPS), e.g. https://bot.example.com/telegram, not {url!r}"
        )
    else:
        try:
            port = parts.port
        except ValueError:
            problems.append(f"--webhook-url has a port that is not a number: {url!r}")
        else:
            if port is not None and port not in WEBHOOK_PORTS:
                problems.append(
                    f"--webhook-url uses port {port}; Telegram only calls ports 443, 80, 88 and 8443 (let the reverse proxy forward to --port)"
                )
    if secret is not None and not SECRET_PATTERN.fullmatch(secret):
        if not 1 <= len(secret) <= 256:
            problems.append(
                f"the webhook secret is {len(secret)} characters long; Telegram accepts 1 to 256"
            )
        else:
            problems.append(
                "the webhook secret contains characters Telegram refuses; use only A-Z a-z 0-9 _ -"
            )
    if not 0 < listen_port < 65536:
        problems.append(f"--port {listen_port} is not a TCP port (1-65535)")
    return problems


def _webhook_secret(args: argparse.Namespace) -> str:
    """The webhook secret from --secret-token-file, $TELEGRAM_WEBHOOK_SECRET or a new random
    one; AdapterExit(2) saying what is wrong otherwise."""
    if getattr(args, "secret_token_flag", None) is not None:
        raise AdapterExit(
            2,
            "--secret-token would show the secret to everyone who can list processes; put it "
            "in $TELEGRAM_WEBHOOK_SECRET or in a file readable only by the bot and pass "
            "--secret-token-file PATH",
        )
    path = getattr(args, "secret_token_file", None)
    if path:
        try:
            secret = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "not a text file"
            raise AdapterExit(2, f"cannot read --secret-token-file {path}: {reason}") from None
        if not secret:
            raise AdapterExit(2, f"{path} is empty")
        add_secret(secret)
        return secret
    secret = os.environ.get("TELEGRAM_WEBHOOK_SECRET", "").strip()
    add_secret(secret)
    return secret or secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where Telegram posts updates (`url`) and where we listen for them (behind a proxy).
    The local path is the URL's path, so a proxy can forward it unchanged."""

    url: str
    listen: str = "127.0.0.1"
    port: int = 8443
    secret_token: str | None = None

    @property
    def path(self) -> str:
        return "/" + urlsplit(self.url).path.strip("/")


async def _quietly(awaitable: Awaitable[Any]) -> None:
    try:
        await awaitable
    except Exception:
        log.debug("ignored an error while shutting down", exc_info=True)


# -- resilience --------------------------------------------------------------------------


class Retrying:
    """A python-telegram-bot rate limiter that retries instead of throttling.

    Flood control (429 with retry_after) pauses every request until Telegram allows them
    again, then repeats the request; network errors, timeouts and 5xx answers are retried with
    capped exponential backoff. Bad requests are never retried. getUpdates has its own retry
    loop (`TelegramBot._poll`) and does not pass through here.
    """

    def __init__(
        self,
        max_retries: int = 5,
        backoff: float = 0.5,
        cap: float = 30.0,
        on_error: Callable[[str], None] | None = None,
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        self.max_retries = max_retries
        self.backoff = backoff
        self.cap = cap
        self._resume_at = 0.0
        # Metrics hooks: every failed call by kind, and every retry.
        self.on_error = on_error or (lambda kind: None)
        self.on_retry = on_retry or (lambda: None)

    async def initialize(self) -> None:
        self._resume_at = 0.0

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Awaitable[Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: object,
    ) -> Any:
        from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

        patience = QUERY_PATIENCE if endpoint.startswith("answer") else float("inf")
        attempt = 0
        while True:
            pause = self._resume_at - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            if attempt:
                self.on_retry()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                self.on_error("rate_limited")
                wait = _seconds(error)
                if attempt >= self.max_retries or wait > patience:
                    raise
                self._resume_at = max(self._resume_at, time.monotonic() + wait)
                log.warning("flood control on %s: waiting %.0f s before retrying", endpoint, wait)
            except BadRequest:
                self.on_error("bad_request")
                raise
            except Forbidden:
                self.on_error("forbidden")
                raise
            except NetworkError as error:  # includes TimedOut and 5xx answers
                self.on_error(_network_kind(error, TimedOut))
                if attempt >= self.max_retries:
                    raise
                wait = min(self.cap, self.backoff * 2**attempt) * random.uniform(0.8, 1.2)
                log.warning(
                    "%s failed (%s); retry %d of %d in %.1f s",
                    endpoint,
                    redact(str(error)),
                    attempt + 1,
                    self.max_retries,
                    wait,
                )
                await asyncio.sleep(wait)
            attempt += 1


def _network_kind(error: Exception, timed_out: type[Exception]) -> str:
    """The metrics kind of a python-telegram-bot NetworkError: timeout, server (a 5xx
    answer) or network."""
    if isinstance(error, timed_out):
        return "timeout"
    text = str(error)
    if re.search(r"\b5\d\d\b", text) or "Internal Server Error" in text or "Bad Gateway" in text:
        return "server"
    return "network"


def _seconds(error: Any) -> float:
    value = getattr(error, "_retry_after", None)  # a timedelta; the public one warns in 22.x
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


# -- many workers ------------------------------------------------------------------------

WORKER_ENV = "HELPBOT_WORKER"


class Supervisor:
    """The parent of `helpbot telegram --workers N`: starts N copies of the same command as
    worker processes (HELPBOT_WORKER=0..N-1, the webhook secret handed over in the
    environment so all of them check the same one), forwards SIGTERM/SIGINT to them and waits
    for them to finish their updates, and passes SIGHUP on (each worker reloads the
    knowledge). A worker that dies is started again (Telegram sends what it had not confirmed
    again, to whichever worker takes the connection); one that exits with a settings error
    (status 2), or keeps dying at start-up, stops them all."""

    poll = 0.1
    quick_death = 10.0  # seconds: a worker dying this soon after starting counts as failing
    max_quick_deaths = 5

    def __init__(self, args: argparse.Namespace, workers: int, secret: str) -> None:
        self.argv: list[str] = list(args.argv)
        self.workers = workers
        self.secret = secret
        self.drain = TelegramAdapter.drain_timeout + 5.0
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.started: dict[int, float] = {}
        self.stopping = False

    def spawn(self, index: int) -> None:
        env = {**os.environ, WORKER_ENV: str(index), "TELEGRAM_WEBHOOK_SECRET": self.secret}
        self.procs[index] = subprocess.Popen([sys.executable, "-m", "bot", *self.argv], env=env)
        self.started[index] = time.monotonic()

    def _signalled(self, signum: int, frame: object) -> None:
        self.stopping = True
        for proc in self.procs.values():
            if proc.poll() is None:
                with suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)

    def _reload(self, signum: int, frame: object) -> None:
        """SIGHUP (`systemctl reload`): every worker reloads and checks the knowledge itself."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with suppress(ProcessLookupError):
                    proc.send_signal(signum)

    def run(self) -> int:
        previous = {
            signum: signal.signal(signum, self._signalled)
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        hup = getattr(signal, "SIGHUP", None)  # not on Windows
        if hup is not None:
            previous[hup] = signal.signal(hup, self._reload)
        status = 0
        quick_deaths = 0
        try:
            for index in range(self.workers):
                self.spawn(index)
            print(
                f"helpbot telegram: {self.workers} workers started (pids "
                f"{', '.join(str(p.pid) for p in self.procs.values())}); stop with Ctrl-C",
                file=sys.stderr,
                flush=True,
            )
            while not self.stopping:
                time.sleep(self.poll)
                for index, proc in list(self.procs.items()):
                    code = proc.poll()
                    if code is None or self.stopping:
                        continue
                    if code == 2:
                        log.error("worker %d refused its settings; stopping", index)
                        status = 2
                        self._signalled(signal.SIGTERM, None)
                        break
                    if time.monotonic() - self.started[index] < self.quick_death:
                        quick_deaths += 1
                    else:
                        quick_deaths = 0
                    if quick_deaths > self.max_quick_deaths:
                        log.error("workers keep dying at start-up; stopping")
                        status = 1
                        self._signalled(signal.SIGTERM, None)
                        break
                    log.warning("worker %d (pid %d) exited with %s; starting it again",
                                index, proc.pid, code)  # fmt: skip
                    self.spawn(index)
        finally:
            deadline = time.monotonic() + self.drain
            for proc in self.procs.values():
                try:
                    code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    code = proc.wait()
                if code not in (0, -signal.SIGTERM) and not status:
                    status = 1
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return status


# -- the adapter -----------------------------------------------------------------------


class TelegramAdapter(Adapter):
    """Telegram on the adapter contract: receives updates (long polling or webhook),
    translates each into engine messages and the replies into Bot API calls, and confirms an
    update to Telegram only once it has been handled.

    Long polling confirms by offset: getUpdates(offset=N) tells Telegram every update below N
    is done. So the offset asked for is the oldest update still being handled (or one past the
    newest seen when none is); updates that finish out of order wait, already handled, until
    everything before them is done. A crash therefore loses nothing: what was not confirmed is
    fetched again after a restart (at worst answered twice). In webhook mode the same holds
    because Telegram's request is answered only after the update was handled.
    An update that cannot be read at all is skipped (logged once, without its text) instead of
    stopping the ones after it.
    """

    command = "telegram"
    platform = PLATFORM
    text_limit = MESSAGE_LIMIT
    payload_limit = CALLBACK_DATA_LIMIT
    requires = {"telegram": "telegram"}  # noqa: RUF012  (a ClassVar in the base)
    secret_patterns = (TOKEN_PATTERN,)
    # Bounds `stop()` as a whole; the updates in progress get all of it but a margin for
    # confirming them and closing the connections.
    drain_timeout = 15.0
    marks_connection = True

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        add_token_option(parser, "TELEGRAM_BOT_TOKEN")
        parser.add_argument(
            "--base-url",
            default=os.environ.get("TELEGRAM_BASE_URL") or DEFAULT_BASE_URL,
            metavar="URL",
            help=f"Bot API base URL the token is appended to, for a self-hosted Bot API server (default: $TELEGRAM_BASE_URL or {DEFAULT_BASE_URL})",
        )
        parser.add_argument(
            "--webhook-url",
            metavar="URL",
            help="receive updates by webhook at this public HTTPS URL (ports 443, 80, 88 or 8443) instead of long polling",
        )
        parser.add_argument(
            "--listen",
            default="127.0.0.1",
            metavar="ADDRESS",
            help="webhook mode: address to listen on (default: 127.0.0.1, behind a reverse proxy)",
        )
        parser.add_argument(
            "--port", type=int, default=8443, help="webhook mode: port to listen on (default: 8443)"
        )
        parser.add_argument(
            "--secret-token-file",
            metavar="PATH",
            help="webhook mode: read the secret Telegram must send with every update from this file, 1-256 of A-Z a-z 0-9 _ - (default: $TELEGRAM_WEBHOOK_SECRET, or a new random one each start)",
        )
        # Refused with an explanation rather than unknown: argparse would otherwise take
        # `--secret-token X` as an abbreviation of --secret-token-file and try to open a file
        # named after the secret.
        parser.add_argument("--secret-token", dest="secret_token_flag", help=argparse.SUPPRESS)
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            metavar="N",
            help="webhook mode: N processes sharing --port (SO_REUSEPORT) behind the one webhook "
            "URL; needs a shared store (--store redis://...). Each serves --metrics-port + its "
            "index (0..N-1). Long polling is always one process (default: 1)",
        )
        parser.add_argument(
            "--support-chat",
            type=chat_id,
            default=None,
            metavar="CHAT_ID",
            help="hand conversations to people: the id of a supergroup with Topics enabled where the bot is an admin allowed to manage topics (default: $TELEGRAM_SUPPORT_CHAT; none: the bot says it cannot pass conversations on)",
        )

    def __init__(
        self,
        engine: Engine,
        args: argparse.Namespace | None = None,
        *,
        token: str | None = None,
        base_url: str | None = None,
        webhook: Webhook | None = None,
        max_retries: int = 5,
        backoff: float = 0.5,
        backoff_cap: float = 30.0,
        concurrency: int = 64,
        poll_timeout: float = 10.0,
        announce: bool | None = None,
        support_chat: int | None = None,
    ) -> None:
        super().__init__(engine, args)
        a = self.args
        self.support_chat = (
            support_chat
            or getattr(a, "support_chat", None)
            or env_setting("TELEGRAM_SUPPORT_CHAT", chat_id)
        )
        self.desk: TelegramDesk | None = None
        self.token = token
        self.base_url = base_url or getattr(a, "base_url", None) or DEFAULT_BASE_URL
        self.webhook = webhook
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.poll_timeout = poll_timeout
        self.backoff, self.backoff_cap = backoff, backoff_cap
        # The one "is running" line on standard error: for the command line, not for tests.
        self.announce = args is not None if announce is None else announce
        if token:
            add_secret(token)
        # In a worker started by `--workers N` (HELPBOT_WORKER=index): only worker 0 calls
        # setWebhook, and every worker shares the port.
        worker = os.environ.get(WORKER_ENV)
        self.worker = int(worker) if worker and worker.isdigit() else None
        self.sets_webhook = not self.worker
        self.reuse_port = self.worker is not None
        self._bot: ExtBot[Any] | None = None
        self._active: dict[int, asyncio.Task[None]] = {}
        self._highest = -1  # the newest update_id taken on
        self._confirmed = 0  # the offset Telegram last heard from us
        self._progress = asyncio.Event()
        self._stopping = False
        self._poller: asyncio.Task[None] | None = None
        self._site_runner: web.AppRunner | None = None
        self._latest: dict[str, asyncio.Task[None]] = {}  # per person: their newest update
        self._started = False

    @property
    def bot(self) -> ExtBot[Any]:
        """The Bot API client (python-telegram-bot's ExtBot), once `start()` made it."""
        if self._bot is None:
            raise RuntimeError("the Telegram adapter is not started")
        return self._bot

    def render(self, markup: str) -> str:
        return to_html(markup)

    def split(self, markup: str) -> list[str]:
        return split_html(markup)

    # -- lifecycle -----------------------------------------------------------------------

    def _settings(self) -> tuple[str, Webhook | None]:
        """The token and webhook settings, checked before anything is sent anywhere."""
        a = self.args
        webhook = self.webhook
        if webhook is None and getattr(a, "webhook_url", None):
            webhook = Webhook(
                a.webhook_url,
                getattr(a, "listen", "127.0.0.1"),
                getattr(a, "port", 8443),
                _webhook_secret(a),
            )
        elif webhook is None and (
            getattr(a, "secret_token_flag", None) is not None
            or getattr(a, "secret_token_file", None)
        ):
            raise AdapterExit(2, "a webhook secret is only used with --webhook-url")
        if webhook is not None:
            problems = webhook_problems(webhook.url, webhook.secret_token, webhook.port)
            if problems:
                raise AdapterExit(2, "\nhelpbot telegram: ".join(problems))
            add_secret(webhook.secret_token)
        token = self.token or load_token(
            "telegram",
            "TELEGRAM_BOT_TOKEN",
            getattr(a, "token_file", None),
            "message @BotFather on Telegram to create a bot and get its token; see the README's Telegram section",
        )
        if token is None:
            raise AdapterExit(2)
        return token, webhook

    async def start(self) -> None:
        """Check the settings, connect (getMe), register the command menus, and start
        receiving updates (the webhook server, when there is one)."""
        from telegram.error import InvalidToken
        from telegram.ext import BaseRateLimiter, ExtBot
        from telegram.request import HTTPXRequest

        self.token, self.webhook = self._settings()
        # Opt in to python-telegram-bot 23's timedelta periods now (`_seconds` reads both); the
        # old int form warns on every flood-control answer.
        os.environ.setdefault("PTB_TIMEDELTA", "true")
        BaseRateLimiter.register(Retrying)
        retrying = Retrying(
            self.max_retries, self.backoff, self.backoff_cap, self.api_error, self.api_retry
        )
        self._bot = ExtBot(
            self.token,
            base_url=self.base_url,
            request=HTTPXRequest(connection_pool_size=self.concurrency + 8, pool_timeout=10.0),
            get_updates_request=HTTPXRequest(
                connection_pool_size=2, read_timeout=self.poll_timeout + 10.0
            ),
            # Retrying is registered as a virtual subclass just above.
            rate_limiter=cast("BaseRateLimiter[None]", retrying),
        )
        self._stopping = False
        try:
            await self.bot.initialize()
        except InvalidToken as error:
            raise AdapterExit(
                1, "Telegram rejected the bot token: check TELEGRAM_BOT_TOKEN or --token-file"
            ) from error
        self._started = True
        await self.register_commands(self.bot)
        if self.support_chat is not None:
            self.desk = await TelegramDesk.connect(self, self.support_chat)
            self.engine.attach_desk(self.desk)
        if self.webhook is None:
            await self.bot.delete_webhook()
        else:
            await self._serve_webhook(self.webhook)
            if self.sets_webhook:
                await self.bot.set_webhook(
                    self.webhook.url,
                    secret_token=self.webhook.secret_token,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
        self.mark_connected(True, "connected to the Bot API")
        if self.announce:
            mode = f"webhook {self.webhook.url}" if self.webhook else "long polling"
            print(
                f"helpbot telegram: @{self.bot.username} is running ({mode}); stop with Ctrl-C",
                file=sys.stderr,
                flush=True,
            )

    async def run(self) -> None:
        """Fetch and handle updates (long polling) or wait while the webhook server takes
        them, until `stop()`."""
        if self.webhook is None:
            self._poller = asyncio.create_task(self._poll(), name="telegram getUpdates")
            with suppress(asyncio.CancelledError):
                await self._poller
            if not self._stopping and self._poller.cancelled():
                raise asyncio.CancelledError
        else:
            while not self._stopping:
                await self._wait_until(lambda: self._stopping)

    async def stop(self) -> None:
        """Stop receiving, let the updates in progress finish, confirm them, disconnect."""
        self._stopping = True
        self.mark_connected(False, "stopping")
        self._progress.set()
        if self._poller is not None:
            self._poller.cancel()
            with suppress(asyncio.CancelledError):
                await self._poller
        if self._site_runner is not None:
            await _quietly(self._site_runner.cleanup())
            self._site_runner = None
        if self._active:
            patience = max(0.5, self.drain_timeout - 3.0)
            _, late = await asyncio.wait(list(self._active.values()), timeout=patience)
            if late:
                log.warning(
                    "stopped with %d updates unfinished; Telegram will send them again", len(late)
                )
        if self.webhook is None and self._started and self._offset > self._confirmed:
            await _quietly(self._fetch(self._offset, limit=1, timeout=0))
        if self._started:
            await _quietly(self.bot.shutdown())
            self._started = False

    def describe_failure(self, error: BaseException) -> str:
        return redact(str(error)) or type(error).__name__

    # -- many workers ----------------------------------------------------------------------

    def serve_until_signal(self) -> int:
        workers = getattr(self.args, "workers", None)
        workers = 1 if workers is None else workers
        if self.worker is not None or workers == 1:
            return super().serve_until_signal()
        problem = self.workers_problem(workers)
        if problem:
            print(f"helpbot telegram: {problem}", file=sys.stderr, flush=True)
            return 2
        asyncio.run(self.engine.close())  # the parent handles no update: only the workers
        try:
            secret = _webhook_secret(self.args)
        except AdapterExit as refused:
            return self.report_exit(refused)
        return Supervisor(self.args, workers, secret).run()

    def workers_problem(self, workers: int) -> str | None:
        """Why `--workers` cannot be used with these settings, or None."""
        from bot.sessions import RedisStore

        if workers < 1:
            return f"--workers must be 1 or more, not {workers}"
        if not getattr(self.args, "webhook_url", None):
            return (
                "--workers needs --webhook-url: long polling is one process (Telegram allows "
                "only one getUpdates consumer per bot); many workers share a webhook's port"
            )
        store = getattr(self.engine.store, "inner", self.engine.store)
        if not isinstance(store, RedisStore):
            return (
                "--workers needs a store shared by processes: --store redis://host:6379/0 "
                "(memory:// is per process; SQLite is one file but orders a person's messages "
                "within one process only, so two workers could apply them out of order)"
            )
        if not getattr(self.args, "argv", None):
            return "--workers is available from the helpbot command line only"
        return None

    # -- receiving -----------------------------------------------------------------------

    @property
    def _offset(self) -> int:
        return min(self._active) if self._active else self._highest + 1

    async def _fetch(self, offset: int, *, limit: int, timeout: float) -> list[Any]:
        """getUpdates as raw JSON: one malformed update must not make the whole batch
        unreadable, so each is parsed on its own (python-telegram-bot's get_updates parses
        the batch at once and raises on the first bad one)."""
        result = await self.bot._post(  # a documented endpoint, minus the batch parsing
            "getUpdates",
            {
                "offset": offset,
                "limit": limit,
                "timeout": int(timeout),
                "allowed_updates": list(ALLOWED_UPDATES),
            },
            read_timeout=timeout + 10.0,
        )
        self._confirmed = max(self._confirmed, offset)
        return result if isinstance(result, list) else []

    async def _poll(self) -> None:
        from telegram.error import Conflict, InvalidToken, TelegramError

        failures = 0
        while not self._stopping:
            if len(self._active) >= self.concurrency:
                # Refill in chunks: every fetch re-sends the finished updates that wait behind
                # the oldest unfinished one, so fetching after each single completion is waste.
                await self._wait_until(lambda: len(self._active) <= self.concurrency // 2)
                continue
            try:
                batch = await self._fetch(
                    self._offset, limit=UPDATES_PER_FETCH, timeout=self.poll_timeout
                )
            except InvalidToken as error:
                raise AdapterExit(1, "Telegram no longer accepts the bot token") from error
            except (TelegramError, OSError) as error:
                if not failures:
                    self.mark_connected(False, "getUpdates is failing")
                failures += 1
                wait = min(self.backoff_cap, self.backoff * 2 ** min(failures, 16))
                if isinstance(error, Conflict):
                    what = "another process is fetching updates with this token"
                else:
                    what = redact(str(error)) or type(error).__name__
                log.warning("getUpdates failed (%s); retrying in %.1f s", what, wait)
                await asyncio.sleep(wait * random.uniform(0.8, 1.2))
                continue
            if failures:
                self.mark_connected(True, "getUpdates answers again")
            failures = 0
            fresh = 0
            for raw in batch:
                update_id = raw.get("update_id") if isinstance(raw, dict) else None
                if not isinstance(update_id, int) or update_id <= self._highest:
                    continue  # still being handled (or not an update at all)
                self._highest = update_id
                fresh += 1
                self._take(update_id, raw)
            if batch and not fresh:
                # Everything Telegram returned is already being handled, and asking again
                # would return it at once. A full batch can only change once the oldest update
                # is done; a shorter one when any is (that person may write again) or a new
                # update arrives, which only asking shows: so look again soon.
                if len(batch) >= UPDATES_PER_FETCH:
                    await self._wait_until(functools.partial(self._offset_moved, self._offset))
                else:
                    await self._wait_until(functools.partial(self._fewer, len(self._active)), 0.1)

    def _offset_moved(self, offset: int) -> bool:
        return self._offset != offset

    def _fewer(self, active: int) -> bool:
        return len(self._active) < active

    async def _wait_until(self, ready: Callable[[], bool], timeout: float | None = None) -> None:
        """Wait until `ready()` after some update finished, or `timeout` seconds."""
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not ready() and not self._stopping:
                    self._progress.clear()
                    await self._progress.wait()

    def _take(self, update_id: int, raw: dict[str, Any]) -> asyncio.Task[None]:
        """Start handling one update. A person's updates start one after the other: the
        engine serialises their handling, but one update's replies are several Bot API calls
        made after the engine is done, and the next update's replies must not overtake them
        ("/walkthrough" then "next": the intro and first check, then the second check)."""
        person = _person(raw)
        before = self._latest.get(person) if person else None
        task = asyncio.create_task(self._process(raw, before), name=f"telegram update {update_id}")
        self._active[update_id] = task
        if person:
            self._latest[person] = task

        def finished(_: asyncio.Task[None]) -> None:
            self._active.pop(update_id, None)
            if person and self._latest.get(person) is task:
                del self._latest[person]
            self._progress.set()

        task.add_done_callback(finished)
        return task

    async def _process(self, raw: dict[str, Any], after: asyncio.Task[None] | None) -> None:
        from telegram import Update

        if after is not None:
            await asyncio.wait([after])  # its outcome is its own business
        try:
            update = Update.de_json(raw, self.bot)
        except Exception as error:
            kinds = ", ".join(k for k in raw if k != "update_id") or "empty"
            detail = type(error).__name__
            if isinstance(error, (KeyError, TypeError)):
                detail += f": {_clip(str(error), 120)}"
            log.warning(
                "skipped update %s (%s): not in a shape this bot can read (%s)",
                raw.get("update_id"),
                kinds,
                detail,
            )
            return
        await self.on_update(self.bot, update)

    # -- webhook -------------------------------------------------------------------------

    async def _serve_webhook(self, webhook: Webhook) -> None:
        from aiohttp import web

        app = web.Application(client_max_size=MAX_UPDATE_BYTES)
        app.router.add_post(webhook.path, self._on_webhook)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=self.drain_timeout)
        await runner.setup()
        site = web.TCPSite(runner, webhook.listen, webhook.port, reuse_port=self.reuse_port or None)
        await site.start()
        self._site_runner = runner

    async def _on_webhook(self, request: web.Request) -> web.Response:
        """Check the secret before the body is read, cap the body, and answer only after the
        update was handled (so a crash makes Telegram send it again)."""
        from aiohttp import web

        expected = (self.webhook.secret_token if self.webhook else None) or ""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return web.Response(status=403)
        if (request.content_length or 0) > MAX_UPDATE_BYTES:
            return web.Response(status=413)
        try:
            raw = json.loads(await request.read())
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413)
        except ValueError:
            return web.Response(status=400)
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        if not isinstance(update_id, int):
            return web.Response(status=400)
        task = self._active.get(update_id) or self._take(update_id, raw)
        await asyncio.shield(task)
        return web.Response(status=200)

    # -- translating updates -----------------------------------------------------------

    # -- start-up ------------------------------------------------------------------------

    async def register_commands(self, bot: Bot) -> None:
        """setMyCommands for the default language and each translation of the guide."""
        from telegram import BotCommand
        from telegram.error import TelegramError

        for lang in [None, *(x for x in self.engine.languages if x != "en")]:
            commands = [
                BotCommand(spec.name, self.clip(spec.description, 256))
                for spec in self.engine.command_specs(lang)
            ]
            try:
                await bot.set_my_commands(commands, language_code=lang)
            except TelegramError as error:
                log.warning("setMyCommands for %s failed: %s", lang or "default", error)

    # -- dispatch ------------------------------------------------------------------------

    async def on_update(self, bot: Bot, update: Update) -> None:
        try:
            if update.callback_query is not None:
                await self.on_button(bot, update.callback_query)
            elif update.inline_query is not None:
                await self.on_inline(update.inline_query)
            elif update.message is not None:
                await self.on_message(bot, update.message)
            else:
                log.debug("ignored update %s (%s)", update.update_id, _kind(update))
        except Exception:
            log.exception("update %s failed", update.update_id)

    # -- messages ------------------------------------------------------------------------

    def incoming(self, bot: Bot, message: Message) -> IncomingMessage | None:
        """The engine message for a chat message, or None for what is none of our business."""
        from telegram.constants import ChatType, MessageEntityType

        chat, user = message.chat, message.from_user
        if user is None or user.id == bot.id or chat.type == ChatType.CHANNEL:
            return None
        if message.via_bot is not None and message.via_bot.id == bot.id:
            return None  # one of our inline answers, shared into a chat
        raw = message.text if message.text is not None else (message.caption or "")
        if not raw and message.effective_attachment is None:
            return None  # a service message: someone joined, a pin, a title change...
        entities = {
            entity: _utf16_slice(raw, entity.offset, entity.length)
            for entity in (message.entities if message.text else message.caption_entities)
        }
        text = _clean(raw)
        is_group = chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
        me = (bot.username or "").lower()
        command: str | None = None
        addressed = not is_group
        first = min(entities, key=lambda e: e.offset, default=None)
        if first is not None and first.type == MessageEntityType.BOT_COMMAND and first.offset == 0:
            name, _, target = entities[first].lstrip("/").partition("@")
            if target and target.lower() != me:
                return None  # /cmd@otherbot
            command = name.lower()
            text = _utf16_slice(raw, first.offset + first.length).strip()
            known = REGISTRY.get(command) is not None
            addressed = bool(target) or known or not is_group
        elif is_group:
            replied = message.reply_to_message
            if replied is not None and replied.from_user is not None:
                addressed = replied.from_user.id == bot.id
            for entity, value in entities.items():
                mentioned = (
                    entity.type == MessageEntityType.MENTION and value.lower() == f"@{me}"
                ) or (
                    entity.type == MessageEntityType.TEXT_MENTION
                    and entity.user is not None
                    and entity.user.id == bot.id
                )
                if mentioned:
                    addressed = True
                    text = text.replace(value, " ")
            text = " ".join(text.split())
        return IncomingMessage(
            platform=PLATFORM,
            chat_id=str(chat.id),
            user_id=str(user.id),
            text=text,
            command=command,
            locale=user.language_code,
            is_group=is_group,
            addressed=addressed,
        )

    async def on_message(self, bot: Bot, message: Message) -> None:
        if self.desk is not None and message.chat.id == self.desk.chat_id:
            await self.desk.on_staff(bot, message)  # the support group: staff, not people
            return
        incoming = self.incoming(bot, message)
        if incoming is None or not incoming.addressed:
            return
        # One person's updates are handled one at a time, in order, by the engine itself.
        replies = await self.engine.handle(incoming)
        for number, reply in enumerate(replies):
            await self.send(bot, message, reply, quote=number == 0 and incoming.is_group)

    # -- buttons -------------------------------------------------------------------------

    async def on_button(self, bot: Bot, query: CallbackQuery) -> None:
        """Every callback query is answered exactly once, whatever happens."""
        from telegram import Message
        from telegram.constants import ChatType

        answered = False
        try:
            message = query.message if isinstance(query.message, Message) else None
            if query.data is None or message is None:
                return  # a game button or a message too old to see: nothing to do
            chat = message.chat
            incoming = IncomingMessage(
                platform=PLATFORM,
                chat_id=str(chat.id),
                user_id=str(query.from_user.id),
                payload=query.data,
                locale=query.from_user.language_code,
                is_group=chat.type in (ChatType.GROUP, ChatType.SUPERGROUP),
            )
            replies = await self.engine.handle(incoming)
            notice = " ".join(to_plain(r.text).strip() for r in replies if r.private)
            answered = True
            await _try(query.answer(_clip(notice, NOTICE_LIMIT) or None), "answer a button")
            edited = False
            for reply in replies:
                if reply.private:
                    continue
                if reply.edit and not edited:
                    edited = True
                    if await self.edit(bot, message, reply):
                        continue
                await self.send(bot, message, reply, quote=False)
        finally:
            if not answered:
                await _try(query.answer(), "answer a button")

    async def edit(self, bot: Bot, message: Message, reply: Reply) -> bool:
        """Replace the text and keyboard of `message`; False if it cannot be edited."""
        from telegram.constants import ParseMode
        from telegram.error import BadRequest

        pieces = self.split(reply.text)
        markup = keyboard(reply) if len(pieces) == 1 else None
        try:
            await bot.edit_message_text(
                pieces[0],
                chat_id=message.chat.id,
                message_id=message.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=_no_preview(),
            )
        except BadRequest as error:
            if "not modified" in str(error).lower():
                return True  # a double click: the message already shows this
            log.info("could not edit message %s (%s); sending anew", message.message_id, error)
            return False
        for number, piece in enumerate(pieces[1:], 2):
            await self._send_piece(
                bot, message, piece, keyboard_data(reply) if number == len(pieces) else None, None
            )
        return True

    # -- sending -------------------------------------------------------------------------

    async def send(self, bot: Bot, origin: Message, reply: Reply, *, quote: bool) -> None:
        """Send `reply` to the chat of `origin`, split to fit, buttons under the last piece."""
        pieces = self.split(reply.text)
        for number, piece in enumerate(pieces, 1):
            markup = keyboard_data(reply) if number == len(pieces) else None
            await self._send_piece(
                bot, origin, piece, markup, origin.message_id if quote and number == 1 else None
            )

    async def _send_piece(
        self,
        bot: Bot,
        origin: Message,
        html: str,
        markup: dict[str, Any] | None,
        reply_to: int | None,
    ) -> None:
        """sendMessage with the parameters `bot.send_message` would send (same request, same
        retries through the rate limiter), without parsing Telegram's answer into a `Message`
        (with its keyboard) that nothing reads: that parsing, and building the keyboard as
        python-telegram-bot objects only to serialise them, were most of what a reply cost
        beyond the library's own echo. `markup` is the Bot API's JSON (`keyboard_data`)."""
        from telegram import ReplyParameters

        await bot._post(  # a documented endpoint, minus the answer's parsing
            "sendMessage",
            {
                "chat_id": origin.chat.id,
                "text": html,
                "parse_mode": "HTML",
                "reply_markup": markup,
                "link_preview_options": _no_preview(),
                "message_thread_id": (
                    origin.message_thread_id if origin.is_topic_message else None
                ),
                "reply_parameters": (
                    ReplyParameters(reply_to, allow_sending_without_reply=True)
                    if reply_to is not None
                    else None
                ),
            },
        )

    # -- inline mode ---------------------------------------------------------------------

    async def on_inline(self, query: InlineQuery) -> None:
        """`@bot question` in any chat: the best matching answers, ready to share, in the
        language this person chose with /language (in their private chat with the bot)."""
        from telegram import InlineQueryResultArticle, InputTextMessageContent
        from telegram.constants import ParseMode

        person = query.from_user
        asking = IncomingMessage(
            platform=PLATFORM,
            chat_id=str(person.id),  # a private chat's id is the person's id
            user_id=str(person.id),
            text=_clean(query.query)[:256],
            locale=person.language_code,
        )
        suggestions = await self.engine.suggest(asking, INLINE_RESULTS)
        lang = self.engine.lang_for(asking, await self.engine.store.get(asking.session_key))
        results = []
        for suggestion in suggestions:
            reply = self.engine.entry_reply(suggestion.id, lang)
            _, _, body = to_plain(reply.text).partition("\n\n")
            results.append(
                InlineQueryResultArticle(
                    id=suggestion.id,
                    title=suggestion.title,
                    description=_clip(" ".join(body.split()), 120) or None,
                    input_message_content=InputTextMessageContent(
                        self.split(reply.text)[0],
                        parse_mode=ParseMode.HTML,
                        link_preview_options=_no_preview(),
                    ),
                )
            )
        # Telegram caches inline answers per query text for everyone unless told they are
        # personal; they depend on each person's language.
        await query.answer(results, cache_time=300, is_personal=True)


# -- rendering ---------------------------------------------------------------------------


class TelegramDesk:
    """Handoffs to a support team in a forum supergroup (bot.handoff.HandoffDesk): one topic
    per person, opened with the summary; the person's messages are copied into it as text;
    a staff member's message in the topic goes to that topic's one person; `/close` in the
    topic ends it. All state is in the engine's store, so a restart changes nothing."""

    def __init__(self, adapter: TelegramAdapter, chat_id: int) -> None:
        self.adapter = adapter
        self.engine = adapter.engine
        self.chat_id = chat_id

    @classmethod
    async def connect(cls, adapter: TelegramAdapter, chat_id: int) -> TelegramDesk:
        """Check the support chat (a forum, the bot an admin allowed to manage topics) before
        anyone is promised a person; AdapterExit with what to fix otherwise."""
        from telegram.error import TelegramError

        bot = adapter.bot
        where = f"the support chat {chat_id}"
        try:
            chat = await bot.get_chat(chat_id)
            member = await bot.get_chat_member(chat_id, bot.id)
        except TelegramError as error:
            raise AdapterExit(
                2, f"{where} cannot be used: {redact(str(error))} (is the bot in that group?)"
            ) from None
        if not chat.is_forum:
            raise AdapterExit(
                2, f"{where} is not a forum: enable Topics in the group's settings (see the README)"
            )
        if member.status != "administrator" or not getattr(member, "can_manage_topics", False):
            raise AdapterExit(
                2,
                f"{where}: the bot must be an administrator with the 'Manage topics' right "
                "(see the README)",
            )
        return cls(adapter, chat_id)

    @property
    def staff_lang(self) -> str:
        return self.engine.handoffs.staff_lang

    async def open(self, person: IncomingMessage, summary: Summary) -> str:
        from telegram.constants import ParseMode

        bot = self.adapter.bot
        # The topic's name says nothing about who it is: a language and a random tag.
        name = f"{summary.lang} · {secrets.token_hex(3)}"
        topic = await bot.create_forum_topic(self.chat_id, name)
        thread = topic.message_thread_id
        reply = self.engine.summary_reply(summary, self.staff_lang)
        for piece in self.adapter.split(reply.text):
            await bot.send_message(
                self.chat_id,
                piece,
                parse_mode=ParseMode.HTML,
                message_thread_id=thread,
                link_preview_options=_no_preview(),
            )
        return str(thread)

    async def relay(self, ticket: str, person: IncomingMessage) -> None:
        """The person's words into their topic, as plain text (never parsed as markup)."""
        for piece in _plain_pieces(person.text):
            await self.adapter.bot.send_message(
                self.chat_id,
                piece,
                message_thread_id=int(ticket),
                link_preview_options=_no_preview(),
            )

    async def close(self, ticket: str) -> None:
        """The person ended it: tell staff in the topic, then close the topic."""
        bot = self.adapter.bot
        note = to_plain(self.engine.ui("handoff_staff_ended", self.staff_lang))
        await _try(bot.send_message(self.chat_id, note, message_thread_id=int(ticket)), "note")
        await self._close_topic(int(ticket))

    async def _close_topic(self, thread: int) -> None:
        from telegram.error import BadRequest

        try:
            await self.adapter.bot.close_forum_topic(self.chat_id, thread)
        except BadRequest as error:
            if "not_modified" not in str(error).lower():  # already closed is fine
                raise

    async def on_staff(self, bot: Bot, message: Message) -> None:
        """A message in the support group: a staff reply to relay, `/close`, or chatter
        outside any handoff topic (ignored)."""
        user = message.from_user
        if user is None or user.id == bot.id or user.is_bot:
            return
        if not message.is_topic_message or message.message_thread_id is None:
            return  # the General topic: staff talking among themselves
        thread = message.message_thread_id
        ticket = str(thread)
        text = message.text or message.caption or ""
        if text.split("@", 1)[0].split(maxsplit=1)[:1] == ["/close"]:
            closed = await self.engine.staff_closed(PLATFORM, ticket)
            if closed is not None:
                target, replies = closed
                for reply in replies:
                    await self._to_person(int(target.chat_id), reply)
            await _try(self._close_topic(thread), "close a topic")
            return
        handoff = await self.engine.person_for_ticket(PLATFORM, ticket)
        if handoff is None:
            notice = to_plain(self.engine.ui("handoff_staff_closed", self.staff_lang))
            await _try(
                bot.send_message(self.chat_id, notice, message_thread_id=thread), "tell staff"
            )
            return
        if not text.strip():
            return  # a sticker or photo without caption: only text is relayed
        reply = await self.engine.staff_message(handoff, text)
        await self._to_person(int(handoff.chat_id), reply)

    async def _to_person(self, chat_id: int, reply: Reply) -> None:
        from telegram.constants import ParseMode

        for piece in self.adapter.split(reply.text):
            await self.adapter.bot.send_message(
                chat_id, piece, parse_mode=ParseMode.HTML, link_preview_options=_no_preview()
            )


def _plain_pieces(text: str) -> list[str]:
    """Plain text cut to Telegram's message limit (UTF-16 units)."""
    pieces: list[str] = []
    while text:
        piece = _utf16_slice(text, 0, MESSAGE_LIMIT)
        pieces.append(piece)
        text = text[len(piece) :]
    return pieces or [" "]


def chat_id(value: str) -> int:
    """A Telegram chat id (a supergroup's is negative: -100...)."""
    try:
        return int(value.strip())
    except ValueError:
        raise ValueError(
            f"expected a chat id, a number like -1001234567890, not {value!r}"
        ) from None


def to_html(markup: str) -> str:
    """HTML as Telegram's `parse_mode=HTML` accepts it, with every piece of text escaped."""
    out = []
    for span in parse(markup):
        text = html.escape(span.text, quote=False)
        if span.kind == "bold":
            out.append(f"<b>{text}</b>")
        elif span.kind == "link":
            out.append(f'<a href="{html.escape(span.url, quote=True)}">{text}</a>')
        else:
            out.append(text)
    return "".join(out)


def split_html(markup: str) -> list[str]:
    """Telegram HTML pieces of at most 4096 characters (counted as Telegram does, in UTF-16
    code units of the text without tags, so emoji-heavy text is cut a little earlier)."""
    return list(_split_html(markup))


@functools.lru_cache(maxsize=1024)  # replies repeat (the guide's answers): render each once
def _split_html(markup: str) -> tuple[str, ...]:
    for limit in (MESSAGE_LIMIT, MESSAGE_LIMIT // 2, MESSAGE_LIMIT // 4):
        pieces = split_message(markup, limit, to_html)
        if all(len(p) <= MESSAGE_LIMIT // 2 or _utf16_len(p) <= MESSAGE_LIMIT for p in pieces):
            break
    return tuple(pieces or [to_html(markup) or "…"])


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's buttons as python-telegram-bot's inline keyboard (for its methods)."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    data = keyboard_data(reply)
    if data is None:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
            for row in data["inline_keyboard"]
        ]
    )


def keyboard_data(reply: Reply) -> dict[str, Any] | None:
    """The reply's buttons as the Bot API's `InlineKeyboardMarkup` JSON object, or None without
    any; a button whose callback data is over Telegram's 64 bytes is dropped (and logged)."""
    rows = []
    for row in reply.buttons:
        buttons = []
        for button in row:
            if len(button.payload.encode()) > CALLBACK_DATA_LIMIT:
                log.error("dropped a button with over-long callback data: %r", button.payload)
                continue
            buttons.append({"text": button.label, "callback_data": button.payload})
        if buttons:
            rows.append(buttons)
    return {"inline_keyboard": rows} if rows else None


@functools.cache
def _no_preview() -> Any:
    from telegram import LinkPreviewOptions

    return LinkPreviewOptions(is_disabled=True)  # immutable, so one is shared


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(text: str) -> str:
    """`text` with any lone surrogate (which JSON can carry but no UTF-8 can) replaced by
    U+FFFD, so every later step (matching, encoding, sending) can handle it."""
    return _SURROGATE.sub("\ufffd", text)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _utf16_slice(text: str, start: int, length: int | None = None) -> str:
    """Part of `text` by UTF-16 offsets (Telegram's entity offsets count UTF-16 code units),
    cleaned of surrogates; works on any text the Bot API can deliver."""
    units = text.encode("utf-16-le", "surrogatepass")
    end = None if length is None else 2 * (start + length)
    return _clean(units[2 * start : end].decode("utf-16-le", "surrogatepass"))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _person(raw: dict[str, Any]) -> str | None:
    """Chat and sender of a raw message or button press (None for inline queries, which
    change nothing, and for anything unreadable)."""
    try:
        if "message" in raw:
            event = raw["message"]
            return f"{event['chat']['id']}:{event['from']['id']}"
        if "callback_query" in raw:
            event = raw["callback_query"]
            return f"{event['message']['chat']['id']}:{event['from']['id']}"
    except (KeyError, TypeError):
        pass
    return None


def _kind(update: Update) -> str:
    fields: Iterator[str] = (k for k, v in update.to_dict().items() if k != "update_id" and v)
    return next(fields, "empty")


async def _try(awaitable: Awaitable[Any], what: str) -> None:
    """Do something whose failure must not stop the rest of the reply (answering a query)."""
    from telegram.error import TelegramError

    try:
        await awaitable
    except TelegramError as error:
        log.warning("could not %s: %s", what, error)


ADAPTER = TelegramAdapter
