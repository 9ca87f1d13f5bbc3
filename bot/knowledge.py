"""Load and validate the knowledge base: the guide's entries, the walkthrough and the UI text.

Validation is strict and complete: every problem found is reported with its file and line, and
a knowledge base with any problem never starts a bot.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from bot.commands import REGISTRY
from bot.text import normalize
from bot.yamlfile import Problem, YDict, YList, line_of, load_yaml

BASE_LANG = "en"
MIN_QUESTIONS = 15
MAX_ID_LEN = 32
MAX_STEP_ID_LEN = 16
MAX_TITLE_LEN = 60
_ID = re.compile(r"^[a-z0-9_]+$")

# Every interface string the engine uses, with the placeholders each one must keep.
UI_KEYS: dict[str, frozenset[str]] = {
    "greeting": frozenset(),
    "help": frozenset(),
    "fallback": frozenset(),
    "fallback_empty": frozenset(),
    "did_you_mean": frozenset(),
    "see_also": frozenset(),
    "steps_header": frozenset(),
    "faq_header": frozenset(),
    "checklist_header": frozenset(),
    "checklist_item": frozenset({"number", "total", "title"}),
    "step_header": frozenset({"number", "total", "title"}),
    "where_check": frozenset({"number", "total"}),
    "where_step": frozenset({"number", "total"}),
    "checklist_stopped": frozenset(),
    "cancelled": frozenset(),
    "nothing_to_cancel": frozenset(),
    "still_here": frozenset({"where"}),
    "stale_button": frozenset(),
    "not_your_button": frozenset(),
    "walkthrough_ended": frozenset(),
    "no_walkthrough": frozenset(),
    "expired": frozenset(),
    "already_first": frozenset(),
    "forget_confirm": frozenset(),
    "forgotten": frozenset(),
    "forget_kept": frozenset(),
    "unknown_command": frozenset({"command"}),
    "ask_usage": frozenset(),
    "not_text": frozenset(),
    "error": frozenset(),
    "store_unavailable": frozenset(),
    "button_next": frozenset(),
    "button_back": frozenset(),
    "button_repeat": frozenset(),
    "button_cancel": frozenset(),
    "button_done": frozenset(),
    "button_more": frozenset(),
    "button_stop": frozenset(),
    "button_continue": frozenset(),
    "button_walkthrough": frozenset(),
    "button_restart": frozenset(),
    "button_steps": frozenset(),
    "button_faq": frozenset(),
    "button_checklist": frozenset(),
    "button_forget_yes": frozenset(),
    "button_forget_no": frozenset(),
    "option_question": frozenset(),
    "option_topic": frozenset(),
    "option_public": frozenset(),
    "option_language": frozenset(),
    "language_name": frozenset(),
    "language_prompt": frozenset(),
    "language_set": frozenset(),
    "words_next": frozenset(),
    "words_back": frozenset(),
    "words_repeat": frozenset(),
    "words_cancel": frozenset(),
    "words_done": frozenset(),
    "words_more": frozenset(),
    "words_stop": frozenset(),
    "words_continue": frozenset(),
}
COMMANDS = REGISTRY.names()
"""Commands every adapter offers; their descriptions live in ui.yaml under `commands`."""


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    title: str
    answer: str
    questions: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    not_questions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HelpButton:
    label: str
    entry: str


@dataclass(frozen=True, slots=True)
class CheckItem:
    id: str
    entry: str
    prompt: str


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    entry: str
    help: tuple[HelpButton, ...] = ()
    warning: str = ""


@dataclass(frozen=True, slots=True)
class Walkthrough:
    intro: str
    checklist: tuple[CheckItem, ...]
    steps: tuple[Step, ...]
    done: str

    def check_index(self, item_id: str) -> int | None:
        return next((i for i, item in enumerate(self.checklist) if item.id == item_id), None)

    def step_index(self, step_id: str) -> int | None:
        return next((i for i, step in enumerate(self.steps) if step.id == step_id), None)


@dataclass(slots=True)
class LanguagePack:
    """Everything the bot says in one language."""

    lang: str
    entries: dict[str, Entry]
    synonyms: dict[str, tuple[str, ...]]
    out_of_scope: tuple[str, ...]
    faq_topics: tuple[str, ...]
    fallback_topics: tuple[str, ...]
    walkthrough: Walkthrough | None
    ui: dict[str, str]
    commands: dict[str, str]


@dataclass(slots=True)
class Knowledge:
    """All language packs; lookups fall back to the base language, never to nothing."""

    path: str
    packs: dict[str, LanguagePack]
    warnings: list[Problem] = field(default_factory=list)

    @property
    def base(self) -> LanguagePack:
        return self.packs[BASE_LANG]

    @property
    def languages(self) -> list[str]:
        return [BASE_LANG, *sorted(lang for lang in self.packs if lang != BASE_LANG)]

    def pack(self, lang: str | None) -> LanguagePack:
        return self.packs.get(lang or BASE_LANG, self.base)

    def entry(self, entry_id: str, lang: str | None = None) -> Entry:
        pack = self.pack(lang)
        return pack.entries.get(entry_id) or self.base.entries[entry_id]

    def ui(self, key: str, lang: str | None = None, **values: Any) -> str:
        text = self.pack(lang).ui.get(key) or self.base.ui[key]
        return text.format(**values) if values else text

    def walkthrough(self, lang: str | None = None) -> Walkthrough:
        walkthrough = self.pack(lang).walkthrough or self.base.walkthrough
        assert walkthrough is not None  # validation requires the base walkthrough
        return walkthrough

    def command_descriptions(self, lang: str | None = None) -> dict[str, str]:
        pack = self.pack(lang)
        return {name: pack.commands.get(name) or self.base.commands[name] for name in COMMANDS}

    def entry_count(self) -> int:
        return len(self.base.entries)


class KnowledgeError(Exception):
    """The knowledge base has problems; `problems` lists every one of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def default_path() -> Path:
    """The knowledge base shipped inside the package (works from a wheel and a checkout)."""
    return Path(str(resources.files("knowledge")))


