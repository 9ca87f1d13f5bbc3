"""The matcher answers when it knows, offers choices when unsure, and refuses what it doesn't cover."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.evaluate import evaluate
from bot.matcher import Matcher
from bot.text import MAX_INPUT_CHARS, normalize

QUESTIONS = Path(__file__).parent / "questions" / "tuning" / "en.yaml"

# Floors measured on the held-out set (see the README's "Answer quality" section); a change
# that drops below them makes the bot worse for people and must not land unnoticed.
MIN_ACCURACY = 0.95
MAX_WRONG = 2
MIN_REJECTION = 0.97


def test_question_set_is_big_enough_and_covers_every_entry(knowledge):
    import yaml

    data = yaml.safe_load(QUESTIONS.read_text())
    assert sum(len(v) for v in data["in_scope"].values()) >= 150
    assert len(data["out_of_scope"]) >= 40
    assert set(data["in_scope"]) == set(knowledge.base.entries)


def test_no_word_of_the_shipped_guide_is_crowded(knowledge):
    """Crowding (bot/lexical.py) is for speed on large bases; on the shipped guide a word that
    crosses the line changes answers ("my aliexpress" became a confident deletion answer when
    "aliexpress" reached 2,018 phrasings against a line of 2,000). A data round that gets near
    the line fails here, where it can be seen, instead of moving answers silently."""
    lexical = Matcher(knowledge, semantic=False).lexical
    busiest = max(lexical._doc_count, key=lambda word: lexical._doc_count[word])
    assert lexical._doc_count[busiest] <= 0.9 * lexical._crowded, busiest


def test_accuracy_and_rejection_floors(knowledge):
    report = evaluate(knowledge, QUESTIONS)
    assert report.accuracy >= MIN_ACCURACY, report.confusions
    assert report.wrong <= MAX_WRONG, [
        c for c in report.confusions if not str(c["got"]).startswith("(")
    ]
    assert report.rejection >= MIN_REJECTION, report.confusions


def test_issue_examples(knowledge):
    matcher = Matcher(knowledge)
    assert (
        matcher.match("how long until aliexpress finishes closing my account").entry_id
        == "processing_time"
    )
    assert not matcher.match("where is my parcel").matched
    assert not matcher.match("close my etsy account").matched


def test_suggest_band_offers_at_most_three(knowledge):
    matcher = Matcher(knowledge)
    for question in ("account", "aliexpress delete what", "money history"):
        answer = matcher.match(question)
        assert len(answer.suggestions) <= 3
        assert not (answer.matched and answer.suggestions)


def test_normalisation():
    assert normalize("Hoooow   do I DELETE my account?? 😭") == "how do i delete my account"
    assert normalize("Désactiver  <b>&amp;</b>") == "desactiver b amp b"
    assert len(normalize("x" * 10 * MAX_INPUT_CHARS)) <= MAX_INPUT_CHARS


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000))
def test_no_input_makes_it_raise(knowledge, text):
    answer = (
        Matcher(knowledge).match(text) if len(text) % 7 == 0 else _shared(knowledge).match(text)
    )
    assert 0.0 <= answer.score <= 1.0 + 1e-9


_MATCHER: list[Matcher] = []


def _shared(knowledge) -> Matcher:
    if not _MATCHER:
        _MATCHER.append(Matcher(knowledge))
    return _MATCHER[0]


def test_awkward_inputs(knowledge):
    matcher = _shared(knowledge)
    for text in (
        "",
        "   ",
        "\x00\x01\x02",
        "🙂" * 5000,
        "<script>alert(1)</script>",
        "a" * 100_000,
        "????",
        "\u202e\u200b",
    ):
        assert not matcher.match(text).matched


def test_ask_json_and_stdin_mode():
    one = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "ask",
            "--json",
            "how long until aliexpress finishes closing my account",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    data = json.loads(one.stdout)
    assert (
        data["matched"] is True and data["id"] == "processing_time" and "24 hours" in data["answer"]
    )
    assert set(data) >= {"matched", "id", "title", "score", "answer", "suggestions"}
    many = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", "-"],
        input="where is my parcel\nclose my etsy account\nwallet money\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    rows = [json.loads(line) for line in many.stdout.splitlines()]
    assert [r["matched"] for r in rows] == [False, False, True]
    assert rows[0]["id"] is None and rows[0]["answer"]


def test_eval_command_reports_and_gates(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "bot", "eval", str(QUESTIONS), "--limit", "3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0 and "accuracy" in run.stdout and "en " in run.stdout
    strict = subprocess.run(
        [sys.executable, "-m", "bot", "eval", str(QUESTIONS), "--min-accuracy", "99.9"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert strict.returncode == 1
    # Issue 9.9: the missed floor is named, with the file's set and language.
    assert "tuning/en: accuracy" in strict.stderr and "--min-accuracy 99.9%" in strict.stderr


def _eval(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "eval", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_eval_floors_are_percentages_with_one_clear_unit():
    """Issue 9.9: `99` means 99%, not a share that always fails; a fraction is refused."""
    passing = _eval(
        str(QUESTIONS), "--min-accuracy", "90", "--min-rejection", "90%", "--limit", "0"
    )
    assert passing.returncode == 0, passing.stderr
    fraction = _eval(str(QUESTIONS), "--min-accuracy", "0.9")
    assert fraction.returncode == 2 and "percentage" in fraction.stderr
    too_big = _eval(str(QUESTIONS), "--min-rejection", "120")
    assert too_big.returncode == 2 and "between 0 and 100" in too_big.stderr


def test_eval_malformed_question_file_names_file_and_line(tmp_path):
    """Issue 9.9: a YAML error is one line with file and line, not PyYAML's '<unicode string>'."""
    bad = tmp_path / "en.yaml"
    bad.write_text("in_scope:\n  delete_account:\n    - how do i delete\n   - bad indent\n")
    run = _eval(str(bad))
    assert run.returncode == 2
    assert f"{bad}:4" in run.stderr and "<unicode string>" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    typo = tmp_path / "typo.yaml"
    typo.write_text("in_scope:\n  delete_account: [delete my account]\nout_of_scop:\n  - hi\n")
    run = _eval(str(typo))
    assert run.returncode == 2 and f"{typo}:3" in run.stderr and "out_of_scop" in run.stderr


