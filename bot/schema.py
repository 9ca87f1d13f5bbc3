"""The knowledge schema: the validation of the shapes declared once in `bot.shapes` (one
named tuple per YAML shape, which the engine uses as they are).

A field's type says what it holds (msgspec checks it), its default says whether it may be left
out, and an optional `rule(...)` says what the loader does with it across files and languages:

- `base=True`: required in the base language (a translation may leave it out);
- `inherit=True`: a translation that leaves it out gets the base language's value;
- `base_min=N` / `translated_min=N`: at least N items (an error in the base language, a
  warning in a translation);
- `refers="... '{ref}' ..."`: each value names an entry; the message if it names none;
- `examples=True`: its texts are questions people type; the same text may not be two things.

Adding a field is one line in its class in `bot.shapes`: the checker below, the line scan of unparsable
files, the translation completion and the warnings all read these declarations.

`Checker.struct` walks a parsed YAML value against a shape, reporting every problem at once
with file and line (msgspec's own conversion stops at the first), so msgspec is used for what it
is good at: the type and constraints of each value.
"""

from __future__ import annotations

import string
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from bot import shapes
from bot.commands import REGISTRY
from bot.shapes import (
    BASE_LANG,
    MAX_ID_LEN,
    MAX_STEP_ID_LEN,
    MAX_TITLE_LEN,
    MIN_QUESTIONS,
    MIN_SMALLTALK_EXAMPLES,
    MIN_TRANSLATED_QUESTIONS,
    CheckItem,
    Entry,
    GuideFile,
    HelpButton,
    Refusal,
    SmallTalk,
    SmalltalkFile,
    Step,
    Walkthrough,
    WalkthroughFile,
)
from bot.yamlfile import MAX_TEXT_CHARS, Problem, line_of

__all__ = [
    "BASE_LANG",
    "MAX_ID_LEN",
    "MAX_STEP_ID_LEN",
    "MAX_TITLE_LEN",
    "MIN_QUESTIONS",
    "MIN_SMALLTALK_EXAMPLES",
    "MIN_TRANSLATED_QUESTIONS",
    "CheckItem",
    "Entry",
    "GuideFile",
    "HelpButton",
    "Refusal",
    "SmallTalk",
    "SmalltalkFile",
    "Step",
    "Walkthrough",
    "WalkthroughFile",
]

ID_PATTERN = r"^[a-z0-9_]+$"


def rule(
    *,
    base: bool = False,
    inherit: bool = False,
    base_min: int = 0,
    translated_min: int = 0,
    refers: str = "",
    examples: bool = False,
) -> Meta:
    """What the loader does with a field beyond its type (see the module docstring)."""
    return Meta(
        extra={
            "base": base,
            "inherit": inherit,
            "base_min": base_min,
            "translated_min": translated_min,
            "refers": refers,
            "examples": examples,
        }
    )


Text = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT_CHARS)]
Ident = Annotated[str, Meta(pattern=ID_PATTERN, max_length=MAX_ID_LEN)]
StepIdent = Annotated[str, Meta(pattern=ID_PATTERN, max_length=MAX_STEP_ID_LEN)]
Title = Annotated[str, Meta(min_length=1, max_length=MAX_TITLE_LEN)]
EntryRef = Annotated[str, Meta(min_length=1)]


FILES: dict[str, type[Any]] = {
    "guide.yaml": GuideFile,
    "walkthrough.yaml": WalkthroughFile,
    "smalltalk.yaml": SmalltalkFile,
}
"""Every structured file of a language folder (ui.yaml is the flat map below)."""
REQUIRED_FILES = ("guide.yaml", "walkthrough.yaml", "ui.yaml")
"""Files the base language must have; the others are optional everywhere."""


# --- ui.yaml -------------------------------------------------------------------------------


def _texts(*names: str, placeholders: Iterable[str] = ()) -> dict[str, frozenset[str]]:
    return {name: frozenset(placeholders) for name in names}


