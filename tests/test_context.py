"""Follow-ups read against what the bot last showed (issue 11.3), in English and Spanish."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.engine import CONTEXT_TTL, Engine
from bot.knowledge import Knowledge
from bot.sessions import MemoryStore
from bot.walkthrough import Position, valid
from tests.conftest import Person


async def to_step_one(person: Person, start: str = "/walkthrough", word: str = "done") -> None:
    await person.say(start)
    for _ in range(4):
        await person.say(word)
    assert "(1/5)" in person.text()


async def moves_to(person: Person, *said: tuple[str, tuple[str, str]]) -> None:
    """Say each text in turn and check the (mode, id) it leaves the person at."""
    for text, expected in said:
        await person.say(text)
        assert await position(person) == expected, text


async def not_walking(person: Person) -> bool:
    session = await person.engine.store.get(f"{person.platform}:{person.chat}:{person.user}")
    return session is None or not session.active


async def position(person: Person) -> tuple[str | None, str | None]:
    session = await person.engine.store.get(f"{person.platform}:{person.chat}:{person.user}")
    assert session is not None
    return session.mode, session.position


async def test_signed_in_whats_next_moves_to_step_two(person: Person) -> None:
    await to_step_one(person)
    await person.say("right, I am signed in, what is next")
    assert "(2/5)" in person.text()
    assert await position(person) == ("steps", "settings")
    await person.say("next")  # and the walkthrough carries on from there
    assert "(3/5)" in person.text()


async def test_done_with_the_boxes_what_do_i_press_moves_on(person: Person) -> None:
    await to_step_one(person)
    await person.say("next")
    await person.say("next")
    assert "(3/5)" in person.text()
    await person.say("done with the boxes, what do I press now")
    assert "(4/5)" in person.text()


async def test_where_is_that_button_reshows_the_step(person: Person) -> None:
    await to_step_one(person)
    await person.say("next")
    await person.say("where is that button?")
    assert "(2/5)" in person.text()
    assert await position(person) == ("steps", "settings")


async def test_asking_about_the_next_step_answers_it_and_keeps_the_place(person: Person) -> None:
    await to_step_one(person)
    await person.say("next")
    await person.say("next")
    await person.say("how do I choose a reason")
    assert "Choose a reason" in person.text()
    assert "still on" in person.text()  # not moved on: step 3 was never said to be done
    assert await position(person) == ("steps", "deactivate")
    await person.say("next")
    assert "(4/5)" in person.text()


async def test_a_followup_beside_another_question_answers_the_question(person: Person) -> None:
    await to_step_one(person)
    await person.say("and then what happens to my wallet funds")
    assert "wallet" in person.text().lower()
    assert await position(person) == ("steps", "login")  # not moved


async def test_spanish_followups_in_a_walkthrough(person: Person) -> None:
    await to_step_one(person, "/walkthrough", "listo")
    await person.say("ya inicié sesión, ¿qué sigue?")
    assert "(2/5)" in person.text()
    await person.say("¿dónde está ese botón?")
    assert "(2/5)" in person.text() and "Paso 2" in person.text()
    assert await position(person) == ("steps", "settings")


async def test_and_then_after_an_answered_step(person: Person) -> None:
    await person.say("how do I sign in to aliexpress")
    assert "Step 1" in person.text()
    await person.say("and then?")
    assert person.text().startswith("**Step 2")
    await person.say("what's next")
    assert person.text().startswith("**Step 3")
    await person.say("what before that")
    assert person.text().startswith("**Step 2")


async def test_y_luego_after_an_answered_step_in_spanish(person: Person) -> None:
    await person.say("¿dónde inicio sesión para borrar la cuenta?")
    assert "Paso 1" in person.text()
    await person.say("¿y luego?")
    assert person.text().startswith("**Paso 2"), person.text()


async def test_now_what_after_the_overview_never_repeats_it(person: Person) -> None:
    await person.say("how do I delete my account")
    overview = person.text()
    await person.say("now what?")
    assert person.text() != overview
    assert "step by step" in person.text()
    assert person.button("walk me through")  # the offer comes with its button
    await person.say("how long does deletion take")
    await person.say("and then?")
    assert "24 hours" not in person.text()


@pytest.mark.parametrize(
    ("question", "followup", "offer"),
    [
        ("how do I delete my account", "and then?", "step by step"),
        ("как удалить аккаунт?", "а дальше?", "шаг за шагом"),
        ("¿cómo borro mi cuenta?", "¿y luego?", "paso a paso"),
    ],
)
async def test_whats_next_after_the_overview_offers_the_walkthrough_in_every_language(
    person: Person, question: str, followup: str, offer: str
) -> None:
    """The follow-up phrase itself is never read as a question ("а дальше" shares words with
    step 2's phrasings and was answered as step 2)."""
    await person.say(question)
    await person.say(followup)
    assert offer in person.text(), person.text()


async def test_signed_in_now_what_after_the_overview_is_step_two(person: Person) -> None:
    await person.say("how do I delete my account")
    await person.say("ok im logged in now what")
    assert person.text().startswith("**Step 2"), person.text()


async def test_a_followup_keeps_the_language_of_the_answer_it_follows(person: Person) -> None:
    await person.say("hola, ¿cómo borro mi cuenta?")
    assert "cuenta" in person.text()
    await person.say("y luego?")
    assert "paso a paso" in person.text(), person.text()


async def test_walkthrough_words_after_an_answered_step_move_from_it(person: Person) -> None:
    """ "next" right after the answer about step 1 is step 2, not "you're not in a walkthrough";
    "back" and "repeat" likewise, in the conversation's language."""
    await person.say("what is step 1")
    assert person.text().startswith("**Step 1"), person.text()
    await person.say("next")
    assert person.text().startswith("**Step 2"), person.text()
    await person.say("next")
    assert person.text().startswith("**Step 3"), person.text()
    await person.say("back")
    assert person.text().startswith("**Step 2"), person.text()
    await person.say("repeat")
    assert person.text().startswith("**Step 2"), person.text()
    await person.say("¿cuál es el paso 4?")
    await person.say("siguiente")
    assert person.text().startswith("**Paso 5"), person.text()


@pytest.mark.parametrize("typed", ["more", "tell me more", "tell me more please", "why?"])
async def test_tell_me_more_after_an_answer_says_that_is_all_and_offers_the_nearby_topics(
    person: Person, knowledge: Knowledge, typed: str
) -> None:
    """ "more" after an answer got "Goodbye, and good luck!" (the sentence model) or the
    fallback: the guide has no more on it, so say so and offer what is next to it."""
    await person.say("how long does deletion take")
    answer = person.text()
    await person.say(typed)
    title = knowledge.entry("processing_time").title
    assert person.text().startswith(f"**{title}**: that's all"), person.text()
    assert answer not in person.text() and "Goodbye" not in person.text()
    for related in knowledge.entry("processing_time").related[:3]:
        person.button(knowledge.entry(related).title)


async def test_tell_me_more_about_something_else_answers_it(person: Person) -> None:
    await person.say("how long does deletion take")
    await person.say("tell me more about the wallet")
    assert "wallet" in person.text().lower() and "that's all" not in person.text()


async def test_where_am_i_in_and_out_of_a_walkthrough(person: Person) -> None:
    """ "where am i" on a check answered with the entry about step 1."""
    await person.say("where am i")
    assert "not in a walkthrough" in person.text()
    await person.say("/walkthrough")
    await person.say("done")
    await person.say("where am i")
    assert "check 2 of 4" in person.text() and "Step 1" not in person.text()


async def test_a_walkthrough_word_after_an_answer_outside_the_steps_offers_them(
    person: Person,
) -> None:
    await person.say("how long does deletion take")
    await person.say("next")  # never read as a question ("next" alone matches a step)
    assert "step by step" in person.text() and person.button("walk me through")


async def test_yes_to_shall_we_go_step_by_step_starts_the_walkthrough(person: Person) -> None:
    await person.say("how do I delete my account")
    await person.say("now what?")
    assert "step by step" in person.text()
    await person.say("yes please")
    assert "check 1 of 4" in person.text()
    await person.say("cancel")
    await person.say("¿cómo borro mi cuenta?")
    await person.say("¿y ahora qué?")  # "¿Te guío paso a paso ...?"
    await person.say("sí")  # in the conversation's language
    assert "comprobación 1 de 4" in person.text().lower(), person.text()


async def test_yes_after_the_overview_starts_the_walkthrough(person: Person) -> None:
    """The overview ends "Type walkthrough and I will take you through it step by step": a
    typed "yes" accepts that; it got "OK! What would you like to know?"."""
    await person.say("how do I delete my account")
    assert "Type **walkthrough**" in person.text()
    await person.say("yes")
    assert "check 1 of 4" in person.text()
    await person.say("cancel")
    await person.say("how long does deletion take")  # no invitation: "yes" is small talk
    await person.say("yes")
    assert "check 1 of 4" not in person.text()
    # The invitation holds until the next message only: not after "thanks" and "bye".
    await person.say("how do I delete my account")
    await person.say("thanks")
    await person.say("bye")
    await person.say("yes")
    assert "check 1 of 4" not in person.text()
    await person.say("how do I delete my account")
    await person.say("sure")
    assert "check 1 of 4" in person.text()


@pytest.mark.parametrize(
    "message",
    [
        "I want to delete my account, walk me through it",
        "how do i delete my aliexpress account step by step",
        "quiero borrar mi cuenta, guíame paso a paso",
        "comment supprimer mon compte étape par étape",
        "como excluir minha conta passo a passo",
        "как удалить аккаунт, проведи меня по шагам",
    ],
)
async def test_asking_to_delete_step_by_step_starts_the_walkthrough(
    person: Person, message: str
) -> None:
    """The question answered by the overview, asking for it step by step, gets the steps one
    at a time (it got the overview, which says to type "walkthrough")."""
    await person.say(message)
    assert await position(person) == ("checklist", "orders"), person.text()


async def test_step_by_step_beside_another_question_answers_it(person: Person) -> None:
    await person.say("how long does deletion take, step by step")
    assert "24 hours" in person.text()
    assert await not_walking(person)


async def test_yes_to_start_a_new_one_after_a_stale_button_starts_it(person: Person) -> None:
    await person.say("/walkthrough")
    stale = person.button("Done")
    await person.say("cancel")
    await person.press_payload(stale.payload)  # "...already ended. Start a new one?"
    assert "already ended" in person.text()
    await person.say("yes")
    assert "check 1 of 4" in person.text()


async def test_yes_only_answers_the_question_just_asked(person: Person) -> None:
    await person.say("next")
    assert "not in a walkthrough" in person.text()
    await person.say("how long does deletion take")
    await person.say("yes")  # the offer was two messages ago: small talk, no walkthrough
    assert "check 1 of 4" not in person.text()
    await person.say("now what")
    await person.say("no")
    assert "check 1 of 4" not in person.text() and "step by step" not in person.text()


async def test_and_then_with_nothing_answered_offers_the_walkthrough(person: Person) -> None:
    await person.say("and then?")
    assert "not in a walkthrough" in person.text()


async def test_context_is_brief_and_forgotten(knowledge: Knowledge) -> None:
    now = [1000.0]
    store = MemoryStore()
    engine = Engine(knowledge, store, clock=lambda: now[0])
    alice = Person(engine)
    await alice.say("how do I sign in to aliexpress")
    assert engine.context  # kept in memory ...
    assert len(store) == 0  # ... and never in the store
    now[0] += CONTEXT_TTL + 1
    await alice.say("and then?")
    assert "not in a walkthrough" in alice.text()
    await alice.say("how do I sign in to aliexpress")
    assert engine.context
    await alice.say("/forget")
    await alice.press(knowledge.ui("button_forget_yes", "en"))
    assert not engine.context
    await alice.say("and then?")
    assert "not in a walkthrough" in alice.text()


FOLLOWUPS = [
    "what is next",
    "where is that button",
    "what before that",
    "and then?",
    "done with the boxes, what do I press now",
    "I am signed in, now what",
    "qué sigue",
    "y antes de eso",
    "no lo encuentro",
    "how do I choose a reason",
    "and then what happens to my wallet",
    "где эта кнопка",
    "et ensuite",
]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([*FOLLOWUPS, "done", "back", "next"]), min_size=1, max_size=12))
def test_followups_never_leave_a_valid_position(knowledge: Knowledge, said: list[str]) -> None:
    async def run() -> None:
        engine = Engine(knowledge, MemoryStore())
        person = Person(engine)
        await person.say("/walkthrough")
        guide = knowledge.walkthrough("en")
        for text in said:
            await person.say(text)
            session = await engine.store.get("test:c1:alice")
            if session is None or session.mode is None:
                return  # finished the walkthrough: nowhere left to be
            assert session.position is not None
            assert valid(guide, Position(session.mode, session.position)), (text, session)

    asyncio.run(run())


