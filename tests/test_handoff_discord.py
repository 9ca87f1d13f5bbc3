"""Handing a conversation to a person on Discord (issue 13, item 4), end to end: the real
discord.py against tests/fake_discord.py (REST, gateway, channels and private threads).

A member asks the bot things it cannot help with, is offered a person, agrees to what will be
shared, and gets a private thread in the support channel: they are added to it, the support
role is mentioned (the only mention the bot makes), the summary and a Close button come
first. Staff talk to the person in the thread (the bot asks for no intents and reads none of
it); a Close button press or /close by staff archives and locks the thread and tells the
person. The store is a real SQLite file, so a restart in the middle keeps everything.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.discord import CLOSE_ID_PREFIX, DiscordAdapter, snowflake, to_markdown
from bot.adapter import AdapterExit
from bot.engine import Engine
from bot.handoff import RATE_LIMIT
from bot.knowledge import Knowledge
from bot.matcher import Matcher
from bot.sessions import SqliteStore
from tests.fake_discord import (
    EPHEMERAL,
    MANAGE_THREADS,
    MEMBER_PERMISSIONS,
    PRIVATE_THREAD,
    ApiError,
    Exchange,
    FakeDiscord,
    Member,
)
from tests.test_discord import Running, start

ROLE = 820000000000000001
ALICE = Member(100000000000000011, "alice")
BOB = Member(100000000000000022, "bob")
# Staff: the support role and Manage Threads in the support channel (sees every private thread)
SAM = Member(100000000000000033, "sam", roles=(ROLE,), permissions=MEMBER_PERMISSIONS | MANAGE_THREADS)  # fmt: skip
# The support role only: added to a thread, may close it
HANA = Member(100000000000000044, "hana", roles=(ROLE,))
UNHELPED = ("quantum zebra accordion", "blorp frobnicate")  # two fallbacks in a row


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture(scope="module")
def matcher(knowledge: Knowledge) -> Matcher:
    # Lexical only: the optional embedding model loads on the first question it sees, which
    # on a busy test machine can hold the event loop past Discord's 3-second deadline.
    return Matcher(knowledge, semantic=False)


def new_engine(knowledge: Knowledge, db: Path, matcher: Matcher) -> Engine:
    return Engine(knowledge, SqliteStore(db), matcher=matcher)


async def start_desk(fake: FakeDiscord, engine: Engine, role: int | None = ROLE) -> Running:
    return await start(fake, engine, support_channel=fake.support_channel_id, support_role=role)


@pytest.fixture
async def desk(
    fake: FakeDiscord, knowledge: Knowledge, matcher: Matcher, tmp_path: Path
) -> AsyncIterator[Running]:
    bot = await start_desk(fake, new_engine(knowledge, tmp_path / "sessions.sqlite3", matcher))
    yield bot
    await bot.stop()


async def slash(
    fake: FakeDiscord,
    name: str,
    member: Member,
    channel: int | str | None = None,
    messages: int = 1,
    **options: Any,
) -> Exchange:
    exchange = await fake.slash(
        name, member, channel_id=int(channel) if channel else None, **options
    )
    return await exchange.wait(messages)


async def press(
    fake: FakeDiscord, message: dict[str, Any], label: str, member: Member, messages: int = 1
) -> Exchange:
    return await (await fake.press(message, label, member)).wait(messages)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Work done after an interaction is answered (archiving) lands a moment later."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def texts(exchange: Exchange) -> str:
    return "\n".join(m["content"] for m in exchange.messages)


def thread_link(fake: FakeDiscord, thread: dict[str, Any]) -> str:
    return f"https://discord.com/channels/{fake.guild_id}/{thread['id']}"


async def offered(fake: FakeDiscord, member: Member) -> dict[str, Any]:
    """Two questions the guide cannot answer: the second one offers a person."""
    await slash(fake, "ask", member, question=UNHELPED[0])
    second = await slash(fake, "ask", member, question=UNHELPED[1], messages=2)
    return second.messages[-1]


async def open_handoff(fake: FakeDiscord, member: Member) -> tuple[dict[str, Any], Exchange]:
    """Fallback, fallback -> offer -> consent -> yes: the new thread and the "yes" exchange."""
    before = {t["id"] for t in fake.threads()}
    consent = await press(fake, await offered(fake, member), "Talk to a person", member)
    yes = await press(fake, consent.messages[-1], "Yes", member)
    new = [
        t
        for t in fake.threads()
        if t["id"] not in before and member.id in fake.thread_members[int(t["id"])]
    ]
    assert len(new) == 1, texts(yes)
    return new[0], yes


def close_button(fake: FakeDiscord, thread: dict[str, Any]) -> dict[str, Any]:
    """The thread's message carrying the Close button."""
    return next(m for m in fake.messages_in(thread["id"]) if FakeDiscord.buttons(m))


