"""Find the entry a question is asking about, or say honestly that there is none.

Every alternate question, title and keyword is a small document labelled with its entry; the
knowledge base's out-of-scope examples and each entry's must-not-match examples are documents
too, labelled as refusals. A question is scored against the documents that share a word with
it: how much of the question's meaning (IDF-weighted words, typos forgiven via rapidfuzz) a
document explains and how much of the document the question covers, blended with rapidfuzz's
whole-string similarity. The best entry then falls in one of three bands:

- *answer*: confident, and clearly ahead of the next entry and of every refusal example;
- *suggest*: plausible, so up to three entries are offered as "did you mean";
- *fallback*: nothing close enough, or a refusal example fits better.

Words the knowledge base has never seen ("etsy", "parcel") weigh heavily against a match,
which is what keeps "close my etsy account" from being answered as an AliExpress question.
"""

from __future__ import annotations

import bisect
import heapq
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

from rapidfuzz import fuzz, process

from bot.knowledge import BASE_LANG, Knowledge
from bot.semantic import SemanticIndex
from bot.semantic import available as semantic_available
from bot.stopwords import ALL_STOPWORDS
from bot.text import SynonymRewriter as _SynonymRewriter
from bot.text import clauses, is_question_like, normalize, stem
from bot.types import Answer, Suggestion

