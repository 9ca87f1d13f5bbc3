"""`helpbot ask` and `chat` options: explicit --lang, what --json carries, --ttl and --lang checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def helpbot(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        cwd=ROOT,
    )


def test_explicit_lang_wins_in_ask_and_chat():
    ask = helpbot("ask", "--json", "--lang", "fr", "¿cuánto tarda?")
    assert json.loads(ask.stdout)["lang"] == "fr"
    assert json.loads(helpbot("ask", "--json", "--lang", "FR", "how long").stdout)["lang"] == "fr"
    chat = helpbot("chat", "--db", ":memory:", "--lang", "fr", stdin="¿cuánto tarda?\n")
    assert "Combien de temps" in chat.stdout, chat.stdout


def test_json_carries_the_topics_a_person_sees():
    related = json.loads(helpbot("ask", "--json", "what happens to my wallet money").stdout)
    assert related["topics"] and related["answer"].count("\n  - ") == len(related["topics"])
    assert not related["answer"].rstrip().endswith("See also:")
    fallback = json.loads(helpbot("ask", "--json", "tell me a joke about cats").stdout)
    assert not fallback["matched"] and len(fallback["topics"]) >= 3
    assert all(t["title"] in fallback["answer"] for t in fallback["topics"])
    assert "Walk me through it" in fallback["buttons"]


def test_json_names_the_verdict():
    lines = helpbot(
        "ask", "--json", "-", stdin="hello there\nwhat happens to my wallet money\n"
    ).stdout
    hello, wallet = (json.loads(line) for line in lines.splitlines())
    assert (hello["kind"], hello["matched"]) == ("smalltalk", False) and hello["smalltalk"]
    assert (wallet["kind"], wallet["id"]) == ("answer", "wallet_funds")


def test_plain_ask_lists_the_topics():
    out = helpbot("ask", "what happens to my wallet money").stdout
    assert "See also:\n  - " in out


@pytest.mark.parametrize("ttl", ["0", "-1", "nan", "soon"])
def test_ttl_must_be_positive(ttl):
    out = helpbot("chat", "--db", ":memory:", "--ttl", ttl)
    assert out.returncode == 2 and "--ttl" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("command", [["ask", "hi"], ["chat", "--db", ":memory:"]])
def test_unknown_lang_is_refused_with_the_choices(command):
    out = helpbot(*command, "--lang", "xx")
    assert out.returncode == 2 and "en, es, fr, pt, ru" in out.stderr


@pytest.mark.parametrize(
    "platform, env_var", [("telegram", "TELEGRAM_BOT_TOKEN"), ("discord", "DISCORD_BOT_TOKEN")]
)
@pytest.mark.parametrize("given", [["--token", "123:SECRET-abc"], ["--token=123:SECRET-abc"]])
def test_a_token_on_the_command_line_is_refused_without_repeating_it(
    platform: str, env_var: str, given: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """argparse took `--token X` for --token-file and printed the token in its error."""
    from bot.cli import _adapters, build_parser

    with pytest.raises(SystemExit) as exited:
        build_parser(_adapters(), report=False).parse_args([platform, *given])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "SECRET" not in err
    assert env_var in err and "--token-file" in err


@pytest.mark.parametrize(
    ("command", "variable", "value", "said"),
    [
        ("telegram", "TELEGRAM_SUPPORT_CHAT", "support-team", "expected a chat id"),
        ("discord", "DISCORD_SUPPORT_CHANNEL", "#support", "expected a Discord id"),
        ("discord", "DISCORD_SUPPORT_ROLE", "12", "expected a Discord id"),
        ("ask", "HELPBOT_LOG_LEVEL", "loud", "must be one of DEBUG, INFO, WARNING, ERROR"),
    ],
)
def test_a_bad_setting_from_the_environment_is_named_not_a_traceback(
    command: str, variable: str, value: str, said: str, tmp_path: Path
) -> None:
    """A bad $TELEGRAM_SUPPORT_CHAT was dropped silently (no handoff, no word), a bad
    $DISCORD_SUPPORT_* or $HELPBOT_LOG_LEVEL ended in a traceback."""
    import os

    # Nothing may reach the network: a loopback port nobody listens on, if it tried.
    where = {
        "telegram": ["--base-url", "http://127.0.0.1:9/bot"],
        "discord": ["--api-base", "http://127.0.0.1:9/api"],
        "ask": [],
    }[command]
    args = [command, *where, *(["--db", ":memory:"] if command != "ask" else ["how long"])]
    env = {
        **os.environ,
        variable: value,
        "TELEGRAM_BOT_TOKEN": "1:x",
        "DISCORD_BOT_TOKEN": "x",
        "HELPBOT_CACHE": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=env,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"${variable}" in done.stderr and said in done.stderr
    assert "Traceback" not in done.stderr


def test_ask_from_standard_input_shows_each_answer_under_its_question():
    """They were printed back to back, with nothing to tell where one ended."""
    out = helpbot("ask", "-", stdin="how long does deletion take\nwhat about my wallet\n").stdout
    first, second = out.split("\n\n> ")
    assert first.startswith("> how long does deletion take\n") and "24 hours" in first
    assert second.startswith("what about my wallet\n") and "Wallet" in second


def test_the_knowledge_folder_comes_from_the_environment(tmp_path: Path) -> None:
    """A container serving another guide has no --knowledge on its command line."""
    import os
    import shutil

    from bot.knowledge import default_path

    folder = tmp_path / "guide"
    shutil.copytree(default_path(), folder)
    guide = folder / "en" / "guide.yaml"
    guide.write_text(guide.read_text(encoding="utf-8").replace("about 24 hours", "about 3 days"))
    env = {**os.environ, "HELPBOT_KNOWLEDGE": str(folder), "HELPBOT_CACHE": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "how long does deletion take"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=env,
    )  # fmt: skip
    assert "about 3 days" in done.stdout, done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--knowledge", str(default_path()), "ask", "how long"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=env,
    )  # fmt: skip
    assert "about 24 hours" in done.stdout, done.stderr  # the option wins