# Every interface string the engine uses, with the placeholders each one must keep. Adding a
# string is adding its name here (and its text to every ui.yaml). Option texts (`option_<name>`)
# and command descriptions (`commands:`) come from bot.commands.REGISTRY.
UI_KEYS: dict[str, frozenset[str]] = {
    **_texts(
        *"""greeting help fallback fallback_empty did_you_mean see_also steps_header faq_header
        checklist_header checklist_stopped cancelled nothing_to_cancel stale_button
        not_your_button walkthrough_ended no_walkthrough followup_walkthrough already_first
        forget_confirm
        forgotten forget_kept ask_usage not_text error language_name language_aliases language_prompt
        language_set store_unavailable walkthrough_resumed keep_outside""".split()
    ),
    **_texts("checklist_item", "step_header", placeholders=("number", "total", "title")),
    **_texts("where_check", "where_step", placeholders=("number", "total")),
    **_texts("still_here", placeholders=("where",)),
    **_texts("step_trouble", "trouble_outside", placeholders=("link",)),
    **_texts("step_out_of_range", placeholders=("total",)),
    **_texts("followup_more", placeholders=("title",)),
    **_texts("expired", placeholders=("hours",)),
    **_texts("unknown_command", placeholders=("command",)),
    **_texts("feedback_thanks", "feedback_sorry"),
    **_texts("reload_done", "reload_refused", placeholders=("reason",)),
    # handoff to a person (bot.handoff); staff read handoff_summary and handoff_staff_*
    **_texts(
        *"""handoff_when handoff_declined handoff_passed handoff_already handoff_cancelled
        handoff_closed handoff_failed handoff_nowhere handoff_none handoff_staff_closed
        handoff_staff_ended handoff_staff_hint support_link words_human""".split()
    ),
    **_texts("handoff_offer", "handoff_opened", placeholders=("when",)),
    **_texts("handoff_consent", placeholders=("summary", "when")),
    **_texts("handoff_from_staff", placeholders=("text",)),
    **_texts("handoff_rate_limited", placeholders=("limit",)),
    **_texts("handoff_unavailable", placeholders=("support",)),
    **_texts("handoff_summary", placeholders=("language", "where", "questions")),
    **_texts(
        "stats",
        placeholders=(
            "questions answered did_you_mean fallback helpful rated started finished cancelled top"
        ).split(),
    ),
    **_texts(
        *(
            f"button_{name}"
            for name in """next back repeat cancel done more stop continue walkthrough restart
            steps faq checklist forget_yes forget_no helpful unhelpful human handoff_yes
            handoff_no""".split()
        )
    ),
    **_texts(
        *(
            f"words_{name}"
            for name in """next back repeat cancel done more stop wait continue restart
            walkthrough steps polite numbers keep trouble go language undo nothing none_of
            things""".split()
        ),
        *(
            f"words_followup_{name}" for name in "next done where back".split()
        ),  # bot.engine follow-ups
    ),
    **_texts(*sorted(f"option_{name}" for name in REGISTRY.option_names())),
    # handoff on Discord (adapters/discord.py): thread name, Close button, where to write
    **_texts("handoff_close_button", "handoff_close_staff_only", "handoff_close_elsewhere"),
    **_texts("handoff_thread_name", placeholders=("time",)),
    **_texts("handoff_thread_opened", placeholders=("link", "when")),
    **_texts("handoff_in_thread", placeholders=("link",)),
}
# Placeholders a string may use but need not: the headers over /steps and /checklist may say
# how many there are ("in {total} steps"), so the count is not typed by hand.
OPTIONAL_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "steps_header": frozenset({"total"}),
    "checklist_header": frozenset({"total"}),
}
# Strings added after guides were first written, with what a base ui.yaml that lacks them
# gets (English, like any base): an operator's own guide keeps validating after an upgrade.
UI_DEFAULTS: dict[str, str] = {
    "words_numbers": "one, two, three, four, five, six, seven, eight, nine",
    "words_go": "go, go to, jump, move, take me, skip, show me",
    "words_language": "speak, in, switch to, change to, language, answer in, reply in",
    "step_out_of_range": "There are only {total} steps.",
    "language_aliases": "",
    "words_keep": "i changed my mind, changed my mind, i dont want to delete it anymore",
    "words_trouble": "it didnt work, it doesnt work, not working, i get an error",
    "step_trouble": "Sorry that didn't work. Here is the step again: check each part of it. "
    "If it still doesn't work as described, contact {link}.",
    "words_undo": "undo, oops, i didnt mean to, i didnt mean that, resume",
    "walkthrough_resumed": "OK, back where you were:",
    "keep_outside": "No problem: then there's nothing to do, and your account stays as it is.",
    "words_nothing": "nothing, nothing left, empty, dont need, no need",
    "words_none_of": "no, not any, dont have any, there are no",
    "words_things": "orders, pending, disputes, refunds, money, funds, balance, history",
    "trouble_outside": "Sorry you're stuck. Which step are you on? Type its number (for example "
    "**step 3**), or type **walkthrough** and I'll guide you from the start. If something on "
    "AliExpress doesn't work as described, contact {link}.",
}
COMMANDS = REGISTRY.names()
"""Commands every adapter offers; their descriptions live in ui.yaml under `commands`."""


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


