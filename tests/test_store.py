"""Session stores: one contract for memory, SQLite and Redis, plus SQLite's defects (issue 9)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.knowledge import Knowledge
from bot.sessions import (
    MemoryStore,
    RedisStore,
    Session,
    SessionStore,
    SqliteStore,
    StoreUnavailable,
    open_store,
    redact_url,
)
from tests.conftest import Person
from tests.redis_server import RedisServer, redis_server  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}


# -- the contract every store keeps --------------------------------------------------------


async def test_round_trip_and_delete(store: SessionStore) -> None:
    assert await store.get("p:c:u") is None
    session = Session(mode="steps", position="login", seen_lang="es", updated_at=123.5)
    await store.put("p:c:u", session)
    assert await store.get("p:c:u") == session
    await store.put("p:c:u", Session(mode="checklist", position="orders", updated_at=124.0))
    assert await store.get("p:c:u") == Session("checklist", "orders", updated_at=124.0)
    assert await store.get("p:c:other") is None
    await store.delete("p:c:u")
    assert await store.get("p:c:u") is None
    assert await store.ready()


async def test_language_choice_outlives_the_purge_until_changed_or_forgotten(
    store: SessionStore,
) -> None:
    await store.put("k", Session(mode="steps", position="login", lang="ru", updated_at=10.0))
    await store.purge(older_than=1e12)  # everything idle: walkthrough state may go
    kept = await store.get("k")
    assert kept is not None and kept.lang == "ru"
    if not isinstance(store, RedisStore):  # Redis expires walkthroughs by TTL instead
        assert not kept.active
    await store.put("k", Session(lang=None, updated_at=11.0))  # changed back to automatic
    again = await store.get("k")
    assert again is None or again.lang is None
    await store.put("k", Session(lang="fr", updated_at=12.0))
    await store.delete("k")  # /forget
    assert await store.get("k") is None


async def test_purge_drops_only_idle_walkthroughs(store: SessionStore) -> None:
    await store.put("old", Session(mode="steps", position="login", updated_at=100.0))
    await store.put("new", Session(mode="steps", position="login", updated_at=300.0))
    await store.purge(older_than=200.0)
    assert await store.get("new") is not None
    if not isinstance(store, RedisStore):
        assert await store.get("old") is None


async def test_lock_serialises_one_key_only(store: SessionStore) -> None:
    inside: list[str] = []
    overlaps: list[str] = []

    async def hold(key: str, tag: str) -> None:
        async with store.lock(key):
            if any(t.startswith(key) for t in inside):
                overlaps.append(tag)
            inside.append(f"{key}{tag}")
            await asyncio.sleep(0.02)
            inside.remove(f"{key}{tag}")

    started = time.monotonic()
    await asyncio.gather(*(hold(k, str(i)) for i in range(5) for k in ("a", "b")))
    assert overlaps == []
    assert time.monotonic() - started < 5 * 0.02 * 2 + 1  # a and b ran side by side


# -- issue 9.4: a language choice lasts ------------------------------------------------------


async def test_language_choice_survives_48_idle_hours(knowledge: Knowledge, tmp_path: Path) -> None:
    now = [1_000_000.0]
    path = tmp_path / "l.sqlite3"
    engine = Engine(knowledge, SqliteStore(path), ttl=24 * 3600, clock=lambda: now[0])
    alice = Person(engine)
    await alice.say("/language es")
    await alice.say("/walkthrough")
    now[0] += 49 * 3600  # idle for longer than the purge horizon (2 * ttl)
    await engine.purge_expired()  # what the adapters run every 10 minutes
    await engine.close()
    reopened = SqliteStore(path)
    session = await reopened.get("test:c1:alice")
    assert session is not None and session.lang == "es" and not session.active
    await reopened.close()
    engine = Engine(knowledge, SqliteStore(path), ttl=24 * 3600, clock=lambda: now[0])
    alice = Person(engine)
    await alice.say("/faq")
    carol = Person(engine, user="carol")
    await carol.say("/language es")
    await carol.say("/faq")
    assert alice.text() == carol.text()
    english = Person(engine, user="dan")
    await english.say("/faq")
    assert english.text() != alice.text()  # so the comparison above means Spanish
    await engine.close()


async def test_old_database_keeps_its_language_choices(tmp_path: Path) -> None:
    """A file written before languages had their own table keeps them after the upgrade."""
    path = tmp_path / "v0.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE sessions (key TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at REAL NOT NULL)"
        )
        db.execute(
            "INSERT INTO sessions VALUES ('k', ?, 5.0)",
            (Session(mode="steps", position="login", lang="pt", updated_at=5.0).to_json(),),
        )
    store = SqliteStore(path)
    await store.purge(older_than=10.0)
    kept = await store.get("k")
    assert kept is not None and kept.lang == "pt" and not kept.active
    await store.close()


# -- issue 9.18: one corrupt row costs only that row ------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        '{"mode":"steps","position":"login","updated_at":"yesterday"}',
        '{"mode":["steps"],"updated_at":1}',
        '["not", "an", "object"]',
        "{not json",
    ],
)
async def test_corrupt_session_row_is_dropped_with_a_warning(
    knowledge: Knowledge, tmp_path: Path, caplog: pytest.LogCaptureFixture, data: str
) -> None:
    path = tmp_path / "c.sqlite3"
    SqliteStore(path)  # creates the schema
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO sessions VALUES ('test:c1:alice', ?, 1.0)", (data,))
    engine = Engine(knowledge, SqliteStore(path))
    alice = Person(engine)
    apology = knowledge.ui("error", "en")
    with caplog.at_level(logging.WARNING, logger="bot.sessions"):
        await alice.say("/forget")
    assert apology not in alice.text() and alice.button("yes")
    assert any("unreadable session" in r.getMessage() for r in caplog.records)
    await alice.say("how long does deletion take")
    assert apology not in alice.text() and "24 hours" in alice.text()
    await alice.say("/walkthrough")
    assert "check 1 of 4" in alice.text()
    with sqlite3.connect(path) as db:
        (stored,) = db.execute("SELECT data FROM sessions WHERE key='test:c1:alice'").fetchone()
    assert Session.from_json(stored).mode == "checklist"
    await engine.close()


# -- issue 9.17: creating one new file from many processes at once ----------------------------


def test_wal_switch_waits_for_a_writer_instead_of_failing(tmp_path: Path) -> None:
    """Another connection writing to a new rollback-journal file: SQLite answers the WAL
    switch with 'database is locked' at once, whatever the busy timeout. The store waits."""
    path = tmp_path / "new.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE other (x)")
    release = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    store = SqliteStore(path)
    assert time.monotonic() - started >= 0.25
    release.join()
    writer.close()
    assert asyncio.run(store.ready())
    asyncio.run(store.close())


def _open_at(path: str, start: float) -> str:
    while time.time() < start:
        time.sleep(0.0005)
    try:
        store = SqliteStore(path)
    except Exception as error:
        return repr(error)
    asyncio.run(store.close())
    return ""


def test_many_processes_create_one_new_file_at_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    failures: list[str] = []
    with ctx.Pool(6) as pool:
        for round_ in range(25):
            path = str(tmp_path / f"race{round_}.sqlite3")
            start = time.time() + 0.03
            failures += [r for r in pool.starmap(_open_at, [(path, start)] * 6) if r]
    assert failures == []


# -- issue 9.2: a file that opens but cannot be written -------------------------------------


@pytest.mark.parametrize("folder_writable", [True, False], ids=["file-ro", "file-and-folder-ro"])
def test_unwritable_database_refuses_to_start_with_one_line(
    tmp_path: Path, folder_writable: bool
) -> None:
    """A file and folder the process may not write (as after a first run as root). Root
    ignores file modes, so as root the check runs without CAP_DAC_OVERRIDE (setpriv)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "sessions.sqlite3"
    asyncio.run(SqliteStore(path).close())  # a first run made the file
    command = [sys.executable, "-m", "bot", "chat", "--db", str(path), "--user", "a"]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv (util-linux): file modes cannot bind")
        drop = "-dac_override,-dac_read_search,-fowner,-chown"
        command = [setpriv, f"--bounding-set={drop}", "--", *command]
    path.chmod(0o444)
    if not folder_writable:
        folder.chmod(0o555)
    try:
        run = subprocess.run(
            command,
            input="walkthrough\nhow long does deletion take\n",
            capture_output=True,
            text=True,
            timeout=60,
            env=ENV,
        )
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr and "went wrong" not in run.stdout
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "readonly" in lines[0], lines


