"""A small fake Discord (REST API + gateway websocket) for end-to-end tests of the real discord.py.

It serves on 127.0.0.1 and a free port, speaks the shapes the real API uses, records every REST
call, and lets a test play members: dispatch slash commands, autocomplete and button presses
over the gateway, then read what the bot answered.

Modelled: login (users/@me, oauth2/applications/@me), command bulk overwrite (global and per
server), interaction callbacks (types 4, 5, 6, 7, 8) with `?with_response`, webhook follow-ups
and edits, the 3-second acknowledgement deadline, "already acknowledged", message and component
limits (2000 characters, 5x5 buttons, 100-character custom ids, 80-character labels, 25
autocomplete choices), injected 429 (with retry_after and X-RateLimit-* headers) and 5xx
responses, and a gateway doing HELLO -> IDENTIFY -> READY (+ GUILD_CREATE when the GUILDS intent
is asked for), heartbeats, RESUME, and zlib-stream compression when the client asks for it.

Channels and threads (for the handoff to staff): GET /channels/{id}, private and public threads
(POST /channels/{id}/threads with Discord's checks on type, name and archive duration), thread
members (PUT /channels/{thread}/thread-members/{user}, refused on an archived thread), PATCH of a
thread (archived, locked, name, ...), and channel messages (POST /channels/{id}/messages) with
the mentions Discord would actually ping (`mentions`, `mention_roles`, `mention_everyone`,
worked out from the content and `allowed_mentions`). A locked, archived thread refuses new
messages; an archived, unlocked one is unarchived by a new message, as on Discord. Members a test
plays can post into a channel or thread they can see (`post_as`), and interactions can come from
inside a thread (`channel_id=` a thread id). Gateway events follow the intents the client asked
for: THREAD_CREATE and THREAD_UPDATE only with GUILDS, MESSAGE_CREATE only with GUILD_MESSAGES
(its content only with MESSAGE_CONTENT), so a bot that asks for no intents gets none of them.

Every JSON response has the Content-Type exactly `application/json`: discord.py treats anything
else (even `application/json; charset=utf-8`) as text.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

API_PREFIX = "/api/v10"
EPOCH = "2024-01-01T00:00:00.000000+00:00"
EPHEMERAL = 1 << 6
GUILDS_INTENT = 1 << 0
GUILD_MESSAGES_INTENT = 1 << 9
MESSAGE_CONTENT_INTENT = 1 << 15
# What a member of the test server may do in its channels (the value Discord computes for an
# interaction's `member.permissions`): no Manage Threads, so a plain member is not staff.
MEMBER_PERMISSIONS = 2248473465835073
MANAGE_THREADS = 1 << 34
TEXT_CHANNEL, PUBLIC_THREAD, PRIVATE_THREAD = 0, 11, 12
ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
DEADLINE = 3.0  # seconds to acknowledge an interaction
# Interaction callback types
PONG, MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, AUTOCOMPLETE = 1, 4, 5, 6, 7, 8


def user_payload(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name.title(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
    }


@dataclass
class Member:
    """A person a test plays: their server roles and channel permissions go into interactions
    (staff: a support role, or Manage Threads)."""

    id: int
    name: str
    roles: tuple[int, ...] = ()
    permissions: int = MEMBER_PERMISSIONS

    @property
    def manages_threads(self) -> bool:
        return bool(self.permissions & MANAGE_THREADS)

    @property
    def user(self) -> dict[str, Any]:
        return user_payload(self.id, self.name)


@dataclass
class Call:
    """One REST request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    status: int = 0
    at: float = field(default_factory=time.monotonic)


CALL = web.RequestKey("call", Call)


@dataclass
class Exchange:
    """One interaction the fake dispatched and everything the bot did about it."""

    id: int
    token: str
    kind: int  # 2 command, 3 component, 4 autocomplete
    payload: dict[str, Any]
    dispatched_at: float
    callback: dict[str, Any] | None = None  # the accepted callback body
    callback_at: float | None = None
    original_id: int | None = None  # the message "@original" refers to
    sent: list[dict[str, Any]] = field(default_factory=list)  # messages created
    edits: list[dict[str, Any]] = field(default_factory=list)  # messages after an edit
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def callback_type(self) -> int | None:
        return None if self.callback is None else self.callback["type"]

    @property
    def data(self) -> dict[str, Any]:
        assert self.callback is not None, "no callback yet"
        return self.callback.get("data") or {}

    @property
    def messages(self) -> list[dict[str, Any]]:
        """What the person sees, in order: edits of the pressed message, then new messages."""
        return self.edits + self.sent

    async def wait(self, messages: int = 1, timeout: float = 5.0) -> Exchange:
        """Until the callback arrived and at least `messages` messages were sent or edited."""

        async def ready() -> None:
            while self.callback is None or len(self.edits) + len(self.sent) < messages:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(ready(), timeout)
        return self

    async def wait_callback(self, timeout: float = 5.0) -> dict[str, Any]:
        async def ready() -> None:
            while self.callback is None:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(ready(), timeout)
        assert self.callback is not None
        return self.callback


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str, errors: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors


