"""The on-disk index cache (bot/cache.py): used when it holds this exact knowledge base,
ignored and rebuilt when stale, damaged, truncated or not the user's own; never answers
differently from a fresh load."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot import cache
from bot.knowledge import default_path, load_knowledge
from bot.matcher import Matcher

QUESTIONS = ["how long does deletion take", "¿cuánto tarda?", "close my etsy account", "wallet"]


@pytest.fixture()
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HELPBOT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HELPBOT_INDEX_CACHE", raising=False)
    knowledge = tmp_path / "knowledge"
    shutil.copytree(default_path(), knowledge)
    return knowledge


def answers(knowledge: object) -> list[str]:
    matcher = Matcher(knowledge, semantic=False)  # type: ignore[arg-type]
    return [repr(matcher.match(q)) for q in QUESTIONS]


def only_file(tmp_path: Path) -> Path:
    files = list((tmp_path / "cache").glob("index-*.pickle"))
    assert len(files) == 1, files
    return files[0]


def test_second_load_comes_from_the_cache_and_answers_the_same(
    folder: Path, tmp_path: Path
) -> None:
    fresh = cache.load_knowledge_cached(folder)
    file = only_file(tmp_path)
    assert oct(file.stat().st_mode & 0o777) == "0o600"
    cached = cache.read(file, cache.knowledge_key(folder))
    assert cached is not None and "matcher:" + repr(Matcher(fresh).t) in cached.prepared
    assert answers(cached) == answers(fresh)
    assert answers(cache.load_knowledge_cached(folder)) == answers(fresh)


def test_an_edited_guide_makes_a_new_key_and_replaces_the_old_file(
    folder: Path, tmp_path: Path
) -> None:
    cache.load_knowledge_cached(folder)
    old = only_file(tmp_path)
    guide = folder / "en" / "guide.yaml"
    guide.write_text(
        guide.read_text(encoding="utf-8").replace(
            "How long does deletion take?", "How long does removal take?", 1
        ),
        encoding="utf-8",
    )
    knowledge = cache.load_knowledge_cached(folder)
    new = only_file(tmp_path)
    assert new != old and not old.exists()
    assert knowledge.entry("processing_time").title == "How long does removal take?"


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:40] + bytes([data[40] ^ 0xFF]) + data[41:],  # one byte flipped
        lambda data: b"",  # empty
        lambda data: b"not a cache file at all",
    ],
)
def test_a_damaged_file_is_ignored_and_rewritten(folder: Path, tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    fresh = answers(cache.load_knowledge_cached(folder))
    file = only_file(tmp_path)
    good = file.read_bytes()
    file.write_bytes(damage(good))
    assert cache.read(file, cache.knowledge_key(folder)) is None
    assert answers(cache.load_knowledge_cached(folder)) == fresh
    assert file.read_bytes() == good  # rebuilt


def test_a_file_writable_by_others_is_not_loaded(folder: Path, tmp_path: Path) -> None:
    cache.load_knowledge_cached(folder)
    file = only_file(tmp_path)
    os.chmod(file, 0o666)
    assert cache.read(file, cache.knowledge_key(folder)) is None


def test_a_file_for_another_key_is_not_used(folder: Path, tmp_path: Path) -> None:
    cache.load_knowledge_cached(folder)
    file = only_file(tmp_path)
    assert cache.read(file, "0" * 64) is None


def block_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the cache at a folder that cannot be made (its parent is a file)."""
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    monkeypatch.setenv("HELPBOT_CACHE", str(blocker / "cache"))


def builds_here(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The knowledge folders this process builds an index of from now on (in order)."""
    built: list[Path] = []
    real_build = cache._build
    monkeypatch.setattr(cache, "_build", lambda root: built.append(root) or real_build(root))
    return built


def test_an_unwritable_cache_folder_only_costs_time(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block_the_cache(tmp_path, monkeypatch)
    assert answers(cache.load_knowledge_cached(folder)) == answers(
        cache.load_knowledge_cached(folder)
    )


def test_switched_off(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPBOT_INDEX_CACHE", "0")
    cache.load_knowledge_cached(folder)
    assert not (tmp_path / "cache").exists()


def test_the_engine_tables_are_cached_with_the_index(folder: Path, tmp_path: Path) -> None:
    """Signals, walkthrough words and follow-up phrases are built once, stored in the cache
    file, and equal to what a fresh load builds."""
    from bot.signals import Signals
    from bot.walkthrough import FollowUps, Words

    cache.load_knowledge_cached(folder)
    cached = cache.read(only_file(tmp_path), cache.knowledge_key(folder))
    assert cached is not None
    assert {"signals", "words", "followups"} <= set(cached.prepared)
    fresh = load_knowledge(folder)
    assert Signals(fresh)._signals == Signals(cached)._signals
    assert Signals(fresh)._talk == Signals(cached)._talk
    assert Words(fresh).tables == Words(cached).tables
    assert set(FollowUps(fresh).phrases) == set(FollowUps(cached).phrases)


def test_a_bot_reads_an_index_a_child_process_built(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`apart=True` (the platform bots): on a miss a child process builds and writes the
    cache, and this process only reads it (its heap is not fragmented by the build)."""
    expected = answers(load_knowledge(folder))
    built_here = builds_here(monkeypatch)
    loaded = cache.load_knowledge_cached(folder, apart=True)
    assert built_here == []
    assert only_file(tmp_path).exists()
    assert "language_words" in loaded.prepared
    assert answers(loaded) == expected


def test_a_cache_that_cannot_be_written_leaves_the_build_here(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No child process is started for a cache it could not write (a read-only home)."""
    block_the_cache(tmp_path, monkeypatch)
    built_here = builds_here(monkeypatch)
    monkeypatch.setattr(cache, "_build_in_child", lambda root: pytest.fail("child started"))
    assert answers(cache.load_knowledge_cached(folder, apart=True)) == answers(
        load_knowledge(folder)
    )
    assert built_here == [folder]


def test_a_child_that_fails_leaves_the_build_here(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child that exits without writing (here: the cache switched off in it only)."""
    built_here = builds_here(monkeypatch)
    real_run = subprocess.run

    def run_without_cache(command: list[str], **options: Any) -> Any:
        return real_run(command, env={**os.environ, "HELPBOT_INDEX_CACHE": "0"}, **options)

    monkeypatch.setattr(subprocess, "run", run_without_cache)
    assert answers(cache.load_knowledge_cached(folder, apart=True)) == answers(
        load_knowledge(folder)
    )
    assert built_here == [folder]
    assert only_file(tmp_path).exists()  # written here instead


def test_a_broken_guide_built_apart_still_reports_its_problems(folder: Path) -> None:
    from bot.knowledge import KnowledgeError

    guide = folder / "en" / "guide.yaml"
    guide.write_text(guide.read_text(encoding="utf-8") + "\n  - [unclosed\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as raised:
        cache.load_knowledge_cached(folder, apart=True)
    assert any("guide.yaml" in str(problem) for problem in raised.value.problems)
