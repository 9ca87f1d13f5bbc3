"""What `Engine.handle` costs per Discord-style `/ask`: the answered English questions of
tests/questions/tuning/en.yaml from 10 people, SQLite store and event log in a temporary
folder (as `helpbot discord` keeps them), lexical path, warmed up as the bots are
(`Engine.warm_up`: word overlaps on numpy). Prints milliseconds of wall and CPU time per
message, median of the runs.

    HELPBOT_SEMANTIC=0 python -m bench.engine_ask [--repeat 10] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from bot.cache import load_knowledge_cached
from bot.engine import Engine
from bot.events import SqliteEventLog
from bot.knowledge import Knowledge
from bot.sessions import SqliteStore
from bot.types import IncomingMessage

ROOT = Path(__file__).resolve().parent.parent


def questions(knowledge: Knowledge) -> list[str]:
    path = ROOT / "tests" / "questions" / "tuning" / "en.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = [q for group in data["in_scope"].values() for q in group]
    engine = Engine(knowledge)
    return [q for q in found if engine.ask(q, None)[0].matched]


async def one_run(knowledge: Knowledge, asked: list[str], folder: Path) -> tuple[float, float]:
    """Milliseconds per handled message: wall, CPU."""
    db = folder / f"{time.monotonic_ns()}.sqlite3"
    engine = Engine(knowledge, SqliteStore(db), events=SqliteEventLog(db))
    messages = [
        IncomingMessage("discord", f"c{i % 10}", f"u{i % 10}", q, locale="en-US")
        for i, q in enumerate(asked)
    ]
    try:
        await engine.warm_up()
        for message in messages[:50]:
            await engine.handle(message)
        start, cpu = time.perf_counter(), time.process_time()
        for message in messages:
            await engine.handle(message)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        return wall * 1000 / len(messages), cpu * 1000 / len(messages)
    finally:
        await engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="times each question is asked")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    knowledge = load_knowledge_cached()
    asked = questions(knowledge) * args.repeat
    with tempfile.TemporaryDirectory() as folder:
        figures = [asyncio.run(one_run(knowledge, asked, Path(folder))) for _ in range(args.runs)]
    walls, cpus = [w for w, _ in figures], [c for _, c in figures]
    print(
        f"Engine.handle, {len(asked)} answered questions: median of {args.runs} runs "
        f"{statistics.median(walls):.3f} ms wall, {statistics.median(cpus):.3f} ms CPU a message "
        f"(wall {', '.join(f'{w:.3f}' for w in walls)})"
    )


if __name__ == "__main__":
    main()
