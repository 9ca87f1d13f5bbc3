"""Run the bot on Discord: slash commands, topic autocomplete and buttons that survive restarts.

The bot token comes from $DISCORD_BOT_TOKEN or --token-file (never from the command line, where
other users could read it). Slash commands are registered at start-up with --sync: `global`
(the default: every server and DMs, one bulk overwrite per start), `guild:<id>[,<id>...]`
(instant, for development) or `none` (when another process registers them). Replies in servers
are visible only to the person who asked, unless they pass `public:true` to /ask or /faq.

  DISCORD_BOT_TOKEN=... helpbot discord --sync guild:123456789012345678

See the README's Discord section for creating the application and inviting the bot.
"""

# No `from __future__ import annotations` here: discord.py reads the slash command options from
# the annotations of callbacks defined inside functions, so they must be real objects.

import argparse
import asyncio
import contextlib
import functools
import logging
import os
import re
import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.engine import Engine
from bot.language import from_locale
from bot.logs import add_secret
from bot.markup import parse, split_message
from bot.tokens import add_token_option, load_token
from bot.types import Button, IncomingMessage, Reply

if TYPE_CHECKING:  # discord.py is imported only when the adapter runs: `helpbot ask` stays fast
    import discord

log = logging.getLogger(__name__)

PLATFORM = "discord"
DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
CUSTOM_ID_PREFIX = "hb:"  # + a button payload (at most 64 bytes): far below Discord's 100
MAX_CONTENT = 2000
MAX_ROWS = 5
MAX_PER_ROW = 5
MAX_LABEL = 80
MAX_CHOICES = 25
MAX_CHOICE_NAME = 100
MAX_DESCRIPTION = 100
MAX_QUESTION = 1000
DEFER_AFTER = 1.5  # seconds: Discord drops interactions not acknowledged within 3 s
_OPTIONS = {"ask": ("question", "public"), "faq": ("topic", "public"), "language": ("language",)}


# -- command line -----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
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


def run(args: argparse.Namespace, engine: Engine) -> int:
    token = load_token(
        "discord",
        "DISCORD_BOT_TOKEN",
        args.token_file,
        "the token is on the Bot page of your application in the Discord Developer Portal; "
        "see the README's Discord section",
    )
    if token is None:
        asyncio.run(engine.close())
        return 2
    bot = DiscordBot(
        engine, token, sync=args.sync, api_base=args.api_base, gateway_url=args.gateway_url
    )
    return asyncio.run(serve_until_signalled(bot))


