"""The conversation engine: one `handle(message) -> replies` that every adapter calls.

It decides what a message means (command, button press, walkthrough word or question), moves
the person's walkthrough, keeps their session in the store, and writes replies in neutral
markup. It knows nothing about any chat platform.

The parts with a job of their own are collaborators it composes: `bot.turn` (routing one
message) and `bot.answering` (answering it), `bot.reply_language` (which language to reply in),
`bot.memory` (follow-up context and 👎 alternatives), `bot.turn_events` (the anonymous events),
`bot.reload` (hot reload's gate) and `bot.handoff` (handing a conversation to a person).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.answering import UNDO
from bot.commands import CommandSpec, menu_specs
from bot.engine_parts import LazyParts
from bot.knowledge import Knowledge
from bot.limits import DEFAULT_RETENTION_DAYS
from bot.markup import escape
from bot.matcher import Matcher
from bot.memory import (
    ASKED,
    CONTEXT_MAX,
    CONTEXT_TTL,
    AlternativesMemory,
    ContextMemory,
)
from bot.reply_language import ReplyLanguage
from bot.session_state import Session, StoreUnavailable
from bot.staff import StaffSide
from bot.turn import Turn
from bot.types import Answer, IncomingMessage, Reply, Suggestion
from bot.walkthrough import FollowUps, Words

# The store, the event log, handoffs, hot reload and asyncio are loaded when first used, not
# here: `helpbot ask` builds an Engine only to answer, and importing them was a third of its
# start-up. The bots load them all at once anyway (their first message uses every one).
if TYPE_CHECKING:
    import asyncio

    from bot.events import EventLog
    from bot.handoff import Handoffs
    from bot.reload import ReloadResult
    from bot.sessions import SessionStore

__all__ = ["CONTEXT_MAX", "CONTEXT_TTL", "DEFAULT_TTL", "Engine", "Turn"]

log = logging.getLogger(__name__)

DEFAULT_TTL = 24 * 3600.0
"""Seconds after which an idle walkthrough expires."""


class Engine(StaffSide, LazyParts):
    """Platform-neutral conversation logic over one knowledge base and one session store."""

    def __init__(
        self,
        knowledge: Knowledge,
        store: SessionStore | None = None,
        *,
        matcher: Matcher | None = None,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
        events: EventLog | None = None,
        feedback: bool = True,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        admins: frozenset[str] = frozenset(),
        reload_sets: Sequence[Path] | None = None,
    ) -> None:
        self.knowledge = knowledge
        self._store = store
        self.matcher = matcher or Matcher(knowledge)
        self.ttl = ttl
        self.clock = clock
        self.words = Words(knowledge)  # the walkthrough words, in every language
        self.langs = ReplyLanguage(knowledge)
        # Anonymous events (bot.events): a throw-away in-memory log unless one is given.
        self._events = events
        self.feedback = feedback  # 👍/👎 under answers to questions
        self.retention_days = retention_days
        self.admins = admins  # "platform:user_id" of the operators (/stats, /reload)
        self._reload_sets = None if reload_sets is None else list(reload_sets)
        self._reloading: asyncio.Lock | None = None
        self._alternatives = AlternativesMemory()  # what a 👎 offers instead
        self.context = ContextMemory()  # the last answered entry, for follow-ups
        # Handing a conversation to a person (bot.handoff); no desk until an adapter attaches one.
        self._handoffs: Handoffs | None = None

    @property
    def followups(self) -> FollowUps:
        """The follow-up phrases ("what now", "where is that button"): the matcher's, so one
        set serves both and a hot reload, which swaps the matcher, swaps them too."""
        return self.matcher.followups

    def read(self, text: str, lang: str, text_lang: str | None) -> Answer:
        """The matcher's verdict: an entry, small talk, a refusal kind, suggestions or none."""
        return self.matcher.match(text, lang, also=(text_lang,))

    # -- public API used by adapters -----------------------------------------------------

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        """Replies for one incoming message. Never raises: an internal error becomes an apology."""
        if not message.addressed and message.payload is None:
            return []
        try:
            # One person's updates apply in arrival order, one at a time (across processes
            # too, when the store is shared).
            async with self.store.lock(message.session_key):
                return await self._handle(message)
        except StoreUnavailable as error:
            log.warning("answering without the session store: %s", error)
            return Turn(self, message, Session(), *self._languages(message, None)).without_store()
        except Exception:
            log.exception("failed to handle a message on %s", message.platform)
            return [Reply(self.knowledge.ui("error", self.lang_for(message, None)))]

    @property
    def languages(self) -> tuple[str, ...]:
        """The knowledge base's language codes, English first (for adapters)."""
        return tuple(self.knowledge.languages)

    def ui(self, key: str, lang: str | None = None) -> str:
        """One interface text from ui.yaml in `lang` (adapters: apologies, notices)."""
        return self.knowledge.ui(key, lang)

    def commands(self, lang: str | None = None) -> dict[str, str]:
        """Command names and descriptions, for menus (setMyCommands, slash commands)."""
        return {spec.name: spec.description for spec in self.command_specs(lang)}

    def command_specs(self, lang: str | None = None, *, admin: bool = False) -> list[CommandSpec]:
        """Every declared command as a menu shows it in `lang` (admin commands only when
        `admin`): Telegram's setMyCommands and Discord's slash commands are built from this."""
        return menu_specs(self.knowledge, lang, admin)

    async def suggest(self, message: IncomingMessage, limit: int = 5) -> list[Suggestion]:
        """Entries matching the partly typed `message.text` (Discord autocomplete, Telegram
        inline mode), in the language this person chose with /language, else the text's or
        their locale's. Empty text offers the FAQ topics."""
        session = await self.store.get(message.session_key)
        return self.search(message.text, limit, self.lang_for(message, session))

    def search(self, text: str, limit: int = 5, lang: str | None = None) -> list[Suggestion]:
        """Entries matching partly typed text in `lang`; empty text offers the FAQ topics."""
        lang = lang or "en"
        if not text.strip():
            pack = self.knowledge.pack(lang)
            return [
                Suggestion(i, self.knowledge.entry(i, lang).title, 0.0) for i in pack.faq_topics
            ][:limit]
        return self.matcher.search(text, limit, lang)

    def entry_reply(self, entry_id: str, lang: str | None = None) -> Reply:
        """An entry's answer with no buttons, e.g. for sharing it into another chat."""
        entry = self.knowledge.entry(entry_id, lang)
        return Reply(f"**{escape(entry.title)}**\n\n{entry.answer}")

    def ask(self, question: str, lang: str | None = None) -> tuple[Answer, Reply]:
        """Match one question and build the reply a person would see (used by `helpbot ask`).
        `lang` acts as an explicit choice, so the same rules as in a chat decide the language."""
        message = IncomingMessage("cli", "cli", "cli", question)
        lang, text_lang = self._languages(message, Session(lang=lang))
        if not self.matcher.readable(question):
            return self.matcher.match(question, lang), Reply(
                self.knowledge.ui("fallback_empty", lang)
            )
        turn = Turn(self, message, Session(), lang, text_lang)
        answer = self.read(question, lang, text_lang)
        return answer, turn.answer_reply(answer, in_walkthrough=False)

    def lang_for(self, message: IncomingMessage, session: Session | None) -> str:
        """The user's explicit choice, else the language this text is clearly written in, else
        (for a walkthrough, a button press or a command) the conversation's language so far,
        else the platform locale, else English."""
        return self._languages(message, session)[0]

    def _languages(
        self, message: IncomingMessage, session: Session | None
    ) -> tuple[str, str | None]:
        """(reply language, language the text is written in if clear), detecting only once."""
        return self.langs.choose(message, session)

    async def warm_up(self) -> None:
        """Ready a long-running bot: the vectorised word scoring (bot/lexical.py) and what the
        first question would otherwise wait for (the sentence model and its index), in a worker
        thread; a failure is logged and leaves the model to load lazily."""
        import asyncio

        await asyncio.to_thread(self.matcher.lexical.use_vectors)
        semantic = self.matcher.semantic
        if semantic is not None:
            try:
                await asyncio.to_thread(semantic.warm)
            except Exception:
                log.exception("could not load the sentence model ahead of time")
        settle_heap()

    async def purge_expired(self) -> int:
        """Delete what was kept for people idle for over twice the TTL (walkthroughs and
        remembered languages); returns how many. Adapters call this periodically, outside any
        person's lock; `handle` never does."""
        from bot.events import retention_cutoff

        removed = await self.store.purge(self.clock() - 2 * self.ttl)
        removed += await self.events.purge(retention_cutoff(self.retention_days, self.clock()))
        return removed

    async def close(self) -> None:
        await self.store.close()
        await self.events.close()

    def is_admin(self, message: IncomingMessage) -> bool:
        return f"{message.platform}:{message.user_id}" in self.admins

    async def reload(self, path: str | Path | None = None) -> ReloadResult:
        """Load the knowledge at `path` (default: the folder served now), validate it, check
        its answers on the tuning sets (`bot.reload`), and serve it only if nothing got worse
        by more than one point; otherwise keep serving the old one. Walkthroughs keep their
        place (positions are ids); a position that disappeared ends politely when next used.
        SIGHUP (adapters) and /reload (admins) both come here."""
        import asyncio

        from bot.reload import attempt

        where = str(path or self.knowledge.path)
        if self._reloading is None:
            self._reloading = asyncio.Lock()
        async with self._reloading:
            served, result = await attempt(self.knowledge, self.matcher, where, self.reload_sets)
            if served is not None:
                new, self.matcher = served
                self.knowledge = new
                self.words = Words(new)
                self.langs = ReplyLanguage(new)
                self._alternatives.clear()  # entry ids of the old knowledge
                settle_heap(again=True)
        if result.ok:
            log.warning("knowledge %s", result.reason)
        else:
            log.warning("knowledge reload refused, still serving the old one: %s", result.reason)
        return result

    def remember_question(
        self, token: str, text: str, lang: str, text_lang: str | None, answered: str | None
    ) -> None:
        """Keep, under its rating token, the entries `text` came close to besides `answered`
        (from the ranking the answer was made from), so a 👎 can offer them."""
        matcher = self.matcher
        ranking = matcher.rank(text, matcher.languages(lang, (text_lang,)))
        self._alternatives.remember_runners_up(
            token,
            ranking.entries,
            answered,
            matcher.t.offer,
            otherwise=self.knowledge.pack(lang).fallback_topics,
        )

    def alternatives(self, token: str) -> tuple[str, ...] | None:
        """The runners-up kept for `token` that the served knowledge still has."""
        found = self._alternatives.get(token)
        if found is None:
            return None
        return tuple(i for i in found if i in self.knowledge.base.entries)

    # -- one message ---------------------------------------------------------------------

    async def _handle(self, message: IncomingMessage) -> list[Reply]:
        started = time.perf_counter()
        now = self.clock()
        key = message.session_key
        stored = await self.store.get(key)
        replies: list[Reply] = []
        recalled = self.context.recall(key, now)
        if (  # asked before a restart (or by another worker): still open
            recalled is None
            and stored is not None
            and stored.asking is not None
            and now - stored.updated_at <= CONTEXT_TTL
        ):
            recalled = ASKED + stored.asking
        asked = recalled.removeprefix(ASKED) if recalled and recalled.startswith(ASKED) else None
        last_entry = None if asked else recalled
        followup = _follow_up(self, message.text, last_entry)
        lang, text_lang = self.langs.choose(message, stored)
        session = replace(stored) if stored is not None else Session(updated_at=now)
        idle: str | None = None
        if stored is not None and stored.active and now - stored.updated_at > self.ttl:
            idle = stored.position
            session = replace(session, mode=None, position=None)
            hours = f"{self.ttl / 3600:.3g}"
            replies.append(Reply(self.knowledge.ui("expired", lang, hours=hours)))
        turn = Turn(self, message, session, lang, text_lang)
        turn.last_entry, turn.followup, turn.asked = last_entry, followup, asked
        turn.last_just_answered = last_entry is not None and self.context.just_answered(key)
        routed = await self.handoffs.route(turn)  # an open handoff takes their messages
        if routed is not None:
            return replies + routed
        self.handoffs.heard(turn)
        replies += await turn.run()
        if turn.walk.finished and turn.last_entry is None:
            # "what now?", "I did it", "back" right after the last step: read against it
            turn.last_entry = turn.walk.guide.steps[-1].entry
        asking = turn.asking
        self.context.remember(
            key, ASKED + asking if asking else turn.last_entry, now, just=turn.answered_entry
        )
        for later in turn.later:
            replies += await later()
        replies += await self.handoffs.after(turn)
        await self._record(turn, idle, now, (time.perf_counter() - started) * 1000)
        if turn.forgotten:
            await self.handoffs.forget(turn)
            await self.store.delete(key)
            return replies
        session = turn.session
        session.seen_lang = self.langs.to_keep(message, session, turn.lang, turn.text_lang)
        # a cancel's "undo" is kept in memory only: a cancelled walkthrough leaves no row
        session.asking = asking if asking and not asking.startswith(UNDO) else None
        if session.active or session.lang or session.seen_lang or session.asking:
            session.updated_at = now
            await self.store.put(key, session)
        elif stored is not None:  # nothing left to keep; not `delete`: that ends handoffs
            await self.store.clear(key)
        return replies

    async def _record(self, turn: Turn, idle: str | None, now: float, ms: float) -> None:
        """The anonymous events for one handled message (never who sent it)."""
        from bot.turn_events import turn_events

        try:
            for event in turn_events(turn, idle, now, ms):
                await self.events.record(event)
        except Exception:
            log.exception("could not record an event; the reply is sent anyway")


def settle_heap(again: bool = False) -> None:
    """Moves what a bot has loaded (the indexed knowledge, the sentence model, the imported
    libraries: most of its objects) out of the garbage collector's sight: they live as long
    as the process, and every full collection scanned them all, ~0.1 s of CPU each in the
    Discord benchmark (issue 15). Collected first, so no garbage is kept; `again` (after a
    reload) lets the old knowledge be collected before the new one is set aside."""
    import gc

    if again:
        gc.unfreeze()
    gc.collect()
    gc.freeze()


def _follow_up(engine: Engine, text: str, last_entry: str | None) -> tuple[str | None, str] | None:
    """The follow-up phrase `text` says after the answer about `last_entry` (see FollowUps)."""
    return engine.followups.find(text) if last_entry is not None else None