def test_eval_sets_side_by_side_with_smalltalk_and_confident_wrong(tmp_path, knowledge):
    from bot.evaluate import evaluate as evaluate_file

    one, two = tmp_path / "tuning", tmp_path / "blind_x"
    one.mkdir()
    two.mkdir()
    (one / "en.yaml").write_text(
        "in_scope:\n  delete_account: [how do i delete my aliexpress account]\n"
        "out_of_scope: [close my etsy account]\nsmalltalk: [thanks]\n"
    )
    (two / "en.yaml").write_text(
        "in_scope:\n  delete_account: [how long does deletion take]\n"
        "smalltalk: [how do i delete my aliexpress account]\n"
    )
    report = evaluate_file(knowledge, two / "en.yaml")
    assert report.set_name == "blind_x" and report.smalltalk == 1
    # A wrong entry for an in-scope question and an entry for small talk are both confident wrong.
    assert report.wrong == 1 and report.smalltalk_kept == 0 and report.confident_wrong == 2
    run = _eval(str(one), str(two), "--limit", "0")
    assert run.returncode == 0, run.stderr
    header = next(line for line in run.stdout.splitlines() if line.startswith("lang"))
    assert "tuning" in header and "blind_x" in header
    assert "c-wrong" in run.stdout
    data = json.loads(_eval(str(one), str(two), "--json").stdout)
    assert [(d["set_name"], d["confident_wrong"]) for d in data] == [("tuning", 0), ("blind_x", 2)]


