"""Search the matcher's thresholds and weights on the TUNING question set, with cross-validation.

    python -m bench.tune                      # tune on tests/questions/tuning
    python -m bench.tune --report tests/questions/blind_a   # also print blind figures

Three stages, each a grid search scored by
    utility = right answers + refused out-of-scope - PENALTY * confident wrong answers
(a confident wrong answer is worse than no answer, hence PENALTY > 1):

1. the lexical band edges (answer, margin, sure), with the semantic signal off;
2. with those fixed, the semantic fusion (sem_weight, sem_answer, sem_gap, sem_refusal_margin)
   on the questions the lexical matcher leaves unanswered (only they reach the model);
2b. with those fixed, sem_agree: the lower fused bar when the words alone, the model alone and
   the fusion all put the same entry first;
3. with those fixed, talk_sure: how close a small-talk example must be to win over an entry the
   words alone found (`--talk-only` keeps the current stage 1 and 2 values and runs only 2b and 3).

K-fold cross-validation (questions shuffled with a fixed seed) picks the best values on K-1
folds and scores them on the held-out fold, so the printed CV figure estimates how the chosen
values do on questions they were not chosen on. The final values are the best on the whole
tuning set. `--report` sets are scored with the chosen values *after* choosing, only to print:
nothing here ever reads them to choose.
"""

from __future__ import annotations

import argparse
import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

from bot.evaluate import load_question_set, question_files, run_eval
from bot.knowledge import load_knowledge
from bot.matcher import Evidence, Matcher, Ranking, Thresholds, fuse
from bot.types import Answer, Suggestion

ROOT = Path(__file__).resolve().parents[1]

PENALTY = 3.0
FOLDS = 5

# Strictest values first: on a tie the first best wins, so an unmeasured difference never buys
# a looser threshold (fewer answers, but no confident wrong answer the data cannot see).
LEXICAL_GRID = {
    "answer": [0.45, 0.40, 0.35],
    "margin": [0.04, 0.02, 0.0],
    "sure": [0.80, 0.70, 0.65],
}
SEMANTIC_GRID = {
    # No 1.01 (always ask the model): confident lexical answers must stay under 0.5 ms p50.
    # No 0.9 either: "how long does deletion take" (lexical 0.84) must be answered without
    # loading the model (tests/test_semantic.py); 0.9 was the CV choice when it was allowed.
    "sem_skip": [0.8, 0.7, 0.6],
    "sem_weight": [0.7, 0.6, 0.8, 0.5, 0.9],
    "sem_answer": [0.65, 0.60, 0.55, 0.50, 0.45],
    "sem_gap": [0.06, 0.04, 0.02, 0.01, 0.0],
    "sem_refusal_margin": [0.06, 0.04, 0.02, 0.0],
}
# Stage 3: how close a small-talk example must be to win over an entry the words found ("cya
# later" shares "later" with reopening). 1.01 (never) first: the stricter value wins a tie.
# Stage 2b: 1.01 (never) first, so the lower bar must win on the data to be chosen.
AGREE_GRID = {"sem_agree": [1.01, 0.45, 0.40]}
TALK_GRID = {"talk_sure": [1.01, 0.95, 0.9, 0.85, 0.8]}


@dataclass(frozen=True)
class Item:
    question: str
    lang: str
    expected: str | None  # None: must not get an entry (out of scope or small talk)


def load_items(paths: Sequence[Path]) -> list[Item]:
    items: list[Item] = []
    for _, path in question_files(list(paths)):
        qs = load_question_set(path)
        for entry_id, questions in qs.in_scope.items():
            items += [Item(q, qs.lang, entry_id) for q in questions]
        items += [Item(q, qs.lang, None) for q in (*qs.out_of_scope, *qs.smalltalk)]
    return items


def utility(outcomes: Sequence[tuple[Item, str | None]]) -> float:
    total = 0.0
    for item, got in outcomes:
        if got == item.expected:
            total += 1
        elif got is not None:
            total -= PENALTY
    return total


def _no_suggestion(entry_id: str, score: float, lang: str) -> Suggestion:
    return Suggestion(entry_id, "", score)


def grid(space: dict[str, list[float]]) -> Iterator[dict[str, float]]:
    names = list(space)
    for values in itertools.product(*(space[n] for n in names)):
        yield dict(zip(names, values, strict=True))


