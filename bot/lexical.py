"""The lexical half of the matcher: which entries a question shares words with, and how well.

Every alternate question, title and keyword is a small document labelled with its entry; the
knowledge base's out-of-scope examples and each entry's must-not-match examples are documents
too, labelled as refusals. A question is scored against the documents that share a word with
it: how much of the question's meaning (IDF-weighted words, typos forgiven via rapidfuzz) a
document explains and how much of the document the question covers, blended with rapidfuzz's
whole-string similarity.

Words the knowledge base has never seen ("etsy", "parcel") weigh heavily against a match,
which is what keeps "close my etsy account" from being answered as an AliExpress question.
The index is plain data (`INDEX_STATE`), so bot.cache can keep it on disk.
"""

from __future__ import annotations

import bisect
import heapq
import math
import os
import re
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process

from bot.knowledge import Knowledge
from bot.stopwords import ALL_STOPWORDS
from bot.text import SynonymRewriter as _SynonymRewriter
from bot.text import normalize, stem
from bot.thresholds import Thresholds

OUT_OF_SCOPE = -1
_SHORTLIST = 50
_CANDIDATES = 1000
_VECTOR_FROM = 4000  # postings a question touches before the numpy path pays off
_LARGE_DOCS = 20_000  # documents from which numpy (when installed) scores word overlaps
# What LexicalIndex._build computes: the part that bot.cache keeps on disk. Not the builder's
# per-phrasing records (`_Doc`): answering reads only the flat columns built from them, and
# unpickling ~9,500 small objects was an eighth of `helpbot ask`'s start-up. Nor what the
# per-language postings already say: the postings over every language (a word's documents in
# each language, read one language after another) and each document's words (only read for very
# common words, which the shipped guide has none of) were a third of unpickling the index.
INDEX_STATE = (
    "entry_ids",
    "_synonyms",
    "_doc_count",
    "_postings_by_lang",
    "_idf",
    "_unknown",
    "_inverse_weight",
    "_labels",
    "_sorted_texts",
    "_votes",
    "_vocab",
    "_surface_count",
    "_surface",
    "_crowded",
)


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


