"""The engine's in-process memories (bot.memory): expiry, bounds and forgetting."""

from __future__ import annotations

import time

import pytest

from bot import memory
from bot.events import PENDING_SECONDS
from bot.memory import CONTEXT_TTL, AlternativesMemory, ContextMemory


def test_context_is_recalled_within_its_ttl_only() -> None:
    kept = ContextMemory()
    kept.remember("tg:1:1", "sign_in", 1000.0)
    assert kept.recall("tg:1:1", 1000.0 + CONTEXT_TTL) == "sign_in"
    assert kept.recall("tg:1:1", 1000.0 + CONTEXT_TTL + 1) is None
    assert len(kept) == 0  # the expired one is dropped when asked for


def test_context_forgets_on_none_and_keeps_at_most_the_newest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memory, "CONTEXT_MAX", 2)
    kept = ContextMemory()
    for n in range(3):
        kept.remember(f"k{n}", f"e{n}", 10.0 + n)
    assert len(kept) == 2
    assert kept.recall("k0", 13.0) is None
    assert kept.recall("k2", 13.0) == "e2"
    kept.remember("k2", None, 14.0)
    assert kept.recall("k2", 14.0) is None
    assert len(kept) == 1


def test_alternatives_are_bounded_expire_and_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "PENDING_MAX", 2)
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    kept = AlternativesMemory()
    for n in range(3):
        kept.remember(f"t{n}", (f"e{n}",))
    assert kept.get("t0") is None  # the oldest went first
    assert kept.get("t2") == ("e2",)
    now[0] += PENDING_SECONDS + 1
    assert kept.get("t2") is None
    now[0] = 100.0
    kept.clear()
    assert kept.get("t1") is None