# -- the whole way: offer, consent, thread, staff, close ---------------------------------------


async def test_fallback_offer_thread_with_summary_and_role_mention_then_staff_close(
    fake: FakeDiscord, desk: Running, knowledge: Knowledge
) -> None:
    offer = await offered(fake, ALICE)
    assert any("Talk to a person" in b["label"] for b in FakeDiscord.buttons(offer))
    consent = await press(fake, offer, "Talk to a person", ALICE)
    assert fake.threads() == []  # nothing is shared before the person agrees
    shown = texts(consent)
    assert all(question in shown for question in UNHELPED)  # what staff will see, first
    assert consent.messages[-1]["flags"] & EPHEMERAL

    yes = await press(fake, consent.messages[-1], "Yes", ALICE)
    (thread,) = fake.threads()
    tid = int(thread["id"])
    # a private thread in the support channel that only the person and staff can see
    (create,) = fake.calls_to(f"/channels/{fake.support_channel_id}/threads", "POST")
    assert create.body["type"] == PRIVATE_THREAD and create.body["invitable"] is False
    assert create.body["auto_archive_duration"] == 10080
    assert thread["parent_id"] == str(fake.support_channel_id)
    assert thread["name"].startswith("Help request ")
    assert fake.thread_members[tid] == {fake.bot_id, ALICE.id}
    assert fake.can_see(ALICE, tid) and fake.can_see(SAM, tid) and not fake.can_see(BOB, tid)
    # the person is told where to write, with the thread's link, in place of the consent
    assert yes.edits and thread_link(fake, thread) in yes.edits[-1]["content"]
    assert "private thread" in yes.edits[-1]["content"]

    # the summary: the role mentioned, and nobody else; only what the person wrote here
    (summary,) = fake.messages_in(tid)
    assert summary["content"].startswith(f"<@&{ROLE}>\n")
    assert summary["mention_roles"] == [str(ROLE)]
    assert summary["mentions"] == [] and summary["mention_everyone"] is False
    allowed = summary["allowed_mentions"]
    assert allowed["parse"] == [] and [str(r) for r in allowed["roles"]] == [str(ROLE)]
    assert not allowed.get("users") and not allowed.get("replied_user")
    assert all(question in summary["content"] for question in UNHELPED)
    assert "English" in summary["content"]
    assert [b["custom_id"] for b in FakeDiscord.buttons(summary)] == [f"{CLOSE_ID_PREFIX}{tid}"]
    # the one mention: every other message the bot sent allows none
    allowing = [
        (call.path, (call.body.get("data") or call.body).get("allowed_mentions"))
        for call in fake.calls
        if isinstance(call.body, dict) and call.method in ("POST", "PATCH")
    ]
    assert [(p, allowed) for p, allowed in allowing if allowed not in (None, {"parse": []})] == [
        (f"/api/v10/channels/{tid}/messages", summary["allowed_mentions"])
    ]

    # staff talk to the person in the thread; the bot is not involved (asks for no intents)
    calls = len(fake.calls)
    hello = await fake.post_as(SAM, tid, "Hi Alice, Sam from support here. What happened?")
    reply = await fake.post_as(ALICE, tid, "my account is locked")
    assert [m["id"] for m in fake.messages_in(tid)[-2:]] == [hello["id"], reply["id"]]
    assert fake.can_see(ALICE, tid)  # she reads Sam's message as a member of the thread
    await asyncio.sleep(0.1)
    assert len(fake.calls) == calls  # no REST call from the bot
    assert fake.live_connection().identify["intents"] == 0  # type: ignore[index]

    # while it is open, the bot answers nothing itself: it points to the thread, every time
    for _ in range(2):
        redirected = await slash(fake, "ask", ALICE, question="how long does deletion take?")
        assert thread_link(fake, thread) in texts(redirected)
        assert "talking to a person" in texts(redirected)
    # a second handoff is not opened while one is
    again = await slash(fake, "human", ALICE)
    assert len(fake.threads()) == 1 and thread_link(fake, thread) in texts(again)

    # the person cannot close it with the button: that is /cancel, or staff
    refused = await press(fake, close_button(fake, thread), "Close", ALICE)
    assert refused.messages[-1]["flags"] & EPHEMERAL and "/cancel" in texts(refused)
    assert thread["thread_metadata"]["archived"] is False

    closed = await press(fake, close_button(fake, thread), "Close", SAM)
    told = closed.messages[-1]
    assert told["channel_id"] == str(tid) and not told["flags"] & EPHEMERAL  # said in the thread
    assert told["content"] == to_markdown(knowledge.ui("handoff_closed", "en"))
    await until(lambda: thread["thread_metadata"]["locked"])
    assert thread["thread_metadata"]["archived"] is True
    (patch,) = fake.calls_to(f"/channels/{tid}", "PATCH")
    assert patch.body == {"archived": True, "locked": True}
    callback = next(
        c for c in fake.calls if c.path.endswith(f"/{closed.id}/{closed.token}/callback")
    )
    assert fake.calls.index(callback) < fake.calls.index(patch)  # told first, then locked
    with pytest.raises(ApiError):
        await fake.post_as(ALICE, tid, "hello?")  # a locked thread takes no more messages

    # the bot is back for her
    back = await slash(fake, "ask", ALICE, question="how long does deletion take?")
    assert "talking to a person" not in texts(back)
    assert knowledge.entry("processing_time").title in texts(back)
    # a second press on Close (a double click) changes nothing and says it is closed
    late = await press(fake, close_button(fake, thread), "Close", SAM)
    assert late.messages[-1]["flags"] & EPHEMERAL
    assert len(fake.calls_to(f"/channels/{tid}", "PATCH")) == 1