class GatewayConnection:
    def __init__(self, ws: web.WebSocketResponse, compress: str | None, query: dict[str, str]):
        self.ws = ws
        self.query = query
        self.compress = compress
        self.zlib = zlib.compressobj() if compress == "zlib-stream" else None
        self.sequence = 0
        self.identify: dict[str, Any] | None = None
        self.session_id: str | None = None
        self.heartbeats = 0
        self.lock = asyncio.Lock()

    async def send(self, op: int, data: Any, event: str | None = None) -> None:
        async with self.lock:
            seq = None
            if op == 0:
                self.sequence += 1
                seq = self.sequence
            text = json.dumps({"op": op, "d": data, "s": seq, "t": event})
            if self.zlib is not None:
                raw = self.zlib.compress(text.encode()) + self.zlib.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(raw)
            else:
                await self.ws.send_str(text)


class FakeDiscord:
    """The fake server. `async with FakeDiscord() as fake:` starts and stops it."""

    def __init__(
        self,
        *,
        token: str = "fake-bot-token.NzkyNzE1NDU0MTk2MDg4ODQy.secret-part-0123456789",
        app_id: int = 700000000000000001,
        guild_id: int = 800000000000000001,
        channel_id: int = 810000000000000001,
        support_channel_id: int = 810000000000000002,
        deadline: float = DEADLINE,
        retry_after: float = 0.05,
        latency: float = 0.0,
    ) -> None:
        self.token = token
        self.app_id = app_id
        self.bot_id = app_id  # as for real bots, the bot user id equals the application id
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.support_channel_id = support_channel_id
        # Channels and threads by id (payloads as GET /channels/{id} returns them), thread
        # members, and every message posted in a channel (by the bot over REST, or by members).
        self.channels: dict[int, dict[str, Any]] = {
            channel_id: self._text_channel(channel_id, "general"),
            support_channel_id: self._text_channel(support_channel_id, "support"),
        }
        self.thread_members: dict[int, set[int]] = {}
        self.channel_messages: dict[int, list[dict[str, Any]]] = {}
        self.deadline = deadline
        self.retry_after = retry_after
        self.latency = latency  # seconds added to every REST request: a network to cross
        self.calls: list[Call] = []
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.exchanges: dict[int, Exchange] = {}
        self.by_token: dict[str, Exchange] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        self.connections: list[GatewayConnection] = []
        self.identified = asyncio.Condition()
        self._failures: list[tuple[str, int, int]] = []  # (path part, status, remaining)
        self._ids = itertools.count(900000000000000001)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.on_dispatch: Callable[[Exchange], None] | None = None
        self.gateway_refusals = 0  # the next N websocket connections are refused with 503

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        for connection in self.connections:
            with contextlib.suppress(Exception):
                await connection.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def bot_user(self) -> dict[str, Any]:
        return user_payload(self.bot_id, "helpbot", bot=True)

    def next_id(self) -> int:
        return next(self._ids)

    # -- test controls ------------------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1, path: str = "/callback") -> None:
        """Answer the next `count` requests whose path contains `path` with `status`
        (429 comes with retry_after and rate-limit headers, as Discord sends it)."""
        self._failures.append((path, status, count))

    def calls_to(self, fragment: str, method: str | None = None) -> list[Call]:
        return [
            c for c in self.calls if fragment in c.path and (method is None or c.method == method)
        ]

    async def wait_identified(self, count: int = 1, timeout: float = 10.0) -> GatewayConnection:
        """Until `count` gateway connections have identified; returns the newest."""

        def enough() -> bool:
            return sum(1 for c in self.connections if c.identify) >= count

        async with self.identified:
            await asyncio.wait_for(self.identified.wait_for(enough), timeout)
        return [c for c in self.connections if c.identify][-1]

    def live_connection(self) -> GatewayConnection:
        for connection in reversed(self.connections):
            if connection.identify and not connection.ws.closed:
                return connection
        raise AssertionError("no bot is connected to the fake gateway")

    def command_id(self, name: str, guild_id: int | None) -> tuple[str, int | None]:
        """The registered command's id and the server it is registered in (None: global)."""
        for scope in (guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name:
                    return command["id"], scope
        return str(self.next_id()), None  # not synced: discord.py still dispatches by name

    # -- playing members ----------------------------------------------------------------------

    def _base(
        self, kind: int, member: Member, guild: bool, locale: str, channel_id: int | None
    ) -> dict[str, Any]:
        interaction_id = self.next_id()
        token = f"aW50ZXJhY3Rpb246{interaction_id}:tok"
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.app_id),
            "type": kind,
            "token": token,
            "version": 1,
            "locale": locale,
            "app_permissions": "2248473465835073",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10485760,
        }
        if guild:
            channel = channel_id or self.channel_id
            payload.update(
                guild_id=str(self.guild_id),
                guild={"id": str(self.guild_id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                channel_id=str(channel),
                channel={
                    **self.channels.get(channel, self._text_channel(channel, "general")),
                    "permissions": str(member.permissions),
                },
                member={
                    "user": member.user,
                    "roles": [str(role) for role in member.roles],
                    "nick": None,
                    "avatar": None,
                    "banner": None,
                    "joined_at": EPOCH,
                    "premium_since": None,
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                    "pending": False,
                    "communication_disabled_until": None,
                    "permissions": str(member.permissions),
                },
                authorizing_integration_owners={"0": str(self.guild_id)},
                context=0,
            )
        else:
            channel = channel_id or (member.id + 1)  # a DM channel id of its own
            payload.update(
                channel_id=str(channel),
                channel={
                    "id": str(channel),
                    "type": 1,
                    "last_message_id": None,
                    "flags": 0,
                    "recipients": [member.user],
                },
                user=member.user,
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        return payload

    async def _dispatch(self, payload: dict[str, Any]) -> Exchange:
        exchange = Exchange(
            id=int(payload["id"]),
            token=payload["token"],
            kind=payload["type"],
            payload=payload,
            dispatched_at=time.monotonic(),
        )
        self.exchanges[exchange.id] = exchange
        self.by_token[exchange.token] = exchange
        if payload["type"] == 3:
            exchange.original_id = int(payload["message"]["id"])
        connection = self.live_connection()
        exchange.dispatched_at = time.monotonic()
        await connection.send(0, payload, "INTERACTION_CREATE")
        return exchange

    async def slash(
        self,
        name: str,
        member: Member,
        *,
        guild: bool = True,
        locale: str = "en-US",
        channel_id: int | None = None,
        **options: Any,
    ) -> Exchange:
        """A member runs `/name option:value ...`."""
        payload = self._base(2, member, guild, locale, channel_id)
        command_id, scope = self.command_id(name, self.guild_id if guild else None)
        data: dict[str, Any] = {"id": command_id, "name": name, "type": 1}
        if options:
            data["options"] = [
                {"name": key, "type": 5 if isinstance(value, bool) else 3, "value": value}
                for key, value in options.items()
            ]
        if scope is not None:
            data["guild_id"] = str(scope)
        payload["data"] = data
        return await self._dispatch(payload)

    async def autocomplete(
        self,
        name: str,
        member: Member,
        focused: str,
        typed: str,
        *,
        guild: bool = True,
        locale: str = "en-US",
    ) -> Exchange:
        """A member is typing `typed` into option `focused` of `/name`."""
        payload = self._base(4, member, guild, locale, None)
        command_id, scope = self.command_id(name, self.guild_id if guild else None)
        data: dict[str, Any] = {
            "id": command_id,
            "name": name,
            "type": 1,
            "options": [{"name": focused, "type": 3, "value": typed, "focused": True}],
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        payload["data"] = data
        return await self._dispatch(payload)

    async def press(
        self,
        message: dict[str, Any],
        label: str,
        member: Member,
        *,
        locale: str = "en-US",
    ) -> Exchange:
        """A member presses the button whose label contains `label` on `message`."""
        custom_id = self.find_button(message, label)["custom_id"]
        current = self.messages.get(int(message["id"]), message)
        guild = "guild_id" in current
        payload = self._base(3, member, guild, locale, int(current["channel_id"]))
        payload["data"] = {"custom_id": custom_id, "component_type": 2}
        payload["message"] = current
        return await self._dispatch(payload)

    async def press_custom_id(
        self, message: dict[str, Any], custom_id: str, member: Member
    ) -> Exchange:
        current = self.messages.get(int(message["id"]), message)
        payload = self._base(3, member, "guild_id" in current, "en-US", int(current["channel_id"]))
        payload["data"] = {"custom_id": custom_id, "component_type": 2}
        payload["message"] = current
        return await self._dispatch(payload)

    @staticmethod
    def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            button
            for row in message.get("components", [])
            for button in row.get("components", [])
            if button.get("type") == 2
        ]

    def find_button(self, message: dict[str, Any], label: str) -> dict[str, Any]:
        current = self.messages.get(int(message["id"]), message)
        for button in self.buttons(current):
            if label.lower() in button.get("label", "").lower():
                return button
        raise AssertionError(
            f"no button {label!r} in {[b.get('label') for b in self.buttons(current)]}"
        )

    # -- channels, threads and members' messages ---------------------------------------------

    def _text_channel(self, channel_id: int, name: str) -> dict[str, Any]:
        return {
            "id": str(channel_id),
            "type": TEXT_CHANNEL,
            "guild_id": str(self.guild_id),
            "name": name,
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
            "default_auto_archive_duration": 1440,
        }

    def threads(self) -> list[dict[str, Any]]:
        """Every thread, oldest first."""
        return [c for c in self.channels.values() if c["type"] in (PUBLIC_THREAD, PRIVATE_THREAD)]

    def thread(self, thread_id: int | str) -> dict[str, Any]:
        channel = self.channels[int(thread_id)]
        assert channel["type"] in (PUBLIC_THREAD, PRIVATE_THREAD), f"{thread_id} is not a thread"
        return channel

    def can_see(self, member: Member, channel_id: int | str) -> bool:
        """Whether `member` sees the channel: every member sees the text channels and public
        threads; a private thread only its members and those with Manage Threads."""
        channel = self.channels[int(channel_id)]
        if channel["type"] != PRIVATE_THREAD:
            return True
        return member.manages_threads or member.id in self.thread_members.get(
            int(channel_id), set()
        )

    def messages_in(self, channel_id: int | str) -> list[dict[str, Any]]:
        return list(self.channel_messages.get(int(channel_id), []))

    async def post_as(self, member: Member, channel_id: int | str, content: str) -> dict[str, Any]:
        """`member` writes `content` in a channel or thread (staff talking to a person in a
        thread). Refused (ApiError) where Discord would refuse it: a private thread the member
        cannot see, a locked thread without Manage Threads."""
        channel_id = int(channel_id)
        channel = self.channels.get(channel_id)
        if channel is None or not self.can_see(member, channel_id):
            raise ApiError(403, 50001, "Missing Access")
        meta = channel.get("thread_metadata")
        if meta is not None:
            if meta["locked"] and not member.manages_threads:
                raise ApiError(403, 50083, "Thread is archived")
            if meta["archived"]:
                await self._set_archived(channel, False)
        return await self._post(channel, member.user, {"content": content})

    def _channel(self, channel_id: str) -> dict[str, Any]:
        channel = self.channels.get(int(channel_id)) if channel_id.isdigit() else None
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    async def _channel_route(self, method: str, parts: list[str], call: Call) -> web.Response:
        channel = self._channel(parts[1])
        body = call.body if isinstance(call.body, dict) else {}
        if len(parts) == 2 and method == "GET":
            return self._json(channel)
        if len(parts) == 2 and method == "PATCH":
            return self._json(await self._edit_channel(channel, body))
        if parts[2:] == ["threads"] and method == "POST":
            return self._json(await self._create_thread(channel, body), 201)
        if len(parts) == 4 and parts[2] == "thread-members" and method == "PUT":
            self._add_thread_member(channel, parts[3])
            return web.Response(status=204)
        if parts[2:] == ["messages"] and method == "POST":
            meta = channel.get("thread_metadata")
            if meta is not None and meta["archived"]:
                if meta["locked"]:
                    raise ApiError(400, 50083, "Thread is archived")
                await self._set_archived(channel, False)
            return self._json(await self._post(channel, self.bot_user, body))
        raise ApiError(404, 0, "404: Not Found")

    async def _create_thread(self, parent: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        if parent["type"] != TEXT_CHANNEL:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        kind = body.get("type", PRIVATE_THREAD)
        name = body.get("name")
        duration = body.get("auto_archive_duration", parent["default_auto_archive_duration"])
        problems = []
        if kind not in (PUBLIC_THREAD, PRIVATE_THREAD):
            problems.append(f"type {kind!r} is not a thread type")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            problems.append(f"name {name!r} must be 1-100 characters")
        if duration not in ARCHIVE_DURATIONS:
            problems.append(f"auto_archive_duration {duration!r} not one of {ARCHIVE_DURATIONS}")
        if problems:
            raise ApiError(400, 50035, "Invalid Form Body", {"problems": problems})
        thread_id = self.next_id()
        thread: dict[str, Any] = {
            "id": str(thread_id),
            "type": kind,
            "guild_id": str(self.guild_id),
            "parent_id": parent["id"],
            "owner_id": str(self.bot_id),
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": body.get("rate_limit_per_user") or 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "archive_timestamp": EPOCH,
                "auto_archive_duration": duration,
                "locked": False,
                "invitable": bool(body.get("invitable", True)) if kind == PRIVATE_THREAD else True,
                "create_timestamp": EPOCH,
            },
            "member": {
                "id": str(thread_id),
                "user_id": str(self.bot_id),
                "join_timestamp": EPOCH,
                "flags": 0,
            },
        }
        self.channels[thread_id] = thread
        self.thread_members[thread_id] = {self.bot_id}
        await self._to_gateway(GUILDS_INTENT, "THREAD_CREATE", {**thread, "newly_created": True})
        return thread

    def _add_thread_member(self, thread: dict[str, Any], user_id: str) -> None:
        meta = thread.get("thread_metadata")
        if meta is None:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        if meta["archived"]:
            raise ApiError(400, 50083, "Thread is archived")
        if not user_id.isdigit():
            raise ApiError(404, 10013, "Unknown User")
        members = self.thread_members[int(thread["id"])]
        members.add(int(user_id))
        thread["member_count"] = len(members)

    async def _edit_channel(self, channel: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        meta = channel.get("thread_metadata")
        if meta is None:
            for key in ("name", "topic"):
                if key in body:
                    channel[key] = body[key]
            return channel
        if meta["locked"] and meta["archived"] and body.get("archived", True) and set(body) - {"archived", "locked"}:  # fmt: skip
            raise ApiError(400, 50083, "Thread is archived")
        if "name" in body:
            if not isinstance(body["name"], str) or not 1 <= len(body["name"]) <= 100:
                raise ApiError(400, 50035, "Invalid Form Body", {"name": "1-100 characters"})
            channel["name"] = body["name"]
        for key in ("locked", "invitable"):
            if key in body:
                meta[key] = bool(body[key])
        if "auto_archive_duration" in body:
            if body["auto_archive_duration"] not in ARCHIVE_DURATIONS:
                raise ApiError(400, 50035, "Invalid Form Body", {"auto_archive_duration": "bad"})
            meta["auto_archive_duration"] = body["auto_archive_duration"]
        if "archived" in body:
            await self._set_archived(channel, bool(body["archived"]), notify=False)
        await self._to_gateway(GUILDS_INTENT, "THREAD_UPDATE", channel)
        return channel

    async def _set_archived(
        self, thread: dict[str, Any], archived: bool, *, notify: bool = True
    ) -> None:
        meta = thread["thread_metadata"]
        meta["archived"] = archived
        meta["archive_timestamp"] = EPOCH
        if notify:
            await self._to_gateway(GUILDS_INTENT, "THREAD_UPDATE", thread)

    async def _post(
        self, channel: dict[str, Any], author: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        problems = validate_message(data, new=True) + validate_allowed_mentions(data)
        if problems:
            raise ApiError(400, 50035, "Invalid Form Body", {"problems": problems})
        message_id = self.next_id()
        content = data.get("content") or ""
        users, roles, everyone = pinged(content, data.get("allowed_mentions"))
        message: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": channel["id"],
            "guild_id": str(self.guild_id),
            "author": author,
            "content": content,
            "timestamp": EPOCH,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": everyone,
            "mentions": [user_payload(int(u), f"user{u}") for u in users],
            "mention_roles": roles,
            "attachments": [],
            "embeds": data.get("embeds") or [],
            "pinned": False,
            "type": 0,
            "flags": int(data.get("flags") or 0),
            "components": data.get("components") or [],
            "allowed_mentions": data.get("allowed_mentions"),  # kept so tests can inspect it
        }
        self.messages[message_id] = message
        self.channel_messages.setdefault(int(channel["id"]), []).append(message)
        channel["last_message_id"] = str(message_id)
        if "message_count" in channel:
            channel["message_count"] += 1
            channel["total_message_sent"] += 1
        event = dict(message)
        event.pop("allowed_mentions")
        await self._to_gateway(GUILD_MESSAGES_INTENT, "MESSAGE_CREATE", event)
        return message

    async def _to_gateway(self, intent: int, event: str, data: dict[str, Any]) -> None:
        """Dispatch `event` to every connected bot that asked for `intent` (MESSAGE_CREATE
        carries its content only with MESSAGE_CONTENT as well)."""
        for connection in self.connections:
            if connection.identify is None or connection.ws.closed:
                continue
            intents = int(connection.identify.get("intents") or 0)
            if not intents & intent:
                continue
            payload = dict(data)
            if event == "MESSAGE_CREATE" and not intents & MESSAGE_CONTENT_INTENT:
                payload.update(content="", embeds=[], components=[], attachments=[])
            with contextlib.suppress(ConnectionError, RuntimeError):
                await connection.send(0, payload, event)

    # -- HTTP plumbing ------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/gateway":
            passed: web.StreamResponse = await handler(request)
            return passed
        if self.latency:
            await asyncio.sleep(self.latency)
        body: Any = None
        raw = await request.read()
        if raw:
            if request.content_type == "application/json":
                body = json.loads(raw)
            elif request.content_type.startswith("multipart/"):
                body = {"multipart": True}
            else:
                body = raw.decode(errors="replace")
        call = Call(request.method, request.path, dict(request.query), body, dict(request.headers))
        self.calls.append(call)
        request[CALL] = call
        response: web.StreamResponse = await handler(request)
        call.status = response.status
        return response

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        response = web.Response(status=status, body=json.dumps(data).encode(), headers=headers)
        response.headers["Content-Type"] = "application/json"
        return response

    def _injected(self, path: str) -> web.Response | None:
        for index, (fragment, status, remaining) in enumerate(self._failures):
            if fragment in path and remaining > 0:
                if remaining == 1:
                    del self._failures[index]
                else:
                    self._failures[index] = (fragment, status, remaining - 1)
                if status == 429:
                    headers = {
                        "Retry-After": "1",
                        "X-RateLimit-Limit": "5",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": f"{time.time() + self.retry_after:.3f}",
                        "X-RateLimit-Reset-After": f"{self.retry_after:.3f}",
                        "X-RateLimit-Bucket": "fakebucket0000",
                        "X-RateLimit-Scope": "user",
                        "Via": "1.1 google",
                    }
                    body = {
                        "message": "You are being rate limited.",
                        "retry_after": self.retry_after,
                        "global": False,
                    }
                    return self._json(body, 429, headers)
                return self._json({"message": f"{status}: Server Error", "code": 0}, status)
        return None

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        injected = self._injected(path)
        if injected is not None:
            return injected
        call = request[CALL]
        parts = path.strip("/").split("/")
        try:
            if parts[0] in ("interactions", "webhooks"):
                return await self._interaction_route(request.method, parts, call)
            if request.headers.get("Authorization") != f"Bot {self.token}":
                raise ApiError(401, 0, "401: Unauthorized")
            if parts[0] == "channels" and len(parts) >= 2:
                return await self._channel_route(request.method, parts, call)
            return self._bot_route(request.method, parts, call)
        except ApiError as error:
            body: dict[str, Any] = {"message": error.message, "code": error.code}
            if error.errors is not None:
                body["errors"] = error.errors
            return self._json(body, error.status)

    def _bot_route(self, method: str, parts: list[str], call: Call) -> web.Response:
        if parts == ["users", "@me"] and method == "GET":
            return self._json(self.bot_user)
        if parts in (["oauth2", "applications", "@me"], ["applications", "@me"]):
            return self._json(self._application())
        if parts in (["gateway"], ["gateway", "bot"]):
            return self._json(
                {
                    "url": f"ws://127.0.0.1:{self.port}/gateway",
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 999,
                        "reset_after": 0,
                        "max_concurrency": 1,
                    },
                }
            )
        if parts[0] == "applications" and parts[-1] == "commands" and parts[1] == str(self.app_id):
            scope = int(parts[3]) if len(parts) == 5 and parts[2] == "guilds" else None
            if method == "GET":
                return self._json(self.commands.get(scope, []))
            if method == "PUT":
                self.commands[scope] = [self._command(c, scope) for c in call.body]
                return self._json(self.commands[scope])
        raise ApiError(404, 0, "404: Not Found")

    def _application(self) -> dict[str, Any]:
        return {
            "id": str(self.app_id),
            "name": "helpbot",
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 1 << 23,  # APPLICATION_COMMAND_BADGE
            "owner": user_payload(600000000000000001, "owner"),
            "team": None,
            "hook": True,
            "interactions_endpoint_url": None,
            "install_params": None,
            "integration_types_config": {"0": {}, "1": {}},
            "redirect_uris": [],
            "tags": [],
        }

    def _command(self, data: dict[str, Any], scope: int | None) -> dict[str, Any]:
        problems = validate_command(data)
        if problems:
            raise ApiError(400, 50035, "Invalid Form Body", {"problems": problems})
        command = dict(data)
        command.setdefault("options", [])
        command.update(
            id=str(self.next_id()),
            application_id=str(self.app_id),
            version=str(self.next_id()),
            # A bit set, sent as a number by discord.py and returned as a string by Discord.
            default_member_permissions=(
                None if data.get("default_member_permissions") is None
                else str(data["default_member_permissions"])
            ),
        )  # fmt: skip
        if scope is not None:
            command["guild_id"] = str(scope)
        return command

    async def _interaction_route(self, method: str, parts: list[str], call: Call) -> web.Response:
        if parts[0] == "interactions":  # /interactions/{id}/{token}/callback
            if method != "POST" or len(parts) != 4 or parts[3] != "callback":
                raise ApiError(404, 0, "404: Not Found")
            return self._callback(int(parts[1]), parts[2], call)
        # /webhooks/{app_id}/{token}[/messages/{@original|id}]
        if len(parts) < 3 or parts[1] != str(self.app_id):
            raise ApiError(404, 10015, "Unknown Webhook")
        exchange = self.by_token.get(parts[2])
        if exchange is None or exchange.callback is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        if len(parts) == 3 and method == "POST":
            message = self._new_message(exchange, call.body or {})
            exchange.sent.append(message)
            exchange.changed.set()
            if call.query.get("wait") in ("1", "true", "True"):
                return self._json(message)
            return web.Response(status=204)
        if len(parts) == 5 and parts[3] == "messages":
            target = exchange.original_id if parts[4] == "@original" else int(parts[4])
            if target is None or target not in self.messages:
                raise ApiError(404, 10008, "Unknown Message")
            if method == "GET":
                return self._json(self.messages[target])
            if method == "PATCH":
                message = self._edit_message(target, call.body or {})
                exchange.edits.append(message)
                exchange.changed.set()
                return self._json(message)
            if method == "DELETE":
                del self.messages[target]
                return web.Response(status=204)
        raise ApiError(404, 0, "404: Not Found")

    def _callback(self, interaction_id: int, token: str, call: Call) -> web.Response:
        exchange = self.exchanges.get(interaction_id)
        if exchange is None or exchange.token != token:
            raise ApiError(404, 10062, "Unknown interaction")
        if time.monotonic() - exchange.dispatched_at > self.deadline:
            raise ApiError(404, 10062, "Unknown interaction")
        if exchange.callback is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        body = call.body if isinstance(call.body, dict) else {}
        kind = body.get("type")
        data = body.get("data") or {}
        allowed = {
            2: {MESSAGE, DEFERRED_MESSAGE},
            3: {MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
            4: {AUTOCOMPLETE},
        }
        if kind not in allowed.get(exchange.kind, set()):
            raise ApiError(400, 50035, "Invalid Form Body", {"type": f"bad type {kind}"})
        problems = validate_choices(data) if kind == AUTOCOMPLETE else []
        if kind in (MESSAGE, UPDATE_MESSAGE):
            problems += validate_message(data, new=kind == MESSAGE)
        if problems:
            raise ApiError(400, 50035, "Invalid Form Body", {"problems": problems})
        exchange.callback = body
        exchange.callback_at = time.monotonic()
        resource: dict[str, Any] | None = None
        if kind in (MESSAGE, DEFERRED_MESSAGE):
            message = self._new_message(exchange, data, loading=kind == DEFERRED_MESSAGE)
            exchange.original_id = int(message["id"])
            if kind == MESSAGE:
                exchange.sent.append(message)
            resource = {"type": kind, "message": message}
        elif kind == UPDATE_MESSAGE:
            assert exchange.original_id is not None
            message = self._edit_message(exchange.original_id, data)
            exchange.edits.append(message)
            resource = {"type": kind, "message": message}
        exchange.changed.set()
        if self.on_dispatch is not None:
            self.on_dispatch(exchange)
        original = self.messages.get(exchange.original_id or 0, {})
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(exchange.id),
                "type": exchange.kind,
                "response_message_id": str(exchange.original_id) if resource else None,
                "response_message_loading": kind == DEFERRED_MESSAGE,
                "response_message_ephemeral": bool(original.get("flags", 0) & EPHEMERAL),
            }
        }
        if resource is not None:
            answer["resource"] = resource
        return self._json(answer)

    def _new_message(
        self, exchange: Exchange, data: dict[str, Any], *, loading: bool = False
    ) -> dict[str, Any]:
        problems = [] if loading else validate_message(data, new=True)
        if problems:
            raise ApiError(400, 50035, "Invalid Form Body", {"problems": problems})
        payload = exchange.payload
        message_id = self.next_id()
        flags = int(data.get("flags") or 0) & EPHEMERAL
        if loading:
            flags |= 1 << 7  # LOADING
        message: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": payload["channel_id"],
            "author": self.bot_user,
            "content": data.get("content") or "",
            "timestamp": EPOCH,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": data.get("embeds") or [],
            "pinned": False,
            "type": 20 if exchange.kind == 2 and not exchange.sent else 0,
            "flags": flags,
            "components": data.get("components") or [],
            "webhook_id": str(self.app_id),
            "application_id": str(self.app_id),
            "interaction_metadata": {
                "id": str(exchange.id),
                "type": exchange.kind,
                "user": (payload.get("member") or payload)["user"],
                "authorizing_integration_owners": payload["authorizing_integration_owners"],
            },
            "allowed_mentions": data.get("allowed_mentions"),  # kept so tests can inspect it
        }
        if "guild_id" in payload:
            message["guild_id"] = payload["guild_id"]
        self.messages[message_id] = message
        return message

    def _edit_message(self, message_id: int, data: dict[str, Any]) -> dict[str, Any]:
        problems = validate_message(data)
        if problems:
            raise ApiError(400, 50035, "Invalid Form Body", {"problems": problems})
        message = dict(self.messages[message_id])
        if "content" in data:
            message["content"] = data["content"] or ""
        if "components" in data:
            message["components"] = data["components"] or []
        if "embeds" in data:
            message["embeds"] = data["embeds"] or []
        message["flags"] = message.get("flags", 0) & ~(1 << 7)  # no longer "thinking"
        message["edited_timestamp"] = EPOCH
        message["allowed_mentions"] = data.get("allowed_mentions")
        self.messages[message_id] = message
        return message

    # -- gateway ------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        if self.gateway_refusals > 0:  # the gateway is down (an outage, a proxy restarting)
            self.gateway_refusals -= 1
            return web.Response(status=503, text="gateway unavailable")
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        query = dict(request.query)
        compress = query.get("compress")
        connection = GatewayConnection(ws, compress if compress == "zlib-stream" else None, query)
        self.connections.append(connection)
        await connection.send(10, {"heartbeat_interval": 41250})
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            op, data = message.get("op"), message.get("d")
            if op == 1:
                connection.heartbeats += 1
                await connection.send(11, None)
            elif op == 2:
                if data.get("token") != self.token:
                    await ws.close(code=4004, message=b"Authentication failed.")
                    break
                await self._ready(connection, data)
            elif op == 6:
                connection.identify = data
                connection.session_id = data.get("session_id")
                connection.sequence = int(data.get("seq") or 0)
                await connection.send(0, {}, "RESUMED")
                async with self.identified:
                    self.identified.notify_all()
        return ws

    async def _ready(self, connection: GatewayConnection, identify: dict[str, Any]) -> None:
        connection.identify = identify
        connection.session_id = f"session{self.next_id()}"
        await connection.send(
            0,
            {
                "v": 10,
                "user": self.bot_user,
                "user_settings": {},
                "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                "session_id": connection.session_id,
                "resume_gateway_url": self.gateway_url,
                # The shard asked for in IDENTIFY ([id, count]), as Discord echoes it.
                "shard": list(identify.get("shard") or [0, 1]),
                "application": {"id": str(self.app_id), "flags": 1 << 23},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "geo_ordered_rtc_regions": [],
                "guild_join_requests": [],
            },
            "READY",
        )
        if int(identify.get("intents") or 0) & GUILDS_INTENT:
            await connection.send(0, self._guild_create(), "GUILD_CREATE")
        async with self.identified:
            self.identified.notify_all()

    def _guild_create(self) -> dict[str, Any]:
        return {
            "id": str(self.guild_id),
            "name": "Test server",
            "icon": None,
            "owner_id": "600000000000000001",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "unavailable": False,
            "member_count": 3,
            "large": False,
            "joined_at": EPOCH,
            "members": [],
            "channels": [
                {
                    "id": str(self.channel_id),
                    "type": 0,
                    "name": "general",
                    "position": 0,
                    "permission_overwrites": [],
                    "nsfw": False,
                    "parent_id": None,
                    "topic": None,
                    "rate_limit_per_user": 0,
                    "last_message_id": None,
                }
            ],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }


# -- Discord's limits, as the real API enforces them ---------------------------------------------


def validate_message(data: dict[str, Any], *, new: bool = False) -> list[str]:
    problems = []
    content = data.get("content")
    if content is not None and len(content) > 2000:
        problems.append(f"content is {len(content)} characters (max 2000)")
    rows = data.get("components") or []
    if len(rows) > 5:
        problems.append(f"{len(rows)} component rows (max 5)")
    custom_ids = []
    for row in rows:
        if row.get("type") != 1:
            problems.append("top-level component is not an action row")
            continue
        buttons = row.get("components") or []
        if not 1 <= len(buttons) <= 5:
            problems.append(f"action row with {len(buttons)} components (1 to 5)")
        for button in buttons:
            custom_id = button.get("custom_id") or ""
            label = button.get("label") or ""
            custom_ids.append(custom_id)
            if not 1 <= len(custom_id) <= 100:
                problems.append(f"custom_id {custom_id!r} is {len(custom_id)} characters (1-100)")
            if len(label) > 80:
                problems.append(f"label {label!r} over 80 characters")
    if len(custom_ids) != len(set(custom_ids)):
        problems.append("duplicate custom_id in one message")
    if new and not content and not rows and not data.get("embeds"):
        problems.append("cannot send an empty message")
    return problems


def validate_choices(data: dict[str, Any]) -> list[str]:
    choices = data.get("choices")
    if not isinstance(choices, list):
        return ["choices missing"]
    problems = [f"{len(choices)} choices (max 25)"] if len(choices) > 25 else []
    for choice in choices:
        if not 1 <= len(choice.get("name", "")) <= 100:
            problems.append(f"choice name {choice.get('name')!r} not 1-100 characters")
        if len(str(choice.get("value", ""))) > 100:
            problems.append(f"choice value {choice.get('value')!r} over 100 characters")
    return problems


def validate_command(data: dict[str, Any]) -> list[str]:
    problems = []
    name = data.get("name", "")
    if not re.fullmatch(r"[-_\w]{1,32}", name) or name != name.lower():
        problems.append(f"bad command name {name!r}")
    if not 1 <= len(data.get("description", "")) <= 100:
        problems.append(f"/{name}: description must be 1-100 characters")
    for locale, text in (data.get("description_localizations") or {}).items():
        if not 1 <= len(text) <= 100:
            problems.append(f"/{name}: {locale} description must be 1-100 characters")
    for option in data.get("options") or []:
        if not 1 <= len(option.get("description", "")) <= 100:
            problems.append(f"/{name} {option.get('name')}: description must be 1-100 characters")
    return problems


# A backslash before a mention shows it literally and pings nobody, as on Discord.
_USER_MENTION = re.compile(r"(?<!\\)<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"(?<!\\)<@&(\d+)>")
_EVERYONE = re.compile(r"(?<!\\)@(?:everyone|here)\b")


def validate_allowed_mentions(data: dict[str, Any]) -> list[str]:
    allowed = data.get("allowed_mentions")
    if allowed is None:
        return []
    problems = []
    parse = allowed.get("parse") or []
    if not set(parse) <= {"users", "roles", "everyone"}:
        problems.append(f"allowed_mentions.parse {parse!r}")
    for kind in ("users", "roles"):
        if kind in parse and allowed.get(kind):
            problems.append(
                f"allowed_mentions: {kind} both in parse and listed (mutually exclusive)"
            )
        if len(allowed.get(kind) or []) > 100:
            problems.append(f"allowed_mentions.{kind}: more than 100")
    return problems


def pinged(content: str, allowed: dict[str, Any] | None) -> tuple[list[str], list[str], bool]:
    """(user ids, role ids, @everyone/@here) that `content` really pings under `allowed`
    (no allowed_mentions: everything written pings, as Discord does for bots)."""
    users = list(dict.fromkeys(_USER_MENTION.findall(content)))
    roles = list(dict.fromkeys(_ROLE_MENTION.findall(content)))
    everyone = _EVERYONE.search(content) is not None
    if allowed is None:
        return users, roles, everyone
    parse = set(allowed.get("parse") or [])
    listed_users = {str(u) for u in allowed.get("users") or []}
    listed_roles = {str(r) for r in allowed.get("roles") or []}
    return (
        [u for u in users if "users" in parse or u in listed_users],
        [r for r in roles if "roles" in parse or r in listed_roles],
        everyone and "everyone" in parse,
    )
