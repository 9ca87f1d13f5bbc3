"""Load and validate the knowledge base: the guide's entries, the walkthrough and the UI text.

The shapes are declared once in `bot.shapes` and validated by `bot.schema`; this module reads
each language folder against them and adds the checks that span files and languages
(references, the same question used twice, synonyms shared by every language, translations
completed from the base language). Validation is strict and complete: every problem found is
reported with its file and line, and a knowledge base with any problem never starts a bot.

`bot.schema` (and msgspec with it) is imported only when a folder is loaded: a knowledge base
from the index cache (`bot.cache`) is made of `bot.shapes` alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.commands import REGISTRY
from bot.shapes import (
    BASE_LANG,
    MAX_ID_LEN,
    MAX_STEP_ID_LEN,
    MAX_TITLE_LEN,
    MIN_QUESTIONS,
    MIN_TRANSLATED_QUESTIONS,
    CheckItem,
    Entry,
    HelpButton,
    Refusal,
    SmallTalk,
    Step,
    Walkthrough,
)
from bot.text import normalize
from bot.yamlfile import Problem, YDict, decode_text, line_of, load_yaml

if TYPE_CHECKING:
    from bot.schema import Checker, GuideFile, SmalltalkFile, WalkthroughFile

COMMANDS = REGISTRY.names()
"""Commands every adapter offers; their descriptions live in ui.yaml under `commands`."""

__all__ = [
    "BASE_LANG",
    "COMMANDS",
    "MAX_ID_LEN",
    "MAX_STEP_ID_LEN",
    "MAX_TITLE_LEN",
    "MIN_QUESTIONS",
    "MIN_TRANSLATED_QUESTIONS",
    "CheckItem",
    "Entry",
    "HelpButton",
    "Knowledge",
    "KnowledgeError",
    "LanguagePack",
    "Problem",
    "Refusal",
    "SmallTalk",
    "Step",
    "Walkthrough",
    "default_path",
    "load_knowledge",
]


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
    refusals: tuple[Refusal, ...] = ()
    smalltalk: tuple[SmallTalk, ...] = ()


@dataclass(slots=True)
class Knowledge:
    """All language packs; lookups fall back to the base language, never to nothing."""

    path: str
    packs: dict[str, LanguagePack]
    warnings: list[Problem] = field(default_factory=list)
    # Indexes derived from the packs (the matcher's), kept with them so bot.cache can store
    # them on disk; filled by their builders, never edited afterwards.
    prepared: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

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
    import importlib.util  # not importlib.resources: it imports tempfile, shutil... (start-up)

    spec = importlib.util.find_spec("knowledge")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    from importlib import resources

    return Path(str(resources.files("knowledge")))


def is_shipped(path: str | Path) -> bool:
    """Whether `path` is the knowledge base shipped inside the package: what the checkout's
    question sets and the report's `knowledge/<lang>/guide.yaml` are about."""
    return Path(path).resolve() == default_path().resolve()


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


def _complete_from_base(pack: LanguagePack, base: LanguagePack, folder: Path) -> list[Problem]:
    """Fill every gap in a translation with the base language (a person never gets an empty
    message) and return one warning per gap, for `helpbot validate`. Which fields are inherited
    and which are warned about is declared in `bot.schema` (`inherit`, `base`,
    `translated_min`)."""
    warnings: list[Problem] = []
    guide = folder / "guide.yaml"
    for entry_id, original in base.entries.items():
        mine = pack.entries.get(entry_id)
        if mine is None:
            warnings.append(
                Problem(guide, None, f"entry '{entry_id}' is not translated (English is used)")
            )
            continue
        pack.entries[entry_id] = _complete(warnings, "entry", guide, mine, original)
    for kind, file, attr in (
        ("refusal", guide, "refusals"),
        ("smalltalk", folder / "smalltalk.yaml", "smalltalk"),
    ):
        theirs = {item.id: item for item in getattr(pack, attr)}
        completed = []
        for original in getattr(base, attr):
            if original.id in theirs:
                completed.append(_complete(warnings, kind, file, theirs[original.id], original))
            else:
                # the reply in English; no examples, as questions are never borrowed
                warnings.append(
                    Problem(
                        file, None, f"{kind} '{original.id}' is not translated (English is used)"
                    )
                )
                completed.append(original._replace(examples=()))
        setattr(pack, attr, tuple(completed))
    return warnings + _untranslated_ui(pack, folder)