class LexicalIndex:
    """The word index of one knowledge base (all its languages at once) and its scoring."""

    # The index state (INDEX_STATE), from _Builder or from the cache.
    entry_ids: list[str]
    _synonyms: _SynonymRewriter
    _doc_count: dict[str, int]  # in how many phrasings (any language) each word is
    _postings_by_lang: dict[str, dict[str, array[int]]]
    _idf: dict[str, float]
    _unknown: float
    _inverse_weight: list[float]
    _labels: list[int]
    _sorted_texts: list[str]
    _votes: dict[str, dict[int, float]]
    _vocab: list[str]
    _surface_count: dict[str, int]
    _surface: list[str]
    _crowded: int

    def __init__(self, knowledge: Knowledge, t: Thresholds) -> None:
        self.t = t  # bench/tune.py swaps it (through Matcher.t)
        # A knowledge base from bot.cache carries its index (see `keep`).
        state = knowledge.prepared.get(self._state_key())
        vars(self).update(_Builder(knowledge, t).state() if state is None else state)
        self._stems_of: list[frozenset[str]] | None = None
        self._step_words = step_words(knowledge)
        self.large = _LargeIndex.build(self) if len(self._labels) >= _LARGE_DOCS else None
        self.map_token = lru_cache(maxsize=16384)(self._map_token_uncached)
        # A few recent rankings (speed only: rank is a pure function of its arguments): an
        # answered question is ranked again at once for its runners-up (Matcher.search).
        self._rank_cached = lru_cache(maxsize=64)(self._rank)

    def _state_key(self) -> str:
        return f"matcher:{self.t!r}"

    def use_vectors(self) -> bool:
        """Score word overlaps with numpy from now on, when it is installed: the same rankings
        as the Python loop (see `_top_pairs`) in about a third of the time on the shipped guide.
        For a long-running bot (Engine.warm_up): importing numpy takes ~70 ms, which a one-shot
        `helpbot ask` should not pay. Large bases use it from the start."""
        if self.large is None:
            self.large = _LargeIndex.build(self)
        return self.large is not None

    def keep(self, knowledge: Knowledge) -> None:
        """Store this index in `knowledge.prepared`, so that the next index with the same
        thresholds (in this process, or after bot.cache saved it) reuses it."""
        knowledge.prepared[self._state_key()] = {name: getattr(self, name) for name in INDEX_STATE}

    def weight(self, token: str) -> float:
        weight = self._idf.get(token, self._unknown)
        return weight * self.t.stopword_weight if token in _STEMMED_STOPWORDS else weight

    # -- querying ------------------------------------------------------------------------

    def rewrite(self, normalized: str) -> str:
        """`normalized` text with the knowledge base's synonyms replaced by their canonical word."""
        return self._synonyms(normalized)

    def uses(self, word: str) -> bool:
        """Whether some phrasing has `word` as written (no typo forgiven): "step", not "nxet"."""
        return stem(self._synonyms(normalize(word))) in self._doc_count

    def knows_all(self, question: str) -> bool:
        """Whether every word of `question` that is not a stopword is one the knowledge base
        uses (typos forgiven)."""
        normalized = self._synonyms(normalize(question))
        return not any(
            token not in _STEMMED_STOPWORDS and self.map_token(token)[0] is None
            for token in {stem(word) for word in normalized.split()}
        )

    def naming_words(self, text: str) -> frozenset[str]:
        """The stems of `text` that no entry's phrasing uses (typos forgiven): what names the
        thing a refusal example is about ("facebook" in "delete my facebook account")."""
        names: set[str] = set()
        for token in {stem(word) for word in self._synonyms(normalize(text)).split()}:
            if token in _STEMMED_STOPWORDS:
                continue
            known = self.map_token(token)[0]
            votes = self._votes.get(known, {}) if known is not None else {}
            if not any(label >= 0 for label in votes):
                names.add(known or token)
        return frozenset(names)

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

    def postings_in(self, token: str, langs: frozenset[str] | None) -> list[array[int]]:
        """The documents of `langs` (None: every language) that have `token`: one array per
        language, in ascending id order one after the other. A language's phrasings are
        numbered together, in the order of `_postings_by_lang`, so the parts need no merge
        and nothing is kept per (word, languages): a kept merge (and its numpy copy) per
        word and language set grew a long-running bot by up to ~27 MB."""
        return [
            table[token]
            for lang, table in self._postings_by_lang.items()
            if token in table and (langs is None or lang in langs)
        ]

    def _stems(self) -> list[frozenset[str]]:
        """Each document's words, rebuilt from the postings the first time a question has a
        very common word (large knowledge bases only)."""
        if self._stems_of is None:
            words: list[set[str]] = [set() for _ in self._labels]
            for table in self._postings_by_lang.values():
                for token, ids in table.items():
                    for doc_id in ids:
                        words[doc_id].add(token)
            self._stems_of = [frozenset(w) for w in words]
        return self._stems_of

    def rank(self, question: str, langs: Iterable[str] | None = None) -> Ranking:
        """Score every entry that shares a word with `question` (best first), comparing it with
        the phrasings of `langs` (default: every language)."""
        allowed = frozenset(langs) if langs is not None else None
        return self._rank_cached(question, allowed, self.t)  # t: bench/tune.py swaps it

    def _rank(self, question: str, allowed: frozenset[str] | None, _: Thresholds) -> Ranking:
        normalized = self._synonyms(normalize(question))
        mapped, query_weight, exact_weight = self._read_words(normalized)
        if not mapped or query_weight <= 0:
            return Ranking((), 0.0)
        # Very common words only add to documents found through rarer ones, which keeps large
        # bases fast; a question made only of common words is scored on all of them.
        crowded = [t for t in mapped if self._doc_count[t] > self._crowded]
        if len(crowded) == len(mapped):
            crowded = []
        if self.large is not None:
            touched = sum(self._doc_count[t] for t in mapped if t not in crowded)
            if touched > self.large.vector_from:
                return self.large.rank(self, normalized, mapped, crowded, query_weight, allowed,
                                       exact_weight)  # fmt: skip
        matched = self._word_gains(mapped, crowded, allowed)
        overlaps = self._overlaps(matched, query_weight)
        return self.finish(normalized, mapped, crowded, query_weight, exact_weight, overlaps)

    def _read_words(self, normalized: str) -> tuple[dict[str, float], float, float]:
        """The question's words mapped to the knowledge base's (with their typo similarity),
        the question's total weight and the weight matched word for word."""
        tokens = {stem(token) for token in normalized.split()}
        mapped: dict[str, float] = {}
        query_weight = exact_weight = 0.0
        # A number is a step's number only beside a word for "step" ("step 2", "paso 2", "2nd
        # step"): in "what's 2+2" it is a word the guide does not know.
        numbers_count = not self._step_words.isdisjoint(tokens)
        for token in tokens:
            if not numbers_count and token.isdigit():
                query_weight += self._unknown
                continue
            target, similarity = self.map_token(token)
            if target is None:
                query_weight += self.weight(token) if token in _STEMMED_STOPWORDS else self._unknown
                continue
            mapped[target] = max(mapped.get(target, 0.0), similarity)
            query_weight += self.weight(target)
            if similarity == 1.0:
                exact_weight += self.weight(target)
        return mapped, query_weight, exact_weight

    def _word_gains(
        self, mapped: dict[str, float], crowded: list[str], allowed: frozenset[str] | None
    ) -> dict[int, float]:
        """Each document's summed weight of the words it shares with the question."""
        matched: dict[int, float] = {}
        get = matched.get
        for target, similarity in mapped.items():
            if target in crowded:
                continue
            gain = self.weight(target) * similarity
            for part in self.postings_in(target, allowed):
                for doc_id in part:
                    matched[doc_id] = get(doc_id, 0.0) + gain
        if crowded:
            stems_of = self._stems()
            if len(matched) > _CANDIDATES:
                # Common words weigh little: only documents already close on rarer words can win.
                top = _top_pairs(list(matched), list(matched.values()), _CANDIDATES)
                matched = {d: v for v, d in top}
            common = [(t, self.weight(t) * mapped[t]) for t in crowded]
            for doc_id in matched:
                stems = stems_of[doc_id]
                matched[doc_id] += sum(gain for t, gain in common if t in stems)
        return matched

    def _overlaps(self, matched: dict[int, float], query_weight: float) -> list[tuple[float, int]]:
        """The shortlist of (word overlap, document) pairs worth a string comparison."""
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
            overlaps = _top_pairs(ids, values, _SHORTLIST)
            overlaps.sort(reverse=True)
            return overlaps
        return [(scale * g * inverse[d] / (b2 + qw * inverse[d]), d) for d, g in matched.items()]

    def _word_votes(
        self, mapped: dict[str, float], crowded: list[str], query_weight: float
    ) -> list[float]:
        """How much the question's words point at each label (index: label + 1, so refusals
        first): each word's share per label, weighted by the word's part of the question.
        A list, not a dict: ~30% less time (numpy's calls cost more than these ~70 adds)."""
        votes = [0.0] * (len(self.entry_ids) + 1)
        for target, similarity in mapped.items():
            if target in crowded:
                continue
            gain = self.weight(target) * similarity / query_weight
            for label, share in self._votes[target].items():
                votes[label + 1] += gain * share
        return votes

    def finish(
        self,
        normalized: str,
        mapped: dict[str, float],
        crowded: list[str],
        query_weight: float,
        exact_weight: float,
        overlaps: list[tuple[float, int]],
    ) -> Ranking:
        """Blend the shortlisted word overlaps with string similarity and the word votes."""
        votes = self._word_votes(mapped, crowded, query_weight)

        best_entry: dict[int, float] = {}
        refusal = 0.0
        negative: dict[int, float] = {}
        # token_sort_ratio(question, document) is ratio() of both texts with their words
        # sorted; the documents' are sorted once at build time, the question's once here.
        query_sorted = " ".join(sorted(normalized.split()))
        labels, texts, sw = self._labels, self._sorted_texts, self.t.string_weight
        shortlisted = [texts[doc_id] for _, doc_id in overlaps]
        if self.large is not None and shortlisted:  # one call into rapidfuzz for them all
            np = self.large.np
            found = process.cdist([query_sorted], shortlisted, scorer=fuzz.ratio, dtype=np.float64)
            similarities = (found[0] / 100).tolist()
        else:
            ratio = fuzz.ratio
            similarities = [ratio(query_sorted, text) / 100 for text in shortlisted]
        for (overlap, doc_id), similarity in zip(overlaps, similarities, strict=True):
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
        best_entry = {e: (1 - v) * score + v * votes[e + 1] for e, score in best_entry.items()}
        if refusal:
            refusal = (1 - v) * refusal + v * votes[OUT_OF_SCOPE + 1]
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


