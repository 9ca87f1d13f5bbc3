"""Answering one message's question: matching it, reading follow-ups against what was last
shown, and rendering an entry, "did you mean", small talk or the fallback as neutral replies.

`Answering` holds one message's state (session, language, walkthrough, what the anonymous
event will say); `bot.turn.Turn` adds the routing (commands, buttons, walkthrough words) on
top of it, so commands and actions reach both through the one turn they are given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import actions
from bot.actions import Rate, ShowEntry
from bot.markup import escape
from bot.session_state import Session
from bot.stopwords import ALL_STOPWORDS
from bot.text import is_question_like, normalize
from bot.types import Answer, Button, IncomingMessage, Reply
from bot.walkthrough import Position, Walk, sequence

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.events import Kind

UNDO = "undo:"  # the pending question after a cancel: "undo:" + "mode.id" of the place left


class Answering:
    """One message's state, and how its question is answered and its answers rendered."""

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
        self.last_entry: str | None = None  # the last answered entry (Engine.context)
        # The yes/no question the last reply asked ("walkthrough": shall we go step by step?,
        # "forget": erase everything?, "handoff": pass this on?), so a typed "yes" answers it;
        # `asking` is the one this reply asks (Engine.context keeps it or `last_entry`).
        self.asked: str | None = None
        self._asking: str | None = None
        # The follow-up phrase the message says, once found (see `said_followup`).
        self.followup: tuple[str | None, str] | None = None
        # Whether this message answered an entry (kept with it, see ContextMemory), and whether
        # `last_entry` was the answer to the message before this one.
        self.answered_entry = False
        self.last_just_answered = False
        self.feedback = engine.feedback
        # What the anonymous event for this message says (see bot.turn_events).
        self.kind: Kind | None = None
        self.entry: str | None = None
        self.score: float | None = None
        self.token: str | None = None
        self.question_text: str | None = None

    def ui(self, key: str, **values: object) -> str:
        return self.k.ui(key, self.lang, **values)

    @property
    def asking(self) -> str | None:
        """The yes/no question this reply asks, if any: the walkthrough's offers ("shall we
        go step by step?", "start a new one?") are the walkthrough's own to record."""
        if self._asking:
            return self._asking
        if self.walk.offered:
            return "walkthrough"
        if self.walk.cancelled is not None:  # "oops" next takes the cancel back
            left = self.walk.cancelled
            return f"{UNDO}{left.mode}.{left.id}"
        return "aside" if self.walk.aside else None  # an "ok" next keeps the place

    @asking.setter
    def asking(self, question: str) -> None:
        self._asking = question

    def offer_walkthrough(self, key: str) -> list[Reply]:
        """A reply that asks whether to go step by step (`key`: its ui text), with the button;
        a "yes" typed next starts the walkthrough."""
        self.walk.offered = True
        return [Reply(self.ui(key), self.walk.start_row())]

    def button(self, label: str, action: actions.Action) -> Button:
        return actions.button(label, action, self.message.user_id)

    def topic_rows(self, entry_ids: tuple[str, ...]) -> tuple[tuple[Button, ...], ...]:
        """One button per entry, labelled with its title, that answers it."""
        return tuple(
            (self.button(self.k.entry(i, self.lang).title, ShowEntry(i)),) for i in entry_ids
        )

    # -- follow-ups read against what was last shown (issue 11.3) ---------------------------

    def said_followup(self) -> tuple[str | None, str]:
        """(the follow-up kind the message says, or None; its text without the phrases), found
        once per message: the engine may already have, to choose the reply language."""
        if self.followup is None:
            self.followup = self.engine.followups.find(self.message.text)
        return self.followup

    def walk_followup(self, text: str) -> list[Reply]:
        """Mid-walkthrough: "I'm signed in, what's next" moves on like Next, "where is that
        button" shows the step again, and a message that names a step or a check by its number
        with a word that says go ("skip to step 3") moves there. A question about another step
        ("what's a member id" on step 2) is answered beside the place, which is kept: moving on
        a question passed steps the person never said were done. A follow-up phrase beside a
        question about something else is just that question."""
        kind, rest = self.said_followup()
        if kind == "where" and any(w not in ALL_STOPWORDS for w in normalize(rest).split()):
            # "where do i click deactivate" on step 2 asks about step 3's button: its answer
            other = self.engine.read(rest, self.lang, self.text_lang)
            if other.entry_id is not None and other.entry_id != self.walk.here_entry():
                return self.question(text, other)
        if kind is not None and not self.about_something_else(rest, self.walk.here_entries()):
            return self.walk.follow(kind) or []
        answer = self.engine.read(text, self.lang, self.text_lang)
        names = self.engine.matcher.step_names
        named = names.named(text) if kind is None else None
        # "skip to step 3", "back to check 2": a step or check named by its number, and the
        # answer agrees, moves there (bot/step_names.py)
        beside = (
            []
            if named is None
            else [w for w in normalize(text).split() if w not in names.words_of[named]]
        )
        if not is_question_like(text) and all(w in ALL_STOPWORDS for w in beside):
            beside = []  # "the third check"; not "¿qué es el paso 3?"
        words = self.engine.words
        if (
            named is not None
            and "?" not in text
            and (  # "can I skip step 4?" only asks
                not beside  # "step 4", "check 2"
                or (
                    words.says_go(beside)  # not "what is step 4?": a look ahead keeps the place
                    and (answer.entry_id == named or words.only_moves(beside))
                )  # "skip to the last step": "skip" leaned to step 4's answer
            )
        ):
            moved = self.walk.go_to(named)
            if moved is not None:
                return moved
        return self.question(text, answer)

    def answer_followup(self, text: str) -> list[Reply]:
        """Outside a walkthrough, after an answered entry: "and then?" answers the entry that
        follows it in the walkthrough's order, "what before that" the one before, "where is
        that" the same one again."""
        kind, rest = self.said_followup()
        if kind is None:
            return self.question(text)
        if self.last_entry is None:
            if rest:
                return self.question(text)
            return self.offer_walkthrough("no_walkthrough")
        return self.from_last(kind, rest, text)

    def from_last(self, kind: str, rest: str, text: str) -> list[Reply]:
        """The follow-up `kind` (done, next, back, where) read against the last answered entry;
        `rest` is what the message says beside the follow-up phrase, `text` the whole message
        ("" for a bare walkthrough word, which is never read as a question)."""
        last = self.last_entry
        assert last is not None
        if kind == "more":  # "tell me more", "why?" after an answer: say honestly there is no more
            return self.nothing_more(last)
        order = sequence(self.k.walkthrough(self.lang))
        index = order.index(last) if last in order else None
        step = {"done": 1, "next": 1, "back": -1, "where": 0}[kind]
        target = None if index is None else index + step
        inside = target is not None and 0 <= target < len(order)
        near = {last, order[target]} if inside and target is not None else {last}
        if self.about_something_else(rest, near):
            return self.question(text)
        if target is None and step != 0:
            # "I'm logged in" says what was done: read it; "what's next" is only navigation
            return self.beyond_the_order(text if kind == "done" else rest, last)
        if target is None or step == 0:
            return self.show_entry(last)
        if target < 0:
            return [Reply(self.ui("already_first")), self.entry_answer(last, False)]
        if target >= len(order):  # past the last step: what comes after it, as often as asked
            return [Reply(self.k.walkthrough(self.lang).done, self.walk.start_row())]
        return self.show_entry(order[target])

    def nothing_more(self, last: str) -> list[Reply]:
        """The guide has nothing beyond the answer just given: say so, and offer the topics
        next to it (its related entries, else the fallback's), not the same answer again."""
        entry = self.k.entry(last, self.lang)
        related = entry.related[:3] or tuple(
            i for i in self.k.pack(self.lang).fallback_topics if i != last
        )
        text = self.ui("followup_more", title=escape(entry.title))
        return [Reply(text, self.topic_rows(related) + self.walk.start_row())]

    def beyond_the_order(self, text: str, last: str) -> list[Reply]:
        """ "Now what?" after an entry that is no step or check (the overview, the processing
        time): the answer to `text` when it names another entry ("ok, I'm logged in, now what"
        is step 2), else an offer to go step by step; never the same answer again. `text` is
        what the message says beside a "what's next" phrase, which is not read itself ("а
        дальше?" is no question about step 2)."""
        if text:  # empty for a bare follow-up ("now what", "next"): nothing to read
            answer = self.engine.read(text, self.lang, self.text_lang)
            if answer.entry_id is not None and answer.entry_id != last:
                return self.question(text, answer)
        return self.offer_walkthrough("followup_walkthrough")

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
        if not self.engine.matcher.readable(text):
            replies = [Reply(self.ui("fallback_empty"))]
        else:
            # "how do i delete it? and how long does it take?": both, mid-walkthrough too
            several = self.engine.matcher.each_question(text, self.lang, (self.text_lang,))
            if len(several) > 1:
                return self.answers(text, several, position)
            if answer is None:
                answer = self.engine.read(text, self.lang, self.text_lang)
            if answer.entry_id is None and several:
                answer = several[0]  # every question in it asked about one entry
            words = self.engine.words
            if position is None and (
                (answer.entry_id in self.walk.offered_after and words.mentions_walkthrough(text))
                or words.asks_for_walkthrough(text)  # "show me step by step"
            ):
                return self.walk.start()  # "how do I delete it? walk me through it"
            self.note_answer(answer, text)
            rated = self.feedback and position is None and answer.entry_id is not None
            if rated:
                from bot.events import new_token  # loaded already wherever answers are rated

                self.token = new_token()
                self.engine.remember_question(
                    self.token, text, self.lang, self.text_lang, answer.entry_id
                )
            replies = [self.answer_reply(answer, in_walkthrough=position is not None)]
        return self.walk.keeping_place(replies)

    def answers(
        self, text: str, several: tuple[Answer, ...], position: Position | None
    ) -> list[Reply]:
        """One answer per question of a message that asks several: buttons (see also) under
        the last only, no rating (a rating names one answer); the event records the first."""
        self.note_answer(several[0], text)
        *first, last = (a.entry_id or "" for a in several)
        replies = [self.entry_answer(entry_id, in_walkthrough=True) for entry_id in first]
        replies.append(self.entry_answer(last, in_walkthrough=position is not None))
        return self.walk.keeping_place(replies)

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
        return self.walk.keeping_place(
            [self.entry_answer(entry_id, in_walkthrough=self.walk.position() is not None)]
        )

    def answer_reply(self, answer: Answer, in_walkthrough: bool) -> Reply:
        if answer.smalltalk is not None or answer.refusal is not None:
            return self.manners_reply(answer)
        if answer.entry_id is not None:
            return self.entry_answer(answer.entry_id, in_walkthrough, answer.note)
        if answer.suggestions:
            offered = tuple((self.button(s.title, ShowEntry(s.id)),) for s in answer.suggestions)
            return Reply(self.ui("did_you_mean") + self.note_text(answer.note), offered)
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
        return Reply(self.linked(reply)) if reply else Reply(self.ui("fallback"))

    def note_text(self, note: str | None) -> str:
        """A refusal kind's reply as a paragraph after an answer (`Answer.note`), or ""."""
        kinds = self.k.pack(self.lang).refusals if note is not None else ()
        added = next((kind.reply for kind in kinds if kind.id == note), "")
        return f"\n\n{self.linked(added)}" if added else ""

    def linked(self, reply: str) -> str:
        """A refusal kind's reply with its "{link}" made the support link, as the fallback
        links it: where the guide stops, people are sent to customer support."""
        return reply.replace("{link}", self.ui("support_link"))

    def entry_answer(self, entry_id: str, in_walkthrough: bool, note: str | None = None) -> Reply:
        """An entry's answer; with `note` (a refusal kind's id, see `Answer.note`), that kind's
        reply after it: the guide's answer first, then where it stops."""
        entry = self.k.entry(entry_id, self.lang)
        text = f"**{escape(entry.title)}**\n\n{entry.answer}"
        text += self.note_text(note)
        if in_walkthrough:
            return Reply(text)
        self.last_entry = entry_id
        self.answered_entry = True
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