def _complete(warnings: list[Problem], kind: str, file: Path, mine: Any, original: Any) -> Any:
    """One translated item with its empty inherited fields taken from `original`; appends a
    warning per field the schema wants translated (`base`) or too short (`translated_min`)."""
    from bot.schema import fields

    changes: dict[str, Any] = {}
    for f in fields(type(original)):
        value = getattr(mine, f.name)
        if f.rule.inherit and not value:
            changes[f.name] = getattr(original, f.name)
            if f.rule.base:
                warnings.append(
                    Problem(
                        file,
                        None,
                        f"{kind} '{original.id}' has no translated {f.name} (English is used)",
                    )
                )
        if f.rule.translated_min and len(value) < f.rule.translated_min:
            warnings.append(
                Problem(
                    file,
                    None,
                    f"{kind} '{original.id}' has {len(value)} {f.name} in this language; at least {f.rule.translated_min} are expected",
                )
            )
    return mine._replace(**changes) if changes else mine


def _untranslated_ui(pack: LanguagePack, folder: Path) -> list[Problem]:
    """A warning per interface string, command description and walkthrough this translation
    lacks (the lookups fall back to English on their own)."""
    from bot.schema import UI_KEYS

    warnings: list[Problem] = []
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

UI_FILE = "ui.yaml"


def _load_pack(
    folder: Path,
    problems: list[Problem],
    base: LanguagePack | None,
    synonym_owners: dict[str, tuple[str, str]],
) -> LanguagePack | None:
    from bot.schema import FILES, Checker, GuideFile, SmalltalkFile

    is_base = base is None
    names = (*FILES, UI_FILE)
    _check_file_names(folder, names, is_base, problems)
    raw = {name: _read(folder / name, problems) for name in names}
    if is_base:
        _check_empty_files(folder, raw, problems)
    checkers = {name: Checker(folder / name, problems, is_base) for name in names}
    parsed = {
        name: checkers[name].struct(raw[name], cls, "", 1)
        for name, cls in FILES.items()
        if raw[name] is not None
    }
    guide: GuideFile = parsed.get("guide.yaml") or GuideFile()
    walk: WalkthroughFile | None = parsed.get("walkthrough.yaml")
    smalltalk: SmalltalkFile = parsed.get("smalltalk.yaml") or SmalltalkFile()
    guide_raw = raw["guide.yaml"] if isinstance(raw["guide.yaml"], YDict) else YDict()
    guide_file = folder / "guide.yaml"

    entries = {entry.id: entry for entry in guide.entries}
    if not (is_base and guide_file.is_file() and raw["guide.yaml"] is None):
        # (when the base guide.yaml did not parse, its error says so; don't cascade)
        known = set(entries) | (set(base.entries) if base else set())
        _check_refs(checkers.values(), known, problems)
    if base is not None:
        _check_ids_in_base(guide, smalltalk, base, guide_raw, folder, problems)
    _check_synonyms(guide.synonyms, guide_raw, guide_file, problems, synonym_owners)
    _cross_checks(guide_raw, guide_file, entries, checkers.values(), problems)

    walkthrough = walk.walkthrough if walk else None
    if walkthrough is not None:
        _check_walkthrough(walkthrough, raw["walkthrough.yaml"], folder, base, problems)

    ui_strings: dict[str, str] = {}
    commands: dict[str, str] = {}
    if raw[UI_FILE] is not None:
        ui_strings, commands = _ui(raw[UI_FILE], checkers[UI_FILE], is_base)

    if is_base and (not entries or walkthrough is None):
        if not problems:
            problems.append(
                Problem(guide_file, None, "the base language needs entries and a walkthrough")
            )
        return None
    return _pack(folder.name, guide, entries, smalltalk, walkthrough, (ui_strings, commands), base)


DEFAULT_TOPICS = 5  # a guide that names no faq_topics / fallback_topics offers its first entries


