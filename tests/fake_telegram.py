"""A small fake Telegram Bot API server for end-to-end tests of the Telegram adapter.

It speaks the real Bot API shapes (python-telegram-bot rejects malformed answers), binds to
127.0.0.1 on a free port with TCP_NODELAY, records every call, and checks what the real API
checks where it matters to us: Telegram HTML, the 4096-character limit, 64-byte callback data,
"message is not modified", answering a callback or inline query twice. Tests push updates
(`send_text`, `press`, `inline`) and the bot fetches them with long-polling getUpdates.

    async with FakeTelegram() as fake:
        app = build_application(engine, fake.token, base_url=fake.base_url)
        ...
        ann = fake.user(1, "Ann")
        fake.send_text(ann, "/start")
        [call] = await fake.wait_for("sendMessage")
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "7000000001:AAFakeTokenForTestsOnly_abcdefghijk12"
BOT_ID = 7000000001
BOT_USERNAME = "helpbot_test_bot"

# Parameters that are strings even when they look like JSON ("42" typed as a question).
_STRING_PARAMS = {
    "text",
    "query",
    "callback_query_id",
    "inline_query_id",
    "url",
    "secret_token",
    "language_code",
    "parse_mode",
    "next_offset",
    "caption",
}
_HTML_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "span",
    "tg-spoiler", "blockquote", "tg-emoji",
}  # fmt: skip
_HTML_TOKEN = re.compile(
    r"<(?P<close>/?)(?P<tag>[A-Za-z][A-Za-z0-9-]*)(?P<attrs>(?:\s+[A-Za-z-]+"
    r"(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*>"
    r"|&(?P<entity>#[0-9]+|#x[0-9A-Fa-f]+|lt|gt|amp|quot);"
    r"|(?P<stray>[<&])"
)
_ENTITY_RE = re.compile(
    r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?|@[A-Za-z0-9_]{5,32}"
)
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class Call:
    """One Bot API request the bot made: what it asked, when, and how we answered."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    result: Any = None


@dataclass
class _Query:
    user_id: int
    answers: int = 0


