"""The vectorised word scoring a warmed-up bot uses (numpy) ranks exactly as the Python loop
that a one-shot `helpbot ask` uses: same entries, same scores, same order, same refusal."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.evaluate import load_question_set
from bot.knowledge import Knowledge
from bot.lexical import LexicalIndex, _Builder
from bot.matcher import Matcher
from bot.sessions import MemoryStore
from bot.text import normalize

SETS = Path(__file__).parent / "questions"


def tuning_questions() -> list[tuple[str, str]]:
    """(language, question) for every question of the tuning sets, in every language."""
    found = []
    for folder in ("tuning", "tuning_b"):
        for file in sorted((SETS / folder).glob("*.yaml")):
            qs = load_question_set(file)
            texts = [q for group in qs.in_scope.values() for q in group]
            found += [(qs.lang, q) for q in texts + qs.out_of_scope + qs.smalltalk]
    return found


def test_vectorised_scoring_ranks_like_the_python_loop(knowledge: Knowledge) -> None:
    pytest.importorskip("numpy")
    plain = LexicalIndex(knowledge, Matcher(knowledge, semantic=False).t)
    vectors = LexicalIndex(knowledge, plain.t)
    assert plain.large is None, "the shipped guide starts on the Python loop"
    assert vectors.use_vectors()
    questions = tuning_questions()
    assert len(questions) > 1500
    differ = []
    for lang, question in questions:
        for langs in (None, [lang], [lang, "en"]):
            a = plain._rank(question, frozenset(langs) if langs else None, plain.t)
            b = vectors._rank(question, frozenset(langs) if langs else None, vectors.t)
            if a != b:
                differ.append((question, langs, a, b))
    assert not differ, differ[:3]


def test_numpy_can_be_switched_off(knowledge: Knowledge, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPBOT_NUMPY", "0")
    index = LexicalIndex(knowledge, Matcher(knowledge, semantic=False).t)
    assert not index.use_vectors()
    assert index.large is None


async def test_a_bot_warming_up_switches_to_vectors(knowledge: Knowledge) -> None:
    pytest.importorskip("numpy")
    engine = Engine(knowledge, MemoryStore(), matcher=Matcher(knowledge, semantic=False))
    assert engine.matcher.lexical.large is None
    await engine.warm_up()
    assert engine.matcher.lexical.large is not None
    answer = engine.ask("how long does it take to delete my account", None)[0]
    assert answer.entry_id == "processing_time"


def test_very_common_words_rank_alike_on_both_paths(knowledge: Knowledge) -> None:
    """The shipped guide has no word past the crowding line (tests/test_matcher.py), so the
    paths large guides take are tried here with the line lowered: the Python loop reads each
    document's words (rebuilt from the postings, not cached on disk), numpy a membership mask
    from the merged postings; both must rank as before, alike."""
    pytest.importorskip("numpy")
    plain = LexicalIndex(knowledge, Matcher(knowledge, semantic=False).t)
    vectors = LexicalIndex(knowledge, plain.t)
    assert vectors.use_vectors()
    built = _Builder(knowledge, plain.t)
    assert plain._stems() == [doc.stems for doc in built._docs]
    plain._crowded = vectors._crowded = 150
    questions = tuning_questions()[::7]
    crowded = 0
    for lang, question in questions:
        allowed = frozenset([lang, "en"])
        a = plain._rank(question, allowed, plain.t)
        assert a == vectors._rank(question, allowed, vectors.t), question
        crowded += any(
            plain._doc_count[w] > 150
            for w in plain._read_words(plain.rewrite(normalize(question)))[0]
        )
    assert crowded > 50  # the crowded branch was taken, often


def test_postings_by_language_follow_one_another_in_id_order(knowledge: Knowledge) -> None:
    """`postings_in` hands out each language's postings one after the other, unmerged: that
    is the sorted merge only because a language's phrasings are numbered together, in the
    order of `_postings_by_lang`. Any language set, any word: strictly ascending."""
    index = LexicalIndex(knowledge, Matcher(knowledge, semantic=False).t)
    langs = list(index._postings_by_lang)
    assert len(langs) == 5
    subsets = [None, frozenset(langs), frozenset({"en"}), frozenset({"ru", "en"})]
    subsets += [frozenset({"pt", "es", "en"}), frozenset({"fr", "es"})]
    words = {word for table in index._postings_by_lang.values() for word in table}
    for langs_wanted in subsets:
        for word in words:
            ids = [i for part in index.postings_in(word, langs_wanted) for i in part]
            assert all(a < b for a, b in pairwise(ids)), (word, langs_wanted)
            every = [
                i
                for lang, table in index._postings_by_lang.items()
                if langs_wanted is None or lang in langs_wanted
                for i in table.get(word, ())
            ]
            assert ids == sorted(every)