async def serve_until_signalled(bot: "DiscordBot") -> int:
    """Run until SIGINT/SIGTERM (exit 0) or a fatal error (exit 1); always close the engine."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        with contextlib.suppress(NotImplementedError):  # Windows
            loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(bot.serve(), name="helpbot-discord")
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            error = serving.exception()
            if error is None:
                return 0
            log.error("the Discord connection failed: %s", describe_failure(error))
            return 1
        log.info("stopping: closing the Discord connection")
        await bot.close()
        with contextlib.suppress(Exception):
            await serving
        return 0
    finally:
        stopping.cancel()
        for sig in signals:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)
        await bot.engine.close()


def describe_failure(error: BaseException) -> str:
    import discord

    if isinstance(error, discord.LoginFailure):
        return "Discord rejected the bot token (check DISCORD_BOT_TOKEN or --token-file)"
    return f"{type(error).__name__}: {error}"


# -- the adapter ------------------------------------------------------------------------------


class DiscordBot:
    """Translates Discord interactions into engine messages and engine replies into responses.

    It owns one `discord.Client` (built on `serve()`, when discord.py is first imported) with a
    command tree whose commands and descriptions come from the engine.
    """

    def __init__(
        self,
        engine: Engine,
        token: str,
        *,
        sync: tuple[str, Sequence[int]] = ("global", ()),
        api_base: str = DEFAULT_API_BASE,
        gateway_url: str = DEFAULT_GATEWAY_URL,
        defer_after: float = DEFER_AFTER,
    ) -> None:
        self.engine = engine
        self.token = token
        self.sync_mode, self.sync_guilds = sync[0], tuple(sync[1])
        self.api_base = api_base.rstrip("/")
        self.gateway_url = gateway_url
        self.defer_after = defer_after
        self.client: discord.Client | None = None
        self.in_flight: set[asyncio.Task[Any]] = set()
        add_secret(token)

    # -- life cycle ---------------------------------------------------------------------------

    async def serve(self) -> None:
        """Log in, register the commands, and handle interactions until `close()`."""
        point_at(self.api_base, self.gateway_url)
        self.client = client = self.build_client()
        async with client:
            await client.start(self.token, reconnect=True)

    async def close(self, drain: float = 3.0) -> None:
        """Let interactions being answered finish (at most `drain` seconds), then disconnect."""
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=drain)
        if self.client is not None and not self.client.is_closed():
            await self.client.close()

    def build_client(self) -> "discord.Client":
        import discord
        from discord import app_commands

        quiet_expected_warnings()
        client = discord.Client(
            intents=discord.Intents.none(),  # interactions arrive without any intent
            allowed_mentions=discord.AllowedMentions.none(),
            # With no GUILDS intent no GUILD_CREATE follows READY: nothing to wait for.
            guild_ready_timeout=0.0,
        )
        tree = app_commands.CommandTree(
            client,
            # Servers, DMs with the bot, and group DMs (the latter only for a user install).
            # Install types are left to the application's Installation settings in the portal.
            allowed_contexts=app_commands.AppCommandContext(
                guild=True, dm_channel=True, private_channel=True
            ),
        )
        tree.on_error = self.on_tree_error  # type: ignore[method-assign]
        for command in self.build_commands():
            tree.add_command(command)
        client.helpbot = self  # type: ignore[attr-defined]  # read by the persistent button
        client.setup_hook = functools.partial(self.setup_hook, client, tree)  # type: ignore[method-assign]
        return client

    async def setup_hook(self, client: "discord.Client", tree: Any) -> None:
        """After login, before the gateway: persistent buttons, translations, command sync."""
        import discord

        client.add_dynamic_items(persistent_button_class())
        await tree.set_translator(make_translator(self.engine))
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

    # -- slash commands -----------------------------------------------------------------------

    def build_commands(self) -> list[Any]:
        from discord import app_commands

        commands = []
        for name, description in self.engine.commands("en").items():
            callback = self.command_callback(name)
            options = {
                option: app_commands.locale_str(
                    option_text(self.engine, option, "en"), kind="option", option=option
                )
                for option in _OPTIONS.get(name, ())
            }
            if options:
                callback = app_commands.describe(**options)(callback)
            command = app_commands.Command(
                name=name,
                description=app_commands.locale_str(
                    clip(description, MAX_DESCRIPTION), kind="command", command=name
                ),
                callback=callback,
            )
            commands.append(command)
        return commands

    def command_callback(self, name: str) -> Any:
        import discord
        from discord import app_commands

        if name == "ask":

            async def ask(
                interaction: discord.Interaction,
                question: app_commands.Range[str, 1, MAX_QUESTION],
                public: bool = False,
            ) -> None:
                await self.on_command(interaction, "ask", question, public)

            return ask
        if name == "faq":

            async def topic_choices(
                interaction: discord.Interaction, current: str
            ) -> list[app_commands.Choice[str]]:
                return self.autocomplete(interaction, current)

            @app_commands.autocomplete(topic=topic_choices)
            async def faq(
                interaction: discord.Interaction,
                topic: app_commands.Range[str, 1, MAX_QUESTION] | None = None,
                public: bool = False,
            ) -> None:
                await self.on_command(interaction, "faq", topic or "", public)

            return faq
        if name == "language":
            knowledge = self.engine.knowledge

            @app_commands.choices(
                language=[
                    app_commands.Choice(
                        name=clip(knowledge.ui("language_name", lang), MAX_CHOICE_NAME), value=lang
                    )
                    for lang in knowledge.languages[:MAX_CHOICES]
                ]
            )
            async def language(
                interaction: discord.Interaction, language: str | None = None
            ) -> None:
                await self.on_command(interaction, "language", language or "", False)

            return language

        async def plain(interaction: discord.Interaction) -> None:
            await self.on_command(interaction, name, "", False)

        return plain

    def autocomplete(self, interaction: "discord.Interaction", current: str) -> list[Any]:
        """Entries matching what the person has typed so far; value = the entry id."""
        from discord import app_commands

        try:
            typed = self.message(interaction, command="faq", text=current)
            found = self.engine.search(current, MAX_CHOICES, self.engine.lang_for(typed, None))
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
        message = self.message(interaction, command=name, text=text)
        await self.respond(interaction, message, public=public)

    async def on_press(self, interaction: "discord.Interaction", payload: str) -> None:
        await self.respond(interaction, self.message(interaction, payload=payload), public=False)

    async def on_tree_error(self, interaction: "discord.Interaction", error: Exception) -> None:
        """A command discord.py could not run (e.g. one left over from an older sync)."""
        log.error("slash command failed: %s", error)
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
            user_name=getattr(user, "display_name", None),
        )

    # -- replies ------------------------------------------------------------------------------

    async def respond(
        self, interaction: "discord.Interaction", message: IncomingMessage, *, public: bool
    ) -> None:
        """Answer one interaction; any failure is logged and answered with an apology.

        The engine answers in about a millisecond, so the reply is normally the interaction's
        first and only response. Should it ever wait longer (a slow disk under the session
        store), a timer acknowledges the interaction first ("thinking…" or a silent update),
        well within Discord's 3-second limit, and the replies follow as edits and follow-ups.
        A timer rather than a watchdog task keeps the normal path as cheap as possible."""
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
                replies = await self.engine.handle(message)
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

    async def defer(self, interaction: "discord.Interaction", hidden: bool) -> None:
        import discord

        if interaction.type is discord.InteractionType.component:
            await interaction.response.defer()  # "update message" later, or follow-ups
        else:
            await interaction.response.defer(ephemeral=hidden, thinking=True)

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
                if first and editing:
                    if deferred:
                        await interaction.edit_original_response(
                            content=content, view=view, allowed_mentions=none
                        )
                    else:
                        await interaction.response.edit_message(
                            content=content, view=view, allowed_mentions=none
                        )
                elif first and not deferred:
                    await interaction.response.send_message(
                        content,
                        view=view or discord.utils.MISSING,
                        ephemeral=ephemeral,
                        allowed_mentions=none,
                    )
                elif first and not is_press:  # the deferred "thinking…" message
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
        try:
            lang = self.engine.lang_for(self.message(interaction), None)
            text = to_markdown(self.engine.knowledge.ui("error", lang))
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except Exception as error:  # the interaction may have expired: nothing more to do
            log.warning("could not send the apology either: %s", error)


# -- rendering --------------------------------------------------------------------------------


_MD_SPECIAL = re.compile(r"([\\*_~`|>\[\]()#:<@])")


def escape_markdown(text: str) -> str:
    """Escape Discord-flavoured markdown, including mention and link syntax."""
    return _MD_SPECIAL.sub(r"\\\1", text)


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
        return [rows]
    flat = [button for row in rows for button in row]
    packed = [flat[i : i + MAX_PER_ROW] for i in range(0, len(flat), MAX_PER_ROW)]
    return [packed[i : i + MAX_ROWS] for i in range(0, len(packed), MAX_ROWS)]


def button_view(rows: list[list[Button]]) -> "discord.ui.View":
    """A view used only to serialise buttons. It is stopped at once so discord.py never keeps
    it per message: presses are routed by the persistent button class's custom_id template."""
    import discord

    view = discord.ui.View(timeout=None)
    make = persistent_button_class()
    for number, row in enumerate(rows):
        for button in row:
            view.add_item(make(button.label, button.payload, row=number))
    view.stop()
    return view


