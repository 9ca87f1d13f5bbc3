"""Anonymous events: what is kept, what never is, ratings that count once, retention."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.events import (
    DEFAULT_RETENTION_DAYS,
    Event,
    EventLog,
    MemoryEventLog,
    SqliteEventLog,
    new_token,
    open_event_log,
    retention_cutoff,
)
from bot.sessions import Session, SqliteStore
from bot.types import IncomingMessage


@pytest.fixture(params=["memory", "sqlite"])
async def log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventLog]:
    made: EventLog = (
        MemoryEventLog() if request.param == "memory" else SqliteEventLog(tmp_path / "e.sqlite3")
    )
    yield made
    await made.close()


def test_an_event_has_no_field_that_could_hold_a_person() -> None:
    names = {field.name for field in dataclasses.fields(Event)}
    assert not {n for n in names if "user" in n or "chat" in n or "message" in n or n == "id"}


def test_bad_events_are_refused_with_a_clear_reason() -> None:
    with pytest.raises(ValueError, match="unknown event kind 'anser'"):
        Event("anser", "console", "en")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\+1 or -1"):
        Event("feedback", "console", "en", rating=5)
    with pytest.raises(ValueError, match="needs a move"):
        Event("walkthrough", "console", "en", position="login")
    with pytest.raises(ValueError, match="unknown walkthrough move 'jump'"):
        Event("walkthrough", "console", "en", move="jump")  # type: ignore[arg-type]


def test_question_text_is_normalised_and_cut_to_200_characters() -> None:
    event = Event(
        "fallback", "console", "en", question="  Wie LÖSCHE ich   das?? 😭 " + "account " * 100
    )
    assert event.question is not None
    assert event.question.startswith("wie losche ich das account account")
    assert len(event.question) == 200


def test_tokens_are_random_and_fit_a_button_payload() -> None:
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(len(t) == 16 and t.isascii() for t in tokens)


async def test_question_text_is_kept_only_for_fallbacks_and_did_you_means(log: EventLog) -> None:
    for kind in ("answer", "fallback", "did_you_mean", "smalltalk", "command"):
        await log.record(Event(kind, "console", "en", question=f"text of {kind}"))
    kept = {e.kind: e.question for e in await log.events(0)}
    assert kept == {
        "answer": None,
        "fallback": "text of fallback",
        "did_you_mean": "text of did you mean",
        "smalltalk": None,
        "command": None,
    }


async def test_no_question_log_keeps_no_text_at_all(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "e.sqlite3", log_questions=False)
    token = new_token()
    await log.record(Event("fallback", "console", "en", question="my etsy shop"))
    await log.record(Event("answer", "console", "en", entry="x", token=token, question="q"))
    assert await log.rate(token, -1)
    assert [e.question for e in await log.events(0)] == [None, None, None]
    await log.close()
    assert b"etsy" not in _file_bytes(tmp_path / "e.sqlite3")


async def test_pressing_twice_changes_the_rating_and_counts_once(log: EventLog) -> None:
    token = new_token()
    await log.record(
        Event("answer", "telegram", "es", entry="processing_time", token=token, question="cuanto")
    )
    assert await log.rate(token, 1)
    assert await log.rate(token, -1)
    feedback = [e for e in await log.events(0) if e.kind == "feedback"]
    assert len(feedback) == 1
    (only,) = feedback
    assert (only.rating, only.entry, only.platform, only.lang) == (
        -1,
        "processing_time",
        "telegram",
        "es",
    )
    assert only.question == "cuanto"  # rated unhelpful: the question is kept with the rating
    assert await log.rate(token, 1)
    (again,) = [e for e in await log.events(0) if e.kind == "feedback"]
    assert again.rating == 1 and again.question is None  # helpful again: the text goes


async def test_an_unknown_token_is_not_rated(log: EventLog) -> None:
    assert not await log.rate("no-such-token", 1)
    assert await log.events(0) == []
    with pytest.raises(ValueError):
        await log.rate("x", 0)


async def test_purge_removes_only_events_older_than_the_retention(log: EventLog) -> None:
    now = time.time()
    for days in (45, 31, 29, 1):
        await log.record(Event("fallback", "console", "en", at=now - days * 86400))
    assert DEFAULT_RETENTION_DAYS == 30
    assert await log.purge(retention_cutoff(now=now)) == 2
    assert sorted(round((now - e.at) / 86400) for e in await log.events(0)) == [1, 29]
    assert await log.purge(retention_cutoff(7, now=now)) == 1


async def test_events_since_are_in_time_order(log: EventLog) -> None:
    now = time.time()
    for offset in (3, 1, 2):
        await log.record(Event("command", "console", "en", at=now - offset))
    found = await log.events(now - 2.5)
    assert [round(now - e.at) for e in found] == [2, 1]


async def test_concurrent_records_are_all_kept(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "e.sqlite3")
    await asyncio.gather(*(log.record(Event("smalltalk", "discord", "fr")) for _ in range(200)))
    assert len(await log.events(0)) == 200
    await log.close()


async def test_events_share_the_sessions_file_with_their_own_table(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    store = SqliteStore(path)
    log = SqliteEventLog(path)
    await store.put("console:c:u", Session(mode="steps", position="login"))
    await log.record(Event("walkthrough", "console", "en", position="login", move="start"))
    assert (await store.get("console:c:u")) is not None
    assert len(await log.events(0)) == 1
    await log.close()
    await store.close()
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"sessions", "events"} <= tables
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_read_only_opens_nothing_new(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        SqliteEventLog(tmp_path / "absent.sqlite3", read_only=True)
    assert not (tmp_path / "absent.sqlite3").exists()
    path = tmp_path / "sessions.sqlite3"
    store = SqliteStore(path)  # a bot that has not written an event yet
    await store.close()
    log = open_event_log(path, read_only=True)
    assert await log.events(0) == []
    await log.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name='events'").fetchone() is None


def _file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


async def test_the_event_file_holds_no_user_chat_or_message_id(tmp_path: Path) -> None:
    """A scripted run's events, recorded the way the engine will (platform and language from
    the message, nothing else), leave none of the ids anywhere in the file."""
    path = tmp_path / "sessions.sqlite3"
    log = SqliteEventLog(path)
    people = [
        IncomingMessage("telegram", "-100777000111", "424242001", text="how do i delete my etsy"),
        IncomingMessage("discord", "998877665544332211", "112233445566778899", text="parcel?"),
        IncomingMessage("console", "console-chat-5150", "alice-uid-7", text="how long"),
    ]
    for message in people:
        token = new_token()
        await log.record(Event("fallback", message.platform, "en", question=message.text))
        await log.record(
            Event(
                "answer",
                message.platform,
                "en",
                entry="processing_time",
                token=token,
                question=message.text,
            )
        )
        await log.rate(token, -1)
        await log.record(
            Event("walkthrough", message.platform, "en", position="login", move="start")
        )
    await log.close()
    data = _file_bytes(path)
    assert b"parcel" in data  # the check below looks at the right bytes
    for message in people:
        for secret in (message.chat_id, message.user_id, message.session_key):
            assert secret.encode() not in data, secret
