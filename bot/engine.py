"""The conversation engine: one `handle(message) -> replies` that every adapter calls.

It decides what a message means (command, button press, walkthrough word or question), moves
the person's walkthrough, keeps their session in the store, and writes replies in neutral
markup. It knows nothing about any chat platform.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path

from bot import actions
from bot.actions import ChooseLanguage, Rate, RunCommand, ShowEntry
from bot.commands import REGISTRY, CommandSpec, OptionSpec
from bot.events import (
    DEFAULT_RETENTION_DAYS,
    PENDING_MAX,
    PENDING_SECONDS,
    Event,
    EventLog,
    Kind,
    MemoryEventLog,
    new_token,
    retention_cutoff,
)
from bot.handoff import Handoff, HandoffDesk, Handoffs, Summary
from bot.knowledge import Knowledge, KnowledgeError, load_knowledge
from bot.language import LanguageDetector, from_locale
from bot.markup import escape
from bot.matcher import Matcher
from bot.reload import ReloadResult, check, default_sets
from bot.sessions import MemoryStore, Session, SessionStore, StoreUnavailable
from bot.stopwords import ALL_STOPWORDS
from bot.text import normalize
from bot.types import Answer, Button, IncomingMessage, Reply, Suggestion
from bot.walkthrough import FollowUps, Walk, Words, sequence

log = logging.getLogger(__name__)

DEFAULT_TTL = 24 * 3600.0
CONTEXT_TTL = 30 * 60.0
"""How long the last answered entry is remembered for follow-ups ("and then?")."""
CONTEXT_MAX = 100_000
"""At most this many people's last answered entries are held (oldest dropped first)."""


