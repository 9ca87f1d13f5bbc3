"""Scripted conversations through the engine with the shipped YAML."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

from bot.actions import MAX_PAYLOAD_BYTES, Navigate, ShowEntry, encode
from bot.engine import Engine
from bot.sessions import MemoryStore, SqliteStore
from bot.types import IncomingMessage
from tests.conftest import Person


async def test_start_offers_main_paths(person):
    replies = await person.say("/start")
    labels = [b.label for r in replies for b in r.all_buttons()]
    assert any("Walk me through" in label for label in labels) and len(labels) >= 3


async def test_whole_walkthrough_forward_and_back(person, knowledge):
    walk = knowledge.walkthrough()
    replies = await person.say("/walkthrough")
    assert walk.intro.strip()[:20] in person.text()
    for index, item in enumerate(walk.checklist):
        assert item.prompt in person.text(), index
        if index == 1:
            await person.press("Tell me more")
            assert knowledge.entry(item.entry).answer.strip()[:30] in person.text()
            assert person.last[0].edit
        replies = await person.press("Done")
    assert knowledge.entry("step_login").answer.strip()[:30] in person.text()
    assert replies[0].edit
    labels = [b.label for b in replies[0].all_buttons()]
    assert {"◀ Back", "Repeat", "Next ▶", "Cancel", "I forgot my password"} <= set(labels)
    await person.press("I forgot my password")
    assert "Forgot Password?" in person.text() and "still on" in person.text()
    await person.press("Next")
    assert "My AliExpress" in person.text()
    await person.press("Back")
    assert knowledge.entry("step_login").answer.strip()[:30] in person.text()
    await person.press("Back")  # back from step 1 returns to the last check
    assert walk.checklist[-1].prompt in person.text()
    await person.say("next")  # last check -> step 1
    for _ in range(4):  # step 1 -> 2 -> 3 -> 4 -> warning before step 5
        await person.say("next")
    assert "Careful" in person.text()  # the warning gate before the irreversible step
    assert not any("Next" in b.label for b in person.last[0].all_buttons())
    await person.press("continue")
    assert "red" in person.text() and "Deactivate my account" in person.text()
    await person.press("Next")
    assert "24 hours" in person.text() and "confirmation email" in person.text()
    assert len(person.engine.store) == 0  # finished: nothing kept


async def test_question_mid_walkthrough_keeps_the_step(person):
    await person.say("walkthrough")
    await person.say("done")
    replies = await person.say("what happens to the money in my wallet?")
    assert "withdraw" in replies[0].text.lower()
    assert "still on" in replies[-1].text and replies[-1].all_buttons()
    await person.say("done")
    assert "wallet" in person.text().lower()  # still moved from check 2 to check 3 only


async def test_typed_words_drive_the_walkthrough(person):
    await person.say("/walkthrough")
    for word in ("done", "ok", "yes", "did it"):
        await person.say(word)
    assert "Log in" in person.text()
    await person.say("repeat")
    assert "Log in" in person.text()
    await person.say("cancel")
    assert "cancelled" in person.text().lower()
    await person.say("cancel")
    assert "nothing to cancel" in person.text().lower()


@pytest.mark.parametrize(
    ("word", "first_check", "second_check"),
    [
        ("start over", "check 1 of 4", "check 2 of 4"),
        ("empezar de nuevo", "comprobación 1 de 4", "comprobación 2 de 4"),
        ("начать заново", "1 из 4", "2 из 4"),
    ],
)
async def test_start_over_restarts_the_walkthrough(person, word, first_check, second_check):
    await person.say("/walkthrough")
    for typed in ("done", "done", "done", "done", "next"):
        await person.say(typed)
    assert "(2/5)" in person.text()
    await person.say(word)
    assert first_check in person.text().lower(), person.text()
    await person.say("done")  # and it carries on from the start
    assert second_check in person.text().lower(), person.text()


@pytest.mark.parametrize(
    ("typed", "first_check"),
    [
        ("start over", "check 1 of 4"),
        ("walk me through it", "check 1 of 4"),
        ("let's do it", "check 1 of 4"),
        ("paso a paso", "comprobación 1 de 4"),
        ("по шагам", "1 из 4"),
    ],
)
async def test_asking_to_go_step_by_step_starts_the_walkthrough(person, typed, first_check):
    await person.say(typed)
    assert first_check in person.text().lower(), person.text()
    await person.say("/walkthrough")
    await person.say("next")
    await person.say(typed if typed != "start over" else "walk me through it")
    assert "2 " in person.text() and first_check not in person.text().lower()  # stays put


async def test_skip_moves_on_and_skip_the_checks_goes_to_step_one(person):
    """ "skip" on a check was read as a question about skipping the reason (step 4)."""
    await person.say("/walkthrough")
    await person.say("skip")
    assert "check 2 of 4" in person.text()
    await person.say("skip the checks")
    assert "(1/5)" in person.text()
    await person.say("skip the checks")  # on a step: where you are, again
    assert "(1/5)" in person.text()
    await person.say("/cancel")
    await person.say("/walkthrough")
    await person.say("пропустить проверки")
    assert "(1/5)" in person.text()


async def test_wait_on_a_step_keeps_the_place_and_stop_cancels(person):
    """ "wait" or "hold on" on a step cancelled the walkthrough; "no wait" at the last step's
    warning was read as a question (the processing time)."""
    await person.say("/walkthrough")
    await person.say("skip the checks")
    for typed in ("wait", "hold on"):
        await person.say(typed)
        assert "still on **step 1 of 5**" in person.text()
    for _ in range(4):
        await person.say("next")
    assert "Careful" in person.text()  # the warning before the final click
    await person.say("no wait")
    assert "still on **step 5 of 5**" in person.text() and "24 hours" not in person.text()
    await person.say("stop")
    assert "cancelled" in person.text().lower()


async def test_wait_on_a_check_keeps_the_place_and_not_yet_stops(person):
    """ "wait" or "hold on" at a check ended the walkthrough ("sort that out first"), which
    only "not yet" / "no" mean there."""
    await person.say("/walkthrough")
    for typed in ("wait", "hold on", "one sec please"):
        await person.say(typed)
        assert "still on **check 1 of 4**" in person.text(), (typed, person.text())
    await person.say("not yet")
    assert "sort that out first" in person.text()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("next please", "(3/5)"),
        ("please next", "(3/5)"),
        ("next, please!", "(3/5)"),
        ("ok next pls", "(3/5)"),
        ("can you go back", "(1/5)"),
        ("repeat that please", "(2/5)"),
        ("cancel it now please", "cancelled"),
        ("i want to stop", "cancelled"),
        ("siguiente por favor", "(3/5)"),
        ("дальше пожалуйста", "(3/5)"),
        ("annuler s'il vous plaît", "annulé"),
    ],
)
async def test_polite_words_around_a_walkthrough_word_do_not_hide_it(person, typed, expected):
    """ "next please" showed the entry about the last step's red button, "cancel please" got
    the fallback: only the bare word (or "ok" before it) was understood."""
    await person.say("/walkthrough")
    await person.say("skip the checks")
    await person.say("next")
    await person.say(typed)
    assert expected in person.text(), person.text()


async def test_a_polite_question_mid_walkthrough_is_still_a_question(person):
    await person.say("/walkthrough")
    await person.say("skip the checks")
    await person.say("please tell me how long it takes")
    assert "24 hours" in person.text() and "still on **step 1 of 5**" in person.text()


async def test_skip_is_no_yes_to_shall_we(person):
    await person.say("next")  # "Shall we start one?"
    await person.say("skip")
    assert "check 1 of 4" not in person.text()


async def test_a_request_for_help_gets_the_greeting_not_the_refusal(person):
    await person.say("hello, I need help")
    assert "ask me a question" in person.text().lower()
    assert "only help with" not in person.text()


async def test_huh_on_a_step_shows_it_again(person):
    await person.say("/walkthrough")
    for typed in ("done", "done", "done", "done", "next"):
        await person.say(typed)
    await person.say("huh?")
    assert "(2/5)" in person.text() and "not sure" not in person.text().lower()


async def test_stale_buttons_get_helpful_replies(person):
    await person.say("/walkthrough")
    first = person.last
    await person.press("Done")
    await person.press("Done", first)  # the same button again, from the old message
    assert "earlier message" in person.text() and "check 3" not in person.text()
    await person.say("/cancel")
    await person.press("Done", first)
    assert "already ended" in person.text() and person.last[0].all_buttons()
    await person.press_payload(encode(Navigate("next", "s.nowhere"), person.user))
    await person.press_payload("garbage")
    await person.press_payload(encode(ShowEntry("no_such_entry"), person.user))
    assert all(r.text for r in person.last)


async def test_button_of_someone_else_is_refused(engine):
    alice, bob = Person(engine, "alice", chat="group"), Person(engine, "bob", chat="group")
    await alice.say("/walkthrough")
    replies = await bob.press("Done", alice.last)
    assert replies[0].private and "someone else" in replies[0].text
    await alice.press("Done")
    assert "check 2" in alice.text()


async def test_forget_erases_and_keeps_nothing(engine):
    store = engine.store
    alice = Person(engine)
    await alice.say("/walkthrough")
    assert len(store) == 1
    await alice.say("/forget")
    await alice.press("No")
    assert len(store) == 1
    await alice.say("/forget")
    await alice.press("Yes")
    assert len(store) == 0 and "erased" in alice.text()
    await alice.say("hello")
    assert len(store) == 0


async def test_forget_answered_by_typing_yes_or_no(engine):
    """ "yes" typed to "Erase everything?" mid-walkthrough was read as the checklist's "done"
    and erased nothing."""
    store = engine.store
    alice = Person(engine)
    await alice.say("/walkthrough")
    await alice.say("/forget")
    await alice.say("no")
    assert len(store) == 1 and alice.text() == engine.knowledge.ui("forget_kept", "en")
    await alice.say("/forget")
    await alice.say("yes")
    assert len(store) == 0 and "erased" in alice.text()
    assert not engine.context
    await alice.say("/walkthrough")
    await alice.say("/forget")
    await alice.say("how long does it take")  # something else: answered, nothing erased
    assert "24 hours" in alice.text() and len(store) == 1
    await alice.say("yes")  # the question was two messages ago
    assert len(store) == 1


async def test_expired_session_is_told_kindly(knowledge):
    now = [1000.0]
    engine = Engine(knowledge, MemoryStore(), ttl=60, clock=lambda: now[0])
    alice = Person(engine)
    await alice.say("/walkthrough")
    old = alice.last
    now[0] += 61
    await alice.press("Done", old)
    assert "paused for more than" in alice.text()
    assert "check 2" not in alice.text()


async def test_faq_steps_checklist_and_ask(person):
    await person.say("/faq")
    await person.press("How long")
    assert "24 hours" in person.text()
    await person.say("/steps")
    assert person.text().count("/5)") == 5
    await person.say("/checklist")
    assert "Wallet" in person.text()
    await person.say("/ask")
    assert "Put your question" in person.text()
    await person.say("/ask@helpbot what is aliexpress")
    assert "Alibaba" in person.text()
    await person.say("/start walkthrough")
    assert "check 1" in person.text()
    await person.say("/frobnicate")
    assert "/frobnicate" in person.text()


async def test_group_chatter_is_ignored(engine):
    msg = IncomingMessage("test", "g", "u", text="lol anyone here", is_group=True, addressed=False)
    assert await engine.handle(msg) == []


async def test_markup_in_user_text_is_escaped(person):
    await person.say("/**bold** [x](http://evil)")
    assert "\\*\\*bold\\*\\*" in person.text()


async def test_payloads_fit_platform_limits(engine):
    person = Person(engine, user="9" * 20)
    await person.say("/walkthrough")
    for _ in range(12):
        for reply in person.last:
            for button in reply.all_buttons():
                assert len(button.payload.encode()) <= MAX_PAYLOAD_BYTES
        await person.say("next")


async def test_restart_resumes_from_sqlite(tmp_path, knowledge):
    db = tmp_path / "s.sqlite3"
    first = Engine(knowledge, SqliteStore(db))
    alice = Person(first)
    for text in ("walkthrough", "done", "done", "done", "done", "next"):
        await alice.say(text)
    await first.close()
    second = Engine(knowledge, SqliteStore(db))
    alice2 = Person(second)
    await alice2.say("repeat")
    assert "My AliExpress" in alice2.text()  # step 2, where she left off
    await second.close()


async def test_a_question_asked_before_a_restart_is_answered_after_it(tmp_path, knowledge):
    """ "Erase everything?", a restart, then "yes": it moved the walkthrough on a step and
    erased nothing (the question lived only in the process's memory)."""
    db = tmp_path / "s.sqlite3"
    first = Engine(knowledge, SqliteStore(db))
    alice = Person(first)
    for text in ("walkthrough", "skip the checks", "next", "/forget"):
        await alice.say(text)
    assert alice.text() == knowledge.ui("forget_confirm", "en")
    await first.close()
    second = Engine(knowledge, SqliteStore(db))
    alice2 = Person(second)
    await alice2.say("yes")
    assert alice2.text() == knowledge.ui("forgotten", "en")
    assert await second.store.get("test:c1:alice") is None
    await alice2.say("hello")
    await alice2.say("yes")  # nothing asked any more: no second erase, no walkthrough move
    assert alice2.text() != knowledge.ui("forgotten", "en")
    await second.close()


async def test_many_users_at_once_do_not_interfere(knowledge, tmp_path):
    engine = Engine(knowledge, SqliteStore(tmp_path / "c.sqlite3"))
    people = [Person(engine, user=f"u{i}") for i in range(40)]

    async def walk(p: Person, steps: int) -> None:
        await p.say("/walkthrough")
        for _ in range(steps):
            await p.say("done")

    await asyncio.gather(*(walk(p, i % 6) for i, p in enumerate(people)))
    for i in range(len(people)):
        session = await engine.store.get(f"test:c1:u{i}")
        expected = ["orders", "history", "wallet", "reopen", "login", "settings"][i % 6]
        assert session is not None and session.position == expected
    await engine.close()


async def test_same_user_updates_apply_in_order(engine):
    alice = Person(engine)
    await alice.say("/walkthrough")
    msgs = [IncomingMessage("test", "c1", "alice", text="done") for _ in range(5)]
    await asyncio.gather(*(engine.handle(m) for m in msgs))
    session = await engine.store.get("test:c1:alice")
    assert session.position == "settings"  # 4 checks then step 1 -> step 2, none lost


def test_core_never_imports_platform_code():
    paths = sorted((Path(__file__).resolve().parent.parent / "bot").rglob("*.py"))
    assert len(paths) >= 10, paths  # the check ran on the real package, whatever the cwd
    for path in paths:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            banned = {"telegram", "discord"} | ({"adapters"} if path.name != "cli.py" else set())
            for name in names:
                assert name.split(".")[0] not in banned, (path, name)


async def test_navigation_words_outside_a_walkthrough_offer_one(person):
    replies = await person.say("next")
    assert "not in a walkthrough" in replies[0].text
    await person.press("Walk me through")
    assert "check 1" in person.text()


async def test_thumbs_up_counts_as_done(person):
    await person.say("/walkthrough")
    await person.say("👍")
    assert "check 2" in person.text()


async def test_walkthrough_command_mid_walkthrough_resumes(person):
    await person.say("/walkthrough")
    await person.say("done")
    await person.say("/walkthrough")
    assert "check 2" in person.text()


async def test_emoji_only_messages_ask_for_words(person):
    replies = await person.say("🤔🤔")
    assert "in words" in replies[0].text
    await person.say("/walkthrough")
    replies = await person.say("???")
    assert "in words" in replies[0].text and "still on" in replies[-1].text


@pytest.mark.parametrize(
    ("emoji", "item"),
    [
        ("🙏🙏", "thanks"),
        ("❤️", "thanks"),
        ("👍🏽", "ok"),
        ("😊", "ok"),
        ("🤬🤬🤬", "complaint"),
        ("👍!!", "ok"),  # punctuation beside emoji is tone
        ("🙏🙏?", "thanks"),
        ("🤷‍♂️", "no"),  # a joined emoji with a gender sign is its base emoji ("🤷")
    ],
)
async def test_emoji_that_say_something_get_small_talk(person, knowledge, emoji, item):
    """ "🙏🙏" or "❤️" got "Send me a question in words": an emoji small-talk example counts
    repeated, with a skin tone or with its variation selector."""
    await person.say(emoji)
    reply = next(t.reply for t in knowledge.pack("en").smalltalk if t.id == item)
    assert person.text() == reply.strip()


@pytest.mark.parametrize(("laugh", "lang"), [("jajajajaja", "es"), ("хахахахаха", "ru")])
async def test_laughter_of_any_length_is_small_talk_in_its_language(engine, knowledge, laugh, lang):
    """ "jajajajaja" or "хахахахаха" (longer than any example) got the fallback."""
    from tests.conftest import Person

    person = Person(engine, user=f"laugh-{lang}")
    await person.say(laugh, locale="en-US")
    replies = {t.reply.strip() for t in knowledge.pack(lang).smalltalk}
    assert person.text() in replies, person.text()


async def test_answers_introduce_related_topics(person):
    replies = await person.say("what happens to my wallet money")
    assert replies[0].text.rstrip().endswith("See also:")


async def test_warm_up_loads_the_sentence_model_before_the_first_question(knowledge):
    """Adapters call warm_up before they connect, so no person waits for the model."""
    from bot.semantic import available

    if not available():
        pytest.skip("the sentence model is not installed")
    engine = Engine(knowledge, MemoryStore())
    semantic = engine.matcher.semantic
    assert semantic is not None
    loads: list[int] = []
    original = semantic._load

    def counting_load():  # type: ignore[no-untyped-def]
        loads.append(1)
        return original()

    semantic._load = counting_load  # type: ignore[method-assign]
    await engine.warm_up()
    assert loads, "warm_up did not load the model"
