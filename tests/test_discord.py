"""The Discord adapter end to end: the real discord.py against tests/fake_discord.py.

Each test starts the fake on 127.0.0.1, runs the adapter against it, and plays members: slash
commands, autocomplete and button presses go out over the fake gateway, and the tests read what
the bot sent back through the REST API (callback types, flags, content, buttons).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.discord import (
    CUSTOM_ID_PREFIX,
    DiscordAdapter,
    layout,
    parse_sync,
    render,
    to_markdown,
)
from bot.engine import Engine
from bot.knowledge import Knowledge, load_knowledge
from bot.markup import escape
from bot.sessions import MemoryStore, SqliteStore
from bot.tokens import load_token
from bot.types import Button, IncomingMessage, Reply
from tests.fake_discord import (
    AUTOCOMPLETE,
    DEFERRED_MESSAGE,
    DEFERRED_UPDATE,
    EPHEMERAL,
    MESSAGE,
    UPDATE_MESSAGE,
    FakeDiscord,
    Member,
)

ROOT = Path(__file__).resolve().parent.parent
DISCORD_LOCALES = (
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl",
    "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi",
    "th", "zh-CN", "ja", "zh-TW", "ko",
)  # fmt: skip
ALICE = Member(100000000000000011, "alice")
BOB = Member(100000000000000022, "bob")


@pytest.fixture(scope="module")
def kb() -> Knowledge:
    return load_knowledge()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


class Running:
    """One adapter connected to the fake; `stop()` closes it like a shutdown would."""

    def __init__(self, bot: DiscordAdapter, task: asyncio.Task[None]) -> None:
        self.bot, self.task = bot, task

    async def stop(self) -> None:
        await self.bot.stop()
        await asyncio.wait_for(self.task, 5)


async def start(fake: FakeDiscord, engine: Engine, **options: Any) -> Running:
    before = sum(1 for c in fake.connections if c.identify)
    options.setdefault("sync", ("guild", (fake.guild_id,)))
    bot = DiscordAdapter(
        engine, token=fake.token, api_base=fake.api_base, gateway_url=fake.gateway_url, **options
    )
    await bot.start()  # logs in and registers the commands, as `serve_until_signal` does
    task = asyncio.create_task(bot.run())
    waiting = asyncio.create_task(fake.wait_identified(before + 1))
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiting.cancel()
        task.result()  # raises what went wrong
    await waiting
    return Running(bot, task)


@pytest.fixture
async def running(fake: FakeDiscord, kb: Knowledge) -> AsyncIterator[Running]:
    bot = await start(fake, Engine(kb, MemoryStore()))
    yield bot
    await bot.stop()


def md(markup: str) -> str:
    return to_markdown(markup)


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [b["custom_id"] for b in FakeDiscord.buttons(message)]


# -- start-up and command registration -----------------------------------------------------------


async def test_logs_in_syncs_guild_commands_and_asks_for_no_intents(
    fake: FakeDiscord, running: Running, kb: Knowledge
) -> None:
    assert [(c.method, c.path.removeprefix("/api/v10")) for c in fake.calls[:3]] == [
        ("GET", "/users/@me"),
        ("GET", "/oauth2/applications/@me"),
        ("PUT", f"/applications/{fake.app_id}/guilds/{fake.guild_id}/commands"),
    ]
    assert all(c.headers["Authorization"] == f"Bot {fake.token}" for c in fake.calls[:3])
    connection = fake.live_connection()
    assert connection.identify is not None and connection.identify["intents"] == 0
    assert connection.query["v"] == "10" and connection.query["encoding"] == "json"
    assert connection.compress == "zlib-stream"  # the client asked; the fake compressed

    commands = {c["name"]: c for c in fake.commands[fake.guild_id]}
    engine_commands = Engine(kb).commands("en")
    assert set(commands) == set(engine_commands)
    for name, command in commands.items():
        assert command["description"] == engine_commands[name][:100]
        assert command["contexts"] == [0, 1, 2]  # servers, DMs with the bot, group DMs
        assert command["integration_types"] is None  # as set in the Developer Portal
        assert all(1 <= len(o["description"]) <= 100 for o in command["options"])
    for name, command in commands.items():  # every other language of the knowledge base
        expected = {
            locale: kb.pack(locale.split("-")[0]).commands[name][:100]
            for locale in DISCORD_LOCALES
            if locale.split("-")[0] in kb.languages[1:]
            and kb.pack(locale.split("-")[0]).commands.get(name)
        }
        assert command.get("description_localizations", {}) == expected, name
    ask = {o["name"]: o for o in commands["ask"]["options"]}
    assert ask["question"]["type"] == 3 and ask["question"]["required"] is True
    assert ask["question"]["max_length"] == 1000
    assert ask["public"]["type"] == 5 and not ask["public"].get("required")
    faq = {o["name"]: o for o in commands["faq"]["options"]}
    assert faq["topic"]["autocomplete"] is True and not faq["topic"].get("required")
    assert commands["steps"]["options"] == []


@pytest.mark.parametrize(
    ("sync", "path"),
    [(("global", ()), "/commands"), (("none", ()), None)],
    ids=["global", "none"],
)
async def test_sync_global_or_not_at_all(
    fake: FakeDiscord, kb: Knowledge, sync: tuple[str, tuple[int, ...]], path: str | None
) -> None:
    bot = await start(fake, Engine(kb), sync=sync)
    try:
        puts = fake.calls_to("/commands", "PUT")
        if path is None:
            assert puts == []
        else:
            assert [c.path for c in puts] == [f"/api/v10/applications/{fake.app_id}/commands"]
            assert {c["name"] for c in fake.commands[None]} >= {"ask", "faq", "walkthrough"}
        exchange = await fake.slash("help", ALICE)  # dispatched by name either way
        await exchange.wait()
        assert exchange.callback_type == MESSAGE
    finally:
        await bot.stop()


async def test_operators_get_stats_and_reload_as_server_admin_commands(
    fake: FakeDiscord, kb: Knowledge
) -> None:
    """/stats and /reload exist on Discord when --admins names a Discord user: registered for
    servers only, hidden from members without Administrator ("0"), answered for the --admins
    only (anyone a server lets run them gets the unknown-command reply)."""
    bot = await start(fake, Engine(kb, MemoryStore(), admins=frozenset({f"discord:{ALICE.id}"})))
    try:
        commands = {c["name"]: c for c in fake.commands[fake.guild_id]}
        for name in ("stats", "reload"):
            assert commands[name]["default_member_permissions"] == "0"
            assert commands[name]["contexts"] == [0]
        assert commands["ask"]["default_member_permissions"] is None
        assert commands["ask"]["contexts"] == [0, 1, 2]

        stats = await fake.slash("stats", ALICE)
        await stats.wait()
        assert "Last 24 hours" in md_all(stats)
        refused = await fake.slash("stats", BOB)
        await refused.wait()
        assert md(kb.ui("unknown_command", command="stats")) in md_all(refused)
    finally:
        await bot.stop()


def md_all(exchange: Any) -> str:
    """Everything the bot said in an exchange: the callback's message and any follow-ups."""
    return "\n".join(str(m.get("content", "")) for m in exchange.sent)


