"""Updates per second through `Engine.handle`, with the SQLite store (the default) and in memory.

    python -m bench.engine_bench [--users 50] [--rounds 40]

Each simulated user starts the walkthrough and then alternates button presses, typed words
and questions, all users at once; every update is written through to the store.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bot.engine import Engine
from bot.knowledge import load_knowledge
from bot.sessions import MemoryStore, SessionStore, SqliteStore
from bot.types import IncomingMessage

SCRIPT = [
    "done",
    "what happens to my wallet money",
    "done",
    "back",
    "done",
    "done",
    "done",
    "next",
    "repeat",
    "back",
]


async def run(store: SessionStore, users: int, rounds: int) -> tuple[float, float, float, int]:
    engine = Engine(load_knowledge(), store)
    latencies: list[float] = []

    async def user(n: int) -> None:
        await engine.handle(IncomingMessage("bench", "c", f"u{n}", text="/walkthrough"))
        for i in range(rounds):
            text = SCRIPT[i % len(SCRIPT)]
            start = time.perf_counter()
            await engine.handle(IncomingMessage("bench", "c", f"u{n}", text=text))
            latencies.append((time.perf_counter() - start) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(user(n) for n in range(users)))
    elapsed = time.perf_counter() - start
    await engine.close()
    latencies.sort()
    return (
        len(latencies) / elapsed,
        statistics.median(latencies),
        latencies[int(0.99 * len(latencies))],
        len(latencies),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for name, store in (
            ("sqlite", SqliteStore(Path(folder) / "bench.sqlite3")),
            ("memory", MemoryStore()),
        ):
            rate, p50, p99, count = asyncio.run(run(store, args.users, args.rounds))
            print(
                f"{name:>6}: {count} updates from {args.users} concurrent users: {rate:,.0f} updates/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms (latency includes waiting for the event loop)"
            )


if __name__ == "__main__":
    main()
