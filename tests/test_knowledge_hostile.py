"""Hostile or broken knowledge files (issue 9.19) and the optional shapes (smalltalk,
refusals): each fault is a located problem, found in bounded time and memory."""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.knowledge import KnowledgeError, default_path, load_knowledge


def _copy(tmp_path: Path, langs: tuple[str, ...] = ("en",)) -> Path:
    target = tmp_path / "kb"
    for lang in langs:
        shutil.copytree(default_path() / lang, target / lang)
        # These tests add smalltalk and refusals of their own onto the shipped guide.
        (target / lang / "smalltalk.yaml").unlink(missing_ok=True)
        guide = target / lang / "guide.yaml"
        guide.write_text(
            re.sub(r"(?ms)^(# [^\n]*\n)?refusals:\n.*?(?=^out_of_scope:)", "", guide.read_text())
        )
    return target


def _problems(path: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(path)
    return [str(p) for p in caught.value.problems]


def test_latin1_byte_in_ui_is_a_problem_with_its_line(tmp_path):
    kb = _copy(tmp_path)
    ui = kb / "en" / "ui.yaml"
    lines = ui.read_bytes().split(b"\n")
    lines[5] = lines[5] + b" caf\xe9"
    ui.write_bytes(b"\n".join(lines))
    problems = _problems(kb)
    assert any("ui.yaml:6: not UTF-8 text (byte 0xe9" in p for p in problems), problems


def test_utf16_guide_is_a_problem(tmp_path):
    kb = _copy(tmp_path)
    guide = kb / "en" / "guide.yaml"
    guide.write_bytes(guide.read_text().encode("utf-16"))
    problems = _problems(kb)
    assert any("guide.yaml:1: not UTF-8 text (it looks like UTF-16)" in p for p in problems)


def test_latin1_file_with_a_syntax_error_too_is_reported_not_a_traceback(tmp_path):
    kb = _copy(tmp_path)
    walk = kb / "en" / "walkthrough.yaml"
    walk.write_bytes(walk.read_text().encode("utf-8") + b"  bad: [unclosed \xe9\n")
    run = subprocess.run(
        [sys.executable, "-m", "bot", "validate", str(kb)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "walkthrough.yaml:" in run.stdout and "not UTF-8" in run.stdout


def test_stray_byte_at_start_up_is_a_one_line_error(tmp_path):
    kb = _copy(tmp_path)
    ui = kb / "en" / "ui.yaml"
    ui.write_bytes(ui.read_bytes().replace(b"greeting:", b"\x81greeting:", 1))
    run = subprocess.run(
        [sys.executable, "-m", "bot", "--knowledge", str(kb), "ask", "how long"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "ui.yaml:3: not UTF-8 text" in run.stderr


def test_a_100000_digit_number_is_text_not_a_traceback(tmp_path):
    kb = _copy(tmp_path)
    ui = kb / "en" / "ui.yaml"
    ui.write_text(ui.read_text().replace("see_also:", "see_also: " + "9" * 100_000 + "\nx_:", 1))
    problems = _problems(kb)
    line = next(
        i for i, text in enumerate(ui.read_text().splitlines(), 1) if text.startswith("see_also")
    )
    assert any(f"ui.yaml:{line}: text of 100000 characters" in p for p in problems), problems


def test_a_5000_digit_number_is_kept_as_the_text_written(tmp_path):
    kb = _copy(tmp_path)
    ui = kb / "en" / "ui.yaml"
    digits = "7" * 5000  # past Python's int-from-text limit (4300 digits)
    ui.write_text(ui.read_text().replace('see_also: "See also:"', f"see_also: {digits}", 1))
    assert load_knowledge(kb).ui("see_also") == digits


@pytest.mark.parametrize(
    ("chars", "expected"),
    [(100_000, "{after}: text of 100000 characters"), (10_000, "{after}: expands to")],
)
def test_alias_bomb_in_questions_is_refused_quickly_and_in_little_memory(tmp_path, chars, expected):
    """The issue's case (a 100 KB string aliased 100,000 times) and one whose string is
    under the single-text cap, so the expansion cap is what stops it."""
    kb = _copy(tmp_path)
    guide = kb / "en" / "guide.yaml"
    text = guide.read_text()
    marker = "    questions:\n"
    at = text.index(marker) + len(marker)
    bomb = f"      - &big {'x' * chars}\n" + "      - *big\n" * 100_000
    guide.write_text(text[:at] + bomb + text[at:])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    problems = _problems(kb)
    elapsed = time.perf_counter() - started
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    line = text[:at].count("\n")
    where = "guide.yaml:" + expected.format(after=line + 1)  # the list's first item
    assert any(where in p for p in problems), problems
    assert elapsed < 5, elapsed
    assert grown_mb < 300, grown_mb


def test_nested_alias_bomb_is_refused(tmp_path):
    kb = _copy(tmp_path)
    layers = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        layers.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    (kb / "en" / "smalltalk.yaml").write_text("\n".join(layers) + "\n")
    problems = _problems(kb)
    assert any("smalltalk.yaml:" in p and "expands to" in p for p in problems), problems


def test_oversize_file_is_refused_before_reading(tmp_path):
    kb = _copy(tmp_path)
    guide = kb / "en" / "guide.yaml"
    with guide.open("a") as out:
        out.write("#" * 3_000_000 + "\n")
    assert any("guide.yaml: file is" in p for p in _problems(kb))


# --- the optional shapes -------------------------------------------------------------------

SMALLTALK = """smalltalk:
  - id: greeting
    examples: [hi, hello, hey there, good morning]
    reply: "Hi! I help you delete your AliExpress account. Ask me anything."
  - id: thanks
    examples: [thanks, thank you, cheers]
    reply: You're welcome.
"""

REFUSALS = """refusals:
  - id: other_site
    reply: I only know AliExpress's process.
    examples: [how long does vinted take to delete an account, close my ebay account]
"""


def test_smalltalk_and_refusals_load_and_translations_complete_from_base(tmp_path):
    kb = _copy(tmp_path, ("en", "es"))
    (kb / "en" / "smalltalk.yaml").write_text(SMALLTALK)
    guide = kb / "en" / "guide.yaml"
    guide.write_text(guide.read_text() + REFUSALS)
    (kb / "es" / "smalltalk.yaml").write_text(
        "smalltalk:\n  - id: greeting\n    examples: [hola, buenas]\n"
    )
    knowledge = load_knowledge(kb)
    base = knowledge.base
    assert [(t.id, t.examples[0]) for t in base.smalltalk] == [
        ("greeting", "hi"),
        ("thanks", "thanks"),
    ]
    assert base.refusals[0].id == "other_site"
    assert base.refusals[0].examples[1] == "close my ebay account"
    es = knowledge.pack("es")
    assert es.smalltalk[0].examples == ("hola", "buenas")
    assert es.smalltalk[0].reply == base.smalltalk[0].reply  # inherited
    assert es.smalltalk[1].examples == () and es.smalltalk[1].reply == "You're welcome."
    assert es.refusals[0].reply == base.refusals[0].reply
    warnings = [str(w) for w in knowledge.warnings]
    assert any("smalltalk 'greeting' has no translated reply" in w for w in warnings), warnings
    assert any("smalltalk 'thanks' is not translated" in w for w in warnings)
    assert any("refusal 'other_site' is not translated" in w for w in warnings)


def test_smalltalk_and_refusal_faults_are_located(tmp_path, knowledge):
    kb = _copy(tmp_path)
    question = knowledge.base.entries["processing_time"].questions[0]
    (kb / "en" / "smalltalk.yaml").write_text(
        "smalltalk:\n"
        "  - id: Greeting\n"
        "    examples: [hi]\n"
        "    reply: hello\n"
        "  - id: thanks\n"
        "    examplez: [thanks, thank you, cheers]\n"
        "    reply: ''\n"
    )
    guide = kb / "en" / "guide.yaml"
    text = guide.read_text()
    guide.write_text(text + f"refusals:\n  - id: other\n    examples: [{question}]\n")
    refusal_line = text.count("\n") + 2
    problems = _problems(kb)
    assert any("smalltalk.yaml:2: " in p and "'Greeting' must be lowercase" in p for p in problems)
    assert any("smalltalk.yaml:6: " in p and "did you mean 'examples'" in p for p in problems)
    assert any(
        "smalltalk.yaml:5: " in p and "missing required key 'examples'" in p for p in problems
    )
    assert any("smalltalk.yaml:7: " in p and "'reply' is empty" in p for p in problems), problems
    assert any(
        f"guide.yaml:{refusal_line + 1}: " in p and "is also a question of 'processing_time'" in p
        for p in problems
    ), problems
    assert any(
        f"guide.yaml:{refusal_line}: " in p and "missing required key 'reply'" in p
        for p in problems
    ), problems


def test_smalltalk_needs_three_examples_in_the_base_language(tmp_path):
    kb = _copy(tmp_path)
    (kb / "en" / "smalltalk.yaml").write_text(
        "smalltalk:\n  - id: greeting\n    examples: [hi, hello]\n    reply: Hi!\n"
    )
    assert any("smalltalk.yaml:3: " in p and "at least 3" in p for p in _problems(kb))


def test_long_command_description_is_not_the_validators_business(tmp_path):
    kb = _copy(tmp_path)
    ui = kb / "en" / "ui.yaml"
    long = "Erase everything stored about me " * 5
    ui.write_text(
        ui.read_text().replace("forget: Erase everything stored about me", f"forget: {long}")
    )
    assert load_knowledge(kb).command_descriptions()["forget"] == long.strip()


def test_option_texts_are_required_for_every_registry_option(tmp_path):
    from bot.commands import REGISTRY

    kb = _copy(tmp_path)
    ui = kb / "en" / "ui.yaml"
    ui.write_text(
        "\n".join(x for x in ui.read_text().splitlines() if not x.startswith("option_topic:"))
    )
    assert "topic" in REGISTRY.option_names()
    assert any("missing interface string 'option_topic'" in p for p in _problems(kb))
