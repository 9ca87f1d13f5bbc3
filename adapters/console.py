r"""Chat with the bot in this terminal (no token needed).

Buttons are shown as a numbered list: type the number or the label to press one. Commands
such as /steps, /faq and /walkthrough work as on every platform. With piped standard input,
each line is one message and the program exits at the end of the input, so conversations can
be scripted:

  printf 'walkthrough\ndone\n' | helpbot chat --db /tmp/s.sqlite3 --user alice
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import re
import sys
import threading
from typing import TextIO

from bot.adapter import Adapter
from bot.engine import Engine
from bot.markup import parse, to_plain
from bot.text import normalize
from bot.types import Button, IncomingMessage, Reply

PLATFORM = "console"


def render(reply: Reply, color: bool) -> str:
    if not color:
        return to_plain(reply.text)
    return to_ansi(reply.text)


def to_ansi(markup: str) -> str:
    """Bold as the terminal's bold, links as `text (url)`."""
    out = []
    for span in parse(markup):
        if span.kind == "bold":
            out.append(f"\033[1m{span.text}\033[0m")
        elif span.kind == "link":
            out.append(f"{span.text} ({span.url})")
        else:
            out.append(span.text)
    return "".join(out)


# Terminal escape sequences that reach a line when the terminal does not edit it (arrow keys
# without readline, pasted colour codes): CSI, OSC and two-character escapes. Not text.
_TERMINAL_CODES = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])"
)


class ConsoleChat:
    """Turns typed lines into engine messages and prints the replies with numbered buttons."""

    def __init__(
        self, engine: Engine, user: str, lang: str | None, out: TextIO, color: bool
    ) -> None:
        self.engine = engine
        self.user = user
        self.lang = lang
        self.out = out
        self.color = color
        self.buttons: list[Button] = []

    def message_for(self, line: str) -> IncomingMessage:
        text = line.strip()
        pressed = self.find_button(text)
        if pressed is not None:
            return IncomingMessage(
                PLATFORM, "terminal", self.user, payload=pressed.payload, locale=self.lang
            )
        return IncomingMessage(PLATFORM, "terminal", self.user, text=text, locale=self.lang)

    def find_button(self, text: str) -> Button | None:
        if text.isdigit() and 1 <= int(text) <= len(self.buttons):
            return self.buttons[int(text) - 1]
        wanted = normalize(text)
        if not wanted:
            return None
        return next((b for b in self.buttons if normalize(b.label) == wanted), None)

    async def send(self, line: str) -> None:
        replies = await self.engine.handle(self.message_for(line))
        self.show(replies)

    def show(self, replies: list[Reply]) -> None:
        self.buttons = []
        for reply in replies:
            print(render(reply, self.color), file=self.out)
            for button in reply.all_buttons():
                self.buttons.append(button)
                print(f"  [{len(self.buttons)}] {button.label}", file=self.out)
            print(file=self.out)
        self.out.flush()


class ConsoleAdapter(Adapter):
    """The terminal as a platform: standard input in, standard output out."""

    command = "chat"
    platform = PLATFORM
    text_limit = 1_000_000  # a terminal takes any length
    payload_limit = 1_000_000

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--user",
            default=None,
            help="who you are, so a later run with the same --db resumes your walkthrough (default: your login name)",
        )
        parser.add_argument(
            "--lang",
            default=None,
            help="answer in this language, like /language (default: the language you write in; "
            "English until that is clear)",
        )

    def __init__(
        self,
        engine: Engine,
        args: argparse.Namespace | None = None,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        super().__init__(engine, args)
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        # Bytes that are not valid in the terminal's encoding become U+FFFD: the line is still
        # answered, and so is every line after it.
        reconfigure = getattr(self.stdin, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
        self.interactive = self.stdin.isatty()
        color = self.interactive and self.stdout.isatty() and not os.environ.get("NO_COLOR")
        user = getattr(self.args, "user", None) or _login_name()
        self.chat = ConsoleChat(engine, user, getattr(self.args, "lang", None), self.stdout, color)
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()
        self.stopped = False

    def render(self, markup: str) -> str:
        return to_ansi(markup) if self.chat.color else to_plain(markup)

    async def start(self) -> None:
        """Read standard input on a daemon thread, so a signal never waits for a line."""
        loop = asyncio.get_running_loop()
        lang = getattr(self.args, "lang", None)
        if lang:  # an explicit choice, like /language: it wins over the text's language
            await self.engine.handle(self.chat.message_for(f"/language {lang}"))

        def read() -> None:
            while True:
                try:
                    line = input("you> ") + "\n" if self.interactive else self.stdin.readline()
                except (EOFError, KeyboardInterrupt, OSError, ValueError):
                    line = ""  # end of input (Ctrl-D), or standard input closed under us
                if line == "":
                    loop.call_soon_threadsafe(self.lines.put_nowait, None)
                    return
                loop.call_soon_threadsafe(self.lines.put_nowait, line)

        if self.interactive:
            _enable_history()
            await self.chat.send("/start")
            print(
                "(Type a question, a button number, or /help. /quit or Ctrl-D to quit.)\n",
                file=self.stdout,
            )
        threading.Thread(target=read, name="helpbot-stdin", daemon=True).start()

    async def run(self) -> None:
        while True:
            line = await self.lines.get()
            if line is None or self.stopped:
                return
            line = _TERMINAL_CODES.sub("", line.rstrip("\r\n"))
            if not self.interactive and line.strip():
                print(f"you> {line}", file=self.stdout)
            if line.strip().lower() in QUIT_WORDS:
                return
            if line.strip():
                try:
                    await self.chat.send(line)
                except BrokenPipeError:  # `helpbot chat | head`: the reader left, so do we
                    _drop_stdout()
                    return

    async def stop(self) -> None:
        self.stopped = True
        self.lines.put_nowait(None)
        try:
            print(file=self.stdout)
        except BrokenPipeError:
            _drop_stdout()


def _drop_stdout() -> None:
    """Point standard output at the null device, so nothing (nor the interpreter's final
    flush) writes to a pipe whose reader has gone."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


# What a person types to leave a terminal program; only the console has such a thing.
QUIT_WORDS = frozenset({"/quit", "/exit", "/q", "quit", "exit"})  # what terminals take


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "me"


def _enable_history() -> None:
    try:
        import readline  # noqa: F401  (importing it gives input() line editing and history)
    except ImportError:
        return


ADAPTER = ConsoleAdapter