def load_knowledge(path: str | Path | None = None) -> Knowledge:
    """Load and validate a knowledge folder; raise `KnowledgeError` listing every problem."""
    root = Path(path) if path is not None else default_path()
    problems: list[Problem] = []
    if not root.is_dir():
        raise KnowledgeError([Problem(root, None, "no such knowledge folder")])
    lang_dirs = sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))
    )
    if not (root / BASE_LANG).is_dir():
        raise KnowledgeError(
            [Problem(root, None, f"missing the base language folder '{BASE_LANG}/'")]
        )
    packs: dict[str, LanguagePack] = {}
    synonym_owners: dict[str, tuple[str, str]] = {}
    for lang_dir in [root / BASE_LANG, *[d for d in lang_dirs if d.name != BASE_LANG]]:
        pack = _load_pack(lang_dir, problems, packs.get(BASE_LANG), synonym_owners)
        if pack is not None:
            packs[lang_dir.name] = pack
    if problems:
        raise KnowledgeError(problems)
    warnings: list[Problem] = []
    for lang, pack in packs.items():
        if lang != BASE_LANG:
            warnings += _complete_from_base(pack, packs[BASE_LANG], root / lang)
    return Knowledge(path=str(root), packs=packs, warnings=warnings)


MIN_TRANSLATED_QUESTIONS = 10


