"""The matcher's band edges and weights, in one place: every value is chosen by
`python -m bench.tune` (cross-validated on the tuning sets), never set by hand."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Band edges and weights, chosen by `python -m bench.tune` (cross-validated on
    tests/questions/tuning; ties go to the stricter value)."""

    answer: float = 0.4
    margin: float = 0.04
    sure: float = 0.8
    suggest: float = 0.22
    refusal_margin: float = 0.0
    stopword_weight: float = 0.3
    unknown_weight: float = 1.0
    string_weight: float = 0.25
    vote_weight: float = 0.2
    beta: float = 0.8
    min_exact_share: float = 0.4
    # The semantic signal (bot/semantic.py, every language). A lexical answer scoring at least
    # sem_skip is given without the model (fast path); every other question is decided on
    # fused = sem_weight * cosine + (1 - sem_weight) * lexical score, per entry and for the
    # refusal examples. The best entry is answered when fused >= sem_answer, it leads the next
    # entry by sem_gap and the refusal side by sem_refusal_margin; the refusal side wins when it
    # is ahead of every entry. Small talk wins when its closest example is at least
    # talk_answer similar and closer than any entry or refusal example; when the words alone
    # found an entry (below sem_skip: "cya later" shares "later" with reopening), only when it is
    # at least talk_sure similar. Chosen by `python -m bench.tune` (talk_sure: `--talk-only`).
    sem_skip: float = 0.8
    sem_weight: float = 0.6
    sem_answer: float = 0.5
    sem_gap: float = 0.02
    sem_refusal_margin: float = 0.06
    # When the words alone, the model alone and their fusion all put the same entry first, the
    # fused bar is sem_agree (the gap and refusal margin stay): three signals agreeing are worth
    # a lower bar. 1.01 turns it off. Chosen by `python -m bench.tune` (stage 2b, `--agree-only`).
    sem_agree: float = 0.45
    sem_suggest: float = 0.45
    talk_answer: float = 0.75
    talk_sure: float = 0.8

    @property
    def offer(self) -> float:
        """The lowest score at which an entry is offered outside a decision (autocomplete,
        inline mode, the alternatives a 👎 shows): the suggestion band, at most 0.2."""
        return min(self.suggest, 0.2)