async def test_a_typo_of_a_walkthrough_word_moves_like_the_word(person: Person) -> None:
    """ "nxet" on a step got the refusal; one letter off a one-word walkthrough word (added,
    dropped, changed or two swapped) is that word, unless it is a word the guide itself uses."""
    await to_step_one(person)
    await moves_to(
        person,
        ("nxet", ("steps", "settings")),
        ("bakc", ("steps", "login")),
        ("siguente", ("steps", "settings")),
        ("step", ("steps", "settings")),  # the guide's own word, not a typo of "stop"
    )
    await person.say("cancle")
    assert await not_walking(person)


@pytest.mark.parametrize(
    ("message", "titles"),
    [
        (
            "how do i delete my account? also how long does it take? and what about my wallet?",
            ("How do I delete", "How long does deletion take", "wallet funds"),
        ),
        (
            "¿cómo borro mi cuenta? ¿cuánto tarda? ¿pierdo mi saldo?",
            ("Cómo elimino mi cuenta", "Cuánto tarda", "saldo de mi billetera"),
        ),
    ],
)
async def test_a_message_asking_several_questions_gets_each_answer(
    person: Person, message: str, titles: tuple[str, ...]
) -> None:
    """It got a "did you mean" between two of them."""
    await person.say(message)
    texts = [reply.text for reply in person.last]
    assert len(texts) == len(titles)
    for text, title in zip(texts, titles, strict=True):
        assert title in text, text
    assert not any("👍" in b.label for r in person.last for row in r.buttons for b in row)