# -- URLs and the command line ----------------------------------------------------------------


def test_open_store_by_url(tmp_path: Path) -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    assert isinstance(open_store(":memory:"), MemoryStore)
    # a bare "memory" made a SQLite file named memory in the current folder, kept across runs
    assert isinstance(open_store("memory"), MemoryStore)
    absolute = open_store(f"sqlite://{tmp_path}/a.sqlite3")
    assert isinstance(absolute, SqliteStore) and absolute.path == tmp_path / "a.sqlite3"
    asyncio.run(absolute.close())
    bare = open_store(tmp_path / "b.sqlite3")
    assert isinstance(bare, SqliteStore)
    asyncio.run(bare.close())
    with pytest.raises(ValueError, match=r"unknown store postgres://"):
        open_store("postgres://db/x")
    redis_store = open_store("rediss://:s3cret@example.invalid:6380/2")
    assert isinstance(redis_store, RedisStore) and "s3cret" not in redis_store.where
    assert redact_url("redis://user:pw@h:1/0") == "redis://user:***@h:1/0"


def _chat(
    lines: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat", *args],
        input=lines,
        capture_output=True,
        text=True,
        timeout=60,
        env=env or ENV,
    )


def test_store_and_db_together_is_an_error(tmp_path: Path) -> None:
    run = _chat("hi\n", "--store", "memory://", "--db", str(tmp_path / "x.sqlite3"))
    assert run.returncode == 2 and "not both" in run.stderr