@dataclass
class FakeTelegram:
    token: str = TOKEN
    bot_id: int = BOT_ID
    username: str = BOT_USERNAME
    calls: list[Call] = field(default_factory=list)
    # update_id -> time.monotonic() when getUpdates first handed it out
    served_at: dict[int, float] = field(default_factory=dict)
    commands: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    webhook: dict[str, Any] = field(default_factory=dict)
    # Seconds added before every answer, to model the network between a bot and Telegram
    # (benchmarks only; tests keep 0).
    latency: float = 0.0
    # Webhook delivery mode: once the bot calls setWebhook, every update is POSTed here (the
    # bot's local listen address standing in for its public URL) with the secret header, like
    # Telegram: retried until answered 200 (a refused connection, an error status or no answer
    # within `delivery_timeout`), one update per chat at a time, up to `max_connections` at once.
    deliver_to: str | None = None
    delivery_timeout: float = 10.0
    max_connections: int = 40
    # update_id -> delivery attempts, and the update_ids answered 200
    attempts: dict[int, int] = field(default_factory=dict)
    delivered: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = 0
        self._pending: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._callbacks: dict[str, _Query] = {}
        self._inline: dict[str, _Query] = {}
        self._failures: dict[str, deque[tuple[int, int | None]]] = {}
        self._waiters: set[asyncio.Future[None]] = set()
        self._poll_generation = 0
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._on_call: list[Callable[[Call], None]] = []
        self._delivery: asyncio.Task[None] | None = None
        # Forum topics (issue 13): (chat id, message_thread_id) -> {"name", "closed"}, and
        # the bot's rights per chat (getChatMember of the bot; none means a plain member).
        self.topics: dict[tuple[int, int], dict[str, Any]] = {}
        self.rights: dict[int, dict[str, Any]] = {}

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit TCP_NODELAY (aiohttp sets it too); without it each
        # small loopback answer can wait ~40 ms for a delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        self._closing = True
        self._wake()
        if self._delivery is not None:
            self._delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery
            self._delivery = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """python-telegram-bot's form: the token is appended to it."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Helpbot",
            "username": self.username,
        }

    # -- test controls -------------------------------------------------------------------

    def fail(self, method: str, times: int = 1, status: int = 429, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with `status` (429: flood control)."""
        queue = self._failures.setdefault(method.lower(), deque())
        for _ in range(times):
            queue.append((status, retry_after if status == 429 else None))

    def user(
        self, user_id: int, first_name: str = "Ann", language_code: str | None = "en"
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        user["username"] = f"{first_name.lower()}{user_id}"
        if language_code:
            user["language_code"] = language_code
        return user

    def group(
        self, chat_id: int = -1001234567890, title: str = "Helpers", kind: str = "supergroup"
    ) -> dict[str, Any]:
        chat = {"id": chat_id, "title": title, "type": kind}
        self._chats[chat_id] = chat
        return chat

    def forum(
        self,
        chat_id: int = -1009876543210,
        title: str = "Support",
        *,
        admin: bool = True,
        manage_topics: bool = True,
        is_forum: bool = True,
    ) -> dict[str, Any]:
        """A supergroup with Topics enabled (or not), where the bot is an admin with the right
        to manage topics (or not)."""
        chat = self.group(chat_id, title)
        if is_forum:
            chat["is_forum"] = True
        if admin:
            self.rights[chat_id] = {"status": "administrator", "can_manage_topics": manage_topics}
        return chat

    def topic_message(
        self, user: dict[str, Any], chat: dict[str, Any], thread_id: int, text: str
    ) -> dict[str, Any]:
        """A person (staff) writes `text` in forum topic `thread_id` of `chat`; pushed."""
        message = self.message(user, text, chat, message_thread_id=thread_id, is_topic_message=True)
        self.push({"message": message})
        return message

    def thread_texts(self, chat_id: int, thread_id: int) -> list[str]:
        """What the bot wrote in one forum topic, oldest first."""
        return [
            m["text"]
            for (c, _), m in sorted(self._messages.items())
            if c == chat_id
            and m.get("message_thread_id") == thread_id
            and m["from"]["id"] == self.bot_id
        ]

    def private(self, user: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": user["id"], "first_name": user["first_name"], "type": "private"}
        if "username" in user:
            chat["username"] = user["username"]
        self._chats[user["id"]] = chat
        return chat

    def message(
        self,
        user: dict[str, Any],
        text: str | None = None,
        chat: dict[str, Any] | None = None,
        reply_to: dict[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A message object as Telegram builds it, entities (commands, mentions) included."""
        chat = chat or self.private(user)
        self._chats[chat["id"]] = chat
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat["id"]),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
        }
        if text is not None:
            message["text"] = text
            entities = _entities(text)
            if entities:
                message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(extra)
        return message

    def send_text(
        self,
        user: dict[str, Any],
        text: str,
        chat: dict[str, Any] | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A person sends `text` (to the bot privately, or in `chat`); returns the message."""
        message = self.message(user, text, chat, reply_to)
        self.push({"message": message})
        return message

    def press(self, user: dict[str, Any], message: dict[str, Any], label: str) -> str:
        """A person presses the button whose label contains `label` on one of the bot's
        messages (as it is now); returns the callback query id."""
        current = self._messages[(message["chat"]["id"], message["message_id"])]
        return self.callback(user, current, self.button(current, label))

    def callback(self, user: dict[str, Any], message: dict[str, Any], data: str) -> str:
        """A callback query with `data` from a button on `message` (any message object)."""
        query_id = str(next(self._query_ids) * 1000 + 17)
        self._callbacks[query_id] = _Query(user["id"])
        self.push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "message": message,
                    "chat_instance": f"-{abs(message['chat']['id'])}42",
                    "data": data,
                }
            }
        )
        return query_id

    def inline(self, user: dict[str, Any], query: str) -> str:
        query_id = str(next(self._query_ids) * 1000 + 29)
        self._inline[query_id] = _Query(user["id"])
        self.push(
            {
                "inline_query": {
                    "id": query_id,
                    "from": user,
                    "query": query,
                    "offset": "",
                    "chat_type": "sender",
                }
            }
        )
        return query_id

    def push(self, update: dict[str, Any]) -> int:
        """Make an update available to getUpdates; returns its update_id."""
        update = {"update_id": next(self._update_ids), **update}
        self._pending.append(update)
        self._wake()
        return update["update_id"]

    @staticmethod
    def button(message: dict[str, Any], label: str) -> str:
        for row in message.get("reply_markup", {}).get("inline_keyboard", []):
            for button in row:
                if label.lower() in button["text"].lower():
                    return button["callback_data"]
        raise LookupError(f"no button like {label!r} in {message.get('reply_markup')}")

    def bot_message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """One of the bot's messages as it is now (after any edits)."""
        return self._messages[(chat_id, message_id)]

    def calls_of(self, method: str, since: int = 0, ok: bool = True) -> list[Call]:
        return [
            c
            for c in self.calls[since:]
            if c.method.lower() == method.lower() and (c.status == 200 or not ok)
        ]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        *,
        since: int = 0,
        timeout: float = 5.0,
        where: Callable[[Call], bool] = lambda call: True,
    ) -> list[Call]:
        """The first `count` successful calls of `method` after call number `since`."""

        def found() -> list[Call]:
            return [c for c in self.calls_of(method, since) if where(c)]

        deadline = time.monotonic() + timeout
        while len(found()) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"{method}: {len(found())} of {count} calls after {timeout} s; "
                    f"calls so far: {[c.method for c in self.calls[since:]]}"
                )
            await self._change(left)
        return found()[:count]

    async def wait_delivered(self, count: int, timeout: float = 30.0) -> None:
        """Webhook mode: until `count` updates were answered 200 by the bot."""
        async with asyncio.timeout(timeout):
            while len(set(self.delivered)) < count:
                await self._change(timeout)

    # -- webhook delivery ------------------------------------------------------------------

    async def _deliver_forever(self) -> None:
        import aiohttp

        busy: set[int] = set()  # chats with an update on its way
        flying: set[asyncio.Task[None]] = set()
        connector = aiohttp.TCPConnector(force_close=True)  # a new connection per update
        timeout = aiohttp.ClientTimeout(total=self.delivery_timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def post(update: dict[str, Any], chat: int) -> None:
                update_id = update["update_id"]
                headers = {"Content-Type": "application/json"}
                secret = self.webhook.get("secret_token")
                if secret:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = secret
                self.attempts[update_id] = self.attempts.get(update_id, 0) + 1
                self.served_at.setdefault(update_id, time.monotonic())
                ok = False
                try:
                    assert self.deliver_to is not None
                    async with session.post(
                        self.deliver_to, data=json.dumps(update), headers=headers
                    ) as response:
                        ok = response.status == 200
                except (aiohttp.ClientError, OSError, TimeoutError):
                    ok = False
                if ok:
                    self.delivered.append(update_id)
                    self._pending = [u for u in self._pending if u["update_id"] != update_id]
                else:
                    await asyncio.sleep(0.1)  # then again, as Telegram does (it waits longer)
                busy.discard(chat)
                self._wake()

            while not self._closing:
                if self.webhook.get("url"):
                    for update in list(self._pending):
                        if len(flying) >= self.max_connections:
                            break
                        chat = _update_chat(update)
                        if chat in busy:
                            continue
                        busy.add(chat)
                        task = asyncio.create_task(post(update, chat))
                        flying.add(task)
                        task.add_done_callback(flying.discard)
                await self._change(1.0)
            for task in flying:
                task.cancel()

    async def settle(self, idle: float = 0.3, timeout: float = 5.0) -> None:
        """Wait until every pushed update was fetched and the bot made no call for `idle` s."""
        async with asyncio.timeout(timeout):
            while True:
                mark = len(self.calls)
                fetched = all(u["update_id"] in self.served_at for u in self._pending)
                await asyncio.sleep(idle)
                if fetched and len(self.calls) == mark:
                    return

    # -- the API -------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        self._wake()
        try:
            failure = self._failures.get(method.lower())
            if failure:
                status, retry_after = failure.popleft()
                if status == 429:
                    raise ApiError(
                        429,
                        f"Too Many Requests: retry after {retry_after}",
                        {"retry_after": retry_after},
                    )
                raise ApiError(status, "Internal Server Error")
            handler = getattr(self, f"_api_{method.lower()}", None)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            call.result = await handler(params)
            if self.latency:
                await asyncio.sleep(self.latency)
            response = web.json_response({"ok": True, "result": call.result})
        except ApiError as error:
            call.status = error.code
            response = _error(error.code, error.description, error.parameters)
        self._wake()
        return response

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def _change(self, timeout: float) -> None:
        """Wait until an update is pushed or a call answered (or `timeout` passes)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)

    async def _api_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _api_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(int(params.get("limit") or 100), 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = time.monotonic() + timeout
        while not self._pending and not self._closing:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            await self._change(left)
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
        batch = self._pending[:limit]
        now = time.monotonic()
        for update in batch:
            self.served_at.setdefault(update["update_id"], now)  # first time: latency
        return batch

    async def _api_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params.get("chat_id"))
        text, markup = self._checked_text(params)
        message = {
            "message_id": self._next_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if markup:
            message["reply_markup"] = markup
        thread = params.get("message_thread_id")
        if thread and chat.get("is_forum"):
            topic = self.topics.get((chat["id"], int(thread)))
            if topic is None:
                raise ApiError(400, "Bad Request: message thread not found")
            if topic["closed"] and not self._can_manage_topics(chat["id"]):
                raise ApiError(400, "Bad Request: TOPIC_CLOSED")
            message["is_topic_message"] = True
        if thread:
            message["message_thread_id"] = int(thread)
        reply = params.get("reply_parameters")
        if reply:
            original = self._messages.get((chat["id"], reply["message_id"]))
            if original is None and not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
            if original is not None:
                message["reply_to_message"] = original
        self._messages[(chat["id"], message["message_id"])] = message
        return message

    async def _api_editmessagetext(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params.get("chat_id"))
        key = (chat["id"], int(params.get("message_id") or 0))
        message = self._messages.get(key)
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        text, markup = self._checked_text(params)
        if text == message["text"] and markup == message.get("reply_markup"):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        message = {**message, "text": text, "edit_date": int(time.time())}
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        self._messages[key] = message
        return message

    async def _api_answercallbackquery(self, params: dict[str, Any]) -> bool:
        query = self._callbacks.get(str(params.get("callback_query_id")))
        if query is None or query.answers:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        if len(params.get("text") or "") > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answers += 1
        return True

    async def _api_answerinlinequery(self, params: dict[str, Any]) -> bool:
        query = self._inline.get(str(params.get("inline_query_id")))
        if query is None or query.answers:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        results = params.get("results") or []
        if len(results) > 50:
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
        ids = [r.get("id", "") for r in results]
        if len(set(ids)) != len(ids) or any(not 1 <= len(i.encode()) <= 64 for i in ids):
            raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
        for result in results:
            content = result.get("input_message_content") or {}
            if result.get("type") != "article" or not result.get("title") or not content:
                raise ApiError(400, "Bad Request: RESULT_INVALID")
            self._checked_text(content, key="message_text")
        query.answers += 1
        return True

    async def _api_setmycommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands") or []
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not _COMMAND_NAME.match(command.get("command", "")):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        lang = params.get("language_code") or ""
        if lang and not re.fullmatch(r"[a-z]{2}", lang):
            raise ApiError(400, "Bad Request: invalid language code specified")
        self.commands[lang] = commands
        return True

    async def _api_deletewebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {}
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _api_setwebhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url") or ""
        if url and not url.startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        secret = params.get("secret_token") or ""
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = dict(params) if url else {}
        if url and self.deliver_to and self._delivery is None:
            self._delivery = asyncio.create_task(self._deliver_forever())
        return True

    async def _api_getwebhookinfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    async def _api_close(self, params: dict[str, Any]) -> bool:
        return True

    async def _api_logout(self, params: dict[str, Any]) -> bool:
        return True

    async def _api_getchat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params.get("chat_id"))
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11}

    async def _api_getchatmember(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params.get("chat_id"))
        user_id = int(params.get("user_id") or 0)
        if user_id != self.bot_id:
            raise ApiError(400, "Bad Request: user not found")
        rights = self.rights.get(chat["id"])
        if rights is None:
            return {"status": "member", "user": self.bot_user}
        return {
            "user": self.bot_user,
            "can_be_edited": False,
            "is_anonymous": False,
            "can_manage_chat": True,
            "can_delete_messages": True,
            "can_manage_video_chats": False,
            "can_restrict_members": False,
            "can_promote_members": False,
            "can_change_info": False,
            "can_invite_users": True,
            "can_post_stories": False,
            "can_edit_stories": False,
            "can_delete_stories": False,
            **rights,
        }

    def _can_manage_topics(self, chat_id: int) -> bool:
        rights = self.rights.get(chat_id) or {}
        return rights.get("status") == "administrator" and bool(rights.get("can_manage_topics"))

    def _topic(self, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        chat = self._chat(params.get("chat_id"))
        if not chat.get("is_forum"):
            raise ApiError(400, "Bad Request: the chat is not a forum")
        if not self._can_manage_topics(chat["id"]):
            raise ApiError(400, "Bad Request: not enough rights to manage topics")
        return chat, self.topics.get((chat["id"], int(params.get("message_thread_id") or 0))) or {}

    async def _api_createforumtopic(self, params: dict[str, Any]) -> dict[str, Any]:
        chat, _ = self._topic(params)
        name = str(params.get("name") or "")
        if not 1 <= len(name) <= 128:
            raise ApiError(400, "Bad Request: TOPIC_NAME_INVALID")
        # Like Telegram: the topic's id is the id of its "topic created" service message.
        thread_id = self._next_message_id(chat["id"])
        self.topics[(chat["id"], thread_id)] = {"name": name, "closed": False}
        return {"message_thread_id": thread_id, "name": name, "icon_color": 7322096}

    async def _api_closeforumtopic(self, params: dict[str, Any]) -> bool:
        _, topic = self._topic(params)
        if not topic:
            raise ApiError(400, "Bad Request: TOPIC_ID_INVALID")
        if topic["closed"]:
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic["closed"] = True
        return True

    # -- checks --------------------------------------------------------------------------

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        try:
            return self._chats[int(chat_id)]
        except (KeyError, TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None

    def _checked_text(
        self, params: dict[str, Any], key: str = "text"
    ) -> tuple[str, dict[str, Any] | None]:
        raw = params.get(key) or ""
        text = parse_html(raw) if params.get("parse_mode") == "HTML" else raw
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if re.search("[\ud800-\udfff]", text):  # a lone surrogate: not valid UTF-8
            raise ApiError(400, "Bad Request: text must be encoded in UTF-8")
        if _utf16_len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        if markup is not None:
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    data = button.get("callback_data")
                    if not button.get("text") or data is None or not 1 <= len(data.encode()) <= 64:
                        raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return text, markup

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))


def parse_html(text: str) -> str:
    """The plain text of Telegram HTML; raises ApiError where Telegram would refuse it."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    for match in _HTML_TOKEN.finditer(text):
        out.append(text[pos : match.start()])
        pos = match.end()
        if match.group("stray"):
            raise ApiError(
                400,
                f"Bad Request: can't parse entities: unescaped {match.group('stray')!r} "
                f"at byte offset {len(text[: match.start()].encode())}",
            )
        if match.group("entity"):
            out.append(html.unescape(match.group(0)))
            continue
        tag = match.group("tag").lower()
        if tag not in _HTML_TAGS:
            raise ApiError(400, f"Bad Request: can't parse entities: Unsupported start tag {tag!r}")
        if match.group("close"):
            if not stack or stack[-1] != tag:
                raise ApiError(400, f"Bad Request: can't parse entities: Unmatched end tag {tag!r}")
            stack.pop()
        else:
            if tag == "a" and "href=" not in match.group("attrs"):
                raise ApiError(400, "Bad Request: can't parse entities: a tag without href")
            stack.append(tag)
    out.append(text[pos:])
    if stack:
        raise ApiError(400, f"Bad Request: can't parse entities: unclosed tag {stack[-1]!r}")
    return "".join(out)


def _entities(text: str) -> list[dict[str, Any]]:
    """bot_command and mention entities as Telegram computes them (UTF-16 offsets)."""
    entities = []
    for match in _ENTITY_RE.finditer(text):
        kind = "bot_command" if match.group(0).startswith("/") else "mention"
        entities.append(
            {
                "type": kind,
                "offset": _utf16_len(text[: match.start()]),
                "length": _utf16_len(match.group(0)),
            }
        )
    return entities


def _utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts; lone surrogates count as one."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await request.read()
        return json.loads(body) if body else {}
    form = await request.post() if request.method == "POST" else request.query
    params: dict[str, Any] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            continue  # an uploaded file: none of our calls send any
        if key in _STRING_PARAMS:
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def _update_chat(update: dict[str, Any]) -> int:
    """The chat an update belongs to (a person's id for inline queries)."""
    for kind in ("message", "callback_query", "inline_query"):
        body = update.get(kind)
        if isinstance(body, dict):
            message = body.get("message") if kind == "callback_query" else body
            if kind != "inline_query" and isinstance(message, dict) and "chat" in message:
                return int(message["chat"]["id"])
            return int(body.get("from", {}).get("id", 0))
    return 0


def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)