@pytest.mark.parametrize(
    "said", ["I already did all of that", "all done", "ya está hecho", "déjà fait", "уже сделал"]
)
async def test_already_done_at_a_check_moves_on(person: Person, said: str) -> None:
    """ "I already did all of that" at a check was answered as the processing time."""
    await person.say("/walkthrough")
    await person.say(said)
    assert await position(person) == ("checklist", "history"), person.text()


async def test_several_questions_mid_walkthrough_get_each_answer_and_keep_the_place(
    person: Person,
) -> None:
    """Mid-walkthrough only the first was answered."""
    await to_step_one(person)
    await person.say("how long does it take? can I reopen it?")
    texts = [reply.text for reply in person.last]
    assert "How long does deletion take" in texts[0] and "reopen" in texts[1], texts
    assert "still on **step 1 of 5**" in texts[-1]


@pytest.mark.parametrize(
    "message",
    ["hi, how long does it take?", "how long does it take? is it fast?", "how long does it take"],
)
async def test_one_question_gets_one_answer(person: Person, message: str) -> None:
    await person.say(message)
    assert len(person.last) == 1 and "24 hours" in person.text()


async def test_a_yes_before_a_walkthrough_word_is_read_as_the_word(person: Person) -> None:
    """ "ok, let's do it" got the refusal: only the bare words were walkthrough words."""
    await person.say("how long does it take")
    await moves_to(
        person,
        ("ok, let's do it", ("checklist", "orders")),
        ("ok next", ("checklist", "history")),
        ("vale, siguiente", ("checklist", "wallet")),
    )
    await person.say("yes cancel")
    assert await not_walking(person)


@pytest.mark.parametrize("command", ["/start", "/help"])
async def test_start_or_help_mid_walkthrough_says_where_the_person_still_is(
    person: Person, command: str
) -> None:
    await to_step_one(person)
    await person.say(command)
    assert "still on **step 1 of 5**" in person.last[-1].text and person.button("Next")
    await person.say("next")
    assert await position(person) == ("steps", "settings")


@pytest.mark.parametrize("words", ["skip the checks", "solo los pasos", "сразу к шагам"])
async def test_skip_the_checks_outside_a_walkthrough_starts_at_step_one(
    person: Person, words: str
) -> None:
    """It answered step 4 ("choose a reason") as a question."""
    await person.say(words)
    assert await position(person) == ("steps", "login"), person.text()


@pytest.mark.parametrize("said", ["keep going", "je continue", "sigamos", "продолжаем"])
async def test_carry_on_words_move_on(person: Person, said: str) -> None:
    """ "ok je continue" on a check repeated the last answer instead of moving on."""
    await person.say("/walkthrough")
    await moves_to(
        person, (said, ("checklist", "history")), (f"ok {said}", ("checklist", "wallet"))
    )
