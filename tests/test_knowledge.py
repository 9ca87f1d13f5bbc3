"""The loader accepts the shipped guide and reports every fault in a broken one, with its line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.knowledge import MIN_QUESTIONS, KnowledgeError, default_path, load_knowledge
from bot.text import normalize


def test_shipped_knowledge_is_complete(knowledge):
    base = knowledge.base
    required = {
        "delete_account",
        "what_is_aliexpress",
        "reasons_to_leave",
        "before_you_delete",
        "pending_orders",
        "order_history",
        "wallet_funds",
        "reopen_account",
        "step_login",
        "forgot_password",
        "step_settings",
        "step_deactivate",
        "step_reason",
        "step_submit",
        "processing_time",
    }
    assert required <= set(base.entries)
    for entry in base.entries.values():
        assert len(entry.questions) >= MIN_QUESTIONS, entry.id
        assert entry.answer.strip() and entry.title.strip()
    assert '"Deactivate my account"' in base.entries["step_deactivate"].answer
    assert "24 hours" in base.entries["processing_time"].answer
    assert "Forgot Password?" in base.entries["forgot_password"].answer
    walk = knowledge.walkthrough()
    assert [i.id for i in walk.checklist] == ["orders", "history", "wallet", "reopen"]
    assert len(walk.steps) == 5 and walk.steps[-1].warning


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(default_path() / "en", target / "en")
    return target


def _problems(path: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(path)
    return [str(p) for p in caught.value.problems]


def _typo_and_duplicate(lines: list[str]) -> tuple[int, int]:
    """Misspell the first 'title' key and make the third entry reuse the first id; return
    the two 0-based line numbers."""
    typo = next(i for i, line in enumerate(lines) if line.strip().startswith("title:"))
    lines[typo] = lines[typo].replace("title:", "titel:")
    ids = [i for i, line in enumerate(lines) if line.strip().startswith("- id:")]
    lines[ids[2]] = lines[ids[0]]
    return typo, ids[2]


def test_typo_key_duplicate_id_and_bad_indentation_each_reported_with_line(tmp_path):
    kb = _copy(tmp_path)
    guide = kb / "en" / "guide.yaml"
    lines = guide.read_text().splitlines()
    first_title, duplicate = _typo_and_duplicate(lines)
    guide.write_text("\n".join(lines) + "\n")
    problems = _problems(kb)
    assert any(
        f"guide.yaml:{first_title + 1}: " in p
        and "unknown key 'titel'" in p
        and "did you mean 'title'" in p
        for p in problems
    ), problems
    assert any(f"guide.yaml:{duplicate + 1}: " in p and "duplicate id" in p for p in problems), (
        problems
    )

    ui = kb / "en" / "ui.yaml"
    ui_lines = ui.read_text().splitlines()
    ui_lines.insert(3, "   badly: indented")
    ui.write_text("\n".join(ui_lines) + "\n")
    problems = _problems(kb)
    assert any("ui.yaml:" in p and "invalid YAML" in p for p in problems), problems


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda s: s.replace("related: [", "related: [no_such_entry, ", 1),
            "related entry 'no_such_entry' does not exist",
        ),
        (
            lambda s: s.replace("    answer: |", "    answer: ''\n    x_answer: |", 1),
            "'answer' is empty",
        ),
        (
            lambda s: s.replace("faq_topics: [", "faq_topics: [ghost, ", 1),
            "faq_topics: no entry 'ghost'",
        ),
    ],
)
def test_schema_faults_are_named(tmp_path, edit, expected):
    kb = _copy(tmp_path)
    guide = kb / "en" / "guide.yaml"
    guide.write_text(edit(guide.read_text()))
    assert any(expected in p for p in _problems(kb))


def test_same_question_under_two_entries_is_an_error(tmp_path, knowledge):
    kb = _copy(tmp_path)
    guide = kb / "en" / "guide.yaml"
    text = guide.read_text()
    stolen = knowledge.base.entries["wallet_funds"].questions[0]
    marker = "    questions:\n"
    at = text.index(marker, text.index("id: processing_time"))
    guide.write_text(
        text[: at + len(marker)] + f"      - {stolen.upper()}!!\n" + text[at + len(marker) :]
    )
    added = text[:at].count("\n") + 2  # the line just written
    lines = guide.read_text().splitlines()
    theirs = next(
        n for n, line in enumerate(lines, 1) if line.strip() in (f"- {stolen}", f'- "{stolen}"')
    )
    [duplicate] = [p for p in _problems(kb) if "is also a question of" in p]
    # named at the copy's own line, with the first copy's line (it was the entry's id line)
    assert f"guide.yaml:{added}: entry 'processing_time'" in duplicate, duplicate
    assert duplicate.endswith(f"is also a question of 'wallet_funds' (line {theirs})")


def test_duplicate_keys_are_not_silently_overwritten(tmp_path):
    kb = _copy(tmp_path)
    ui = kb / "en" / "ui.yaml"
    ui.write_text(ui.read_text() + "greeting: again\n")
    assert any("duplicate key 'greeting'" in p for p in _problems(kb))


def test_missing_ui_string_and_dangling_walkthrough_entry(tmp_path):
    kb = _copy(tmp_path)
    ui = kb / "en" / "ui.yaml"
    ui.write_text(
        "\n".join(line for line in ui.read_text().splitlines() if not line.startswith("cancelled:"))
        + "\n"
    )
    walk = kb / "en" / "walkthrough.yaml"
    walk.write_text(walk.read_text().replace("entry: step_reason", "entry: step_reasons"))
    problems = _problems(kb)
    assert any("missing interface string 'cancelled'" in p for p in problems)
    assert any("walkthrough.yaml:" in p and "'step_reasons' does not exist" in p for p in problems)


@pytest.mark.parametrize("name", ["guide.yaml", "walkthrough.yaml", "ui.yaml"])
@pytest.mark.parametrize("content", ["", "# only a comment\n"])
def test_an_empty_required_file_is_named(tmp_path, name, content):
    """An empty ui.yaml passed validate and the bot then crashed on a missing string; an
    empty walkthrough.yaml was blamed on guide.yaml."""
    kb = _copy(tmp_path)
    (kb / "en" / name).write_text(content)
    assert _problems(kb) == [f"{kb / 'en' / name}: empty: the base language needs " + {
        "guide.yaml": "its entries",
        "walkthrough.yaml": "the walkthrough",
        "ui.yaml": "every interface string",
    }[name]]  # fmt: skip


def test_no_question_duplicated_across_entries_in_shipped_guide(knowledge):
    owner: dict[str, str] = {}
    for entry in knowledge.base.entries.values():
        for question in entry.questions:
            assert owner.setdefault(normalize(question), entry.id) == entry.id


def test_validate_command_exit_codes(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "bot", "validate"], capture_output=True, text=True)
    assert (
        ok.returncode == 0
        and ok.stdout.startswith("OK:")
        and len(ok.stdout.strip().splitlines()) == 1
    )
    kb = _copy(tmp_path)
    (kb / "en" / "guide.yaml").write_text("entries:\n  - id: x\n   title: broken\n")
    bad = subprocess.run(
        [sys.executable, "-m", "bot", "validate", str(kb)], capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert "guide.yaml:3" in bad.stdout


def test_malformed_knowledge_never_starts_a_bot(tmp_path):
    kb = _copy(tmp_path)
    (kb / "en" / "ui.yaml").write_text("greeting: [unclosed\n")
    run = subprocess.run(
        [sys.executable, "-m", "bot", "--knowledge", str(kb), "chat", "--db", ":memory:"],
        input="hello\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "ui.yaml:" in run.stderr and "not starting" in run.stderr


def test_one_file_with_typo_duplicate_and_bad_indentation_reports_all_three(tmp_path):
    kb = _copy(tmp_path)
    guide = kb / "en" / "guide.yaml"
    lines = guide.read_text().splitlines()
    typo, duplicate = _typo_and_duplicate(lines)
    indent = next(
        i for i, line in enumerate(lines) if line.strip().startswith("keywords:") and i > duplicate
    )
    lines[indent] = "  " + lines[indent]
    guide.write_text("\n".join(lines) + "\n")
    run = subprocess.run(
        [sys.executable, "-m", "bot", "validate", str(kb)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    out = run.stdout.splitlines()
    assert any(f"guide.yaml:{indent + 1}: invalid YAML" in line for line in out), out
    assert any(f"guide.yaml:{typo + 1}: unknown key 'titel'" in line for line in out), out
    assert any(f"guide.yaml:{duplicate + 1}: duplicate id" in line for line in out), out
    assert len(out) == 3, out  # and no cascade of "entry does not exist" from walkthrough.yaml


def test_a_guide_without_topic_lists_offers_its_first_entries(tmp_path: Path) -> None:
    """/faq printed "Pick one:" with no buttons, and the fallback "These are the things I know
    about." with nothing under it, when a guide left the optional lists out."""
    folder = _copy(tmp_path)
    guide = folder / "en" / "guide.yaml"
    lines = guide.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(("faq_topics:", "fallback_topics:"))]
    assert len(kept) == len(lines) - 2
    guide.write_text("".join(kept), encoding="utf-8")
    knowledge = load_knowledge(folder)
    first = tuple(knowledge.base.entries)[:5]
    assert knowledge.base.faq_topics == first and knowledge.base.fallback_topics == first


