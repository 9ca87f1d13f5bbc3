"""Discord adapter throughput: /ask interactions through the fake Discord, helpbot against a
minimal discord.py bot that answers a constant string, in the same run.

    python -m bench.discord_bench [--interactions 500] [--concurrency 10] [--rounds 3]
                                  [--rtt-ms 0,30] [--store sqlite|memory] [--semantic]

Latency is measured at the fake server, from sending INTERACTION_CREATE on the gateway to
receiving the interaction callback over REST. All bots run in this process and event loop with
the fake, so they pay the fake's costs alike. Three bots per network setting:

- minimal: discord.py's CommandTree answering /ask with a constant string (the baseline);
- minimal-same-message: the same, answering with the message helpbot-adapter sends (its
  markdown text and buttons, built with plain discord.ui.View / Button): what discord.py
  itself costs for that message, so helpbot-adapter minus this is the adapter's own cost;
- helpbot-adapter: the helpbot adapter with an engine that returns one fixed answer (with its
  buttons), i.e. the cost of the adapter and of a richer Discord message, without matching;
- helpbot: the real thing (matcher, session store, answer with buttons), as `helpbot discord`
  runs: sessions and the anonymous event log in one SQLite file (`--store memory`: in memory);
- helpbot-2-processes (only with `--engine-process`, an experiment): the same with
  `Engine.handle` in a child process (bench/engine_process.py), CPU counted in both.

`--rtt-ms` adds that many milliseconds to every REST request at the fake (0 = loopback, where
only CPU counts; a few tens of ms is what a bot sees talking to discord.com). Rounds alternate
the bots' order; the table shows the median round's interactions per second and latency
percentiles over all rounds. Target (issue 15): helpbot at 85% or more of the minimal bot on
loopback, 90% or more with a delay.
Lexical path (the sentence model off) unless `--semantic`: issue 15's targets are for it.

"CPU us" is the process's CPU time per interaction (bot, fake and threads together, median
round) and "by CPU" the minimal bot's CPU time over this bot's: on a machine that other work
keeps busy, rates swing with what else runs, while CPU per interaction barely moves; on an idle
machine at 0 ms, where the loop is CPU-bound, the two ratios agree.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from adapters.discord import DiscordAdapter, point_at
from bench import deployed_store, lexical_path_unless
from bench.engine_process import EngineProcess, TwoProcessEngine, child_cpu
from bot.engine import Engine
from bot.knowledge import Knowledge, load_knowledge
from bot.sessions import MemoryStore
from bot.types import IncomingMessage, Reply
from tests.fake_discord import FakeDiscord, Member

ROOT = Path(__file__).resolve().parent.parent

BOTS = ("minimal", "minimal-same-message", "helpbot-adapter", "helpbot")
Message = tuple[str, list[list[tuple[str, str]]]]  # markdown text, button rows (label, custom_id)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def questions() -> list[str]:
    data = yaml.safe_load(
        (ROOT / "tests" / "questions" / "tuning" / "en.yaml").read_text(encoding="utf-8")
    )
    found = [q for group in data["in_scope"].values() for q in group]
    found += list(data.get("out_of_scope", []))
    # Answered questions only: a member's second fallback in a row now also offers a human
    # (bot/handoff.py, one more message), which the minimal bot has no counterpart for.
    engine = Engine(load_knowledge())
    return [q for q in found if engine.ask(q, None)[0].matched]


class MinimalBot:
    """The baseline: one /ask command answering a constant string, nothing else."""

    def __init__(self, fake: FakeDiscord, message: Message | None = None) -> None:
        self.fake = fake
        self.message = message
        self.client: Any = None

    async def serve(self) -> None:
        import discord
        from discord import app_commands

        point_at(self.fake.api_base, self.fake.gateway_url)
        client = discord.Client(intents=discord.Intents.none(), guild_ready_timeout=0.0)
        tree = app_commands.CommandTree(client)

        @tree.command(name="ask", description="Ask a question")
        async def ask(
            interaction: discord.Interaction, question: str, public: bool = False
        ) -> None:
            if self.message is None:
                await interaction.response.send_message("Thanks for asking!", ephemeral=not public)
                return
            content, rows = self.message
            view = discord.ui.View(timeout=None)
            for number, row in enumerate(rows):
                for label, custom_id in row:
                    view.add_item(discord.ui.Button(label=label, custom_id=custom_id, row=number))
            view.stop()
            await interaction.response.send_message(
                content,
                view=view,
                ephemeral=not public,
                allowed_mentions=discord.AllowedMentions.none(),
            )

        self.client = client
        async with client:
            await client.start(self.fake.token)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


class FixedAnswerEngine(Engine):
    """Always the same replies (one real answer with its buttons): no matching, no store."""

    replies: list[Reply] | None = None

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        if self.replies is None:
            self.replies = await super().handle(message)
        return self.replies


async def fixed_message(knowledge: Knowledge, text: str) -> Message:
    """The first Discord message helpbot-adapter sends (FixedAnswerEngine answers every /ask
    with its reply to the first question, the warm-up's texts[0])."""
    from adapters.discord import CUSTOM_ID_PREFIX, render

    [reply, *_] = await Engine(knowledge, MemoryStore()).handle(
        IncomingMessage("discord", "c", "u", text)
    )
    content, rows = render(reply)[0]
    return content, [[(b.label, CUSTOM_ID_PREFIX + b.payload) for b in row] for row in rows]


async def measure(
    fake: FakeDiscord, bot: Any, texts: list[str], count: int, concurrency: int
) -> tuple[float, list[float], float]:
    """Start `bot`, warm it up, send `count` /ask interactions with at most `concurrency` in
    flight; returns interactions per second, the latencies in milliseconds and the process's
    CPU time per interaction in microseconds (bot and fake together, all threads)."""
    before = sum(1 for c in fake.connections if c.identify)
    if isinstance(bot, DiscordAdapter):  # the adapter contract: start, run until stop()
        await bot.start()
        task = asyncio.create_task(bot.run())
    else:
        task = asyncio.create_task(bot.serve())
    await fake.wait_identified(before + 1)
    members = [Member(300000000000000000 + n, f"member{n}") for n in range(50)]
    window = asyncio.Semaphore(concurrency)

    async def one(n: int) -> float:
        async with window:
            member, text = members[n % len(members)], texts[n % len(texts)]
            exchange = await fake.slash("ask", member, question=text)
            await exchange.wait_callback(timeout=10)
            assert exchange.callback_at is not None
            return (exchange.callback_at - exchange.dispatched_at) * 1000

    engine = bot.engine if isinstance(bot, DiscordAdapter) else None
    try:
        await asyncio.gather(*(one(n) for n in range(min(50, count))))  # warm-up
        started, cpu = time.perf_counter(), time.process_time() + await child_cpu(engine)
        latencies = await asyncio.gather(*(one(n) for n in range(count)))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() + await child_cpu(engine) - cpu
    finally:
        await (bot.stop() if isinstance(bot, DiscordAdapter) else bot.close())
        await asyncio.wait_for(task, 10)
    return count / elapsed, list(latencies), cpu / count * 1e6


async def run_setting(
    args: argparse.Namespace, knowledge: Knowledge, texts: list[str], rtt_ms: float, tmp: Path
) -> dict[str, tuple[float, float, float, float]]:
    bots = BOTS + (("helpbot-2-processes",) if args.engine_process else ())
    results: dict[str, list[tuple[float, list[float], float]]] = {name: [] for name in bots}
    engines: list[Engine] = []
    children: list[EngineProcess] = []
    same_message = await fixed_message(knowledge, texts[0])
    async with FakeDiscord(latency=rtt_ms / 1000) as fake:

        def make(name: str) -> Any:
            if name == "minimal":
                return MinimalBot(fake)
            if name == "minimal-same-message":
                return MinimalBot(fake, same_message)
            if name == "helpbot-adapter":
                engine: Engine = FixedAnswerEngine(knowledge, MemoryStore())
            elif name == "helpbot-2-processes":
                if not children:
                    children.append(EngineProcess(tmp / f"sessions-child{rtt_ms}.sqlite3"))
                engine = TwoProcessEngine(knowledge, MemoryStore())
                engine.child = children[0]
            else:
                path = tmp / f"sessions{len(engines)}.sqlite3"
                store, events = deployed_store(args.store, path)
                engine = Engine(knowledge, store, events=events)
            engines.append(engine)
            return DiscordAdapter(
                engine, token=fake.token, sync=("guild", (fake.guild_id,)),
                api_base=fake.api_base, gateway_url=fake.gateway_url,
            )  # fmt: skip

        for round_number in range(args.rounds):
            order = bots if round_number % 2 == 0 else tuple(reversed(bots))
            for name in order:
                bot = make(name)
                if isinstance(
                    bot.engine if isinstance(bot, DiscordAdapter) else None, TwoProcessEngine
                ):
                    await children[0].start()
                if isinstance(bot, DiscordAdapter):
                    await bot.engine.warm_up()  # as `helpbot discord` does before it connects
                results[name].append(
                    await measure(fake, bot, texts, args.interactions, args.concurrency)
                )
    for engine in engines:
        await engine.close()
    for child in children:
        await child.close()
    summary = {}
    for name, runs in results.items():
        pooled = [value for _, latencies, _ in runs for value in latencies]
        summary[name] = (
            statistics.median(rate for rate, _, _ in runs),
            percentile(pooled, 0.5),
            percentile(pooled, 0.95),
            statistics.median(cpu for _, _, cpu in runs),
        )
    return summary


async def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.ERROR)
    knowledge = load_knowledge()
    texts = questions()
    settings = [float(value) for value in args.rtt_ms.split(",")]
    print(
        f"{args.interactions} /ask interactions x {args.rounds} rounds per bot, "
        f"{args.concurrency} in flight, helpbot session store: {args.store}"
    )
    print(
        f"{'REST rtt':>8}  {'bot':<20} {'inter/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'vs minimal':>10}"
        f" {'CPU us':>7} {'by CPU':>7}"
    )
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        for rtt in settings:
            summary = await run_setting(args, knowledge, texts, rtt, Path(tmp))
            base, base_cpu = summary["minimal"][0], summary["minimal"][3]
            for name in summary:
                rate, p50, p95, cpu = summary[name]
                print(
                    f"{rtt:>6.0f}ms  {name:<20} {rate:>8.0f} {p50:>8.2f} {p95:>8.2f} "
                    f"{rate / base:>10.0%} {cpu:>7.0f} {base_cpu / cpu:>7.0%}"
                )
            verdicts.append(summary["helpbot"][0] / base >= target(rtt))
    print("target (issue 15): helpbot at least 85% of minimal on loopback, 90% with a delay: "
          + ", ".join(f"{rtt:.0f} ms {'met' if ok else 'NOT met'}"
                      for rtt, ok in zip(settings, verdicts, strict=True)))  # fmt: skip
    return 0


def target(rtt_ms: float) -> float:
    """Issue 15's share of the minimal bot's rate: 85% on loopback, 90% with network delay."""
    return 0.85 if rtt_ms == 0 else 0.90


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--interactions", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rtt-ms", default="0,30", help="comma-separated REST delays (ms)")
    parser.add_argument("--store", choices=["sqlite", "memory"], default="sqlite")
    parser.add_argument(
        "--engine-process",
        action="store_true",
        help="add helpbot-2-processes: Engine.handle in a child process (an experiment)",
    )
    parser.add_argument(
        "--semantic", action="store_true", help="include the sentence model (default: lexical path)"
    )
    args = parser.parse_args(argv)
    lexical_path_unless(args.semantic)
    return asyncio.run(main(args))


if __name__ == "__main__":
    raise SystemExit(cli())