def cross_validate(
    items: list[Item],
    candidates: list[dict[str, float]],
    outcome: Callable[[dict[str, float], Item], str | None],
) -> tuple[dict[str, float], float, float]:
    """(best values on all items, CV utility per item, utility per item of the best)."""
    table = [[outcome(c, item) for item in items] for c in candidates]
    order = list(range(len(items)))
    random.Random(0).shuffle(order)
    folds = [order[k::FOLDS] for k in range(FOLDS)]

    def score(row: list[str | None], idx: Sequence[int]) -> float:
        return utility([(items[i], row[i]) for i in idx])

    held_out = 0.0
    for k, fold in enumerate(folds):
        train = [i for j, f in enumerate(folds) if j != k for i in f]
        best = max(range(len(candidates)), key=lambda c: score(table[c], train))
        held_out += score(table[best], fold)
    everything = range(len(items))
    best = max(range(len(candidates)), key=lambda c: score(table[c], everything))
    return candidates[best], held_out / len(items), score(table[best], everything) / len(items)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--tuning",
        type=Path,
        nargs="+",
        default=[ROOT / "tests/questions/tuning", ROOT / "tests/questions/tuning_b"],
    )
    parser.add_argument(
        "--report", type=Path, nargs="*", default=[], help="blind sets: scored after choosing"
    )
    parser.add_argument(
        "--talk-only",
        action="store_true",
        help="keep the current lexical and fusion values; search only stages 2b and 3",
    )
    args = parser.parse_args()
    knowledge = load_knowledge()
    items = load_items(args.tuning)
    print(f"tuning set: {len(items)} questions; utility = right + refused - {PENALTY:g} x wrong")

    lexical = Matcher(knowledge, semantic=False)
    base = Thresholds()

    def lexical_outcome(values: dict[str, float], item: Item) -> str | None:
        lexical.t = replace(base, **values)
        return lexical.match(item.question, item.lang).entry_id

    if args.talk_only:
        print("stage 1 skipped (--talk-only): current lexical values")
    else:
        chosen, cv, fit = cross_validate(items, list(grid(LEXICAL_GRID)), lexical_outcome)
        print(f"stage 1 (lexical): {chosen}  CV utility/question {cv:.3f}, on all {fit:.3f}")
        lexical.t = replace(base, **chosen)

    semantic = Matcher(knowledge, thresholds=lexical.t)
    if semantic.semantic is None:
        print("stage 2 skipped: the semantic model is not installed")
        final = lexical.t
    else:
        # Everything fuse() needs, computed once per question: the words' verdict (with the
        # stage-1 values), the ranking and the semantic evidence.
        features: dict[int, tuple[Answer, Ranking, Evidence]] = {}
        for i, item in enumerate(items):
            langs = semantic.languages(item.lang, ())
            talk = semantic.signals.talk(item.question)
            if talk is not None:
                continue  # small talk by its examples: no threshold involved
            ranking = semantic.rank(item.question, langs)
            answer, refused = semantic.decide(ranking, item.lang)
            if not answer.matched:
                whole = answer
                answer, part_refused = semantic.decide_by_clauses(
                    item.question, langs, item.lang, answer
                )
                # a clause's answer stands in for the words' verdict (Matcher.match)
                if not answer.matched and refused and not part_refused:
                    answer = whole
            features[i] = (answer, ranking, semantic.evidence(item.question))
        index = {id(item): i for i, item in enumerate(items)}
        print(f"  {len(features)} tuning questions scored with the semantic signal")

        def semantic_outcome(values: dict[str, float], item: Item) -> str | None:
            i = index[id(item)]
            if i not in features:
                return None
            answer, ranking, evidence = features[i]
            t = replace(lexical.t, **values)
            if answer.matched and answer.score >= t.sem_skip:
                return answer.entry_id
            return fuse(t, answer, ranking, evidence, semantic.entry_ids, _no_suggestion).entry_id

        chosen_sem: dict[str, float] = {}
        if args.talk_only:
            print("stage 2 skipped (--talk-only): current fusion values")
        else:
            chosen_sem, cv, fit = cross_validate(items, list(grid(SEMANTIC_GRID)), semantic_outcome)
            print(
                f"stage 2 (semantic): {chosen_sem}  CV utility/question {cv:.3f}, on all {fit:.3f}"
            )

        def agree_outcome(values: dict[str, float], item: Item) -> str | None:
            return semantic_outcome({**chosen_sem, **values}, item)

        chosen_agree, cv, fit = cross_validate(items, list(grid(AGREE_GRID)), agree_outcome)
        print(
            f"stage 2b (agreement): {chosen_agree}  CV utility/question {cv:.3f}, on all {fit:.3f}"
        )
        chosen_sem = {**chosen_sem, **chosen_agree}

        def talk_outcome(values: dict[str, float], item: Item) -> str | None:
            return semantic_outcome({**chosen_sem, **values}, item)

        chosen_talk, cv, fit = cross_validate(items, list(grid(TALK_GRID)), talk_outcome)
        print(
            f"stage 3 (small talk): {chosen_talk}  CV utility/question {cv:.3f}, on all {fit:.3f}"
        )
        final = replace(lexical.t, **chosen_sem, **chosen_talk)

    print("\nchosen Thresholds (paste into bot/thresholds.py if they differ from the defaults):")
    for f in fields(Thresholds):
        value, default = getattr(final, f.name), getattr(Thresholds(), f.name)
        print(f"  {f.name} = {value}" + ("" if value == default else f"   (default {default})"))
    matcher = Matcher(knowledge, thresholds=final)
    print("\nTuning set with the chosen values:")
    run_eval(knowledge, list(args.tuning), as_json=False, limit=0, matcher=matcher)
    if args.report:
        print("\nReport-only sets with the chosen values (never used to choose):")
        run_eval(knowledge, list(args.report), as_json=False, limit=0, matcher=matcher)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
