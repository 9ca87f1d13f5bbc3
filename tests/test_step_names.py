"""Steps and checks named by their number (bot/step_names.py): "what is step one if I want to
close my account" is about step 1, "the third check" about the checklist's third item, "can you
list the five steps" about the whole process, in every language; an answer about something
else, or a follow-up counting from the step, stands."""

from __future__ import annotations

import pytest

from bot.knowledge import Knowledge
from bot.matcher import RELATIVE_FOLLOWUPS, Matcher
from bot.step_names import StepNames
from bot.types import Answer, Suggestion
from tests.conftest import Person


@pytest.fixture(scope="module")
def matcher(knowledge: Knowledge) -> Matcher:
    return Matcher(knowledge)


def test_every_language_names_every_step_and_the_whole(knowledge: Knowledge) -> None:
    names = StepNames(knowledge)
    overview = knowledge.walkthrough("en").offered_after[0]
    for lang in knowledge.languages:
        walk = knowledge.walkthrough(lang)
        assert walk.all_steps_named, lang
        for phrase in walk.all_steps_named:
            assert names.named(f"ok, {phrase}?") == overview, (lang, phrase)
        for step in walk.steps:
            assert step.named, (lang, step.id)
            for phrase in step.named:
                assert names.named(f"so... {phrase.upper()} !") == step.entry, (lang, phrase)
        for item in walk.checklist:
            assert item.named, (lang, item.id)
            for phrase in item.named:
                assert names.named(f"so... {phrase.upper()} !") == item.entry, (lang, phrase)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("what is step 1", "step_login"),
        ("what is step 10", None),  # not "step 1"
        ("the 5 steps", "delete_account"),
        ("step 5", "step_submit"),
        ("steps", None),
        ("step 2 or step 3?", None),  # two steps: nothing settled
        ("check 3", "wallet_funds"),
        ("check 30", None),
        ("can you check one thing", None),  # "check one" names nothing: "check 1" does
        ("", None),
    ],
)
def test_a_phrase_is_found_whole(knowledge: Knowledge, text: str, named: str | None) -> None:
    assert StepNames(knowledge).named(text) == named


@pytest.mark.parametrize(
    ("question", "lang", "entry"),
    [
        ("what is step one if I want to close my ali profile", "en", "step_login"),
        ("c'est quoi la deuxième étape pour fermer mon compte", "fr", "step_settings"),
        ("can you list the five steps", "en", "delete_account"),
        ("cuáles son los 5 pasos", "es", "delete_account"),
        ("какие 5 шагов", "ru", "delete_account"),
        # an answer about something else stands
        ("how long after the final step until it's deleted", "en", "processing_time"),
        ("do I lose my wallet money at step 3", "en", "wallet_funds"),
        ("после последнего шага сколько ждать", "ru", "processing_time"),
        # checks: the words leaned to step 3 ("third"), to the list of checks, to nothing
        ("the third check", "en", "wallet_funds"),
        ("what is check 2", "en", "order_history"),
        ("¿cuál es la tercera comprobación?", "es", "wallet_funds"),
        ("что за проверка 2", "ru", "order_history"),
        # a check named beside another topic: the topic stands
        ("how long does it take after check 2", "en", "processing_time"),
    ],
)
def test_the_matcher_answers_the_step_named(
    matcher: Matcher, question: str, lang: str, entry: str
) -> None:
    assert matcher.match(question, lang).entry_id == entry


OVERVIEW, STEP_1, STEP_2 = "delete_account", "step_login", "step_settings"


def offer(*ids: str) -> tuple[Suggestion, ...]:
    return tuple(Suggestion(entry_id, entry_id, 0.6 - i / 10) for i, entry_id in enumerate(ids))


