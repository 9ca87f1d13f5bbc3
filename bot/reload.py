"""Hot reload's quality gate: new knowledge is served only if it validates and answers as well.

`check(old, new, sets)` loads nothing itself: it measures accuracy and out-of-scope rejection
of the old and the new knowledge on the same questions and refuses the new one when either
figure drops by more than `MAX_DROP` (one point) on any set. The questions are:

- the team's tuning question sets (`default_sets()`: `tests/questions/tuning/*.yaml` beside the package
  in a checkout, when the shipped guide is served, or the files named by `HELPBOT_RELOAD_SETS` /
  `--reload-sets`); a wheel install, or another guide, has none, and the result says so;
- always, a built-in check made from the *old* knowledge: every alternate question of every
  entry that still exists (per language) must still get its entry, and every out-of-scope
  example must still be refused. It needs no files, so it works from any install.

`Engine.reload(path)` calls `attempt` (load, validate, check) and swaps the knowledge only when
it passes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.evaluate import QuestionSetError, evaluate
from bot.knowledge import Knowledge, KnowledgeError, is_shipped, load_knowledge
from bot.matcher import Matcher

MAX_DROP = 0.01  # one point
SETS_ENV = "HELPBOT_RELOAD_SETS"


def default_sets(served: str | Path | None = None) -> list[Path]:
    """`$HELPBOT_RELOAD_SETS` (paths separated by the OS path separator), else, when `served`
    (the knowledge folder being served) is the shipped guide, the tuning sets of a checkout
    (`tests/questions/tuning/*.yaml`, or the older `tests/questions*.yaml`, next to `bot/`),
    else none: a wheel install, or another guide, whose questions those sets are not."""
    named = os.environ.get(SETS_ENV)
    if named:
        return [Path(p) for p in named.split(os.pathsep) if p]
    if served is not None and not is_shipped(served):
        return []
    tests = Path(__file__).resolve().parent.parent / "tests"
    return sorted((tests / "questions" / "tuning").glob("*.yaml")) or sorted(
        tests.glob("questions*.yaml")
    )


@dataclass(frozen=True, slots=True)
class Figures:
    accuracy: float
    rejection: float
    in_scope: int
    out_of_scope: int


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """What `Engine.reload` did. `ok` means the new knowledge is now served."""

    ok: bool
    path: str
    reason: str  # one line for logs and the admin's reply
    problems: tuple[str, ...] = ()  # validation problems, each with file and line
    before: dict[str, Figures] = field(default_factory=dict)
    after: dict[str, Figures] = field(default_factory=dict)


def _builtin(reference: Knowledge, knowledge: Knowledge, matcher: Matcher) -> dict[str, Figures]:
    """Per language: the reference's alternates (entries in both) and out-of-scope examples."""
    figures = {}
    for lang in reference.languages:
        pack = reference.packs[lang]
        right = total = 0
        for entry_id, entry in pack.entries.items():
            if entry_id not in knowledge.base.entries:
                continue  # a removed entry is a choice, not a regression
            for question in entry.questions:
                total += 1
                right += matcher.match(question, lang).entry_id == entry_id
        refused = sum(matcher.match(q, lang).entry_id is None for q in pack.out_of_scope)
        outside = len(pack.out_of_scope)
        figures[f"built-in:{lang}"] = Figures(
            right / total if total else 1.0,
            refused / outside if outside else 1.0,
            total,
            outside,
        )
    return figures


def measure(
    knowledge: Knowledge, matcher: Matcher, sets: Sequence[Path], reference: Knowledge
) -> dict[str, Figures]:
    """Figures of `knowledge` on every set, and on the built-in check made from `reference`.
    Raises QuestionSetError for an unreadable set or one naming entries that do not exist."""
    figures = {}
    for path in sets:
        report = evaluate(knowledge, path, matcher)
        figures[str(path)] = Figures(
            report.accuracy, report.rejection, report.in_scope, report.out_of_scope
        )
    figures.update(_builtin(reference, knowledge, matcher))
    return figures


def compare(before: dict[str, Figures], after: dict[str, Figures]) -> list[str]:
    """One line per figure that dropped by more than one point."""
    drops = []
    for name, old in before.items():
        new = after.get(name)
        if new is None:
            continue
        for label, was, now in (
            ("accuracy", old.accuracy, new.accuracy),
            ("out-of-scope rejection", old.rejection, new.rejection),
        ):
            if now < was - MAX_DROP:
                drops.append(f"{name}: {label} {was:.1%} -> {now:.1%}")
    return drops


def check(
    old: Knowledge, old_matcher: Matcher, new: Knowledge, sets: Sequence[Path]
) -> tuple[Matcher, ReloadResult]:
    """The new knowledge's matcher and the verdict (not applied: the engine swaps on `ok`)."""
    matcher = Matcher(new)
    if old_matcher.lexical.large is not None:
        matcher.lexical.use_vectors()  # a bot that warmed up keeps its faster scoring
    try:
        before = measure(old, old_matcher, sets, old)
        after = measure(new, matcher, sets, old)
    except QuestionSetError as error:
        return matcher, ReloadResult(False, new.path, f"question set problem: {error}")
    drops = compare(before, after)
    if drops:
        reason = "answers would get worse: " + "; ".join(drops)
        return matcher, ReloadResult(False, new.path, reason, before=before, after=after)
    named = f"{len(sets)} tuning set(s)" if sets else "no tuning sets found (only"
    reason = f"reloaded {new.path}: {new.entry_count()} entries; checked on {named}" + (
        " and the built-in check" if sets else " the built-in check)"
    )
    return matcher, ReloadResult(True, new.path, reason, before=before, after=after)


async def attempt(
    old: Knowledge, old_matcher: Matcher, where: str, sets: Sequence[Path]
) -> tuple[tuple[Knowledge, Matcher] | None, ReloadResult]:
    """Load and validate the knowledge at `where` and `check` it, in a worker thread: the new
    knowledge and its matcher when they may be served (None when not), and the verdict."""
    try:
        new = await asyncio.to_thread(load_knowledge, where)
    except KnowledgeError as error:
        problems = tuple(str(p) for p in error.problems)
        reason = f"{len(problems)} problem(s) in {where}; first: {problems[0]}"
        return None, ReloadResult(False, where, reason, problems)
    matcher, result = await asyncio.to_thread(check, old, old_matcher, new, sets)
    return ((new, matcher) if result.ok else None), result
