"""The knowledge base's items (Entry, Refusal, Walkthrough, Step...), declared once, as plain
named tuples that import no validation library.

These are the YAML shapes `bot.schema` validates against and the objects the engine uses. Each
field's annotation is its whole declaration: type, constraints (msgspec `Meta`) and loader
rule (`rule(...)`, see `bot.schema`). The annotations stay unevaluated strings here
(`from __future__ import annotations`); `bot.schema` evaluates them, with its names, only when
it validates a knowledge folder. So the cached index (`bot.cache`) unpickles these classes
without importing msgspec or the validator: ~13 ms of `helpbot ask`'s start-up. Named tuples,
not dataclasses: ten frozen slotted dataclasses took ~6 ms to define, these ~2 ms; like the
msgspec Structs before them they are immutable, compare by value and pickle compactly.

Adding a field is still one line, here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, NamedTuple

if TYPE_CHECKING:
    from msgspec import Meta

    from bot.schema import EntryRef, Ident, StepIdent, Text, Title, rule

BASE_LANG = "en"
MIN_QUESTIONS = 15
MIN_TRANSLATED_QUESTIONS = 10
MIN_SMALLTALK_EXAMPLES = 3
MAX_ID_LEN = 32
MAX_STEP_ID_LEN = 16
MAX_TITLE_LEN = 60


# --- guide.yaml ----------------------------------------------------------------------------


class Entry(NamedTuple):
    id: Ident
    title: Annotated[Title, rule(base=True, inherit=True)] = ""
    answer: Annotated[Text, rule(base=True, inherit=True)] = ""
    questions: Annotated[
        tuple[Text, ...],
        rule(base=True, base_min=MIN_QUESTIONS, translated_min=MIN_TRANSLATED_QUESTIONS),
    ] = ()
    keywords: tuple[Text, ...] = ()
    related: Annotated[
        tuple[EntryRef, ...], rule(inherit=True, refers="related entry '{ref}' does not exist")
    ] = ()
    not_questions: Annotated[tuple[Text, ...], rule(examples=True)] = ()


class Refusal(NamedTuple):
    """An out-of-scope kind of question with a reply of its own."""

    id: Ident
    reply: Annotated[Text, rule(base=True, inherit=True)] = ""
    examples: Annotated[tuple[Text, ...], rule(base=True, examples=True)] = ()
    signals: tuple[Text, ...] = ()  # words naming this kind ("ebay"); "!word": not when present
    # the entry whose answer comes first, the reply after it (read from the base language)
    answer_with: Annotated[
        EntryRef | None, rule(refers="answer_with entry '{ref}' does not exist")
    ] = None
    # "answers": a note, whose reply follows whatever entry answers the question, or stands
    # alone when none does ("is it the same on the app?"); other kinds named beside it win
    # (read from the base language)
    adds_to: Literal["answers"] | None = None


class GuideFile(NamedTuple):
    entries: Annotated[tuple[Entry, ...], rule(base=True)] = ()
    synonyms: dict[str, tuple[Text, ...]] = {}  # noqa: RUF012  # a default never mutated
    out_of_scope: Annotated[tuple[Text, ...], rule(examples=True)] = ()
    refusals: tuple[Refusal, ...] = ()
    faq_topics: Annotated[tuple[EntryRef, ...], rule(refers="no entry '{ref}'")] = ()
    fallback_topics: Annotated[tuple[EntryRef, ...], rule(refers="no entry '{ref}'")] = ()


# --- walkthrough.yaml ----------------------------------------------------------------------


class HelpButton(NamedTuple):
    label: Text
    entry: Annotated[EntryRef, rule(refers="help entry '{ref}' does not exist")]


class CheckItem(NamedTuple):
    id: StepIdent
    entry: Annotated[EntryRef, rule(refers="entry '{ref}' does not exist")]
    prompt: Text
    # Phrases that name this check by its number ("check 2", "second check"), as a step's
    # `named`: bot/step_names.py
    named: tuple[Text, ...] = ()
    # The reply to a "no" at this check, when the generic one (ui `checklist_stopped`: "sort
    # that out first") does not fit: "not OK that reopening is not guaranteed" has nothing to
    # sort out.
    if_no: Text = ""


class Step(NamedTuple):
    id: StepIdent
    entry: Annotated[EntryRef, rule(refers="entry '{ref}' does not exist")]
    help: tuple[HelpButton, ...] = ()
    warning: Text = ""
    # Phrases that name this step by its number, found inside questions ("step 2", "second
    # step"): bot/step_names.py
    named: tuple[Text, ...] = ()


class Walkthrough(NamedTuple):
    intro: Text
    checklist: Annotated[tuple[CheckItem, ...], Meta(min_length=1)]
    steps: Annotated[tuple[Step, ...], Meta(min_length=1)]
    done: Text
    # Entries whose answer invites the walkthrough (the overview's "type walkthrough..."): a
    # "yes" typed right after one, or the question itself asking "step by step", starts it.
    offered_after: Annotated[
        tuple[EntryRef, ...], rule(refers="offered_after entry '{ref}' does not exist")
    ] = ()
    # Phrases that name the steps as a whole ("the 5 steps"): the first `offered_after` entry
    # answers them (bot/step_names.py)
    all_steps_named: tuple[Text, ...] = ()

    def check_index(self, item_id: str) -> int | None:
        return next((i for i, item in enumerate(self.checklist) if item.id == item_id), None)

    def step_index(self, step_id: str) -> int | None:
        return next((i for i, step in enumerate(self.steps) if step.id == step_id), None)


class WalkthroughFile(NamedTuple):
    walkthrough: Walkthrough


# --- smalltalk.yaml (optional) -------------------------------------------------------------


class SmallTalk(NamedTuple):
    """Chit-chat (greetings, thanks) the bot answers briefly instead of refusing."""

    id: Ident
    examples: Annotated[
        tuple[Text, ...], rule(base=True, base_min=MIN_SMALLTALK_EXAMPLES, examples=True)
    ] = ()
    reply: Annotated[Text, rule(base=True, inherit=True)] = ""


class SmalltalkFile(NamedTuple):
    smalltalk: tuple[SmallTalk, ...] = ()
