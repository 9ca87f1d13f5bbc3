"""Run the bot on Telegram: private chats, groups and inline mode.

The bot token comes from $TELEGRAM_BOT_TOKEN or --token-file (never from the command line, so
it cannot leak through the process list or shell history). Create a bot and get its token from
@BotFather; the README's Telegram section walks through it, including privacy mode for groups and inline
mode.

Long polling is the default and needs no open port. For a server, webhook mode receives
updates over HTTPS through your reverse proxy:

  TELEGRAM_BOT_TOKEN=123:abc helpbot telegram
  helpbot telegram --token-file /etc/helpbot/token \\
      --webhook-url https://bot.example.com/telegram --listen 127.0.0.1 --port 8443

Webhook mode checks Telegram's secret-token header on every request (--secret-token,
$TELEGRAM_WEBHOOK_SECRET, or a fresh random secret per start) and needs
python-telegram-bot[webhooks]. --base-url (or $TELEGRAM_BASE_URL) points the bot at a
self-hosted Bot API server. SIGINT or SIGTERM stops it after the updates in progress are done.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import html
import logging
import os
import random
import re
import secrets
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.commands import REGISTRY
from bot.engine import Engine
from bot.logs import add_secret, add_secret_pattern, quiet_loggers, redact
from bot.markup import parse, split_message, to_plain
from bot.tokens import add_token_option, load_token
from bot.types import IncomingMessage, Reply

if TYPE_CHECKING:
    from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, InlineQuery, Message, Update
    from telegram.ext import Application, ContextTypes

PLATFORM = "telegram"
REQUIRES = {"telegram": "telegram"}  # module -> pip extra; read by bot/cli.py until the port to bot.adapter
# Telegram tokens look like 123456:ABC-def..., and also appear inside Bot API URLs: masked in
# every log line from the moment this module is imported (moved here from bot/logs.py).
TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")
add_secret_pattern(TOKEN_PATTERN)
quiet_loggers("telegram.ext.Updater")  # (moved here from bot/logs.py)
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

log = logging.getLogger(__name__)


# -- command line ------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
        help="receive updates by webhook at this public HTTPS URL instead of long polling",
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
        "--secret-token",
        default=os.environ.get("TELEGRAM_WEBHOOK_SECRET"),
        metavar="SECRET",
        help="webhook mode: secret Telegram must send with every update, 1-256 of A-Z a-z 0-9 _ - (default: $TELEGRAM_WEBHOOK_SECRET, or a new random one each start)",
    )


def run(args: argparse.Namespace, engine: Engine) -> int:
    token = load_token(
        "telegram",
        "TELEGRAM_BOT_TOKEN",
        args.token_file,
        "message @BotFather on Telegram to create a bot and get its token; see the README's Telegram section",
    )
    if token is None:
        asyncio.run(engine.close())
        return 2
    webhook = None
    if args.webhook_url:
        url = urlsplit(args.webhook_url)
        if url.scheme not in ("https", "http") or not url.netloc:
            print(
                "helpbot telegram: --webhook-url must be a full URL, e.g. https://bot.example.com/hook",
                file=sys.stderr,
            )
            asyncio.run(engine.close())
            return 2
        secret = args.secret_token or secrets.token_urlsafe(32)
        add_secret(secret)
        webhook = Webhook(args.webhook_url, args.listen, args.port, secret)
    return asyncio.run(
        serve(engine, token, base_url=args.base_url, webhook=webhook, on_ready=_announce)
    )


def _announce(text: str) -> None:
    print(f"helpbot telegram: {text}", file=sys.stderr, flush=True)


# -- running -----------------------------------------------------------------------------


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
        return urlsplit(self.url).path.strip("/")


async def serve(
    engine: Engine,
    token: str,
    *,
    base_url: str = DEFAULT_BASE_URL,
    webhook: Webhook | None = None,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> int:
    """Run until SIGINT/SIGTERM (or `stop` is set), finish the updates in progress, close the
    engine. Returns the process exit status."""
    from telegram.error import InvalidToken, TelegramError

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or Windows: the caller stops us through `stop`
    application = build_application(engine, token, base_url=base_url)
    try:
        try:
            await start(application, webhook=webhook)
        except InvalidToken:
            log.error("Telegram rejected the bot token: check TELEGRAM_BOT_TOKEN or --token-file")
            return 1
        except (TelegramError, OSError, RuntimeError) as error:
            log.error("could not start: %s", redact(str(error)) or type(error).__name__)
            return 1
        if on_ready is not None:
            mode = f"webhook {webhook.url}" if webhook else "long polling"
            on_ready(f"@{application.bot.username} is running ({mode}); stop with Ctrl-C")
        await stop.wait()
        return 0
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        await shutdown(application)
        await engine.close()


async def _quietly(awaitable: Awaitable[Any]) -> None:
    try:
        await awaitable
    except Exception:
        log.debug("ignored an error while shutting down", exc_info=True)


def build_application(
    engine: Engine,
    token: str,
    *,
    base_url: str = DEFAULT_BASE_URL,
    max_retries: int = 5,
    backoff: float = 0.5,
    backoff_cap: float = 30.0,
    concurrency: int = 64,
) -> Application:  # type: ignore[type-arg]
    """A python-telegram-bot Application wired to `engine` (not started: see `start`)."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, BaseRateLimiter, TypeHandler

    add_secret(token)
    # Opt in to python-telegram-bot 23's timedelta periods now (`_seconds` reads both); the
    # old int form warns on every flood-control answer.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    BaseRateLimiter.register(Retrying)
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .concurrent_updates(concurrency)
        .pool_timeout(10.0)
        .rate_limiter(Retrying(max_retries, backoff, backoff_cap))  # type: ignore[arg-type]
        .build()
    )
    translator = Translator(engine)
    application.add_handler(TypeHandler(Update, translator.on_update))
    application.add_error_handler(translator.on_error)
    application.bot_data["helpbot"] = translator
    return application


