"""Handoff storage (issue 13): one contract for the memory, SQLite and Redis stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.handoff import Handoff
from bot.sessions import RedisStore, Session, SessionStore, open_store
from tests.redis_server import RedisServer, redis_server  # noqa: F401  (a fixture)


def handoff(user: str, ticket: str, at: float = 100.0, platform: str = "telegram") -> Handoff:
    return Handoff(f"{platform}:{user}:{user}", platform, user, user, ticket, at)


async def test_handoff_round_trip_by_key_and_by_ticket(store: SessionStore) -> None:
    one, two = handoff("1", "55"), handoff("2", "56")
    assert await store.get_handoff(one.key) is None
    await store.put_handoff(one)
    await store.put_handoff(two)
    assert await store.get_handoff(one.key) == one
    assert await store.handoff_by_ticket("telegram", "55") == one
    assert await store.handoff_by_ticket("telegram", "56") == two
    # a ticket belongs to one platform: the same number elsewhere is someone else's, or nobody's
    assert await store.handoff_by_ticket("discord", "55") is None
    await store.delete_handoff(one.key)
    assert await store.get_handoff(one.key) is None
    assert await store.handoff_by_ticket("telegram", "55") is None
    assert await store.handoff_by_ticket("telegram", "56") == two


async def test_a_new_ticket_for_the_same_person_frees_the_old_one(store: SessionStore) -> None:
    await store.put_handoff(handoff("1", "55", at=100.0))
    await store.put_handoff(handoff("1", "57", at=200.0))
    assert await store.handoff_by_ticket("telegram", "55") is None
    found = await store.handoff_by_ticket("telegram", "57")
    assert found is not None and found.opened_at == 200.0


async def test_open_times_count_for_the_rate_limit_and_outlive_the_close(
    store: SessionStore,
) -> None:
    for i, at in enumerate((1000.0, 2000.0, 3000.0)):
        await store.put_handoff(handoff("1", str(i), at=at))
        await store.delete_handoff("telegram:1:1")
    assert await store.count_handoffs_since("telegram:1:1", 0.0) == 3
    assert await store.count_handoffs_since("telegram:1:1", 1500.0) == 2
    assert await store.count_handoffs_since("telegram:1:1", 3000.5) == 0
    assert await store.count_handoffs_since("telegram:2:2", 0.0) == 0


async def test_forget_erases_the_handoff_and_its_open_times(store: SessionStore) -> None:
    one = handoff("1", "55")
    await store.put(one.key, Session(lang="fr", updated_at=1.0))
    await store.put_handoff(one)
    await store.put_handoff(handoff("2", "56"))
    await store.delete(one.key)
    assert await store.get(one.key) is None
    assert await store.get_handoff(one.key) is None
    assert await store.handoff_by_ticket("telegram", "55") is None
    assert await store.count_handoffs_since(one.key, 0.0) == 0
    assert await store.get_handoff("telegram:2:2") is not None  # someone else's stays


async def test_clearing_a_session_keeps_the_handoff_and_its_open_times(
    store: SessionStore,
) -> None:
    """The engine drops a session with nothing left in it (a walkthrough cancelled, a
    question answered); it used `delete`, which also ended the person's handoff and reset
    their rate limit."""
    one = handoff("1", "55")
    await store.put(one.key, Session(mode="steps", position="login", updated_at=1.0))
    await store.put_handoff(one)
    await store.clear(one.key)
    assert await store.get(one.key) is None
    assert await store.get_handoff(one.key) is not None
    assert await store.handoff_by_ticket("telegram", "55") is not None
    assert await store.count_handoffs_since(one.key, 0.0) == 1


async def test_open_handoffs_survive_reopening_the_store(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    where = [f"sqlite://{tmp_path}/h.sqlite3"]
    try:
        server: RedisServer = request.getfixturevalue("redis_server")
        where.append(server.url)
    except pytest.skip.Exception:
        pass
    for url in where:
        first = open_store(url)
        await first.put_handoff(handoff("1", "55"))
        await first.close()
        second = open_store(url)
        assert await second.handoff_by_ticket("telegram", "55") == handoff("1", "55")
        assert await second.count_handoffs_since("telegram:1:1", 0.0) == 1
        if isinstance(second, RedisStore):
            ttl = await second._redis.pttl("helpbot:h:telegram:1:1")
            assert ttl > 0  # Redis keys carry TTLs
        await second.close()


def test_an_unreadable_handoff_is_refused_with_its_reason() -> None:
    with pytest.raises(ValueError, match="ticket"):
        Handoff.from_json('{"key":"k","platform":"p","chat_id":"c","user_id":"u","opened_at":1}')
    with pytest.raises(ValueError, match="opened_at"):
        Handoff.from_json(
            '{"key":"k","platform":"p","chat_id":"c","user_id":"u","ticket":"t","opened_at":"x"}'
        )
