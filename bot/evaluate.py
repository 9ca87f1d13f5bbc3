"""`helpbot eval`: answer quality on question sets, so a knowledge edit can be checked first.

A question file is YAML: `in_scope: {entry_id: [questions]}`, `out_of_scope: [questions]`, an
optional `smalltalk: [messages]` (greetings, thanks...: must not get a guide entry) and an
optional `lang:`. Accuracy counts only confident answers with the right entry (a "did you mean"
is not an answer); rejection counts out-of-scope questions that got no answer. A *confident
wrong* answer is the worst outcome: a guide entry given for the wrong in-scope question, for an
out-of-scope question or for small talk.

Files are grouped into *sets* by their folder (`tests/questions/tuning/en.yaml` is set `tuning`,
language `en`): the tuning set is what thresholds and data are tuned on, blind sets
(`tests/questions/blind_*/`) are only scored to report, and the table puts them side by side.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bot.knowledge import Knowledge
from bot.matcher import Matcher
from bot.yamlfile import Problem, line_of, load_yaml


@dataclass
class Report:
    lang: str
    set_name: str = ""
    in_scope: int = 0
    correct: int = 0
    suggested: int = 0  # right entry among the "did you mean" suggestions
    wrong: int = 0  # a confident answer with the wrong entry: the worst outcome
    unanswered: int = 0
    out_of_scope: int = 0
    rejected: int = 0
    smalltalk: int = 0
    smalltalk_kept: int = 0  # small talk that got no guide entry
    smalltalk_right: int = 0  # small talk that got a small-talk reply (not the refusal)
    confusions: list[dict[str, object]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.in_scope if self.in_scope else 0.0

    @property
    def rejection(self) -> float:
        return self.rejected / self.out_of_scope if self.out_of_scope else 0.0

    @property
    def confident_wrong(self) -> int:
        """Guide entries given where they were wrong: in scope, out of scope or small talk."""
        return (
            self.wrong
            + (self.out_of_scope - self.rejected)
            + (self.smalltalk - self.smalltalk_kept)
        )

    @property
    def questions(self) -> int:
        return self.in_scope + self.out_of_scope + self.smalltalk


class QuestionSetError(ValueError):
    pass


@dataclass(frozen=True)
class QuestionSet:
    lang: str
    in_scope: dict[str, list[str]]
    out_of_scope: list[str]
    smalltalk: list[str]


def load_question_set(path: Path) -> QuestionSet:
    """Read one question file; every fault is a `QuestionSetError` naming file and line."""
    problems: list[Problem] = []
    try:
        data = load_yaml(path, problems)
    except OSError as error:
        raise QuestionSetError(f"{path}: cannot read: {error.strerror or error}") from None
    except Problem as problem:
        raise QuestionSetError(str(problem)) from None
    if problems:
        raise QuestionSetError(str(problems[0]))
    if not isinstance(data, dict):
        raise QuestionSetError(
            f"{path}:1: expected a mapping with in_scope: {{entry_id: [questions]}}"
        )
    unknown = sorted(set(data) - {"lang", "in_scope", "out_of_scope", "smalltalk"})
    if unknown:
        raise QuestionSetError(
            f"{path}:{line_of(data, unknown[0]) or 1}: unknown key '{unknown[0]}' "
            "(expected lang, in_scope, out_of_scope, smalltalk)"
        )
    raw_in = data.get("in_scope") or {}
    if not isinstance(raw_in, dict):
        raise QuestionSetError(
            f"{path}:{line_of(data, 'in_scope') or 1}: in_scope must map entry ids to lists of questions"
        )
    in_scope: dict[str, list[str]] = {}
    for key, value in raw_in.items():
        in_scope[str(key)] = _strings(path, raw_in, key, value)
    return QuestionSet(
        lang=str(data.get("lang") or "en"),
        in_scope=in_scope,
        out_of_scope=_strings(path, data, "out_of_scope", data.get("out_of_scope")),
        smalltalk=_strings(path, data, "smalltalk", data.get("smalltalk")),
    )


def _strings(path: Path, container: object, key: str, value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or any(isinstance(v, (dict, list)) for v in value):
        raise QuestionSetError(
            f"{path}:{line_of(container, key) or 1}: '{key}' must be a list of texts"
        )
    return [str(v) for v in value]


def evaluate(
    knowledge: Knowledge, path: Path, matcher: Matcher | None = None, set_name: str = ""
) -> Report:
    """The figures of one question file against `knowledge` (its matcher, when given)."""
    qs = load_question_set(path)
    matcher = matcher or Matcher(knowledge)
    unknown = sorted(set(qs.in_scope) - set(knowledge.base.entries))
    if unknown:
        raise QuestionSetError(
            f"{path}: no such entries in the knowledge base: {', '.join(unknown)}"
        )
    report = Report(lang=qs.lang, set_name=set_name or path.parent.name)
    _score_in_scope(report, matcher, qs)
    _score_out_of_scope(report, matcher, qs)
    _score_smalltalk(report, matcher, qs)
    return report


def _confusion(question: str, expected: str, got: str, score: float) -> dict[str, object]:
    return {"question": question, "expected": expected, "got": got, "score": round(score, 3)}


def _score_in_scope(report: Report, matcher: Matcher, qs: QuestionSet) -> None:
    """Questions with an expected entry: right, among the suggestions, wrong or unanswered."""
    for expected, questions in qs.in_scope.items():
        for question in questions:
            report.in_scope += 1
            answer = matcher.match(question, qs.lang)
            if answer.entry_id == expected:
                report.correct += 1
                continue
            if answer.entry_id is not None:
                report.wrong += 1
                outcome = answer.entry_id
            elif any(s.id == expected for s in answer.suggestions):
                report.suggested += 1
                outcome = "(did you mean: " + ", ".join(s.id for s in answer.suggestions) + ")"
            else:
                report.unanswered += 1
                outcome = "(fallback)"
            report.confusions.append(_confusion(question, expected, outcome, answer.score))


def _score_out_of_scope(report: Report, matcher: Matcher, qs: QuestionSet) -> None:
    """Questions the guide does not cover: rejected, or answered with an entry (a confusion)."""
    for question in qs.out_of_scope:
        report.out_of_scope += 1
        answer = matcher.match(question, qs.lang)
        if answer.entry_id is None:
            report.rejected += 1
        else:
            report.confusions.append(
                _confusion(question, "(out of scope)", answer.entry_id, answer.score)
            )


def _score_smalltalk(report: Report, matcher: Matcher, qs: QuestionSet) -> None:
    """Small talk: kept away from guide entries, and right when it got a small-talk reply."""
    for question in qs.smalltalk:
        report.smalltalk += 1
        answer = matcher.match(question, qs.lang)
        if answer.entry_id is None:
            report.smalltalk_kept += 1
            report.smalltalk_right += answer.smalltalk is not None
            if answer.smalltalk is None:
                got = "(refusal)" if answer.refusal else "(fallback)"
                report.confusions.append(_confusion(question, "(small talk)", got, answer.score))
        else:
            report.confusions.append(
                _confusion(question, "(small talk)", answer.entry_id, answer.score)
            )


def percentage(text: str) -> float:
    """argparse type for a floor given in percent: `95`, `97.5` or `95%` (0-100)."""
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a percentage (e.g. 95)") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 100 (percent, e.g. 95)")
    if 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"{text} looks like a fraction; floors are percentages (e.g. {value * 100:g})"
        )
    return value


def question_files(paths: list[Path]) -> list[tuple[str, Path]]:
    """(set name, file) for each argument: a folder stands for its *.yaml files, named after
    the folder; a file's set is its folder's name."""
    found: list[tuple[str, Path]] = []
    for path in paths:
        if path.is_dir():
            files = sorted(path.glob("*.yaml"))
            if not files:
                raise QuestionSetError(f"{path}: no *.yaml question files in this folder")
            found += [(path.name, f) for f in files]
        else:
            found.append((path.parent.name, path))
    return found


def run_eval(
    knowledge: Knowledge,
    paths: list[Path],
    as_json: bool,
    limit: int,
    min_accuracy: float | None = None,
    min_rejection: float | None = None,
    matcher: Matcher | None = None,
) -> int:
    """Print the figures of every question file (sets side by side); `min_accuracy` and
    `min_rejection` are floors in percent, and each one missed is named on stderr (exit 1)."""
    matcher = matcher or Matcher(knowledge)
    reports: list[Report] = []
    try:
        for set_name, path in question_files(paths):
            reports.append(evaluate(knowledge, path, matcher, set_name))
    except QuestionSetError as error:
        print(f"helpbot eval: {error}", file=sys.stderr)
        return 2
    if as_json:
        print(_as_json(reports))
    else:
        print(format_table(reports))
        _print_confusions(reports, limit)
    missed = _missed_floors(reports, min_accuracy, min_rejection)
    for line in missed:
        print(f"helpbot eval: {line}", file=sys.stderr)
    return 1 if missed else 0


def _as_json(reports: list[Report]) -> str:
    return json.dumps(
        [
            {
                **asdict(r),
                "accuracy": round(r.accuracy, 4),
                "rejection": round(r.rejection, 4),
                "confident_wrong": r.confident_wrong,
            }
            for r in reports
        ],
        ensure_ascii=False,
        indent=2,
    )


def _print_confusions(reports: list[Report], limit: int) -> None:
    """The first `limit` confusions of every set, after a count of each kind."""
    confusions = [c | {"lang": r.lang, "set": r.set_name} for r in reports for c in r.confusions]
    if not confusions or limit <= 0:
        return
    kinds = Counter(
        "wrong answer"
        if not str(c["got"]).startswith("(")
        else str(c["got"]).split(":")[0].strip("()")
        for c in confusions
    )
    print(
        f"\nConfusions ({', '.join(f'{n} {k}' for k, n in kinds.most_common())}), first {min(limit, len(confusions))}:"
    )
    for c in confusions[:limit]:
        print(
            f"  [{c['set']}/{c['lang']}] {c['question']!r}: expected {c['expected']}, got {c['got']} (score {c['score']})"
        )


def _missed_floors(
    reports: list[Report], min_accuracy: float | None, min_rejection: float | None
) -> list[str]:
    """One line per set and language below a floor given in percent (none given: none)."""
    missed: list[str] = []
    for r in reports:
        where = f"{r.set_name}/{r.lang}"
        if min_accuracy is not None and r.in_scope and 100 * r.accuracy < min_accuracy:
            missed.append(
                f"{where}: accuracy {r.accuracy:.1%} is below --min-accuracy {min_accuracy:g}%"
            )
        if min_rejection is not None and r.out_of_scope and 100 * r.rejection < min_rejection:
            missed.append(
                f"{where}: rejection {r.rejection:.1%} is below --min-rejection {min_rejection:g}%"
            )
    return missed


def format_table(reports: list[Report]) -> str:
    """One row per language, one column group per set (tuning and blind side by side)."""
    sets = list(dict.fromkeys(r.set_name for r in reports))
    langs = list(dict.fromkeys(r.lang for r in reports))
    by_key = {(r.set_name, r.lang): r for r in reports}
    lines = [
        "Per set: right = accuracy, confident answers with the right entry; dym = right entry offered as"
        " 'did you mean'; refused = out-of-scope questions not answered; talk = small talk that got"
        " a small-talk reply; c-wrong = confident wrong answers (wrong entry, or an entry for"
        " out-of-scope or small talk)."
    ]
    head = f"{'lang':<5}" + "".join(f" | {name[:39]:^39}" for name in sets)
    sub = f"{'':<5}" + "".join(
        f" | {'in':>4} {'right':>6} {'dym':>3} {'oos':>4} {'refused':>7} {'talk':>7} {'c-wrong':>7}"
        for _ in sets
    )
    lines += [head, sub]
    for lang in [*langs, "all"]:
        row = f"{lang:<5}"
        for name in sets:
            group = [by_key[(name, lang)]] if (name, lang) in by_key else []
            if lang == "all":
                group = [r for r in reports if r.set_name == name]
            if not group:
                row += f" | {'-':^39}"
                continue
            total = _sum(group)
            talk = f"{total.smalltalk_right}/{total.smalltalk}" if total.smalltalk else "-"
            row += (
                f" | {total.in_scope:>4} {total.accuracy:>6.1%} {total.suggested:>3}"
                f" {total.out_of_scope:>4} {total.rejection:>7.1%} {talk:>7} {total.confident_wrong:>7}"
            )
        lines.append(row)
    return "\n".join(lines)


def _sum(reports: list[Report]) -> Report:
    total = Report(lang="all", set_name=reports[0].set_name)
    for r in reports:
        for name in (
            "in_scope",
            "correct",
            "suggested",
            "wrong",
            "unanswered",
            "out_of_scope",
            "rejected",
            "smalltalk",
            "smalltalk_kept",
            "smalltalk_right",
        ):
            setattr(total, name, getattr(total, name) + getattr(r, name))
    return total