def _complete_from_base(pack: LanguagePack, base: LanguagePack, folder: Path) -> list[Problem]:
    """Fill every gap in a translation with the base language (a person never gets an empty
    message) and return one warning per gap, for `helpbot validate`."""
    warnings: list[Problem] = []
    guide = folder / "guide.yaml"
    for entry_id, original in base.entries.items():
        mine = pack.entries.get(entry_id)
        if mine is None:
            warnings.append(
                Problem(guide, None, f"entry '{entry_id}' is not translated (English is used)")
            )
            continue
        for name in ("title", "answer"):
            if not getattr(mine, name):
                warnings.append(
                    Problem(
                        guide,
                        None,
                        f"entry '{entry_id}' has no translated {name} (English is used)",
                    )
                )
        if len(mine.questions) < MIN_TRANSLATED_QUESTIONS:
            warnings.append(
                Problem(
                    guide,
                    None,
                    f"entry '{entry_id}' has {len(mine.questions)} questions in this language; at least {MIN_TRANSLATED_QUESTIONS} are expected",
                )
            )
        pack.entries[entry_id] = Entry(
            id=entry_id,
            title=mine.title or original.title,
            answer=mine.answer or original.answer,
            questions=mine.questions,
            keywords=mine.keywords,
            related=mine.related or original.related,
            not_questions=mine.not_questions,
        )
    for names, have, what in (
        (UI_KEYS, pack.ui, "interface string '{}'"),
        (COMMANDS, pack.commands, "description of command '{}'"),
    ):
        for name in names:
            if name not in have:
                warnings.append(
                    Problem(
                        folder / "ui.yaml",
                        None,
                        f"{what.format(name)} is not translated (English is used)",
                    )
                )
    if pack.walkthrough is None:
        warnings.append(
            Problem(
                folder / "walkthrough.yaml",
                None,
                "the walkthrough is not translated (English is used)",
            )
        )
    return warnings


# --- one language folder -------------------------------------------------------------------


def _load_pack(
    folder: Path,
    problems: list[Problem],
    base: LanguagePack | None,
    synonym_owners: dict[str, tuple[str, str]],
) -> LanguagePack | None:
    is_base = base is None
    guide_file, walk_file, ui_file = (
        folder / "guide.yaml",
        folder / "walkthrough.yaml",
        folder / "ui.yaml",
    )
    for required in (guide_file, ui_file, walk_file) if is_base else ():
        if not required.is_file():
            problems.append(Problem(required, None, "missing file"))
    unexpected = sorted(
        p.name
        for p in folder.iterdir()
        if p.suffix in (".yaml", ".yml")
        and p.name not in ("guide.yaml", "walkthrough.yaml", "ui.yaml")
    )
    for name in unexpected:
        problems.append(
            Problem(
                folder / name,
                None,
                "unexpected file (expected guide.yaml, walkthrough.yaml, ui.yaml)",
            )
        )
    guide = _read(guide_file, problems)
    ui = _read(ui_file, problems)
    walk = _read(walk_file, problems)
    check = _Checker(problems)

    entries: dict[str, Entry] = {}
    synonyms: dict[str, tuple[str, ...]] = {}
    out_of_scope: tuple[str, ...] = ()
    faq_topics: tuple[str, ...] = ()
    fallback_topics: tuple[str, ...] = ()
    if guide is not None and check.mapping(guide, guide_file, "guide.yaml"):
        check.keys(
            guide,
            guide_file,
            required={"entries"} if is_base else set(),
            optional={"entries", "synonyms", "out_of_scope", "faq_topics", "fallback_topics"},
        )
        entries = _entries(guide, guide_file, check, is_base)
        synonyms = _synonyms(guide, guide_file, check, synonym_owners)
        out_of_scope = tuple(check.strings(guide, "out_of_scope", guide_file, required=False))
        faq_topics = tuple(check.strings(guide, "faq_topics", guide_file, required=False))
        fallback_topics = tuple(check.strings(guide, "fallback_topics", guide_file, required=False))
        known = set(entries) | (set(base.entries) if base else set())
        for key, ids in (("faq_topics", faq_topics), ("fallback_topics", fallback_topics)):
            for index, entry_id in enumerate(ids):
                if entry_id not in known:
                    problems.append(
                        Problem(
                            guide_file, line_of(guide[key], index), f"{key}: no entry '{entry_id}'"
                        )
                    )
        for entry_id, entry in entries.items():
            for ref in entry.related:
                if ref not in known:
                    problems.append(
                        Problem(
                            guide_file,
                            _entry_line(guide, entry_id),
                            f"entry '{entry_id}': related entry '{ref}' does not exist",
                        )
                    )
        if base is not None:
            for entry_id in entries:
                if entry_id not in base.entries:
                    problems.append(
                        Problem(
                            guide_file,
                            _entry_line(guide, entry_id),
                            f"entry '{entry_id}' is not in the base language",
                        )
                    )
        _cross_checks(guide, guide_file, entries, out_of_scope, problems)
    elif is_base and guide is None and guide_file.is_file():
        pass  # the syntax error is already reported

    ui_strings: dict[str, str] = {}
    commands: dict[str, str] = {}
    if ui is not None and check.mapping(ui, ui_file, "ui.yaml"):
        ui_strings, commands = _ui(ui, ui_file, check, is_base)

    walkthrough = None
    if walk is not None and check.mapping(walk, walk_file, "walkthrough.yaml"):
        known = set(entries) | (set(base.entries) if base else set())
        if is_base and guide is None:
            known = _AnyEntry()  # guide.yaml did not parse: its error says so, don't cascade
        walkthrough = _walkthrough(walk, walk_file, check, known, base)
    if is_base and (not entries or walkthrough is None):
        return None if problems else _fail(problems, guide_file)
    return LanguagePack(
        lang=folder.name,
        entries=entries,
        synonyms=synonyms,
        out_of_scope=out_of_scope,
        faq_topics=faq_topics or (base.faq_topics if base else ()),
        fallback_topics=fallback_topics or (base.fallback_topics if base else ()),
        walkthrough=walkthrough,
        ui=ui_strings,
        commands=commands,
    )