async def start(
    application: Application,  # type: ignore[type-arg]
    *,
    webhook: Webhook | None = None,
    poll_timeout: float = 10.0,
) -> None:
    """Connect (getMe), register the command menu, and start receiving updates."""
    await application.initialize()
    translator: Translator = application.bot_data["helpbot"]
    await translator.register_commands(application.bot)
    await application.start()
    assert application.updater is not None
    if webhook is None:
        await application.updater.start_polling(
            timeout=dt.timedelta(seconds=poll_timeout),
            allowed_updates=list(ALLOWED_UPDATES),
            bootstrap_retries=3,
        )
    else:
        await application.updater.start_webhook(
            listen=webhook.listen,
            port=webhook.port,
            url_path=webhook.path,
            webhook_url=webhook.url,
            secret_token=webhook.secret_token,
            allowed_updates=list(ALLOWED_UPDATES),
            bootstrap_retries=3,
        )


async def shutdown(application: Application) -> None:  # type: ignore[type-arg]
    """Stop receiving, let the updates in progress finish, and release the connections."""
    if application.updater is not None and application.updater.running:
        await _quietly(application.updater.stop())
    if application.running:
        await _quietly(application.stop())
    await _quietly(application.shutdown())


# -- resilience --------------------------------------------------------------------------


class Retrying:
    """A python-telegram-bot rate limiter that retries instead of throttling.

    Flood control (429 with retry_after) pauses every request until Telegram allows them
    again, then repeats the request; network errors, timeouts and 5xx answers are retried with
    capped exponential backoff. Bad requests are never retried. getUpdates has its own retry
    loop in python-telegram-bot and does not pass through here.
    """

    def __init__(self, max_retries: int = 5, backoff: float = 0.5, cap: float = 30.0) -> None:
        self.max_retries = max_retries
        self.backoff = backoff
        self.cap = cap
        self._resume_at = 0.0

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
        from telegram.error import BadRequest, NetworkError, RetryAfter

        patience = QUERY_PATIENCE if endpoint.startswith("answer") else float("inf")
        attempt = 0
        while True:
            pause = self._resume_at - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                wait = _seconds(error)
                if attempt >= self.max_retries or wait > patience:
                    raise
                self._resume_at = max(self._resume_at, time.monotonic() + wait)
                log.warning("flood control on %s: waiting %.0f s before retrying", endpoint, wait)
            except BadRequest:
                raise
            except NetworkError as error:  # includes TimedOut and 5xx answers
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


def _seconds(error: Any) -> float:
    value = getattr(error, "_retry_after", None)  # a timedelta; the public one warns in 22.x
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


# -- translating updates -----------------------------------------------------------------


