"""Shared fixtures: the shipped knowledge base is loaded once per test session."""

from __future__ import annotations

import os
import tempfile

import pytest

from bot.engine import Engine
from bot.knowledge import Knowledge, load_knowledge
from bot.sessions import MemoryStore
from bot.types import IncomingMessage, Reply

# The index cache (bot/cache.py) of every CLI run in the tests goes to a throw-away folder
# shared by the session (child processes inherit it), never the user's ~/.cache.
os.environ.setdefault("HELPBOT_CACHE", tempfile.mkdtemp(prefix="helpbot-test-cache-"))


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