async def test_close_command_in_the_thread_is_for_staff_only(
    fake: FakeDiscord, desk: Running, knowledge: Knowledge
) -> None:
    assert "close" in {c["name"] for c in fake.commands[fake.guild_id]}
    thread, _ = await open_handoff(fake, ALICE)
    tid = thread["id"]

    elsewhere = await slash(fake, "close", SAM)  # in #general, not a handoff thread
    assert elsewhere.messages[-1]["flags"] & EPHEMERAL
    assert texts(elsewhere) == to_markdown(knowledge.ui("handoff_close_elsewhere", "en"))
    by_person = await slash(fake, "close", ALICE, channel=tid)
    assert texts(by_person) == to_markdown(knowledge.ui("handoff_close_staff_only", "en"))
    assert by_person.messages[-1]["flags"] & EPHEMERAL
    assert thread["thread_metadata"]["archived"] is False

    # a role member without Manage Threads is staff too
    by_staff = await slash(fake, "close", HANA, channel=tid)
    assert texts(by_staff) == to_markdown(knowledge.ui("handoff_closed", "en"))
    await until(lambda: thread["thread_metadata"]["locked"])
    assert thread["thread_metadata"]["archived"] is True
    back = await slash(fake, "ask", ALICE, question="how long does deletion take?")
    assert "talking to a person" not in texts(back)


async def test_the_person_cancels_and_staff_are_told_in_the_thread(
    fake: FakeDiscord, desk: Running, knowledge: Knowledge
) -> None:
    thread, _ = await open_handoff(fake, ALICE)
    tid = thread["id"]
    # inside the thread, her /cancel is about her handoff (not a walkthrough of the thread)
    cancelled = await slash(fake, "cancel", ALICE, channel=tid)
    assert texts(cancelled) == to_markdown(knowledge.ui("handoff_cancelled", "en"))
    await until(lambda: thread["thread_metadata"]["locked"])
    staff_note = fake.messages_in(tid)[-1]
    assert staff_note["content"] == to_markdown(knowledge.ui("handoff_staff_ended", "en"))
    assert staff_note["mentions"] == [] and staff_note["mention_roles"] == []
    callback = next(
        c for c in fake.calls if c.path.endswith(f"/{cancelled.id}/{cancelled.token}/callback")
    )
    (patch,) = fake.calls_to(f"/channels/{tid}", "PATCH")
    assert fake.calls.index(callback) < fake.calls.index(patch)  # answered, then archived
    # staff pressing Close afterwards find it closed already
    late = await press(fake, close_button(fake, thread), "Close", SAM)
    assert late.messages[-1]["flags"] & EPHEMERAL


# -- a restart in the middle --------------------------------------------------------------------


