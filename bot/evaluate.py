"""`helpbot eval`: answer quality on a question set, so a knowledge edit can be checked first.

A question set is YAML: `in_scope: {entry_id: [questions]}`, `out_of_scope: [questions]` and an
optional `lang:`. Accuracy counts only confident answers with the right entry (a "did you mean"
is not an answer); rejection counts out-of-scope questions that got no answer.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from bot.knowledge import Knowledge
from bot.matcher import Matcher


@dataclass
class Report:
    lang: str
    in_scope: int = 0
    correct: int = 0
    suggested: int = 0  # right entry among the "did you mean" suggestions
    wrong: int = 0  # a confident answer with the wrong entry: the worst outcome
    unanswered: int = 0
    out_of_scope: int = 0
    rejected: int = 0
    confusions: list[dict[str, object]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.in_scope if self.in_scope else 0.0

    @property
    def rejection(self) -> float:
        return self.rejected / self.out_of_scope if self.out_of_scope else 0.0


class QuestionSetError(ValueError):
    pass


def load_question_set(path: Path) -> tuple[str, dict[str, list[str]], list[str]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise QuestionSetError(f"{path}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("in_scope", {}), dict):
        raise QuestionSetError(
            f"{path}: expected a mapping with in_scope: {{entry_id: [questions]}}"
        )
    in_scope = {
        str(k): [str(q) for q in (v or [])] for k, v in (data.get("in_scope") or {}).items()
    }
    out_of_scope = [str(q) for q in (data.get("out_of_scope") or [])]
    return str(data.get("lang") or "en"), in_scope, out_of_scope


def evaluate(knowledge: Knowledge, path: Path, matcher: Matcher | None = None) -> Report:
    lang, in_scope, out_of_scope = load_question_set(path)
    matcher = matcher or Matcher(knowledge)
    unknown = sorted(set(in_scope) - set(knowledge.base.entries))
    if unknown:
        raise QuestionSetError(
            f"{path}: no such entries in the knowledge base: {', '.join(unknown)}"
        )
    report = Report(lang=lang)
    for expected, questions in in_scope.items():
        for question in questions:
            report.in_scope += 1
            answer = matcher.match(question, lang)
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
            report.confusions.append(
                {
                    "question": question,
                    "expected": expected,
                    "got": outcome,
                    "score": round(answer.score, 3),
                }
            )
    for question in out_of_scope:
        report.out_of_scope += 1
        answer = matcher.match(question, lang)
        if answer.entry_id is None:
            report.rejected += 1
        else:
            report.confusions.append(
                {
                    "question": question,
                    "expected": "(out of scope)",
                    "got": answer.entry_id,
                    "score": round(answer.score, 3),
                }
            )
    return report


def run_eval(
    knowledge: Knowledge,
    paths: list[Path],
    as_json: bool,
    limit: int,
    min_accuracy: float | None = None,
    min_rejection: float | None = None,
) -> int:
    matcher = Matcher(knowledge)
    reports: list[Report] = []
    for path in paths:
        try:
            reports.append(evaluate(knowledge, path, matcher))
        except QuestionSetError as error:
            print(f"helpbot eval: {error}", file=sys.stderr)
            return 2
    if as_json:
        print(
            json.dumps(
                [
                    {
                        **asdict(r),
                        "accuracy": round(r.accuracy, 4),
                        "rejection": round(r.rejection, 4),
                    }
                    for r in reports
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(
            f"{'lang':<5} {'in-scope':>8} {'accuracy':>9} {'suggested':>9} {'wrong':>6} {'fallback':>8} {'out-of-scope':>12} {'rejected':>9}"
        )
        for r in reports:
            print(
                f"{r.lang:<5} {r.in_scope:>8} {r.accuracy:>9.1%} {r.suggested:>9} {r.wrong:>6} {r.unanswered:>8} {r.out_of_scope:>12} {r.rejection:>9.1%}"
            )
        confusions = [c | {"lang": r.lang} for r in reports for c in r.confusions]
        if confusions:
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
                    f"  [{c['lang']}] {c['question']!r}: expected {c['expected']}, got {c['got']} (score {c['score']})"
                )
    failed = any(
        (min_accuracy is not None and r.accuracy < min_accuracy)
        or (min_rejection is not None and r.out_of_scope and r.rejection < min_rejection)
        for r in reports
    )
    return 1 if failed else 0