async def test_descriptions_are_localised_for_every_other_language(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    shutil.copytree(ROOT / "knowledge" / "en", tmp_path / "en")
    shutil.copytree(ROOT / "knowledge" / "en", tmp_path / "es")
    ui = tmp_path / "es" / "ui.yaml"
    ui.write_text(
        ui.read_text(encoding="utf-8").replace(
            "walkthrough: Guide me through", "walkthrough: Guíame paso a paso. Guide me through"
        ),
        encoding="utf-8",
    )
    knowledge = load_knowledge(tmp_path)
    assert knowledge.languages == ["en", "es"]
    bot = await start(fake, Engine(knowledge))
    try:
        walkthrough = next(c for c in fake.commands[fake.guild_id] if c["name"] == "walkthrough")
        spanish = knowledge.pack("es").commands["walkthrough"]
        assert spanish.startswith("Guíame")
        assert walkthrough["description_localizations"] == {
            "es-ES": spanish[:100],
            "es-419": spanish[:100],
        }
    finally:
        await bot.stop()


async def test_interactions_become_engine_messages(fake: FakeDiscord, kb: Knowledge) -> None:
    seen: list[IncomingMessage] = []

    class RecordingEngine(Engine):
        async def handle(self, message: IncomingMessage) -> list[Reply]:
            seen.append(message)
            return await super().handle(message)

    bot = await start(fake, RecordingEngine(kb))
    try:
        ask = await fake.slash("ask", ALICE, locale="es-ES", question="  cuánto tarda  ")
        await ask.wait()
        dm = await fake.slash("steps", BOB, guild=False, locale="pt-BR")
        await dm.wait()
        first_button = FakeDiscord.buttons(dm.sent[0])[0]["label"]
        press = await fake.press(dm.sent[0], first_button, BOB)
        await press.wait()
    finally:
        await bot.stop()
    in_server, in_dm, pressed = seen
    assert in_server == IncomingMessage(
        platform="discord",
        chat_id=str(fake.channel_id),
        user_id=str(ALICE.id),
        text="  cuánto tarda  ",
        command="ask",
        locale="es-ES",
        is_group=True,
        addressed=True,
    )
    assert (in_dm.command, in_dm.text, in_dm.locale, in_dm.is_group) == (
        "steps",
        "",
        "pt-BR",
        False,
    )
    assert in_dm.chat_id == str(BOB.id + 1)  # the DM channel
    assert pressed.payload == FakeDiscord.buttons(dm.sent[0])[0]["custom_id"][3:]
    assert pressed.command is None and pressed.session_key == in_dm.session_key


# -- /ask ----------------------------------------------------------------------------------------


async def test_ask_in_a_server_is_ephemeral_markdown_with_persistent_buttons(
    fake: FakeDiscord, running: Running, kb: Knowledge
) -> None:
    exchange = await fake.slash("ask", ALICE, question="how long does deletion take?")
    await exchange.wait()
    assert exchange.callback_type == MESSAGE
    data = exchange.data
    assert data["flags"] == EPHEMERAL
    title = kb.entry("processing_time").title
    assert data["content"].startswith(f"**{md(escape(title))}**")
    assert data["allowed_mentions"] == {"parse": []}
    ids = custom_ids(exchange.sent[0])
    assert ids and all(i.startswith(CUSTOM_ID_PREFIX) and len(i) <= 100 for i in ids)
    assert exchange.callback_at is not None
    assert exchange.callback_at - exchange.dispatched_at < 1.0  # answered directly, no defer


async def test_ask_public_true_answers_in_the_open(fake: FakeDiscord, running: Running) -> None:
    exchange = await fake.slash("ask", ALICE, question="what happens to my wallet", public=True)
    await exchange.wait()
    assert exchange.callback_type == MESSAGE
    assert not exchange.data.get("flags")
    assert "wallet" in exchange.data["content"].lower()


async def test_ask_in_a_dm_is_a_normal_message(fake: FakeDiscord, running: Running) -> None:
    exchange = await fake.slash("ask", ALICE, guild=False, question="how long does it take")
    await exchange.wait()
    assert exchange.callback_type == MESSAGE
    assert not exchange.data.get("flags")
    assert "guild_id" not in exchange.sent[0]
    # DM walkthroughs run by buttons too
    walk = await fake.slash("walkthrough", ALICE, guild=False)
    await walk.wait(2)
    press = await fake.press(walk.sent[-1], "Done", ALICE)
    await press.wait()
    assert press.callback_type == UPDATE_MESSAGE
    assert "2 of" in press.edits[0]["content"]


async def test_markup_and_mentions_in_questions_arrive_escaped(
    fake: FakeDiscord, kb: Knowledge
) -> None:
    class EchoEngine(Engine):
        async def handle(self, message: IncomingMessage) -> list[Reply]:
            return [Reply(f"You asked: {escape(message.text)}")]

    bot = await start(fake, EchoEngine(kb))
    try:
        nasty = "@everyone <@123> <@&456> **bold** `code` __under__ [x](http://evil.example) #ch"
        exchange = await fake.slash("ask", ALICE, question=nasty)
        await exchange.wait()
        content = exchange.data["content"]
        assert exchange.data["allowed_mentions"] == {"parse": []}
        for raw in ("<@123>", "<@&456>", "**bold**", "`code`", "__under__", "](h"):
            assert raw not in content, raw
        assert re.search(r"(?<!\\)@everyone", content) is None
        for escaped in (r"\@everyone", r"\<\@123\>", r"\*\*bold\*\*", r"\`code\`", r"\_\_under"):
            assert escaped in content, escaped
    finally:
        await bot.stop()


# -- /faq and autocomplete -------------------------------------------------------------------------


async def test_faq_autocomplete_then_choosing_a_topic(
    fake: FakeDiscord, running: Running, kb: Knowledge
) -> None:
    typing = await fake.autocomplete("faq", ALICE, "topic", "how long")
    await typing.wait_callback()
    assert typing.callback_type == AUTOCOMPLETE
    choices = typing.data["choices"]
    assert 1 <= len(choices) <= 25
    assert all(1 <= len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices)
    assert choices[0] == {"name": kb.entry("processing_time").title, "value": "processing_time"}

    empty = await fake.autocomplete("faq", ALICE, "topic", "")
    await empty.wait_callback()
    assert [c["value"] for c in empty.data["choices"]] == list(kb.base.faq_topics)[:25]

    if "es" in kb.languages:  # suggestions in the member's language
        spanish = await fake.autocomplete("faq", ALICE, "topic", "", locale="es-ES")
        await spanish.wait_callback()
        assert [c["name"] for c in spanish.data["choices"]] == [
            kb.entry(i, "es").title for i in kb.pack("es").faq_topics
        ][:25]

    chosen = await fake.slash("faq", ALICE, topic="processing_time")
    await chosen.wait()
    assert chosen.data["content"].startswith(f"**{md(escape(kb.entry('processing_time').title))}")
    assert chosen.data["flags"] == EPHEMERAL

    typed = await fake.slash("faq", ALICE, topic="what happens to my wallet money", public=True)
    await typed.wait()
    assert "wallet" in typed.data["content"].lower() and not typed.data.get("flags")

    menu = await fake.slash("faq", ALICE)
    await menu.wait()
    assert len(FakeDiscord.buttons(menu.sent[0])) == len(kb.base.faq_topics)


async def test_language_is_a_choice_and_sticks(
    fake: FakeDiscord, running: Running, kb: Knowledge
) -> None:
    command = next(c for c in fake.commands[fake.guild_id] if c["name"] == "language")
    (option,) = command["options"]
    assert [c["value"] for c in option["choices"]] == kb.languages
    assert [c["name"] for c in option["choices"]] == [
        kb.ui("language_name", x) for x in kb.languages
    ]
    chosen = await fake.slash("language", ALICE, language="es")
    await chosen.wait()
    assert chosen.data["content"] == md(kb.ui("language_set", "es"))
    helped = await fake.slash("help", ALICE)  # Alice's Discord is in English; her choice wins
    await helped.wait()
    assert helped.data["content"] == md(kb.ui("help", "es"))


# -- buttons ---------------------------------------------------------------------------------------


async def walk_to_the_end(fake: FakeDiscord, message: dict[str, Any], who: Member) -> list[int]:
    """Press the forward button on the walkthrough message until it offers none."""
    types = []
    for _ in range(40):
        labels = [b["label"] for b in FakeDiscord.buttons(fake.messages[int(message["id"])])]
        forward = next(
            (
                w
                for w in ("Done", "continue", "Next")
                if any(w.lower() in x.lower() for x in labels)
            ),
            None,
        )
        if forward is None:
            return types
        press = await fake.press(message, forward, who)
        await press.wait()
        types.append(press.callback_type)
        assert [int(m["id"]) for m in press.edits] == [int(message["id"])]
    raise AssertionError("the walkthrough never ended")


async def test_a_whole_walkthrough_by_buttons_edits_one_message(
    fake: FakeDiscord, running: Running, kb: Knowledge
) -> None:
    start_walk = await fake.slash("walkthrough", ALICE)
    await start_walk.wait(2)
    intro, step = start_walk.sent
    assert intro["content"] == md(kb.walkthrough().intro)
    assert all(m["flags"] == EPHEMERAL for m in start_walk.sent)
    assert "1 of" in step["content"]
    types = await walk_to_the_end(fake, step, ALICE)
    walk = kb.walkthrough()
    assert types == [UPDATE_MESSAGE] * len(types)
    assert len(types) >= len(walk.checklist) + len(walk.steps)
    final = fake.messages[int(step["id"])]
    assert final["content"] == md(walk.done)
    # "Tell me more" also edits in place, adding the explanation
    again = await fake.slash("walkthrough", ALICE)
    await again.wait(2)
    more = await fake.press(again.sent[-1], kb.ui("button_more"), ALICE)
    await more.wait()
    assert more.callback_type == UPDATE_MESSAGE
    assert len(more.edits[0]["content"]) > len(again.sent[-1]["content"])


async def test_an_edit_goes_first_and_the_rest_follow_up(fake: FakeDiscord, kb: Knowledge) -> None:
    class ScriptedEngine(Engine):
        async def handle(self, message: IncomingMessage) -> list[Reply]:
            if message.payload is None:
                return [Reply("Pick:", ((Button("Go", "c:go:abcd1234"),),))]
            return [
                Reply("Only for you", private=True),
                Reply("Moved on", ((Button("Again", "c:go:abcd1234"),),), edit=True),
                Reply("And one more thing"),
            ]

    bot = await start(fake, ScriptedEngine(kb))
    try:
        pick = await fake.slash("help", ALICE, guild=False)
        await pick.wait()
        press = await fake.press(pick.sent[0], "Go", ALICE)
        await press.wait(3)
        assert press.callback_type == UPDATE_MESSAGE
        assert press.edits[0]["content"] == "Moved on"
        assert [b["label"] for b in FakeDiscord.buttons(press.edits[0])] == ["Again"]
        assert [(m["content"], m["flags"]) for m in press.sent] == [
            ("Only for you", EPHEMERAL),  # private even in a DM
            ("And one more thing", 0),
        ]
    finally:
        await bot.stop()


async def test_a_button_pressed_by_another_member_is_refused_privately(
    fake: FakeDiscord, running: Running, kb: Knowledge
) -> None:
    walk = await fake.slash("walkthrough", ALICE, public=False)
    await walk.wait(2)
    message = walk.sent[-1]
    before = dict(fake.messages[int(message["id"])])
    press = await fake.press(message, "Done", BOB)
    await press.wait()
    assert press.callback_type == MESSAGE
    assert press.data["flags"] == EPHEMERAL
    assert press.data["content"] == md(kb.ui("not_your_button"))
    assert fake.messages[int(message["id"])] == before  # Alice's message untouched
    mine = await fake.press(message, "Done", ALICE)
    await mine.wait()
    assert mine.callback_type == UPDATE_MESSAGE


async def test_forget_asks_then_edits_the_question(
    fake: FakeDiscord, running: Running, kb: Knowledge
) -> None:
    ask = await fake.slash("forget", ALICE)
    await ask.wait()
    press = await fake.press(ask.sent[0], kb.ui("button_forget_yes"), ALICE)
    await press.wait()
    assert press.callback_type == UPDATE_MESSAGE
    assert press.edits[0]["content"] == md(kb.ui("forgotten"))
    assert press.edits[0]["components"] == []  # the yes/no buttons are gone


async def test_old_buttons_work_after_a_restart(
    fake: FakeDiscord, kb: Knowledge, tmp_path: Path
) -> None:
    db = tmp_path / "sessions.sqlite3"
    first = await start(fake, Engine(kb, SqliteStore(db)))
    walk = await fake.slash("walkthrough", ALICE)
    await walk.wait(2)
    message = walk.sent[-1]
    press = await fake.press(message, "Done", ALICE)
    await press.wait()
    assert "2 of" in fake.messages[int(message["id"])]["content"]
    await first.stop()
    await first.bot.engine.close()

    second = await start(fake, Engine(kb, SqliteStore(db)))  # a new process, same file
    try:
        assert second.bot.client is not first.bot.client
        press = await fake.press(message, "Done", ALICE)  # the button from before the restart
        await press.wait()
        assert press.callback_type == UPDATE_MESSAGE
        assert "3 of" in fake.messages[int(message["id"])]["content"]
    finally:
        await second.stop()
        await second.bot.engine.close()


# -- limits ----------------------------------------------------------------------------------------


async def test_long_replies_are_split_and_big_button_sets_packed(
    fake: FakeDiscord, kb: Knowledge
) -> None:
    paragraphs = "\n\n".join(f"**Part {n}.** " + "words and more words " * 20 for n in range(20))
    many = tuple((Button(f"Topic {n}", f"a:t{n}:abcd1234"),) for n in range(30))

    class LongEngine(Engine):
        async def handle(self, message: IncomingMessage) -> list[Reply]:
            return [Reply(paragraphs, many)]

    bot = await start(fake, LongEngine(kb))
    try:
        exchange = await fake.slash("help", ALICE)
        pieces = render(Reply(paragraphs, many))
        await exchange.wait(len(pieces))
        await asyncio.sleep(0.1)
        sent = exchange.sent
        assert len(sent) == len(pieces) >= 4
        assert all(len(m["content"]) <= 2000 for m in sent)
        assert "".join(m["content"] for m in sent).count("**Part") == 20
        labels = [b["label"] for m in sent for b in FakeDiscord.buttons(m)]
        assert labels == [f"Topic {n}" for n in range(30)]  # all there, in order, 5x5 at most
        assert all(len(m.get("components", [])) <= 5 for m in sent)
        assert all(m["flags"] == EPHEMERAL for m in sent)
    finally:
        await bot.stop()


def test_layout_keeps_engine_rows_when_they_fit() -> None:
    b = Button("x", "c:x:1")
    assert layout(((b,), (b, b))) == [[[b], [b, b]]]
    grids = layout(tuple((b,) for _ in range(7)))
    assert [len(row) for row in grids[0]] == [5, 2]
    assert layout(()) == []


async def test_button_view_serialises_as_a_view_of_persistent_buttons() -> None:
    """button_view makes the component dicts directly; they must be what discord.py makes from
    a View of the persistent button class (labels clipped, custom_id prefixed, rows kept), and
    the view must be finished, so discord.py keeps nothing per message."""
    import discord

    from adapters.discord import button_view, persistent_button_class

    rows = [
        [Button("Next ▶", "n:s2:ab"), Button("Back", "b:s2:ab")],
        [Button("x" * 120, "c:x:1")],
        [Button("¿Cuánto tarda?", "e:how-long:ab"), Button("3", "3"), Button("é", "é" * 30)],
    ]
    reference = discord.ui.View(timeout=None)
    make = persistent_button_class()
    for number, row in enumerate(rows):
        for button in row:
            reference.add_item(make(button.label, button.payload, row=number))
    view = button_view(rows)
    assert view.to_components() == reference.to_components()
    assert view.is_finished() and not view.is_dispatchable() and not view.has_components_v2()
    with pytest.raises(ValueError):
        button_view([[Button("empty", "")]])


# -- resilience ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500])
async def test_rate_limits_and_server_errors_on_the_callback_are_retried(
    fake: FakeDiscord, running: Running, status: int
) -> None:
    fake.fail_next(status, 1)
    exchange = await fake.slash("ask", ALICE, question="how long does deletion take")
    await exchange.wait(timeout=6)
    assert [c.status for c in fake.calls_to("/callback")] == [status, 200]
    assert exchange.callback_type == MESSAGE


async def test_a_rate_limit_on_command_sync_is_waited_out(fake: FakeDiscord, kb: Knowledge) -> None:
    fake.fail_next(429, 1, path="/commands")  # the bot's own REST client, not the webhook one
    bot = await start(fake, Engine(kb))
    try:
        assert [c.status for c in fake.calls_to("/commands", "PUT")] == [429, 200]
        assert {c["name"] for c in fake.commands[fake.guild_id]} >= {"ask", "faq"}
    finally:
        await bot.stop()


async def test_an_exception_is_logged_and_answered_with_an_apology(
    fake: FakeDiscord, kb: Knowledge, caplog: pytest.LogCaptureFixture
) -> None:
    class FragileEngine(Engine):
        async def handle(self, message: IncomingMessage) -> list[Reply]:
            if "boom" in message.text:
                raise RuntimeError("kaboom")
            return await super().handle(message)

    bot = await start(fake, FragileEngine(kb))
    try:
        broken = await fake.slash("ask", ALICE, question="boom")
        await broken.wait()
        assert broken.data["content"] == md(kb.ui("error"))
        assert broken.data["flags"] == EPHEMERAL
        assert "kaboom" in caplog.text
        fine = await fake.slash("ask", ALICE, question="how long does deletion take")
        await fine.wait()
        assert "24 hours" in fine.data["content"]
    finally:
        await bot.stop()


async def test_a_slow_answer_is_deferred_then_delivered(fake: FakeDiscord, kb: Knowledge) -> None:
    class SlowEngine(Engine):
        async def handle(self, message: IncomingMessage) -> list[Reply]:
            await asyncio.sleep(0.3)
            return await super().handle(message)

    bot = await start(fake, SlowEngine(kb), defer_after=0.05)
    try:
        ask = await fake.slash("ask", ALICE, question="how long does deletion take")
        await ask.wait()  # the deferred "thinking" message, edited with the answer
        assert ask.callback_type == DEFERRED_MESSAGE
        assert ask.data == {"flags": EPHEMERAL}
        assert "24 hours" in ask.edits[0]["content"]
        assert fake.calls_to("/messages/@original", "PATCH")

        walk = await fake.slash("walkthrough", ALICE)
        await walk.wait(2)
        assert walk.edits[0]["content"] == md(kb.walkthrough().intro)  # in the "thinking" one
        press = await fake.press(walk.sent[-1], "Done", ALICE)
        await press.wait()
        assert press.callback_type == DEFERRED_UPDATE
        assert "2 of" in press.edits[0]["content"]
    finally:
        await bot.stop()


async def test_shutdown_lets_answers_in_progress_finish(fake: FakeDiscord, kb: Knowledge) -> None:
    class SlowEngine(Engine):
        async def handle(self, message: IncomingMessage) -> list[Reply]:
            await asyncio.sleep(0.3)
            return await super().handle(message)

    bot = await start(fake, SlowEngine(kb))
    exchange = await fake.slash("ask", ALICE, question="how long does deletion take")
    await asyncio.sleep(0.05)  # the bot is now busy with it
    await bot.stop()
    assert exchange.callback_type == MESSAGE and "24 hours" in exchange.data["content"]


async def test_a_command_the_bot_does_not_know_gets_an_apology(
    fake: FakeDiscord, running: Running, kb: Knowledge
) -> None:
    exchange = await fake.slash("removed_long_ago", ALICE)  # e.g. left over from an old sync
    await exchange.wait()
    assert exchange.data["content"] == md(kb.ui("error"))
    assert exchange.data["flags"] == EPHEMERAL


async def test_the_token_is_never_logged(
    fake: FakeDiscord, kb: Knowledge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await start(fake, Engine(kb))
    try:
        exchange = await fake.slash("ask", ALICE, question="how long does deletion take")
        await exchange.wait()
        logging.getLogger("discord.http").debug("oops: Bot %s", fake.token)  # a would-be leak
    finally:
        await bot.stop()
    assert "discord.gateway" in caplog.text  # DEBUG records from the library were captured
    assert fake.token not in caplog.text
    assert "[REDACTED]" in caplog.text


async def test_many_members_at_once(fake: FakeDiscord, running: Running) -> None:
    members = [Member(200000000000000000 + n, f"m{n}") for n in range(30)]
    exchanges = await asyncio.gather(
        *(fake.slash("ask", m, question="how long does deletion take") for m in members)
    )
    await asyncio.gather(*(e.wait() for e in exchanges))
    assert all("24 hours" in e.data["content"] for e in exchanges)


# -- configuration ---------------------------------------------------------------------------------


def test_sync_option_and_token_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_sync("global") == ("global", ())
    assert parse_sync("none") == ("none", ())
    assert parse_sync("guild:1,22") == ("guild", (1, 22))
    for bad in ("guild:", "guild:abc", "everywhere"):
        with pytest.raises(Exception, match="expected global"):
            parse_sync(bad)
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    assert load_token("discord", "DISCORD_BOT_TOKEN", None, "hint") is None
    monkeypatch.setenv("DISCORD_BOT_TOKEN", " from-env ")
    assert load_token("discord", "DISCORD_BOT_TOKEN", None, "hint") == "from-env"
    secret = tmp_path / "token"
    secret.write_text("from-file\n")
    assert load_token("discord", "DISCORD_BOT_TOKEN", str(secret), "hint") == "from-file"
    secret.write_text("  \n")
    assert load_token("discord", "DISCORD_BOT_TOKEN", str(secret), "hint") is None
    assert load_token("discord", "DISCORD_BOT_TOKEN", str(tmp_path / "missing"), "hint") is None


def test_importing_the_adapter_does_not_import_discord_py() -> None:
    code = "import sys, adapters.discord, bot.cli; print('discord' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "False"


# -- the real command ------------------------------------------------------------------------------


def helpbot_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "HELPBOT_"))}
    env.update(extra)
    return env