@pytest.mark.parametrize(
    ("answer", "target", "relative", "settled"),
    [
        (Answer(OVERVIEW, 0.7, (), "en"), STEP_1, False, STEP_1),
        (Answer(STEP_2, 0.7, (), "en"), OVERVIEW, False, OVERVIEW),
        (Answer(None, 0.5, offer(OVERVIEW, STEP_1), "en"), STEP_1, False, STEP_1),
        # a did-you-mean is words that left it open, even one that does not offer the step
        # ("step 2 of deleting?" offered steps 3 and 1): the number is the clearer signal
        (Answer(None, 0.5, offer(OVERVIEW), "en"), STEP_1, False, STEP_1),
        # the words know better: another step ("past step 2, where is the deactivate button"),
        # another topic, a follow-up counting on, a fallback with no offer, a refusal
        (Answer(STEP_2, 0.7, (), "en"), STEP_1, False, STEP_2),
        (Answer("processing_time", 0.7, (), "en"), STEP_1, False, "processing_time"),
        (Answer(OVERVIEW, 0.7, (), "en"), STEP_1, True, OVERVIEW),
        (Answer(None, 0.5, offer(OVERVIEW, STEP_1), "en"), STEP_1, True, None),
        (Answer(None, 0.3, (), "en"), STEP_1, False, None),
        (Answer(None, 1.0, (), "en", refusal="other_site"), STEP_1, False, None),
    ],
)
def test_a_named_step_settles_only_what_the_words_left_open(
    knowledge: Knowledge, answer: Answer, target: str, relative: bool, settled: str | None
) -> None:
    result = StepNames(knowledge).settle(answer, target, relative)
    assert result.entry_id == settled
    if settled == answer.entry_id:
        assert result == answer
    else:
        assert result.score >= answer.score and not result.suggestions


@pytest.mark.parametrize(
    ("text", "relative"),
    [
        ("finished the first step, what now", True),
        ("done with step 2", True),
        ("what is the first step", False),
        ("where is the button in step 3", False),  # "where": the step itself
    ],
)
def test_a_follow_up_counting_from_the_step_is_relative(
    matcher: Matcher, text: str, relative: bool
) -> None:
    """What Matcher.match passes to `settle` as `relative`."""
    assert (matcher.followups.find(text)[0] in RELATIVE_FOLLOWUPS) is relative


async def test_a_step_named_in_a_walkthrough_moves_there(person: Person) -> None:
    """Typing "skip to step 3" on the first check moves to step 3 (was: step 3 shown aside, the
    person left on check 1); "back to step 2" moves back; the last step keeps its warning."""
    await person.say("/walkthrough")
    assert "1/4" in person.text() or "1 of 4" in person.text()
    await person.say("skip to step 3")
    assert "(3/5)" in person.text() and "still on" not in person.text()
    await person.say("ok go back to step 2")
    assert "(2/5)" in person.text()
    await person.press("Next")
    assert "(3/5)" in person.text()  # the walkthrough goes on from where it was moved
    await person.say("ir al último paso")
    assert "(5/5)" in person.text()
    person.button("continu")  # the warning gate (here in Spanish: "Entiendo, continuar")


async def test_a_step_named_with_a_follow_up_moves_on_from_it(person: Person) -> None:
    """Typing "done with step 1, what now?" counts on from step 1: Next, not a jump to step 1."""
    await person.say("/walkthrough")
    await person.say("skip the checks")
    await person.press("Next")
    assert "(2/5)" in person.text()
    await person.say("I finished step 2, what now")
    assert "(3/5)" in person.text()


async def test_a_check_named_in_a_walkthrough_moves_there(person: Person) -> None:
    """ "skip to check 3" on the first check moves to the third (was: step 4's answer, for
    "skip"); from a step, "back to check 2" moves back to the checklist."""
    await person.say("/walkthrough")
    await person.say("skip to check 3")
    assert "3 of 4" in person.text() and "Step 4" not in person.text()
    await person.say("go to step 2")
    assert "(2/5)" in person.text()
    await person.say("back to check 2 please")
    assert "2 of 4" in person.text() and "still on" not in person.text()
    await person.press("Done")
    assert "3 of 4" in person.text()  # the walkthrough goes on from the check it moved to
