"""The anonymous events one handled message produces (bot.events has the rules).

A pure function of what the turn noted, so the recording stays in one place (`Engine._record`)
and never sees who sent the message: platform, language, entry, score and timing only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.events import Event

if TYPE_CHECKING:
    from bot.turn import Turn


def turn_events(turn: Turn, idle: str | None, now: float, ms: float) -> list[Event]:
    """One event per walkthrough move (and one for a walkthrough left idle past the TTL), plus
    one for what the message was (answer, did_you_mean, fallback, command...). A rating adds
    none: EventLog.rate stores it, once per answer."""
    platform, lang = turn.message.platform, turn.lang
    found: list[Event] = []
    if idle is not None:
        found.append(Event("walkthrough", platform, lang, at=now, position=idle, move="idle"))
    for move, position in turn.walk.moves:
        found.append(
            Event("walkthrough", platform, lang, at=now, ms=ms, position=position, move=move)  # type: ignore[arg-type]
        )
    if turn.kind == "feedback":
        pass  # stored by EventLog.rate, once per answer
    elif turn.kind is not None or not turn.walk.moves:
        found.append(
            Event(
                turn.kind or "command",
                platform,
                lang,
                at=now,
                entry=turn.entry,
                score=turn.score,
                ms=ms,
                token=turn.token,
                question=turn.question_text,
            )
        )
    return found
