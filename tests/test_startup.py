"""`helpbot ask` imports only what answering needs (issue 15: start-up at most 3x importing
rapidfuzz and yaml); the other commands keep their full command lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HELPBOT_SEMANTIC="0")
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )


def test_ask_imports_no_report_and_no_adapter() -> None:
    done = run(
        "import sys\n"
        "from bot.cli import main\n"
        "code = main(['--log-level', 'ERROR', 'ask', 'how long does it take'])\n"
        "print(code, sorted(m for m in sys.modules if m == 'bot.report' or m.startswith('adapters.')"
        " or m in ('discord', 'telegram')))\n"
    )
    assert done.returncode == 0, done.stderr
    *answer, last = done.stdout.strip().splitlines()
    assert any("24 hours" in line for line in answer), done.stdout
    assert last == "0 []"


def test_report_and_help_keep_their_options() -> None:
    done = run("from bot.cli import main\nmain(['report', '--help'])")
    assert done.returncode == 0 and "--html" in done.stdout, done.stdout + done.stderr
    done = run("from bot.cli import main\nmain(['--help'])")
    assert done.returncode == 0 and "report" in done.stdout and "chat" in done.stdout


def test_ask_from_a_warm_index_cache_imports_no_yaml_and_no_validator(tmp_path: Path) -> None:
    """The cached knowledge base is plain data of bot.shapes: neither PyYAML nor msgspec nor
    the schema's validator is imported to answer from it (~20 ms of start-up)."""
    code = (
        "import sys\n"
        "from bot.cli import main\n"
        "code = main(['--log-level', 'ERROR', 'ask', 'how long does it take'])\n"
        "print(code, sorted(m for m in ('yaml', 'msgspec', 'bot.schema') if m in sys.modules))\n"
    )
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        HELPBOT_SEMANTIC="0",
        HELPBOT_CACHE=str(tmp_path),
        HELPBOT_INDEX_CACHE="1",
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )
        for _ in range(2)
    ]
    cold, warm = (done.stdout.strip().splitlines()[-1] for done in runs)
    assert all(done.returncode == 0 for done in runs), [done.stderr for done in runs]
    assert list(tmp_path.glob("index-*.pickle"))  # the first run wrote the cache
    assert cold == "0 ['bot.schema', 'msgspec', 'yaml']"  # it loaded and validated the YAML
    assert warm == "0 []"