def test_store_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "env.sqlite3"
    run = _chat("walkthrough\n", "--user", "e", env={**ENV, "HELPBOT_STORE": f"sqlite://{path}"})
    assert run.returncode == 0, run.stderr
    assert asyncio.run(_active(path, "console:terminal:e"))
    run = _chat("hi\n", "--store", "mongodb://x")
    assert run.returncode == 2 and "unknown store mongodb://" in run.stderr


async def _active(path: Path, key: str) -> bool:
    store = SqliteStore(path)
    try:
        session = await store.get(key)
        return session is not None and session.active
    finally:
        await store.close()


def test_unreachable_redis_is_one_line_without_the_password() -> None:
    from tests.redis_server import free_port

    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    run = _chat("hi\n", "--store", url)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "hunter2" not in run.stderr and "redis://:***@127.0.0.1" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_redis_without_its_extra_is_one_line_and_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`pip install helpbot` has no redis package: naming a redis:// store says how to get it."""
    from bot.cli import main

    monkeypatch.setitem(sys.modules, "redis", None)  # `import redis...` now raises ImportError
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    url = "redis://:hunter2@127.0.0.1:1/0"
    for command in (["chat", "--store", url], ["report", "--store", url]):
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert "pip install 'helpbot[redis]'" in err and "Traceback" not in err
        assert "hunter2" not in err and len(err.strip().splitlines()) == 1


# -- Redis ------------------------------------------------------------------------------------


async def test_redis_keys_expire_but_language_choice_does_not(redis_server: RedisServer) -> None:  # noqa: F811
    import redis.asyncio

    store = RedisStore(redis_server.url, session_ttl=30)
    await store.put("k", Session(mode="steps", position="login", lang="fr"))
    raw = redis.asyncio.Redis.from_url(redis_server.url)
    assert 25_000 < await raw.pttl("helpbot:s:k") <= 30_000
    assert await raw.pttl("helpbot:l:k") == -1  # no expiry
    await raw.delete("helpbot:s:k")  # as if the TTL ran out
    kept = await store.get("k")
    assert kept is not None and kept.lang == "fr" and not kept.active
    await raw.set("helpbot:s:k", '{"updated_at":"x"}')
    again = await store.get("k")
    assert again is not None and again.lang == "fr" and not again.active
    assert await raw.exists("helpbot:s:k") == 0  # the corrupt walkthrough was dropped
    await raw.aclose()
    await store.close()


