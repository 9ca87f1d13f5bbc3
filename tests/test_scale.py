"""Beyond one process (issue 14): metrics and readiness on both bots, the Redis event log,
Telegram webhook workers sharing a port and a Redis, Discord shards. Real redis-server, real
python-telegram-bot and discord.py against the local fakes, real child processes."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from adapters import discord as dc
from adapters import telegram as tg
from bot.cli import main
from bot.engine import Engine
from bot.events import Event, RedisEventLog
from bot.knowledge import Knowledge, default_path
from bot.sessions import open_store
from tests import redis_server as redis_fixtures
from tests.fake_discord import FakeDiscord, Member
from tests.fake_telegram import FakeTelegram, parse_html
from tests.redis_server import RedisServer, free_port, free_ports
from tests.test_metrics import aget, samples

pytest.importorskip("prometheus_client", reason="the [metrics] extra is not installed")
pytest.importorskip("redis", reason="the [redis] extra is not installed")

ROOT = Path(__file__).resolve().parent.parent
redis_server = redis_fixtures.redis_server  # the fixture: a real redis-server per test
ALICE = Member(100000000000000011, "alice")


def metrics_args(**extra: Any) -> argparse.Namespace:
    from bot.metrics import Metrics

    return argparse.Namespace(metrics=Metrics(), metrics_port=0, metrics_host="127.0.0.1", **extra)


async def until(check: Any, timeout: float = 15.0, every: float = 0.05) -> Any:
    """Poll `check()` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true within {timeout} s: {check}")
        await asyncio.sleep(every)


async def readyz(port: int) -> tuple[int, dict[str, Any]]:
    status, _, body = await aget(f"http://127.0.0.1:{port}/readyz")
    return status, json.loads(body)


def messages_total(text: str, platform: str) -> float:
    return sum(
        value
        for (name, labels), value in samples(text).items()
        if name == "helpbot_messages_total" and ("platform", platform) in labels
    )


# -- the Redis event log ---------------------------------------------------------------------


async def test_redis_event_log_keeps_events_with_a_ttl_and_counts_a_rating_once(
    redis_server: RedisServer,
) -> None:
    log = RedisEventLog(redis_server.url, retention_days=2)
    try:
        now = time.time()
        await log.record(Event("answer", "telegram", "es", at=now, entry="how_long", ms=1.5,
                               token="tok1", question="cuanto tarda"))  # fmt: skip
        await log.record(Event("fallback", "discord", "en", at=now, question="Where's my PARCEL?"))
        await log.record(Event("walkthrough", "telegram", "en", at=now, move="start"))
        assert await log.rate("tok1", 1) and await log.rate("tok1", -1)  # changed, not added
        assert not await log.rate("unknown", 1)
        events = await log.events(now - 60)
        kinds = sorted(e.kind for e in events)
        assert kinds == ["answer", "fallback", "feedback", "walkthrough"]
        [feedback] = [e for e in events if e.kind == "feedback"]
        assert feedback.rating == -1 and feedback.entry == "how_long"
        assert feedback.question == "cuanto tarda"  # the 👎 keeps the text, as in SQLite
        [answer] = [e for e in events if e.kind == "answer"]
        assert answer.question is None  # an answered question's text is never stored
        [fallback] = [e for e in events if e.kind == "fallback"]
        assert fallback.question == "wheres my parcel"  # normalised, as in SQLite
        # Every key expires within retention + one day: no purge loop needed.
        keys = [k async for k in log._redis.scan_iter(match="helpbot:ev*")]
        assert len(keys) == 3  # the day's list, its ratings, the answer's token
        for key in keys:
            ttl = await log._redis.ttl(key)
            assert 2 * 86400 <= ttl <= 3 * 86400 + 60, (key, ttl)
        assert await log.events(now + 1) == []
        assert await log.purge(now + 10**6) == 0
    finally:
        await log.close()


