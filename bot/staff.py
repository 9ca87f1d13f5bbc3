"""The handoff calls adapters make on the engine, in one place (bot.handoff has the contract
and the logic): attaching a support desk, relaying staff messages and closed tickets, and the
way to reach a person that a 👎 offers. `Engine` inherits them; they only delegate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.types import Reply

if TYPE_CHECKING:  # annotations only: `helpbot ask` builds an Engine without loading these
    from bot.handoff import Handoff, HandoffDesk, Handoffs, Summary
    from bot.knowledge import Knowledge
    from bot.sessions import SessionStore
    from bot.turn import Turn
    from bot.types import Button, IncomingMessage


class StaffSide:
    """The engine's handoff API (needs the engine's `handoffs`, `store` and `knowledge`)."""

    handoffs: Handoffs
    store: SessionStore
    knowledge: Knowledge

    def handoff_rows(self, turn: Turn) -> tuple[tuple[Button, ...], ...]:
        """A way to reach a person, offered after a 👎 (bot.handoff)."""
        return self.handoffs.rows(turn)

    def attach_desk(self, desk: HandoffDesk | None) -> None:
        """Called by an adapter whose operator configured a support team (None detaches)."""
        self.handoffs.desk = desk

    async def person_for_ticket(self, platform: str, ticket: str) -> Handoff | None:
        """The one person a staff-side ticket belongs to, while it is open."""
        return await self.store.handoff_by_ticket(platform, ticket)

    async def staff_closed(
        self, platform: str, ticket: str
    ) -> tuple[IncomingMessage, list[Reply]] | None:
        """Staff closed `ticket`: forget the handoff; what to tell the person, and where."""
        return await self.handoffs.staff_closed(platform, ticket)

    async def staff_message(self, handoff: Handoff, text: str) -> Reply:
        """A staff member's text as the person sees it (relaying adapters)."""
        return await self.handoffs.staff_message(handoff, text)

    def summary_reply(self, summary: Summary, lang: str = "en") -> Reply:
        """The first staff-side message of a handoff, from ui.yaml `handoff_summary`."""
        hint = self.knowledge.ui("handoff_staff_hint", lang)
        return Reply(f"{self.handoffs.render(summary, lang)}\n\n{hint}")
