"""The guided walkthrough as a small state machine over the YAML's checklist and steps.

A position is (mode, id): ("checklist", "wallet"), ("confirm", "submit") for the warning shown
before a step that has one, or ("steps", "login"). Moving returns the new position or None when
the walkthrough is over; rendering turns a position into a reply. Nothing here stores anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.knowledge import Knowledge, Walkthrough
from bot.markup import escape

CHECKLIST, CONFIRM, STEPS = "checklist", "confirm", "steps"


@dataclass(frozen=True, slots=True)
class Position:
    mode: str
    id: str

    @property
    def key(self) -> str:
        """Compact form carried in button payloads (`c.orders`, `w.submit`, `s.login`)."""
        return f"{self.mode[0]}.{self.id}"


def first(walk: Walkthrough) -> Position:
    return Position(CHECKLIST, walk.checklist[0].id)


def valid(walk: Walkthrough, position: Position) -> bool:
    if position.mode == CHECKLIST:
        return walk.check_index(position.id) is not None
    index = walk.step_index(position.id)
    if index is None:
        return False
    return position.mode == STEPS or bool(walk.steps[index].warning)


def forward(walk: Walkthrough, position: Position) -> Position | None:
    """The next position; None means the walkthrough is complete."""
    if position.mode == CHECKLIST:
        index = walk.check_index(position.id)
        assert index is not None
        if index + 1 < len(walk.checklist):
            return Position(CHECKLIST, walk.checklist[index + 1].id)
        return _enter_step(walk, 0)
    if position.mode == CONFIRM:
        return Position(STEPS, position.id)
    index = walk.step_index(position.id)
    assert index is not None
    return _enter_step(walk, index + 1) if index + 1 < len(walk.steps) else None


def backward(walk: Walkthrough, position: Position) -> Position | None:
    """The previous position; None when already at the very first check."""
    if position.mode == CHECKLIST:
        index = walk.check_index(position.id)
        assert index is not None
        return Position(CHECKLIST, walk.checklist[index - 1].id) if index > 0 else None
    index = walk.step_index(position.id)
    assert index is not None
    if index == 0:
        return Position(CHECKLIST, walk.checklist[-1].id)
    # Going back never re-shows a warning gate: you have already seen it to get past it.
    return Position(STEPS, walk.steps[index - 1].id)


def _enter_step(walk: Walkthrough, index: int) -> Position:
    step = walk.steps[index]
    return Position(CONFIRM if step.warning else STEPS, step.id)


def header(knowledge: Knowledge, position: Position, lang: str) -> str:
    """The bold "check 2 of 4: ..." / "Step 3 ... (3/5)" line that opens a position's message,
    in neutral markup (the title is escaped: it is text, not formatting)."""
    walk = knowledge.walkthrough(lang)
    if position.mode == CHECKLIST:
        index = walk.check_index(position.id) or 0
        key, total, entry = "checklist_item", len(walk.checklist), walk.checklist[index].entry
    else:
        index = walk.step_index(position.id) or 0
        key, total, entry = "step_header", len(walk.steps), walk.steps[index].entry
    title = escape(knowledge.entry(entry, lang).title)
    return knowledge.ui(key, lang, number=index + 1, total=total, title=title)


def describe(knowledge: Knowledge, position: Position, lang: str) -> str:
    """A short "where am I" ("check 2 of 4", "step 3 of 5") for "you're still on ..."."""
    walk = knowledge.walkthrough(lang)
    if position.mode == CHECKLIST:
        number, total, key = (
            (walk.check_index(position.id) or 0) + 1,
            len(walk.checklist),
            "where_check",
        )
    else:
        number, total, key = (walk.step_index(position.id) or 0) + 1, len(walk.steps), "where_step"
    return knowledge.ui(key, lang, number=number, total=total)
