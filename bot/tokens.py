"""Reading a platform token the same safe way for every adapter.

From a file (`--token-file`) or an environment variable, never a command-line argument (other
users can read those from the process list). A token that is found is registered with
`bot.logs` so no log line can show it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from bot.logs import add_secret


def add_token_option(parser: argparse.ArgumentParser, env_var: str) -> None:
    """`--token-file PATH`, the only way besides `env_var` to give an adapter its token."""
    parser.add_argument(
        "--token-file",
        metavar="PATH",
        help=f"read the bot token from this file (default: ${env_var})",
    )
    # Refused with an explanation that does not repeat the value: argparse would otherwise take
    # `--token X` as an abbreviation of --token-file and print the token in its error.
    parser.add_argument(
        "--token", action=_RefuseToken, env_var=env_var, metavar="TOKEN", help=argparse.SUPPRESS
    )


class _RefuseToken(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, env_var: str, **kwargs: Any):
        self.env_var = env_var
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> NoReturn:
        parser.error(
            "--token would show the bot token to everyone who can list processes; set "
            f"${self.env_var}, or put it in a file only the bot can read and pass "
            "--token-file PATH"
        )


def load_token(command: str, env_var: str, token_file: str | None, how_to_get: str) -> str | None:
    """The token, or None after telling the operator on standard error what to do."""
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            print(
                f"helpbot {command}: cannot read --token-file {token_file}: {error.strerror}",
                file=sys.stderr,
            )
            return None
        if not token:
            print(f"helpbot {command}: {token_file} is empty.", file=sys.stderr)
            return None
    else:
        token = os.environ.get(env_var, "").strip()
        if not token:
            print(
                f"helpbot {command}: no bot token. Set {env_var} or pass --token-file PATH ({how_to_get}).",
                file=sys.stderr,
            )
            return None
    add_secret(token)
    return token
