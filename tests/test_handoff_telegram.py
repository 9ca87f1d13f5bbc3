"""Handoff to a person on Telegram (issue 13), end to end: the real python-telegram-bot
against the fake Bot API with forum topics (tests/fake_telegram.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from adapters import telegram as tg
from bot.adapter import AdapterExit
from bot.engine import Engine
from bot.events import MemoryEventLog
from bot.knowledge import Knowledge
from bot.sessions import MemoryStore, SessionStore, SqliteStore
from tests.fake_telegram import Call, FakeTelegram, parse_html

FORUM = -1009876543210
WAIT = 30.0  # a cold first fallback builds the semantic index (seconds on a busy machine)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.forum(FORUM)
        yield server


@asynccontextmanager
async def running(
    fake: FakeTelegram, engine: Engine, support_chat: int | None = FORUM
) -> AsyncIterator[tg.TelegramAdapter]:
    adapter = tg.TelegramAdapter(
        engine, token=fake.token, base_url=fake.base_url, backoff=0.05, poll_timeout=2,
        support_chat=support_chat,
    )  # fmt: skip
    await adapter.start()
    task = asyncio.create_task(adapter.run())
    try:
        yield adapter
    finally:
        await adapter.stop()
        await asyncio.wait_for(task, 5)


def to(chat_id: int) -> Any:
    return lambda call: int(call.params["chat_id"]) == chat_id


def text(call: Call) -> str:
    return parse_html(call.params["text"])


async def says(fake: FakeTelegram, user: dict[str, Any], words: str, count: int = 1) -> list[Call]:
    """`user` writes privately to the bot; the bot's next `count` messages to them."""
    mark = len(fake.calls)
    fake.send_text(user, words)
    return await fake.wait_for("sendMessage", count, since=mark, where=to(user["id"]), timeout=WAIT)


async def presses(
    fake: FakeTelegram, user: dict[str, Any], message: dict[str, Any], label: str
) -> Call:
    """`user` presses a button; what the bot edits or sends to them next."""
    mark = len(fake.calls)
    fake.press(user, message, label)
    await fake.wait_for("answerCallbackQuery", since=mark)
    await fake.settle(idle=0.15)
    sent = [
        c
        for c in fake.calls[mark:]
        if c.method in ("sendMessage", "editMessageText") and c.status == 200 and to(user["id"])(c)
    ]
    assert sent, f"no answer to pressing {label!r}"
    return sent[-1]


async def staff_says(
    fake: FakeTelegram, staff: dict[str, Any], thread: int, words: str, where: Any
) -> Call:
    mark = len(fake.calls)
    fake.topic_message(staff, fake.group(FORUM, "Support") | {"is_forum": True}, thread, words)
    [sent] = await fake.wait_for("sendMessage", since=mark, where=where)
    return sent


async def open_handoff(
    fake: FakeTelegram,
    user: dict[str, Any],
    knowledge: Knowledge,
    words: str = "can I talk to a human please",
    lang: str = "en",
) -> tuple[int, Call]:
    """`user` asks for a person in words and agrees; returns the topic id and the summary."""
    [consent] = await says(fake, user, words)
    assert knowledge.ui("handoff_consent", lang).split("\n")[0] in text(consent)
    mark = len(fake.calls)
    opened = await presses(fake, user, consent.result, knowledge.ui("button_handoff_yes", lang))
    assert text(opened).startswith(knowledge.ui("handoff_opened", lang).split(":")[0])
    [topic] = fake.calls_of("createForumTopic", mark)
    thread = int(topic.result["message_thread_id"])
    [summary] = [c for c in fake.calls_of("sendMessage", mark) if c.params.get("message_thread_id")]
    assert int(summary.params["message_thread_id"]) == thread
    return thread, summary


# -- the whole path -------------------------------------------------------------------------


