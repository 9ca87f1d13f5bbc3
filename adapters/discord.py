"""Run the bot on Discord: slash commands, topic autocomplete and buttons that survive restarts.

The bot token comes from $DISCORD_BOT_TOKEN or --token-file (never from the command line, where
other users could read it). Slash commands are registered at start-up with --sync: `global`
(the default: every server and DMs, one bulk overwrite per start), `guild:<id>[,<id>...]`
(instant, for development) or `none` (when another process registers them). Replies in servers
are visible only to the person who asked, unless they pass `public:true` to /ask or /faq.

  helpbot discord --token-file /run/secrets/discord-token --sync guild:123456789012345678

With --support-channel (and optionally --support-role) a person who asks for a human gets a
private thread in that channel: they are added to it, the role is mentioned (the only mention
the bot ever makes), and staff talk to them there. A Close button or /close (staff only)
archives and locks the thread. Without it the bot says it cannot pass the conversation on.

See the README's Discord section for creating the application and inviting the bot.
"""

# No `from __future__ import annotations` here: discord.py reads the slash command options from
# the annotations of the generated callbacks, so they must be real objects.

import argparse
import asyncio
import contextvars
import functools
import inspect
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Optional

from bot.adapter import Adapter, AdapterExit, clip, env_setting
from bot.commands import CommandSpec, OptionSpec
from bot.engine import Engine
from bot.handoff import Summary
from bot.logs import add_secret
from bot.markup import parse, split_message
from bot.tokens import add_token_option, load_token
from bot.types import Button, IncomingMessage, Reply

if TYPE_CHECKING:  # discord.py is imported only when the adapter runs: `helpbot ask` stays fast
    import discord
    from discord import app_commands

log = logging.getLogger(__name__)

PLATFORM = "discord"
DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
CUSTOM_ID_PREFIX = "hb:"  # + a button payload (at most 64 bytes): far below Discord's 100
CLOSE_ID_PREFIX = "hbclose:"  # + the handoff thread's id: the Close button in that thread
THREAD_ARCHIVE_MINUTES = 10080  # a week without messages before Discord hides a handoff thread
MAX_THREAD_NAME = 100
MAX_CONTENT = 2000
MAX_ROWS = 5
MAX_PER_ROW = 5
MAX_LABEL = 80
MAX_CHOICES = 25
MAX_CHOICE_NAME = 100
MAX_DESCRIPTION = 100
MAX_QUESTION = 1000
DEFER_AFTER = 1.5  # seconds: Discord drops interactions not acknowledged within 3 s
# The first response must reach Discord within 3 s of the interaction; keep a margin for the
# network between the gateway event and us. Retries of that response fit inside this budget.
RESPONSE_BUDGET = 2.5
CONNECT_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)  # seconds between attempts to reach the gateway

# When the current interaction's first response must have landed (monotonic clock); read by
# the webhook adapter below, set per interaction in `respond` (a context variable, so each
# interaction's task sees its own).
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "helpbot_discord_deadline", default=None
)
# How many times the first response may be tried (None: as often as the deadline allows). The
# full reply gets two tries, so a second failure still leaves time to acknowledge with a small
# deferral instead and deliver the reply by editing it.
_attempts: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "helpbot_discord_attempts", default=None
)
FULL_REPLY_ATTEMPTS = 2
# The adapter answering the current interaction, so the shared webhook adapter below can count
# API errors and retries into its metrics.
_current: "contextvars.ContextVar[DiscordAdapter | None]" = contextvars.ContextVar(
    "helpbot_discord_adapter", default=None
)
# Work to do once the current interaction has been answered (archiving the thread the
# interaction came from must wait for the answer to land in it): set per interaction.
_after_reply: contextvars.ContextVar[list[Callable[[], Awaitable[None]]] | None] = (
    contextvars.ContextVar("helpbot_discord_after_reply", default=None)
)
# What the handoff desk did while the engine handled the current interaction: ("opened" |
# "relayed" | "closed", thread id). On Discord the person talks to staff in the thread, so
# "opened" and "relayed" are answered with where that thread is instead of the engine's
# "write here, I pass it on" (see DiscordAdapter.where_to_write).
_desk_notes: contextvars.ContextVar[list[tuple[str, str]] | None] = contextvars.ContextVar(
    "helpbot_discord_desk_notes", default=None
)


# -- command line -----------------------------------------------------------------------------