async def test_report_reads_the_events_of_a_redis_store(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    log = RedisEventLog(redis_server.url)
    await log.record(Event("fallback", "telegram", "fr", question="ou est mon colis"))
    await log.record(Event("answer", "telegram", "fr", entry="how_long", ms=2.0))
    await log.close()
    assert await asyncio.to_thread(main, ["report", "--store", redis_server.url, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unanswered"][0]["questions"] == [{"text": "ou est mon colis", "count": 1}]


async def test_the_cli_keeps_events_in_redis_when_the_store_is_redis(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HELPBOT_CACHE": str(tmp_path)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "chat", "--store", redis_server.url, "--user", "ann",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    await asyncio.wait_for(process.communicate(b"where is my parcel\nwalkthrough\n"), 60)
    assert process.returncode == 0
    log = RedisEventLog(redis_server.url)
    try:
        kinds = {e.kind for e in await log.events(time.time() - 600)}
    finally:
        await log.close()
    assert {"fallback", "walkthrough"} <= kinds


# -- metrics and readiness on both bots --------------------------------------------------


async def test_telegram_bot_serves_metrics_and_readyz_follows_redis(
    redis_server: RedisServer, knowledge: Knowledge
) -> None:
    async with FakeTelegram() as fake:
        engine = Engine(
            knowledge, open_store(redis_server.url), events=RedisEventLog(redis_server.url)
        )
        adapter = tg.TelegramAdapter(
            engine, metrics_args(), token=fake.token, base_url=fake.base_url, backoff=0.05,
            poll_timeout=1, announce=False,
        )  # fmt: skip
        stopping = asyncio.Event()
        serving = asyncio.create_task(adapter.serve(stopping))
        try:
            server = await until(lambda: adapter.metrics_server)
            assert (await readyz(server.port))[0] in (200, 503)  # answers while starting
            await until(lambda: _ready(server.port))
            ann = fake.user(41, "Ann")
            fake.send_text(ann, "/walkthrough")
            fake.send_text(ann, "how long does deletion take?")

            async def scraped() -> str | None:
                _, _, text = await aget(f"http://127.0.0.1:{server.port}/metrics")
                return text if messages_total(text, "telegram") >= 2 else None

            text = await until(scraped, timeout=10)
            await fake.settle()
            got = samples(text)
            assert messages_total(text, "telegram") == 2
            walk = (("kind", "walkthrough"), ("lang", "en"), ("platform", "telegram"))
            assert got[("helpbot_messages_total", walk)] == 1
            assert got[("helpbot_handling_seconds_count", (("platform", "telegram"),))] == 2
            assert got[("helpbot_store_seconds_count", (("op", "lock"),))] == 2
            assert got[("helpbot_store_seconds_count", (("op", "put"),))] >= 1
            # Redis goes away: /readyz turns red naming the store; questions still answered.
            redis_server.stop()
            status, body = await until(lambda: _not_ready(server.port), timeout=10)
            assert status == 503 and body["not_ready"] == ["store"]
            assert body["checks"]["platform"] == "ready"
            mark = len(fake.calls)
            fake.send_text(ann, "next")  # needs the store: "can't save your place"
            [reply] = await fake.wait_for("sendMessage", since=mark, timeout=30)
            assert "place" in parse_html(reply.params["text"])
            _, _, text = await aget(f"http://127.0.0.1:{server.port}/metrics")
            errors = samples(text).get(("helpbot_store_errors_total", (("op", "lock"),)), 0)
            assert errors >= 1
            # ... and green again once it is back, with the walkthrough where it was.
            redis_server.start()
            await until(lambda: _ready(server.port), timeout=60)
            mark = len(fake.calls)
            fake.send_text(ann, "done")
            [reply] = await fake.wait_for("sendMessage", since=mark, timeout=10)
            assert "check 2 of 4" in parse_html(reply.params["text"])
        finally:
            stopping.set()
            assert await asyncio.wait_for(serving, 45) == 0
        assert adapter.metrics_server is None  # stopped with the bot


async def _ready(port: int) -> bool:
    return (await readyz(port))[0] == 200


async def _not_ready(port: int) -> tuple[int, dict[str, Any]] | None:
    status, body = await readyz(port)
    return (status, body) if status == 503 else None


async def test_discord_bot_serves_metrics_and_readyz_follows_the_gateway_and_redis(
    redis_server: RedisServer, knowledge: Knowledge
) -> None:
    async with FakeDiscord() as fake:
        engine = Engine(knowledge, open_store(redis_server.url))
        adapter = dc.DiscordAdapter(
            engine, metrics_args(), token=fake.token, api_base=fake.api_base,
            gateway_url=fake.gateway_url, sync=("guild", (fake.guild_id,)),
        )  # fmt: skip
        stopping = asyncio.Event()
        serving = asyncio.create_task(adapter.serve(stopping))
        try:
            server = await until(lambda: adapter.metrics_server)
            await until(lambda: _ready(server.port))
            exchange = await fake.slash("ask", ALICE, question="how long does deletion take?")
            await exchange.wait()
            _, _, text = await aget(f"http://127.0.0.1:{server.port}/metrics")
            assert messages_total(text, "discord") == 1
            redis_server.stop()
            _, body = await until(lambda: _not_ready(server.port), timeout=10)
            assert body["not_ready"] == ["store"]
            redis_server.start()
            await until(lambda: _ready(server.port), timeout=60)
            # The gateway drops: the platform check turns red until discord.py resumes (too
            # quickly against the fake to catch with a request: the marks are watched).
            marks: list[tuple[str, bool]] = []
            mark = server.mark

            def watched(name: str, ready: bool, reason: str = "") -> None:
                marks.append((name, ready))
                mark(name, ready, reason)

            server.mark = watched  # type: ignore[method-assign]
            await fake.live_connection().ws.close(code=4000)
            await until(lambda: marks[-2:] == [("platform", False), ("platform", True)])
            await until(lambda: _ready(server.port), timeout=60)
        finally:
            stopping.set()
            assert await asyncio.wait_for(serving, 45) == 0


async def test_two_discord_shards_in_one_process_against_the_fake_gateway(
    knowledge: Knowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeDiscord() as fake:
        engine = Engine(knowledge, open_store("memory://"))
        adapter = dc.DiscordAdapter(
            engine, metrics_args(), token=fake.token, api_base=fake.api_base,
            gateway_url=fake.gateway_url, sync=("guild", (fake.guild_id,)), shard_count=2,
        )  # fmt: skip
        stopping = asyncio.Event()
        serving = asyncio.create_task(adapter.serve(stopping))
        try:
            server = await until(lambda: adapter.metrics_server)
            await fake.wait_identified(2, timeout=30)  # discord.py spaces IDENTIFYs by 5 s
            shards = sorted(tuple(c.identify["shard"]) for c in fake.connections if c.identify)
            assert shards == [(0, 2), (1, 2)]
            await until(lambda: _ready(server.port), timeout=60)
            for connection in [c for c in fake.connections if c.identify]:
                monkeypatch.setattr(fake, "live_connection", lambda c=connection: c)
                exchange = await fake.slash("ask", ALICE, question="how long does deletion take?")
                await exchange.wait()
                assert exchange.messages
            _, _, text = await aget(f"http://127.0.0.1:{server.port}/metrics")
            assert messages_total(text, "discord") == 2
        finally:
            stopping.set()
            assert await asyncio.wait_for(serving, 45) == 0


async def test_one_process_can_run_some_shards_and_bad_shard_settings_are_refused(
    knowledge: Knowledge,
) -> None:
    async with FakeDiscord() as fake:
        adapter = dc.DiscordAdapter(
            Engine(knowledge), token=fake.token, api_base=fake.api_base,
            gateway_url=fake.gateway_url, sync=("none", ()), shard_count=4, shard_ids=[2],
        )  # fmt: skip
        stopping = asyncio.Event()
        serving = asyncio.create_task(adapter.serve(stopping))
        try:
            connection = await fake.wait_identified(1, timeout=60)
            assert connection.identify["shard"] == [2, 4]
        finally:
            stopping.set()
            assert await asyncio.wait_for(serving, 45) == 0
    for count, ids, expected in ((None, [0], "needs --shard-count"), (2, [2], "numbered 0 to 1")):
        bad = dc.DiscordAdapter(Engine(knowledge), token="x", shard_count=count, shard_ids=ids)
        assert expected in (bad.shards_problem() or "")


# -- Telegram webhook workers ------------------------------------------------------------


def _env(tmp_path: Path, fake: FakeTelegram) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": fake.token}
    env["HELPBOT_CACHE"] = str(tmp_path / "cache")
    env.pop("TELEGRAM_WEBHOOK_SECRET", None)
    return env


async def _helpbot(tmp_path: Path, fake: FakeTelegram, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "telegram", "--base-url", fake.base_url, *args,
        env=_env(tmp_path, fake), stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, stderr.decode()


async def test_workers_are_refused_without_a_webhook_or_a_shared_store(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    async with FakeTelegram() as fake:
        hook = ["--webhook-url", "https://bot.example.com/hook", "--port", str(free_port())]
        cases = [
            (["--store", redis_server.url, "--workers", "2"], "long polling is one process"),
            (["--store", "memory://", "--workers", "2", *hook], "--store redis://"),
            (["--db", str(tmp_path / "s.sqlite3"), "--workers", "2", *hook], "SQLite"),
            (["--store", redis_server.url, "--workers", "0", *hook], "1 or more"),
        ]
        results = await asyncio.gather(*(_helpbot(tmp_path, fake, *a) for a, _ in cases))
        for (_, expected), (status, stderr) in zip(cases, results, strict=True):
            assert status == 2 and expected in stderr and "Traceback" not in stderr, stderr
        assert fake.calls == []  # refused before connecting to anything


class Workers:
    """`helpbot telegram --workers N` as a real process tree, fed by the fake's webhook
    delivery."""

    def __init__(
        self, tmp_path: Path, fake: FakeTelegram, store: str, workers: int, *extra: str
    ) -> None:
        self.tmp_path, self.fake, self.store, self.workers = tmp_path, fake, store, workers
        self.extra = extra
        self.port, self.metrics = free_port(), free_ports(workers)
        while self.metrics <= self.port < self.metrics + workers:
            self.metrics = free_ports(workers)
        fake.deliver_to = f"http://127.0.0.1:{self.port}/hook"
        self.log = tmp_path / "workers.log"
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Workers:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "telegram", "--base-url", self.fake.base_url,
            "--store", self.store, "--webhook-url", "https://bot.example.com/hook",
            "--port", str(self.port), "--workers", str(self.workers),
            "--metrics-port", str(self.metrics), *self.extra,
            env=_env(self.tmp_path, self.fake), stderr=self.log.open("wb"),
        )  # fmt: skip
        for i in range(self.workers):
            await until(lambda i=i: self._ready(i), timeout=60, every=0.2)
        return self

    async def _ready(self, i: int) -> bool:
        try:
            return (await readyz(self.metrics + i))[0] == 200
        except OSError:
            return False

    def children(self) -> list[int]:
        assert self.process is not None
        pid = self.process.pid
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(p) for p in text.split()]

    async def handled(self, i: int) -> float:
        _, _, text = await aget(f"http://127.0.0.1:{self.metrics + i}/metrics")
        return messages_total(text, "telegram")

    async def __aexit__(self, *exc: object) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


WALK = ["walkthrough", "done", "done", "done", "done", "next", "next", "back", "next", "next"]
EXPECTED = ["check 1 of 4", "check 2 of 4", "check 3 of 4", "check 4 of 4", "(1/5)", "(2/5)",
            "(3/5)", "(2/5)", "(3/5)", "(4/5)"]  # fmt: skip


async def test_two_webhook_workers_share_walkthroughs_through_redis(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """Each message of a walkthrough may reach either worker (a new connection each, spread by
    SO_REUSEPORT): the steps still follow one another, since the place is kept in Redis."""
    async with FakeTelegram() as fake, Workers(tmp_path, fake, redis_server.url, 2) as workers:
        assert len(fake.calls_of("setWebhook")) == 1  # only worker 0 registers the webhook

        async def walk(user_id: int) -> list[str]:
            person = fake.user(user_id, f"P{user_id}")
            seen = []
            for text in WALK:
                mark = len(fake.calls)
                update_id = fake.push({"message": fake.message(person, text)})
                # Answered 200 only once handled: every reply has been sent by then.
                await until(lambda u=update_id: u in fake.delivered, timeout=20, every=0.01)
                replies = [
                    parse_html(c.params["text"])
                    for c in fake.calls_of("sendMessage", since=mark)
                    if int(c.params["chat_id"]) == user_id
                ]
                seen.append("\n".join(replies))
            return seen

        results = await asyncio.gather(*(walk(500 + i) for i in range(3)))
        for seen in results:
            for text, expected in zip(seen, EXPECTED, strict=True):
                assert expected in text, (expected, text)
        counts = [await workers.handled(i) for i in range(2)]
        assert sum(counts) == 3 * len(WALK)
        assert all(c > 0 for c in counts), f"one worker took every update: {counts}"


async def test_sighup_to_the_parent_reloads_every_worker(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """`systemctl reload` signals the parent: it stays up and each worker reloads (the parent
    used to die of the SIGHUP and leave its workers running without it)."""
    folder = tmp_path / "knowledge"
    shutil.copytree(default_path(), folder)
    quick = str(ROOT / "tests" / "questions" / "tuning" / "en.yaml")
    extra = ("--knowledge", str(folder), "--reload-sets", quick)
    async with (
        FakeTelegram() as fake,
        Workers(tmp_path, fake, redis_server.url, 2, *extra) as workers,
    ):
        before = workers.children()
        assert workers.process is not None
        workers.process.send_signal(signal.SIGHUP)
        await until(lambda: workers.log.read_text().count("knowledge reloaded") == 2, timeout=90)
        assert workers.process.returncode is None
        assert workers.children() == before


async def test_kill_9_of_a_webhook_worker_mid_flood_loses_no_update(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """Telegram (the fake) redelivers what a dead worker never confirmed; the survivor (and the
    replacement the parent starts) answer it."""
    people = 200
    async with FakeTelegram() as fake, Workers(tmp_path, fake, redis_server.url, 2) as workers:
        before = workers.children()
        assert len(before) == 2
        for i in range(people):
            fake.send_text(fake.user(10_000 + i, "P"), "how long does deletion take?")
        await until(lambda: len(fake.delivered) >= 30, timeout=30, every=0.01)
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        killed_at = len(set(fake.delivered))
        await fake.wait_delivered(people, timeout=90)
        answered = {int(c.params["chat_id"]) for c in fake.calls_of("sendMessage")}
        lost = [i for i in range(people) if 10_000 + i not in answered]
        assert killed_at < people, "the kill came after the flood"
        assert lost == []
        # The parent noticed and started a replacement worker.
        await until(lambda: len(workers.children()) == 2 and victim not in workers.children())
        assert "starting it again" in workers.log.read_text()
