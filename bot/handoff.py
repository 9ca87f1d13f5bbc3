"""Handing a conversation to a person (issue 13): the platform-neutral contract.

Shared by the core (engine, stores) and every adapter that can reach a support team.

- `Summary`: what staff see first. Only what the person wrote in THIS conversation (the last
  few messages the engine saw from them in this process, verbatim), their language and where
  they are in the walkthrough. Nothing else about them (no name, no id, no other chats).
- `Handoff`: one open handoff, stored in the `SessionStore` under the person's session key,
  so it survives a restart. `ticket` is the platform's id of the staff-side conversation
  (Telegram: the forum topic's message_thread_id; Discord: the private thread's id). A ticket
  maps to exactly one person: `SessionStore.handoff_by_ticket(platform, ticket)`.
- `HandoffDesk`: implemented by an adapter whose operator configured a support team, and
  given to the engine with `Engine.attach_desk(desk)` at start. Without a desk (the default)
  the bot never promises a person: it says it cannot pass the conversation on and points to
  AliExpress customer support (ui.yaml `handoff_unavailable`, `support_link`).

The store (bot/sessions.py, all three stores) offers `get_handoff(key)`, `put_handoff(h)`,
`delete_handoff(key)`, `handoff_by_ticket(platform, ticket)`, `count_handoffs_since(key, t)`
(open times are kept per key for the rate limit: `RATE_LIMIT` opens per `RATE_WINDOW`
seconds), and `delete(key)` (/forget) erases the person's handoff data too.

The engine (bot/engine.py) offers:
- `Engine.attach_desk(desk | None)`;
- `await Engine.person_for_ticket(platform, ticket) -> Handoff | None` (relaying a staff
  member's message: the adapter sends it to `handoff.chat_id`; None means closed/unknown: tell
  staff with `Engine.ui("handoff_staff_closed")`);
- `await Engine.staff_closed(platform, ticket) -> (IncomingMessage, list[Reply]) | None`:
  staff closed the ticket; the handoff is gone from the store and the adapter sends the
  replies to the returned target's chat (`target.chat_id`); None when nothing was open;
- `Engine.summary_reply(summary, lang="en") -> Reply`: the summary rendered from ui.yaml
  (`handoff_summary`) for the first staff-side message.
While a handoff is open, `Engine.handle` passes the person's messages to `desk.relay` and
replies at most a short "passed on" confirmation (the first time); their `/cancel` ends the
handoff (`desk.close(ticket)`, and they are told). Button actions: `OfferHandoff` (shows what
will be shared, with a consent button) and `ConfirmHandoff(yes)` (bot/actions.py). The
`/human` command and the ui.yaml word list `words_human` (matched inside longer messages)
offer it; so do 👎 (`Engine.handoff_rows`) and a second fallback in a row.

Events (bot/events.py) record kind "handoff" with `position` set to "offered", "opened" or
"closed": anonymous like every event (no ticket, no id, no text).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Protocol

from bot.types import IncomingMessage

RATE_LIMIT = 3
"""At most this many handoffs opened by one person per RATE_WINDOW."""
RATE_WINDOW = 3600.0
MAX_QUESTIONS = 5
"""The summary carries at most this many of the person's last messages."""
MAX_QUESTION_CHARS = 500
"""Each message in the summary is cut to this many characters."""


@dataclass(frozen=True, slots=True)
class Summary:
    """What staff see first; only what the person wrote in THIS conversation."""

    lang: str  # the person's language code
    where: str | None  # e.g. "step 3 of 5 (Select Deactivate Account)", or None
    questions: tuple[str, ...]  # their last (up to 5) messages, verbatim, newest last


@dataclass(slots=True)
class Handoff:
    """One open handoff, stored in the SessionStore; survives restarts."""

    key: str  # the person's session key (platform:chat:user)
    platform: str
    chat_id: str
    user_id: str
    ticket: str  # the platform's topic / thread id
    opened_at: float

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str | bytes) -> Handoff:
        """Raises ValueError for anything that is not a handoff this version can use."""
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("a handoff must be a JSON object")
        texts = {}
        for name in ("key", "platform", "chat_id", "user_id", "ticket"):
            value = raw.get(name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"handoff {name} is missing or not text")
            texts[name] = value
        opened = raw.get("opened_at")
        if isinstance(opened, bool) or not isinstance(opened, int | float):
            raise ValueError("handoff opened_at is not a number")
        if not math.isfinite(opened):
            raise ValueError("handoff opened_at is not a finite number")
        return cls(opened_at=float(opened), **texts)

    def target(self) -> IncomingMessage:
        """An addressless message standing for the person (where to send them replies)."""
        return IncomingMessage(self.platform, self.chat_id, self.user_id)


class HandoffDesk(Protocol):
    """Implemented by an adapter whose operator configured a support team."""

    async def open(self, person: IncomingMessage, summary: Summary) -> str:
        """Open the staff-side conversation with the summary; returns its ticket id."""
        ...

    async def relay(self, ticket: str, person: IncomingMessage) -> None:
        """Pass one of the person's messages to staff (Discord: nothing to do, the person
        writes in the thread themselves)."""
        ...

    async def close(self, ticket: str) -> None:
        """Close / archive the staff-side conversation."""
        ...