def test_headers_may_count_the_steps_and_checks_or_not(tmp_path: Path) -> None:
    """The counts over /steps and /checklist were typed by hand and went stale unseen."""
    folder = _copy(tmp_path)
    ui = folder / "en" / "ui.yaml"
    text = ui.read_text(encoding="utf-8")
    assert "in {total} steps" in text
    ui.write_text(text.replace("in {total} steps", "in five steps"), encoding="utf-8")
    assert load_knowledge(folder).base.ui["steps_header"].endswith("in five steps**")
    ui.write_text(text.replace("in {total} steps", "in {count} steps"), encoding="utf-8")
    assert any("'steps_header': placeholders must be none (may use {total})" in p
               for p in _problems(folder))  # fmt: skip


def test_a_tab_in_the_yaml_is_named(tmp_path: Path) -> None:
    """PyYAML says "found character that cannot start any token"; the tab was the cause."""
    folder = _copy(tmp_path)
    guide = folder / "en" / "guide.yaml"
    text = guide.read_text(encoding="utf-8")
    guide.write_text(text.replace("\n  - id: what_is_aliexpress", "\n\t- id: what_is_aliexpress"))
    line = text[: text.index("\n  - id: what_is_aliexpress")].count("\n") + 2
    [problem] = _problems(folder)
    assert f"guide.yaml:{line}:" in problem and "tab" in problem and "spaces" in problem


def test_a_guide_written_before_newer_strings_still_loads(tmp_path: Path) -> None:
    """Strings added in an upgrade (UI_DEFAULTS) were 'missing' from an operator's own guide:
    it stopped validating, and the bot would not start."""
    from bot.schema import UI_DEFAULTS

    folder = _copy(tmp_path)
    ui = folder / "en" / "ui.yaml"
    lines = ui.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if line.split(":", 1)[0] not in UI_DEFAULTS]
    assert len(kept) == len(lines) - len(UI_DEFAULTS)
    ui.write_text("".join(kept), encoding="utf-8")
    knowledge = load_knowledge(folder)
    assert all(knowledge.base.ui[key] == text for key, text in UI_DEFAULTS.items())