class _AnyEntry(set):  # type: ignore[type-arg]
    """Stands in for the entry ids when they could not be read: every reference passes."""

    def __contains__(self, item: object) -> bool:
        return True


def _fail(problems: list[Problem], file: Path) -> None:
    problems.append(Problem(file, None, "the base language needs entries and a walkthrough"))
    return None


def _read(file: Path, problems: list[Problem]) -> Any:
    if not file.is_file():
        return None
    try:
        return load_yaml(file, problems)
    except Problem as problem:
        problems.append(problem)
        problems.extend(_scan_unparsable(file, problem.line))
        return None


_KNOWN_KEYS = {
    "guide.yaml": {
        "entries",
        "synonyms",
        "out_of_scope",
        "faq_topics",
        "fallback_topics",
        "id",
        "title",
        "answer",
        "questions",
        "keywords",
        "related",
        "not_questions",
    },
    "walkthrough.yaml": {
        "walkthrough",
        "intro",
        "checklist",
        "steps",
        "done",
        "id",
        "entry",
        "prompt",
        "help",
        "warning",
        "label",
    },
    "ui.yaml": set(UI_KEYS) | {"commands"} | set(COMMANDS),
}
_KEY_LINE = re.compile(
    r"^(?P<indent>\s*)(?:-\s+)?(?P<key>[A-Za-z_][\w-]*)\s*:(?:\s+(?P<value>.*))?$"
)