async def test_fallback_offer_topic_staff_reply_and_close(
    fake: FakeTelegram, knowledge: Knowledge
) -> None:
    events = MemoryEventLog()
    engine = Engine(knowledge, MemoryStore(), events=events)
    ann = fake.user(101, "Ann")
    staff = fake.user(900, "Sam")
    async with running(fake, engine):
        [first] = await says(fake, ann, "purple elephants dance")
        assert text(first).startswith("Sorry, I can only help")
        _fallback, offer = await says(fake, ann, "my cat plays piano", 2)
        assert "pass this conversation on to a person" in text(offer)
        assert "within a few hours" in text(offer)
        # consent: the person sees exactly what will be shared, before anything is sent
        consent = await presses(fake, ann, offer.result, "Talk to a person")
        shown = text(consent)
        assert "purple elephants dance" in shown and "my cat plays piano" in shown
        assert not fake.calls_of("createForumTopic")
        mark = len(fake.calls)
        opened = await presses(
            fake, ann, fake.bot_message(ann["id"], consent.result["message_id"]), "Yes"
        )
        assert "/cancel" in text(opened)
        [topic] = fake.calls_of("createForumTopic", mark)
        assert "Ann" not in topic.params["name"] and "101" not in topic.params["name"]
        thread = int(topic.result["message_thread_id"])
        [summary] = fake.thread_texts(FORUM, thread)
        assert "purple elephants dance" in summary and "my cat plays piano" in summary
        assert "English (en)" in summary and "not in the walkthrough" in summary
        assert "Ann" not in summary and "101" not in summary

        # the person's messages go to the topic; the bot does not answer them itself
        [passed] = await says(fake, ann, "how long does deletion take")
        assert "Passed on to the support team" in text(passed)
        assert fake.thread_texts(FORUM, thread)[-1] == "how long does deletion take"
        mark = len(fake.calls)
        fake.send_text(ann, "<b>are you there?</b>")
        await fake.wait_for("sendMessage", since=mark, where=to(FORUM))
        await fake.settle(idle=0.2)
        assert not fake.calls_of("sendMessage", mark, ok=False) or all(
            not to(ann["id"])(c) for c in fake.calls_of("sendMessage", mark)
        )  # no second confirmation, no answer from the guide
        assert fake.thread_texts(FORUM, thread)[-1] == "<b>are you there?</b>"  # verbatim

        # a staff member's message reaches the person
        reply = await staff_says(fake, staff, thread, "Hi Ann, I can help", to(ann["id"]))
        assert text(reply) == "Support team: Hi Ann, I can help"

        # /close in the topic ends it and tells the person
        mark = len(fake.calls)
        fake.topic_message(staff, fake._chats[FORUM], thread, "/close")
        [told] = await fake.wait_for("sendMessage", since=mark, where=to(ann["id"]))
        assert "closed this conversation" in text(told)
        await fake.wait_for("closeForumTopic", since=mark)
        assert fake.topics[(FORUM, thread)]["closed"]
        # and the bot answers the person itself again
        [answer] = await says(fake, ann, "how long does deletion take")
        assert "Passed on" not in text(answer) and "Sorry" not in text(answer)
    stages = [e.position for e in await events.events(0) if e.kind == "handoff"]
    assert stages == ["offered", "opened", "closed"]
    await engine.close()


async def test_cancel_ends_it_from_the_persons_side(
    fake: FakeTelegram, knowledge: Knowledge
) -> None:
    engine = Engine(knowledge, MemoryStore())
    ann = fake.user(101, "Ann")
    async with running(fake, engine):
        thread, _ = await open_handoff(fake, ann, knowledge)
        mark = len(fake.calls)
        [ended] = await says(fake, ann, "/cancel")
        assert "You ended the conversation" in text(ended)
        await fake.wait_for("closeForumTopic", since=mark)
        assert "The person ended the conversation." in fake.thread_texts(FORUM, thread)
    await engine.close()


# -- restarts, several people, closed topics ------------------------------------------------


async def test_an_open_handoff_survives_a_restart(
    fake: FakeTelegram, knowledge: Knowledge, tmp_path: Path
) -> None:
    ann, staff = fake.user(101, "Ann"), fake.user(900, "Sam")
    db = tmp_path / "s.sqlite3"
    engine = Engine(knowledge, SqliteStore(db))
    async with running(fake, engine):
        thread, _ = await open_handoff(fake, ann, knowledge)
    await engine.close()

    engine = Engine(knowledge, SqliteStore(db))  # a new process, the same file
    async with running(fake, engine):
        reply = await staff_says(fake, staff, thread, "Still there?", to(ann["id"]))
        assert text(reply) == "Support team: Still there?"
        await says(fake, ann, "yes, still here")
        assert fake.thread_texts(FORUM, thread)[-1] == "yes, still here"
    await engine.close()


