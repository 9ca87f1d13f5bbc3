"""The neutral reply markup and its safe renderings.

Replies are written in a deliberately tiny markup: `**bold**`, `[text](url)`, list lines and
blank lines between paragraphs, with a backslash escaping any character. Anything a person
typed is passed through `escape()` before it goes into a reply, so no user text can inject
formatting. This module holds the neutral parser, plain text and splitting; each platform's
renderer lives in its adapter (Telegram HTML in adapters/telegram.py, Discord markdown in
adapters/discord.py) and escapes what its target treats as markup, so a question full of
`<`, `&`, `*_[]` or `@everyone` is shown literally everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_SPECIAL = re.compile(r"([\\*\[\]])")
_TOKEN = re.compile(
    r"\\(.)|\*\*(?P<bold>(?:\\.|[^*\\])+?)\*\*|\[(?P<label>(?:\\.|[^\]\\])+)\]\((?P<url>[^)\s]+)\)",
    re.S,
)
_UNESCAPE = re.compile(r"\\(.)", re.S)


@dataclass(frozen=True, slots=True)
class Span:
    kind: str  # "text", "bold" or "link"
    text: str
    url: str = ""


def escape(text: str) -> str:
    """Make arbitrary text (a user's question) safe to embed in neutral markup."""
    return _SPECIAL.sub(r"\\\1", text)


def parse(markup: str) -> Iterator[Span]:
    """Split neutral markup into spans of literal text, bold text and links."""
    pos = 0
    buffer: list[str] = []
    for match in _TOKEN.finditer(markup):
        buffer.append(markup[pos : match.start()])
        pos = match.end()
        if match.group(1) is not None:
            buffer.append(match.group(1))
            continue
        if buffer and "".join(buffer):
            yield Span("text", "".join(buffer))
        buffer = []
        if match.group("bold") is not None:
            yield Span("bold", _UNESCAPE.sub(r"\1", match.group("bold")))
        else:
            yield Span("link", _UNESCAPE.sub(r"\1", match.group("label")), match.group("url"))
    buffer.append(markup[pos:])
    if "".join(buffer):
        yield Span("text", "".join(buffer))


def to_plain(markup: str) -> str:
    """Plain text: bold markers dropped, links written as `text (url)`."""
    out = []
    for span in parse(markup):
        out.append(f"{span.text} ({span.url})" if span.kind == "link" else span.text)
    return "".join(out)


def split_message(markup: str, limit: int, render: Callable[[str], str]) -> list[str]:
    """Render `markup` into pieces of at most `limit` characters, cutting between paragraphs,
    then between lines, and only as a last resort inside a line (never inside a tag)."""
    rendered = render(markup)
    if len(rendered) <= limit:
        return [rendered]
    pieces: list[str] = []
    current = ""
    for block in _blocks(markup, limit, render):
        candidate = f"{current}\n\n{block}" if current else block
        if current and len(render(candidate)) > limit:
            pieces.append(render(current))
            current = block
        else:
            current = candidate
    if current:
        pieces.append(render(current))
    return [piece for piece in pieces if piece.strip()]


def _blocks(markup: str, limit: int, render: Callable[[str], str]) -> Iterator[str]:
    for paragraph in re.split(r"\n\s*\n", markup):
        if len(render(paragraph)) <= limit:
            yield paragraph
            continue
        for line in paragraph.split("\n"):
            if len(render(line)) <= limit:
                yield line
                continue
            yield from _hard_cut(line, limit, render)


def _hard_cut(line: str, limit: int, render: Callable[[str], str]) -> Iterator[str]:
    """Cut an over-long line as literal text: formatting inside it is dropped, never broken."""
    plain = escape(to_plain(line))
    start = 0
    while start < len(plain):
        size = min(limit, len(plain) - start)
        while size > 1 and len(render(plain[start : start + size])) > limit:
            size = max(1, size * 3 // 4)
        if plain[start + size - 1] == "\\" and size > 1:
            size -= 1  # never separate an escape from the character it escapes
        yield plain[start : start + size]
        start += size
