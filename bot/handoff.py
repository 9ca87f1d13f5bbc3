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
  (`handoff_summary` + `handoff_staff_hint`) for the first staff-side message;
- `await Engine.staff_message(handoff, text) -> Reply`: a staff member's text as the person
  sees it ("Support team: ...", in their language), for adapters that relay (Telegram).
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
import logging
import math
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from bot import handoff_memory
from bot.actions import ConfirmHandoff, OfferHandoff
from bot.events import Event
from bot.handoff_memory import ConversationMemory, render_summary, where
from bot.handoff_open import OpenHandoffs
from bot.text import normalize
from bot.types import Button, IncomingMessage, Reply

if TYPE_CHECKING:
    from bot.engine import Engine, Turn
    from bot.knowledge import Knowledge

log = logging.getLogger(__name__)

RATE_LIMIT = 3
"""At most this many handoffs opened by one person per RATE_WINDOW."""
RATE_WINDOW = 3600.0
# The summary's limits live with the memory that applies them (bot/handoff_memory.py); they
# keep their names here, where the rest of the handoff contract is.
MAX_QUESTIONS = handoff_memory.MAX_QUESTIONS
MAX_QUESTION_CHARS = handoff_memory.MAX_QUESTION_CHARS
CONVERSATION_SECONDS = handoff_memory.CONVERSATION_SECONDS
MAX_PEOPLE = handoff_memory.MAX_PEOPLE
FALLBACKS_BEFORE_OFFER = 2
"""The second fallback in a row offers a person."""
Stage = Literal["offered", "opened", "closed"]


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
    lang: str | None = None  # the conversation's language when it opened (notices to them)

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
        lang = raw.get("lang")
        if lang is not None and not isinstance(lang, str):
            raise ValueError("handoff lang is not text")
        return cls(opened_at=float(opened), lang=lang, **texts)

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


