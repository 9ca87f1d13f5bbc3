"""Telegram: kill -9 during a burst, restart, and count the updates never answered (issue 9.11).

    python -m bench.telegram_crash [--messages 1400] [--presses 400] [--inline 200]
                                   [--kill-after 500] [--root PATH]

All updates are waiting at the fake Bot API (tests/fake_telegram.py) when `helpbot telegram`
starts as a separate process (SQLite store). After `--kill-after` answers (sendMessage,
answerCallbackQuery, answerInlineQuery) it gets SIGKILL, is started again, and runs until
every update was fetched and the bot has been idle for a moment; then it is stopped with
SIGTERM. Every update is one person's only update (a question with a one-message answer, a
press on an FAQ topic button, or an inline query), so its answers can be counted exactly:

- lost: updates that never got an answer;
- duplicated: updates answered more than once (handled before the kill, confirmed after it).

`--root` runs another checkout of helpbot (e.g. `git archive main | tar -x -C /tmp/main`) with
the same fake, to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bot.actions import ShowEntry, encode
from tests.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent

QUESTION = "how long does deletion take?"  # one reply
TOPIC = "wallet_funds"
ANSWERS = ("sendMessage", "answerCallbackQuery", "answerInlineQuery")


@dataclass
class Outcome:
    updates: int
    answered_before_kill: int
    lost: Counter[str]
    duplicated: Counter[str]
    seconds: float


async def burst_kill_restart(
    fake: FakeTelegram,
    workdir: Path,
    *,
    messages: int,
    presses: int,
    inline: int,
    kill_after: int,
    root: Path = ROOT,
    timeout: float = 120.0,
) -> Outcome:
    """Push the burst, run the bot, kill -9 it after `kill_after` answers, run it again until
    idle, and count lost and duplicated answers per kind of update."""
    expected: dict[str, tuple[str, str]] = {}  # key the answer is recognised by -> (kind, id)
    kinds = ["message"] * messages + ["button press"] * presses + ["inline query"] * inline
    random.Random(9_11).shuffle(kinds)  # interleaved, as people write, press and search at once
    for n, kind in enumerate(kinds):
        if kind == "message":
            user = fake.user(100_000 + n, "Ann")
            fake.send_text(user, QUESTION)
            expected[f"chat:{user['id']}"] = (kind, str(user["id"]))
        elif kind == "button press":
            user = fake.user(200_000 + n, "Bob")
            shown = fake.message(user, "(a message with FAQ buttons)")
            query = fake.callback(user, shown, encode(ShowEntry(TOPIC), str(user["id"])))
            expected[f"callback:{query}"] = (kind, query)
        else:
            user = fake.user(300_000 + n, "Cy")
            query = fake.inline(user, "wallet money")
            expected[f"inline:{query}"] = (kind, query)

    started = time.monotonic()
    db = workdir / "sessions.sqlite3"
    first = await _start_bot(fake, root, db, workdir)
    try:
        await _wait_answers(fake, kill_after, timeout)
    finally:
        first.kill()  # SIGKILL: no clean-up at all
        await first.wait()
    before = _answers(fake)
    second = await _start_bot(fake, root, db, workdir)
    try:
        await fake.settle(idle=1.0, timeout=timeout)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(second.wait(), 30)
        except TimeoutError:
            second.kill()
            await second.wait()
    counts = Counter(key for key in _answer_keys(fake) if key in expected)
    lost = Counter(kind for key, (kind, _) in expected.items() if counts[key] == 0)
    duplicated = Counter(kind for key, (kind, _) in expected.items() if counts[key] > 1)
    return Outcome(len(expected), before, lost, duplicated, time.monotonic() - started)


def _answer_keys(fake: FakeTelegram) -> list[str]:
    """One key per answering call (failed ones too: a second answer to a query is refused by
    Telegram, but it was still sent twice)."""
    keys = []
    for call in fake.calls:
        if call.method == "sendMessage" and call.status == 200:
            chat = int(call.params["chat_id"])
            if 100_000 <= chat < 200_000:  # press answers go to the presser's chat: not counted
                keys.append(f"chat:{chat}")
        elif call.method == "answerCallbackQuery":
            keys.append(f"callback:{call.params['callback_query_id']}")
        elif call.method == "answerInlineQuery":
            keys.append(f"inline:{call.params['inline_query_id']}")
    return keys


def _answers(fake: FakeTelegram) -> int:
    return sum(1 for call in fake.calls if call.method in ANSWERS)


async def _wait_answers(fake: FakeTelegram, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _answers(fake) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {_answers(fake)} answers after {timeout} s")
        await asyncio.sleep(0.002)


async def _start_bot(
    fake: FakeTelegram, root: Path, db: Path, workdir: Path
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "PYTHONPATH": str(root),
        "HELPBOT_LOG_LEVEL": "ERROR",
    }
    command = [sys.executable, "-m", "bot", "telegram", "--db", str(db)]
    return await asyncio.create_subprocess_exec(
        *command,
        "--base-url",
        fake.base_url,
        env=env,
        cwd=workdir,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1400)
    parser.add_argument("--presses", type=int, default=400)
    parser.add_argument("--inline", type=int, default=200)
    parser.add_argument("--kill-after", type=int, default=500)
    parser.add_argument("--root", type=Path, default=ROOT, help="helpbot checkout to run")
    args = parser.parse_args()
    # The killed bot's open connections end abruptly; the fake's server says so at ERROR.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake:
            outcome = await burst_kill_restart(
                fake,
                Path(tmp),
                messages=args.messages,
                presses=args.presses,
                inline=args.inline,
                kill_after=args.kill_after,
                root=args.root.resolve(),
                timeout=300,
            )
    kinds = ("message", "button press", "inline query")
    print(
        f"{outcome.updates} updates at once; kill -9 after {outcome.answered_before_kill} "
        f"answers; restarted; {outcome.seconds:.1f} s in all ({args.root.resolve()})"
    )
    print(f"{'':14} {'lost':>6} {'duplicated':>11}")
    for kind in kinds:
        print(f"{kind:14} {outcome.lost[kind]:>6} {outcome.duplicated[kind]:>11}")
    print(f"{'total':14} {outcome.lost.total():>6} {outcome.duplicated.total():>11}")


if __name__ == "__main__":
    asyncio.run(main())
