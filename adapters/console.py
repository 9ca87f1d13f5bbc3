"""Chat with the bot in this terminal (no token needed).

Buttons are shown as a numbered list: type the number or the label to press one. Commands
such as /steps, /faq and /walkthrough work as on every platform. With piped standard input,
each line is one message and the program exits at the end of the input, so conversations can
be scripted:

  printf 'walkthrough\ndone\n' | helpbot chat --db /tmp/s.sqlite3 --user alice
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from typing import TextIO

from bot.engine import Engine
from bot.markup import parse, to_plain
from bot.text import normalize
from bot.types import Button, IncomingMessage, Reply

COMMAND = "chat"
PLATFORM = "console"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user",
        default=None,
        help="who you are, so a later run with the same --db resumes your walkthrough (default: your login name)",
    )
    parser.add_argument(
        "--lang", default=None, help="answer in this language, like /language (default: English)"
    )


def render(reply: Reply, color: bool) -> str:
    if not color:
        return to_plain(reply.text)
    out = []
    for span in parse(reply.text):
        if span.kind == "bold":
            out.append(f"\033[1m{span.text}\033[0m")
        elif span.kind == "link":
            out.append(f"{span.text} ({span.url})")
        else:
            out.append(span.text)
    return "".join(out)


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
        base = {
            "platform": PLATFORM,
            "chat_id": "terminal",
            "user_id": self.user,
            "locale": self.lang,
        }
        if pressed is not None:
            return IncomingMessage(payload=pressed.payload, **base)  # type: ignore[arg-type]
        return IncomingMessage(text=text, **base)  # type: ignore[arg-type]

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


def run(args: argparse.Namespace, engine: Engine) -> int:
    interactive = sys.stdin.isatty()
    color = interactive and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    user = args.user or _login_name()
    chat = ConsoleChat(engine, user, args.lang, sys.stdout, color)
    loop = asyncio.new_event_loop()
    try:
        if args.lang:  # an explicit choice, like /language: it wins over the text's language
            loop.run_until_complete(engine.handle(chat.message_for(f"/language {args.lang}")))
        if interactive:
            _enable_history()
            loop.run_until_complete(chat.send("/start"))
            print("(Type a question, a button number, or /help. Ctrl-D to quit.)\n")
        while True:
            try:
                line = input("you> ") if interactive else sys.stdin.readline()
            except EOFError:
                break
            except KeyboardInterrupt:
                print()
                break
            if not interactive:
                if line == "":
                    break
                line = line.rstrip("\r\n")
                if line.strip():
                    print(f"you> {line}")
            if not line.strip():
                continue
            loop.run_until_complete(chat.send(line))
        return 0
    finally:
        loop.run_until_complete(engine.close())
        loop.close()


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