# --- the checker ---------------------------------------------------------------------------


@dataclass(slots=True)
class Rule:
    base: bool = False
    inherit: bool = False
    base_min: int = 0
    translated_min: int = 0
    refers: str = ""
    examples: bool = False


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: Any  # the type without this field's rule
    rule: Rule
    required: bool
    default: Any


_FIELDS: dict[type[Any], tuple[Field, ...]] = {}


def fields(cls: type[Any]) -> tuple[Field, ...]:
    """A shape's fields with their rules (cached: reading annotations is not free). The
    annotations, strings in `bot.shapes`, are evaluated with this module's names."""
    if cls not in _FIELDS:
        out = []
        hints = typing.get_type_hints(
            cls, globalns={**vars(shapes), **globals()}, include_extras=True
        )
        for name in cls._fields:
            tp, found = hints[name], Rule()
            if typing.get_origin(tp) is Annotated:
                inner, *metas = typing.get_args(tp)
                mine = [m for m in metas if isinstance(m, Meta) and m.extra]
                for meta in mine:
                    found = Rule(**(meta.extra or {}))
                rest = [m for m in metas if m not in mine]
                tp = Annotated[(inner, *rest)] if rest else inner
            required = name not in cls._field_defaults
            out.append(Field(name, tp, found, required, cls._field_defaults.get(name)))
        _FIELDS[cls] = tuple(out)
    return _FIELDS[cls]


def all_keys(cls: type[Any]) -> set[str]:
    """Every key that may appear anywhere in a file of this shape (for the line scan)."""
    keys: set[str] = set()
    for f in fields(cls):
        keys.add(f.name)
        for sub in _structs_in(f.type):
            keys |= all_keys(sub)
    return keys


def _structs_in(tp: Any) -> list[type[Any]]:
    if _is_struct(tp):
        return [tp]
    return [s for arg in typing.get_args(tp) for s in _structs_in(arg)]


@dataclass(frozen=True, slots=True)
class Ref:
    """A value that names an entry, to be checked once every entry is known."""

    entry: str
    file: Path
    line: int | None
    message: str


