"""The conversation engine: one `handle(message) -> replies` that every adapter calls.

It decides what a message means (command, button press, walkthrough word or question), moves
the person's walkthrough, keeps their session in the store, and writes replies in neutral
markup. It knows nothing about any chat platform.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from bot import walkthrough as wt
from bot.commands import REGISTRY, CommandSpec, OptionSpec
from bot.knowledge import Knowledge
from bot.language import LanguageDetector, from_locale
from bot.markup import escape
from bot.matcher import Matcher
from bot.payloads import Payload, make, owner_tag
from bot.sessions import MemoryStore, Session, SessionStore
from bot.text import normalize
from bot.types import Answer, Button, IncomingMessage, Reply, Suggestion
from bot.walkthrough import CHECKLIST, CONFIRM, STEPS, Position

log = logging.getLogger(__name__)

DEFAULT_TTL = 24 * 3600.0
_ACK_EMOJI = frozenset({"👍", "👌", "✅", "✔", "✔️", "🆗", "👍🏻", "👍🏼", "👍🏽", "👍🏾", "👍🏿"})
_WORD_ACTIONS = {
    CHECKLIST: (
        ("stop", "stop"),
        ("done", "done"),
        ("next", "done"),
        ("more", "more"),
        ("back", "back"),
        ("repeat", "repeat"),
        ("cancel", "cancel"),
    ),
    CONFIRM: (
        ("continue", "continue"),
        ("next", "continue"),
        ("done", "continue"),
        ("back", "back"),
        ("repeat", "repeat"),
        ("cancel", "cancel"),
        ("stop", "cancel"),
    ),
    STEPS: (
        ("next", "next"),
        ("done", "next"),
        ("continue", "next"),
        ("back", "back"),
        ("repeat", "repeat"),
        ("more", "repeat"),
        ("cancel", "cancel"),
        ("stop", "cancel"),
    ),
}


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
    ) -> None:
        self.knowledge = knowledge
        self.store: SessionStore = store if store is not None else MemoryStore()
        self.matcher = matcher or Matcher(knowledge)
        self.ttl = ttl
        self.clock = clock
        self._words = {
            lang: {
                kind: frozenset(
                    normalize(w) for w in knowledge.ui(f"words_{kind}", lang).split(",")
                )
                - {""}
                for kind in ("next", "back", "repeat", "cancel", "done", "more", "stop", "continue")
            }
            for lang in knowledge.languages
        }
        self._last_purge = 0.0
        self.detector = LanguageDetector(knowledge)

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
        answer = self.matcher.match(question, lang, also=(text_lang,))
        return answer, turn.answer_reply(answer, in_walkthrough=False)

    def lang_for(self, message: IncomingMessage, session: Session | None) -> str:
        """The user's explicit choice, else the language this text is clearly written in, else
        the language of their walkthrough so far, else the platform locale, else English."""
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
        if explicit in self.knowledge.languages:
            return explicit, detected  # type: ignore[return-value]
        if detected:
            return detected, detected
        remembered = session.seen_lang if session else None
        if remembered in self.knowledge.languages:
            return remembered, None  # type: ignore[return-value]
        return from_locale(message.locale, self.knowledge.languages) or "en", None

    async def close(self) -> None:
        await self.store.close()

    # -- one message ---------------------------------------------------------------------

    async def _handle(self, message: IncomingMessage) -> list[Reply]:
        now = self.clock()
        key = message.session_key
        stored = await self.store.get(key)
        replies: list[Reply] = []
        session = stored
        lang, text_lang = self._languages(message, session)
        if session is not None and session.active and now - session.updated_at > self.ttl:
            session = replace(session, mode=None, position=None)
            replies.append(Reply(self.knowledge.ui("expired", lang)))
        session = session or Session(updated_at=now)
        turn = Turn(self, message, replace(session), lang, text_lang)
        replies += await turn.run()
        if turn.session.active and not turn.forgotten:
            turn.session.seen_lang = turn.lang
        if turn.forgotten:
            await self.store.delete(key)
        elif turn.session.active or turn.session.lang:
            if stored is None or turn.session != stored or replies:
                turn.session.updated_at = now
                await self.store.put(key, turn.session)
        elif stored is not None:
            await self.store.delete(key)
        if now - self._last_purge > 600:
            self._last_purge = now
            await self.store.purge(now - 2 * self.ttl)
        return replies


class Turn:
    """Everything about handling one message; short-lived, so it can hold the session."""

    def __init__(
        self,
        engine: Engine,
        message: IncomingMessage,
        session: Session,
        lang: str,
        text_lang: str | None = None,
    ) -> None:
        self.text_lang = text_lang
        self.engine = engine
        self.k = engine.knowledge
        self.message = message
        self.session = session
        self.lang = lang
        self.walk = self.k.walkthrough(lang)
        self.forgotten = False

    def ui(self, key: str, **values: object) -> str:
        return self.k.ui(key, self.lang, **values)

    def button(self, label_key: str, verb: str, arg: str) -> Button:
        return Button(self.ui(label_key), make(verb, arg, self.message.user_id))

    # -- dispatch ------------------------------------------------------------------------

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
        position = self.position()
        if position is not None:
            action = self.word_action(position, text)
            if action is not None:
                return self.navigate(position, action, edit=False)
            return self.question(text)
        if not normalize(text):  # only emoji or punctuation: nothing to match
            return [Reply(self.ui("fallback_empty"))]
        if self.is_navigation_word(text):
            restart = self.button("button_walkthrough", "c", "walkthrough")
            return [Reply(self.ui("no_walkthrough"), ((restart,),))]
        return self.question(text)

    def is_navigation_word(self, text: str) -> bool:
        """ "next", "back" or "repeat" typed when there is nothing to move through."""
        return any(kinds & {"next", "back", "repeat"} for kinds in self.word_kinds(text))

    def word_kinds(self, text: str) -> list[frozenset[str]]:
        """Which walkthrough words `text` is ("next", "done", ...): in the person's language
        first, then in English, so a language's own meaning of a word wins."""
        said = normalize(text)
        if not said and text.strip() in _ACK_EMOJI:
            return [frozenset({"done"})]  # 👍 means "done"
        tables = (self.engine._words.get(self.lang), self.engine._words["en"])
        return [frozenset(kind for kind, words in t.items() if said in words) for t in tables if t]

    def parse_command(self) -> tuple[str | None, str]:
        message = self.message
        if message.command:
            return message.command.lower().lstrip("/"), message.text.strip()
        text = message.text.strip()
        if text.startswith("/") and len(text) > 1:
            head, _, rest = text[1:].partition(" ")
            return head.split("@", 1)[0].lower(), rest.strip()
        bare = normalize(text)
        if REGISTRY.get(bare) is not None:
            return bare, ""
        return None, ""

    def position(self) -> Position | None:
        s = self.session
        if not s.active or s.position is None:
            return None
        position = Position(s.mode, s.position)
        return position if wt.valid(self.walk, position) else None

    def word_action(self, position: Position, text: str) -> str | None:
        for kinds in self.word_kinds(text):
            for kind, action in _WORD_ACTIONS[position.mode]:
                if kind in kinds:
                    return action
        return None

    # -- commands ------------------------------------------------------------------------

    def command(self, name: str, argument: str) -> list[Reply]:
        declared = REGISTRY.get(name)
        if declared is None:
            return [
                Reply(self.ui("unknown_command", command=escape(name[:40])), self.main_buttons())
            ]
        return declared.handler(self, argument)

    def cmd_start(self, argument: str) -> list[Reply]:
        deep = REGISTRY.get(normalize(argument))
        if deep is not None and deep.name in ("walkthrough", "steps", "faq", "checklist", "help"):
            return self.command(deep.name, "")
        return [Reply(self.ui("greeting"), self.main_buttons())]

    def cmd_help(self) -> list[Reply]:
        return [Reply(self.ui("help"), self.main_buttons())]

    def cmd_ask(self, argument: str) -> list[Reply]:
        if not argument:
            return [Reply(self.ui("ask_usage"))]
        return self.question(argument)

    def cmd_walkthrough(self) -> list[Reply]:
        position = self.position()
        if position is not None:
            return [self.render(position, edit=False)]
        return self.start_walkthrough()

    def cmd_forget(self) -> list[Reply]:
        yes = self.button("button_forget_yes", "f", "yes")
        no = self.button("button_forget_no", "f", "no")
        return [Reply(self.ui("forget_confirm"), ((yes, no),))]

    def language(self, code: str) -> list[Reply]:
        languages = self.k.languages
        code = normalize(code)
        if code in languages:
            self.session.lang = code
            self.lang = code
            self.walk = self.k.walkthrough(code)
            return [Reply(self.ui("language_set"), edit=self.message.payload is not None)]
        rows = tuple(
            (Button(self.k.ui("language_name", lang), make("l", lang, self.message.user_id)),)
            for lang in languages
        )
        return [Reply(self.ui("language_prompt"), rows)]

    def main_buttons(self) -> tuple[tuple[Button, ...], ...]:
        return (
            (self.button("button_walkthrough", "c", "walkthrough"),),
            (self.button("button_steps", "c", "steps"), self.button("button_faq", "c", "faq")),
            (self.button("button_checklist", "c", "checklist"),),
        )

    def steps_reply(self) -> Reply:
        parts = [self.ui("steps_header")]
        total = len(self.walk.steps)
        for number, step in enumerate(self.walk.steps, 1):
            entry = self.k.entry(step.entry, self.lang)
            header = self.ui("step_header", number=number, total=total, title=escape(entry.title))
            parts.append(f"{header}\n{entry.answer}")
        return Reply(
            "\n\n".join(parts), ((self.button("button_walkthrough", "c", "walkthrough"),),)
        )

    def checklist_reply(self) -> Reply:
        parts = [self.ui("checklist_header")]
        for number, item in enumerate(self.walk.checklist, 1):
            entry = self.k.entry(item.entry, self.lang)
            parts.append(f"**{number}. {escape(entry.title)}**\n{entry.answer}")
        return Reply(
            "\n\n".join(parts), ((self.button("button_walkthrough", "c", "walkthrough"),),)
        )

    def faq_reply(self) -> Reply:
        topics = self.k.pack(self.lang).faq_topics
        rows = tuple(
            (Button(self.k.entry(i, self.lang).title, make("a", i, self.message.user_id)),)
            for i in topics
        )
        return Reply(self.ui("faq_header"), rows)

    def faq_topic(self, topic: str) -> list[Reply]:
        """`/faq <topic>`: an entry id (from autocomplete) or free text, treated as a question."""
        if topic in self.k.base.entries:
            return [self.entry_answer(topic, in_walkthrough=self.position() is not None)]
        return self.question(topic)

    # -- questions -----------------------------------------------------------------------

    def question(self, text: str) -> list[Reply]:
        if not normalize(text):
            replies = [Reply(self.ui("fallback_empty"))]
            position = self.position()
            return replies + ([self.still_here(position)] if position is not None else [])
        answer = self.engine.matcher.match(text, self.lang, also=(self.text_lang,))
        position = self.position()
        replies = [self.answer_reply(answer, in_walkthrough=position is not None)]
        if position is not None:
            replies.append(self.still_here(position))
        return replies

    def still_here(self, position: Position) -> Reply:
        """After an answer mid-walkthrough: where the person is, with that step's buttons."""
        where = wt.describe(self.k, position, self.lang)
        return Reply(self.ui("still_here", where=where), self.nav_buttons(position))

    def restart_row(self) -> tuple[tuple[Button, ...], ...]:
        return ((self.button("button_restart", "w", "start.none"),),)

    def answer_reply(self, answer: Answer, in_walkthrough: bool) -> Reply:
        if answer.entry_id is not None:
            return self.entry_answer(answer.entry_id, in_walkthrough)
        if answer.suggestions:
            rows = tuple(
                (Button(s.title, make("a", s.id, self.message.user_id)),)
                for s in answer.suggestions
            )
            return Reply(self.ui("did_you_mean"), rows)
        topics = self.k.pack(self.lang).fallback_topics
        rows = tuple(
            (Button(self.k.entry(i, self.lang).title, make("a", i, self.message.user_id)),)
            for i in topics
        )
        if not in_walkthrough:
            rows += ((self.button("button_walkthrough", "c", "walkthrough"),),)
        return Reply(self.ui("fallback"), rows)

    def entry_answer(self, entry_id: str, in_walkthrough: bool) -> Reply:
        entry = self.k.entry(entry_id, self.lang)
        text = f"**{escape(entry.title)}**\n\n{entry.answer}"
        if in_walkthrough:
            return Reply(text)
        rows: tuple[tuple[Button, ...], ...] = tuple(
            (Button(self.k.entry(r, self.lang).title, make("a", r, self.message.user_id)),)
            for r in entry.related[:3]
        )
        if rows:
            text += f"\n\n{self.ui('see_also')}"
        rows += ((self.button("button_walkthrough", "c", "walkthrough"),),)
        return Reply(text, rows)

    # -- buttons -------------------------------------------------------------------------

    def press(self, raw: str) -> list[Reply]:
        payload = Payload.decode(raw)
        if payload is None:
            return self.stale()
        if payload.owner != owner_tag(self.message.user_id):
            return [Reply(self.ui("not_your_button"), private=True)]
        if payload.verb == "a":
            if payload.arg not in self.k.base.entries:
                return self.stale()
            position = self.position()
            replies = [self.entry_answer(payload.arg, in_walkthrough=position is not None)]
            if position is not None:
                replies.append(self.still_here(position))
            return replies
        if payload.verb == "c":
            return self.command(payload.arg, "")
        if payload.verb == "l":
            return self.language(payload.arg)
        if payload.verb == "f":
            if payload.arg == "yes":
                self.forgotten = True
                self.session = Session()
                return [Reply(self.ui("forgotten"), edit=True)]
            return [Reply(self.ui("forget_kept"), edit=True)]
        action, _, where = payload.arg.partition(".")
        position = self.position()
        if position is None:
            if payload.verb == "w" and action == "start":
                return self.start_walkthrough()
            return [
                Reply(
                    self.ui("walkthrough_ended"),
                    self.restart_row(),
                )
            ]
        if where != position.key:
            return [Reply(self.ui("stale_button")), self.render(position, edit=False)]
        if payload.verb == "h":
            return [
                Reply(
                    self.k.entry(action, self.lang).answer
                    if action in self.k.base.entries
                    else self.ui("stale_button")
                ),
                self.still_here(position),
            ]
        return self.navigate(position, action, edit=True)

    def stale(self) -> list[Reply]:
        position = self.position()
        if position is None:
            return [
                Reply(
                    self.ui("walkthrough_ended"),
                    self.restart_row(),
                )
            ]
        return [Reply(self.ui("stale_button")), self.render(position, edit=False)]

    # -- walkthrough ---------------------------------------------------------------------

    def start_walkthrough(self) -> list[Reply]:
        position = wt.first(self.walk)
        self.move(position)
        return [Reply(self.walk.intro), self.render(position, edit=False)]

    def cancel(self) -> list[Reply]:
        if self.position() is None and not self.session.active:
            return [Reply(self.ui("nothing_to_cancel"))]
        self.move(None)
        return [Reply(self.ui("cancelled"), self.restart_row())]

    def move(self, position: Position | None) -> None:
        self.session.mode = position.mode if position else None
        self.session.position = position.id if position else None

    def navigate(self, position: Position, action: str, edit: bool) -> list[Reply]:
        walk = self.walk
        if action == "cancel":
            self.move(None)
            return [
                Reply(
                    self.ui("cancelled"),
                    self.restart_row(),
                    edit=edit,
                )
            ]
        if action == "repeat":
            return [self.render(position, edit=False)]
        if action == "more" and position.mode == CHECKLIST:
            item = walk.checklist[walk.check_index(position.id) or 0]
            return [
                self.render(position, edit=edit, more=self.k.entry(item.entry, self.lang).answer)
            ]
        if action == "stop" and position.mode == CHECKLIST:
            self.move(None)
            return [
                Reply(
                    self.ui("checklist_stopped"),
                    self.restart_row(),
                    edit=edit,
                )
            ]
        if action == "back":
            previous = wt.backward(walk, position)
            if previous is None:
                return [
                    Reply(self.ui("already_first"), private=True),
                    self.render(position, edit=edit),
                ]
            self.move(previous)
            return [self.render(previous, edit=edit)]
        if action in ("next", "done", "continue"):
            following = wt.forward(walk, position)
            if following is None:
                self.move(None)
                return [Reply(walk.done, ((self.button("button_faq", "c", "faq"),),), edit=edit)]
            self.move(following)
            return [self.render(following, edit=edit)]
        return [self.render(position, edit=False)]

    def nav(self, label_key: str, action: str, position: Position) -> Button:
        return self.button(label_key, "w", f"{action}.{position.key}")

    def nav_buttons(self, position: Position) -> tuple[tuple[Button, ...], ...]:
        if position.mode == CHECKLIST:
            return (
                (
                    self.nav("button_done", "done", position),
                    self.nav("button_more", "more", position),
                ),
                (
                    self.nav("button_stop", "stop", position),
                    self.nav("button_cancel", "cancel", position),
                ),
            )
        if position.mode == CONFIRM:
            return (
                (self.nav("button_continue", "continue", position),),
                (
                    self.nav("button_back", "back", position),
                    self.nav("button_cancel", "cancel", position),
                ),
            )
        step = self.walk.steps[self.walk.step_index(position.id) or 0]
        rows: list[tuple[Button, ...]] = [
            (
                self.nav("button_back", "back", position),
                self.nav("button_repeat", "repeat", position),
                self.nav("button_next", "next", position),
            )
        ]
        for extra in step.help:
            rows.append(
                (
                    Button(
                        extra.label,
                        make("h", f"{extra.entry}.{position.key}", self.message.user_id),
                    ),
                )
            )
        rows.append((self.nav("button_cancel", "cancel", position),))
        return tuple(rows)

    def render(self, position: Position, edit: bool, more: str = "") -> Reply:
        walk = self.walk
        header = wt.header(self.k, position, self.lang)
        if position.mode == CHECKLIST:
            item = walk.checklist[walk.check_index(position.id) or 0]
            text = f"{header}\n\n{item.prompt}" + (f"\n\n{more}" if more else "")
        else:
            step = walk.steps[walk.step_index(position.id) or 0]
            body = (
                step.warning
                if position.mode == CONFIRM
                else self.k.entry(step.entry, self.lang).answer
            )
            text = f"{header}\n\n{body}"
        return Reply(text, self.nav_buttons(position), edit=edit)
