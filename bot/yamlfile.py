"""Read YAML while remembering where each value came from, so errors can name file and line.

PyYAML is imported on the first load, not with this module: `helpbot ask` with a warm index
cache reads no YAML, and importing PyYAML (~9 ms) was a sixth of its start-up."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


class YDict(dict[str, Any]):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class YList(list[Any]):
    """A sequence that knows its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


# Hostile or broken files must give a located problem in bounded time and memory, never a
# traceback: a whole file, one text and the expanded document (aliases count every time they
# are used) are capped far above anything a guide needs (the largest shipped file is ~50 KB).
MAX_FILE_BYTES = 2_000_000
MAX_TEXT_CHARS = 20_000
MAX_EXPANDED_NODES = 200_000
MAX_EXPANDED_CHARS = 4_000_000


@cache
def _loader_class() -> type[Any]:
    """The line-keeping safe loader class, built on first use (see the module docstring)."""
    import yaml

    # libyaml's parser is several times faster than PyYAML's pure-Python one, and its nodes
    # carry the same marks; fall back where PyYAML was built without it.
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class _LineLoader(base):  # type: ignore[misc,valid-type]  # CSafeLoader is untyped
        """Safe loader that keeps line numbers and refuses duplicate keys (PyYAML keeps the
        last).

        Every scalar but null is read as the text written: `no`, `1.10` and a 100,000-digit
        number stay text (a guide is text; YAML 1.1's implicit booleans and numbers only
        corrupt it)."""

        def __init__(self, stream: Any, file: str, problems: list[Problem]) -> None:
            super().__init__(stream)
            self.file = file
            self.problems = problems

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> YDict:
            result = YDict()
            result.line = node.start_mark.line + 1
            result.key_lines = {}
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if not isinstance(key, str):
                    raise Problem(self.file, line, "keys must be text")
                if key in result:
                    first = result.key_lines[key]
                    duplicate = f"duplicate key '{key}' (first at line {first})"
                    self.problems.append(Problem(self.file, line, duplicate))
                    continue
                result[key] = self.construct_object(value_node, deep=True)
                result.key_lines[key] = line
            return result

        def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> YList:
            result = YList(self.construct_object(child, deep=True) for child in node.value)
            result.line = node.start_mark.line + 1
            result.item_lines = [child.start_mark.line + 1 for child in node.value]
            return result

        def construct_text(self, node: yaml.ScalarNode) -> str:
            return str(node.value)

    _LineLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping
    )
    _LineLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _LineLoader.construct_sequence
    )
    for tag in ("bool", "int", "float", "timestamp", "binary"):
        _LineLoader.add_constructor(f"tag:yaml.org,2002:{tag}", _LineLoader.construct_text)
    return _LineLoader