class _KeyedLocks:
    """One lock per conversation so each person's replies leave in the order they wrote."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str):  # type: ignore[no-untyped-def]
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Translator:
    """Turns updates into engine messages and engine replies into Telegram messages."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.locks = _KeyedLocks()

    # -- start-up ------------------------------------------------------------------------

    async def register_commands(self, bot: Bot) -> None:
        """setMyCommands for the default language and each translation of the guide."""
        from telegram import BotCommand
        from telegram.error import TelegramError

        for lang in [None, *(x for x in self.engine.knowledge.languages if x != "en")]:
            commands = [BotCommand(n, d[:256]) for n, d in self.engine.commands(lang).items()]
            try:
                await bot.set_my_commands(commands, language_code=lang)
            except TelegramError as error:
                log.warning("setMyCommands for %s failed: %s", lang or "default", error)

    # -- dispatch ------------------------------------------------------------------------

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        bot = context.bot
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

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = getattr(update, "update_id", None)
        log.error("update %s failed", update_id, exc_info=context.error)

    # -- messages ------------------------------------------------------------------------

    def incoming(self, bot: Bot, message: Message) -> IncomingMessage | None:
        """The engine message for a chat message, or None for what is none of our business."""
        from telegram.constants import ChatType, MessageEntityType

        chat, user = message.chat, message.from_user
        if user is None or user.id == bot.id or chat.type == ChatType.CHANNEL:
            return None
        if message.via_bot is not None and message.via_bot.id == bot.id:
            return None  # one of our inline answers, shared into a chat
        text = message.text if message.text is not None else (message.caption or "")
        if not text and message.effective_attachment is None:
            return None  # a service message: someone joined, a pin, a title change...
        entities = message.parse_entities() if message.text else message.parse_caption_entities()
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
            text = _utf16_slice(text, first.offset + first.length).strip()
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
        incoming = self.incoming(bot, message)
        if incoming is None or not incoming.addressed:
            return
        async with self.locks.hold(incoming.session_key):
            replies = await self.engine.handle(incoming)
            first = True
            for reply in replies:
                await self.send(bot, message, reply, quote=first and incoming.is_group)
                first = False

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
            async with self.locks.hold(incoming.session_key):
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

        pieces = render(reply.text)
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
                bot, message, piece, keyboard(reply) if number == len(pieces) else None, None
            )
        return True

    # -- sending -------------------------------------------------------------------------

    async def send(self, bot: Bot, origin: Message, reply: Reply, *, quote: bool) -> None:
        """Send `reply` to the chat of `origin`, split to fit, buttons under the last piece."""
        pieces = render(reply.text)
        for number, piece in enumerate(pieces, 1):
            markup = keyboard(reply) if number == len(pieces) else None
            await self._send_piece(
                bot, origin, piece, markup, origin.message_id if quote and number == 1 else None
            )

    async def _send_piece(
        self,
        bot: Bot,
        origin: Message,
        html: str,
        markup: InlineKeyboardMarkup | None,
        reply_to: int | None,
    ) -> None:
        from telegram import ReplyParameters
        from telegram.constants import ParseMode

        await bot.send_message(
            origin.chat.id,
            html,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            link_preview_options=_no_preview(),
            message_thread_id=origin.message_thread_id if origin.is_topic_message else None,
            reply_parameters=(
                ReplyParameters(reply_to, allow_sending_without_reply=True)
                if reply_to is not None
                else None
            ),
        )

    # -- inline mode ---------------------------------------------------------------------

    async def on_inline(self, query: InlineQuery) -> None:
        """`@bot question` in any chat: the best matching answers, ready to share."""
        from telegram import InlineQueryResultArticle, InputTextMessageContent
        from telegram.constants import ParseMode

        lang = self.language(query.from_user.language_code)
        results = []
        for suggestion in self.engine.search(query.query[:256], INLINE_RESULTS, lang):
            reply = self.engine.entry_reply(suggestion.id, lang)
            _, _, body = to_plain(reply.text).partition("\n\n")
            results.append(
                InlineQueryResultArticle(
                    id=suggestion.id,
                    title=suggestion.title,
                    description=_clip(" ".join(body.split()), 120) or None,
                    input_message_content=InputTextMessageContent(
                        render(reply.text)[0],
                        parse_mode=ParseMode.HTML,
                        link_preview_options=_no_preview(),
                    ),
                )
            )
        # Telegram caches inline answers per query text for everyone; answers depend on the
        # person's language once the guide has translations.
        personal = len(self.engine.knowledge.languages) > 1
        await query.answer(results, cache_time=300, is_personal=personal)

    def language(self, code: str | None) -> str | None:
        """The guide's language for a Telegram language code (`pt-br` -> `pt`), if it has one."""
        if not code:
            return None
        code = code.lower().replace("_", "-")
        languages = self.engine.knowledge.languages
        for candidate in (code, code.split("-")[0]):
            if candidate in languages:
                return candidate
        return None


# -- rendering ---------------------------------------------------------------------------


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


def render(markup: str) -> list[str]:
    """Telegram HTML pieces of at most 4096 characters (counted as Telegram does, in UTF-16
    code units of the text without tags, so emoji-heavy text is cut a little earlier)."""
    for limit in (MESSAGE_LIMIT, MESSAGE_LIMIT // 2, MESSAGE_LIMIT // 4):
        pieces = split_message(markup, limit, to_html)
        if all(len(p) <= MESSAGE_LIMIT // 2 or _utf16_len(p) <= MESSAGE_LIMIT for p in pieces):
            break
    return pieces or [to_html(markup) or "…"]


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    rows = []
    for row in reply.buttons:
        buttons = []
        for button in row:
            if len(button.payload.encode()) > CALLBACK_DATA_LIMIT:
                log.error("dropped a button with over-long callback data: %r", button.payload)
                continue
            buttons.append(InlineKeyboardButton(button.label, callback_data=button.payload))
        if buttons:
            rows.append(buttons)
    return InlineKeyboardMarkup(rows) if rows else None


@functools.cache
def _no_preview() -> Any:
    from telegram import LinkPreviewOptions

    return LinkPreviewOptions(is_disabled=True)  # immutable, so one is shared


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _utf16_slice(text: str, start: int) -> str:
    """`text` from a UTF-16 offset (Telegram's entity offsets count UTF-16 code units)."""
    return text.encode("utf-16-le")[2 * start :].decode("utf-16-le", errors="ignore")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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
