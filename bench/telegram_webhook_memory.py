"""Telegram webhook: memory of the bot while strangers post huge bodies (issue 9.14).

    python -m bench.telegram_webhook_memory [--posts 10] [--mb 99] [--root PATH]

Starts `helpbot telegram` in webhook mode as a separate process (against the fake Bot API of
tests/fake_telegram.py, which accepts the setWebhook), then sends `--posts` concurrent POSTs of
`--mb` MB each to the webhook, first without the secret header, then with the right secret.
The bodies are generated while they are sent, so only the bot's memory grows. Prints the bot's
resident memory before, its peak (VmHWM) after each round, the HTTP statuses and how long the
round took. `--root` runs another checkout (e.g. `git archive main | tar -x -C /tmp/main`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from tests.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent

SECRET = "bench_webhook_secret_0123456789"
CHUNK = b"[" * (256 * 1024)


def memory_mb(pid: int, field: str) -> float:
    """VmRSS (now) or VmHWM (peak so far) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


async def body(size: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        piece = CHUNK[: min(len(CHUNK), size - sent)]
        sent += len(piece)
        yield piece


async def post(url: str, size: int, headers: dict[str, str]) -> str:
    try:
        async with aiohttp.ClientSession() as http:
            headers = {**headers, "Content-Type": "application/json"}
            headers["Content-Length"] = str(size)
            async with http.post(url, data=body(size), headers=headers) as response:
                return str(response.status)
    except (aiohttp.ClientError, OSError) as error:
        # The bot answered and closed the connection while the body was still being sent.
        return f"closed early ({type(error).__name__})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=10)
    parser.add_argument("--mb", type=int, default=99)
    parser.add_argument("--root", type=Path, default=ROOT, help="helpbot checkout to run")
    args = parser.parse_args()
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    size = args.mb * 1024 * 1024
    url = f"http://127.0.0.1:{port}/hook"
    async with FakeTelegram() as fake:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **os.environ,
                "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_WEBHOOK_SECRET": SECRET,
                "PYTHONPATH": str(args.root.resolve()),
            }
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "telegram", "--db", ":memory:",
                "--base-url", fake.base_url, "--webhook-url", "https://bot.example.com/hook",
                "--listen", "127.0.0.1", "--port", str(port),
                env=env, cwd=tmp,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            try:
                await fake.wait_for("setWebhook", timeout=60)
                await asyncio.sleep(1.0)  # let the listener open after setWebhook
                print(f"{args.root.resolve()}: {args.posts} concurrent POSTs of {args.mb} MB")
                print(f"  bot at rest: {memory_mb(process.pid, 'VmRSS'):.0f} MB")
                for name, headers in (
                    ("without the secret", {}),
                    ("with the secret", {"X-Telegram-Bot-Api-Secret-Token": SECRET}),
                ):
                    started = time.monotonic()
                    statuses = await asyncio.gather(
                        *(post(url, size, headers) for _ in range(args.posts))
                    )
                    took = time.monotonic() - started
                    peak = memory_mb(process.pid, "VmHWM")
                    answers = ", ".join(f"{n} x {s}" for s, n in Counter(statuses).items())
                    print(f"  {name}: peak {peak:.0f} MB, {took:.1f} s, answers: {answers}")
            finally:
                process.kill()
                await process.wait()


if __name__ == "__main__":
    asyncio.run(main())
