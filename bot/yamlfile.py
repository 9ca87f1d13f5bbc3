"""Read YAML while remembering where each value came from, so errors can name file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class Problem(Exception):
    """One thing wrong with a knowledge file, located at `file:line`."""

    def __init__(self, file: str | Path, line: int | None, message: str) -> None:
        self.file = str(file)
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class YDict(dict):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class YList(list):
    """A sequence that knows its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


# libyaml's parser is several times faster than PyYAML's pure-Python one, and its nodes carry
# the same marks; fall back where PyYAML was built without it.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader that keeps line numbers and refuses duplicate keys (PyYAML keeps the last)."""

    def __init__(self, stream: Any, file: str, problems: list[Problem]) -> None:
        super().__init__(stream)
        self.file = file
        self.problems = problems

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> YDict:  # type: ignore[override]
        result = YDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                raise Problem(self.file, line, f"keys must be text, not {key!r}")
            if key in result:
                self.problems.append(
                    Problem(
                        self.file,
                        line,
                        f"duplicate key '{key}' (first at line {result.key_lines[key]})",
                    )
                )
                continue
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = line
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> YList:  # type: ignore[override]
        result = YList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping
)
_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _LineLoader.construct_sequence
)


def load_yaml(path: Path, problems: list[Problem]) -> Any:
    """Parse one file; a syntax error raises a `Problem` with the file and line, and lesser
    faults (duplicate keys) are appended to `problems` so all of them can be reported."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise Problem(path, None, f"not UTF-8 text ({error.reason})") from None
    loader = _LineLoader(text, str(path), problems)
    try:
        return loader.get_single_data()
    except Problem:
        raise
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(part for part in (error.context, error.problem) if part)
        raise Problem(path, line, f"invalid YAML: {what or error}") from None
    except yaml.YAMLError as error:
        raise Problem(path, None, f"invalid YAML: {error}") from None
    finally:
        loader.dispose()


def line_of(container: Any, key: str | int) -> int | None:
    """Best-known line of `container[key]`."""
    if isinstance(container, YDict):
        return container.key_lines.get(key, container.line)  # type: ignore[arg-type]
    if isinstance(container, YList) and isinstance(key, int) and key < len(container.item_lines):
        return container.item_lines[key]
    return getattr(container, "line", None)