async def test_a_restart_in_the_middle_keeps_the_handoff_and_the_close_button(
    fake: FakeDiscord, knowledge: Knowledge, matcher: Matcher, tmp_path: Path
) -> None:
    db = tmp_path / "sessions.sqlite3"
    first = await start_desk(fake, new_engine(knowledge, db, matcher))
    try:
        thread, _ = await open_handoff(fake, ALICE)
    finally:
        await first.stop()
    await fake.post_as(SAM, thread["id"], "Still there? We are looking into it.")

    second = await start_desk(fake, new_engine(knowledge, db, matcher))  # a new process, same file
    try:
        redirected = await slash(fake, "ask", ALICE, question="how long does deletion take?")
        assert thread_link(fake, thread) in texts(redirected)
        closed = await press(fake, close_button(fake, thread), "Close", SAM)
        assert texts(closed) == to_markdown(knowledge.ui("handoff_closed", "en"))
        await until(lambda: thread["thread_metadata"]["locked"])
        back = await slash(fake, "ask", ALICE, question="how long does deletion take?")
        assert "talking to a person" not in texts(back)
    finally:
        await second.stop()


# -- two people at once -------------------------------------------------------------------------


async def test_two_people_at_once_get_a_thread_each_and_a_close_closes_one(
    fake: FakeDiscord, desk: Running, knowledge: Knowledge
) -> None:
    (alice_thread, _), (bob_thread, _) = await asyncio.gather(
        open_handoff(fake, ALICE), open_handoff(fake, BOB)
    )
    assert alice_thread["id"] != bob_thread["id"]
    a, b = int(alice_thread["id"]), int(bob_thread["id"])
    assert fake.thread_members[a] == {fake.bot_id, ALICE.id}
    assert fake.thread_members[b] == {fake.bot_id, BOB.id}
    assert not fake.can_see(BOB, a) and not fake.can_see(ALICE, b)

    # Alice's Close button, replayed in Bob's thread, does not close anyone's
    alice_button = close_button(fake, alice_thread)
    forged = dict(alice_button, id=str(fake.next_id()), channel_id=str(b))
    replayed = await (await fake.press_custom_id(forged, f"{CLOSE_ID_PREFIX}{a}", SAM)).wait()
    assert replayed.messages[-1]["flags"] & EPHEMERAL
    assert not alice_thread["thread_metadata"]["archived"]
    assert not bob_thread["thread_metadata"]["archived"]

    await press(fake, alice_button, "Close", SAM)
    await until(lambda: alice_thread["thread_metadata"]["locked"])
    assert bob_thread["thread_metadata"]["archived"] is False
    still = await slash(fake, "ask", BOB, question="how long does deletion take?")
    assert thread_link(fake, bob_thread) in texts(still)
    free = await slash(fake, "ask", ALICE, question="how long does deletion take?")
    assert "talking to a person" not in texts(free)


# -- the rate limit -----------------------------------------------------------------------------


async def test_opening_and_cancelling_over_and_over_is_limited(
    fake: FakeDiscord, desk: Running, knowledge: Knowledge
) -> None:
    for _ in range(RATE_LIMIT):
        thread, _ = await open_handoff(fake, ALICE)
        await slash(fake, "cancel", ALICE)  # where she asked: ends the handoff
        await until(lambda: thread["thread_metadata"]["locked"])  # noqa: B023  (awaited here)
    assert len(fake.threads()) == RATE_LIMIT
    consent = await press(fake, await offered(fake, ALICE), "Talk to a person", ALICE)
    limited = to_markdown(knowledge.ui("handoff_rate_limited", "en", limit=RATE_LIMIT))
    assert limited in texts(consent)
    assert len(fake.threads()) == RATE_LIMIT  # no fourth thread
    # Bob is not limited by Alice's handoffs
    bobs, _ = await open_handoff(fake, BOB)
    assert fake.thread_members[int(bobs["id"])] == {fake.bot_id, BOB.id}


# -- the unconfigured default and broken set-ups ---------------------------------------------------