OUT_OF_SCOPE = -1
SMALLTALK = -1000  # a smalltalk example, in the semantic index only
_SHORTLIST = 50
_CANDIDATES = 1000
_VECTOR_FROM = 4000  # postings a question touches before the numpy path pays off
_LARGE_DOCS = 20_000  # documents from which numpy (when installed) scores word overlaps
_MERGED_MAX = 200_000  # (word, languages) postings kept merged
# What _build_index computes: the part of a Matcher that bot.cache keeps on disk.
_INDEX_STATE = (
    "entry_ids",
    "_index_of",
    "_synonyms",
    "_docs",
    "_postings",
    "_postings_by_lang",
    "_idf",
    "_unknown",
    "_inverse_weight",
    "_labels",
    "_stems",
    "_sorted_texts",
    "_votes",
    "_vocab",
    "_surface_count",
    "_surface",
    "_crowded",
)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Band edges and weights, chosen by `python bench/tune.py` (cross-validated on
    tests/questions/tuning; ties go to the stricter value)."""

    answer: float = 0.40
    margin: float = 0.02
    sure: float = 0.80
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
    # talk_answer similar and closer than any entry or refusal example. Chosen by bench/tune.py.
    sem_skip: float = 0.8
    sem_weight: float = 0.6
    sem_answer: float = 0.45
    sem_gap: float = 0.04
    sem_refusal_margin: float = 0.06
    sem_suggest: float = 0.45
    talk_answer: float = 0.75


@dataclass(frozen=True, slots=True)
class Ranking:
    """Scores behind one decision, for `helpbot eval` and for debugging a confusion."""

    entries: tuple[tuple[str, float], ...]
    refusal: float
    exact_share: float = 1.0  # share of the question's weight matched word for word, not by typo

    @property
    def best(self) -> tuple[str | None, float]:
        return self.entries[0] if self.entries else (None, 0.0)


@dataclass(slots=True)
class _Doc:
    label: int  # entry index, OUT_OF_SCOPE, or -(2 + entry index) for a must-not-match example
    stems: frozenset[str]
    text: str
    lang: str
    weight: float = 0.0


class Matcher:
    """Scores questions against one knowledge base (all its languages at once)."""

    def __init__(
        self,
        knowledge: Knowledge,
        thresholds: Thresholds | None = None,
        semantic: bool | None = None,
    ) -> None:
        """`semantic`: use the sentence-embedding signal (default: when the `semantic` extra is
        installed and HELPBOT_SEMANTIC is not 0). The model itself loads on first use."""
        self.knowledge = knowledge
        self.t = thresholds or Thresholds()
        # A knowledge base from bot.cache carries its lexical index (see `index_state`).
        state = knowledge.prepared.get(self._state_key())
        if state is None:
            self._build_index(knowledge)
        else:
            vars(self).update(state)
        self._merged: dict[tuple[str, frozenset[str]], list[int]] = {}
        self._large = _LargeIndex.build(self) if len(self._docs) >= _LARGE_DOCS else None
        self._map_token = lru_cache(maxsize=16384)(self._map_token_uncached)
        # A few recent rankings (speed only: rank is a pure function of its arguments): an
        # answered question is ranked again at once for its runners-up (Matcher.search).
        self._rank_cached = lru_cache(maxsize=64)(self._rank)
        # Small talk ("hi", "thanks", "are you a bot"): a message that is one of the examples
        # (after normalisation, or as typed for an emoji) gets that item's verdict at once.
        self._talk: dict[str, str] = {}
        for pack in knowledge.packs.values():
            for talk in pack.smalltalk:
                for text in talk.examples:
                    self._talk.setdefault(normalize(text) or text.strip(), talk.id)
        # Refusal kinds' `signals:` (guide.yaml): a question naming another site ("ebay") or a
        # break-in ("hacked") is that kind, whatever its other words say, unless it also names
        # one of the kind's "!" words ("aliexpress": then it is about this site after all).
        self._signals: dict[str, dict[str, tuple[list[tuple[str, ...]], list[tuple[str, ...]]]]]
        self._signals = {}
        for pack in knowledge.packs.values():
            for refusal in pack.refusals:
                words, unless = self._signals.setdefault(pack.lang, {}).setdefault(
                    refusal.id, ([], [])
                )
                for signal in refusal.signals:
                    target = unless if signal.startswith("!") else words
                    phrase = tuple(normalize(signal.removeprefix("!")).split())
                    if phrase:
                        target.append(phrase)
        self._signalled_kinds = frozenset(
            kind for by_kind in self._signals.values() for kind, (_, unless) in by_kind.items()
            if unless
        )
        self.semantic: SemanticIndex | None = None
        self._sem_kinds: list[str | None] = []
        if semantic if semantic is not None else semantic_available():
            sem_texts: list[str] = []
            sem_labels: list[int] = []

            def add(text: str, label: int, kind: str | None = None) -> None:
                sem_texts.append(text)
                sem_labels.append(label)
                self._sem_kinds.append(kind)

            for pack in knowledge.packs.values():
                for entry in pack.entries.values():
                    for text in (*entry.questions, entry.title):
                        add(text, self._index_of[entry.id])
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
            self.semantic = SemanticIndex(sem_texts, sem_labels)

    def _state_key(self) -> str:
        return f"matcher:{self.t!r}"

    def keep_index(self) -> None:
        """Store this matcher's lexical index in `knowledge.prepared`, so that the next Matcher
        with the same thresholds (in this process, or after bot.cache saved it) reuses it."""
        state = {name: getattr(self, name) for name in _INDEX_STATE}
        self.knowledge.prepared[self._state_key()] = state

    def _build_index(self, knowledge: Knowledge) -> None:
        self.entry_ids: list[str] = list(knowledge.base.entries)
        self._index_of = {entry_id: i for i, entry_id in enumerate(self.entry_ids)}
        self._synonyms = _SynonymRewriter(
            (canonical, variants)
            for pack in knowledge.packs.values()
            for canonical, variants in pack.synonyms.items()
        )
        self._docs: list[_Doc] = []
        for pack in knowledge.packs.values():
            for entry in pack.entries.values():
                label = self._index_of[entry.id]
                for text in (*entry.questions, entry.title, *entry.keywords):
                    self._add(label, text, pack.lang)
                for text in entry.not_questions:
                    self._add(-(2 + label), text, pack.lang)
            for text in pack.out_of_scope:
                self._add(OUT_OF_SCOPE, text, pack.lang)
            # The refusals: kinds' examples ("delete my amazon account") are near-copies of
            # in-scope phrasings but for one word; lexically they pull "how do i delete my
            # account" into refusals (measured), so they compete in the semantic space only.
        self._postings: dict[str, list[int]] = {}
        # Per language too: a question is compared with its own language's phrasings and the
        # base language's, not with every translation (issue 6; and 3-4x less work per question).
        self._postings_by_lang: dict[str, dict[str, list[int]]] = {}
        for doc_id, doc in enumerate(self._docs):
            for token in doc.stems:
                self._postings.setdefault(token, []).append(doc_id)
                self._postings_by_lang.setdefault(doc.lang, {}).setdefault(token, []).append(doc_id)
        total = len(self._docs) or 1
        # IDF over *labels* (entries, plus all refusals as one label): a word's weight is how
        # well it tells entries apart, not how rare it is among individual phrasings.
        labels = len(self.entry_ids) + 1
        self._idf = {
            token: math.log(1 + labels / len({_label_class(self._docs[i].label) for i in ids}))
            for token, ids in self._postings.items()
        }
        self._unknown = self.t.unknown_weight * math.log(1 + labels)
        for doc in self._docs:
            doc.weight = sum(self._weight(token) for token in doc.stems) or 1.0
        self._inverse_weight = [1.0 / doc.weight for doc in self._docs]
        # Flat per-document columns for the hot loop in rank().
        self._labels = [doc.label for doc in self._docs]
        self._stems = [doc.stems for doc in self._docs]
        self._sorted_texts = [" ".join(sorted(doc.text.split())) for doc in self._docs]
        # How strongly each word points at each label: the share of its documents per label.
        self._votes: dict[str, dict[int, float]] = {}
        for token, ids in self._postings.items():
            counts: dict[int, float] = {}
            for i in ids:
                label = _label_class(self._docs[i].label)
                counts[label] = counts.get(label, 0.0) + 1.0
            self._votes[token] = {label: n / len(ids) for label, n in counts.items()}
        self._vocab = list(self._postings)
        # Whole words as written (not stems), for completing a half-typed last word.
        self._surface_count: dict[str, int] = {}
        for doc in self._docs:
            for word in doc.text.split():
                self._surface_count[word] = self._surface_count.get(word, 0) + 1
        self._surface = sorted(self._surface_count)
        self._crowded = max(2000, total // 20)

    # -- building ------------------------------------------------------------------------

    def _add(self, label: int, text: str, lang: str) -> None:
        normalized = self._synonyms(normalize(text))
        stems = frozenset(stem(token) for token in normalized.split())
        if stems:
            self._docs.append(_Doc(label, stems, normalized, lang))

    def _weight(self, token: str) -> float:
        weight = self._idf.get(token, self._unknown)
        return weight * self.t.stopword_weight if token in _STEMMED_STOPWORDS else weight

    # -- querying ------------------------------------------------------------------------

    def _map_token_uncached(self, token: str) -> tuple[str | None, float]:
        """The knowledge base's own word for `token` and how sure that is (typos forgiven)."""
        if token in self._idf:
            return token, 1.0
        if len(token) < 4 or not token.isalpha():
            return None, 0.0
        cutoff = 85
        found = process.extractOne(token, self._vocab, scorer=fuzz.ratio, score_cutoff=cutoff)
        if found is None:
            return None, 0.0
        return found[0], found[1] / 100

    def _postings_in(self, token: str, langs: frozenset[str] | None) -> list[int]:
        if langs is None:
            return self._postings[token]
        key = (token, langs)
        found = self._merged.get(key)
        if found is None:
            # Merged once per (word, languages) and kept: a question names few languages.
            found = []
            for lang in sorted(langs):
                found += self._postings_by_lang.get(lang, {}).get(token, ())
            found.sort()
            if len(self._merged) < _MERGED_MAX:
                self._merged[key] = found
        return found

    def rank(self, question: str, langs: Iterable[str] | None = None) -> Ranking:
        """Score every entry that shares a word with `question` (best first), comparing it with
        the phrasings of `langs` (default: every language)."""
        allowed = frozenset(langs) if langs is not None else None
        return self._rank_cached(question, allowed, self.t)  # t: bench/tune.py swaps it

    def _rank(self, question: str, allowed: frozenset[str] | None, _: Thresholds) -> Ranking:
        normalized = self._synonyms(normalize(question))
        tokens = {stem(token) for token in normalized.split()}
        mapped: dict[str, float] = {}
        query_weight = exact_weight = 0.0
        for token in tokens:
            target, similarity = self._map_token(token)
            if target is None:
                query_weight += (
                    self._weight(token) if token in _STEMMED_STOPWORDS else self._unknown
                )
                continue
            mapped[target] = max(mapped.get(target, 0.0), similarity)
            query_weight += self._weight(target)
            if similarity == 1.0:
                exact_weight += self._weight(target)
        if not mapped or query_weight <= 0:
            return Ranking((), 0.0)

        # Very common words only add to documents found through rarer ones, which keeps large
        # bases fast; a question made only of common words is scored on all of them.
        crowded = [t for t in mapped if len(self._postings[t]) > self._crowded]
        if len(crowded) == len(mapped):
            crowded = []
        if self._large is not None:
            touched = sum(len(self._postings[t]) for t in mapped if t not in crowded)
            if touched > _VECTOR_FROM:
                return self._large.rank(self, normalized, mapped, crowded, query_weight, allowed,
                                        exact_weight)  # fmt: skip
        matched: dict[int, float] = {}
        get = matched.get
        for target, similarity in mapped.items():
            if target in crowded:
                continue
            gain = self._weight(target) * similarity
            for doc_id in self._postings_in(target, allowed):
                matched[doc_id] = get(doc_id, 0.0) + gain
        stems_of = self._stems
        if crowded:
            if len(matched) > _CANDIDATES:
                # Common words weigh little: only documents already close on rarer words can win.
                matched = dict(heapq.nlargest(_CANDIDATES, matched.items(), key=itemgetter(1)))
            common = [(t, self._weight(t) * mapped[t]) for t in crowded]
            for doc_id in matched:
                stems = stems_of[doc_id]
                matched[doc_id] += sum(gain for t, gain in common if t in stems)

        # F-beta of precision (gain / query weight) and recall (gain / document weight), in one
        # closed form: (1 + b2) * g * inv / (b2 + qw * inv) with inv = 1 / document weight.
        # beta < 1 weighs explaining the question above covering the document.
        b2 = self.t.beta**2
        inverse, qw, scale = self._inverse_weight, query_weight, 1 + b2
        if len(matched) > _SHORTLIST:
            # String similarity is the costly part: spend it only on the best word overlaps.
            # The same documents, in the same order, as sorting every (overlap, id) pair
            # descending and keeping the first _SHORTLIST, with floats compared alone.
            ids = list(matched)
            values = [scale * g * inverse[d] / (b2 + qw * inverse[d]) for d, g in matched.items()]
            cut = heapq.nlargest(_SHORTLIST, values)[-1]
            overlaps = [(v, d) for v, d in zip(values, ids, strict=True) if v >= cut]
            overlaps.sort(reverse=True)
            del overlaps[_SHORTLIST:]
        else:
            overlaps = [
                (scale * g * inverse[d] / (b2 + qw * inverse[d]), d) for d, g in matched.items()
            ]
        return self._finish(normalized, mapped, crowded, query_weight, exact_weight, overlaps)

    def _finish(
        self,
        normalized: str,
        mapped: dict[str, float],
        crowded: list[str],
        query_weight: float,
        exact_weight: float,
        overlaps: list[tuple[float, int]],
    ) -> Ranking:
        """Blend the shortlisted word overlaps with string similarity and the word votes."""
        votes: dict[int, float] = {}
        for target, similarity in mapped.items():
            if target in crowded:
                continue
            gain = self._weight(target) * similarity / query_weight
            for label, share in self._votes[target].items():
                votes[label] = votes.get(label, 0.0) + gain * share

        best_entry: dict[int, float] = {}
        refusal = 0.0
        negative: dict[int, float] = {}
        # token_sort_ratio(question, document) is ratio() of both texts with their words
        # sorted; the documents' are sorted once at build time, the question's once here.
        query_sorted = " ".join(sorted(normalized.split()))
        labels, texts, sw = self._labels, self._sorted_texts, self.t.string_weight
        for overlap, doc_id in overlaps:
            similarity = fuzz.ratio(query_sorted, texts[doc_id]) / 100
            score = (1 - sw) * overlap + sw * similarity
            label = labels[doc_id]
            if label >= 0:
                if score > best_entry.get(label, 0.0):
                    best_entry[label] = score
            elif label == OUT_OF_SCOPE:
                if score > refusal:
                    refusal = score
            else:
                entry = -label - 2
                negative[entry] = max(negative.get(entry, 0.0), score)
        v = self.t.vote_weight
        best_entry = {e: (1 - v) * score + v * votes.get(e, 0.0) for e, score in best_entry.items()}
        if refusal:
            refusal = (1 - v) * refusal + v * votes.get(OUT_OF_SCOPE, 0.0)
        for entry, score in negative.items():
            if entry in best_entry and score >= best_entry[entry]:
                # A must-not-match example fits better than any of the entry's own questions.
                refusal = max(refusal, score)
                best_entry[entry] = min(best_entry[entry], score) * 0.5
        ranked = sorted(
            ((self.entry_ids[i], round(s, 4)) for i, s in best_entry.items()),
            key=lambda item: -item[1],
        )
        exact_share = round(exact_weight / query_weight, 4)
        return Ranking(tuple(ranked), round(refusal, 4), exact_share)

    def match(self, question: str, lang: str = "en", also: Iterable[str | None] = ()) -> Answer:
        """Decide between answer, small talk, refusal, suggest and fallback. Never raises.

        The question is compared with phrasings in `lang`, the base language and `also` (the
        language the text itself was detected in, when that differs from the reply language).

        - A message that is one of the small-talk examples ("hi", "merci") gets that item.
        - A message of several sentences or clauses that is not answered as a whole is read
          clause by clause (issue 11.4): the best confident answer to a question-like clause
          ("..., so how do i close it?") wins, so "hi, how long does it take?" is answered.
        - A lexical answer scoring at least `sem_skip` is given at once; anything else is decided
          on the words and the semantic signal together (`fuse`), when it is installed.
        - A refusal names its `refusals:` kind when the closest refusal example is one of that
          kind's examples (another site, a hacked account, an order problem)."""
        also = tuple(also)
        talk = self._talk.get(normalize(question) or question.strip())
        if talk is not None:
            return Answer(None, 1.0, (), lang, smalltalk=talk)
        langs = self._languages(lang, also)
        kind = self._signalled(question, langs)
        if kind is not None:
            return Answer(None, 1.0, (), lang, refusal=kind)
        ranking = self.rank(question, langs)
        answer, refused = self._decide(ranking, lang)
        if not answer.matched:
            # A story that complains first ("my orders came late, ... so how do i close it?")
            # may look like a refusal as a whole: its question-like clause decides.
            whole, whole_refused = answer, refused
            answer, refused = self._clauses(question, langs, lang, answer)
            if answer.matched:
                return answer  # a clause's answer: the whole story would only blur the model
            if whole_refused and not refused:
                answer, refused = whole, True
        if self.semantic is None or (answer.matched and answer.score >= self.t.sem_skip):
            return answer
        return fuse(
            self.t, answer, ranking, self.evidence(question), self.entry_ids, self._suggestion
        )

    def _signalled(self, question: str, langs: frozenset[str]) -> str | None:
        """The refusal kind one of whose `signals:` the question names (see __init__)."""
        normalized = normalize(question)
        if not normalized:
            return None
        texts = (normalized.split(), self._synonyms(normalized).split())
        kinds: dict[str, tuple[list[tuple[str, ...]], list[tuple[str, ...]]]] = {}
        for lang in sorted(langs, key=lambda code: code != BASE_LANG):
            for kind, (words, unless) in self._signals.get(lang, {}).items():
                merged = kinds.setdefault(kind, ([], []))
                merged[0].extend(words)
                merged[1].extend(unless)
        for kind, (words, unless) in kinds.items():
            if any(_names(tokens, words) for tokens in texts) and not any(
                _names(tokens, unless) for tokens in texts
            ):
                return kind
        return None

    def evidence(self, question: str) -> Evidence:
        """What the semantic signal says about `question` (empty without the model)."""
        if self.semantic is None or not normalize(question):
            return Evidence({}, 0.0, None, 0.0, None)
        by_entry: dict[int, float] = {}
        refusal, refusal_kind, talk, talk_id = 0.0, None, 0.0, None
        kinds = self._sem_kinds
        # A kind that names other things and yields to "!" words (another site: "delete my ebay
        # account") has examples that are near-copies of in-scope questions but for their naming
        # word: they count only when the question has a word the guide never uses (an unlisted
        # site), else "i wish to delete my account" is refused as another site.
        normalized = self._synonyms(normalize(question))
        unnamed = not any(
            token not in _STEMMED_STOPWORDS and self._map_token(token)[0] is None
            for token in {stem(word) for word in normalized.split()}
        )
        gated = self._signalled_kinds if unnamed else frozenset()
        for i, (label, similarity) in enumerate(
            zip(self.semantic.labels, self.semantic.similarities(question), strict=True)
        ):
            if label >= 0:
                if similarity > by_entry.get(label, -1.0):
                    by_entry[label] = similarity
            elif label == SMALLTALK:
                if similarity > talk:
                    talk, talk_id = similarity, kinds[i]
            elif similarity > refusal and kinds[i] not in gated:
                refusal, refusal_kind = similarity, kinds[i]
        return Evidence(by_entry, refusal, refusal_kind, talk, talk_id)

    def _clauses(
        self, question: str, langs: frozenset[str], lang: str, answer: Answer
    ) -> tuple[Answer, bool]:
        parts = clauses(question)
        if len(parts) < 2:
            return answer, False
        best: Answer | None = None
        for part in parts:
            if not is_question_like(part):
                continue
            candidate, part_refused = self._decide(self.rank(part, langs), lang)
            if part_refused:
                return candidate, True  # an off-topic question asked inside the story: not ours
            if candidate.matched and (best is None or candidate.score > best.score):
                best = candidate
        return best or answer, False

    def _decide(self, ranking: Ranking, lang: str) -> tuple[Answer, bool]:
        """The band of one ranking, and whether a refusal example beat every entry."""
        best_id, best = ranking.best
        if best_id is None:
            return Answer(None, 0.0, (), lang), False
        t = self.t
        if ranking.refusal + t.refusal_margin >= best:
            return Answer(None, best, (), lang), True
        runner_up = ranking.entries[1][1] if len(ranking.entries) > 1 else 0.0
        confident = ranking.exact_share >= t.min_exact_share  # typo matches alone only suggest
        if confident and best >= t.answer and (best - runner_up >= t.margin or best >= t.sure):
            return Answer(best_id, best, (), lang), False
        if best >= t.suggest:
            suggestions = tuple(
                self._suggestion(entry_id, score, lang)
                for entry_id, score in ranking.entries[:3]
                if score >= t.suggest and score > ranking.refusal
            )
            return Answer(None, best, suggestions, lang), False
        return Answer(None, best, (), lang), False

    def search(self, text: str, limit: int = 5, lang: str = "en") -> list[Suggestion]:
        """Entries worth offering for partly typed text (autocomplete, inline mode).

        The last word may be unfinished ("how long does it ta"): it is also tried completed to
        the knowledge base's most frequent words that start with it."""
        langs = self._languages(lang, ())
        best: dict[str, float] = {}
        for variant in self._completions(text):
            for entry_id, score in self.rank(variant, langs).entries[:limit]:
                best[entry_id] = max(best.get(entry_id, 0.0), score)
        floor = min(self.t.suggest, 0.2)
        ranked = sorted(best.items(), key=lambda item: -item[1])[:limit]
        return [
            self._suggestion(entry_id, score, lang) for entry_id, score in ranked if score >= floor
        ]

    def _completions(self, text: str, most: int = 3) -> list[str]:
        words = normalize(text).split()
        if not words or text[-1:].isspace() or len(words[-1]) < 2:
            return [text]
        head, partial = " ".join(words[:-1]), words[-1]
        start = bisect.bisect_left(self._surface, partial)
        found: list[str] = []
        for word in self._surface[start:]:
            if not word.startswith(partial):
                break
            found.append(word)
        found.sort(key=lambda word: -self._surface_count[word])
        return [text] + [f"{head} {word}".strip() for word in found[:most] if word != partial]

    def _languages(self, lang: str, also: Iterable[str | None]) -> frozenset[str]:
        return frozenset({lang, BASE_LANG, *(a for a in also if a)})

    def _suggestion(self, entry_id: str, score: float, lang: str) -> Suggestion:
        return Suggestion(entry_id, self.knowledge.entry(entry_id, lang).title, score)


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
        not lexical.matched
        and evidence.talk_id is not None
        and evidence.talk >= t.talk_answer
        and evidence.talk >= max(closest_entry, evidence.refusal)
    ):
        return Answer(None, _unit(evidence.talk), (), lang, smalltalk=evidence.talk_id)
    if (
        best >= t.sem_answer
        and best - runner_up >= t.sem_gap
        and best - refusal >= t.sem_refusal_margin
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


class _LargeIndex:
    """Word-overlap scoring for large knowledge bases with numpy (when it is installed): the
    same sums, in the same order, as the pure-Python loop in `Matcher.rank`, so the same
    rankings, at C speed. Ties at a cut go to the lower document id (the Python loop breaks
    them by the order words happen to be visited)."""

    def __init__(self, np: Any, matcher: Matcher) -> None:
        self.np = np
        self.size = len(matcher._docs)
        self.inverse = np.array(matcher._inverse_weight, dtype=np.float64)
        self.arrays: dict[tuple[str, frozenset[str] | None], Any] = {}
        self.members: dict[str, Any] = {}

    @classmethod
    def build(cls, matcher: Matcher) -> _LargeIndex | None:
        if os.environ.get("HELPBOT_NUMPY", "").strip() == "0":
            return None
        try:
            import numpy
        except ImportError:
            return None
        return cls(numpy, matcher)

    def postings(self, m: Matcher, token: str, allowed: frozenset[str] | None) -> Any:
        key = (token, allowed)
        found = self.arrays.get(key)
        if found is None:
            found = self.np.array(m._postings_in(token, allowed), dtype=self.np.int64)
            if len(self.arrays) < _MERGED_MAX:
                self.arrays[key] = found
        return found

    def member(self, m: Matcher, token: str) -> Any:
        found = self.members.get(token)
        if found is None:
            found = self.np.zeros(self.size, dtype=bool)
            found[m._postings[token]] = True
            self.members[token] = found
        return found

    def rank(
        self,
        m: Matcher,
        normalized: str,
        mapped: dict[str, float],
        crowded: list[str],
        query_weight: float,
        allowed: frozenset[str] | None,
        exact_weight: float,
    ) -> Ranking:
        np = self.np
        arrays, gains = [], []
        for target, similarity in mapped.items():
            if target in crowded:
                continue
            arrays.append(self.postings(m, target, allowed))
            gains.append(m._weight(target) * similarity)
        lengths = [len(a) for a in arrays]
        if not sum(lengths):
            return m._finish(normalized, mapped, crowded, query_weight, exact_weight, [])
        every = np.concatenate(arrays)
        # bincount adds each document's gains in the order the words were visited, from 0.0:
        # bit for bit the Python loop's sums.
        totals = np.bincount(every, np.repeat(np.array(gains), lengths), minlength=self.size)
        present = np.zeros(self.size, dtype=bool)
        present[every] = True
        ids = np.flatnonzero(present)
        if len(ids) <= _SHORTLIST:
            # Few documents: keep the Python loop's visiting order (it decides ties).
            first = np.unique(every, return_index=True)[1]
            ids = every[np.sort(first)]
        g = totals[ids]
        if crowded:
            if len(ids) > _CANDIDATES:
                keep = self._top(g, _CANDIDATES)
                ids, g = ids[keep], g[keep]
            extra = np.zeros(len(ids))
            for t in crowded:
                extra = extra + np.where(self.member(m, t)[ids], m._weight(t) * mapped[t], 0.0)
            g = g + extra
        b2 = m.t.beta**2
        inverse = self.inverse[ids]
        values = (1 + b2) * g * inverse / (b2 + query_weight * inverse)
        if len(ids) > _SHORTLIST:
            keep = self._top(values, _SHORTLIST)
            overlaps = sorted(
                zip(values[keep].tolist(), ids[keep].tolist(), strict=True), reverse=True
            )
            del overlaps[_SHORTLIST:]
        else:
            overlaps = list(zip(values.tolist(), ids.tolist(), strict=True))
        return m._finish(normalized, mapped, crowded, query_weight, exact_weight, overlaps)

    def _top(self, values: Any, n: int) -> Any:
        """Positions of the n largest values, ties at the cut to the earliest positions."""
        np = self.np
        cut = np.partition(values, len(values) - n)[len(values) - n]
        above = np.flatnonzero(values > cut)
        level = np.flatnonzero(values == cut)[: n - len(above)]
        return np.sort(np.concatenate((above, level)))


def _names(tokens: list[str], phrases: list[tuple[str, ...]]) -> bool:
    """Whether `tokens` contain one of `phrases` word for word; a phrase's last word of five
    letters or more also matches as the start of a word ("госуслуг" in "госуслугах")."""
    for phrase in phrases:
        n = len(phrase)
        head, last = phrase[:-1], phrase[-1]
        for i in range(len(tokens) - n + 1):
            if tuple(tokens[i : i + n - 1]) != head:
                continue
            token = tokens[i + n - 1]
            if token == last or (len(last) >= 5 and token.startswith(last)):
                return True
    return False


def _label_class(label: int) -> int:
    return label if label >= 0 else OUT_OF_SCOPE


_STEMMED_STOPWORDS = frozenset(stem(word) for word in ALL_STOPWORDS) | ALL_STOPWORDS
