"""Shared fixtures: the shipped knowledge base is loaded once per test session."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.engine import Engine
from bot.knowledge import Knowledge, load_knowledge
from bot.sessions import MemoryStore, SessionStore, open_store
from bot.types import IncomingMessage, Reply

if TYPE_CHECKING:
    from tests.redis_server import RedisServer

# The index cache (bot/cache.py) of every CLI run in the tests goes to a throw-away folder
# shared by the session (child processes inherit it), never the user's ~/.cache.
os.environ.setdefault("HELPBOT_CACHE", tempfile.mkdtemp(prefix="helpbot-test-cache-"))


@pytest.fixture(autouse=True)
def _logging_left_as_found() -> Iterator[None]:
    """Undo what an in-process `helpbot ...` (`bot.cli.main`) does to logging: it replaces the
    root handlers with one on the sys.stderr of that moment (pytest's capture, closed once the
    test ends: later records hit "I/O operation on closed file"), sets the root level, and
    marks logging configured, after which `quiet_loggers` raises library loggers such as
    discord.gateway to WARNING at once. Tests that ran after such a test saw another logging."""
    import bot.logs

    root = logging.getLogger()
    handlers, level, configured = root.handlers[:], root.level, bot.logs._configured
    levels = {
        name: logger.level
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    for handler in root.handlers[:]:
        # setup_logging's own handler; pytest's capture handlers are subclasses, per phase.
        if type(handler) is logging.StreamHandler and handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    bot.logs._configured = configured
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.level != levels.get(name, logging.NOTSET):
            logger.setLevel(levels.get(name, logging.NOTSET))


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge()


@pytest.fixture
def engine(knowledge: Knowledge) -> Engine:
    return Engine(knowledge, MemoryStore())


class Person:
    """Plays one user: types text or presses buttons from the bot's last replies."""

    def __init__(
        self, engine: Engine, user: str = "alice", chat: str = "c1", platform: str = "test"
    ) -> None:
        self.engine = engine
        self.user, self.chat, self.platform = user, chat, platform
        self.last: list[Reply] = []

    async def say(self, text: str, **extra: object) -> list[Reply]:
        msg = IncomingMessage(self.platform, self.chat, self.user, text=text, **extra)  # type: ignore[arg-type]
        self.last = await self.engine.handle(msg)
        return self.last

    async def press(self, label: str, replies: list[Reply] | None = None) -> list[Reply]:
        button = self.button(label, replies)
        return await self.press_payload(button.payload)

    async def press_payload(self, payload: str) -> list[Reply]:
        msg = IncomingMessage(self.platform, self.chat, self.user, payload=payload)
        self.last = await self.engine.handle(msg)
        return self.last

    def button(self, label: str, replies: list[Reply] | None = None):  # type: ignore[no-untyped-def]
        for reply in replies if replies is not None else self.last:
            for button in reply.all_buttons():
                if label.lower() in button.label.lower():
                    return button
        raise AssertionError(
            f"no button {label!r} in {[b.label for r in self.last for b in r.all_buttons()]}"
        )

    def text(self) -> str:
        return "\n".join(reply.text for reply in self.last)


@pytest.fixture
def person(engine: Engine) -> Person:
    return Person(engine)


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SessionStore]:
    """Each store kind in turn, for tests of the store contract. The Redis one needs the
    `redis_server` fixture (tests/redis_server.py) imported by the test module."""
    if request.param == "memory":
        made: SessionStore = open_store("memory://")
    elif request.param == "sqlite":
        made = open_store(f"sqlite://{tmp_path}/s.sqlite3")
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        made = open_store(server.url, session_ttl=60)
    yield made
    await made.close()