def _pack(
    lang: str,
    guide: GuideFile,
    entries: dict[str, Entry],
    smalltalk: SmalltalkFile,
    walkthrough: Walkthrough | None,
    texts: tuple[dict[str, str], dict[str, str]],
    base: LanguagePack | None,
) -> LanguagePack:
    """One language's pack from its validated files (topic lists fall back to the base's, and
    the base's to its first entries: /faq and the fallback never list nothing)."""
    first = tuple(entries)[:DEFAULT_TOPICS]
    return LanguagePack(
        lang=lang,
        entries=entries,
        synonyms=guide.synonyms,
        out_of_scope=guide.out_of_scope,
        faq_topics=guide.faq_topics or (base.faq_topics if base else first),
        fallback_topics=guide.fallback_topics or (base.fallback_topics if base else first),
        walkthrough=walkthrough,
        ui=texts[0],
        commands=texts[1],
        refusals=guide.refusals,
        smalltalk=smalltalk.smalltalk,
    )


def _check_refs(checkers: Iterable[Checker], known: set[str], problems: list[Problem]) -> None:
    """Every entry id a file names (related, topics, walkthrough steps...) exists."""
    for checker in checkers:
        for ref in checker.refs:
            if ref.entry not in known:
                problems.append(Problem(ref.file, ref.line, ref.message.format(ref=ref.entry)))


def _check_file_names(
    folder: Path, names: tuple[str, ...], is_base: bool, problems: list[Problem]
) -> None:
    """The base language has every required file; no folder has a YAML file we do not read."""
    from bot.schema import REQUIRED_FILES

    for name in REQUIRED_FILES if is_base else ():
        if not (folder / name).is_file():
            problems.append(Problem(folder / name, None, "missing file"))
    for path in sorted(folder.iterdir()):
        if path.suffix in (".yaml", ".yml") and path.name not in names:
            problems.append(
                Problem(path, None, f"unexpected file (expected {', '.join(sorted(names))})")
            )


_NEEDED_FOR = {
    "guide.yaml": "its entries",
    "walkthrough.yaml": "the walkthrough",
    "ui.yaml": "every interface string",
}


def _check_empty_files(folder: Path, raw: dict[str, Any], problems: list[Problem]) -> None:
    """A required file of the base language that holds nothing (empty, or only comments) is
    a problem of its own: read as absent it passed `validate` (ui.yaml) or was blamed on
    another file (walkthrough.yaml), and the bot then failed on the missing strings."""
    from bot.schema import REQUIRED_FILES

    for name in REQUIRED_FILES:
        file = folder / name
        if raw[name] is None and file.is_file() and all(p.file != str(file) for p in problems):
            problems.append(
                Problem(file, None, f"empty: the base language needs {_NEEDED_FOR[name]}")
            )


def _check_ids_in_base(
    guide: GuideFile,
    smalltalk: SmalltalkFile,
    base: LanguagePack,
    guide_raw: YDict,
    folder: Path,
    problems: list[Problem],
) -> None:
    """A translation only translates: each of its entries, refusals and small-talk kinds must
    exist in the base language."""
    guide_file = folder / "guide.yaml"
    for kind, items, theirs in (
        ("entry", guide.entries, base.entries),
        ("refusal", guide.refusals, {r.id for r in base.refusals}),
    ):
        for item in items:
            if item.id not in theirs:
                problems.append(
                    Problem(
                        guide_file,
                        _item_line(guide_raw, kind, item.id),
                        f"{kind} '{item.id}' is not in the base language",
                    )
                )
    for talk in smalltalk.smalltalk:
        if talk.id not in {t.id for t in base.smalltalk}:
            problems.append(
                Problem(
                    folder / "smalltalk.yaml",
                    None,
                    f"smalltalk '{talk.id}' is not in the base language",
                )
            )


def _read(file: Path, problems: list[Problem]) -> Any:
    if not file.is_file():
        return None
    try:
        return load_yaml(file, problems)
    except Problem as problem:
        problems.append(problem)
        problems.extend(_scan_unparsable(file, problem.line))
        return None


def _known_keys(file_name: str) -> set[str] | None:
    from bot.schema import FILES, UI_KEYS, all_keys

    if file_name == UI_FILE:
        return set(UI_KEYS) | {"commands"} | set(COMMANDS)
    shape = FILES.get(file_name)
    return all_keys(shape) if shape else None


_KEY_LINE = re.compile(
    r"^(?P<indent>\s*)(?:-\s+)?(?P<key>[A-Za-z_][\w-]*)\s*:(?:\s+(?P<value>.*))?$"
)


