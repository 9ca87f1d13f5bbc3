"""Telegram webhook throughput with 1, 2 and 4 workers sharing one port and one Redis.

Starts a real redis-server (append-only, on a free loopback port), the fake Bot API
(tests/fake_telegram.py) in webhook-delivery mode, and `helpbot telegram --workers N` as a real
process tree; then pushes UPDATES updates from PEOPLE people (questions and walkthrough moves)
and times until every one was answered 200 by a worker (which happens only once its replies
were sent). Also measures Redis memory per session and per event.

    python -m bench.webhook_workers                 # 1, 2, 4 workers, 2,000 updates each
    python -m bench.webhook_workers --workers 2 --updates 5000

Everything runs on this machine: the fake server, Redis and the workers share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path

from tests.fake_telegram import FakeTelegram
from tests.redis_server import RedisServer, free_port, free_ports

ROOT = Path(__file__).resolve().parent.parent

TEXTS = ["how long does deletion take?", "walkthrough", "done", "what about my wallet", "next"]


async def ready(port: int) -> bool:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.write(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = await reader.read()
    writer.close()
    return data.startswith(b"HTTP/1.1 200")


async def run(workers: int, updates: int, people: int, folder: Path) -> tuple[float, float, float]:
    """Updates per second, and the CPU seconds per update of the fake Bot API (this process)
    and of the helpbot processes (parent and workers, counted once they exited)."""
    redis = RedisServer(folder / f"redis{workers}")
    redis.folder.mkdir()
    redis.start()
    try:
        async with FakeTelegram(max_connections=40) as fake:
            port, metrics = free_port(), free_ports(workers)
            fake.deliver_to = f"http://127.0.0.1:{port}/hook"
            env = {**os.environ, "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": fake.token}
            env["HELPBOT_SEMANTIC"] = "0"
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "telegram", "--base-url", fake.base_url,
                "--store", redis.url, "--webhook-url", "https://bot.example.com/hook",
                "--port", str(port), "--workers", str(workers), "--metrics-port", str(metrics),
                "--no-feedback", env=env, stderr=(folder / f"workers{workers}.log").open("wb"),
            )  # fmt: skip
            try:
                for i in range(workers):
                    deadline = time.monotonic() + 60
                    while not await ready(metrics + i):
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"worker {i} not ready")
                        await asyncio.sleep(0.2)
                users = [fake.user(700_000 + i, "P") for i in range(people)]
                start = time.perf_counter()
                own = time.process_time()
                children = resource.getrusage(resource.RUSAGE_CHILDREN)
                for n in range(updates):
                    fake.send_text(users[n % people], TEXTS[(n // people) % len(TEXTS)])
                await fake.wait_delivered(updates, timeout=600)
                elapsed = time.perf_counter() - start
                fake_cpu = time.process_time() - own
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(process.wait(), 60)
                else:
                    print((folder / f"workers{workers}.log").read_text()[-2000:], file=sys.stderr)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            bot_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
            # (redis-server is a child too, but still running: not in RUSAGE_CHILDREN yet)
            return updates / elapsed, fake_cpu / updates, bot_cpu / updates
    finally:
        redis.stop()


async def redis_memory(folder: Path, sessions: int = 10_000, events: int = 20_000) -> None:
    """Bytes of Redis memory per stored walkthrough and per event (INFO memory, MEMORY USAGE)."""
    import redis.asyncio

    from bot.events import Event, RedisEventLog
    from bot.sessions import RedisStore, Session

    server = RedisServer(folder / "redis-mem")
    server.folder.mkdir()
    server.start()
    try:
        client = redis.asyncio.Redis.from_url(server.url)
        store = RedisStore(server.url)
        log = RedisEventLog(server.url)
        base = int((await client.info("memory"))["used_memory"])
        now = time.time()
        for i in range(sessions):
            key = f"telegram:{100_000_000 + i}:{100_000_000 + i}"
            await store.put(key, Session("steps", "account_settings", None, "en", now))
        after_sessions = int((await client.info("memory"))["used_memory"])
        one = await client.memory_usage("helpbot:s:telegram:100000000:100000000")
        for i in range(events):
            kind = ("answer", "fallback", "walkthrough", "command")[i % 4]
            await log.record(
                Event(kind, "telegram", "en", at=now, entry="how_long" if kind == "answer" else None,
                      score=0.91 if kind == "answer" else None, ms=0.8,
                      move="next" if kind == "walkthrough" else None,
                      position="login" if kind == "walkthrough" else None,
                      token=f"tok{i:012d}" if kind == "answer" else None,
                      question="where is my parcel from china" if kind == "fallback" else None)
            )  # fmt: skip
        after_events = int((await client.info("memory"))["used_memory"])
        print(
            f"Redis: {(after_sessions - base) / sessions:.0f} B per walkthrough session "
            f"(INFO used_memory over {sessions:,}; MEMORY USAGE of one key: {one} B); "
            f"{(after_events - after_sessions) / events:.0f} B per event (mix of answer with "
            f"rating token, fallback with text, walkthrough move, command; over {events:,})"
        )
        await store.close()
        await log.close()
        await client.aclose()
    finally:
        server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            rate, fake_cpu, bot_cpu = await run(workers, args.updates, args.people, Path(tmp))
            print(f"{workers} worker(s): {rate:,.0f} updates/s ({args.updates:,} updates, "
                  f"{args.people} people); CPU per update: fake Bot API {fake_cpu * 1000:.1f} ms, "
                  f"helpbot {bot_cpu * 1000:.1f} ms (incl. start-up)", flush=True)  # fmt: skip
        if not args.no_memory:
            await redis_memory(Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