async def test_redis_password_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.redis_server import need_redis

    need_redis()
    folder = tmp_path / "auth"
    folder.mkdir()
    server = RedisServer(folder, password="pa55word")
    server.start()
    try:
        bare = f"redis://127.0.0.1:{server.port}/0"
        monkeypatch.delenv("REDIS_PASSWORD", raising=False)
        without = RedisStore(bare)
        with pytest.raises(StoreUnavailable) as caught:
            await without.get("k")
        assert "pa55word" not in str(caught.value)
        await without.close()
        monkeypatch.setenv("REDIS_PASSWORD", "pa55word")
        with_env = RedisStore(bare)
        await with_env.put("k", Session(lang="es"))
        assert (await with_env.get("k") or Session()).lang == "es"
        await with_env.close()
        wrong = RedisStore(f"redis://:nope@127.0.0.1:{server.port}/0")
        assert not await wrong.ready()
        await wrong.close()
    finally:
        server.stop()


def test_two_chat_processes_one_after_the_other_continue_the_walkthrough(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    first = _chat("walkthrough\ndone\ndone\n", "--store", redis_server.url, "--user", "r")
    assert first.returncode == 0, first.stderr
    assert "check 3 of 4" in first.stdout.split("you> done")[-1]
    second = _chat("done\ndone\nnext\n", "--store", redis_server.url, "--user", "r")
    assert second.returncode == 0, second.stderr
    assert "check 4 of 4" in second.stdout.split("you> done")[1]
    assert "Step 2" in second.stdout.split("you> next")[1]


class _SlowEngine(Engine):
    """Records when it works on a message, slowly enough that overlaps would show."""

    def __init__(
        self, *args: object, log: list[tuple[str, float, float]], name: str, **kw: object
    ) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.log, self.name = log, name

    async def _handle(self, message):  # type: ignore[no-untyped-def]
        began = time.monotonic()
        await asyncio.sleep(0.02)
        replies = await super()._handle(message)
        self.log.append((self.name, began, time.monotonic()))
        return replies


async def test_two_engines_on_one_redis_never_interleave_one_person(
    knowledge: Knowledge,
    redis_server: RedisServer,  # noqa: F811
) -> None:
    log: list[tuple[str, float, float]] = []
    engines = [_SlowEngine(knowledge, RedisStore(redis_server.url), log=log, name=n) for n in "AB"]
    people = [Person(e, user="shared") for e in engines]
    await people[0].say("/walkthrough")
    await asyncio.gather(*(people[i % 2].say("done") for i in range(5)))
    spans = sorted(log, key=lambda s: s[1])
    assert {name for name, _, _ in spans} == {"A", "B"}
    for (_, _, end), (_, begin, _) in itertools.pairwise(spans):
        assert begin >= end, spans  # one at a time
    session = await engines[0].store.get("test:c1:shared")
    # 4 checks, step 1, step 2: every one of the 5 "done"s applied exactly once.
    assert session is not None and session.position == "settings"
    for engine in engines:
        await engine.close()


_DIE_HOLDING = """
import asyncio, os, sys
from bot.sessions import RedisStore
async def main():
    store = RedisStore(sys.argv[1], lock_timeout=float(sys.argv[2]))
    async with store.lock("test:c1:victim"):
        print("held", flush=True)
        os._exit(9)
asyncio.run(main())
"""


async def test_a_holder_that_dies_blocks_the_person_for_a_few_seconds_at_most(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    lease = 2.0  # the default 5 s proves nothing more, and cost 3 s more of every run
    dead = subprocess.run(
        [sys.executable, "-c", _DIE_HOLDING, redis_server.url, str(lease)],
        capture_output=True, text=True, timeout=60, env=ENV,
    )  # fmt: skip
    assert dead.returncode == 9 and "held" in dead.stdout, dead.stderr
    died = time.monotonic()
    store = RedisStore(redis_server.url, lock_timeout=lease)
    async with store.lock("test:c1:victim"):
        waited = time.monotonic() - died
    assert waited <= store.lock_timeout + 1.0
    assert waited > 1.0  # it really was held by the dead process
    async with store.lock("test:c1:victim"):
        pass  # released properly: no wait now
    await store.close()


async def test_redis_stopped_and_restarted_mid_walkthrough(
    knowledge: Knowledge,
    redis_server: RedisServer,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = Engine(knowledge, RedisStore(redis_server.url))
    alice = Person(engine)
    for text in ("walkthrough", "done", "done", "done", "done"):
        await alice.say(text)
    assert "Step 1" in alice.text()
    redis_server.stop()
    assert not await engine.store.ready()
    with caplog.at_level(logging.WARNING):
        await alice.say("how long does deletion take")
        assert "24 hours" in alice.text()
        await alice.say("next")
        assert alice.text() == knowledge.ui("store_unavailable", "en")
        await alice.say("/steps")
        assert alice.text() == knowledge.ui("store_unavailable", "en")
    assert "Traceback" not in caplog.text and knowledge.ui("error", "en") not in alice.text()
    redis_server.start()  # same port, same folder: the append-only file brings it all back
    assert await _eventually(engine.store.ready)
    await alice.say("next")
    assert "Step 2" in alice.text()
    await engine.close()


async def _eventually(check: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return True
        await asyncio.sleep(0.1)
    return False


# -- issue 15: SqliteStore remembers what it read and wrote -----------------------------------


class _NoReads:
    """Stands in for the store's read connection: any query fails the test."""

    def execute(self, *args: object) -> sqlite3.Cursor:
        raise AssertionError(f"read the file: {args[0]!r}")

    def close(self) -> None:
        pass


async def test_a_sqlite_store_reads_each_person_once_then_remembers(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    store = SqliteStore(path)
    await store.put("t:1:a", Session(mode="steps", position="step_profile", lang="es"))
    assert await store.get("t:1:b") is None  # read once from the file...
    reader, store._reader = store._reader, _NoReads()  # type: ignore[assignment]
    walk = await store.get("t:1:a")  # ...then from memory, both of them
    assert walk is not None and (walk.position, walk.lang) == ("step_profile", "es")
    assert await store.get("t:1:b") is None
    walk.position = "changed but not put"  # each get is a fresh copy
    assert (await store.get("t:1:a")).position == "step_profile"  # type: ignore[union-attr]
    await store.delete("t:1:a")  # forgotten with the row
    store._reader = reader
    assert await store.get("t:1:a") is None
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
    await store.close()


async def test_a_sqlite_store_forgets_on_purge_and_on_a_failed_put(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    store = SqliteStore(path)
    await store.put("t:1:a", Session(mode="steps", position="step_login", updated_at=1.0))
    assert await store.purge(older_than=2.0) == 1
    assert await store.get("t:1:a") is None  # purged in the file, so not remembered either
    await store.put("t:1:a", Session(mode="steps", position="step_login", updated_at=5.0))
    with sqlite3.connect(path) as db:  # the next write cannot commit
        db.execute("CREATE TRIGGER no_updates BEFORE UPDATE ON sessions BEGIN"
                   " SELECT RAISE(ABORT, 'refused'); END")  # fmt: skip
    with pytest.raises(StoreUnavailable):
        await store.put("t:1:a", Session(mode="steps", position="step_reason", updated_at=6.0))
    walk = await store.get("t:1:a")  # what the file holds, not what failed to be written
    assert walk is not None and walk.position == "step_login"
    await store.close()


async def test_a_sqlite_store_remembers_a_bounded_number_of_people(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SqliteStore, "REMEMBERED", 3)
    store = SqliteStore(tmp_path / "m.sqlite3")
    for n in range(5):
        await store.put(f"t:1:{n}", Session(lang="fr"))
    assert list(store._known) == ["t:1:2", "t:1:3", "t:1:4"]
    await store.get("t:1:2")  # used: now the most recent
    await store.get("t:1:0")  # read from the file, and the least recent goes
    assert list(store._known) == ["t:1:4", "t:1:2", "t:1:0"]
    await store.close()
