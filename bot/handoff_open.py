"""The life of an open handoff: the person's messages passed on to staff, and its end, whether
the person ends it (/cancel, /forget) or staff close the ticket.

Split from `bot.handoff.Handoffs` (which offers a person, asks consent and opens the ticket);
it reaches the desk, the engine and the event recording through that object, so attaching a
desk (`Engine.attach_desk`) keeps working in one place.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.markup import escape
from bot.types import IncomingMessage, Reply

if TYPE_CHECKING:
    from bot.handoff import Handoff, Handoffs
    from bot.turn import Turn

log = logging.getLogger("bot.handoff")  # one logger for the whole feature, as before


class OpenHandoffs:
    """Relaying and ending open handoffs. In memory only: who was told "passed on" already
    since their handoff opened (`passed`, by session key)."""

    def __init__(self, handoffs: Handoffs) -> None:
        self.handoffs = handoffs
        self.passed: set[str] = set()

    async def route(self, turn: Turn) -> list[Reply] | None:
        """The person's message while their handoff is open: passed on to staff (at most a
        short confirmation back), or their /cancel ends it. None: handle it as usual (no
        handoff open, a button press, /forget)."""
        if self.handoffs.desk is None:
            return None
        message = turn.message
        if message.payload is not None:
            return None
        handoff = await self.handoffs.engine.store.get_handoff(message.session_key)
        if handoff is None:
            return None
        name, _ = turn.parse_command()
        declared = self._command(name)
        if declared == "forget":
            return None
        if declared == "cancel":
            await self.end(handoff, turn.lang)
            return [Reply(turn.ui("handoff_cancelled"))]
        if not message.text.strip() and declared is None:  # a bare /steps is not "no text"
            return [Reply(turn.ui("not_text"))]
        try:
            await self.handoffs.desk.relay(handoff.ticket, message)
        except Exception:
            log.exception("could not pass a message on to %s staff", message.platform)
            return [Reply(turn.ui("handoff_failed"))]
        if handoff.key in self.passed:
            return []
        self.passed.add(handoff.key)
        return [Reply(turn.ui("handoff_passed"))]

    def _command(self, name: str | None) -> str | None:
        from bot.commands import REGISTRY

        declared = REGISTRY.get(name) if name else None
        return declared.name if declared is not None else None

    async def end(self, handoff: Handoff, lang: str) -> None:
        """The person ended it (/cancel, /forget): close the staff side and forget it."""
        await self.close_desk(handoff.ticket)
        await self.handoffs.engine.store.delete_handoff(handoff.key)
        self.passed.discard(handoff.key)
        await self.handoffs.record(handoff.platform, lang, "closed")

    async def close_desk(self, ticket: str) -> None:
        if self.handoffs.desk is None:
            return
        try:
            await self.handoffs.desk.close(ticket)
        except Exception:
            log.exception("could not close a handoff on the staff side")

    async def staff_closed(
        self, platform: str, ticket: str
    ) -> tuple[IncomingMessage, list[Reply]] | None:
        engine = self.handoffs.engine
        found = await engine.store.handoff_by_ticket(platform, ticket)
        if found is None:
            return None
        async with engine.store.lock(found.key):
            current = await engine.store.get_handoff(found.key)
            if current is None or (current.platform, current.ticket) != (platform, ticket):
                return None
            await engine.store.delete_handoff(found.key)
            lang = await self.person_lang(found)
        self.passed.discard(found.key)
        target = found.target()
        await self.handoffs.record(platform, lang, "closed")
        return target, [Reply(engine.knowledge.ui("handoff_closed", lang))]

    async def staff_message(self, handoff: Handoff, text: str) -> Reply:
        """A staff member's words for the person, marked as coming from the team, in the
        person's language (their markup is escaped: it is shown as they typed it)."""
        lang = await self.person_lang(handoff)
        return Reply(
            self.handoffs.engine.knowledge.ui("handoff_from_staff", lang, text=escape(text))
        )

    async def person_lang(self, handoff: Handoff) -> str:
        """Their explicit /language choice, else the language the handoff opened in."""
        session = await self.handoffs.engine.store.get(handoff.key)
        if session is not None and session.lang in self.handoffs.engine.knowledge.languages:
            return session.lang
        if handoff.lang in self.handoffs.engine.knowledge.languages:
            return handoff.lang
        return self.handoffs.engine.lang_for(handoff.target(), session)
