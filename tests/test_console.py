"""The console chat, driven as a user would: a subprocess with piped input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# Never the user's own data folder: a chat there once ran alongside the suite, and its walkthrough
# (in Spanish, at check 2) was what a test without --db saw.
ENV = {**os.environ, "NO_COLOR": "1", "HELPBOT_DB": ":memory:"}


def chat(lines: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat", *args],
        input=lines,
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
    )


def test_piped_walkthrough_reaches_step_one_with_its_buttons(tmp_path):
    run = chat(
        "walkthrough\ndone\ndone\ndone\ndone\nnext\n",
        "--db",
        str(tmp_path / "s.sqlite3"),
        "--user",
        "a",
    )
    assert run.returncode == 0, run.stderr
    assert "Step 1: Log in" in run.stdout and "[3] Next ▶" in run.stdout
    assert "Step 2" in run.stdout.split("you> next")[1]


def test_question_gets_the_24_hour_fact():
    run = chat("how much time does aliexpress need to close it\n", "--db", ":memory:")
    assert run.returncode == 0 and "24 hours" in run.stdout


def test_numbers_and_labels_press_buttons():
    run = chat("/faq\n1\n/walkthrough\ntell me more\n", "--db", ":memory:")
    assert "24 hours" in run.stdout  # button 1 of /faq: the processing-time topic
    assert run.stdout.count("check 1 of 4") == 2  # "tell me more" re-shows check 1 with more


def test_quit_ends_the_chat_and_nothing_after_it_is_read():
    run = chat("how long does it take\n/quit\nhow long does it take\n", "--db", ":memory:")
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("24 hours") == 1 and "don't know the command" not in run.stdout


def test_awkward_input_never_crashes():
    nasty = (
        "\n".join(
            ["", "   ", "<b>&amp;</b>", "x" * 20000, "🙂🙃", "/", "//", "\x00\x07", "/start@", "99"]
        )
        + "\n"
    )
    run = chat(nasty, "--db", ":memory:")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr


def test_killed_process_resumes_at_the_same_step(tmp_path):
    db = str(tmp_path / "kill.sqlite3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--db", db, "--user", "k"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert proc.stdin is not None
    proc.stdin.write("walkthrough\ndone\ndone\ndone\ndone\nnext\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    store = Path(db)
    while time.monotonic() < deadline:  # wait until the last move is on disk, then kill -9
        if store.exists():
            import sqlite3

            try:
                with sqlite3.connect(db) as conn:
                    row = conn.execute("SELECT data FROM sessions").fetchone()
            except sqlite3.OperationalError:  # the file exists, its table not yet: poll again
                row = None
            if row and '"position":"settings"' in row[0]:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    run = chat("repeat\n", "--db", db, "--user", "k")
    assert "Step 2" in run.stdout and "My AliExpress" in run.stdout


def test_help_and_missing_subcommand():
    usage = subprocess.run(
        [sys.executable, "-m", "bot"], capture_output=True, text=True, timeout=60
    )
    assert usage.returncode == 2 and "chat" in usage.stdout and "telegram" in usage.stdout
    helped = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--help"], capture_output=True, text=True, timeout=60
    )
    assert helped.returncode == 0 and "--db" in helped.stdout and "--user" in helped.stdout


def test_unusable_database_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    run = chat("hi\n", "--db", str(blocker / "sessions.sqlite3"))
    assert run.returncode == 1
    assert "cannot open the session database" in run.stderr and "Traceback" not in run.stderr
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_text("this is not sqlite, " * 100)
    run = chat("hi\n", "--db", str(garbage))
    assert run.returncode == 1 and "not a database" in run.stderr


def test_chat_help_shows_the_example_as_typed():
    """Issue 9.7: the `printf` example keeps its `\\n`s instead of breaking the line."""
    helped = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--help"], capture_output=True, text=True, timeout=60
    )
    assert "printf 'walkthrough\\ndone\\n' | helpbot chat" in helped.stdout


def test_undecodable_input_is_replaced_and_every_line_answered():
    """Issue 9.20: a Latin-1 byte on UTF-8 standard input loses nothing."""
    data = b"how long does deletion take\n" + b"caf\xe9 ?\n" + b"/steps\n"
    env = {**ENV, "PYTHONIOENCODING": "utf-8"}
    run = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--db", ":memory:"],
        input=data, capture_output=True, timeout=60, env=env,
    )  # fmt: skip
    out = run.stdout.decode("utf-8")
    assert run.returncode == 0, run.stderr.decode()
    assert "Traceback" not in run.stderr.decode()
    assert out.count("you> ") == 3 and "caf\ufffd ?" in out
    assert "24 hours" in out and "Step 1" in out.split("you> /steps")[1]
    asked = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "-"],
        input=data, capture_output=True, timeout=60, env=env,
    )  # fmt: skip
    assert asked.returncode == 0, asked.stderr.decode()
    assert "Traceback" not in asked.stderr.decode()
    assert "24 hours" in asked.stdout.decode() and "Step 1" in asked.stdout.decode()


BLOCK_PLATFORMS = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("telegram", "discord"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Block())
"""


def test_a_missing_platform_library_names_the_extra_to_install(tmp_path):
    """Issue 9.1: one line saying which extra to install, exit 2, no traceback."""
    (tmp_path / "sitecustomize.py").write_text(BLOCK_PLATFORMS)
    root = str(Path(__file__).resolve().parent.parent)
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(tmp_path), root])}
    for command, variable, extra in (
        ("telegram", "TELEGRAM_BOT_TOKEN", "telegram"),
        ("discord", "DISCORD_BOT_TOKEN", "discord"),
    ):
        run = subprocess.run(
            [sys.executable, "-m", "bot", command, "--db", ":memory:"],
            capture_output=True, text=True, timeout=60, env={**env, variable: "1:x"},
        )  # fmt: skip
        assert run.returncode == 2, run.stderr
        assert "Traceback" not in run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and f"pip install '.[{extra}]'" in lines[0], run.stderr


def test_terminal_escape_codes_are_not_read_as_text():
    """Colour codes pasted into a line (or arrow keys without readline) were read as words:
    the question was answered in French."""
    out = chat("\x1b[31mhow long does it take\x1b[0m\n\x1b[Ahow long\n").stdout
    assert out.count("How long does deletion take?") == 2, out
    assert "\x1b" not in out.replace("\x1b[1m", "").replace("\x1b[0m", "")


def test_a_reader_that_leaves_early_ends_the_chat_quietly():
    """`helpbot chat | head -1` logged 'stopped: BrokenPipeError' and exited 1."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--db", ":memory:"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"how long\n" * 50)
    process.stdin.close()
    process.stdout.readline()
    process.stdout.close()  # the reader leaves, as `head -1` does
    assert process.wait(timeout=60) == 0
    assert process.stderr is not None
    assert b"BrokenPipe" not in process.stderr.read()