def _scan_unparsable(file: Path, syntax_line: int | None) -> list[Problem]:
    """A file that is not valid YAML still gets its other faults reported (unknown keys,
    duplicate ids), by a line scan, so an editor can fix everything in one pass."""
    known = _KNOWN_KEYS.get(file.name)
    if known is None:
        return []
    found: list[Problem] = []
    ids: dict[str, int] = {}
    skip_deeper_than: int | None = None
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#") or number == syntax_line:
            continue
        indent = len(line) - len(line.lstrip())
        if skip_deeper_than is not None:
            if indent > skip_deeper_than:
                continue  # inside a block scalar or the free-form synonyms map
            skip_deeper_than = None
        match = _KEY_LINE.match(line)
        if match is None:
            continue
        key, value = match.group("key"), (match.group("value") or "").strip()
        if value in ("|", ">", "|-", ">-", "|+", ">+") or (key == "synonyms" and not value):
            skip_deeper_than = indent + (2 if line.lstrip().startswith("- ") else 0)
        if key == "synonyms":
            continue
        if key not in known:
            hint = _closest(key, known)
            found.append(
                Problem(
                    file,
                    number,
                    f"unknown key '{key}'" + (f" (did you mean '{hint}'?)" if hint else ""),
                )
            )
        elif key == "id" and file.name == "guide.yaml" and value:
            if value in ids:
                found.append(
                    Problem(file, number, f"duplicate id '{value}' (first at line {ids[value]})")
                )
            ids.setdefault(value, number)
    return found


def _entry_line(guide: YDict, entry_id: str) -> int | None:
    for index, raw in enumerate(guide.get("entries") or []):
        if isinstance(raw, dict) and raw.get("id") == entry_id:
            return line_of(guide["entries"], index)
    return None