class Engine:
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
        self.store: SessionStore = store if store is not None else MemoryStore()
        self.matcher = matcher or Matcher(knowledge)
        self.ttl = ttl
        self.clock = clock
        self.words = Words(knowledge)  # the walkthrough words, in every language
        self.detector = LanguageDetector(knowledge)
        # Anonymous events (bot.events): a throw-away in-memory log unless one is given.
        self.events: EventLog = events if events is not None else MemoryEventLog()
        self.feedback = feedback  # 👍/👎 under answers to questions
        self.retention_days = retention_days
        self.admins = admins  # "platform:user_id" of the operators (/stats, /reload)
        self.reload_sets = list(default_sets() if reload_sets is None else reload_sets)
        self._reloading = asyncio.Lock()
        # Rating token -> runner-up entry ids, in memory only, so a 👎 can offer "did you
        # mean" without keeping the question. Entry ids only: nothing about the person.
        self._alternatives: OrderedDict[str, tuple[float, tuple[str, ...]]] = OrderedDict()
        self.followups = FollowUps(knowledge)
        # session key -> (entry id, when): the last entry answered outside a walkthrough, in
        # this process's memory only (never in the store), for CONTEXT_TTL; /forget drops it.
        self.context: OrderedDict[str, tuple[str, float]] = OrderedDict()
        # Handing a conversation to a person (bot.handoff); no desk until an adapter attaches one.
        self.handoffs = Handoffs(self)

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
            # Questions need no state; anything that reads or moves a walkthrough does.
            log.warning("answering without the session store: %s", error)
            turn = Turn(self, message, Session(), *self._languages(message, None))
            text = message.text.strip()
            stateful = (
                message.payload or turn.parse_command()[0] or any(self.words.kinds(text, turn.lang))
            )
            if not stateful and normalize(text):
                return turn.question(text)
            return [Reply(self.knowledge.ui("store_unavailable", turn.lang))]
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
        k = self.knowledge
        descriptions = k.command_descriptions(lang)
        languages = tuple((code, k.ui("language_name", code)) for code in k.languages)
        specs = []
        for declared in REGISTRY:
            if declared.admin and not admin:
                continue
            options = tuple(
                OptionSpec(
                    o.name,
                    k.ui(o.text_key, lang),
                    o.kind,
                    o.required,
                    o.autocomplete,
                    languages if o.kind == "language" else (),
                )
                for o in declared.options
            )
            specs.append(
                CommandSpec(declared.name, descriptions[declared.name], options, declared.admin)
            )
        return specs

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
        if not normalize(question):
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
        text = message.text if message.payload is None else ""
        if message.command and message.command not in ("ask", "faq"):
            text = ""
        detected = self.detector.detect(text) if text else None
        explicit = session.lang if session else None
        if explicit is not None and explicit in self.knowledge.languages:
            return explicit, detected
        if detected:
            return detected, detected
        # The conversation's language carries a walkthrough, button presses and commands; a
        # free question that is not clearly in any language goes by the locale.
        question = message.payload is None and not message.command
        question = question and not text.startswith("/") and REGISTRY.get(normalize(text)) is None
        active = session is not None and session.active
        remembered = session.seen_lang if session and (active or not question) else None
        if remembered is not None and remembered in self.knowledge.languages:
            return remembered, None
        return self._default_lang(message), None

    def _default_lang(self, message: IncomingMessage) -> str:
        return from_locale(message.locale, self.knowledge.languages) or "en"

    async def warm_up(self) -> None:
        """Load what the first question would otherwise wait for (the sentence model and its
        index), in a worker thread; a failure is logged and leaves the model to load lazily."""
        semantic = self.matcher.semantic
        if semantic is None:
            return
        try:
            await asyncio.to_thread(semantic.warm)
        except Exception:
            log.exception("could not load the sentence model ahead of time")

    async def purge_expired(self) -> int:
        """Delete what was kept for people idle for over twice the TTL (walkthroughs and
        remembered languages); returns how many. Adapters call this periodically, outside any
        person's lock; `handle` never does."""
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
        where = str(path or self.knowledge.path)
        async with self._reloading:
            try:
                new = await asyncio.to_thread(load_knowledge, where)
            except KnowledgeError as error:
                problems = tuple(str(p) for p in error.problems)
                reason = f"{len(problems)} problem(s) in {where}; first: {problems[0]}"
                result = ReloadResult(False, where, reason, problems)
            else:
                matcher, result = await asyncio.to_thread(
                    check, self.knowledge, self.matcher, new, self.reload_sets
                )
                if result.ok:
                    self.knowledge, self.matcher = new, matcher
                    self.words = Words(new)
                    self.detector = LanguageDetector(new)
                    self._alternatives.clear()  # entry ids of the old knowledge
        if result.ok:
            log.warning("knowledge %s", result.reason)
        else:
            log.warning("knowledge reload refused, still serving the old one: %s", result.reason)
        return result

    def remember_alternatives(self, token: str, entry_ids: tuple[str, ...]) -> None:
        self._alternatives[token] = (time.monotonic(), entry_ids)
        while len(self._alternatives) > PENDING_MAX:
            self._alternatives.popitem(last=False)

    def alternatives(self, token: str) -> tuple[str, ...] | None:
        found = self._alternatives.get(token)
        if found is None or time.monotonic() - found[0] > PENDING_SECONDS:
            return None
        return tuple(i for i in found[1] if i in self.knowledge.base.entries)

    def handoff_rows(self, turn: Turn) -> tuple[tuple[Button, ...], ...]:
        """A way to reach a person, offered after a 👎 (bot.handoff)."""
        return self.handoffs.rows(turn)

    # -- handoff to a person (bot.handoff has the contract and the logic) -------------------

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

    # -- one message ---------------------------------------------------------------------

    async def _handle(self, message: IncomingMessage) -> list[Reply]:
        started = time.perf_counter()
        now = self.clock()
        key = message.session_key
        stored = await self.store.get(key)
        replies: list[Reply] = []
        lang, text_lang = self._languages(message, stored)
        session = replace(stored) if stored is not None else Session(updated_at=now)
        idle: str | None = None
        if stored is not None and stored.active and now - stored.updated_at > self.ttl:
            idle = stored.position
            session = replace(session, mode=None, position=None)
            hours = f"{self.ttl / 3600:.3g}"
            replies.append(Reply(self.knowledge.ui("expired", lang, hours=hours)))
        turn = Turn(self, message, session, lang, text_lang)
        turn.last_entry = self.recall(key, now)
        routed = await self.handoffs.route(turn)  # an open handoff takes their messages
        if routed is not None:
            return replies + routed
        self.handoffs.heard(turn)
        replies += await turn.run()
        self.remember(key, turn.last_entry, now)
        for later in turn.later:
            replies += await later()
        replies += await self.handoffs.after(turn)
        await self._record(turn, idle, now, (time.perf_counter() - started) * 1000)
        if turn.forgotten:
            await self.handoffs.forget(turn)
            await self.store.delete(key)
            return replies
        session = turn.session
        session.seen_lang = self._conversation_lang(message, turn)
        if session.active or session.lang or session.seen_lang:
            session.updated_at = now
            await self.store.put(key, session)
        elif stored is not None:
            await self.store.delete(key)
        return replies

    async def _record(self, turn: Turn, idle: str | None, now: float, ms: float) -> None:
        """The anonymous events for one handled message (never who sent it)."""
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
        try:
            for event in found:
                await self.events.record(event)
        except Exception:
            log.exception("could not record an event; the reply is sent anyway")

    def recall(self, key: str, now: float) -> str | None:
        """The entry last answered to this person, if within CONTEXT_TTL."""
        kept = self.context.get(key)
        if kept is None or now - kept[1] > CONTEXT_TTL:
            self.context.pop(key, None)
            return None
        return kept[0]

    def remember(self, key: str, entry_id: str | None, now: float) -> None:
        self.context.pop(key, None)
        if entry_id is None:
            return
        self.context[key] = (entry_id, now)
        while len(self.context) > CONTEXT_MAX or (
            self.context and now - next(iter(self.context.values()))[1] > CONTEXT_TTL
        ):
            self.context.popitem(last=False)

    def _conversation_lang(self, message: IncomingMessage, turn: Turn) -> str | None:
        """The conversation's language, remembered for button presses and words that do not
        show their language ("hecho", "walkthrough"): the walkthrough's, else the last one a
        message was clearly written in. None (nothing kept) when the locale gives it anyway."""
        if turn.session.active:
            lang: str | None = turn.lang
        else:
            lang = turn.text_lang or turn.session.seen_lang
        return None if lang == self._default_lang(message) else lang