def completions(index: LexicalIndex, text: str, most: int = 3) -> list[str]:
    """`text`, and `text` with its unfinished last word completed to the knowledge base's most
    frequent words that start with it (autocomplete: "how long does it ta")."""
    words = normalize(text).split()
    if not words or text[-1:].isspace() or len(words[-1]) < 2:
        return [text]
    head, partial = " ".join(words[:-1]), words[-1]
    surface, counts = index._surface, index._surface_count
    found: list[str] = []
    for word in surface[bisect.bisect_left(surface, partial) :]:
        if not word.startswith(partial):
            break
        found.append(word)
    found.sort(key=lambda word: -counts[word])
    return [text] + [f"{head} {word}".strip() for word in found[:most] if word != partial]


class _Builder:
    """Builds the index state of one knowledge base (INDEX_STATE's names): a job of its own,
    done once and then kept by bot.cache, apart from the querying in LexicalIndex."""

    def __init__(self, knowledge: Knowledge, t: Thresholds) -> None:
        self.t = t
        self.entry_ids: list[str] = list(knowledge.base.entries)
        index_of = {entry_id: i for i, entry_id in enumerate(self.entry_ids)}
        self._synonyms = _SynonymRewriter(
            (canonical, variants)
            for pack in knowledge.packs.values()
            for canonical, variants in pack.synonyms.items()
        )
        self._docs: list[_Doc] = []
        for pack in knowledge.packs.values():
            for entry in pack.entries.values():
                label = index_of[entry.id]
                for text in (*entry.questions, entry.title, *entry.keywords):
                    self._add(label, text, pack.lang)
                for text in entry.not_questions:
                    self._add(-(2 + label), text, pack.lang)
            for text in pack.out_of_scope:
                self._add(OUT_OF_SCOPE, text, pack.lang)
            # The refusals: kinds' examples ("delete my amazon account") are near-copies of
            # in-scope phrasings but for one word; lexically they pull "how do i delete my
            # account" into refusals (measured), so they compete in the semantic space only.
        self._build_postings()
        self._build_columns()
        self._doc_count = {token: len(ids) for token, ids in self._postings.items()}

    def state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in INDEX_STATE}

    def _build_postings(self) -> None:
        self._postings: dict[str, list[int]] = {}
        # Per language too: a question is compared with its own language's phrasings and the
        # base language's, not with every translation (issue 6; and 3-4x less work per question).
        # Kept as arrays of 4-byte ids: a list of int objects took ~9x the memory, in every
        # bot process (issue 15's RSS budget), and numpy reads an array without converting.
        self._postings_by_lang: dict[str, dict[str, array[int]]] = {}
        for doc_id, doc in enumerate(self._docs):
            for token in doc.stems:
                self._postings.setdefault(token, []).append(doc_id)
                self._postings_by_lang.setdefault(doc.lang, {}).setdefault(
                    token, array("I")
                ).append(doc_id)
        # IDF over *labels* (entries, plus all refusals as one label): a word's weight is how
        # well it tells entries apart, not how rare it is among individual phrasings.
        labels = len(self.entry_ids) + 1
        self._idf = {
            token: math.log(1 + labels / len({_label_class(self._docs[i].label) for i in ids}))
            for token, ids in self._postings.items()
        }
        self._unknown = self.t.unknown_weight * math.log(1 + labels)
        for doc in self._docs:
            doc.weight = sum(self.weight(token) for token in doc.stems) or 1.0
        self._inverse_weight = [1.0 / doc.weight for doc in self._docs]

    def _build_columns(self) -> None:
        # Flat per-document columns for the hot loop in rank().
        self._labels = [doc.label for doc in self._docs]
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
        # A word in more documents than this only adds to documents found through rarer
        # words (speed on large bases). The floor keeps every word of the shipped guide below
        # it (tests/test_matcher.py): crossing it changes answers, not only speed (at 2000,
        # round 13's data put "aliexpress" in 2,018 of 10,400 phrasings, and "my aliexpress"
        # became a confident deletion answer).
        self._crowded = max(3000, (len(self._docs) or 1) // 20)

    def _add(self, label: int, text: str, lang: str) -> None:
        normalized = self._synonyms(normalize(text))
        stems = frozenset(stem(token) for token in normalized.split())
        if stems:
            self._docs.append(_Doc(label, stems, normalized, lang))

    def weight(self, token: str) -> float:
        weight = self._idf.get(token, self._unknown)
        return weight * self.t.stopword_weight if token in _STEMMED_STOPWORDS else weight


class _LargeIndex:
    """Word-overlap scoring for large knowledge bases with numpy (when it is installed): the
    same sums, in the same order, as the pure-Python loop in `LexicalIndex.rank`, so the same
    rankings, at C speed. Ties at a cut go to the lower document id (the Python loop breaks
    them by the order words happen to be visited)."""

    def __init__(self, np: Any, index: LexicalIndex) -> None:
        self.np = np
        self.size = len(index._labels)
        self.inverse = np.array(index._inverse_weight, dtype=np.float64)
        # numpy's fixed cost grows with the documents (a bincount over all of them): on the
        # shipped guide's ~4,300 it wins for every question (p50 110 against 320 us for the
        # tuning questions), on large bases only past _VECTOR_FROM postings.
        self.vector_from = _VECTOR_FROM if self.size >= _LARGE_DOCS else 0
        self.members: dict[str, Any] = {}

    @classmethod
    def build(cls, index: LexicalIndex) -> _LargeIndex | None:
        if os.environ.get("HELPBOT_NUMPY", "").strip() == "0":
            return None
        try:
            import numpy
        except ImportError:
            return None
        return cls(numpy, index)

    def member(self, m: LexicalIndex, token: str) -> Any:
        found = self.members.get(token)
        if found is None:
            found = self.np.zeros(self.size, dtype=bool)
            for part in m.postings_in(token, None):
                found[self.np.asarray(part)] = True
            self.members[token] = found
        return found

    def rank(
        self,
        m: LexicalIndex,
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
            gain = m.weight(target) * similarity
            for part in m.postings_in(target, allowed):
                arrays.append(part)
                gains.append(gain)
        lengths = [len(a) for a in arrays]
        if not sum(lengths):
            return m.finish(normalized, mapped, crowded, query_weight, exact_weight, [])
        every = np.concatenate(arrays)  # numpy reads the arrays' 4-byte ids in place
        # bincount adds each document's gains in the order the words were visited, from 0.0:
        # bit for bit the Python loop's sums.
        # No minlength: the totals end at the highest document found, and a language's
        # documents are numbered together (the base language's first), so an English question
        # adds up ~4,000 totals rather than all ~11,000.
        totals = np.bincount(every, np.repeat(np.array(gains), lengths))
        # Every gain is positive (a word's weight times its similarity), so the documents
        # found are exactly those with a nonzero total, in ascending order.
        ids = np.flatnonzero(totals > 0)
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
                extra = extra + np.where(self.member(m, t)[ids], m.weight(t) * mapped[t], 0.0)
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
        return m.finish(normalized, mapped, crowded, query_weight, exact_weight, overlaps)

    def _top(self, values: Any, n: int) -> Any:
        """Positions of the n largest values, ties at the cut to the earliest positions."""
        np = self.np
        cut = np.partition(values, len(values) - n)[len(values) - n]
        kept = np.flatnonzero(values >= cut)
        if len(kept) == n:  # no tie at the cut (nearly always)
            return kept
        above = np.flatnonzero(values > cut)
        level = np.flatnonzero(values == cut)[: n - len(above)]
        return np.sort(np.concatenate((above, level)))


def _top_pairs(ids: list[int], values: list[float], n: int) -> list[tuple[float, int]]:
    """The n (value, document) pairs with the largest values, ties at the cut to the lowest
    document ids: the same choice as `_LargeIndex._top`, so both paths rank alike."""
    cut = heapq.nlargest(n, values)[-1]
    kept = [(v, d) for v, d in zip(values, ids, strict=True) if v >= cut]
    if len(kept) > n:  # ties at the cut (rare)
        above = [pair for pair in kept if pair[0] > cut]
        level = sorted(d for v, d in kept if v == cut)[: n - len(above)]
        kept = above + [(cut, d) for d in level]
    return kept


def _label_class(label: int) -> int:
    return label if label >= 0 else OUT_OF_SCOPE


_STEMMED_STOPWORDS = frozenset(stem(word) for word in ALL_STOPWORDS) | ALL_STOPWORDS


_STEP_TITLE = re.compile(r"^\W*([^\W\d_]+)\W*\d+\b")


def step_words(knowledge: Knowledge) -> frozenset[str]:
    """The knowledge base's words for "step", as stems: the word before the number of a
    numbered entry title ("Step 2: ...", "Paso 2: ...") and before `{number}` in the
    `where_step` interface text ("etapa {number} de {total}")."""
    words: set[str] = set()
    for pack in knowledge.packs.values():
        for entry in pack.entries.values():
            found = _STEP_TITLE.match(normalize(entry.title))
            if found:
                words.add(stem(found.group(1)))
        before, marker, _ = pack.ui.get("where_step", "").partition("{number}")
        named = normalize(before).split()
        if marker and named:
            words.add(stem(named[-1]))
    return frozenset(words)
