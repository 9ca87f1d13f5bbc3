"""Memory after a flood: 2,000 Telegram updates from 2,000 different people pushed at once
through the real python-telegram-bot and helpbot's adapter, against tests/fake_telegram.py on
127.0.0.1, SQLite store. Prints the bot's resident memory before and after, and its peak.

    HELPBOT_SEMANTIC=0 python -m bench.flood_rss [--updates 2000] [--same-process]
                                                 [--tracemalloc 15]

By default the bot runs in its own process, started the way `helpbot telegram` starts
(bot.cli.main: index cache, SQLite sessions and event log), pointed at the fake server that
runs in this process; the figures are that process's VmRSS and VmHWM from /proc.
`--same-process` runs the bot beside the fake in this process (the round-1 measurement, an
upper bound). `--tracemalloc N` (own process) prints the N biggest allocation sites still
held after the flood, traced from start-up (tracing slows the bot and adds its own memory).
Target (issue 15): under 80 MB after the flood. Lexical path (HELPBOT_SEMANTIC=0).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.telegram_bench import questions, start_helpbot
from bot.engine import Engine
from bot.knowledge import load_knowledge
from bot.sessions import MemoryStore
from tests.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent

# The child: `helpbot telegram` with the Bot API address swapped for the fake's (the CLI has
# no option for it). With --tracemalloc, SIGUSR1 writes the top allocation sites to a file.
CHILD = """
import os, signal, sys
top = int(os.environ.get("FLOOD_TRACEMALLOC", "0"))
if top:
    import tracemalloc
    tracemalloc.start(8)

    def dump(*_):
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        stats = snapshot.statistics("traceback")
        total = sum(s.size for s in stats)
        with open(os.environ["FLOOD_TRACE_OUT"] + ".part", "w") as out:
            print(f"traced Python allocations still held: {total / 2**20:.1f} MB", file=out)
            for by in ("filename", "traceback"):
                print(f"\\ntop {top} by {by}:", file=out)
                for stat in snapshot.statistics(by)[:top]:
                    lines = stat.traceback.format(limit=4 if by == "traceback" else 1)
                    print(f"{stat.size / 2**20:7.2f} MB {stat.count:8} blocks  "
                          + "\\n                            ".join(lines), file=out)
        os.replace(os.environ["FLOOD_TRACE_OUT"] + ".part", os.environ["FLOOD_TRACE_OUT"])

    signal.signal(signal.SIGUSR1, dump)
import adapters.telegram
adapters.telegram.DEFAULT_BASE_URL = sys.argv[1]
from bot.cli import main
sys.exit(main(["telegram", "--store", "sqlite:///" + sys.argv[2]]))
"""


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            found[line.split(":")[0]] = int(line.split()[1]) / 1024
    return found.get("VmRSS", float("nan")), found.get("VmHWM", float("nan"))


async def push_and_wait(fake: FakeTelegram, texts: list[str]) -> None:
    mark = len(fake.calls)
    for n, text in enumerate(texts):
        user = fake.user(10_000 + n, f"User{n}")
        fake.push({"message": fake.message(user, text)})
    await fake.wait_for("sendMessage", len(texts), since=mark, timeout=600)


async def flood_same_process(texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake:
            stop = await start_helpbot("sqlite", Path(tmp))(fake)
            try:
                before = rss_mb()[0]
                await push_and_wait(fake, texts)
                after = rss_mb()[0]
            finally:
                await stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{len(texts)} updates from {len(texts)} people, bot and fake in one process: RSS "
        f"before {before:.0f} MB, after {after:.0f} MB, peak {peak:.0f} MB (target: under 80 MB)"
    )


async def flood_own_process(texts: list[str], top: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake:
            env = dict(os.environ, TELEGRAM_BOT_TOKEN=fake.token)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
            trace_out = Path(tmp) / "trace.txt"
            if top:
                env.update(FLOOD_TRACEMALLOC=str(top), FLOOD_TRACE_OUT=str(trace_out))
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, fake.base_url, str(Path(tmp) / "bot.sqlite3")],
                env=env,
                cwd=ROOT,
                stderr=subprocess.DEVNULL,
            )
            try:
                await fake.wait_for("getUpdates", 1, timeout=60)
                await asyncio.sleep(0.5)  # start-up finished: the first poll is out
                before = rss_mb(child.pid)[0]
                await push_and_wait(fake, texts)
                await asyncio.sleep(0.5)  # let the last confirmations and writes finish
                after, peak = rss_mb(child.pid)
                if top:
                    child.send_signal(signal.SIGUSR1)
                    deadline = time.monotonic() + 300
                    while not trace_out.exists() and time.monotonic() < deadline:
                        await asyncio.sleep(0.2)
            finally:
                child.send_signal(signal.SIGTERM)
                try:
                    await asyncio.to_thread(child.wait, 30)
                except subprocess.TimeoutExpired:
                    child.kill()
                    await asyncio.to_thread(child.wait)
            print(
                f"{len(texts)} updates from {len(texts)} people, bot in its own process "
                f"(`helpbot telegram`, SQLite): RSS before {before:.0f} MB, after {after:.0f} MB, "
                f"peak {peak:.0f} MB (target: under 80 MB)"
            )
            if top and trace_out.exists():
                print(trace_out.read_text())


async def flood(updates: int, same_process: bool, top: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    texts = await questions(Engine(load_knowledge(), MemoryStore()), updates)
    if same_process:
        await flood_same_process(texts)
    else:
        await flood_own_process(texts, top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--same-process", action="store_true")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="N")
    args = parser.parse_args()
    asyncio.run(flood(args.updates, args.same_process, args.tracemalloc))


if __name__ == "__main__":
    main()