async def test_two_people_at_once_never_see_each_others_staff(
    fake: FakeTelegram, knowledge: Knowledge
) -> None:
    engine = Engine(knowledge, MemoryStore())
    ann, bob, staff = fake.user(101, "Ann"), fake.user(202, "Bob", "es"), fake.user(900, "Sam")
    async with running(fake, engine):
        await says(fake, ann, "purple elephants dance")
        thread_a, summary_a = await open_handoff(fake, ann, knowledge)
        await says(fake, bob, "mi gato toca el piano")
        thread_b, summary_b = await open_handoff(
            fake, bob, knowledge, "quiero hablar con una persona", "es"
        )
        assert thread_a != thread_b
        assert "purple" in text(summary_a) and "purple" not in text(summary_b)
        assert "gato" in text(summary_b) and "gato" not in text(summary_a)

        mark = len(fake.calls)
        topic = fake._chats[FORUM]
        fake.topic_message(staff, topic, thread_a, "for Ann")
        fake.topic_message(staff, topic, thread_b, "for Bob")
        await fake.wait_for("sendMessage", since=mark, where=to(ann["id"]))
        await fake.wait_for("sendMessage", since=mark, where=to(bob["id"]))
        await fake.settle(idle=0.2)
        got_a = [text(c) for c in fake.calls_of("sendMessage", mark) if to(ann["id"])(c)]
        got_b = [text(c) for c in fake.calls_of("sendMessage", mark) if to(bob["id"])(c)]
        assert got_a == ["Support team: for Ann"]
        assert got_b == ["Equipo de soporte: for Bob"]  # in the person's language

        await says(fake, ann, "ann writes")
        await says(fake, bob, "bob escribe")
        assert fake.thread_texts(FORUM, thread_a)[-1] == "ann writes"
        assert fake.thread_texts(FORUM, thread_b)[-1] == "bob escribe"
        assert "bob escribe" not in fake.thread_texts(FORUM, thread_a)
    await engine.close()


async def test_a_staff_reply_in_a_closed_topic_is_not_delivered_and_staff_are_told(
    fake: FakeTelegram, knowledge: Knowledge
) -> None:
    engine = Engine(knowledge, MemoryStore())
    ann, staff = fake.user(101, "Ann"), fake.user(900, "Sam")
    async with running(fake, engine):
        thread, _ = await open_handoff(fake, ann, knowledge)
        await says(fake, ann, "/cancel")
        mark = len(fake.calls)
        notice = await staff_says(fake, staff, thread, "did you get this?", to(FORUM))
        assert "not delivered" in text(notice)
        assert int(notice.params["message_thread_id"]) == thread
        await fake.settle(idle=0.2)
        assert not [c for c in fake.calls_of("sendMessage", mark) if to(ann["id"])(c)]
        # chatter in the General topic (no thread) is nobody's business
        mark = len(fake.calls)
        fake.send_text(staff, "lunch?", fake._chats[FORUM])
        await fake.settle(idle=0.2)
        assert not fake.calls_of("sendMessage", mark)
    await engine.close()


# -- the rules --------------------------------------------------------------------------------


async def test_opening_and_closing_repeatedly_is_limited_to_three_an_hour(
    fake: FakeTelegram, knowledge: Knowledge
) -> None:
    engine = Engine(knowledge, MemoryStore())
    ann = fake.user(101, "Ann")
    async with running(fake, engine):
        for _ in range(3):
            await open_handoff(fake, ann, knowledge)
            await says(fake, ann, "/cancel")
        [refused] = await says(fake, ann, "/human")
        assert "already opened 3 conversations" in text(refused)
        assert len(fake.calls_of("createForumTopic")) == 3
        # an hour later it is allowed again
        later = engine.clock() + 3601
        engine.clock = lambda: later
        [consent] = await says(fake, ann, "/human")
        assert "exactly what the support team will see" in text(consent)
    await engine.close()


