"""Issue 9 defects on the engine side, typed button actions, and the purge off the request path."""

from __future__ import annotations

import pytest

from bot import actions
from bot.actions import (
    MAX_PAYLOAD_BYTES,
    ChooseLanguage,
    Forget,
    Navigate,
    RunCommand,
    ShowEntry,
    StepHelp,
    decode,
    encode,
)
from bot.engine import Engine
from bot.sessions import MemoryStore, Session
from tests.conftest import Person


@pytest.mark.parametrize(
    ("question", "words", "lang_word"),
    [
        ("¿cómo borro mi cuenta?", ("hecho", "siguiente"), "comprobación 3 de 4"),
        ("como eu apago minha conta?", ("feito", "próximo"), "verificação 3 de 4"),
    ],
)
async def test_walkthrough_continues_in_the_conversations_language(
    person, question, words, lang_word
):
    await person.say(question)
    walk_me = [b for b in person.last[0].all_buttons() if decode(b.payload) is not None]
    labels = {person.engine.knowledge.ui("button_walkthrough", lang) for lang in ("es", "pt")}
    await person.press(next(b.label for b in walk_me if b.label in labels))  # "walk me through it"
    assert "check 1 of 4" not in person.text()
    for word in words:
        await person.say(word)
    assert lang_word in person.text().lower(), person.text()


async def test_words_work_in_every_language(person):
    await person.say("/walkthrough")  # English
    await person.say("hecho")
    await person.say("feito")
    assert "check 3 of 4" in person.text()


@pytest.mark.parametrize("word", ["guíame", "walkthrough"])
async def test_typed_walkthrough_word_after_a_spanish_answer_stays_spanish(person, word):
    replies = await person.say("¿cómo borro mi cuenta?")
    assert "guíame" in replies[0].text  # the guide tells people to type a word of theirs ...
    await person.say(word)  # ... and it works, in Spanish, as does the English word
    assert "comprobación 1 de 4" in person.text().lower()


async def test_english_conversation_keeps_nothing_extra(person):
    await person.say("how long does it take")
    assert len(person.engine.store) == 0


async def test_expiry_message_names_the_real_ttl(knowledge):
    now = [1000.0]
    engine = Engine(knowledge, MemoryStore(), ttl=2 * 3600, clock=lambda: now[0])
    alice = Person(engine)
    await alice.say("/walkthrough")
    now[0] += 3 * 3600
    await alice.say("done")
    assert "more than 2 hours" in alice.text() and "a day" not in alice.text()


async def test_sessions_are_stamped_by_the_engine_clock(knowledge):
    engine = Engine(knowledge, MemoryStore(), clock=lambda: 42.0)
    await Person(engine).say("/walkthrough")
    session = await engine.store.get("test:c1:alice")
    assert session is not None and session.updated_at == 42.0
    assert Session().updated_at == 0.0


async def test_purge_is_not_on_the_request_path(knowledge):
    now = [1000.0]
    engine = Engine(knowledge, MemoryStore(), ttl=60, clock=lambda: now[0])
    await Person(engine, "old").say("/walkthrough")
    now[0] += 1000
    await Person(engine, "new").say("/walkthrough")  # handling never purges
    assert len(engine.store) == 2
    assert await engine.purge_expired() == 1
    assert await engine.store.get("test:c1:old") is None
    assert await engine.store.get("test:c1:new") is not None


@pytest.mark.parametrize(
    "action",
    [
        ShowEntry("processing_time"),
        StepHelp("forgot_password", "s.login"),
        Navigate("next", "c.orders"),
        RunCommand("walkthrough"),
        Forget(True),
        Forget(False),
        ChooseLanguage("pt"),
    ],
)
def test_actions_round_trip_within_the_limit(action):
    payload = encode(action, "9" * 40)
    assert len(payload.encode()) <= MAX_PAYLOAD_BYTES
    pressed = decode(payload)
    assert pressed is not None and pressed.action == action
    assert pressed.belongs_to("9" * 40) and not pressed.belongs_to("someone else")


@pytest.mark.parametrize(
    "payload",
    ["", "garbage", "a::1234", "f:maybe:1234abcd", "w:next:1234abcd", "zz:x:1234abcd", "a:x:" * 30],
)
def test_garbled_payloads_decode_to_nothing(payload):
    assert decode(payload) is None


def test_unencodable_actions_are_refused():
    with pytest.raises(ValueError):
        encode(ShowEntry("a:b"), "u")
    with pytest.raises(ValueError):
        encode(ShowEntry("x" * 80), "u")


async def test_forged_and_garbled_presses_get_a_stale_reply(person):
    await person.say("/walkthrough")
    for payload in ("f:1", "w:next", "l:xx:" + actions.owner_tag("alice"), "a:x:y:z"):
        replies = await person.press_payload(payload)
        assert replies and all(r.text for r in replies), payload
    session = await person.engine.store.get("test:c1:alice")
    assert session is not None and session.position == "orders"  # nothing moved


@pytest.mark.parametrize("lang", ["en", "es", "pt", "fr", "ru"])
def test_step_5_does_not_claim_the_account_is_already_gone(knowledge, lang):
    answer = knowledge.entry("step_submit", lang).answer
    assert "24" in answer  # submit -> about 24 hours -> confirmation email, as the guide says
    assert "you have deleted" not in answer and "has eliminado" not in answer