def test_search_completes_a_half_typed_last_word(knowledge):
    matcher = _shared(knowledge)
    assert matcher.search("wal", 5)[0].id == "wallet_funds"
    assert matcher.search("how long does it ta", 5)[0].id == "processing_time"
    assert matcher.search("кош", 5, "ru")[0].id == "wallet_funds"
    assert len(matcher.search("dele", 25)) <= 25
    assert matcher.search("zzzzqx", 5) == []


def test_ask_survives_a_closed_pipe():
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "ask", "--json", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdin.write("wallet\n" * 2000)
    proc.stdin.close()
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in proc.stderr.read()


def test_invisible_format_characters_do_not_split_words(knowledge):
    """Issue 9.21: a zero-width space, joiner, soft hyphen or bidi mark inside a word."""
    assert normalize("del\u200beti\u200bon") == "deletion"
    assert normalize("de\u00adlete my acc\u200dount\u200e") == "delete my account"
    assert normalize("\ufeffdelete\u2060 account") == "delete account"
    matcher = Matcher(knowledge)
    plain = matcher.match("how do i delete my account")
    hidden = matcher.match("how do i del\u200bete my acc\u200bount")
    assert plain.entry_id == "delete_account"
    assert hidden.entry_id == plain.entry_id


def test_long_message_is_read_clause_by_clause(knowledge):
    """Issue 11.4: the question inside a story is answered; a story with no question is not."""
    from bot.text import clauses, is_question_like

    story = (
        "my last three orders came late and customer service never replied, honestly "
        "I'm done, so how do I close the whole thing?"
    )
    assert clauses(story)[-1] == "so how do I close the whole thing?"
    assert is_question_like("so how do I close the whole thing?")
    assert not is_question_like("I sent them back.")
    matcher = Matcher(knowledge)
    assert matcher.match(story).entry_id == "delete_account"
    no_question = "I ordered shoes last week. They were too small. I sent them back to the seller."
    assert not matcher.match(no_question).matched
    # An off-topic question inside a story keeps the refusal.
    assert not matcher.match("I love this shop. Anyway, where is my parcel?").matched


def test_refusal_signals_name_the_kind_and_yield_to_the_own_site(knowledge):
    """guide.yaml `signals:`: a named other site or a break-in is refused with its kind, in any
    language, whatever else the question says; naming AliExpress too lifts the site signal."""
    m = _shared(knowledge)
    for question, lang in [
        ("how do I delete my Jumia account", "en"),
        ("reset my amazon password", "en"),
        ("how long does vinted take to delete an account", "en"),
        ("comment supprimer mon compte leboncoin", "fr"),
        ("забыл пароль от госуслуг", "ru"),
        ("как удалить аккаунт на озоне", "ru"),
        ("how do i delete my discord account", "en"),
        ("how do i close my bank account", "en"),
    ]:
        answer = m.match(question, lang)
        assert (answer.entry_id, answer.refusal) == (None, "other_site"), question
    for question, lang in [
        ("my account is locked", "en"),
        ("someone broke into my account, what do i do", "en"),
        ("mi cuenta fue hackeada", "es"),
        ("мой аккаунт взломали", "ru"),
    ]:
        answer = m.match(question, lang)
        assert (answer.entry_id, answer.refusal) == (None, "hacked"), question
    moving = m.match("I'm moving to Amazon, so how do I close my AliExpress account?")
    assert moving.refusal is None
    assert "delete_account" in [moving.entry_id, *(s.id for s in moving.suggestions)]
    assert m.match("I wish to delete my account").refusal is None  # "wish" alone is no site


def test_a_number_is_a_step_number_only_beside_a_word_for_step(knowledge):
    matcher = Matcher(knowledge, semantic=False)
    for question, lang in (("step 2", "en"), ("2nd step", "en"), ("paso 2", "es"), ("шаг 2", "ru")):
        assert matcher.match(question, lang).entry_id == "step_settings", question
    for question in ("what's 2+2", "2", "what is 2"):
        assert matcher.match(question).entry_id != "step_settings", question