class _Checker:
    """Schema checks that record a located `Problem` instead of stopping at the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems

    def add(self, file: Path, line: int | None, message: str) -> None:
        self.problems.append(Problem(file, line, message))

    def mapping(self, value: Any, file: Path, what: str) -> bool:
        if isinstance(value, dict):
            return True
        self.add(file, getattr(value, "line", 1), f"{what} must be a mapping of keys to values")
        return False

    def keys(
        self, mapping: YDict, file: Path, required: set[str], optional: set[str], what: str = ""
    ) -> None:
        prefix = f"{what}: " if what else ""
        for key in mapping:
            if key not in required | optional:
                hint = _closest(key, required | optional)
                self.add(
                    file,
                    line_of(mapping, key),
                    f"{prefix}unknown key '{key}'" + (f" (did you mean '{hint}'?)" if hint else ""),
                )
        for key in sorted(required - set(mapping)):
            self.add(file, mapping.line, f"{prefix}missing required key '{key}'")

    def text(self, mapping: YDict, key: str, file: Path, what: str, required: bool = True) -> str:
        value = mapping.get(key)
        if value is None:
            if required and key in mapping:
                self.add(file, line_of(mapping, key), f"{what}: '{key}' is empty")
            return ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            self.add(file, line_of(mapping, key), f"{what}: '{key}' must be text")
            return ""
        value = str(value).strip()
        if required and not value:
            self.add(file, line_of(mapping, key), f"{what}: '{key}' is empty")
        return value

    def strings(
        self, mapping: YDict, key: str, file: Path, what: str = "", required: bool = True
    ) -> list[str]:
        value = mapping.get(key)
        prefix = f"{what}: " if what else ""
        if value is None:
            if required and key in mapping:
                self.add(file, line_of(mapping, key), f"{prefix}'{key}' is empty")
            return []
        if not isinstance(value, list):
            self.add(file, line_of(mapping, key), f"{prefix}'{key}' must be a list")
            return []
        out = []
        for index, item in enumerate(value):
            if (
                not isinstance(item, str | int | float)
                or isinstance(item, bool)
                or not str(item).strip()
            ):
                self.add(
                    file,
                    line_of(value, index),
                    f"{prefix}'{key}' item {index + 1} must be non-empty text",
                )
                continue
            out.append(str(item).strip())
        return out

    def ident(self, value: str, file: Path, line: int | None, what: str, max_len: int) -> bool:
        if not _ID.match(value) or len(value) > max_len:
            self.add(
                file,
                line,
                f"{what}: id '{value}' must be lowercase letters, digits and underscores, at most {max_len} characters",
            )
            return False
        return True


def _closest(key: str, candidates: Iterable[str]) -> str | None:
    from rapidfuzz import process

    match = process.extractOne(key, list(candidates), score_cutoff=70)
    return match[0] if match else None


def _entries(guide: YDict, file: Path, check: _Checker, is_base: bool) -> dict[str, Entry]:
    raw_entries = guide.get("entries")
    if raw_entries is None:
        return {}
    if not isinstance(raw_entries, list):
        check.add(file, line_of(guide, "entries"), "'entries' must be a list")
        return {}
    entries: dict[str, Entry] = {}
    first_line: dict[str, int | None] = {}
    fields = {"id", "title", "answer", "questions"}
    for index, raw in enumerate(raw_entries):
        line = line_of(raw_entries, index)
        if not isinstance(raw, dict):
            check.add(file, line, f"entry {index + 1} must be a mapping")
            continue
        check.keys(
            raw,
            file,
            required=fields if is_base else {"id"},
            optional=fields | {"keywords", "related", "not_questions"},
            what=f"entry {raw.get('id', index + 1)}",
        )
        entry_id = check.text(raw, "id", file, f"entry {index + 1}")
        if not entry_id or not check.ident(
            entry_id, file, line_of(raw, "id"), f"entry {index + 1}", MAX_ID_LEN
        ):
            continue
        what = f"entry '{entry_id}'"
        if entry_id in entries:
            check.add(
                file,
                line_of(raw, "id"),
                f"duplicate id '{entry_id}' (first at line {first_line[entry_id]})",
            )
            continue
        title = check.text(raw, "title", file, what, required=is_base or "title" in raw)
        if len(title) > MAX_TITLE_LEN:
            check.add(
                file,
                line_of(raw, "title"),
                f"{what}: title is {len(title)} characters; at most {MAX_TITLE_LEN} fit on a button",
            )
        answer = check.text(raw, "answer", file, what, required=is_base or "answer" in raw)
        questions = check.strings(raw, "questions", file, what)
        if is_base and "questions" in raw and len(questions) < MIN_QUESTIONS:
            check.add(
                file,
                line_of(raw, "questions"),
                f"{what}: has {len(questions)} questions; at least {MIN_QUESTIONS} are needed",
            )
        first_line[entry_id] = line_of(raw, "id")
        entries[entry_id] = Entry(
            id=entry_id,
            title=title,
            answer=answer,
            questions=tuple(questions),
            keywords=tuple(check.strings(raw, "keywords", file, what, required=False)),
            related=tuple(check.strings(raw, "related", file, what, required=False)),
            not_questions=tuple(check.strings(raw, "not_questions", file, what, required=False)),
        )
    return entries


def _synonyms(
    guide: YDict, file: Path, check: _Checker, owners: dict[str, tuple[str, str]]
) -> dict[str, tuple[str, ...]]:
    """Synonyms apply to every language at once, so one variant may name one word only,
    across all language folders (`owners`: variant -> (canonical, file))."""
    raw = guide.get("synonyms")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        check.add(
            file, line_of(guide, "synonyms"), "'synonyms' must map a word to a list of variants"
        )
        return {}
    out: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for canonical in raw:
        owners.setdefault(normalize(str(canonical)), (normalize(str(canonical)), str(file)))
    for canonical in raw:
        variants = check.strings(raw, canonical, file, f"synonyms of '{canonical}'")
        for variant in variants:
            key = normalize(variant)
            if key in seen and seen[key] != canonical:
                check.add(
                    file,
                    line_of(raw, canonical),
                    f"synonym '{variant}' is listed under both '{seen[key]}' and '{canonical}'",
                )
            elif (
                key in owners
                and owners[key][0] != normalize(str(canonical))
                and owners[key][1] != str(file)
            ):
                check.add(
                    file,
                    line_of(raw, canonical),
                    f"synonym '{variant}' of '{canonical}' is already a synonym of '{owners[key][0]}' in {owners[key][1]}",
                )
            seen[key] = canonical
            owners.setdefault(key, (normalize(str(canonical)), str(file)))
        out[str(canonical)] = tuple(variants)
    return out


def _cross_checks(
    guide: YDict,
    file: Path,
    entries: dict[str, Entry],
    out_of_scope: tuple[str, ...],
    problems: list[Problem],
) -> None:
    """The same question may not point at two entries, nor be both asked and refused."""
    owner: dict[str, str] = {}
    for entry in entries.values():
        for question in entry.questions:
            key = normalize(question)
            if key in owner and owner[key] != entry.id:
                problems.append(
                    Problem(
                        file,
                        _entry_line(guide, entry.id),
                        f"entry '{entry.id}': question '{question}' is also a question of '{owner[key]}'",
                    )
                )
            owner.setdefault(key, entry.id)
    for entry in entries.values():
        for example in entry.not_questions:
            if normalize(example) in owner:
                problems.append(
                    Problem(
                        file,
                        _entry_line(guide, entry.id),
                        f"entry '{entry.id}': must-not-match example '{example}' is also a question of '{owner[normalize(example)]}'",
                    )
                )
    for index, example in enumerate(out_of_scope):
        if normalize(example) in owner:
            problems.append(
                Problem(
                    file,
                    line_of(guide["out_of_scope"], index),
                    f"out-of-scope example '{example}' is also a question of '{owner[normalize(example)]}'",
                )
            )


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _ui(
    ui: YDict, file: Path, check: _Checker, is_base: bool
) -> tuple[dict[str, str], dict[str, str]]:
    strings: dict[str, str] = {}
    for key in ui:
        if key == "commands":
            continue
        if key not in UI_KEYS:
            hint = _closest(key, UI_KEYS)
            check.add(
                file,
                line_of(ui, key),
                f"unknown interface string '{key}'"
                + (f" (did you mean '{hint}'?)" if hint else ""),
            )
            continue
        value = check.text(ui, key, file, "ui")
        try:
            found = _placeholders(value)
        except ValueError as error:
            check.add(file, line_of(ui, key), f"'{key}': bad placeholder ({error})")
            continue
        if found != UI_KEYS[key]:
            expected = ", ".join(f"{{{name}}}" for name in sorted(UI_KEYS[key])) or "none"
            check.add(file, line_of(ui, key), f"'{key}': placeholders must be {expected}")
            continue
        strings[key] = value
    if is_base:
        for key in UI_KEYS:
            if key not in ui:
                check.add(file, ui.line, f"missing interface string '{key}'")
    commands: dict[str, str] = {}
    raw = ui.get("commands")
    if raw is None:
        if is_base:
            check.add(file, ui.line, "missing 'commands' (a description for each command)")
    elif not isinstance(raw, dict):
        check.add(
            file, line_of(ui, "commands"), "'commands' must map command names to descriptions"
        )
    else:
        check.keys(
            raw,
            file,
            required=set(COMMANDS) if is_base else set(),
            optional=set(COMMANDS),
            what="commands",
        )
        for name in COMMANDS:
            if name in raw:
                description = check.text(raw, name, file, f"command '{name}'")
                if len(description) > 100:
                    check.add(
                        file,
                        line_of(raw, name),
                        f"command '{name}': description over 100 characters (Discord's limit)",
                    )
                commands[name] = description
    return strings, commands


def _walkthrough(
    walk: YDict, file: Path, check: _Checker, known: set[str], base: LanguagePack | None
) -> Walkthrough | None:
    check.keys(walk, file, required={"walkthrough"}, optional={"walkthrough"})
    raw = walk.get("walkthrough")
    if not isinstance(raw, dict):
        if "walkthrough" in walk:
            check.add(file, line_of(walk, "walkthrough"), "'walkthrough' must be a mapping")
        return None
    check.keys(
        raw,
        file,
        required={"intro", "checklist", "steps", "done"},
        optional=set(),
        what="walkthrough",
    )
    intro = check.text(raw, "intro", file, "walkthrough")
    done = check.text(raw, "done", file, "walkthrough")
    items: list[CheckItem] = []
    steps: list[Step] = []
    seen: dict[str, int | None] = {}

    def common(
        item: Any, seq: YList, index: int, kind: str, extra: set[str]
    ) -> tuple[str, str] | None:
        line = line_of(seq, index)
        if not isinstance(item, dict):
            check.add(file, line, f"{kind} {index + 1} must be a mapping")
            return None
        check.keys(
            item,
            file,
            required={"id", "entry"} | ({"prompt"} if kind == "checklist item" else set()),
            optional=extra,
            what=f"{kind} {item.get('id', index + 1)}",
        )
        item_id = check.text(item, "id", file, f"{kind} {index + 1}")
        entry = check.text(item, "entry", file, f"{kind} {item_id}")
        if not item_id or not check.ident(
            item_id, file, line_of(item, "id"), kind, MAX_STEP_ID_LEN
        ):
            return None
        if item_id in seen:
            check.add(
                file,
                line_of(item, "id"),
                f"duplicate {kind} id '{item_id}' (first at line {seen[item_id]})",
            )
            return None
        seen[item_id] = line_of(item, "id")
        if entry and entry not in known:
            check.add(
                file, line_of(item, "entry"), f"{kind} '{item_id}': entry '{entry}' does not exist"
            )
        return item_id, entry

    for kind, key in (("checklist item", "checklist"), ("step", "steps")):
        seq = raw.get(key)
        if key in raw and (not isinstance(seq, list) or not seq):
            check.add(file, line_of(raw, key), f"walkthrough: '{key}' must be a non-empty list")
            continue
        for index, item in enumerate(seq or []):
            if kind == "checklist item":
                ids = common(item, seq, index, kind, {"id", "entry", "prompt"})
                if ids:
                    items.append(
                        CheckItem(
                            ids[0],
                            ids[1],
                            check.text(item, "prompt", file, f"checklist item {ids[0]}"),
                        )
                    )
                continue
            ids = common(item, seq, index, kind, {"id", "entry", "help", "warning"})
            if not ids:
                continue
            helps: list[HelpButton] = []
            raw_help = item.get("help") or []
            if not isinstance(raw_help, list):
                check.add(file, line_of(item, "help"), f"step '{ids[0]}': 'help' must be a list")
                raw_help = []
            for h_index, button in enumerate(raw_help):
                if not isinstance(button, dict):
                    check.add(
                        file,
                        line_of(raw_help, h_index),
                        f"step '{ids[0]}': help button must be a mapping",
                    )
                    continue
                check.keys(
                    button,
                    file,
                    required={"label", "entry"},
                    optional=set(),
                    what=f"step '{ids[0]}' help",
                )
                label = check.text(button, "label", file, f"step '{ids[0]}' help")
                target = check.text(button, "entry", file, f"step '{ids[0]}' help")
                if target and target not in known:
                    check.add(
                        file,
                        line_of(button, "entry"),
                        f"step '{ids[0]}': help entry '{target}' does not exist",
                    )
                if label and target:
                    helps.append(HelpButton(label, target))
            warning = check.text(
                item, "warning", file, f"step '{ids[0]}'", required="warning" in item
            )
            steps.append(Step(ids[0], ids[1], tuple(helps), warning))
    if base is not None and base.walkthrough is not None:
        base_ids = [i.id for i in base.walkthrough.checklist] + [
            s.id for s in base.walkthrough.steps
        ]
        mine = [i.id for i in items] + [s.id for s in steps]
        if mine != base_ids:
            check.add(
                file, raw.line, f"walkthrough ids {mine} must match the base language's {base_ids}"
            )
    if not items or not steps:
        return None
    return Walkthrough(intro=intro, checklist=tuple(items), steps=tuple(steps), done=done)
