"""The operator's loop wired into the engine: events for every handled message, 👍/👎 ratings,
admin-only /stats and /reload, and hot reload refused when the new knowledge is worse."""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import weakref
from pathlib import Path
from typing import Any

import pytest

from bot.actions import Rate, decode
from bot.engine import Engine
from bot.events import MemoryEventLog, SqliteEventLog
from bot.knowledge import default_path, load_knowledge
from bot.types import IncomingMessage, Reply

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    env.pop("HELPBOT_ADMINS", None)
    return env


def _helpbot(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=120,
    )


def _file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


# -- the "Done when" scripted console session ------------------------------------------------


def test_scripted_chat_then_report_shows_exactly_what_happened(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    user = "alice-uid-90210"
    script = "\n".join(
        [
            "how do i bake a chocolate cake",  # fallback
            "how do I bake a chocolate cake?",  # fallback, the same text once normalised
            "how long will the deletion take",  # answered, with 👍/👎 (not a button label)
            "👎 Not helpful",  # the button, by its label
            "walkthrough",  # start at check 1
            "done",
            "done",
            "done",
            "done",  # step 1
            "next",  # step 2
            "next",  # step 3
            "cancel",  # abandoned at step 3
        ]
    )
    chat = _helpbot("chat", "--db", str(db), "--user", user, stdin=script + "\n")
    assert chat.returncode == 0, chat.stderr
    assert "👍 Helpful" in chat.stdout and "👎 Not helpful" in chat.stdout
    english = load_knowledge()
    assert english.ui("feedback_sorry", "en") in chat.stdout

    done = _helpbot("report", "--json", "--db", str(db))
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    overall = report["overall"]
    assert (overall["questions"], overall["answered"], overall["fallback"]) == (3, 1, 2)
    assert overall["did_you_mean"] == 0
    assert report["other"]["feedback"] == 1
    assert report["entries"] == [
        {
            "id": "processing_time",
            "title": english.entry("processing_time").title,
            "hits": 1,
            "helpful": 0,
            "unhelpful": 1,
            "helpful_rate": 0.0,
        }
    ]
    walk = report["walkthrough"]
    assert (walk["started"], walk["finished"], walk["cancelled"], walk["idle"]) == (1, 0, 1, 0)
    by_id = {p["id"]: p for p in walk["positions"]}
    assert [by_id[i]["reached"] for i in ("orders", "history", "wallet", "reopen")] == [1] * 4
    assert [by_id[i]["reached"] for i in ("login", "settings", "deactivate")] == [1, 1, 1]
    assert by_id["deactivate"]["number"] == 3 and by_id["deactivate"]["kind"] == "step"
    assert [p["id"] for p in walk["positions"] if p["cancelled"]] == ["deactivate"]
    assert by_id["reason"]["reached"] == 0
    groups = {g["questions"][0]["text"]: g for g in report["unanswered"]}
    cake = groups["how do i bake a chocolate cake"]
    assert cake["count"] == 2 and cake["questions"] == [
        {"text": "how do i bake a chocolate cake", "count": 2}
    ]
    assert cake["sources"] == {"did_you_mean": 0, "fallback": 2, "unhelpful": 0}
    rated = groups["how long will the deletion take"]
    assert rated["count"] == 1 and rated["sources"]["unhelpful"] == 1
    assert len(report["unanswered"]) == 2

    # No user id anywhere in the file (the walkthrough ended, so no session row is left).
    assert user.encode() not in _file_bytes(db)


# -- engine events ---------------------------------------------------------------------------


def _engine(**kwargs: Any) -> Engine:
    return Engine(load_knowledge(), **kwargs)


async def _say(
    engine: Engine, text: str, user: str = "u1", platform: str = "console"
) -> list[Reply]:
    return await engine.handle(IncomingMessage(platform, "c1", user, text))


async def _press(
    engine: Engine, reply: Reply, label: str, user: str = "u1", platform: str = "console"
) -> list[Reply]:
    button = next(b for b in reply.all_buttons() if b.label == label)
    return await engine.handle(IncomingMessage(platform, "c1", user, payload=button.payload))


async def test_every_handled_message_is_one_anonymous_event() -> None:
    log = MemoryEventLog()
    engine = _engine(events=log)
    await _say(engine, "/help")
    await _say(engine, "how long does deletion take")
    await _say(engine, "wallet money")  # did you mean, or an answer: a question kind either way
    await _say(engine, "how do i bake a cake")
    events = await log.events(0)
    kinds = [e.kind for e in events]
    assert kinds[0] == "command" and kinds[1] == "answer" and kinds[3] == "fallback"
    assert kinds[2] in ("answer", "did_you_mean")
    assert events[1].entry == "processing_time" and events[1].score and events[1].token
    assert all(e.ms is not None and e.ms >= 0 for e in events)
    assert events[3].question == "how do i bake a cake"
    assert events[1].question is None  # an answered question's text is never kept


async def test_a_question_mid_walkthrough_has_no_rating_buttons_and_expiry_is_idle() -> None:
    now = [1_000_000.0]
    log = MemoryEventLog()
    engine = _engine(events=log, clock=lambda: now[0], ttl=3600)
    await _say(engine, "walkthrough")
    replies = await _say(engine, "how long does deletion take")
    pressed = [decode(b.payload) for r in replies for b in r.all_buttons()]
    assert pressed and not any(p is None or isinstance(p.action, Rate) for p in pressed)
    now[0] += 7200
    await _say(engine, "hello there")
    moves = [(e.move, e.position) for e in await log.events(0) if e.kind == "walkthrough"]
    assert moves == [("start", "orders"), ("idle", "orders")]


async def test_no_feedback_and_no_question_log() -> None:
    log = MemoryEventLog(log_questions=False)
    engine = _engine(events=log, feedback=False)
    replies = await _say(engine, "how long does deletion take")
    assert "👍 Helpful" not in [b.label for b in replies[0].all_buttons()]
    await _say(engine, "how do i bake a cake")
    assert all(e.question is None for e in await log.events(0))


# -- feedback --------------------------------------------------------------------------------


async def test_pressing_twice_changes_the_rating_and_never_counts_twice(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "s.sqlite3")
    engine = _engine(events=log)
    try:
        answer = (await _say(engine, "how long does deletion take"))[0]
        thanks = await _press(engine, answer, "👍 Helpful")
        assert thanks == [Reply(engine.knowledge.ui("feedback_thanks", "en"), private=True)]
        sorry = await _press(engine, answer, "👎 Not helpful")
        assert sorry[0].text == engine.knowledge.ui("feedback_sorry", "en")
        offered = [decode(b.payload) for b in sorry[0].all_buttons()]
        assert offered and all(p is not None and p.action.tag == "a" for p in offered)
        ids = {p.action.entry for p in offered if p is not None}  # type: ignore[attr-defined]
        assert "processing_time" not in ids  # the runners-up, not the answer rated unhelpful
        await _press(engine, answer, "👎 Not helpful")
        ratings = [e for e in await log.events(0) if e.kind == "feedback"]
        assert [(e.entry, e.rating) for e in ratings] == [("processing_time", -1)]
        assert ratings[0].question == "how long does deletion take"
        # Someone else cannot rate it.
        other = await _press(engine, answer, "👍 Helpful", user="u2")
        assert other[0].private and [
            e.rating for e in await log.events(0) if e.kind == "feedback"
        ] == [-1]
    finally:
        await engine.close()


async def test_runners_up_come_from_the_answers_ranking_and_the_question_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Answering does not rank the question again with completions (`Matcher.search` cost as
    much as answering it); a 👎 offers the entries the answer's own ranking came close to, and
    only their ids are kept, never the question."""
    engine = _engine()
    searched: list[str] = []
    search = engine.matcher.search

    def counting(text: str, limit: int = 5, lang: str = "en") -> list[Any]:
        searched.append(text)
        return search(text, limit, lang)

    monkeypatch.setattr(engine.matcher, "search", counting)
    question = "do i lose my refund if i close my account"
    answer = (await _say(engine, question))[0]
    token = next(
        p.action.token
        for p in (decode(b.payload) for b in answer.all_buttons())
        if p is not None and isinstance(p.action, Rate)
    )
    answered = engine.matcher.match(question, "en").entry_id
    ranking = engine.matcher.rank(question, {"en"})
    expected = [i for i, score in ranking.entries if i != answered and score >= 0.2][:3]
    assert expected  # the question has runners-up to offer
    kept = engine._alternatives._kept[token][1]
    assert kept == tuple(expected)
    assert question not in repr(engine._alternatives._kept)
    sorry = await _press(engine, answer, "👎 Not helpful")
    offered = [decode(b.payload) for b in sorry[0].all_buttons()]
    ids = [p.action.entry for p in offered if p is not None and p.action.tag == "a"]  # type: ignore[attr-defined]
    assert ids == expected
    assert searched == []


async def test_a_thumbs_down_never_offers_the_answer_it_was_given() -> None:
    """With no runners-up ("how long"), the fallback's topics were offered, the answered one
    among them."""
    engine = _engine()
    question = "how long"
    answered = engine.matcher.match(question, "en").entry_id
    assert answered in engine.knowledge.pack("en").fallback_topics
    ranking = engine.matcher.rank(question, {"en"})
    assert not [i for i, score in ranking.entries if i != answered and score >= 0.2]
    answer = (await _say(engine, question))[0]
    sorry = await _press(engine, answer, "👎 Not helpful")
    offered = [decode(b.payload) for b in sorry[0].all_buttons()]
    ids = [p.action.entry for p in offered if p is not None and p.action.tag == "a"]  # type: ignore[attr-defined]
    assert ids and answered not in ids


async def test_rating_payload_fits_and_survives_a_restart(tmp_path: Path) -> None:
    """The token is in the payload, so a 👎 pressed after a restart still counts (the
    runners-up were in memory only: the fallback topics are offered instead)."""
    path = tmp_path / "s.sqlite3"
    engine = _engine(events=SqliteEventLog(path))
    answer = (await _say(engine, "how long does deletion take", user="9" * 20))[0]
    await engine.close()
    for button in answer.all_buttons():
        assert len(button.payload.encode()) <= 64
    again = _engine(events=SqliteEventLog(path))
    try:
        sorry = await _press(again, answer, "👎 Not helpful", user="9" * 20)
        assert sorry[0].all_buttons()
        rated = [e for e in await again.events.events(0) if e.kind == "feedback"]
        assert [e.rating for e in rated] == [-1]
    finally:
        await again.close()


async def test_forget_leaves_no_rating_state_tied_to_a_person() -> None:
    engine = _engine()
    answer = (await _say(engine, "how long does deletion take"))[0]
    forget = await _say(engine, "/forget")
    await _press(engine, forget[0], engine.knowledge.ui("button_forget_yes", "en"))
    assert await engine.store.get("console:c1:u1") is None
    # The rating state is keyed by a random token only, holding entry ids: nothing of the
    # person's; the button still works for them.
    assert (await _press(engine, answer, "👍 Helpful"))[0].private


# -- admins ----------------------------------------------------------------------------------


async def test_admin_commands_exist_only_for_admins() -> None:
    engine = _engine(admins=frozenset({"telegram:42"}))
    unknown = engine.knowledge.ui("unknown_command", "en", command="stats")
    assert (await _say(engine, "/stats", user="43", platform="telegram"))[0].text == unknown
    typed = await _say(engine, "stats", user="43", platform="telegram")  # a question, not /stats
    assert "Last 24 hours" not in typed[0].text
    assert (await _say(engine, "/reload", user="42", platform="discord"))[0].text.startswith(
        "I don't know the command"
    )
    assert "stats" not in [s.name for s in engine.command_specs()]
    assert {"stats", "reload"} <= {s.name for s in engine.command_specs(admin=True)}
    await _say(engine, "how do i bake a cake", user="7", platform="telegram")
    stats = await _say(engine, "/stats", user="42", platform="telegram")
    assert "Last 24 hours" in stats[0].text and "how do i bake a cake" in stats[0].text
    # The typed "stats" counts as the question it is: a did-you-mean or a fallback, as the
    # matcher decides it (its typo-only closeness to "start" moves with the guide's data).
    typed_verdict = engine.matcher.match("stats")
    assert not typed_verdict.matched
    fallbacks = 1 if typed_verdict.suggestions else 2
    assert f"answered 0, did you mean {2 - fallbacks}, fallback {fallbacks})" in stats[0].text


def test_admins_option_and_environment(tmp_path: Path) -> None:
    bad = _helpbot("chat", "--db", ":memory:", "--admins", "telegram")
    assert bad.returncode == 2 and "PLATFORM:USER_ID" in bad.stderr
    ok = _helpbot(
        "chat",
        "--db",
        str(tmp_path / "a.sqlite3"),
        "--user",
        "boss",
        "--admins",
        "console:boss",
        stdin="/stats\n",
    )
    assert ok.returncode == 0 and "Last 24 hours" in ok.stdout, ok.stderr
    env_run = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--db", ":memory:", "--user", "boss"],
        input="/stats\n",
        capture_output=True,
        text=True,
        env=dict(_env(), HELPBOT_ADMINS="telegram:1, console:boss"),
        cwd=ROOT,
        timeout=120,
    )
    assert "Last 24 hours" in env_run.stdout, env_run.stderr
    days = _helpbot("chat", "--db", ":memory:", "--retention-days", "0")
    assert days.returncode == 2 and "above 0" in days.stderr


# -- hot reload ------------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    copy = tmp_path / "knowledge"
    shutil.copytree(default_path(), copy)
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


QUICK_SETS = [ROOT / "tests" / "questions" / "tuning" / "en.yaml"]


async def test_a_valid_change_is_served_without_a_restart(folder: Path) -> None:
    """Also checks the quality gate lets an unchanged-quality edit through."""
    engine = Engine(load_knowledge(folder), reload_sets=QUICK_SETS)
    before = (await _say(engine, "how long does deletion take"))[0].text
    assert "about 24 hours" in before
    _edit(folder / "en" / "guide.yaml", "**about 24 hours**", "**about 48 hours**")
    result = await engine.reload()
    assert result.ok, result.reason
    assert "about 48 hours" in (await _say(engine, "how long does deletion take"))[0].text


async def test_a_reload_serves_the_new_follow_up_phrases(folder: Path) -> None:
    """A follow-up phrase added to ui.yaml works after /reload, without a restart (the engine
    used to keep the follow-up phrases it started with)."""
    engine = Engine(load_knowledge(folder), reload_sets=QUICK_SETS)
    _edit(folder / "en" / "ui.yaml", "words_followup_next: what is next,", "words_followup_next: "
          "onwards captain, what is next,")  # fmt: skip
    result = await engine.reload()
    assert result.ok, result.reason
    step_1, step_2 = (engine.knowledge.entry(e).title for e in ("step_login", "step_settings"))
    assert step_1 in (await _say(engine, "how do i log in to start"))[0].text
    assert step_2 in (await _say(engine, "onwards captain"))[0].text


def test_the_checkout_s_tuning_sets_gate_only_the_shipped_guide(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another guide's reload was refused for "no such entries" in the AliExpress sets."""
    monkeypatch.delenv("HELPBOT_RELOAD_SETS", raising=False)
    assert Engine(load_knowledge()).reload_sets  # the shipped guide, from a checkout
    assert Engine(load_knowledge(folder)).reload_sets == []  # any other folder: none
    monkeypatch.setenv("HELPBOT_RELOAD_SETS", str(QUICK_SETS[0]))
    assert Engine(load_knowledge(folder)).reload_sets == QUICK_SETS  # named ones always


async def test_a_broken_file_is_refused_and_the_old_knowledge_keeps_answering(
    folder: Path,
) -> None:
    engine = Engine(load_knowledge(folder), reload_sets=[])
    guide = folder / "en" / "guide.yaml"
    guide.write_text(guide.read_text(encoding="utf-8") + "\n  - id: [broken\n", encoding="utf-8")
    result = await engine.reload()
    assert not result.ok and result.problems
    assert "guide.yaml" in result.reason and ":" in result.problems[0]
    assert "about 24 hours" in (await _say(engine, "how long does deletion take"))[0].text


async def test_a_regressing_file_is_refused_and_the_admin_is_told_why(folder: Path) -> None:
    engine = Engine(
        load_knowledge(folder), reload_sets=QUICK_SETS, admins=frozenset({"console:boss"})
    )
    # Strip all but 15 alternate questions of every entry (the minimum): still valid, far worse.
    guide = folder / "en" / "guide.yaml"
    lines = guide.read_text(encoding="utf-8").splitlines()
    kept: list[str] = []
    in_questions = 0
    for line in lines:
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if stripped.startswith("questions:"):
            in_questions, seen = indent, 0
            kept.append(line)
            continue
        if in_questions and stripped.startswith("- ") and indent > in_questions:
            seen += 1
            if seen > 15:
                continue
        elif in_questions and stripped and indent <= in_questions:
            in_questions = 0
        kept.append(line)
    guide.write_text("\n".join(kept) + "\n", encoding="utf-8")
    replies = await _say(engine, "/reload", user="boss")
    refused = engine.knowledge.ui("reload_refused", "en", reason="")
    assert replies[0].text.startswith(refused.strip()), replies[0].text
    assert "accuracy" in replies[0].text
    assert "about 24 hours" in (await _say(engine, "how long does deletion take"))[0].text


async def test_walkthrough_keeps_its_place_across_a_reload_and_a_vanished_step_ends_politely(
    folder: Path,
) -> None:
    engine = Engine(load_knowledge(folder), reload_sets=[])
    await _say(engine, "walkthrough")
    await _say(engine, "done")  # at check 2 (history)
    result = await engine.reload()
    assert result.ok, result.reason
    moved = await _say(engine, "done")
    assert "check 3 of 4" in moved[0].text


async def test_warm_up_sets_the_loaded_heap_aside_and_a_reload_lets_the_old_one_go(
    folder: Path,
) -> None:
    """Issue 15: a bot's loaded knowledge leaves the garbage collector's scans after warm-up
    (gc.freeze); a reload unfreezes first, so the old knowledge can be freed."""
    engine = Engine(load_knowledge(folder), reload_sets=QUICK_SETS)
    gc.unfreeze()
    try:
        await engine.warm_up()
        assert gc.get_freeze_count() > 0
        scanned = {id(o) for o in gc.get_objects()}
        assert id(engine.matcher) not in scanned and id(engine.knowledge) not in scanned
        old = weakref.ref(engine.matcher.lexical)  # in a cycle: its lru_caches hold its methods
        _edit(folder / "en" / "guide.yaml", "**about 24 hours**", "**about 48 hours**")
        assert (await engine.reload()).ok
        assert old() is None  # freed, not kept frozen
        assert id(engine.matcher) not in {id(o) for o in gc.get_objects()}
    finally:
        gc.unfreeze()