async def test_without_a_support_channel_the_bot_promises_nobody(
    fake: FakeDiscord, knowledge: Knowledge, matcher: Matcher, tmp_path: Path
) -> None:
    bot = await start(fake, new_engine(knowledge, tmp_path / "s.sqlite3", matcher))
    try:
        human = await slash(fake, "human", ALICE)
        unavailable = knowledge.ui(
            "handoff_unavailable", "en", support=knowledge.ui("support_link", "en")
        )
        assert "can't pass this conversation on" in unavailable
        assert "customerservice.aliexpress.com" in texts(human)
        words = await slash(fake, "ask", ALICE, question="can I talk to a human please")
        assert "customerservice.aliexpress.com" in texts(words)
        assert "Talk to a person" not in str(human.messages + words.messages)
        assert fake.threads() == [] and not fake.calls_to("/threads")
        closing = await slash(fake, "close", ALICE)
        assert closing.messages[-1]["flags"] & EPHEMERAL
    finally:
        await bot.stop()


async def test_a_thread_that_cannot_be_set_up_is_archived_and_the_person_told(
    fake: FakeDiscord, desk: Running, knowledge: Knowledge
) -> None:
    fake.fail_next(403, path="/thread-members/")  # e.g. the bot lacks Send Messages in Threads
    consent = await press(fake, await offered(fake, ALICE), "Talk to a person", ALICE)
    failed = await press(fake, consent.messages[-1], "Yes", ALICE)
    assert knowledge.ui("handoff_failed", "en") in texts(failed)
    (thread,) = fake.threads()
    await until(lambda: thread["thread_metadata"]["locked"])  # no orphan left open
    back = await slash(fake, "ask", ALICE, question="how long does deletion take?")
    assert "talking to a person" not in texts(back)


async def test_what_the_person_typed_cannot_ping_anyone(fake: FakeDiscord, desk: Running) -> None:
    sneaky = f"@everyone <@&{ROLE}> <@{BOB.id}> blorp"
    await slash(fake, "ask", ALICE, question="quantum zebra accordion")
    second = await slash(fake, "ask", ALICE, question=sneaky, messages=2)
    consent = await press(fake, second.messages[-1], "Talk to a person", ALICE)
    await press(fake, consent.messages[-1], "Yes", ALICE)
    (thread,) = fake.threads()
    (summary,) = fake.messages_in(thread["id"])
    assert summary["mention_roles"] == [str(ROLE)]  # the bot's own mention, once
    assert summary["mentions"] == [] and summary["mention_everyone"] is False
    assert summary["content"].count(f"<@&{ROLE}>") == 1  # hers arrives escaped


async def test_start_up_checks_the_support_channel(fake: FakeDiscord, knowledge: Knowledge) -> None:
    for channel, why in ((1234567890123456789, "cannot see"), (fake.support_channel_id, None)):
        bot = DiscordAdapter(
            Engine(knowledge),
            token=fake.token,
            api_base=fake.api_base,
            gateway_url=fake.gateway_url,
            sync=("none", ()),
            support_channel=channel,
        )
        if why is None:
            await bot.start()
            await bot.stop()
            continue
        with pytest.raises(AdapterExit) as refused:
            await bot.start()
        assert refused.value.status == 2 and why in refused.value.message
        assert str(channel) in refused.value.message and fake.token not in refused.value.message
    fake.channels[fake.support_channel_id]["type"] = 4  # a category, not a text channel
    bot = DiscordAdapter(
        Engine(knowledge), token=fake.token, api_base=fake.api_base,
        gateway_url=fake.gateway_url, sync=("none", ()), support_channel=fake.support_channel_id,
    )  # fmt: skip
    with pytest.raises(AdapterExit) as refused:
        await bot.start()
    assert "not a server text channel" in refused.value.message

    lonely = DiscordAdapter(Engine(knowledge), token=fake.token, support_role=ROLE)
    with pytest.raises(AdapterExit) as refused:
        await lonely.start()
    assert "--support-role needs --support-channel" in refused.value.message


def test_support_options_take_discord_ids(
    monkeypatch: pytest.MonkeyPatch, knowledge: Knowledge
) -> None:
    parser = argparse.ArgumentParser()
    DiscordAdapter.add_arguments(parser)
    args = parser.parse_args(
        ["--support-channel", "810000000000000002", "--support-role", str(ROLE)]
    )
    assert (args.support_channel, args.support_role) == (810000000000000002, ROLE)
    with pytest.raises(SystemExit):
        parser.parse_args(["--support-channel", "#support"])
    with pytest.raises(argparse.ArgumentTypeError):
        snowflake("12")
    monkeypatch.setenv("DISCORD_SUPPORT_CHANNEL", "810000000000000009")
    adapter = DiscordAdapter(Engine(knowledge), parser.parse_args([]))
    assert adapter.support_channel == 810000000000000009 and adapter.support_role is None
