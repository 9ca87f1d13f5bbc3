"""The adapter's side of `--metrics-port`: the metrics server in the bot's own event loop, and
the open-walkthroughs gauge.

Kept apart from `bot.adapter` so the adapter base class is about serving a platform; this is
about being observed while doing it. `bot.metrics` is imported only when metrics are asked for
(prometheus-client is an extra).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.metrics import Metrics, MetricsServer

log = logging.getLogger(__name__)


class WalkthroughGauge:
    """How many walkthroughs are open, counted from the store now and then (NaN when unknown),
    so a scrape never waits on the store."""

    def __init__(self) -> None:
        self.open = math.nan

    def value(self) -> float:
        return self.open

    async def count_forever(self, engine: Engine, every: float) -> None:
        from bot.metrics import count_open_walkthroughs

        while True:
            since = engine.clock() - engine.ttl
            try:
                self.open = await count_open_walkthroughs(engine.store, since)
            except Exception as error:
                log.debug("could not count open walkthroughs: %s", error)
                self.open = math.nan
            await asyncio.sleep(every)


async def serve_metrics(
    engine: Engine,
    metrics: Metrics,
    args: argparse.Namespace,
    platform: str,
    command: str,
    gauge: WalkthroughGauge,
) -> MetricsServer | None:
    """Wrap the engine's store and event log (once), listen on --metrics-port; None after one
    line on stderr when the port cannot be had."""
    from bot.metrics import MeteredEventLog, MeteredStore, MetricsServer

    if not isinstance(engine.store, MeteredStore):
        engine.store = MeteredStore(engine.store, metrics)
    if not isinstance(engine.events, MeteredEventLog):
        engine.events = MeteredEventLog(engine.events, metrics)
    host = getattr(args, "metrics_host", "127.0.0.1")
    port = getattr(args, "metrics_port", None) or 0
    worker = os.environ.get("HELPBOT_WORKER", "")
    if port and worker.isdigit():
        port += int(worker)  # `--workers N`: worker i serves metrics on port + i
    server = MetricsServer(metrics, host, port)
    server.mark("platform", False, f"not connected to {platform} yet")

    async def store_ready() -> bool:
        return bool(await engine.store.ready())

    server.add_check("store", store_ready)
    metrics.walkthroughs_from(gauge.value)
    try:
        await server.start()
    except OSError as error:
        print(
            f"helpbot {command}: cannot serve metrics on {host}:{port}: {error.strerror or error}",
            file=sys.stderr,
            flush=True,
        )
        return None
    return server
