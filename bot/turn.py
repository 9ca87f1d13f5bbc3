"""One incoming message, routed: a command, a button press, a walkthrough word or a question.

`Turn` is short-lived, so it can hold the person's session while the engine handles the
message; `bot.answering.Answering` (its base) answers questions and renders entries.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot import actions
from bot.actions import ChooseLanguage, ConfirmHandoff, Forget, RunCommand
from bot.answering import UNDO, Answering
from bot.commands import REGISTRY
from bot.markup import escape
from bot.session_state import Session
from bot.text import normalize
from bot.types import Answer, Button, IncomingMessage, Reply
from bot.walkthrough import WORD_AS_FOLLOWUP, Walk

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)


class Turn(Answering):
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
        super().__init__(engine, message, session, lang, text_lang)
        self.forgotten = False
        self.admin = engine.is_admin(message)
        # Work that needs the event loop (ratings, /stats, /reload); replies are appended.
        self.later: list[Callable[[], Awaitable[list[Reply]]]] = []

    # -- routing -------------------------------------------------------------------------

    async def run(self) -> list[Reply]:
        message = self.message
        if message.payload is not None:
            return self.press(message.payload)
        command, argument = self.parse_command()
        text = message.text.strip()
        if command is not None and self.typed_as_command(command, argument):
            text = command  # "/next", "/back", "/skip": the walkthrough word, not a command
        elif command is not None:
            return self.command(command, argument)
        if not text:
            return [Reply(self.ui("not_text"))]
        if self.engine.handoffs.asked(text):  # "talk to a human", in any language
            return self.engine.handoffs.consent(self)
        if self.asked is not None:  # "erase everything?" "yes"
            answered = self.answer_asked(text)
            if answered is not None:
                return answered
        named = self.engine.words.language_named(text)
        if named is not None:  # "español", "speak english please": as /language would
            return self.choose_language(named)
        if self.walk.position() is not None:
            words = self.engine.words
            moved = self.walk.typed(words, text)
            fixed = words.corrected(text) if moved is None else None
            if fixed is not None and not self.engine.matcher.lexical.uses(text):
                moved = self.walk.typed(words, fixed)  # "nxet" on a step is "next"
            if moved is not None:
                return moved
            return self.beyond_the_steps(text) or self.walk_followup(text)
        if not self.engine.matcher.readable(text):  # emoji or punctuation, not small talk
            return [Reply(self.ui("fallback_empty"))]
        if self.engine.words.starts(text, self.lang):
            self.speak_as(text, {"walkthrough", "restart"})
            return self.walk.start()
        if self.engine.words.skips_checks(text, self.lang):
            self.speak_as(text, {"steps"})
            return self.walk.start_at_steps()
        if self.engine.words.cancels(text, self.lang):  # "отмена" twice: nothing to cancel
            return self.walk.cancel()
        if self.engine.words.keeps(text, self.lang):  # "I don't want to delete it anymore"
            return [Reply(self.ui("keep_outside"))]
        # "yes" to the overview's "type walkthrough and I'll guide you"
        if (
            self.last_just_answered
            and self.last_entry in self.walk.offered_after
            and self.engine.words.is_yes(text, self.lang)
        ):
            return self.walk.start()
        word = self.engine.words.navigation(text, self.lang)
        if word is not None and self.engine.matcher.signals.talk(text) is not None:
            word = None  # a greeting that is also some language's "huh?" is a greeting here
        if (
            word is None
            and self.last_entry is not None
            and self.engine.words.says_done(text, self.lang)
            and self.engine.matcher.signals.talk(text) is None  # "ok" is small talk
        ):
            # "done", "I did it" right after a step's answer (or the last step): what follows
            return self.from_last("done", "", "")
        if word == "more" and self.last_entry is None:
            # "explain", "really?" out of the blue name no topic: not a guess at one (they got
            # "What is AliExpress?"), the fallback and its topics
            nothing = Answer(None, 0.0, (), self.lang)
            self.note_answer(nothing, text)  # counted with the fallbacks in the report
            return [self.answer_reply(nothing, in_walkthrough=False)]
        if self.engine.words.says_trouble(text, self.lang):  # "I'm stuck": at which step?
            link = self.ui("support_link")
            return [Reply(self.ui("trouble_outside", link=link), self.walk.start_row())]
        if word is not None:  # "next" right after the answer about step 1 means step 2
            if self.last_entry is None:
                return self.offer_walkthrough("no_walkthrough")
            return self.from_last(WORD_AS_FOLLOWUP[word], "", "")
        return self.beyond_the_steps(text) or self.answer_followup(text)

    def acknowledged(self, text: str) -> list[Reply] | None:
        """ "ok", "got it", "thanks" right after an answer given beside the walkthrough: it
        acknowledges the answer, not the step, so the step is shown again rather than passed
        ("done" and "next" still move on). None for anything else."""
        position = self.walk.position()
        if position is None or not normalize(text):  # ✅ and 👍 are the Done button's
            return None
        if self.engine.matcher.signals.talk(text) not in ("ok", "thanks"):
            return None
        return [self.walk.render(position, edit=False)]

    def beyond_the_steps(self, text: str) -> list[Reply]:
        """ "step 6", "go to step 0" when there are 5: say how many there are, with where the
        person is (or the list of steps), instead of guessing at another step."""
        number = self.engine.words.step_number(text)
        total = len(self.walk.guide.steps)
        if number is None or 1 <= number <= total:
            return []
        note = Reply(self.ui("step_out_of_range", total=str(total)))
        position = self.walk.position()
        if position is None:
            return [note, self.walk.steps_reply()]
        return [note, self.walk.render(position, edit=False)]

    def speak_as(self, text: str, kinds: set[str]) -> None:
        """ "guíame" as a first message: the walkthrough it starts is in the language whose
        words those are, when only one language's are and no language was chosen (such words
        mark no language for detection: one-word answers work in every language)."""
        if self.session.lang is not None or self.text_lang is not None:
            return
        found = self.engine.words.languages_saying(text, kinds)
        if len(found) == 1 and found[0] != self.lang:
            self.lang = self.text_lang = found[0]
            self.walk = Walk(self.k, self.lang, self.message.user_id, self.session)

    def typed_as_command(self, name: str, argument: str) -> bool:
        """Whether `/name` is no command but a walkthrough word people guess is one ("/next";
        not "/<b>", whose letters alone would be "b", a short "back")."""
        return (
            not argument
            and name.isalpha()
            and REGISTRY.get(name) is None
            and bool(any(self.engine.words.kinds(name, self.lang)))
        )

    def answer_asked(self, text: str) -> list[Reply] | None:
        """A typed yes or no to the question the last reply asked, like its buttons; None when
        the message is something else (then it is handled as usual)."""
        words, asked = self.engine.words, self.asked or ""
        if asked == "aside":
            return self.acknowledged(text)
        if asked.startswith(UNDO):  # "oops" right after a cancel
            if not words.says_undo(text, self.lang):
                return None
            return self.walk.undo_cancel(asked.removeprefix(UNDO))
        yes = words.is_yes(text, self.lang)
        if not yes and (self.asked == "walkthrough" or not words.is_no(text, self.lang)):
            return None  # a "no" to "shall we?" gets the small talk's reply
        if self.asked == "forget":
            return Forget(yes).run(self)
        if self.asked == "handoff":
            return ConfirmHandoff(yes).run(self)
        return self.walk.start() if self.walk.position() is None else None

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

    def choose_language(self, code: str) -> list[Reply]:
        """Set the reply language (/language xx, /language español, or its buttons); without a
        language it knows, ask."""
        code = normalize(code)
        if code not in self.k.languages:  # its own name ("português") or another's ("spanish")
            code = self.engine.words.language_names.get(code, code)
        if code in self.k.languages:
            self.session.lang = self.lang = code
            self.walk = Walk(self.k, code, self.message.user_id, self.session)
            done = [Reply(self.ui("language_set"), edit=self.message.payload is not None)]
            position = self.walk.position()  # mid-walkthrough: where they are, in it
            return done + ([self.walk.render(position, edit=False)] if position else [])
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

    def without_store(self) -> list[Reply]:
        """The reply when the session store is down: questions need no state, so they are
        answered; anything that reads or moves a walkthrough (a button, a command, a
        walkthrough word) gets the store_unavailable apology."""
        text = self.message.text.strip()
        stateful = (
            self.message.payload
            or self.parse_command()[0]
            or any(self.engine.words.kinds(text, self.lang))
        )
        if not stateful and normalize(text):
            return self.question(text)
        return [Reply(self.ui("store_unavailable"))]