async def test_helpbot_discord_answers_and_exits_cleanly_on_sigterm(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "discord",
        "--db", str(tmp_path / "s.sqlite3"),
        "--sync", f"guild:{fake.guild_id}",
        "--api-base", fake.api_base,
        "--gateway-url", fake.gateway_url,
        "--log-level", "DEBUG",
        env=helpbot_env(DISCORD_BOT_TOKEN=fake.token),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await fake.wait_identified(timeout=60)
        exchange = await fake.slash("ask", ALICE, question="how long does deletion take")
        await exchange.wait()
        assert "24 hours" in exchange.data["content"]
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 45)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert fake.token.encode() not in stderr
    assert (tmp_path / "s.sqlite3").exists()


def test_helpbot_discord_without_a_token_explains_what_to_do(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "discord", "--db", ":memory:"],
        capture_output=True, text=True, env=helpbot_env(), cwd=tmp_path, timeout=30,
    )  # fmt: skip
    assert out.returncode != 0
    assert "DISCORD_BOT_TOKEN" in out.stderr and "--token-file" in out.stderr


async def test_helpbot_discord_with_a_rejected_token_exits_1(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "discord", "--db", ":memory:", "--sync", "none",
        "--api-base", fake.api_base, "--gateway-url", fake.gateway_url,
        env=helpbot_env(DISCORD_BOT_TOKEN="not-the-right-token-at-all"),
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 45)
    assert process.returncode == 1
    assert b"rejected the bot token" in stderr
    assert b"not-the-right-token-at-all" not in stderr


