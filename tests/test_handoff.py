"""Handoff to a person (issue 13), platform-neutral: when it is offered, what is shared, and
the rules; against the shipped knowledge and a small in-process desk. The Telegram path runs
end to end in tests/test_handoff_telegram.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.handoff import MAX_QUESTIONS, Summary
from bot.knowledge import Knowledge
from bot.sessions import MemoryStore
from bot.text import normalize
from bot.types import IncomingMessage
from tests.conftest import Person

ROOT = Path(__file__).resolve().parent.parent


class Desk:
    """A support desk that keeps its tickets in lists (what a platform would show staff)."""

    def __init__(self) -> None:
        self.opened: list[tuple[IncomingMessage, Summary]] = []
        self.relayed: dict[str, list[str]] = {}
        self.closed: list[str] = []

    async def open(self, person: IncomingMessage, summary: Summary) -> str:
        self.opened.append((person, summary))
        ticket = str(len(self.opened))
        self.relayed[ticket] = []
        return ticket

    async def relay(self, ticket: str, person: IncomingMessage) -> None:
        self.relayed[ticket].append(person.text)

    async def close(self, ticket: str) -> None:
        self.closed.append(ticket)


@pytest.fixture
def desk(engine: Engine) -> Desk:
    made = Desk()
    engine.attach_desk(made)
    return made


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", "Honestly I just want to TALK TO A HUMAN!!"),
        ("es", "por favor, quiero hablar con una persona"),
        ("pt", "posso falar com um atendente?"),
        ("ru", "Позовите оператора, пожалуйста"),
        ("fr", "Je voudrais parler à un humain s'il vous plaît"),
    ],
)
async def test_asking_for_a_person_in_any_language_shows_what_would_be_shared(
    engine: Engine, desk: Desk, knowledge: Knowledge, lang: str, words: str
) -> None:
    person = Person(engine)
    replies = await person.say(words)
    assert replies[0].text.startswith(knowledge.ui("handoff_consent", lang).split("\n")[0])
    assert words in replies[0].text or normalize(words) in normalize(replies[0].text)
    person.button(knowledge.ui("button_handoff_yes", lang))
    assert desk.opened == []  # nothing is sent before they agree


def test_every_language_lists_words_for_a_person(knowledge: Knowledge) -> None:
    for lang in knowledge.languages:
        words = [w for w in knowledge.ui("words_human", lang).split(",") if w.strip()]
        assert len(words) >= 8, lang


async def test_questions_about_people_in_the_guide_are_not_taken_for_a_request(
    engine: Engine, desk: Desk
) -> None:
    person = Person(engine)
    for text in ("are you human", "how long does deletion take", "what happens to my orders"):
        replies = await person.say(text)
        assert "exactly what the support team will see" not in replies[0].text, text


async def test_second_fallback_in_a_row_offers_and_an_answer_resets_the_count(
    engine: Engine, desk: Desk
) -> None:
    person = Person(engine)
    await person.say("purple elephants dance")
    assert len(await person.say("how long does deletion take")) >= 1  # answered: count resets
    assert len(await person.say("my cat plays piano")) == 1
    replies = await person.say("banana bread recipe")
    assert len(replies) == 2 and "within a few hours" in replies[1].text
    person.button("Talk to a person", replies)


async def test_without_a_team_a_second_fallback_adds_nothing(engine: Engine) -> None:
    """No "I can't pass this conversation on to a person" that nobody asked for: the fallback
    already points to customer support. Asked for, it is still said."""
    person = Person(engine)
    await person.say("purple elephants dance")
    assert len(await person.say("banana bread recipe")) == 1
    assert len(await person.say("my cat plays piano")) == 1
    unavailable = await person.say("/human")
    assert "can't pass this conversation on" in unavailable[0].text


async def test_thumbs_down_offers_a_person_only_with_a_team(engine: Engine) -> None:
    person = Person(engine)
    await person.say("how long does deletion take")
    sorry = await person.press("Not helpful")
    assert not [b for b in sorry[0].all_buttons() if "person" in b.label]
    engine.attach_desk(Desk())
    await person.say("how long does deletion take")
    sorry = await person.press("Not helpful")
    person.button("Talk to a person", sorry)


async def test_the_summary_holds_only_this_persons_last_messages_and_their_place(
    engine: Engine, desk: Desk
) -> None:
    ann, bob = Person(engine, user="ann"), Person(engine, user="bob")
    await bob.say("bob's secret question about wallets")
    for n in range(7):
        await ann.say(f"question number {n} about elephants")
    await ann.say("/walkthrough")
    await ann.press("Done")
    await ann.say("/human")
    await ann.press("Yes")
    [(who, summary)] = desk.opened
    assert who.user_id == "ann"
    assert summary.questions == tuple(f"question number {n} about elephants" for n in range(2, 7))
    assert len(summary.questions) == MAX_QUESTIONS
    assert summary.where is not None and summary.where.startswith("check 2 of 4")
    assert summary.lang == "en"
    rendered = engine.summary_reply(summary).text
    assert "bob" not in rendered and "ann" not in rendered
    assert "/close" in rendered


async def test_a_typed_yes_or_no_answers_the_consent(engine: Engine, desk: Desk) -> None:
    person = Person(engine)
    await person.say("/human")
    await person.say("no")
    assert desk.opened == [] and person.text() == engine.knowledge.ui("handoff_declined", "en")
    await person.say("can I talk to a human")
    await person.say("yes")
    assert len(desk.opened) == 1


async def test_open_handoff_takes_messages_and_confirms_once(engine: Engine, desk: Desk) -> None:
    person = Person(engine)
    await person.say("/human")
    await person.press("Yes")
    first = await person.say("how long does deletion take")
    assert len(first) == 1 and "Passed on" in first[0].text
    assert await person.say("hello?") == []
    assert desk.relayed["1"] == ["how long does deletion take", "hello?"]
    ended = await person.say("/cancel")
    assert "You ended" in ended[0].text and desk.closed == ["1"]
    back = await person.say("how long does deletion take")
    assert "Passed on" not in back[0].text


async def test_staff_close_tells_the_person_and_unknown_tickets_are_nobodys(
    engine: Engine, desk: Desk
) -> None:
    person = Person(engine)
    await person.say("/human")
    await person.press("Yes")
    assert await engine.person_for_ticket("test", "1") is not None
    assert await engine.person_for_ticket("other", "1") is None
    closed = await engine.staff_closed("test", "1")
    assert closed is not None
    target, replies = closed
    assert (target.chat_id, target.user_id) == ("c1", "alice")
    assert "closed this conversation" in replies[0].text
    assert await engine.staff_closed("test", "1") is None
    assert await engine.person_for_ticket("test", "1") is None


async def test_a_desk_that_fails_to_open_promises_nothing(engine: Engine) -> None:
    class Broken(Desk):
        async def open(self, person: IncomingMessage, summary: Summary) -> str:
            raise ConnectionError("the platform is down")

    engine.attach_desk(Broken())
    person = Person(engine)
    await person.say("/human")
    replies = await person.press("Yes")
    assert "couldn't reach the support team" in replies[0].text
    assert await engine.store.get_handoff("test:c1:alice") is None


async def test_without_a_team_the_bot_says_so_and_points_to_aliexpress(engine: Engine) -> None:
    person = Person(engine)
    replies = await person.say("/human")
    assert len(replies) == 1 and not replies[0].buttons
    assert "can't pass this conversation on" in replies[0].text
    assert "(https://customerservice.aliexpress.com/)" in replies[0].text
    assert isinstance(engine.store, MemoryStore) and len(engine.store) == 0


def test_console_human_explains_telegram_and_discord() -> None:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--store", "memory://"],
        input="/human\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "Telegram or Discord" in done.stdout
    assert "https://customerservice.aliexpress.com/" in done.stdout
