"""Where the time of one message goes: cProfile over `Engine.handle` for a realistic mix
(questions in five languages, walkthrough words, button presses, commands), SQLite store.

    HELPBOT_SEMANTIC=0 python -m bench.profile_engine [--messages 20000] [--top 25]

Prints the per-message cost without the profiler first, then the top functions by own time
(tottime) and by cumulative time. Lexical path only (HELPBOT_SEMANTIC=0).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from bot.engine import Engine
from bot.knowledge import load_knowledge
from bot.sessions import SqliteStore
from bot.types import IncomingMessage

MIX = [
    "/walkthrough",
    "done",
    "how long does deletion take",
    "what happens to my wallet money",
    "¿cuánto tarda en borrarse la cuenta?",
    "next",
    "back",
    "como excluir minha conta",
    "как удалить аккаунт",
    "comment supprimer mon compte",
    "repeat",
    "close my etsy account",
    "i placed an order yesterday, so how do i close the whole thing?",
    "/faq",
    "/cancel",
]


async def drive(engine: Engine, messages: int) -> float:
    start = time.perf_counter()
    for i in range(messages):
        text = MIX[i % len(MIX)]
        await engine.handle(IncomingMessage("bench", "c", f"u{i % 50}", text=text))
    return (time.perf_counter() - start) / messages * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = Engine(load_knowledge(), SqliteStore(Path(folder) / "p.sqlite3"))
        asyncio.run(drive(engine, 500))  # warm caches
        runs = sorted(asyncio.run(drive(engine, args.messages // 4)) for _ in range(3))
        print(f"Engine.handle: median of 3 runs {runs[1]:.0f} us per message (runs {runs})")
        profile = cProfile.Profile()
        profile.enable()
        asyncio.run(drive(engine, args.messages))
        profile.disable()
        stats = pstats.Stats(profile).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