def load_yaml(path: Path, problems: list[Problem]) -> Any:
    """Parse one file; a syntax error raises a `Problem` with the file and line, and lesser
    faults (duplicate keys) are appended to `problems` so all of them can be reported."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise Problem(
                path, None, f"file is {size} bytes; a knowledge file may have {MAX_FILE_BYTES}"
            )
        data = path.read_bytes()
    except OSError as error:
        raise Problem(path, None, f"cannot read ({error.strerror})") from None
    import yaml

    text = decode_text(path, data)
    loader = _loader_class()(text, str(path), problems)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(path, node)
        return loader.construct_document(node)
    except Problem:
        raise
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(part for part in (error.context, error.problem) if part)
        lines = text.splitlines()
        if mark is not None and mark.line < len(lines) and "\t" in lines[mark.line]:
            what += " (this line has a tab: YAML indents with spaces only)"
        raise Problem(path, line, f"invalid YAML: {what or error}") from None
    except yaml.YAMLError as error:
        raise Problem(path, None, f"invalid YAML: {error}") from None
    except RecursionError:
        raise Problem(path, None, "invalid YAML: nested too deeply") from None
    except ValueError as error:  # any conversion a constructor could still attempt
        raise Problem(path, None, f"invalid YAML: {error}") from None
    finally:
        loader.dispose()


def decode_text(path: str | Path, data: bytes) -> str:
    """UTF-8 text (a UTF-8 byte-order mark is allowed), or a `Problem` naming the first bad
    byte's line: Latin-1, UTF-16 and a stray byte are all refused the same way."""
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        raise Problem(path, 1, "not UTF-8 text (it looks like UTF-16); save the file as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - data.rfind(b"\n", 0, error.start)
        raise Problem(
            path,
            line,
            f"not UTF-8 text (byte 0x{data[error.start]:02x} at column {column}); "
            "save the file as UTF-8",
        ) from None


def _check_expansion(path: Path, root: yaml.Node) -> None:
    """Refuse, before building anything, a document whose aliases would expand past the caps
    (a 'billion laughs'), a text longer than MAX_TEXT_CHARS, or an alias that contains itself."""
    weights = _weigh(path, root)
    nodes, chars = weights[id(root)]
    if nodes <= MAX_EXPANDED_NODES and chars <= MAX_EXPANDED_CHARS:
        return
    node = _innermost_heavy(root, weights)
    raise Problem(
        path,
        node.start_mark.line + 1,
        f"expands to {nodes} items and {chars} characters (aliases count each time they are "
        f"used); at most {MAX_EXPANDED_NODES} items and {MAX_EXPANDED_CHARS} characters",
    )


def _weigh(path: Path, root: yaml.Node) -> dict[int, tuple[int, int]]:
    """id(node) -> (expanded nodes, expanded chars) for every node under `root`, an alias
    counting each time it is used (each node is weighed once). Raises Problem for a text over
    MAX_TEXT_CHARS or an alias that contains itself."""
    import yaml

    weights: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, expanded chars)
    active: set[int] = set()

    def weigh(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        if key in weights:
            return weights[key]
        if key in active:
            raise Problem(path, node.start_mark.line + 1, "an alias may not contain itself")
        if isinstance(node, yaml.ScalarNode):
            chars = len(node.value)
            if chars > MAX_TEXT_CHARS:
                raise Problem(
                    path,
                    node.start_mark.line + 1,
                    f"text of {chars} characters; at most {MAX_TEXT_CHARS} are allowed",
                )
            weights[key] = (1, chars)
            return weights[key]
        active.add(key)
        nodes, chars = 1, 0
        children = (
            [part for pair in node.value for part in pair]
            if isinstance(node, yaml.MappingNode)
            else node.value
        )
        for child in children:
            child_nodes, child_chars = weigh(child)
            nodes, chars = nodes + child_nodes, chars + child_chars
        active.discard(key)
        weights[key] = (nodes, chars)
        return weights[key]

    weigh(root)
    return weights


def _innermost_heavy(root: yaml.Node, weights: dict[int, tuple[int, int]]) -> yaml.Node:
    """The innermost collection that is over the cap on its own: that is where the aliases are."""
    import yaml

    node = root
    while True:
        children = (
            [value for _, value in node.value]
            if isinstance(node, yaml.MappingNode)
            else node.value
            if isinstance(node, yaml.SequenceNode)
            else []
        )
        heavy = [
            c
            for c in children
            if weights[id(c)][0] > MAX_EXPANDED_NODES or weights[id(c)][1] > MAX_EXPANDED_CHARS
        ]
        if not heavy:
            return node
        node = heavy[0]


def line_of(container: Any, key: str | int) -> int | None:
    """Best-known line of `container[key]`."""
    if isinstance(container, YDict):
        return container.key_lines.get(key, container.line)  # type: ignore[arg-type]  # int keys never match a YDict's text keys
    if isinstance(container, YList) and isinstance(key, int) and key < len(container.item_lines):
        return container.item_lines[key]
    return getattr(container, "line", None)
