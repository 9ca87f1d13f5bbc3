"""Memory after a flood: 2,000 Telegram updates from 2,000 different people pushed at once
through the real python-telegram-bot and helpbot's adapter, against tests/fake_telegram.py on
127.0.0.1, SQLite store. Prints the process's resident memory before and after, and its peak.

    HELPBOT_SEMANTIC=0 python bench/flood_rss.py [--updates 2000]

The fake Bot API runs in the same process, so the figures are an upper bound for the bot.
Target (issue 15): under 80 MB after the flood. Lexical path (HELPBOT_SEMANTIC=0).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from telegram_bench import questions, start_helpbot  # noqa: E402

from bot.engine import Engine  # noqa: E402
from bot.knowledge import load_knowledge  # noqa: E402
from bot.sessions import MemoryStore  # noqa: E402
from tests.fake_telegram import FakeTelegram  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def flood(updates: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    texts = await questions(Engine(load_knowledge(), MemoryStore()), updates)
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake:
            stop = await start_helpbot("sqlite", Path(tmp))(fake)
            try:
                before = rss_mb()
                mark = len(fake.calls)
                for n, text in enumerate(texts):
                    user = fake.user(10_000 + n, f"User{n}")
                    fake.push({"message": fake.message(user, text)})
                await fake.wait_for("sendMessage", len(texts), since=mark, timeout=300)
                after = rss_mb()
            finally:
                await stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{updates} updates from {updates} people: RSS before {before:.0f} MB, "
        f"after {after:.0f} MB, peak {peak:.0f} MB (target: under 80 MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=2000)
    asyncio.run(flood(parser.parse_args().updates))


if __name__ == "__main__":
    main()