# -- issue 9.15 and 9.16: answers survive failures, every interaction gets a response ------------


@pytest.mark.parametrize("status", [500, 503])
async def test_two_server_errors_on_the_callback_still_deliver_the_answer(
    fake: FakeDiscord, running: Running, kb: Knowledge, status: int
) -> None:
    fake.fail_next(status, 2)
    exchange = await fake.slash("ask", ALICE, question="how long does deletion take")
    await exchange.wait(timeout=6)
    assert [c.status for c in fake.calls_to("/callback")] == [status, status, 200]
    # The retry is a deferral (well inside the 3 s the fake enforces), then the answer as an edit.
    assert exchange.callback_type == DEFERRED_MESSAGE
    assert exchange.callback_at is not None
    assert exchange.callback_at - exchange.dispatched_at < 3.0
    if not exchange.edits:
        await exchange.wait(timeout=6)
    assert "24 hours" in exchange.edits[0]["content"]
    assert md(kb.ui("error")) not in str(exchange.sent + exchange.edits)


async def test_six_rate_limits_in_a_row_still_deliver_the_answer(
    fake: FakeDiscord, running: Running, kb: Knowledge
) -> None:
    fake.fail_next(429, 6)
    exchange = await fake.slash("ask", ALICE, question="how long does deletion take")
    await exchange.wait(timeout=6)
    assert [c.status for c in fake.calls_to("/callback")] == [429] * 6 + [200]
    assert exchange.callback_type == DEFERRED_MESSAGE
    assert "24 hours" in exchange.edits[0]["content"]
    assert md(kb.ui("error")) not in str(exchange.sent + exchange.edits)


