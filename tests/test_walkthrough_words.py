"""What people type in a walkthrough instead of pressing its buttons, found by an exploratory
test (2026-12-03): moves said with a count, "back to the start", "I changed my mind", "/next",
arrows, what comes after the last step, and a "no" at a check that keeps the place."""

from __future__ import annotations

import pytest

from bot.knowledge import Knowledge
from tests.conftest import Person


def where(person: Person) -> str:
    """ "check 2 of 4" / "(3/5)" / "warning" / "aside" (a step answered beside the position)."""
    text = person.text()
    if "still on" in text:
        return "aside"
    if "Careful" in text:
        return "warning"
    for n in range(1, 6):
        if f"({n}/5)" in text:
            return f"step {n}"
        if f"check {n} of 4" in text:
            return f"check {n}"
    return text[:60]


async def on_step(person: Person, number: int) -> None:
    await person.say("/walkthrough")
    await person.say("skip the checks")
    for _ in range(number - 1):
        await person.say("next")
    assert where(person) == f"step {number}"


@pytest.mark.parametrize(
    ("said", "landed"),
    [
        ("go back two steps", "step 2"),
        ("back 2 steps", "step 2"),
        ("2 steps back", "step 2"),
        ("back back", "step 2"),
        ("back back back back back back", "check 2"),  # past step 1, into the checks
        ("next next", "warning"),  # never past the warning before the last step
        ("skip 3", "warning"),
    ],
)
async def test_a_move_said_with_a_count_moves_that_many_times(
    person: Person, said: str, landed: str
) -> None:
    await on_step(person, 4)
    await person.say(said)
    assert where(person) == landed
    if landed == "step 2":
        await person.say("next")  # the walkthrough goes on from where it was moved
        assert where(person) == "step 3"


@pytest.mark.parametrize(
    ("said", "lang"),
    [("back to the start", "en"), ("go back to the beginning", "en"), ("в начало", "ru")],
)
async def test_back_to_the_start_starts_over(
    person: Person, knowledge: Knowledge, said: str, lang: str
) -> None:
    await on_step(person, 4)
    await person.say(said)
    # was: step 1 shown aside, the person left on step 4
    assert person.last[0].text == knowledge.walkthrough(lang).intro
    assert "still on" not in person.text()


async def test_skip_to_the_last_step_goes_there_whatever_skip_leans_to(person: Person) -> None:
    await on_step(person, 2)
    await person.say("skip to the last step")  # "skip" alone answers step 4 (skip a reason?)
    assert where(person) == "warning"


@pytest.mark.parametrize(
    ("said", "lang"),
    [("I changed my mind", "en"), ("ya no quiero borrarla", "es"), ("я передумал", "ru")],
)
async def test_changing_ones_mind_stops_the_walkthrough(
    person: Person, knowledge: Knowledge, said: str, lang: str
) -> None:
    await on_step(person, 3)
    await person.say(said)
    assert person.text() == knowledge.ui("cancelled", lang)


async def test_changing_ones_mind_outside_a_walkthrough_covers_both_meanings(
    person: Person,
) -> None:
    """Outside a walkthrough, "I changed my mind" may be about keeping the account or about
    one already closed: the reply says there is nothing to do, and that reopening is not
    guaranteed (`keep_outside`)."""
    await person.say("I changed my mind")
    assert "nothing to do" in person.text() and "reopen" in person.text().lower()


@pytest.mark.parametrize(("said", "lang"), [("отмена", "ru"), ("cancelar", "es")])
async def test_cancel_with_nothing_to_cancel_says_so_in_any_language(
    person: Person, knowledge: Knowledge, said: str, lang: str
) -> None:
    await person.say("/walkthrough")
    await person.say(said)  # one word may not tell the language: either reply will do
    assert person.text() in {knowledge.ui("cancelled", code) for code in ("en", lang)}
    await person.say(said)  # was: the answer about reopening, or the fallback
    assert person.text() in {knowledge.ui("nothing_to_cancel", code) for code in ("en", lang)}


async def test_walkthrough_words_typed_as_commands(person: Person) -> None:
    await on_step(person, 2)
    await person.say("/next")
    assert where(person) == "step 3"
    await person.say("/back")
    assert where(person) == "step 2"
    await person.say("/skip")
    assert where(person) == "step 3"
    await person.say("/nosuchthing")
    assert "/nosuchthing" in person.text()  # an unknown command is still named


@pytest.mark.parametrize(("said", "landed"), [("got it", "step 3"), ("it worked", "step 3"),
                                              ("➡️", "step 3"), ("⬅️", "step 1")])  # fmt: skip
async def test_acknowledgements_and_arrows_move(person: Person, said: str, landed: str) -> None:
    await on_step(person, 2)
    await person.say(said)
    assert where(person) == landed


async def test_what_now_after_the_last_step_says_what_comes_next(
    person: Person, knowledge: Knowledge
) -> None:
    await on_step(person, 4)
    await person.say("next")  # the warning
    await person.press("continue")
    await person.say("next")
    done = knowledge.walkthrough("en").done
    assert person.text() == done
    for said in ("what now?", "I did it", "and then?"):
        await person.say(said)
        assert person.text() == done, said  # was: "You're not in a walkthrough right now"
    await person.say("repeat")
    assert "Step 5" in person.text()


async def test_no_at_a_check_keeps_the_place(person: Person, knowledge: Knowledge) -> None:
    await person.say("/walkthrough")
    await person.say("done")
    await person.say("done")
    await person.say("no")  # "have you withdrawn your funds?" "no" (there were none)
    assert person.text() == knowledge.ui("checklist_stopped", "en")
    await person.press("Done")
    assert where(person) == "check 4"  # was: the walkthrough ended; /walkthrough: check 1


@pytest.mark.parametrize(("said", "lang"), [("it didn't work", "en"), ("no funciona", "es")])
async def test_it_did_not_work_shows_the_step_again_with_help(
    person: Person, knowledge: Knowledge, said: str, lang: str
) -> None:
    await on_step(person, 2)
    await person.say(said)  # was: the answer about a forgotten password
    # a short message may not switch the conversation's language: either is right
    shown = {
        code: knowledge.ui("step_trouble", code, link=knowledge.ui("support_link", code))
        for code in ("en", lang)
    }
    assert person.last[0].text in shown.values()
    assert where(person) == "step 2" or "(2/5)" in person.text()
    await person.say("next")
    assert where(person) == "step 3"  # the place was kept