@functools.cache
def persistent_button_class() -> type:
    """The DynamicItem whose custom_id template captures the engine's payload, so a button on
    an old message still works after a restart (the engine's state is in its session store)."""
    import discord

    class PersistentButton(
        discord.ui.DynamicItem[discord.ui.Button],  # type: ignore[type-arg]
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
            cls, interaction: discord.Interaction, item: discord.ui.Item, match: Any, /
        ) -> "PersistentButton":
            label = getattr(item, "label", None) or "?"
            return cls(label, match["payload"])

        async def callback(self, interaction: discord.Interaction) -> None:
            await interaction.client.helpbot.on_press(interaction, self.payload)  # type: ignore[attr-defined]

    return PersistentButton


def make_translator(engine: Engine) -> Any:
    """Command and option descriptions in every language of the knowledge base, offered to
    Discord for each of its locales with the same language (es -> es-ES and es-419)."""
    from discord import app_commands

    class KnowledgeTranslator(app_commands.Translator):
        async def translate(
            self,
            string: app_commands.locale_str,
            locale: Any,
            context: app_commands.TranslationContext,  # type: ignore[type-arg]
        ) -> str | None:
            lang = from_locale(str(locale), engine.knowledge.languages)
            if lang is None or lang == "en":
                return None
            pack = engine.knowledge.pack(lang)
            extras = string.extras
            if extras.get("kind") == "command":
                text = pack.commands.get(extras.get("command", ""))
            elif extras.get("kind") == "option":
                text = pack.ui.get(f"option_{extras.get('option', '')}")
            else:
                text = None
            return clip(text, MAX_DESCRIPTION) if text else None

    return KnowledgeTranslator()


def option_text(engine: Engine, option: str, lang: str) -> str:
    key = f"option_{option}"
    knowledge = engine.knowledge
    return clip(knowledge.ui(key, lang), MAX_DESCRIPTION)


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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