async def test_a_button_that_is_not_ours_is_answered_and_logged(
    fake: FakeDiscord, running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    steps = await fake.slash("steps", ALICE)
    await steps.wait()
    caplog.set_level(logging.WARNING, logger="adapters.discord")
    press = await fake.press_custom_id(steps.sent[0], "other-bot:vote:42", ALICE)
    await press.wait()
    assert press.callback is not None  # answered (as a stale button), not left spinning
    assert "unknown custom_id" in caplog.text and "other-bot:vote:42" in caplog.text


async def test_autocomplete_for_an_unknown_command_gets_no_choices_not_an_error(
    fake: FakeDiscord, running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    exchange = await fake.autocomplete("removed_long_ago", ALICE, "topic", "how")
    await exchange.wait_callback()
    assert exchange.callback == {"type": AUTOCOMPLETE, "data": {"choices": []}}
    assert [c.status for c in fake.calls_to("/callback")] == [200]  # no rejected apology
    assert "removed_long_ago" in caplog.text


async def test_a_gateway_down_at_start_up_is_retried_with_backoff(
    fake: FakeDiscord, kb: Knowledge, caplog: pytest.LogCaptureFixture
) -> None:
    fake.gateway_refusals = 2
    caplog.set_level(logging.ERROR, logger="adapters.discord")
    bot = await start(fake, Engine(kb), connect_backoff=(0.05, 0.1))
    try:
        exchange = await fake.slash("ask", ALICE, question="how long does deletion take")
        await exchange.wait()
        assert "24 hours" in exchange.data["content"]
    finally:
        await bot.stop()
    assert fake.gateway_refusals == 0
    assert "cannot reach the Discord gateway" in caplog.text
    assert "AttributeError" not in caplog.text


async def test_rating_buttons_keep_working_after_a_restart(
    fake: FakeDiscord, kb: Knowledge, tmp_path: Path
) -> None:
    from bot.events import SqliteEventLog

    db = tmp_path / "sessions.sqlite3"
    first = await start(fake, Engine(kb, SqliteStore(db), events=SqliteEventLog(db)))
    ask = await fake.slash("ask", ALICE, question="how long does deletion take")
    await ask.wait()
    message = ask.sent[-1]
    assert [b["label"] for b in FakeDiscord.buttons(message)][-2:] == [
        "👍 Helpful",
        "👎 Not helpful",
    ]
    await first.stop()
    await first.bot.engine.close()

    log = SqliteEventLog(db)
    second = await start(fake, Engine(kb, SqliteStore(db), events=log))
    try:
        press = await fake.press(message, "Not helpful", ALICE)  # pressed after the restart
        await press.wait()
        shown = [m.get("content", "") for m in press.messages]
        assert any(kb.ui("feedback_sorry", "en")[:30] in text for text in shown), shown
        rated = [e for e in await log.events(0) if e.kind == "feedback"]
        assert [(e.entry, e.rating) for e in rated] == [("processing_time", -1)]
    finally:
        await second.stop()
        await second.bot.engine.close()


def test_the_callback_answer_drops_only_the_echoed_message() -> None:
    """The adapter never reads the message Discord echoes back in a callback's answer, so
    discord.py is spared parsing it; the interaction part (message id, flags) stays."""
    from adapters.discord import _without_message

    answer = {
        "interaction": {"id": "1", "type": 2, "response_message_id": "9"},
        "resource": {"type": 4, "message": {"id": "9", "components": []}},
    }
    assert _without_message(answer) == {
        "interaction": {"id": "1", "type": 2, "response_message_id": "9"},
        "resource": {"type": 4},
    }
    assert _without_message({"interaction": {"id": "2"}}) == {"interaction": {"id": "2"}}
    assert _without_message("") == ""
