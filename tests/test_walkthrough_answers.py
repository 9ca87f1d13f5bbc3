"""What people type in a walkthrough, from a second exploratory test (2026-12-03, later): "n"
for no where a question is asked, checks answered in a few words, a look at a later step
that keeps the place, "step 6" of 5, "I'm stuck", "I'll keep my account", typos and emoji."""

from __future__ import annotations

import pytest

from bot.knowledge import Knowledge
from tests.conftest import Person
from tests.test_walkthrough_words import on_step, where


async def test_n_is_no_at_a_check_and_at_the_warning(person: Person) -> None:
    await person.say("/walkthrough")
    await person.say("n")
    assert "sort that out first" in person.text()  # the place is kept, not check 2
    await person.say("y")
    assert where(person) == "check 2"
    await person.say("skip the checks")
    for _ in range(4):
        await person.say("next")
    assert where(person) == "warning"
    await person.say("n")
    assert "still on" in person.text()  # not past the warning
    await person.say("next")
    assert "red" in person.text()


async def test_n_still_moves_on_a_step(person: Person) -> None:
    await on_step(person, 2)
    await person.say("n")
    assert where(person) == "step 3"


async def test_n_answers_the_erase_question(person: Person) -> None:
    await person.say("/walkthrough")
    await person.say("/forget")
    await person.say("n")
    assert "nothing was erased" in person.text().lower()
    await person.say("repeat")
    assert where(person) == "check 1"  # still there


@pytest.mark.parametrize(
    ("said", "landed"),
    [
        ("yes I have", "check 2"),
        ("yes, all done", "check 2"),
        ("sí, ya está", "check 2"),
        ("no I haven't", "check 1"),
        ("нет ещё", "check 1"),
    ],
)
async def test_a_check_answered_in_a_few_words(person: Person, said: str, landed: str) -> None:
    await person.say("/walkthrough")
    await person.say(said)
    if landed == "check 1":
        await person.say("/walkthrough")  # where am I?
    number = landed[-1]
    assert any(f"{number} {of} 4" in person.text() for of in ("of", "de", "из"))


async def test_a_question_after_yes_at_a_check_is_a_question(
    person: Person, knowledge: Knowledge
) -> None:
    await person.say("/walkthrough")
    await person.say("yes, but what about refunds?")
    assert knowledge.entry("pending_orders", "en").title in person.text()
    assert "still on" in person.text()


@pytest.mark.parametrize(
    "said", ["what is step 4?", "what does step 4 say", "what's in step 4?", "¿qué es el paso 4?"]
)
async def test_a_look_at_a_later_step_keeps_the_place(
    person: Person, knowledge: Knowledge, said: str
) -> None:
    await person.say("/walkthrough")
    await person.say(said)
    assert "still on" in person.text() or "Sigues en" in person.text()
    await person.say("next")
    assert any(f"2 {of} 4" in person.text() for of in ("of", "de"))  # no check was skipped


@pytest.mark.parametrize(
    ("said", "landed"),
    [
        ("step 4", "step 4"),
        ("go to step 4", "step 4"),
        ("take me to step 3 please", "step 3"),
        ("перейди к шагу 3", "step 3"),
        ("ve al paso 3", "step 3"),
        ("the third check", "check 3"),
    ],
)
async def test_a_step_named_with_a_move_goes_there(person: Person, said: str, landed: str) -> None:
    await person.say("/walkthrough")
    await person.say(said)
    text = person.text()
    if landed.startswith("step"):
        assert f"({landed[-1]}/5)" in text
    else:
        assert where(person) == landed


@pytest.mark.parametrize("said", ["step 6", "go to step 0", "skip to step seven", "paso 9"])
async def test_a_step_beyond_the_last_says_how_many_there_are(person: Person, said: str) -> None:
    await on_step(person, 2)
    await person.say(said)
    assert "only 5 steps" in person.text() or "Solo hay 5 pasos" in person.text()
    await person.say("next")
    assert where(person) == "step 3"  # the place was kept


async def test_a_step_beyond_the_last_outside_a_walkthrough(person: Person) -> None:
    await person.say("what is step 6")
    assert "only 5 steps" in person.text()
    assert "Step 5" in person.text() or "5." in person.text()  # the list of steps


@pytest.mark.parametrize("said", ["I'm stuck", "stuck", "I don't see the button", "estoy atascado"])
async def test_stuck_gets_the_step_again_with_help(person: Person, said: str) -> None:
    await on_step(person, 3)
    await person.say(said)
    assert "customer" in person.text().lower() or "cliente" in person.text().lower()
    await person.say("repeat")
    assert where(person) == "step 3"


@pytest.mark.parametrize(
    "said", ["I decided to keep my account", "actually I'll stay", "je garde mon compte"]
)
async def test_keeping_the_account_ends_the_walkthrough(person: Person, said: str) -> None:
    await on_step(person, 2)
    await person.say(said)
    assert "Nothing was changed" in person.text() or "Rien n'a" in person.text()


