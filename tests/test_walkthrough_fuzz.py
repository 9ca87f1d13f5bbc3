"""Whatever a person does, in whatever order, the walkthrough answers sensibly and stays valid."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.engine import Engine
from bot.sessions import MemoryStore
from bot.types import IncomingMessage, Reply
from bot.walkthrough import Position, valid

ACTIONS = st.one_of(
    st.tuples(st.just("press_latest"), st.integers(0, 20)),
    st.tuples(st.just("press_old"), st.integers(0, 200)),
    st.tuples(
        st.just("say"),
        st.sampled_from(
            [
                "next",
                "back",
                "repeat",
                "cancel",
                "done",
                "tell me more",
                "stop here",
                "continue",
                "👍",
                "walkthrough",
                "/walkthrough",
                "/cancel",
                "/start",
                "/steps",
                "/faq",
                "/checklist",
                "/help",
                "/forget",
                "/language es",
                "/language en",
                "siguiente",
                "далее",
                "how long does it take",
                "what about my wallet",
                "",
                "   ",
                "<b>&amp;</b>",
                "x" * 5000,
                "/ask",
                "/nope",
                "1",
            ]
        ),
    ),
    st.tuples(st.just("say_random"), st.text(max_size=60)),
    st.tuples(st.just("other_user_presses"), st.integers(0, 20)),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(ACTIONS, min_size=1, max_size=40))
def test_any_sequence_of_actions(knowledge, actions):
    asyncio.run(_play(knowledge, actions))


async def _play(knowledge, actions) -> None:
    engine = Engine(knowledge, MemoryStore())
    seen: list[str] = []
    latest: list[Reply] = []

    async def send(message: IncomingMessage) -> list[Reply]:
        replies = await engine.handle(message)
        assert replies, message
        for reply in replies:
            assert reply.text.strip(), message
            assert "{" not in reply.text or "}" not in reply.text.split("{", 1)[1][:20], reply.text
            for button in reply.all_buttons():
                assert len(button.payload.encode()) <= 64
                seen.append(button.payload)
        return replies

    for kind, value in actions:
        if kind == "say" or kind == "say_random":
            latest = await send(IncomingMessage("t", "c", "alice", text=value))
        elif kind == "press_latest":
            buttons = [b for r in latest for b in r.all_buttons()]
            if buttons:
                latest = await send(
                    IncomingMessage(
                        "t", "c", "alice", payload=buttons[value % len(buttons)].payload
                    )
                )
        elif kind == "press_old" and seen:
            latest = await send(IncomingMessage("t", "c", "alice", payload=seen[value % len(seen)]))
        elif kind == "other_user_presses":
            buttons = [b for r in latest for b in r.all_buttons()]
            if buttons:
                replies = await send(
                    IncomingMessage(
                        "t", "c", "mallory", payload=buttons[value % len(buttons)].payload
                    )
                )
                assert replies[0].private
        session = await engine.store.get("t:c:alice")
        if session is not None and session.active:
            walk = knowledge.walkthrough(session.lang)
            assert valid(walk, Position(session.mode, session.position)), session