@dataclass(slots=True)
class Checker:
    """Walks parsed YAML against the declarations; records located problems, never stops."""

    file: Path
    problems: list[Problem]
    is_base: bool
    refs: list[Ref] = field(default_factory=list)
    # (what, line, text) of every example-like text, for the "same text is two things" check
    examples: list[tuple[str, int | None, str]] = field(default_factory=list)

    def add(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    def struct(self, raw: Any, cls: type[Any], what: str, line: int | None) -> Any:
        """`raw` as a `cls`, or None if it cannot be built (the problems are recorded)."""
        if not isinstance(raw, dict):
            self.add(getattr(raw, "line", line), f"{what or 'the file'} must be a mapping")
            return None
        declared = fields(cls)
        names = [f.name for f in declared]
        prefix = f"{what}: " if what else ""
        for key in raw:
            if key not in names:
                hint = closest(key, names)
                self.add(
                    line_of(raw, key),
                    f"{prefix}unknown key '{key}'" + (f" (did you mean '{hint}'?)" if hint else ""),
                )
        values: dict[str, Any] = {}
        ok = True
        for f in sorted(declared, key=lambda f: f.name != "id"):  # the id names the item
            value = raw.get(f.name)
            if f.name not in raw:
                if f.required or (f.rule.base and self.is_base):
                    self.add(getattr(raw, "line", line), f"{prefix}missing required key '{f.name}'")
                    ok = ok and not f.required
                values[f.name] = f.default
                continue
            good, converted = self.value(value, f.type, raw, f.name, f"{prefix}'{f.name}'", f.rule)
            if f.name == "id" and good and _kind(cls) in what:
                prefix = f"{_kind(cls)} '{converted}': "
            if not good:
                ok = ok and not f.required
                values[f.name] = f.default
                continue
            minimum = f.rule.base_min if self.is_base else 0
            if minimum and len(converted) < minimum:
                self.add(
                    line_of(raw, f.name),
                    f"{prefix}has {len(converted)} {f.name}; at least {minimum} are needed",
                )
            values[f.name] = converted
        return cls(**values) if ok else None

    def value(
        self, value: Any, tp: Any, container: Any, key: str | int, where: str, rule: Rule
    ) -> tuple[bool, Any]:
        """Check `container[key]` against its declared type; (ok, converted value).
        `where` names the value in messages ("entry 'x': 'questions'")."""
        line = line_of(container, key)
        inner = typing.get_args(tp)[0] if typing.get_origin(tp) is Annotated else tp
        origin = typing.get_origin(inner)
        if value is None or (isinstance(value, str) and not value.strip()):
            self.add(line, f"{where} is empty")
            return False, None
        if _is_struct(inner):
            built = self.struct(value, inner, where.strip("'"), line)
            return built is not None, built
        if origin is tuple:
            return self._sequence(value, tp, typing.get_args(inner)[0], line, where, rule)
        if origin is dict:
            if not isinstance(value, dict):
                self.add(line, f"{where} must map names to values")
                return False, None
            out: dict[str, Any] = {}
            for name, item in value.items():
                good, converted = self.value(
                    item, typing.get_args(inner)[1], value, name, f"{where} '{name}'", rule
                )
                if good:
                    out[str(name)] = converted
            return True, out
        if isinstance(value, str):
            value = value.strip()
        try:
            converted = msgspec.convert(value, tp)
        except msgspec.ValidationError as error:
            self.add(line, f"{where} {_explain(str(error), value)}")
            return False, None
        if rule.refers:
            owner = where.rsplit(":", 1)[0] if ":" in where else where.split("'")[1]
            self.refs.append(Ref(converted, self.file, line, f"{owner}: {rule.refers}"))
        if rule.examples:
            self.examples.append((where, line, converted))
        return True, converted

    def _sequence(
        self, value: Any, tp: Any, item_type: Any, line: int | None, where: str, rule: Rule
    ) -> tuple[bool, Any]:
        if not isinstance(value, list):
            self.add(line, f"{where} must be a list")
            return False, None
        items: list[Any] = []
        first_line: dict[str, int | None] = {}
        for index, item in enumerate(value):
            if _is_struct(item_type):
                parent = where.rsplit(":", 1)[0] + ": " if ":" in where else ""
                item_where = f"{parent}{_kind(item_type)} {index + 1}"
            else:
                item_where = f"{where} item {index + 1}"
            good, converted = self.value(item, item_type, value, index, item_where, rule)
            if not good:
                continue
            item_id = getattr(converted, "id", None)
            if isinstance(item_id, str):
                id_line = line_of(item, "id")
                if item_id in first_line:
                    self.add(
                        id_line, f"duplicate id '{item_id}' (first at line {first_line[item_id]})"
                    )
                    continue
                first_line[item_id] = id_line
            items.append(converted)
        if not items and _min_length(tp):
            self.add(line, f"{where} must be a non-empty list")
            return False, None
        return True, tuple(items)


def _min_length(tp: Any) -> int:
    metas = typing.get_args(tp)[1:] if typing.get_origin(tp) is Annotated else ()
    return max((m.min_length or 0 for m in metas if isinstance(m, Meta)), default=0)


def _is_struct(tp: Any) -> bool:
    """Whether `tp` is one of the shapes (a named tuple), not a value type."""
    return isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields")


def _kind(cls: Any) -> str:
    """'entry' for Entry, 'check item' for CheckItem: how messages name one item of a list."""
    name = getattr(cls, "__name__", "")
    return {"CheckItem": "checklist item", "HelpButton": "help button"}.get(name, name.lower())


def _explain(message: str, value: Any) -> str:
    """msgspec's message, as the person editing the YAML needs it."""
    if "got `" in message:
        return "must be text" if "`str`" in message else "has the wrong type"
    if "length >= 1" in message:
        return "is empty"
    if "length <= " in message:
        limit = message.split("length <= ")[1].split("`")[0].split(" ")[0]
        return f"is {len(value)} characters; at most {limit} are allowed"
    if "matching regex" in message:
        return f"'{value}' must be lowercase letters, digits and underscores"
    return message.split(" - at ")[0].lower()


def closest(key: str, candidates: Iterable[str]) -> str | None:
    from rapidfuzz import process

    match = process.extractOne(key, list(candidates), score_cutoff=70)
    return match[0] if match else None