@pytest.mark.parametrize(
    ("said", "landed"),
    [
        ("nxt", "step 3"),
        ("bak", "step 1"),
        ("👉", "step 3"),
        ("not sure", "aside"),
        ("let me think", "aside"),
    ],
)
async def test_more_ways_to_move_or_wait(person: Person, said: str, landed: str) -> None:
    await on_step(person, 2)
    await person.say(said)
    assert where(person) == landed


@pytest.mark.parametrize("said", ["❌", "🛑"])
async def test_a_stop_emoji_cancels(person: Person, said: str) -> None:
    await on_step(person, 2)
    await person.say(said)
    assert "cancelled" in person.text().lower()


async def test_polite_words_only_at_the_ends_first(person: Person) -> None:
    """ "a" is a polite word in some language, and a word of "one step at a time"."""
    await person.say("one step at a time please")
    assert where(person) == "check 1"


@pytest.mark.parametrize("said", ["ok", "got it", "thanks"])
async def test_ok_after_a_side_answer_keeps_the_step(person: Person, said: str) -> None:
    """It acknowledges the answer, not the step: the step is shown again."""
    await on_step(person, 2)
    await person.say("how long does it take?")
    await person.say(said)
    assert where(person) == "step 2"
    await person.say("ok")  # now it is about the step
    assert where(person) == "step 3"


async def test_done_after_a_side_answer_still_moves_on(person: Person) -> None:
    await on_step(person, 2)
    await person.say("how long does it take?")
    await person.say("done")
    assert where(person) == "step 3"


@pytest.mark.parametrize("said", ["explain", "why?", "really?"])
async def test_a_bare_why_out_of_the_blue_gets_the_fallback(
    person: Person, knowledge: Knowledge, said: str
) -> None:
    """ "explain" alone got "What is AliExpress?": no topic is named, so none is guessed."""
    await person.say(said)
    assert person.text() == knowledge.ui("fallback", "en")


@pytest.mark.parametrize("said", ["is that true?", "are you sure?", "for real?"])
async def test_are_you_sure_after_an_answer_says_that_is_all_there_is(
    person: Person, knowledge: Knowledge, said: str
) -> None:
    await person.say("what happens to my wallet money?")
    await person.say(said)
    assert knowledge.entry("wallet_funds", "en").title in person.text()
    assert "all the guide says" in person.text()


# -- from a regression test of the above (2026-12-03, later still) ---------------------------


@pytest.mark.parametrize(
    ("said", "landed"),
    [("no, cancel", "cancelled"), ("no, go back", "step 4"), ("нет, назад", "step 4")],
)
async def test_a_no_before_a_move_makes_the_move(person: Person, said: str, landed: str) -> None:
    await on_step(person, 4)
    await person.say("next")  # the warning before the last step
    assert where(person) == "warning"
    await person.say(said)
    if landed == "cancelled":
        assert "cancelled" in person.text().lower()
    else:
        assert "(4/5)" in person.text() or "4/5" in person.text()


@pytest.mark.parametrize("said", ["sure?", "ok?", "are you sure?"])
async def test_doubt_at_the_warning_does_not_pass_it(person: Person, said: str) -> None:
    await on_step(person, 4)
    await person.say("next")
    await person.say(said)
    assert "red" not in person.text()
    await person.say("repeat")
    assert where(person) == "warning"


@pytest.mark.parametrize("said", ["yes, except one order", "yes but one is still coming"])
async def test_a_qualified_yes_at_a_check_is_not_done(person: Person, said: str) -> None:
    await person.say("/walkthrough")
    await person.say(said)
    await person.say("/walkthrough")  # where am I?
    assert where(person) == "check 1"


async def test_check_1_at_check_3_goes_to_check_1(person: Person) -> None:
    await person.say("/walkthrough")
    await person.say("done")
    await person.say("done")
    await person.say("check 1")
    assert where(person) == "check 1"


@pytest.mark.parametrize(
    "said", ["I don't speak french", "je ne parle pas anglais", "my account is in spanish"]
)
async def test_a_language_mentioned_is_not_a_language_chosen(
    person: Person, knowledge: Knowledge, said: str
) -> None:
    await person.say("/walkthrough")
    await person.say(said)
    assert knowledge.ui("language_set", "fr") not in person.text()
    assert knowledge.ui("language_set", "en") not in person.text()
    assert knowledge.ui("language_set", "es") not in person.text()


@pytest.mark.parametrize("said", ["not done yet", "no, not yet", "ainda não fiz"])
async def test_not_yet_in_other_words_keeps_the_check(person: Person, said: str) -> None:
    await person.say("/walkthrough")
    await person.say(said)
    await person.say("/walkthrough")
    assert any(f"1 {of} 4" in person.text() for of in ("of", "de"))


async def test_actually_i_will_keep_it_ends_the_walkthrough(person: Person) -> None:
    await on_step(person, 2)
    await person.say("actually I'll keep it")
    assert "Nothing was changed" in person.text()