def _scan_unparsable(file: Path, syntax_line: int | None) -> list[Problem]:
    """A file that is not valid YAML still gets its other faults reported (unknown keys,
    duplicate ids), by a line scan, so an editor can fix everything in one pass."""
    from bot.schema import closest

    known = _known_keys(file.name)
    if known is None:
        return []
    try:
        text = decode_text(file, file.read_bytes())
    except (OSError, Problem):
        return []  # unreadable or not text: the problem already reported says why
    found: list[Problem] = []
    ids: dict[str, int] = {}
    skip_deeper_than: int | None = None
    for number, line in enumerate(text.splitlines(), 1):
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
            hint = closest(key, known)
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


def _question_line(guide: YDict, entry_id: str, question: str) -> int | None:
    """The line `question` is written on in entry `entry_id` (else the entry's own line).
    Looked up only for a problem: a scan of the entries per entry made loading quadratic."""
    items = guide.get("entries")
    for raw in items if isinstance(items, list) else []:
        if isinstance(raw, dict) and raw.get("id") == entry_id:
            questions = raw.get("questions")
            for index, written in enumerate(questions if isinstance(questions, list) else []):
                if written == question:
                    return line_of(questions, index)
    return _item_line(guide, "entry", entry_id)


def _item_line(guide: YDict, kind: str, item_id: str) -> int | None:
    key = {"entry": "entries", "refusal": "refusals"}[kind]
    items = guide.get(key)
    for index, raw in enumerate(items if isinstance(items, list) else []):
        if isinstance(raw, dict) and raw.get("id") == item_id:
            return line_of(items, index)
    return None


def _check_synonyms(
    synonyms: dict[str, tuple[str, ...]],
    raw: YDict,
    file: Path,
    problems: list[Problem],
    owners: dict[str, tuple[str, str]],
) -> None:
    """Synonyms apply to every language at once, so one variant may name one word only,
    across all language folders (`owners`: variant -> (canonical, file))."""
    lines = raw.get("synonyms")
    seen: dict[str, str] = {}
    for canonical in synonyms:
        owners.setdefault(normalize(canonical), (normalize(canonical), str(file)))
    for canonical, variants in synonyms.items():
        line = line_of(lines, canonical)
        for variant in variants:
            key = normalize(variant)
            if key in seen and seen[key] != canonical:
                problems.append(
                    Problem(
                        file,
                        line,
                        f"synonym '{variant}' is listed under both '{seen[key]}' and '{canonical}'",
                    )
                )
            elif (
                key in owners
                and owners[key][0] != normalize(canonical)
                and owners[key][1] != str(file)
            ):
                problems.append(
                    Problem(
                        file,
                        line,
                        f"synonym '{variant}' of '{canonical}' is already a synonym of '{owners[key][0]}' in {owners[key][1]}",
                    )
                )
            seen[key] = canonical
            owners.setdefault(key, (normalize(canonical), str(file)))


def _cross_checks(
    guide: YDict,
    file: Path,
    entries: dict[str, Entry],
    checkers: Any,
    problems: list[Problem],
) -> None:
    """The same question may not point at two entries, nor be both asked and refused (an
    out-of-scope or refusal example, a must-not-match example, a smalltalk example)."""
    owner: dict[str, tuple[str, str]] = {}  # normalised question -> (entry id, as written)
    for entry in entries.values():
        for question in entry.questions:
            key = normalize(question)
            first = owner.setdefault(key, (entry.id, question))
            if first[0] != entry.id:
                there = _question_line(guide, *first)
                problems.append(
                    Problem(
                        file,
                        _question_line(guide, entry.id, question),
                        f"entry '{entry.id}': question '{question}' is also a question of "
                        f"'{first[0]}'" + (f" (line {there})" if there else ""),
                    )
                )
    for checker in checkers:
        for where, line, example in checker.examples:
            asked = owner.get(normalize(example))
            if asked is not None:
                there = _question_line(guide, *asked)
                problems.append(
                    Problem(
                        checker.file,
                        line,
                        f"{where}: '{example}' is also a question of '{asked[0]}'"
                        + (f" ({file.name} line {there})" if there else ""),
                    )
                )


