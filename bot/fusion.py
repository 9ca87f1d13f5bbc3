"""The semantic half of the matcher, and how its verdict is fused with the words'.

A sentence-embedding model (bot/semantic.py) compares a question with every phrasing, refusal
example and small-talk example in every language; `fuse` weighs that similarity against the
lexical score per entry and against the refusal evidence (Thresholds.sem_*), so the model adds
recall on paraphrases without letting off-topic questions through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.knowledge import Knowledge
from bot.lexical import OUT_OF_SCOPE, Ranking
from bot.semantic import SemanticIndex
from bot.thresholds import Thresholds
from bot.types import Answer, Suggestion

SMALLTALK = -1000  # a smalltalk example, in the semantic index only


class SemanticSide:
    """The semantic index over one knowledge base's texts, labelled like the lexical index's
    documents (entry index, OUT_OF_SCOPE, SMALLTALK), with the refusal kind or small-talk item
    of each example."""

    def __init__(
        self,
        knowledge: Knowledge,
        index_of: dict[str, int],
        naming_words: Callable[[str], frozenset[str]],
        yielding: frozenset[str],
        signalled: Callable[[str], str | None],
    ) -> None:
        """`naming_words(text)`: the words of a refusal example no entry uses (the site's name
        in "delete my facebook account"), by which a question names the same thing. Examples
        of the `yielding` kinds (another site) are near-copies of in-scope phrasings but for
        those words: see `evidence`. So is a plain out-of-scope example whose words signal
        such a kind (`signalled`: "как удалить аккаунт в temu")."""
        texts: list[str] = []
        labels: list[int] = []
        self.kinds: list[str | None] = []

        def add(text: str, label: int, kind: str | None = None) -> None:
            texts.append(text)
            labels.append(label)
            self.kinds.append(kind)

        for pack in knowledge.packs.values():
            for entry in pack.entries.values():
                for text in (*entry.questions, entry.title):
                    add(text, index_of[entry.id])
                for text in entry.not_questions:
                    add(text, OUT_OF_SCOPE)
            for text in pack.out_of_scope:
                add(text, OUT_OF_SCOPE)
            for refusal in pack.refusals:
                for text in refusal.examples:
                    add(text, OUT_OF_SCOPE, refusal.id)
            for talk in pack.smalltalk:
                for text in talk.examples:
                    add(text, SMALLTALK, talk.id)
        self.index = SemanticIndex(texts, labels)
        # Per near-copy refusal example: the words that name what it is about (else None).
        self.names: list[frozenset[str] | None] = [
            naming_words(text)
            if kind in yielding
            or (kind is None and label == OUT_OF_SCOPE and signalled(text) in yielding)
            else None
            for text, label, kind in zip(texts, labels, self.kinds, strict=True)
        ]

    def evidence(self, question: str, named: frozenset[str] | None = None) -> Evidence:
        """What the model says about `question`. With `named` (the question's own naming
        words, given when every word of it is known), a near-copy refusal example counts only
        when the question names one of its naming words: "how do i delete my account" is no
        question about the site of "how do i delete my facebook account"."""
        by_entry: dict[int, float] = {}
        refusal, refusal_kind, talk, talk_id = 0.0, None, 0.0, None
        kinds = self.kinds
        names = self.names
        for i, (label, similarity) in enumerate(
            zip(self.index.labels, self.index.similarities(question), strict=True)
        ):
            if label >= 0:
                if similarity > by_entry.get(label, -1.0):
                    by_entry[label] = similarity
            elif label == SMALLTALK:
                if similarity > talk:
                    talk, talk_id = similarity, kinds[i]
            elif similarity > refusal and (
                named is None or (near := names[i]) is None or bool(near & named)
            ):
                refusal, refusal_kind = similarity, kinds[i]
        return Evidence(by_entry, refusal, refusal_kind, talk, talk_id)


@dataclass(frozen=True, slots=True)
class Evidence:
    """The semantic signal on one question: best cosine per entry index, and the closest
    refusal example and small-talk example (with their kind / item ids)."""

    entries: dict[int, float]
    refusal: float
    refusal_kind: str | None
    talk: float
    talk_id: str | None


def fuse(
    t: Thresholds,
    lexical: Answer,
    ranking: Ranking,
    evidence: Evidence,
    entry_ids: list[str],
    suggestion: Callable[[str, float, str], Suggestion],
) -> Answer:
    """The verdict of the words and the semantic signal together (see Thresholds.sem_*).

    `lexical` is the words' own verdict (a clause's answer for a long message): it stands when
    the model has nothing to say."""
    lang = lexical.lang
    if not evidence.entries:
        return lexical
    lex = {entry_id: score for entry_id, score in ranking.entries}
    if lexical.entry_id is not None:
        lex[lexical.entry_id] = max(lex.get(lexical.entry_id, 0.0), lexical.score)
    w = t.sem_weight
    fused = sorted(
        (
            (w * sim + (1 - w) * lex.get(entry_ids[label], 0.0), entry_ids[label])
            for label, sim in evidence.entries.items()
        ),
        reverse=True,
    )
    best, best_id = fused[0]
    runner_up = fused[1][0] if len(fused) > 1 else 0.0
    refusal = w * evidence.refusal + (1 - w) * ranking.refusal
    closest_entry = max(evidence.entries.values())
    if (
        (not lexical.matched or evidence.talk >= t.talk_sure)
        and evidence.talk_id is not None
        and evidence.talk >= t.talk_answer
        and evidence.talk >= max(closest_entry, evidence.refusal)
    ):
        return Answer(None, _unit(evidence.talk), (), lang, smalltalk=evidence.talk_id)
    clear = best - runner_up >= t.sem_gap and best - refusal >= t.sem_refusal_margin
    if clear and (
        best >= t.sem_answer
        or (  # a lower bar when the words, the model and the fusion agree on the entry
            best >= t.sem_agree
            and ranking.best[0] == best_id
            and entry_ids[max(evidence.entries, key=evidence.entries.__getitem__)] == best_id
        )
    ):
        return Answer(best_id, _unit(best), (), lang)
    if lexical.entry_id == best_id and best - refusal >= t.sem_refusal_margin:
        return lexical  # the words answered and the model agrees on the entry
    if refusal >= best:
        kind = evidence.refusal_kind if evidence.refusal >= ranking.refusal else None
        return Answer(None, _unit(best), (), lang, refusal=kind)
    offered = tuple(
        suggestion(entry_id, _unit(score), lang)
        for score, entry_id in fused[:3]
        if score >= t.sem_suggest and score > refusal
    )
    return Answer(None, _unit(best), offered, lang)


def _unit(score: float) -> float:
    return round(min(1.0, max(0.0, score)), 4)