def parse_shard_ids(value: str) -> tuple[int, ...]:
    """`0,1` -> (0, 1): the shards this process runs (with --shard-count)."""
    try:
        ids = tuple(sorted({int(part) for part in value.split(",") if part.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a list of shard numbers like 0,1"
        ) from None
    if not ids or ids[0] < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a list of shard numbers like 0,1")
    return ids


def _error_kind(error: BaseException) -> str:
    """The metrics kind of a failed Discord call."""
    status = getattr(error, "status", None)
    if isinstance(error, TimeoutError):
        return "timeout"
    if status == 429:
        return "rate_limited"
    if status == 401:
        return "unauthorized"
    if status == 403:
        return "forbidden"
    if isinstance(status, int) and status >= 500:
        return "server"
    if isinstance(status, int) and 400 <= status < 500:
        return "bad_request"
    return "network"


def parse_sync(value: str) -> tuple[str, tuple[int, ...]]:
    """`global`, `none` or `guild:<id>[,<id>...]` -> (mode, guild ids)."""
    text = value.strip().lower()
    if text in ("global", "none"):
        return text, ()
    if text.startswith("guild:"):
        ids = [part.strip() for part in text[6:].split(",") if part.strip()]
        if ids and all(part.isdigit() for part in ids):
            return "guild", tuple(int(part) for part in ids)
    raise argparse.ArgumentTypeError(
        f"expected global, none or guild:<server id>[,<server id>...], not {value!r}"
    )


def snowflake(value: str) -> int:
    """A Discord id (channel, role) given on the command line."""
    text = value.strip()
    if not text.isdigit() or not 15 <= len(text) <= 21:
        raise argparse.ArgumentTypeError(
            f"expected a Discord id (15 to 21 digits: Developer Mode, right-click, Copy ID), "
            f"not {value!r}"
        )
    return int(text)


# -- the adapter ------------------------------------------------------------------------------


class DiscordAdapter(Adapter):
    """Translates Discord interactions into engine messages and engine replies into responses.

    It owns one `HelpbotClient` (a `discord.Client` subclass, built in `start()` when
    discord.py is first imported) whose command tree is generated from `Engine.command_specs`.
    """

    command = "discord"
    platform = PLATFORM
    text_limit = MAX_CONTENT
    payload_limit = 100 - len(CUSTOM_ID_PREFIX)  # custom_id is 100 characters
    requires = {"discord": "discord"}  # noqa: RUF012  (a ClassVar in the base)
    quiet_loggers = ("discord.gateway",)
    drain_timeout = 3.0
    marks_connection = True

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        add_token_option(parser, "DISCORD_BOT_TOKEN")
        parser.add_argument(
            "--sync",
            type=parse_sync,
            default=os.environ.get("DISCORD_SYNC", "global"),  # argparse applies `type` to it
            metavar="global|guild:ID[,ID]|none",
            help="register the slash commands at start-up: globally (default; takes effect in all "
            "servers and DMs), in the given servers only (instant, for development), or not at all "
            "(default: $DISCORD_SYNC or global)",
        )
        parser.add_argument(
            "--api-base",
            default=os.environ.get("DISCORD_API_BASE", DEFAULT_API_BASE),
            metavar="URL",
            help=f"REST API base, e.g. a proxy (default: $DISCORD_API_BASE or {DEFAULT_API_BASE})",
        )
        parser.add_argument(
            "--gateway-url",
            default=os.environ.get("DISCORD_GATEWAY_URL", DEFAULT_GATEWAY_URL),
            metavar="URL",
            help="gateway websocket address, e.g. a gateway proxy "
            f"(default: $DISCORD_GATEWAY_URL or {DEFAULT_GATEWAY_URL})",
        )
        parser.add_argument(
            "--shard-count",
            type=int,
            default=None,
            metavar="N",
            help="run sharded: the bot's total number of shards (Discord asks for one per 2,500 "
            "servers); with --shard-ids, this process runs only those, so shards can be spread "
            "over processes and machines sharing --store redis://... (default: one process, "
            "one connection)",
        )
        parser.add_argument(
            "--shard-ids",
            type=parse_shard_ids,
            default=None,
            metavar="ID,ID",
            help="with --shard-count: the shards this process runs, e.g. 0,1 (default: all)",
        )
        parser.add_argument(
            "--support-channel",
            type=snowflake,
            default=None,
            metavar="ID",
            help="hand conversations the bot cannot help with to people: a private thread per "
            "person in this text channel (default: $DISCORD_SUPPORT_CHANNEL; none: the bot "
            "says it cannot pass the conversation on)",
        )
        parser.add_argument(
            "--support-role",
            type=snowflake,
            default=None,
            metavar="ID",
            help="the role mentioned in each new handoff thread, e.g. your support team "
            "(default: $DISCORD_SUPPORT_ROLE; needs --support-channel)",
        )

    def __init__(
        self,
        engine: Engine,
        args: argparse.Namespace | None = None,
        *,
        token: str | None = None,
        sync: tuple[str, Sequence[int]] | None = None,
        api_base: str | None = None,
        gateway_url: str | None = None,
        defer_after: float = DEFER_AFTER,
        response_budget: float = RESPONSE_BUDGET,
        connect_backoff: Sequence[float] = CONNECT_BACKOFF,
        shard_count: int | None = None,
        shard_ids: Sequence[int] | None = None,
        support_channel: int | None = None,
        support_role: int | None = None,
    ) -> None:
        super().__init__(engine, args)
        a = self.args
        self.token = token
        self.support_channel = (
            support_channel
            or getattr(a, "support_channel", None)
            or env_setting("DISCORD_SUPPORT_CHANNEL", snowflake)
        )
        self.support_role = (
            support_role
            or getattr(a, "support_role", None)
            or env_setting("DISCORD_SUPPORT_ROLE", snowflake)
        )
        self.desk: DiscordDesk | None = None
        sync = sync or getattr(a, "sync", None) or ("global", ())
        self.sync_mode, self.sync_guilds = sync[0], tuple(sync[1])
        self.api_base = (api_base or getattr(a, "api_base", None) or DEFAULT_API_BASE).rstrip("/")
        self.gateway_url = gateway_url or getattr(a, "gateway_url", None) or DEFAULT_GATEWAY_URL
        self.defer_after = defer_after
        self.response_budget = response_budget
        self.connect_backoff = tuple(connect_backoff)
        self.shard_count: int | None = shard_count or getattr(a, "shard_count", None)
        ids = shard_ids if shard_ids is not None else getattr(a, "shard_ids", None)
        self.shard_ids: tuple[int, ...] | None = tuple(ids) if ids is not None else None
        self.connected_shards: set[int] = set()
        self.client: Any = None  # a HelpbotClient once started
        self.in_flight: set[asyncio.Task[Any]] = set()
        self.closing = False
        self._specs: dict[str, dict[str, CommandSpec]] = {}
        if token:
            add_secret(token)

    def render(self, markup: str) -> str:
        return to_markdown(markup)

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in (which registers the commands in the client's setup hook)."""
        import discord

        if self.support_role is not None and self.support_channel is None:
            raise AdapterExit(
                2, "--support-role needs --support-channel (the channel for handoff threads)"
            )
        if self.token is None:
            self.token = load_token(
                "discord",
                "DISCORD_BOT_TOKEN",
                getattr(self.args, "token_file", None),
                "the token is on the Bot page of your application in the Discord Developer "
                "Portal; see the README's Discord section",
            )
            if self.token is None:
                raise AdapterExit(2)
        problem = self.shards_problem()
        if problem:
            raise AdapterExit(2, problem)
        point_at(self.api_base, self.gateway_url)
        self.closing = False
        self.connected_shards.clear()
        if self.shard_count is None:
            self.client = client = client_class()(self)
        else:
            self.client = client = client_class(sharded=True)(
                self, shard_count=self.shard_count, shard_ids=list(self.own_shards)
            )
        try:
            await client.login(self.token)
        except discord.LoginFailure as error:
            await client.close()
            raise AdapterExit(
                1, "Discord rejected the bot token (check DISCORD_BOT_TOKEN or --token-file)"
            ) from error
        except BaseException:
            await client.close()
            raise

    async def run(self) -> None:
        """Hold the gateway connection until `stop()`. A gateway that cannot be reached is
        retried with backoff (one log line per attempt) rather than ending the process."""
        import aiohttp
        import discord

        client = self.client
        attempt = 0
        while not self.closing:
            try:
                await client.connect(reconnect=True)
                return
            except (TimeoutError, OSError, aiohttp.ClientError, discord.GatewayNotFound, AttributeError, discord.ConnectionClosed) as error:  # fmt: skip
                # discord.py fails with AttributeError when its first connection attempt
                # never produced a websocket (2.7: `self.ws` is still None).
                if self.closing:
                    return
                delay = self.connect_backoff[min(attempt, len(self.connect_backoff) - 1)]
                attempt += 1
                cause = error.__context__ if isinstance(error, AttributeError) else None
                log.error(
                    "cannot reach the Discord gateway at %s (%s); retrying in %g s",
                    self.gateway_url,
                    describe_error(cause or error),
                    delay,
                )
                await asyncio.sleep(delay)

    # -- shards -------------------------------------------------------------------------------

    def shards_problem(self) -> str | None:
        if self.shard_ids is not None and self.shard_count is None:
            return "--shard-ids needs --shard-count (the bot's total number of shards)"
        if self.shard_count is not None and self.shard_count < 1:
            return f"--shard-count must be 1 or more, not {self.shard_count}"
        if (
            self.shard_count is not None
            and self.shard_ids
            and self.shard_ids[-1] >= self.shard_count
        ):
            return (
                f"--shard-ids {','.join(map(str, self.shard_ids))}: shards are numbered 0 to "
                f"{self.shard_count - 1} with --shard-count {self.shard_count}"
            )
        return None

    @property
    def own_shards(self) -> tuple[int, ...]:
        """The shards this process runs (all of them without --shard-ids)."""
        if self.shard_count is None:
            return (0,)
        return self.shard_ids if self.shard_ids is not None else tuple(range(self.shard_count))

    def shard_up(self, shard_id: int | None, up: bool) -> None:
        """A gateway connection came (READY, RESUMED) or went: ready when all of ours are up."""
        shard = shard_id or 0
        if up:
            self.connected_shards.add(shard)
        else:
            self.connected_shards.discard(shard)
        missing = [i for i in self.own_shards if i not in self.connected_shards]
        if not missing:
            self.mark_connected(True, "connected to the Discord gateway")
        else:
            self.mark_connected(
                False, f"gateway shard(s) {', '.join(map(str, missing))} not connected"
            )

    async def stop(self) -> None:
        """Let interactions being answered finish (at most `drain_timeout`), then disconnect."""
        self.closing = True
        self.mark_connected(False, "stopping")
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=self.drain_timeout)
        if self.client is not None and not self.client.is_closed():
            await self.client.close()

    def describe_failure(self, error: BaseException) -> str:
        return describe_error(error)

    async def setup(self, client: "discord.Client", tree: "app_commands.CommandTree[Any]") -> None:
        """After login, before the gateway: persistent buttons, translations, command sync."""
        import discord

        client.add_dynamic_items(persistent_button_class(), close_button_class())
        await tree.set_translator(make_translator(self))
        if self.support_channel is not None:
            self.desk = DiscordDesk(self, self.support_channel, self.support_role)
            await self.desk.check()
            self.engine.attach_desk(self.desk)
        try:
            if self.sync_mode == "global":
                synced = await tree.sync()
                log.info("registered %d global commands", len(synced))
            elif self.sync_mode == "guild":
                for guild_id in self.sync_guilds:
                    guild = discord.Object(id=guild_id)
                    tree.copy_global_to(guild=guild)
                    synced = await tree.sync(guild=guild)
                    log.info("registered %d commands in server %s", len(synced), guild_id)
        except discord.Forbidden:
            log.error(
                "Discord refused to register the slash commands: invite the bot with the "
                "applications.commands scope (see the README's Discord section); continuing without sync"
            )
        except discord.HTTPException as error:
            log.error("registering the slash commands failed (%s); continuing", error)

    # -- slash commands, generated from the command registry --------------------------------

    def spec(self, command: str, lang: str | None) -> CommandSpec | None:
        """The command as `Engine.command_specs(lang)` describes it (cached per language)."""
        key = lang or "en"
        if key not in self._specs:
            self._specs[key] = {s.name: s for s in self.engine.command_specs(key, admin=True)}
        return self._specs[key].get(command)

    def build_commands(self) -> list["app_commands.Command[Any, ..., None]"]:
        """Every command; the operators' ones (/stats, /reload) only when `--admins` names a
        Discord user, registered for servers only and hidden from members without the
        Administrator permission (a server can grant them to others under Server Settings >
        Integrations; a DM has no permissions to hide them by). Whoever runs one, the engine
        answers only the `--admins`."""
        import discord
        from discord import app_commands

        operators = any(admin.startswith(f"{PLATFORM}:") for admin in self.engine.admins)
        commands: list[Any] = []
        for spec in self.engine.command_specs("en", admin=operators):
            command: Any = app_commands.Command(
                name=spec.name,
                description=app_commands.locale_str(
                    clip(spec.description, MAX_DESCRIPTION), kind="command", command=spec.name
                ),
                callback=self.slash_callback(spec),
            )
            if spec.admin:
                command.default_permissions = discord.Permissions.none()
                command.allowed_contexts = app_commands.AppCommandContext(
                    guild=True, dm_channel=False, private_channel=False
                )
            commands.append(command)
        return commands

    def slash_callback(self, spec: CommandSpec) -> Any:
        """One generic callback whose signature carries `spec`'s options for discord.py: a
        `text` option is the command's argument, a `language` option offers the languages as
        choices, the `public` bool makes the reply visible to everyone in a server."""
        import discord
        from discord import app_commands

        name = spec.name

        async def callback(interaction: discord.Interaction, **values: Any) -> None:
            argument = ""
            for option in spec.options:
                if option.kind in ("text", "language") and values.get(option.name):
                    argument = str(values[option.name])
            await self.on_command(interaction, name, argument, bool(values.get("public")))

        parameters = [
            inspect.Parameter(
                "interaction",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=discord.Interaction,
            )
        ]
        descriptions: dict[str, Any] = {}
        choices: dict[str, list[app_commands.Choice[str]]] = {}
        completers: dict[str, Any] = {}
        for option in sorted(spec.options, key=lambda o: not o.required):
            annotation: Any
            default: Any
            if option.kind == "bool":
                annotation, default = bool, False
            elif option.kind == "language":
                annotation, default = Optional[str], None  # noqa: UP045  (discord.py reads it)
                choices[option.name] = [
                    app_commands.Choice(
                        name=app_commands.locale_str(
                            clip(label, MAX_CHOICE_NAME),
                            kind="choice",
                            command=name,
                            option=option.name,
                            value=value,
                        ),
                        value=value,
                    )
                    for value, label in option.choices[:MAX_CHOICES]
                ]
            else:
                text = app_commands.Range[str, 1, MAX_QUESTION]
                annotation = text if option.required else Optional[text]  # noqa: UP045
                default = inspect.Parameter.empty if option.required else None
                if option.autocomplete:
                    completers[option.name] = self.completer(name)
            parameters.append(
                inspect.Parameter(
                    option.name,
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    annotation=annotation,
                    default=default,
                )
            )
            descriptions[option.name] = app_commands.locale_str(
                clip(option.description, MAX_DESCRIPTION),
                kind="option",
                command=name,
                option=option.name,
            )
        callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]  # discord.py reads the options from it
        callback.__name__ = callback.__qualname__ = name
        decorated: Any = callback
        if descriptions:
            decorated = app_commands.describe(**descriptions)(decorated)
        if choices:
            decorated = app_commands.choices(**choices)(decorated)
        if completers:
            decorated = app_commands.autocomplete(**completers)(decorated)
        return decorated

    def completer(self, command: str) -> Any:
        import discord
        from discord import app_commands

        async def complete(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return await self.autocomplete(interaction, current, command)

        return complete

    async def autocomplete(
        self, interaction: "discord.Interaction", current: str, command: str = "faq"
    ) -> list["app_commands.Choice[str]"]:
        """Entries matching what the person has typed so far, in the language they chose with
        /language (else their text's or locale's); value = the entry id."""
        from discord import app_commands

        try:
            typed = self.message(interaction, command=command, text=current)
            found = await self.engine.suggest(typed, MAX_CHOICES)
        except Exception:
            log.exception("autocomplete failed")
            return []
        return [
            app_commands.Choice(name=clip(s.title, MAX_CHOICE_NAME), value=s.id)
            for s in found[:MAX_CHOICES]
        ]

    async def on_command(
        self, interaction: "discord.Interaction", name: str, text: str, public: bool
    ) -> None:
        if name == "close":
            await self.on_close(interaction, str(interaction.channel_id or ""))
            return
        message = await self.routed(interaction, self.message(interaction, command=name, text=text))
        await self.respond(interaction, message, public=public)

    async def on_press(self, interaction: "discord.Interaction", payload: str) -> None:
        message = await self.routed(interaction, self.message(interaction, payload=payload))
        await self.respond(interaction, message, public=False)

    # -- handing a conversation to staff -----------------------------------------------------

    def in_support_thread(self, interaction: "discord.Interaction") -> bool:
        """Whether the interaction comes from a thread of the support channel."""
        import discord

        channel = interaction.channel
        return (
            self.desk is not None
            and isinstance(channel, discord.Thread)
            and channel.parent_id == self.support_channel
        )

    async def routed(
        self, interaction: "discord.Interaction", message: IncomingMessage
    ) -> IncomingMessage:
        """The person's own commands and buttons inside their handoff thread count as coming
        from the chat where they asked for help (the handoff's session), so the engine knows a
        person is already on it (and their /cancel there ends the handoff)."""
        if not self.in_support_thread(interaction):
            return message
        handoff = await self.engine.person_for_ticket(PLATFORM, message.chat_id)
        if handoff is None or handoff.user_id != message.user_id:
            return message
        return replace(message, chat_id=handoff.chat_id)

    async def where_to_write(
        self, message: IncomingMessage, replies: list[Reply], note: tuple[str, str]
    ) -> list[Reply]:
        """The engine's replies after the desk opened a thread or was given a message to pass
        on: on Discord nothing is passed on, the person writes in their thread, so they are
        told where it is (every time: a slash command must be answered)."""
        what, ticket = note
        if self.desk is None or what not in ("opened", "relayed"):
            return replies
        try:
            session = await self.engine.store.get(message.session_key)
        except Exception:  # the store went away: their platform's language will do
            session = None
        lang = self.engine.lang_for(message, session)
        link = self.desk.link(ticket)
        if what == "opened":
            when = self.engine.ui("handoff_when", lang)
            text = self.engine.ui("handoff_thread_opened", lang).format(link=link, when=when)
            return [Reply(text, edit=True)]
        return [Reply(self.engine.ui("handoff_in_thread", lang).format(link=link))]

    def is_staff(self, interaction: "discord.Interaction") -> bool:
        """Staff: whoever holds the support role, or may manage threads in the channel."""
        if interaction.permissions.manage_threads:
            return True
        # Without the GUILDS intent discord.py keeps no roles, so Member.roles is empty; the
        # ids the interaction carried are what we have.
        roles = getattr(interaction.user, "_roles", ())
        return self.support_role is not None and self.support_role in roles

    async def on_close(self, interaction: "discord.Interaction", ticket: str) -> None:
        """Close pressed or /close run: staff end the handoff of this thread. The person is
        told in the thread (their language), then the thread is archived and locked."""
        message = self.message(interaction, command="close")
        staff_lang = self.language(str(interaction.locale))

        async def closing() -> list[Reply]:
            desk = self.desk
            here = str(interaction.channel_id or "")
            if desk is None or not self.in_support_thread(interaction) or ticket != here:
                return [Reply(self.engine.ui("handoff_close_elsewhere", staff_lang), private=True)]
            if not self.is_staff(interaction):
                return [Reply(self.engine.ui("handoff_close_staff_only", staff_lang), private=True)]
            closed = await self.engine.staff_closed(PLATFORM, ticket)
            after_reply(lambda: desk.archive(ticket))  # also when it was closed already
            if closed is None:
                return [Reply(self.engine.ui("handoff_staff_closed", staff_lang), private=True)]
            return closed[1]

        await self.respond(interaction, message, public=True, produce=closing)

    async def on_foreign_component(self, interaction: "discord.Interaction") -> None:
        """A button or menu whose custom_id is not ours (another bot's era, a forged one):
        logged, and answered as the stale button it is, so the person is not left waiting."""
        custom_id = str(dict(interaction.data or {}).get("custom_id", ""))
        log.warning("a component with an unknown custom_id was used: %r", custom_id[:100])
        await self.on_press(interaction, custom_id)

    async def on_tree_error(self, interaction: "discord.Interaction", error: Exception) -> None:
        """A command discord.py could not run (e.g. one left over from an older sync)."""
        import discord

        log.error("slash command failed: %s", error)
        if interaction.type is discord.InteractionType.autocomplete:
            # An autocomplete can only be answered with choices: none, rather than an error.
            try:
                await interaction.response.autocomplete([])
            except discord.HTTPException as failure:
                log.warning("could not answer the autocomplete: %s", failure)
            return
        await self.apologise(interaction)

    def message(
        self,
        interaction: "discord.Interaction",
        *,
        command: str | None = None,
        text: str = "",
        payload: str | None = None,
    ) -> IncomingMessage:
        user = interaction.user
        chat = interaction.channel_id or interaction.guild_id or user.id
        return IncomingMessage(
            platform=PLATFORM,
            chat_id=str(chat),
            user_id=str(user.id),
            text=text,
            command=command,
            payload=payload,
            locale=str(interaction.locale),
            is_group=interaction.guild_id is not None,
            addressed=True,
        )

    # -- replies ------------------------------------------------------------------------------

    async def respond(
        self,
        interaction: "discord.Interaction",
        message: IncomingMessage,
        *,
        public: bool,
        produce: Callable[[], Awaitable[list[Reply]]] | None = None,
    ) -> None:
        """Answer one interaction; any failure is logged and answered with an apology.

        The engine answers in about a millisecond, so the reply is normally the interaction's
        first and only response. Should it wait longer (a slow disk under the session store), a
        timer acknowledges the interaction first ("thinking…" or a silent update), well within
        Discord's 3-second limit, and the replies follow as edits and follow-ups. Should the
        first response fail (429, 5xx), the retry is that small acknowledgement, retried only
        while Discord's deadline allows, and the reply follows as an edit.

        The replies are `engine.handle(message)`'s, or `produce()`'s when given. Work queued
        with `after_reply` while producing them runs once they are delivered (or failed)."""
        _deadline.set(time.monotonic() + self.response_budget)
        _current.set(self)
        later: list[Callable[[], Awaitable[None]]] = []
        _after_reply.set(later)
        notes: list[tuple[str, str]] = []
        _desk_notes.set(notes)
        async_context = webhook_context()
        async_context.set(budgeted_webhook_adapter())
        hidden = message.is_group and not public
        loop = asyncio.get_running_loop()
        deferring: list[asyncio.Task[None]] = []
        current = asyncio.current_task()
        if current is not None:
            self.in_flight.add(current)
            current.add_done_callback(self.in_flight.discard)

        def defer_now() -> None:
            deferring.append(loop.create_task(self.defer(interaction, hidden)))

        try:
            timer = loop.call_later(self.defer_after, defer_now)
            try:
                replies = await (produce() if produce is not None else self.engine.handle(message))
                if notes:
                    replies = await self.where_to_write(message, replies, notes[-1])
            finally:
                timer.cancel()
            if deferring:
                await deferring[0]
            await self.deliver(interaction, replies, hidden=hidden, deferred=bool(deferring))
        except Exception:
            log.exception("failed to answer a Discord interaction")
            if deferring and not deferring[0].done():
                await asyncio.wait(deferring)
            await self.apologise(interaction)
        finally:
            for work in later:
                try:
                    await work()
                except Exception:
                    log.exception("follow-up work after an interaction failed")

    async def defer(self, interaction: "discord.Interaction", hidden: bool) -> None:
        import discord

        if interaction.type is discord.InteractionType.component:
            await interaction.response.defer()  # "update message" later, or follow-ups
        else:
            await interaction.response.defer(ephemeral=hidden, thinking=True)

    async def first_response(
        self, interaction: "discord.Interaction", hidden: bool, send: Any
    ) -> bool:
        """Send the interaction's first response with `send()` (two tries at most). If Discord
        keeps answering 429 or 5xx (or does not answer), acknowledge with a deferral instead,
        retried within the deadline, and return True: the reply then goes out as an edit."""
        import discord

        token = _attempts.set(FULL_REPLY_ATTEMPTS)
        try:
            await send()
            return False
        except (TimeoutError, discord.DiscordServerError, OSError) as error:
            reason = describe_error(error)
        except discord.HTTPException as error:
            if error.status != 429:
                self.api_error(_error_kind(error))
                raise
            reason = describe_error(error)
        finally:
            _attempts.reset(token)
        log.warning("Discord did not take the reply (%s): deferring, then editing", reason)
        self.api_retry()
        await self.defer(interaction, hidden)
        return True

    async def deliver(
        self,
        interaction: "discord.Interaction",
        replies: list[Reply],
        *,
        hidden: bool,
        deferred: bool,
    ) -> None:
        """Send replies in order; a reply asking to `edit` replaces the pressed message and so
        goes first (Discord allows that only as the interaction's first response)."""
        import discord

        none = discord.AllowedMentions.none()
        is_press = interaction.type is discord.InteractionType.component
        edit_at = next((i for i, r in enumerate(replies) if r.edit), None) if is_press else None
        order = list(replies)
        if edit_at is not None:
            order.insert(0, order.pop(edit_at))
        first = True
        for index, reply in enumerate(order):
            editing = index == 0 and edit_at is not None
            ephemeral = reply.private or hidden
            for content, rows in render(reply):
                view = button_view(rows) if rows else None
                if first and not deferred:
                    if editing:
                        send = functools.partial(
                            interaction.response.edit_message,
                            content=content,
                            view=view,
                            allowed_mentions=none,
                        )
                    else:
                        send = functools.partial(
                            interaction.response.send_message,
                            content,
                            view=view or discord.utils.MISSING,
                            ephemeral=ephemeral,
                            allowed_mentions=none,
                        )
                    deferred = await self.first_response(interaction, ephemeral, send)
                    if not deferred:
                        first = False
                        continue
                if first and (editing or not is_press):  # the deferred message, or the pressed one
                    await interaction.edit_original_response(
                        content=content, view=view, allowed_mentions=none
                    )
                else:
                    await interaction.followup.send(
                        content,
                        view=view or discord.utils.MISSING,
                        ephemeral=ephemeral,
                        allowed_mentions=none,
                    )
                first = False
        if first and not interaction.response.is_done():
            await interaction.response.defer()  # nothing to say: acknowledge silently

    async def apologise(self, interaction: "discord.Interaction") -> None:
        import discord

        deadline = _deadline.get()
        if (
            not interaction.response.is_done()
            and deadline is not None
            and time.monotonic() > deadline + (3.0 - self.response_budget)
        ):
            log.warning("too late to apologise: Discord's 3-second deadline has passed")
            return
        try:
            lang = self.engine.lang_for(self.message(interaction), None)
            text = to_markdown(self.engine.ui("error", lang))
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except (TimeoutError, discord.HTTPException, OSError) as error:
            # the interaction may have expired: nothing more to do
            log.warning("could not send the apology either: %s", error)


def note(what: str, ticket: str) -> None:
    """Record what the desk did for the interaction being answered (see `_desk_notes`)."""
    notes = _desk_notes.get()
    if notes is not None:
        notes.append((what, ticket))


def after_reply(work: Callable[[], Awaitable[None]]) -> bool:
    """Run `work` once the interaction being answered has its reply; False (nothing queued)
    outside an interaction."""
    queue = _after_reply.get()
    if queue is None:
        return False
    queue.append(work)
    return True


class DiscordDesk:
    """The support team on Discord (`bot.handoff.HandoffDesk`): one private thread per
    handoff in the support channel, the person added, the support role mentioned, the summary
    and a Close button first. Staff and the person talk in the thread itself, so there is
    nothing to relay, and the bot needs no message intents."""

    def __init__(self, adapter: DiscordAdapter, channel_id: int, role_id: int | None) -> None:
        self.adapter = adapter
        self.channel_id = channel_id
        self.role_id = role_id
        self.guild_id: int | None = None
        self._channel: Any = None  # the support channel (a discord.TextChannel) once checked

    @property
    def staff_lang(self) -> str:
        """The language of what only staff read (thread name, summary): the guide's first."""
        return self.adapter.engine.languages[0]

    async def check(self) -> None:
        """At start-up: the support channel must be a server text channel the bot can see."""
        import discord

        try:
            channel = await self.adapter.client.fetch_channel(self.channel_id)
        except (discord.NotFound, discord.Forbidden, discord.InvalidData) as error:
            raise AdapterExit(
                2,
                f"--support-channel {self.channel_id}: the bot cannot see that channel "
                f"({describe_error(error)}); check the id and the bot's View Channel permission",
            ) from error
        if not isinstance(channel, discord.TextChannel):
            raise AdapterExit(
                2,
                f"--support-channel {self.channel_id} is not a server text channel (it is a "
                f"{channel.type}); private threads need a text channel",
            )
        self._channel = channel
        self.guild_id = channel.guild.id

    def link(self, ticket: str) -> str:
        """The thread's address, for telling the person where the conversation is."""
        return f"https://discord.com/channels/{self.guild_id}/{ticket}"

    async def open(self, person: IncomingMessage, summary: Summary) -> str:
        """A private thread with the person in it and the summary (and the role mention) as
        its first message. A thread whose set-up fails half way is archived, then the error
        goes to the engine (which tells the person)."""
        import discord

        if self._channel is None:
            await self.check()
        engine = self.adapter.engine
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        name = engine.ui("handoff_thread_name", self.staff_lang).format(time=when)
        name = clip(name, MAX_THREAD_NAME)
        try:
            thread = await self._channel.create_thread(
                name=name,
                type=discord.ChannelType.private_thread,
                invitable=False,
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
                reason="helpbot: a person asked to talk to the support team",
            )
        except discord.Forbidden:
            log.error(
                "cannot create a private thread in the support channel %s: the bot needs View "
                "Channel, Send Messages, Create Private Threads, Send Messages in Threads and "
                "Manage Threads there (see the README)",
                self.channel_id,
            )
            raise
        try:
            await thread.add_user(discord.Object(id=int(person.user_id)))
            await self._post_summary(thread, engine.summary_reply(summary, self.staff_lang))
        except Exception:
            log.error("setting up handoff thread %s failed; archiving it", thread.id)
            try:
                await thread.edit(archived=True, locked=True)
            except (discord.HTTPException, OSError) as error:
                log.warning("could not archive thread %s either: %s", thread.id, error)
            raise
        note("opened", str(thread.id))
        return str(thread.id)

    async def _post_summary(self, thread: "discord.Thread", summary: Reply) -> None:
        """The summary in pieces of at most 2000 characters: the role mention on the first
        (allowed for that role only: text the person wrote cannot ping anyone), the Close
        button on the last."""
        import discord

        mention = f"<@&{self.role_id}>\n" if self.role_id is not None else ""
        pieces = split_message(summary.text, MAX_CONTENT - len(mention), to_markdown) or [""]
        allowed = (
            discord.AllowedMentions(
                everyone=False,
                users=False,
                roles=[discord.Object(id=self.role_id)],
                replied_user=False,
            )
            if self.role_id is not None
            else discord.AllowedMentions.none()
        )
        label = self.adapter.engine.ui("handoff_close_button", self.staff_lang)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            view = discord.utils.MISSING
            if last:
                view = discord.ui.View(timeout=None)
                view.add_item(close_button_class()(label, str(thread.id)))
                view.stop()  # serialised only: presses are routed by the custom_id template
            await thread.send(
                (mention if index == 0 else "") + piece,
                view=view,
                allowed_mentions=allowed if index == 0 else discord.AllowedMentions.none(),
            )

    async def relay(self, ticket: str, person: IncomingMessage) -> None:
        """Nothing to pass on: the person writes in the thread themselves (and is told so)."""
        note("relayed", ticket)

    async def close(self, ticket: str) -> None:
        """The person ended the handoff (/cancel, /forget), or opening it failed after the
        thread was made: staff are told in the thread, which is then archived and locked
        (after the current interaction is answered, which may be in that very thread)."""
        note("closed", ticket)

        async def close_now() -> None:
            import discord

            text = to_markdown(self.adapter.engine.ui("handoff_staff_ended", self.staff_lang))
            try:
                await self.adapter.client.get_partial_messageable(int(ticket)).send(
                    text, allowed_mentions=discord.AllowedMentions.none()
                )
            except (discord.HTTPException, OSError) as error:
                log.warning("could not tell staff in thread %s: %s", ticket, error)
            await self.archive(ticket)

        if not after_reply(close_now):
            await close_now()

    async def archive(self, ticket: str) -> None:
        import discord

        try:
            thread = await self.adapter.client.fetch_channel(int(ticket))
            if isinstance(thread, discord.Thread) and not (thread.archived and thread.locked):
                await thread.edit(archived=True, locked=True)
        except discord.NotFound:
            log.info("handoff thread %s is gone already", ticket)
        except discord.Forbidden:
            log.error(
                "cannot archive handoff thread %s: the bot needs Manage Threads in the support "
                "channel",
                ticket,
            )


def describe_error(error: BaseException) -> str:
    import discord

    if isinstance(error, discord.LoginFailure):
        return "Discord rejected the bot token (check DISCORD_BOT_TOKEN or --token-file)"
    return f"{type(error).__name__}: {error}"


# -- discord.py wiring: subclasses, not attributes assigned onto library objects ---------------


@functools.cache
def client_class(sharded: bool = False) -> type[Any]:
    """`HelpbotClient`: a `discord.Client` that holds its adapter and a generated command tree,
    registers it in `setup_hook`, and answers components that are not ours."""
    import discord
    from discord import app_commands

    class HelpbotTree(app_commands.CommandTree):
        def __init__(self, client: discord.Client, adapter: DiscordAdapter) -> None:
            super().__init__(
                client,
                # Servers, DMs with the bot, and group DMs (the latter only for a user install).
                # Install types are left to the application's Installation settings.
                allowed_contexts=app_commands.AppCommandContext(
                    guild=True, dm_channel=True, private_channel=True
                ),
            )
            self.adapter = adapter

        async def on_error(
            self, interaction: discord.Interaction, error: app_commands.AppCommandError
        ) -> None:
            await self.adapter.on_tree_error(interaction, error)

    base: type[discord.Client] = discord.AutoShardedClient if sharded else discord.Client

    class HelpbotClient(base):  # type: ignore[valid-type,misc]  # one of two discord.py bases
        def __init__(self, adapter: DiscordAdapter, **shards: Any) -> None:
            quiet_expected_warnings()
            super().__init__(
                **shards,
                intents=discord.Intents.none(),  # interactions arrive without any intent
                allowed_mentions=discord.AllowedMentions.none(),
                # With no GUILDS intent no GUILD_CREATE follows READY: nothing to wait for.
                guild_ready_timeout=0.0,
            )
            self.adapter = adapter
            self.tree = HelpbotTree(self, adapter)
            for command in adapter.build_commands():
                self.tree.add_command(command)

        async def setup_hook(self) -> None:
            await self.adapter.setup(self, self.tree)

        # Readiness (/readyz): every gateway connection this process runs is up.
        async def on_shard_ready(self, shard_id: int) -> None:
            self.adapter.shard_up(shard_id, True)

        async def on_shard_resumed(self, shard_id: int) -> None:
            self.adapter.shard_up(shard_id, True)

        async def on_shard_disconnect(self, shard_id: int) -> None:
            self.adapter.shard_up(shard_id, False)

        async def on_ready(self) -> None:
            if not sharded:
                self.adapter.shard_up(None, True)

        async def on_resumed(self) -> None:
            if not sharded:
                self.adapter.shard_up(None, True)

        async def on_disconnect(self) -> None:
            if not sharded:
                self.adapter.shard_up(None, False)

        def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
            """discord.py's dispatch, plus components that are not ours, looked at here: an
            `on_interaction` handler would cost a task for every interaction, slash commands
            included, to answer the rare foreign one (as discord.ext.commands.Bot adds its
            extra listeners, through `_schedule_event`)."""
            super().dispatch(event, *args, **kwargs)
            if event != "interaction":
                return
            interaction = args[0]
            if interaction.type is not discord.InteractionType.component:
                return
            custom_id = str(dict(interaction.data or {}).get("custom_id", ""))
            if not custom_id.startswith((CUSTOM_ID_PREFIX, CLOSE_ID_PREFIX)):
                self._schedule_event(
                    self.adapter.on_foreign_component, "on_foreign_component", interaction
                )

    return HelpbotClient


@functools.cache
def webhook_context() -> "contextvars.ContextVar[Any]":
    from discord.webhook.async_ import async_context

    return async_context


@functools.cache
def budgeted_webhook_adapter() -> Any:
    """discord.py's webhook adapter, except for interaction callbacks (the first response):
    those are retried only while `_deadline` allows (429 after its retry_after, 5xx after a
    short pause) and at most `_attempts` times, instead of discord.py's 1 s and 3 s pauses
    that outlast Discord's 3-second deadline.

    Discord answers a callback with the message it made; discord.py would parse it (author,
    components...) into the `InteractionCallbackResponse.resource` that the adapter never
    reads, so it is dropped here (`message_id` and the rest stay)."""
    import aiohttp
    import discord
    from discord import utils
    from discord.http import json_or_text
    from discord.webhook.async_ import AsyncWebhookAdapter

    class BudgetedWebhookAdapter(AsyncWebhookAdapter):
        async def request(self, route: Any, session: Any, **kwargs: Any) -> Any:
            deadline = _deadline.get()
            if (
                deadline is None
                or kwargs.get("files")
                or kwargs.get("multipart")
                or not route.path.endswith("/callback")
            ):
                return await super().request(route, session, **kwargs)
            payload = kwargs.get("payload")
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            body = utils._to_json(payload) if payload is not None else None
            limit = _attempts.get()
            attempt = 0
            while True:
                attempt += 1
                pause = min(0.1 * 2**attempt, 0.5)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("Discord's 3-second response deadline passed")
                try:
                    async with (
                        asyncio.timeout(remaining),
                        session.request(
                            route.method,
                            route.url,
                            data=body,
                            headers=headers,
                            params=kwargs.get("params"),
                            proxy=kwargs.get("proxy"),
                            proxy_auth=kwargs.get("proxy_auth"),
                        ) as response,
                    ):
                        data = await json_or_text(response)
                        if 200 <= response.status < 300:
                            return _without_message(data)
                        error: Exception
                        if response.status == 429:
                            error = discord.HTTPException(response, data)
                            if isinstance(data, dict):
                                pause = float(data.get("retry_after", 1.0))
                        elif response.status >= 500:
                            error = discord.DiscordServerError(response, data)
                        elif response.status == 404:
                            raise discord.NotFound(response, data)
                        elif response.status == 403:
                            raise discord.Forbidden(response, data)
                        else:
                            raise discord.HTTPException(response, data)
                except (OSError, aiohttp.ClientError) as failure:
                    error = failure
                log.debug("interaction callback attempt %d failed: %s", attempt, error)
                adapter = _current.get()
                if adapter is not None:
                    adapter.api_error(_error_kind(error))
                if (limit is not None and attempt >= limit) or (
                    time.monotonic() + pause >= deadline
                ):
                    raise error
                if adapter is not None:
                    adapter.api_retry()
                await asyncio.sleep(pause)

    return BudgetedWebhookAdapter()  # type: ignore[no-untyped-call]  # discord.py leaves its __init__ unannotated


def _without_message(data: Any) -> Any:
    """An interaction callback's answer without the message Discord echoes back in it."""
    if isinstance(data, dict):
        resource = data.get("resource")
        if isinstance(resource, dict) and "message" in resource:
            data["resource"] = {k: v for k, v in resource.items() if k != "message"}
    return data


# -- rendering --------------------------------------------------------------------------------


_MD_SPECIAL = re.compile(r"([\\*_~`|>\[\]()#:<@])")


def escape_markdown(text: str) -> str:
    """Escape Discord-flavoured markdown, including mention and link syntax."""
    return _MD_SPECIAL.sub(r"\\\1", text)


@functools.lru_cache(maxsize=1024)  # replies repeat (the guide's answers): render each once
def to_markdown(markup: str) -> str:
    """Markdown as Discord renders it; list lines keep their `1. ` / `- ` markers."""
    out = []
    for span in parse(markup):
        if span.kind == "bold":
            out.append(f"**{escape_markdown(span.text)}**")
        elif span.kind == "link":
            out.append(f"[{escape_markdown(span.text)}](<{span.url}>)")
        else:
            out.append(_escape_keeping_lists(span.text))
    return "".join(out)


_LIST_MARKER = re.compile(r"^(\s*(?:\d+\.|-)\s)", re.M)


def _escape_keeping_lists(text: str) -> str:
    parts = _LIST_MARKER.split(text)
    # split() with one group alternates [text, marker, text, marker, ...]
    return "".join(part if index % 2 else escape_markdown(part) for index, part in enumerate(parts))


def render(reply: Reply) -> list[tuple[str, list[list[Button]]]]:
    """A reply as Discord messages: markdown pieces of at most 2000 characters, the buttons on
    the last piece; buttons beyond one message's 5x5 grid go on extra button-only messages."""
    pieces = split_message(reply.text, MAX_CONTENT, to_markdown) if reply.text.strip() else []
    grids = layout(reply.buttons)
    if not pieces and not grids:
        return []
    messages: list[tuple[str, list[list[Button]]]] = [(piece, []) for piece in pieces] or [("", [])]
    if grids:
        messages[-1] = (messages[-1][0], grids[0])
        messages += [("", grid) for grid in grids[1:]]
    return messages


def layout(rows: Sequence[Sequence[Button]]) -> list[list[list[Button]]]:
    """Button rows as grids of at most 5 rows of 5; rows are kept as the engine made them when
    they fit, otherwise the buttons are packed five to a row."""
    rows = [list(row) for row in rows if row]
    if not rows:
        return []
    if len(rows) <= MAX_ROWS and all(len(row) <= MAX_PER_ROW for row in rows):
        return [[list(row) for row in rows]]
    flat = [button for row in rows for button in row]
    packed = [flat[i : i + MAX_PER_ROW] for i in range(0, len(flat), MAX_PER_ROW)]
    return [packed[i : i + MAX_ROWS] for i in range(0, len(packed), MAX_ROWS)]


def button_view(rows: list[list[Button]]) -> "discord.ui.View":
    """A view used only to serialise buttons: the components a `discord.ui.View` of
    `persistent_button_class()` buttons (grey, label clipped to 80 characters, custom_id
    `hb:<payload>`) serialises to, made directly as dicts. Building a `DynamicItem` and a
    `discord.ui.Button` per button only to serialise them was most of what the adapter cost
    beyond discord.py per reply. The view is stopped at once, so discord.py never keeps it per
    message: presses are routed by the persistent button class's custom_id template."""
    components = []
    for row in rows:
        if not row:
            continue
        buttons = []
        for button in row:
            if not button.payload:  # the persistent button's template needs one character
                raise ValueError(f"button {button.label!r} has an empty payload")
            buttons.append(
                {
                    "type": 2,  # button
                    "style": 2,  # secondary (grey)
                    "disabled": False,
                    "label": clip(button.label, MAX_LABEL),
                    "custom_id": CUSTOM_ID_PREFIX + button.payload,
                }
            )
        components.append({"type": 1, "components": buttons})  # an action row
    view: discord.ui.View = serialised_view_class()(components)
    return view


@functools.cache
def serialised_view_class() -> type[Any]:
    """A stopped, childless `discord.ui.View` that serialises to components given up front."""
    import discord

    class SerialisedView(discord.ui.View):
        def __init__(self, components: list[dict[str, Any]]) -> None:
            super().__init__(timeout=None)
            self._components = components
            self.stop()

        def to_components(self) -> list[dict[str, Any]]:
            return self._components

    return SerialisedView


@functools.cache
def persistent_button_class() -> type[Any]:
    """The DynamicItem whose custom_id template captures the engine's payload, so a button on
    an old message still works after a restart (the engine's state is in its session store)."""
    import discord

    class PersistentButton(
        discord.ui.DynamicItem[discord.ui.Button],  # type: ignore[type-arg]  # View generic
        template=CUSTOM_ID_PREFIX + r"(?P<payload>.+)",
    ):
        def __init__(self, label: str, payload: str, row: int | None = None) -> None:
            super().__init__(
                discord.ui.Button(
                    label=clip(label, MAX_LABEL),
                    custom_id=CUSTOM_ID_PREFIX + payload,
                    style=discord.ButtonStyle.secondary,
                ),
                row=row,
            )
            self.payload = payload

        @classmethod
        async def from_custom_id(
            cls,
            interaction: discord.Interaction,
            item: discord.ui.Item,  # type: ignore[type-arg]  # View generic
            match: "re.Match[str]",
            /,
        ) -> "PersistentButton":
            label = getattr(item, "label", None) or "?"
            return cls(label, match["payload"])

        async def callback(self, interaction: discord.Interaction) -> None:
            client = interaction.client
            if isinstance(client, client_class()):
                await client.adapter.on_press(interaction, self.payload)

    return PersistentButton


@functools.cache
def close_button_class() -> type[Any]:
    """The Close button on a handoff thread's first message; its custom_id names the thread,
    so it keeps working after a restart (who is served there is in the session store)."""
    import discord

    class CloseButton(
        discord.ui.DynamicItem[discord.ui.Button],  # type: ignore[type-arg]  # View generic
        template=CLOSE_ID_PREFIX + r"(?P<ticket>[0-9]{1,21})",
    ):
        def __init__(self, label: str, ticket: str) -> None:
            super().__init__(
                discord.ui.Button(
                    label=clip(label, MAX_LABEL),
                    custom_id=CLOSE_ID_PREFIX + ticket,
                    style=discord.ButtonStyle.danger,
                )
            )
            self.ticket = ticket

        @classmethod
        async def from_custom_id(
            cls,
            interaction: discord.Interaction,
            item: discord.ui.Item,  # type: ignore[type-arg]  # View generic
            match: "re.Match[str]",
            /,
        ) -> "CloseButton":
            return cls(getattr(item, "label", None) or "?", match["ticket"])

        async def callback(self, interaction: discord.Interaction) -> None:
            client = interaction.client
            if isinstance(client, client_class()):
                await client.adapter.on_close(interaction, self.ticket)

    return CloseButton


def make_translator(adapter: DiscordAdapter) -> Any:
    """Command, option and choice texts in every language of the knowledge base, offered to
    Discord for each of its locales with the same language (es -> es-ES and es-419)."""
    from discord import app_commands

    class SpecTranslator(app_commands.Translator):
        async def translate(
            self,
            string: app_commands.locale_str,
            locale: Any,
            context: app_commands.TranslationContext,  # type: ignore[type-arg]
        ) -> str | None:
            lang = adapter.language(str(locale))
            if lang is None or lang == "en":
                return None
            extras = string.extras
            command = extras.get("command", "")
            text, english = (
                _spec_text(adapter.spec(command, lang), extras),
                _spec_text(adapter.spec(command, "en"), extras),
            )
            if not text or text == english:  # untranslated: Discord shows the English one
                return None
            limit = MAX_CHOICE_NAME if extras.get("kind") == "choice" else MAX_DESCRIPTION
            return clip(text, limit)

    return SpecTranslator()


def _spec_text(spec: CommandSpec | None, extras: dict[str, Any]) -> str | None:
    if spec is None:
        return None
    kind = extras.get("kind")
    if kind == "command":
        return spec.description
    option: OptionSpec | None = next(
        (o for o in spec.options if o.name == extras.get("option")), None
    )
    if option is None:
        return None
    if kind == "option":
        return option.description
    if kind == "choice":
        return dict(option.choices).get(extras.get("value", ""))
    return None


class _ExpectedWarnings(logging.Filter):
    """Drops discord.py's start-up warnings about what this bot deliberately goes without:
    voice support, and the GUILDS intent (interactions carry everything the bot needs)."""

    NOTES = (
        "PyNaCl is not installed",
        "davey is not installed",
        "Guilds intent seems to be disabled",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.NOTES)


def quiet_expected_warnings() -> None:
    for name in ("discord.client", "discord.state"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ExpectedWarnings) for f in logger.filters):
            logger.addFilter(_ExpectedWarnings())


def point_at(api_base: str, gateway_url: str) -> None:
    """Aim discord.py at another REST base and gateway (proxies, the test fake). Both are
    class attributes read when requests and connections are made, so set them before login."""
    import yarl
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    Route.BASE = api_base.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


ADAPTER = DiscordAdapter
