"""An experiment, not a feature: `Engine.handle` in a second process, to learn whether moving the
engine off the bot's event loop would meet issue 15's Discord targets.

    python -m bench.discord_bench --engine-process [--rtt-ms 0,30]

adds a fifth bot, `helpbot-2-processes`: the helpbot adapter whose engine sends each message
to a child process (`python -m bench.engine_process --serve FD`) over a socket pair, as a
length-prefixed pickle, and awaits the pickled replies; the child runs the real engine with
the deployed SQLite store and event log. Its "CPU us" is both processes' CPU per interaction
(`measure_both` asks the child for its CPU time before and after). Only `handle` crosses over:
the adapter's other engine calls stay on a local engine, which a real deployment could not
do (sessions, hand-overs and /reload would live in two places).
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bot.engine import Engine
from bot.types import IncomingMessage, Reply

HEADER = struct.Struct("!IQ")  # payload size, request number
CPU = "cpu"  # a request for the child's CPU time instead of a message


def serve(fd: int, path: Path) -> None:
    """The child: answer requests one after another until the parent closes the socket."""
    from bench import deployed_store
    from bot.knowledge import load_knowledge

    loop = asyncio.new_event_loop()
    store, events = deployed_store("sqlite", path)
    engine = Engine(load_knowledge(), store, events=events)
    loop.run_until_complete(engine.warm_up())
    sock = socket.socket(fileno=fd)
    with sock, sock.makefile("rb") as incoming, sock.makefile("wb") as outgoing:
        while head := incoming.read(HEADER.size):
            size, number = HEADER.unpack(head)
            request = pickle.loads(incoming.read(size))
            answer = (
                time.process_time()
                if request == CPU
                else loop.run_until_complete(engine.handle(request))
            )
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            outgoing.write(HEADER.pack(len(data), number) + data)
            outgoing.flush()
    loop.run_until_complete(engine.close())


class EngineProcess:
    """The parent's end: requests pipelined over one socket, answers matched by number."""

    def __init__(self, path: Path) -> None:
        self._socket, child = socket.socketpair()
        self._child = subprocess.Popen(
            [sys.executable, "-m", "bench.engine_process", "--serve", str(child.fileno()),
             str(path)],
            pass_fds=(child.fileno(),),
        )  # fmt: skip
        child.close()
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._number = 0
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None

    async def call(self, request: Any) -> Any:
        if self._writer is None:
            raise RuntimeError("EngineProcess.start() first")
        self._number += 1
        answer = asyncio.get_running_loop().create_future()
        self._waiting[self._number] = answer
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        self._writer.write(HEADER.pack(len(data), self._number) + data)
        return await answer

    async def start(self) -> None:
        """Connect the event loop to the socket (once, before the first call)."""
        if self._writer is None:
            reader, self._writer = await asyncio.open_connection(sock=self._socket)
            self._reading = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            size, number = HEADER.unpack(await reader.readexactly(HEADER.size))
            self._waiting.pop(number).set_result(pickle.loads(await reader.readexactly(size)))

    async def close(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
        if self._writer is not None:  # the transport owns the socket then
            self._writer.close()
            await self._writer.wait_closed()
        else:
            self._socket.close()
        await asyncio.to_thread(self._child.wait, 30)


class TwoProcessEngine(Engine):
    """An engine whose `handle` runs in the child; everything else runs here."""

    child: EngineProcess

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        replies: list[Reply] = await self.child.call(message)
        return replies


async def child_cpu(engine: Any) -> float:
    """The child's CPU seconds so far (0 for an engine that has no child)."""
    if isinstance(engine, TwoProcessEngine):
        seconds: float = await engine.child.call(CPU)
        return seconds
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the child of `discord_bench --engine-process`")
    parser.add_argument("--serve", type=int, required=True, help="the socket's file descriptor")
    parser.add_argument("path", type=Path, help="the SQLite file for sessions and events")
    args = parser.parse_args(argv)
    serve(args.serve, args.path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
