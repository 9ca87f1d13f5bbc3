"""The Telegram adapter end to end: real python-telegram-bot against a local fake Bot API.

Each test starts the fake server (tests/fake_telegram.py) and the adapter in this event loop,
plays people by pushing updates, and asserts on the Bot API calls the bot made.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from adapters import telegram as tg
from bot.engine import Engine
from bot.knowledge import Knowledge
from bot.sessions import MemoryStore, SqliteStore
from bot.types import Button, IncomingMessage, Reply
from tests.fake_telegram import Call, FakeTelegram, parse_html

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@asynccontextmanager
async def running(
    fake: FakeTelegram, engine: Engine, webhook: tg.Webhook | None = None
) -> AsyncIterator[Engine]:
    adapter = tg.TelegramAdapter(
        engine, token=fake.token, base_url=fake.base_url, webhook=webhook, backoff=0.05,
        poll_timeout=2,
    )  # fmt: skip
    await adapter.start()
    running = asyncio.create_task(adapter.run())  # as `Adapter.serve` does
    try:
        yield engine
    finally:
        await adapter.stop()
        await asyncio.wait_for(running, 5)
        await engine.close()


@pytest.fixture
async def bot(fake: FakeTelegram, knowledge: Knowledge) -> AsyncIterator[Engine]:
    async with running(fake, Engine(knowledge, MemoryStore())) as engine:
        yield engine


def texts(calls: list[Call]) -> list[str]:
    """What people see: the plain text of each sent or edited message."""
    return [parse_html(call.params["text"]) for call in calls]


def labels(call: Call) -> list[str]:
    markup = call.params.get("reply_markup") or {}
    return [button["text"] for row in markup.get("inline_keyboard", []) for button in row]


# -- start-up ----------------------------------------------------------------------------


async def test_start_registers_the_command_menu_in_every_language(fake, bot, knowledge):
    default = [c["command"] for c in fake.commands[""]]
    assert default == list(bot.commands())
    assert {"start", "help", "ask", "steps", "faq", "checklist", "walkthrough"} <= set(default)
    for lang in knowledge.languages:
        if lang != "en":
            assert [c["description"] for c in fake.commands[lang]] == list(
                bot.commands(lang).values()
            )
    [poll] = await fake.wait_for("getUpdates")
    assert set(poll.params["allowed_updates"]) == {"message", "callback_query", "inline_query"}


def test_importing_the_adapter_does_not_import_telegram():
    code = "import sys, adapters.telegram; sys.exit('telegram' in sys.modules)"
    assert subprocess_run([sys.executable, "-c", code]).returncode == 0


# -- private chats -----------------------------------------------------------------------


async def test_private_walkthrough_edits_the_message_in_place(fake, bot, knowledge):
    walk = knowledge.walkthrough()
    ann = fake.user(101, "Ann")
    fake.send_text(ann, "/walkthrough")
    intro, first = await fake.wait_for("sendMessage", 2)
    assert walk.intro.split("\n")[0][:40] in parse_html(intro.params["text"])
    assert walk.checklist[0].prompt in parse_html(first.params["text"])
    assert "✅ Done" in labels(first)

    mark = len(fake.calls)
    query = fake.press(ann, first.result, "Done")
    [edit] = await fake.wait_for("editMessageText", since=mark)
    assert edit.params["message_id"] == first.result["message_id"]
    assert walk.checklist[1].prompt in parse_html(edit.params["text"])
    [answer] = fake.calls_of("answerCallbackQuery", mark)
    assert answer.params["callback_query_id"] == query and not answer.params.get("text")

    mark = len(fake.calls)
    fake.press(ann, first.result, "Tell me more")
    [edit] = await fake.wait_for("editMessageText", since=mark)
    more = knowledge.entry(walk.checklist[1].entry).answer.split("\n")[0][:30]
    assert more in parse_html(edit.params["text"])
    assert edit.params["message_id"] == first.result["message_id"]

    # Typed words work too, and answer with a new message.
    mark = len(fake.calls)
    fake.send_text(ann, "back")
    [step] = await fake.wait_for("sendMessage", since=mark)
    assert walk.checklist[0].prompt in parse_html(step.params["text"])
    mark = len(fake.calls)
    fake.send_text(ann, "back")
    notice, step = await fake.wait_for("sendMessage", 2, since=mark)
    assert parse_html(notice.params["text"]) == knowledge.ui("already_first")
    assert len(fake.calls_of("answerCallbackQuery")) == 2  # one per press, never more


async def test_pressing_the_same_button_twice_is_harmless(fake, bot, knowledge):
    ann = fake.user(102, "Ann")
    fake.send_text(ann, "/walkthrough")
    _, first = await fake.wait_for("sendMessage", 2)
    mark = len(fake.calls)
    fake.press(ann, first.result, "Tell me more")
    fake.press(ann, first.result, "Tell me more")
    await fake.wait_for("answerCallbackQuery", 2, since=mark)
    await fake.settle()
    edits = fake.calls_of("editMessageText", mark, ok=False)
    assert [c.status for c in edits] == [200, 400]  # the second: "message is not modified"
    assert fake.calls_of("sendMessage", mark) == []


async def test_questions_commands_and_deep_links(fake, bot, knowledge):
    ann = fake.user(103, "Ann")
    fake.send_text(ann, "how long does deletion take?")
    [answer] = await fake.wait_for("sendMessage")
    assert knowledge.entry("processing_time").title in parse_html(answer.params["text"])
    assert answer.params["parse_mode"] == "HTML" and "<b>" in answer.params["text"]
    assert answer.params["link_preview_options"] == {"is_disabled": True}
    assert answer.params["chat_id"] == ann["id"] and "reply_parameters" not in answer.params
    assert all(
        set(button) == {"text", "callback_data"}
        for row in answer.params["reply_markup"]["inline_keyboard"]
        for button in row
    )

    mark = len(fake.calls)
    fake.send_text(ann, "/faq")
    [faq] = await fake.wait_for("sendMessage", since=mark)
    topic = knowledge.entry("wallet_funds").title
    assert topic in labels(faq)
    mark = len(fake.calls)
    fake.press(ann, faq.result, topic)
    [answer] = await fake.wait_for("sendMessage", since=mark)
    assert parse_html(answer.params["text"]).startswith(topic)
    assert fake.calls_of("editMessageText", mark) == []  # an answer is a new message

    mark = len(fake.calls)
    fake.send_text(ann, "/start walkthrough")  # t.me/<bot>?start=walkthrough
    intro, _ = await fake.wait_for("sendMessage", 2, since=mark)
    assert knowledge.walkthrough().intro[:30] in parse_html(intro.params["text"])

    mark = len(fake.calls)
    fake.send_text(ann, "/ask what happens to my wallet money")
    [answer] = await fake.wait_for("sendMessage", since=mark)
    assert topic in parse_html(answer.params["text"])


async def test_one_persons_replies_arrive_in_order(fake, bot, knowledge):
    ann = fake.user(104, "Ann")
    for command in ("/faq", "/steps", "/checklist", "/help"):
        fake.send_text(ann, command)
    sent = await fake.wait_for("sendMessage", 4)
    headers = [knowledge.ui(k).split("**")[1][:20] for k in ("faq_header", "steps_header")]
    assert headers[0] in texts(sent)[0] and headers[1] in texts(sent)[1]
    assert knowledge.ui("help").split("**")[1] in texts(sent)[3]


async def test_replies_of_several_messages_keep_the_order_of_the_updates(fake, bot, knowledge):
    """'/walkthrough' answers with two messages; the 'next' typed right after must not
    overtake the second one (the engine serialises handling, not sending)."""
    checks = [c.prompt for c in knowledge.walkthrough().checklist]
    people = [fake.user(110 + n, "Ann") for n in range(8)]
    for person in people:
        for text in ("/walkthrough", "next", "next"):
            fake.send_text(person, text)
    await fake.wait_for("sendMessage", 4 * len(people), timeout=10)
    for person in people:
        sent = [c for c in fake.calls_of("sendMessage") if c.params["chat_id"] == person["id"]]
        shown = texts(sent)
        assert len(shown) == 4
        assert [checks[n] in shown[n + 1] for n in range(3)] == [True] * 3, shown


async def test_a_button_on_a_message_that_cannot_be_edited_sends_a_new_one(fake, bot, knowledge):
    ann = fake.user(105, "Ann")
    fake.send_text(ann, "/walkthrough")
    _, first = await fake.wait_for("sendMessage", 2)
    # The same buttons on a message Telegram no longer lets us edit (here: unknown to it).
    ghost = {**first.result, "message_id": 999}
    mark = len(fake.calls)
    fake.callback(ann, ghost, fake.button(first.result, "Done"))
    [sent] = await fake.wait_for("sendMessage", since=mark)
    assert knowledge.walkthrough().checklist[1].prompt in parse_html(sent.params["text"])
    assert [c.status for c in fake.calls_of("editMessageText", mark, ok=False)] == [400]


# -- groups ------------------------------------------------------------------------------


async def test_group_answers_when_addressed_and_stays_silent_otherwise(fake, bot, knowledge):
    group = fake.group()
    ann, bob = fake.user(201, "Ann"), fake.user(202, "Bob")
    title = knowledge.entry("processing_time").title

    fake.send_text(ann, "anyone know how long deletion takes?", chat=group)
    fake.send_text(bob, "no idea, ask the bot /weather", chat=group)
    fake.send_text(bob, "/weather", chat=group)  # another bot's command
    fake.send_text(bob, "/faq@some_other_bot", chat=group)
    service = fake.message(bob, None, group, new_chat_members=[fake.user(203, "Cy")])
    fake.push({"message": service})
    await fake.settle()
    assert fake.calls_of("sendMessage") == []

    question = fake.send_text(ann, f"@{fake.username} how long does deletion take?", chat=group)
    [answer] = await fake.wait_for("sendMessage")
    assert title in parse_html(answer.params["text"])
    assert answer.params["reply_parameters"] == {
        "message_id": question["message_id"],
        "allow_sending_without_reply": True,
    }

    mark = len(fake.calls)
    fake.send_text(bob, "what happens to my wallet money?", chat=group, reply_to=answer.result)
    [answer] = await fake.wait_for("sendMessage", since=mark)
    assert knowledge.entry("wallet_funds").title in parse_html(answer.params["text"])

    mark = len(fake.calls)
    fake.send_text(bob, f"/faq@{fake.username}", chat=group)
    fake.send_text(ann, "/steps", chat=group)
    await fake.wait_for("sendMessage", 2, since=mark)


async def test_group_button_pressed_by_someone_else_is_refused(fake, bot, knowledge):
    group = fake.group(-1009876543210, "Shoppers")
    ann, bob = fake.user(211, "Ann"), fake.user(212, "Bob")
    fake.send_text(ann, f"/walkthrough@{fake.username}", chat=group)
    _, first = await fake.wait_for("sendMessage", 2)

    mark = len(fake.calls)
    fake.press(bob, first.result, "Done")
    [answer] = await fake.wait_for("answerCallbackQuery", since=mark)
    assert answer.params["text"] == knowledge.ui("not_your_button")
    assert answer.params.get("show_alert") in (None, False)
    await fake.settle()
    assert fake.calls_of("editMessageText", mark) == fake.calls_of("sendMessage", mark) == []

    # Ann's walkthrough is untouched; Bob's own walkthrough in the same group is separate.
    fake.press(ann, first.result, "Done")
    [edit] = await fake.wait_for("editMessageText", since=mark)
    assert knowledge.walkthrough().checklist[1].prompt in parse_html(edit.params["text"])
    mark = len(fake.calls)
    fake.send_text(bob, "/walkthrough", chat=group)
    _, bobs = await fake.wait_for("sendMessage", 2, since=mark)
    assert knowledge.walkthrough().checklist[0].prompt in parse_html(bobs.params["text"])


# -- inline mode -------------------------------------------------------------------------


async def test_inline_query_offers_answers_ready_to_share(fake, bot, knowledge):
    ann = fake.user(301, "Ann")
    query = fake.inline(ann, "what happens to my wallet money")
    [call] = await fake.wait_for("answerInlineQuery")
    assert call.params["inline_query_id"] == query
    results = call.params["results"]
    assert results[0]["id"] == "wallet_funds"
    content = results[0]["input_message_content"]
    assert content["parse_mode"] == "HTML"
    shared = parse_html(content["message_text"])
    assert shared.startswith(knowledge.entry("wallet_funds").title)

    mark = len(fake.calls)
    fake.inline(ann, "")
    [call] = await fake.wait_for("answerInlineQuery", since=mark)
    faq = [knowledge.entry(i).title for i in knowledge.pack("en").faq_topics]
    assert [r["title"] for r in call.params["results"]] == faq


# -- formatting and limits ---------------------------------------------------------------


async def test_markup_characters_arrive_escaped(fake, bot):
    ann = fake.user(401, "Ann")
    fake.send_text(ann, "/<b>&*_[]")  # not a command entity: the engine says it is unknown
    [call] = await fake.wait_for("sendMessage")
    assert "/&lt;b&gt;&amp;*_[]" in call.params["text"]
    assert "/<b>&*_[]" in parse_html(call.params["text"])

    group = fake.group()
    mark = len(fake.calls)
    fake.send_text(ann, f"@{fake.username} <i>wallet</i> & *money* _[x](y)", chat=group)
    fake.send_text(ann, "<b>&*_[]</b> how long </a>", reply_to=call.result)
    await fake.wait_for("sendMessage", 2, since=mark)
    assert [c.status for c in fake.calls_of("sendMessage", mark, ok=False)] == [200, 200]


class _LongEngine(Engine):
    """The shipped engine, plus one very long reply (no shipped answer is that long)."""

    LONG = "\n\n".join(
        f"**Part {n}** <&> " + "word " * (40 + n % 300) + "[link](https://example.com/x)"
        for n in range(60)
    )

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        if message.text == "long":
            return [Reply(self.LONG, ((Button("Again", "c:faq:x"),),))]
        return await super().handle(message)


async def test_long_messages_are_split_and_never_crash(fake, knowledge):
    async with running(fake, _LongEngine(knowledge, MemoryStore())):
        ann = fake.user(402, "Ann")
        fake.send_text(ann, "how do i delete " * 625)  # 10,000 characters
        await fake.wait_for("sendMessage")
        mark = len(fake.calls)
        fake.send_text(ann, "long")
        await fake.settle()
        sent = fake.calls_of("sendMessage", mark, ok=False)
        assert len(sent) >= 3 and all(c.status == 200 for c in sent)
        assert all(len(text) <= 4096 for text in texts(sent))
        assert "".join(texts(sent)).count("Part ") == 60
        assert [bool(labels(c)) for c in sent] == [False] * (len(sent) - 1) + [True]


def test_render_keeps_every_piece_valid_and_within_limits():
    markup = "\n\n".join(f"**{n}** 😀 <&> [a](https://x.y/{n}) " + "é😀 " * 900 for n in range(5))
    pieces = tg.split_html(markup)
    assert len(pieces) > 1
    for piece in pieces:
        plain = parse_html(piece)  # raises on broken HTML
        assert len(plain.encode("utf-16-le")) // 2 <= 4096


# -- resilience --------------------------------------------------------------------------


async def test_flood_control_is_waited_out_and_the_reply_delivered(fake, bot):
    ann = fake.user(501, "Ann")
    fake.fail("sendMessage", times=1, status=429, retry_after=1)
    fake.send_text(ann, "how long does deletion take?")
    [sent] = await fake.wait_for("sendMessage", timeout=10)
    refused, delivered = fake.calls_of("sendMessage", ok=False)
    assert refused.status == 429 and delivered is sent
    assert delivered.at - refused.at >= 0.9


async def test_server_errors_are_retried(fake, bot):
    ann = fake.user(502, "Ann")
    fake.fail("sendMessage", times=2, status=500)
    fake.fail("answerCallbackQuery", times=1, status=502)
    fake.send_text(ann, "/faq")
    [faq] = await fake.wait_for("sendMessage", timeout=10)
    assert [c.status for c in fake.calls_of("sendMessage", ok=False)] == [500, 500, 200]
    fake.press(ann, faq.result, "wallet")
    await fake.wait_for("answerCallbackQuery")
    await fake.wait_for("sendMessage", 2)
    assert [c.status for c in fake.calls_of("answerCallbackQuery", ok=False)] == [502, 200]


async def test_a_failing_update_is_logged_and_the_bot_carries_on(fake, bot, caplog):
    ann, bob = fake.user(503, "Ann"), fake.user(504, "Bob")
    fake.fail("sendMessage", times=1, status=403)  # Forbidden: bot was blocked by the user
    update_id = fake.push({"message": fake.message(ann, "/help")})
    await fake.settle()
    assert f"update {update_id} failed" in caplog.text
    fake.send_text(bob, "/help")
    await fake.wait_for("sendMessage")


async def test_stickers_photos_and_edits_never_crash(fake, bot, knowledge):
    ann = fake.user(505, "Ann")
    sticker = {
        "file_id": "CAACAgIAAxkBAAE",
        "file_unique_id": "AgADAQADcQ",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": "👍",
    }
    fake.push({"message": fake.message(ann, None, sticker=sticker)})
    [reply] = await fake.wait_for("sendMessage")
    assert parse_html(reply.params["text"]) == knowledge.ui("not_text").strip()

    photo = [{"file_id": "AgACAgIAAxk", "file_unique_id": "AQADx", "width": 90, "height": 90}]
    mark = len(fake.calls)
    fake.push({"message": fake.message(ann, None, photo=photo, caption="how long does it take?")})
    [reply] = await fake.wait_for("sendMessage", since=mark)
    assert knowledge.entry("processing_time").title in parse_html(reply.params["text"])

    mark = len(fake.calls)
    edited = fake.message(ann, "how do I delete my account", edit_date=int(time.time()))
    fake.push({"edited_message": edited})
    fake.push(
        {"message": fake.message(fake.user(506, "Bob"), None, sticker=sticker, chat=fake.group())}
    )
    fake.push({"my_chat_member": _member_update(fake, ann)})
    await fake.settle()
    assert fake.calls_of("sendMessage", mark) == []
    fake.send_text(ann, "/help")
    await fake.wait_for("sendMessage", since=mark)


def _member_update(fake: FakeTelegram, user: dict) -> dict:
    member = {"user": fake.bot_user, "status": "member"}
    return {
        "chat": fake.private(user),
        "from": user,
        "date": int(time.time()),
        "old_chat_member": {**member, "status": "kicked", "until_date": 0},
        "new_chat_member": member,
    }


async def test_the_token_never_reaches_a_log_line(fake, knowledge, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "telegram", "adapters"):
        caplog.set_level(logging.DEBUG, logger=name)
    async with running(fake, Engine(knowledge, MemoryStore())):
        ann = fake.user(507, "Ann")
        fake.fail("sendMessage", times=1, status=500)
        fake.fail("getUpdates", times=1, status=500)  # logged with a traceback by the library
        fake.send_text(ann, "/start")
        [start] = await fake.wait_for("sendMessage")
        fake.press(ann, start.result, "FAQ")
        await fake.wait_for("sendMessage", 2, timeout=10)
    assert "getUpdates" in caplog.text and "[REDACTED]" in caplog.text  # httpx URLs, masked
    assert fake.token not in caplog.text
    assert fake.token.split(":")[1] not in caplog.text
    for record in caplog.records:
        assert fake.token not in (record.exc_text or "")


# -- restarts, modes and the command line ------------------------------------------------


async def test_a_restart_mid_walkthrough_resumes_where_it_was(fake, knowledge, tmp_path):
    db = tmp_path / "sessions.sqlite3"
    walk = knowledge.walkthrough()
    ann = fake.user(601, "Ann")
    async with running(fake, Engine(knowledge, SqliteStore(db))):
        fake.send_text(ann, "/walkthrough")
        _, first = await fake.wait_for("sendMessage", 2)
        fake.press(ann, first.result, "Done")
        await fake.wait_for("editMessageText")
    mark = len(fake.calls)
    async with running(fake, Engine(knowledge, SqliteStore(db))):
        # The button on the message from before the restart still works...
        fake.press(ann, first.result, "Done")
        [edit] = await fake.wait_for("editMessageText", since=mark)
        assert walk.checklist[2].prompt in parse_html(edit.params["text"])
        # ...and so does typing.
        fake.send_text(ann, "next")
        [step] = await fake.wait_for("sendMessage", since=mark)
        assert walk.checklist[3].prompt in parse_html(step.params["text"])
    assert len(fake.calls_of("getMe")) == 2


async def test_webhook_mode_checks_the_secret_on_every_request(fake, knowledge):
    port = _free_port()
    secret = "s3cret_token-for-tests"
    hook = tg.Webhook("https://bot.example.com/tg/hook", "127.0.0.1", port, secret)
    async with running(fake, Engine(knowledge, MemoryStore()), webhook=hook):
        assert fake.webhook["url"] == hook.url and fake.webhook["secret_token"] == secret
        ann = fake.user(701, "Ann")
        fake.private(ann)
        update = {"update_id": 90001, "message": fake.message(ann, "/help")}
        url = f"http://127.0.0.1:{port}/tg/hook"
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(url, json=update, headers=headers) as response:
                    assert response.status == 403
            await asyncio.sleep(0.2)
            assert fake.calls_of("sendMessage") == []
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
            async with http.post(url, json=update, headers=headers) as response:
                assert response.status == 200
        await fake.wait_for("sendMessage")
    assert fake.calls_of("getUpdates") == []


async def test_a_wrong_token_stops_with_an_error(fake, knowledge, capsys):
    engine = Engine(knowledge, MemoryStore())
    adapter = tg.TelegramAdapter(engine, token="123456789:" + "x" * 35, base_url=fake.base_url)
    status = await adapter.serve()
    assert status == 1 and "rejected the bot token" in capsys.readouterr().err


async def test_cli_runs_answers_and_stops_cleanly_on_sigterm(fake, tmp_path):
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "HELPBOT_LOG_LEVEL": "INFO"}
    command = [sys.executable, "-m", "bot", "telegram", "--db", str(tmp_path / "s.sqlite3")]
    process = await asyncio.create_subprocess_exec(
        *command,
        "--base-url",
        fake.base_url,
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await fake.wait_for("getUpdates", timeout=30)
        fake.send_text(fake.user(801, "Ann"), "how long does deletion take?")
        await fake.wait_for("sendMessage", timeout=10)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 45)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "is running" in log and fake.token not in log
    assert (tmp_path / "s.sqlite3").exists()


def test_cli_without_a_token_explains_how_to_get_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    result = subprocess_run([sys.executable, "-m", "bot", "telegram", "--db", ":memory:"], env)
    assert result.returncode != 0
    assert "TELEGRAM_BOT_TOKEN" in result.stderr and "BotFather" in result.stderr
    help_text = subprocess_run([sys.executable, "-m", "bot", "telegram", "--help"], env).stdout
    for flag in ("--token-file", "--webhook-url", "--listen", "--port", "--secret-token"):
        assert flag in help_text
    assert "--token " not in help_text


# -- helpers -----------------------------------------------------------------------------


def subprocess_run(command: list[str], env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    import subprocess

    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- feedback ------------------------------------------------------------------------------


async def test_answers_carry_rating_buttons_and_a_thumbs_down_offers_alternatives(
    fake, knowledge, tmp_path
):
    from bot.events import SqliteEventLog

    log = SqliteEventLog(tmp_path / "s.sqlite3")
    async with running(fake, Engine(knowledge, MemoryStore(), events=log)):
        ann = fake.user(101, "Ann")
        fake.send_text(ann, "how long does deletion take")
        [answer] = await fake.wait_for("sendMessage")
        assert labels(answer)[-2:] == ["👍 Helpful", "👎 Not helpful"]  # an inline keyboard
        mark = len(fake.calls)
        fake.press(ann, answer.result, "Not helpful")
        [sorry] = await fake.wait_for("sendMessage", since=mark)
        assert parse_html(sorry.params["text"]) == knowledge.ui("feedback_sorry", "en")
        assert labels(sorry)  # the runners-up, as buttons
        mark = len(fake.calls)
        fake.press(ann, answer.result, "Helpful")  # changes the rating, never counts twice
        await fake.wait_for("answerCallbackQuery", since=mark)
        rated = [e for e in await log.events(0) if e.kind == "feedback"]
        assert [(e.entry, e.rating) for e in rated] == [("processing_time", 1)]


# -- issue 9: defects ----------------------------------------------------------------------


async def _cli(fake: FakeTelegram, tmp_path: Path, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """Run `helpbot telegram ARGS` against the fake until it exits (at most 20 s)."""
    base = {k: v for k, v in os.environ.items() if k != "TELEGRAM_WEBHOOK_SECRET"}
    env = {**base, "TELEGRAM_BOT_TOKEN": fake.token, **(env or {})}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "telegram", "--db", ":memory:", "--base-url", fake.base_url,
        *args,
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), 45)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode, stderr.decode()


async def test_webhook_settings_are_checked_before_connecting(fake, tmp_path):
    """9.8: each bad setting is named at once; nothing is sent to Telegram."""
    cases = [
        (["--webhook-url", "http://bot.example.com/hook"], {}, "https://"),
        (["--webhook-url", "https://bot.example.com:8080/hook"], {}, "port 8080"),
        (["--webhook-url", "https://bot.example.com/hook"], {"TELEGRAM_WEBHOOK_SECRET": "has space!"}, "A-Z a-z 0-9 _ -"),
        (["--webhook-url", "https://bot.example.com/hook"], {"TELEGRAM_WEBHOOK_SECRET": "x" * 257}, "257 characters"),
    ]  # fmt: skip
    started = time.monotonic()
    results = await asyncio.gather(*(_cli(fake, tmp_path, *a, env=e) for a, e, _ in cases))
    for (_, _, expected), (status, stderr) in zip(cases, results, strict=True):
        assert status == 2, stderr
        assert expected in stderr and "Traceback" not in stderr
        assert "has space!" not in stderr  # the secret itself is never shown
    assert fake.calls == []
    assert time.monotonic() - started < 15


async def test_secret_token_comes_from_a_file_or_the_environment_never_the_command_line(
    fake, tmp_path
):
    """9.22: --secret-token is refused (it shows in `ps`); --secret-token-file works."""
    status, stderr = await _cli(
        fake, tmp_path, "--webhook-url", "https://bot.example.com/hook",
        "--secret-token", "visible_in_ps_123",
    )  # fmt: skip
    assert status == 2 and "--secret-token-file" in stderr and "TELEGRAM_WEBHOOK_SECRET" in stderr
    assert "visible_in_ps_123" not in stderr and fake.calls == []

    secret_file = tmp_path / "secret"
    secret_file.write_text("from_a_file_0123456789\n")
    port = _free_port()
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "PYTHONPATH": str(ROOT)}
    env.pop("TELEGRAM_WEBHOOK_SECRET", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "telegram", "--db", ":memory:", "--base-url", fake.base_url,
        "--webhook-url", "https://bot.example.com/hook", "--port", str(port),
        "--secret-token-file", str(secret_file),
        env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await fake.wait_for("setWebhook", timeout=30)
        assert fake.webhook["secret_token"] == "from_a_file_0123456789"
        process.send_signal(signal.SIGTERM)
        _, stderr_bytes = await asyncio.wait_for(process.communicate(), 45)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0 and "from_a_file" not in stderr_bytes.decode()


async def test_kill_9_during_a_burst_loses_no_update(fake, tmp_path):
    """9.11: updates are confirmed only once handled: after kill -9 and a restart every update
    of the burst has its answer (some maybe twice, none never)."""
    crash = _bench_module("telegram_crash")
    outcome = await crash.burst_kill_restart(
        fake, tmp_path, messages=120, presses=40, inline=20, kill_after=40, timeout=60
    )
    assert outcome.answered_before_kill < outcome.updates  # the kill really came mid-burst
    assert outcome.lost.total() == 0, outcome


async def test_a_malformed_update_is_skipped_and_the_rest_answered(fake, bot, caplog):
    """9.12: no re-fetching loop, one log line per bad update, no message text in the log."""
    ann, bob = fake.user(901, "Ann"), fake.user(902, "Bob")
    undated = fake.message(ann, "secret words one")
    del undated["date"]
    anonymous = fake.message(ann, "secret words two")
    anonymous["from"] = {"is_bot": False, "first_name": "Ann"}
    bad = [fake.push({"message": undated}), fake.push({"message": anonymous})]
    fake.send_text(bob, "how long does deletion take?")
    [answer] = await fake.wait_for("sendMessage")
    assert int(answer.params["chat_id"]) == bob["id"]
    await fake.settle()
    assert len(fake.calls_of("getUpdates")) < 10
    skipped = [r.getMessage() for r in caplog.records if "skipped update" in r.getMessage()]
    assert len(skipped) == 2 and all(str(i) in " ".join(skipped) for i in bad)
    assert "secret words" not in caplog.text
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)


async def test_any_text_the_api_can_deliver_gets_a_reply(fake, bot, knowledge):
    """9.13: lone surrogates (valid in JSON, not in UTF-8) in commands, text and captions."""
    ann = fake.user(903, "Ann")
    for text in ("/x\ud800y", "/faq \udfff", "how long does deletion take \ud83d?"):
        mark = len(fake.calls)
        fake.send_text(ann, text)
        [reply] = await fake.wait_for("sendMessage", since=mark)
        assert "\ufffd" not in reply.params["text"] or text.startswith("/x")
    assert knowledge.entry("processing_time").title in parse_html(reply.params["text"])
    mark = len(fake.calls)
    photo = [{"file_id": "AgACAgIAAxk", "file_unique_id": "AQADx", "width": 90, "height": 90}]
    fake.push({"message": fake.message(ann, None, photo=photo, caption="\udc00 wallet money")})
    await fake.wait_for("sendMessage", since=mark)
    mark = len(fake.calls)
    fake.inline(ann, "wallet \ud800")
    await fake.wait_for("answerInlineQuery", since=mark)


async def test_webhook_checks_the_secret_before_reading_the_body(fake, knowledge):
    """9.14: a request without the secret is refused as soon as its headers arrive, and a
    body larger than any update is refused unread, with or without the secret."""
    port = _free_port()
    secret = "s3cret_token-for-tests"
    hook = tg.Webhook("https://bot.example.com/tg/hook", "127.0.0.1", port, secret)

    async def status_after_headers(headers: str, size: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(
                f"POST /tg/hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {size}\r\n{headers}\r\n".encode()
                + b"{" * 1024  # a sliver of the body; the rest never comes
            )
            await writer.drain()
            return await asyncio.wait_for(reader.readline(), 3)
        finally:
            writer.close()

    async with running(fake, Engine(knowledge, MemoryStore()), webhook=hook):
        huge = 99 * 1024 * 1024
        assert b" 403 " in await status_after_headers("", huge)
        assert b" 403 " in await status_after_headers(
            "X-Telegram-Bot-Api-Secret-Token: no\r\n", huge
        )
        good = f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\n"
        assert b" 413 " in await status_after_headers(good, 5 * 1024 * 1024)
        # An ordinary update still works, and is answered only after it was handled.
        ann = fake.user(904, "Ann")
        fake.private(ann)
        update = {"update_id": 90002, "message": fake.message(ann, "/help")}
        async with aiohttp.ClientSession() as http:
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
            url = f"http://127.0.0.1:{port}/tg/hook"
            async with http.post(url, json=update, headers=headers) as response:
                assert response.status == 200
                assert fake.calls_of("sendMessage")  # already sent when Telegram hears "200"


def test_help_examples_put_no_token_on_the_command_line():
    """9.10: the examples in `helpbot telegram --help` read the token from a file."""
    import re

    help_text = subprocess_run([sys.executable, "-m", "bot", "telegram", "--help"]).stdout
    assert "--token-file" in help_text and "--secret-token-file" in help_text
    assert not re.search(r"\d{3,}:[A-Za-z0-9_-]{3,}", help_text)
    assert "TOKEN=" not in help_text and "SECRET=" not in help_text


def _bench_module(name: str):  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


async def test_inline_mode_answers_in_the_language_chosen_with_slash_language(fake, bot, knowledge):
    """Inline queries go through Engine.suggest, so /language (in the private chat) counts
    even though the person's Telegram app is in English."""
    ann = fake.user(905, "Ann", language_code="en")
    fake.send_text(ann, "/language es")
    await fake.wait_for("sendMessage")
    fake.inline(ann, "")
    [call] = await fake.wait_for("answerInlineQuery")
    faq = [knowledge.entry(i, "es").title for i in knowledge.pack("es").faq_topics]
    assert [r["title"] for r in call.params["results"]] == faq
    assert call.params["is_personal"] is True
    shared = parse_html(call.params["results"][0]["input_message_content"]["message_text"])
    assert shared.startswith(faq[0])