def _check_walkthrough(
    walkthrough: Walkthrough,
    raw: YDict,
    folder: Path,
    base: LanguagePack | None,
    problems: list[Problem],
) -> None:
    file = folder / "walkthrough.yaml"
    inner = raw.get("walkthrough") if isinstance(raw, YDict) else None
    line = getattr(inner, "line", None)
    mine = [i.id for i in walkthrough.checklist] + [s.id for s in walkthrough.steps]
    shared = sorted({i.id for i in walkthrough.checklist} & {s.id for s in walkthrough.steps})
    for item_id in shared:
        problems.append(Problem(file, line, f"id '{item_id}' is both a checklist item and a step"))
    if base is not None and base.walkthrough is not None:
        base_ids = [i.id for i in base.walkthrough.checklist] + [
            s.id for s in base.walkthrough.steps
        ]
        if mine != base_ids:
            problems.append(
                Problem(
                    file, line, f"walkthrough ids {mine} must match the base language's {base_ids}"
                )
            )


def _ui(raw: Any, check: Checker, is_base: bool) -> tuple[dict[str, str], dict[str, str]]:
    """ui.yaml: a flat map of the strings in `UI_KEYS` (with their placeholders) plus
    `commands:`, a description per command of `bot.commands.REGISTRY`."""
    from bot.schema import (
        OPTIONAL_PLACEHOLDERS,
        UI_DEFAULTS,
        UI_KEYS,
        Rule,
        Text,
        closest,
        placeholders,
    )

    ui_text: Any = Text
    if not isinstance(raw, YDict):
        check.add(getattr(raw, "line", 1), "ui.yaml must be a mapping of keys to values")
        return {}, {}
    strings: dict[str, str] = {}
    for key in raw:
        if key == "commands":
            continue
        if key not in UI_KEYS:
            hint = closest(key, UI_KEYS)
            check.add(
                line_of(raw, key),
                f"unknown interface string '{key}'"
                + (f" (did you mean '{hint}'?)" if hint else ""),
            )
            continue
        good, value = check.value(raw[key], ui_text, raw, key, f"'{key}'", Rule())
        if not good:
            continue
        try:
            found = placeholders(value)
        except ValueError as error:
            check.add(line_of(raw, key), f"'{key}': bad placeholder ({error})")
            continue
        optional = OPTIONAL_PLACEHOLDERS.get(key, frozenset())
        if not UI_KEYS[key] <= found <= UI_KEYS[key] | optional:
            expected = ", ".join(f"{{{name}}}" for name in sorted(UI_KEYS[key])) or "none"
            allowed = ", ".join(f"{{{name}}}" for name in sorted(optional))
            check.add(
                line_of(raw, key),
                f"'{key}': placeholders must be {expected}"
                + (f" (may use {allowed})" if allowed else ""),
            )
            continue
        strings[key] = value
    if is_base:
        for key in UI_KEYS:
            if key in raw:
                continue
            if key in UI_DEFAULTS:  # added later: a guide written before keeps validating
                strings[key] = UI_DEFAULTS[key]
            else:
                check.add(raw.line, f"missing interface string '{key}'")
    return strings, _ui_commands(raw, check, is_base)


def _ui_commands(raw: YDict, check: Checker, is_base: bool) -> dict[str, str]:
    """ui.yaml's `commands:`: a description per command of `bot.commands.REGISTRY`."""
    from bot.schema import Rule, Text, closest

    ui_text: Any = Text
    commands: dict[str, str] = {}
    described = raw.get("commands")
    if described is None:
        if is_base:
            check.add(raw.line, "missing 'commands' (a description for each command)")
    elif not isinstance(described, YDict):
        check.add(line_of(raw, "commands"), "'commands' must map command names to descriptions")
    else:
        for name in described:
            if name not in COMMANDS:
                hint = closest(name, COMMANDS)
                check.add(
                    line_of(described, name),
                    f"commands: unknown key '{name}'"
                    + (f" (did you mean '{hint}'?)" if hint else ""),
                )
        for name in COMMANDS:
            if name in described:
                good, value = check.value(
                    described[name], ui_text, described, name, f"command '{name}'",
                    Rule(),
                )  # fmt: skip
                if good:
                    commands[name] = value
            elif is_base:
                check.add(described.line, f"commands: missing required key '{name}'")
    return commands