class Handoffs:
    """The engine's side of handoffs (`Engine.handoffs`): offers, consent, opening, relaying
    a person's messages while open, and closing. Kept out of bot/engine.py, which only calls
    `route`, `after` and `forget` from `Engine._handle`.

    In this process's memory only, per person: their last few messages (for the summary,
    never written to the store) and their consecutive fallbacks (`memory`, see
    bot/handoff_memory.py); /forget drops both.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.desk: HandoffDesk | None = None
        self.staff_lang = "en"  # the language of the summary and notices staff read
        self.memory = ConversationMemory(lambda: self.engine.clock())
        self.open = OpenHandoffs(self)
        self._words: tuple[Knowledge, re.Pattern[str] | None] | None = None

    # -- what triggers an offer --------------------------------------------------------

    def asked(self, text: str) -> bool:
        """Whether `text` asks for a person (ui.yaml `words_human`, any language, anywhere in
        the message, after normalisation)."""
        k = self.engine.knowledge
        if self._words is None or self._words[0] is not k:  # rebuilt after a reload
            words = {
                normalize(w) for lang in k.languages for w in k.ui("words_human", lang).split(",")
            }
            # one pattern for every phrase, on word boundaries (spaces after normalising)
            alternatives = "|".join(re.escape(w) for w in sorted(words - {""}))
            self._words = (k, re.compile(f" (?:{alternatives}) ") if alternatives else None)
        pattern = self._words[1]
        return pattern is not None and pattern.search(f" {normalize(text)} ") is not None

    def rows(self, turn: Turn) -> tuple[tuple[Button, ...], ...]:
        """The button after a 👎: a person, when a team is configured; else nothing (the
        other topics are offered, and the fallback text already names customer support)."""
        if self.desk is None:
            return ()
        self._record_later(turn, "offered")
        return ((turn.button(turn.ui("button_human"), OfferHandoff()),),)

    def offer(self, turn: Turn) -> Reply:
        """One line on what happens next, with the button (or, without a team, the pointer).
        The caller records the "offered" event."""
        if self.desk is None:
            return self.unavailable(turn)
        text = turn.ui("handoff_offer", when=turn.ui("handoff_when"))
        return Reply(text, ((turn.button(turn.ui("button_human"), OfferHandoff()),),))

    def unavailable(self, turn: Turn) -> Reply:
        return Reply(turn.ui("handoff_unavailable", support=turn.ui("support_link")))

    # -- consent and opening -------------------------------------------------------------

    def consent(self, turn: Turn) -> list[Reply]:
        """What will be shared, and a yes/no before anything is sent (/human, the words, the
        offer button)."""
        if self.desk is None:
            return [self.unavailable(turn)]
        if turn.message.payload is None:  # asked in words: this is the offer
            self._record_later(turn, "offered")
        turn.asking = "handoff"  # a typed "yes" or "no" answers it too
        store = self.engine.store
        key = turn.message.session_key

        async def ask() -> list[Reply]:
            if await store.get_handoff(key) is not None:
                return [Reply(turn.ui("handoff_already"))]
            if await self._limited(key):
                return [Reply(turn.ui("handoff_rate_limited", limit=RATE_LIMIT))]
            shared = self.preview(turn)
            yes = turn.button(turn.ui("button_handoff_yes"), ConfirmHandoff(True))
            no = turn.button(turn.ui("button_handoff_no"), ConfirmHandoff(False))
            text = turn.ui("handoff_consent", summary=shared, when=turn.ui("handoff_when"))
            return [Reply(text, ((yes, no),))]

        turn.later.append(ask)
        return []

    def confirm(self, turn: Turn, yes: bool) -> list[Reply]:
        if not yes:
            return [Reply(turn.ui("handoff_declined"), edit=True)]
        if self.desk is None:
            return [self.unavailable(turn)]
        desk, store, message = self.desk, self.engine.store, turn.message
        key = message.session_key

        async def open_() -> list[Reply]:
            if await store.get_handoff(key) is not None:
                return [Reply(turn.ui("handoff_already"), edit=True)]
            if await self._limited(key):
                return [Reply(turn.ui("handoff_rate_limited", limit=RATE_LIMIT), edit=True)]
            try:
                ticket = await desk.open(message, self.summary(turn))
            except Exception:
                log.exception("could not open a handoff on %s", message.platform)
                return [Reply(turn.ui("handoff_failed"))]
            handoff = Handoff(
                key,
                message.platform,
                message.chat_id,
                message.user_id,
                ticket,
                self._now(),
                turn.lang,
            )
            try:
                await store.put_handoff(handoff)
            except Exception:
                await self.open.close_desk(ticket)  # no ticket nobody can find again
                raise
            self.open.passed.discard(key)
            await self.record(message.platform, turn.lang, "opened")
            return [Reply(turn.ui("handoff_opened", when=turn.ui("handoff_when")), edit=True)]

        turn.later.append(open_)
        return []

    async def _limited(self, key: str) -> bool:
        since = self._now() - RATE_WINDOW
        return await self.engine.store.count_handoffs_since(key, since) >= RATE_LIMIT

    # -- while a handoff is open (bot/handoff_open.py) ---------------------------------

    async def route(self, turn: Turn) -> list[Reply] | None:
        """The person's message while their handoff is open; None: handle it as usual."""
        return await self.open.route(turn)

    async def end(self, handoff: Handoff, lang: str) -> None:
        """The person ended it (/cancel, /forget): close the staff side and forget it."""
        await self.open.end(handoff, lang)

    async def staff_closed(
        self, platform: str, ticket: str
    ) -> tuple[IncomingMessage, list[Reply]] | None:
        return await self.open.staff_closed(platform, ticket)

    async def staff_message(self, handoff: Handoff, text: str) -> Reply:
        return await self.open.staff_message(handoff, text)

    # -- every handled message -----------------------------------------------------------

    def heard(self, turn: Turn) -> None:
        """Remember what the person wrote (typed text, not commands or buttons), in memory, for
        a summary they will see before it is shared."""
        message, key = turn.message, turn.message.session_key
        command, argument = turn.parse_command()
        if message.payload is not None or command not in (None, "ask"):
            return
        # A question typed as `/ask <question>` is what the person wrote, too (on Discord
        # every question is a slash command).
        text = message.text.strip() if command is None else argument
        if not text:
            return
        self.memory.remember(key, text)

    async def after(self, turn: Turn) -> list[Reply]:
        """Count fallbacks in a row, and offer a person at the second one."""
        message, key = turn.message, turn.message.session_key
        if turn.kind == "fallback":
            # Without a team, nothing: the fallback already points to the platform's support,
            # and "I can't pass this on to a person" answers a request nobody made.
            if self.memory.fallback(key, FALLBACKS_BEFORE_OFFER) and self.desk is not None:
                await self.record(message.platform, turn.lang, "offered")
                return [self.offer(turn)]
        elif turn.kind is not None or turn.entry is not None or turn.walk.moves:
            self.memory.answered(key)  # anything answered starts the count again
        return []

    async def forget(self, turn: Turn) -> None:
        """/forget: close an open handoff first; drop what is held in memory."""
        key = turn.message.session_key
        handoff = await self.engine.store.get_handoff(key)
        if handoff is not None:
            await self.end(handoff, turn.lang)
        self.memory.forget(key)
        self.open.passed.discard(key)

    # -- the summary ---------------------------------------------------------------------

    def summary(self, turn: Turn) -> Summary:
        """Only what this person wrote in this conversation, their language and place."""
        return Summary(
            turn.lang,
            where(self.engine.knowledge, turn, self.staff_lang),
            self.memory.questions(turn.message.session_key),
        )

    def preview(self, turn: Turn) -> str:
        """The summary as the person sees it before agreeing (in their language)."""
        k, key = self.engine.knowledge, turn.message.session_key
        return self.render(
            Summary(turn.lang, where(k, turn, turn.lang), self.memory.questions(key)), turn.lang
        )

    def render(self, summary: Summary, lang: str) -> str:
        return render_summary(self.engine.knowledge, summary, lang)

    # -- events --------------------------------------------------------------------------

    async def record(self, platform: str, lang: str, stage: Stage) -> None:
        """An anonymous "handoff" event: the stage in `position`, nothing about the person."""
        try:
            await self.engine.events.record(
                Event("handoff", platform, lang, at=self._now(), position=stage)
            )
        except Exception:
            log.exception("could not record a handoff event")

    def _record_later(self, turn: Turn, stage: Stage) -> None:
        async def record() -> list[Reply]:
            await self.record(turn.message.platform, turn.lang, stage)
            return []

        turn.later.append(record)

    def _now(self) -> float:
        return self.engine.clock()