async def test_one_open_handoff_per_person(fake: FakeTelegram, knowledge: Knowledge) -> None:
    engine = Engine(knowledge, MemoryStore())
    ann = fake.user(101, "Ann")
    async with running(fake, engine):
        [consent] = await says(fake, ann, "/human")
        yes = fake.button(consent.result, "Yes")
        await presses(fake, ann, consent.result, "Yes")
        mark = len(fake.calls)
        fake.callback(ann, consent.result, yes)  # the same button again, from the old message
        [again] = await fake.wait_for("editMessageText", since=mark, timeout=WAIT)
        assert "already talking to the support team" in text(again)
        assert len(fake.calls_of("createForumTopic")) == 1
    await engine.close()


async def test_forget_closes_the_open_handoff_and_erases_it(
    fake: FakeTelegram, knowledge: Knowledge
) -> None:
    store: SessionStore = MemoryStore()
    engine = Engine(knowledge, store)
    ann, staff = fake.user(101, "Ann"), fake.user(900, "Sam")
    async with running(fake, engine):
        thread, _ = await open_handoff(fake, ann, knowledge)
        [confirm] = await says(fake, ann, "/forget")
        mark = len(fake.calls)
        await presses(fake, ann, confirm.result, "Yes")
        await fake.wait_for("closeForumTopic", since=mark)
        assert await store.get_handoff("telegram:101:101") is None
        assert await store.count_handoffs_since("telegram:101:101", 0) == 0
        notice = await staff_says(fake, staff, thread, "hello?", to(FORUM))
        assert "not delivered" in text(notice)
    await engine.close()


async def test_declining_shares_nothing(fake: FakeTelegram, knowledge: Knowledge) -> None:
    engine = Engine(knowledge, MemoryStore())
    ann = fake.user(101, "Ann")
    async with running(fake, engine):
        [consent] = await says(fake, ann, "I want a real person")
        declined = await presses(fake, ann, consent.result, "No, thanks")
        assert "nothing was shared" in text(declined)
        assert not fake.calls_of("createForumTopic")
        assert not [c for c in fake.calls if c.method == "sendMessage" and to(FORUM)(c)]
    await engine.close()


# -- without a team, and a team that is set up wrong ----------------------------------------


async def test_without_a_support_chat_no_person_is_promised(
    fake: FakeTelegram, knowledge: Knowledge
) -> None:
    engine = Engine(knowledge, MemoryStore())
    ann = fake.user(101, "Ann", "fr")
    async with running(fake, engine, support_chat=None):
        [told] = await says(fake, ann, "/human")
        said = text(told)
        assert "ce bot n'en a pas" in said and "service client d'AliExpress" in said
        assert 'href="https://customerservice.aliexpress.com/"' in told.params["text"]
        assert not told.params.get("reply_markup")
        await says(fake, ann, "purple elephants dance")
        # a second fallback adds nothing unasked (it already names customer support)
        [only] = await says(fake, ann, "my cat plays piano")
        assert "ne fonctionne que sur Telegram ou Discord" not in text(only)
        assert not fake.calls_of("createForumTopic") and not fake.calls_of("getChatMember")
    await engine.close()


@pytest.mark.parametrize(
    ("forum", "admin", "manage", "problem"),
    [
        (False, True, True, "is not a forum"),
        (True, False, False, "must be an administrator"),
        (True, True, False, "Manage topics"),
    ],
)
async def test_a_support_chat_set_up_wrong_is_refused_at_start(
    knowledge: Knowledge, forum: bool, admin: bool, manage: bool, problem: str
) -> None:
    async with FakeTelegram() as fake:
        fake.forum(FORUM, is_forum=forum, admin=admin, manage_topics=manage)
        engine = Engine(knowledge, MemoryStore())
        adapter = tg.TelegramAdapter(
            engine, token=fake.token, base_url=fake.base_url, support_chat=FORUM
        )
        with pytest.raises(AdapterExit, match=problem):
            await adapter.start()
        await adapter.stop()
        assert engine.handoffs.desk is None
        await engine.close()