class Turn:
    """Everything about handling one message; short-lived, so it can hold the session. Routes
    the message to a command, a button action, a walkthrough word or a question."""

    def __init__(
        self,
        engine: Engine,
        message: IncomingMessage,
        session: Session,
        lang: str,
        text_lang: str | None = None,
    ) -> None:
        self.engine = engine
        self.k = engine.knowledge
        self.message = message
        self.session = session
        self.lang = lang
        self.text_lang = text_lang
        self.walk = Walk(self.k, lang, message.user_id, session)
        self.forgotten = False
        self.last_entry: str | None = None  # the last answered entry (Engine.context)
        self.admin = engine.is_admin(message)
        self.feedback = engine.feedback
        # What the anonymous event for this message says (see Engine._record).
        self.kind: Kind | None = None
        self.entry: str | None = None
        self.score: float | None = None
        self.token: str | None = None
        self.question_text: str | None = None
        # Work that needs the event loop (ratings, /stats, /reload); replies are appended.
        self.later: list[Callable[[], Awaitable[list[Reply]]]] = []

    def ui(self, key: str, **values: object) -> str:
        return self.k.ui(key, self.lang, **values)

    def button(self, label: str, action: actions.Action) -> Button:
        return actions.button(label, action, self.message.user_id)

    # -- routing -------------------------------------------------------------------------

    async def run(self) -> list[Reply]:
        message = self.message
        if message.payload is not None:
            return self.press(message.payload)
        command, argument = self.parse_command()
        if command is not None:
            return self.command(command, argument)
        text = message.text.strip()
        if not text:
            return [Reply(self.ui("not_text"))]
        if self.engine.handoffs.asked(text):  # "talk to a human", in any language
            return self.engine.handoffs.consent(self)
        if self.walk.position() is not None:
            moved = self.walk.typed(self.engine.words, text)
            return moved if moved is not None else self.walk_followup(text)
        if not normalize(text):  # only emoji or punctuation: nothing to match
            return [Reply(self.ui("fallback_empty"))]
        if self.engine.words.is_navigation(text, self.lang):
            return [Reply(self.ui("no_walkthrough"), self.walk.start_row())]
        return self.answer_followup(text)

    def parse_command(self) -> tuple[str | None, str]:
        message = self.message
        if message.command:
            return message.command.lower().lstrip("/"), message.text.strip()
        text = message.text.strip()
        if text.startswith("/") and len(text) > 1:
            head, _, rest = text[1:].partition(" ")
            return head.split("@", 1)[0].lower(), rest.strip()
        bare = normalize(text)
        declared = REGISTRY.get(bare)
        if declared is not None and (self.admin or not declared.admin):
            return bare, ""
        return None, ""

    def command(self, name: str, argument: str) -> list[Reply]:
        declared = REGISTRY.get(name)
        if declared is None or (declared.admin and not self.admin):  # others: no such command
            unknown = self.ui("unknown_command", command=escape(name[:40]))
            return [Reply(unknown, self.main_buttons())]
        return declared.handler(self, argument)

    def press(self, payload: str) -> list[Reply]:
        pressed = actions.decode(payload)
        if pressed is None:
            return self.walk.stale()
        if not pressed.belongs_to(self.message.user_id):
            return [Reply(self.ui("not_your_button"), private=True)]
        return pressed.action.run(self)

    # -- what commands and actions share -------------------------------------------------

    def main_buttons(self) -> tuple[tuple[Button, ...], ...]:
        def run(label_key: str, name: str) -> Button:
            return self.button(self.ui(label_key), RunCommand(name))

        return (
            (run("button_walkthrough", "walkthrough"),),
            (run("button_steps", "steps"), run("button_faq", "faq")),
            (run("button_checklist", "checklist"),),
        )

    def topic_rows(self, entry_ids: tuple[str, ...]) -> tuple[tuple[Button, ...], ...]:
        """One button per entry, labelled with its title, that answers it."""
        return tuple(
            (self.button(self.k.entry(i, self.lang).title, ShowEntry(i)),) for i in entry_ids
        )

    def choose_language(self, code: str) -> list[Reply]:
        """Set the reply language (/language xx, or its buttons); without a valid code, ask."""
        code = normalize(code)
        if code in self.k.languages:
            self.session.lang = self.lang = code
            self.walk = Walk(self.k, code, self.message.user_id, self.session)
            return [Reply(self.ui("language_set"), edit=self.message.payload is not None)]
        rows = tuple(
            (self.button(self.k.ui("language_name", lang), ChooseLanguage(lang)),)
            for lang in self.k.languages
        )
        return [Reply(self.ui("language_prompt"), rows)]

    def forget(self) -> None:
        """Erase everything kept about this person once the message is handled."""
        self.forgotten = True
        self.last_entry = None
        self.session = Session()
        moves = self.walk.moves
        self.walk = Walk(self.k, self.lang, self.message.user_id, self.session)
        self.walk.moves = moves

    def rate(self, token: str, helpful: bool) -> list[Reply]:
        """👍 / 👎 pressed under an answer: store the rating (a second press replaces it);
        👎 also offers the runners-up of that question, or the answer's related topics."""
        self.kind = "feedback"
        engine = self.engine

        async def store() -> list[Reply]:
            known = await engine.events.rate(token, 1 if helpful else -1)
            if not known:
                log.info("a rating for an unknown or purged answer")
            if helpful:
                return [Reply(self.ui("feedback_thanks"), private=True)]
            offered = engine.alternatives(token) or ()
            rows = self.topic_rows(offered) or self.topic_rows(
                self.k.pack(self.lang).fallback_topics
            )
            rows += engine.handoff_rows(self)
            return [Reply(self.ui("feedback_sorry"), rows)]

        self.later.append(store)
        return []

    # -- questions and answers -----------------------------------------------------------

    # -- follow-ups read against what was last shown (issue 11.3) ---------------------------

    def walk_followup(self, text: str) -> list[Reply]:
        """Mid-walkthrough: "I'm signed in, what's next" moves on like Next, "where is that
        button" shows the step again, and a question about the next step moves there. A
        follow-up phrase beside a question about something else is just that question."""
        kind, rest = self.engine.followups.find(text)
        if kind is not None and not self.about_something_else(rest, self.walk.here_entries()):
            return self.walk.follow(kind) or []
        answer = self.engine.read(text, self.lang, self.text_lang)
        asks_next = answer.entry_id is not None and answer.entry_id == self.walk.next_entry()
        if kind is None and asks_next:
            return self.walk.follow("next") or []
        return self.question(text, answer)

    def answer_followup(self, text: str) -> list[Reply]:
        """Outside a walkthrough, after an answered entry: "and then?" answers the entry that
        follows it in the walkthrough's order, "what before that" the one before, "where is
        that" the same one again."""
        kind, rest = self.engine.followups.find(text)
        if kind is None:
            return self.question(text)
        last = self.last_entry
        if last is None:
            if rest:
                return self.question(text)
            return [Reply(self.ui("no_walkthrough"), self.walk.start_row())]
        order = sequence(self.k.walkthrough(self.lang))
        index = order.index(last) if last in order else None
        step = {"done": 1, "next": 1, "back": -1, "where": 0}[kind]
        target = None if index is None else index + step
        inside = target is not None and 0 <= target < len(order)
        near = {last, order[target]} if inside and target is not None else {last}
        if self.about_something_else(rest, near):
            return self.question(text)
        if target is None or step == 0:
            return self.show_entry(last)
        if target < 0:
            return [Reply(self.ui("already_first")), self.entry_answer(last, False)]
        if target >= len(order):
            self.last_entry = None
            return [Reply(self.k.walkthrough(self.lang).done, self.walk.start_row())]
        return self.show_entry(order[target])

    def about_something_else(self, rest: str, near: set[str]) -> bool:
        """Whether the words beside a follow-up phrase confidently ask about another entry
        (at least two content words: "right, I'm signed in, what's next" is no question)."""
        if len([w for w in normalize(rest).split() if w not in ALL_STOPWORDS]) < 2:
            return False
        other = self.engine.read(rest, self.lang, self.text_lang)
        return other.entry_id is not None and other.entry_id not in near

    # -- questions and answers -----------------------------------------------------------

    def question(self, text: str, answer: Answer | None = None) -> list[Reply]:
        position = self.walk.position()
        if not normalize(text):
            replies = [Reply(self.ui("fallback_empty"))]
        else:
            if answer is None:
                answer = self.engine.read(text, self.lang, self.text_lang)
            self.note_answer(answer, text)
            rated = self.feedback and position is None and answer.entry_id is not None
            if rated:
                self.token = new_token()
                others = self.engine.matcher.search(text, 4, self.lang)
                runners_up = tuple(s.id for s in others if s.id != answer.entry_id)[:3]
                self.engine.remember_alternatives(self.token, runners_up)
            replies = [self.answer_reply(answer, in_walkthrough=position is not None)]
        return replies + ([self.walk.still_here(position)] if position is not None else [])

    def note_answer(self, answer: Answer, text: str) -> None:
        """What the event says about a matched question (its text: see bot.events rules)."""
        if answer.smalltalk is not None:
            self.kind = "smalltalk"
        elif answer.entry_id is not None:
            self.kind = "answer"
        else:
            self.kind = "did_you_mean" if answer.suggestions else "fallback"
        self.entry = answer.entry_id or (answer.suggestions[0].id if answer.suggestions else None)
        self.score = round(answer.score, 4)
        self.question_text = text

    def show_entry(self, entry_id: str) -> list[Reply]:
        """One entry's answer; mid-walkthrough, followed by where the person still is."""
        self.entry = entry_id
        position = self.walk.position()
        replies = [self.entry_answer(entry_id, in_walkthrough=position is not None)]
        return replies + ([self.walk.still_here(position)] if position is not None else [])

    def answer_reply(self, answer: Answer, in_walkthrough: bool) -> Reply:
        if answer.smalltalk is not None or answer.refusal is not None:
            return self.manners_reply(answer)
        if answer.entry_id is not None:
            return self.entry_answer(answer.entry_id, in_walkthrough)
        if answer.suggestions:
            offered = tuple((self.button(s.title, ShowEntry(s.id)),) for s in answer.suggestions)
            return Reply(self.ui("did_you_mean"), offered)
        rows = self.topic_rows(self.k.pack(self.lang).fallback_topics)
        if not in_walkthrough:
            rows += self.walk.start_row()
        return Reply(self.ui("fallback"), rows)

    def manners_reply(self, answer: Answer) -> Reply:
        """A smalltalk or refusal kind's own short reply (issue 11.5, 11.6): no guide facts and
        no entry buttons, so nothing pushes deletion on a hacked account."""
        pack = self.k.pack(self.lang)
        items = pack.smalltalk if answer.smalltalk is not None else pack.refusals
        wanted = answer.smalltalk if answer.smalltalk is not None else answer.refusal
        reply = next((item.reply for item in items if item.id == wanted), None)
        return Reply(reply) if reply else Reply(self.ui("fallback"))

    def entry_answer(self, entry_id: str, in_walkthrough: bool) -> Reply:
        entry = self.k.entry(entry_id, self.lang)
        text = f"**{escape(entry.title)}**\n\n{entry.answer}"
        if in_walkthrough:
            return Reply(text)
        self.last_entry = entry_id
        rows = self.topic_rows(entry.related[:3])
        if rows:
            text += f"\n\n{self.ui('see_also')}"
        rating: tuple[tuple[Button, ...], ...] = ()
        if self.token is not None:
            rating = (
                (
                    self.button(self.ui("button_helpful"), Rate(self.token, True)),
                    self.button(self.ui("button_unhelpful"), Rate(self.token, False)),
                ),
            )
        # "See also:" names the topic rows, so they come first; the rating closes the answer.
        return Reply(text, rows + self.walk.start_row() + rating)
