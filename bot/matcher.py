"""Find the entry a question is asking about, or say honestly that there is none.

The decision is made from three kinds of evidence, each in its own module:
- bot/signals.py: what the message says outright (a small-talk example, a refusal kind's
  signal word such as another site's name);
- bot/lexical.py: which entries the question shares words with, and how well;
- bot/fusion.py: the sentence-embedding model's similarity, fused with the lexical score.

The best entry then falls in one of three bands:
- *answer*: confident, and clearly ahead of the next entry and of every refusal example;
- *suggest*: plausible, so up to three entries are offered as "did you mean";
- *fallback*: nothing close enough, or a refusal example fits better.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.fusion import SMALLTALK, Evidence, SemanticSide, fuse
from bot.knowledge import BASE_LANG, Knowledge
from bot.lexical import OUT_OF_SCOPE, LexicalIndex, Ranking, completions
from bot.semantic import SemanticIndex
from bot.semantic import available as semantic_available
from bot.signals import Signals
from bot.step_names import StepNames
from bot.stopwords import ALL_STOPWORDS
from bot.text import asked_in_turn, clauses, is_question_like, normalize
from bot.thresholds import Thresholds
from bot.types import Answer, Suggestion
from bot.walkthrough import FollowUps

MAX_QUESTIONS = 3  # questions answered from one message; more read as one
# Follow-up kinds that count from the step a message names ("done with step 1, what now?")
RELATIVE_FOLLOWUPS = frozenset({"done", "next", "back"})

__all__ = [
    "OUT_OF_SCOPE",
    "SMALLTALK",
    "Evidence",
    "Matcher",
    "Ranking",
    "Thresholds",
    "fuse",
]


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
        self.lexical = LexicalIndex(knowledge, thresholds or Thresholds())
        self.entry_ids = self.lexical.entry_ids
        self.signals = Signals(knowledge)
        self.step_names = StepNames(knowledge)
        self.followups = FollowUps(knowledge)
        # refusal kinds answered with an entry first (`answer_with`), from the base language
        self._answer_with = {
            kind.id: kind.answer_with
            for kind in knowledge.pack(BASE_LANG).refusals
            if kind.answer_with
        }
        # refusal kinds that are notes to any answer (`adds_to: answers`): "on the app"
        self._notes = frozenset(
            kind.id for kind in knowledge.pack(BASE_LANG).refusals if kind.adds_to == "answers"
        )
        self._side: SemanticSide | None = None
        if semantic if semantic is not None else semantic_available():
            index_of = {entry_id: i for i, entry_id in enumerate(self.entry_ids)}
            every = frozenset(knowledge.packs)
            self._side = SemanticSide(
                knowledge,
                index_of,
                self.lexical.naming_words,
                self.signals.yielding_kinds,
                lambda text: self.signals.refusal_kind(text, every, self.lexical.rewrite),
            )
        self.semantic: SemanticIndex | None = self._side.index if self._side else None

    @property
    def t(self) -> Thresholds:
        return self.lexical.t

    @t.setter
    def t(self, value: Thresholds) -> None:  # bench/tune.py tries values on one index
        self.lexical.t = value

    @property
    def large(self) -> Any:
        """The numpy scorer of a large knowledge base, or None (bench/matching.py reports it)."""
        return self.lexical.large

    def keep_index(self) -> None:
        """Store the lexical index in `knowledge.prepared`, so that the next Matcher with the
        same thresholds (in this process, or after bot.cache saved it) reuses it."""
        self.lexical.keep(self.knowledge)

    def rank(self, question: str, langs: Iterable[str] | None = None) -> Ranking:
        """Score every entry that shares a word with `question` (best first), comparing it with
        the phrasings of `langs` (default: every language)."""
        return self.lexical.rank(question, langs)

    def match(self, question: str, lang: str = "en", also: Iterable[str | None] = ()) -> Answer:
        """Decide between answer, small talk, refusal, suggest and fallback. Never raises.

        A step named by its number ("whats step one to close my account", "the 5 steps")
        settles what the words left open (bot/step_names.py); `verdict` decides the rest."""
        answer = self.verdict(question, lang, also)
        target = self.step_names.named(question)
        if target is None and answer.entry_id is None and answer.refusal is None:
            near = None if answer.smalltalk else self.signals.talk_near(question)
            if near is not None:  # "you're useless", "thnaks a lot": nothing else to say
                return Answer(None, 1.0, (), lang, smalltalk=near)
        if target is None or target == answer.entry_id:
            return answer
        relative = self.followups.find(question)[0] in RELATIVE_FOLLOWUPS
        bare = self.step_names.bare(question, target)
        return self.step_names.settle(answer, target, relative, bare)

    def verdict(self, question: str, lang: str = "en", also: Iterable[str | None] = ()) -> Answer:
        """The verdict of the words, the signals and the model (`_verdict`), with the refusal
        kinds that add to an answer: one with `answer_with`, named by its signals, becomes that
        entry noted with the kind ("the email never came": the waiting time, then where to
        turn); a note kind (`adds_to: answers`) named by its signals is added to whatever
        entry answers the question ("do I log in on the website or the app?")."""
        langs = self.languages(lang, also)
        named = self.signals.refusal_kinds(question, langs, self.lexical.rewrite)
        kind = next((kind for kind in named if kind not in self._notes), None)
        answer = self._verdict(question, lang, langs, kind)
        if answer.smalltalk is not None or not (self._answer_with or self._notes):
            return answer
        if answer.refusal in self._answer_with:
            if kind != answer.refusal:
                return answer  # only an example near it: its reply alone
            if self.decide(self.rank(question, langs), lang)[1]:
                return answer  # out of scope as a whole ("the seller's email never came")
            entry = self._answer_with[answer.refusal]
            return Answer(entry, answer.score, (), answer.lang, note=answer.refusal)
        if answer.refusal is not None and answer.refusal not in self._notes:
            return answer
        note = next((kind for kind in named if kind in self._notes), None)
        if note is None:  # a note kind only near an example: no verdict of its own
            return answer if answer.refusal is None else Answer(None, 0.0, (), answer.lang)
        if answer.entry_id is not None or answer.suggestions:  # with a did-you-mean too
            return Answer(answer.entry_id, answer.score, answer.suggestions, answer.lang, note=note)
        # "is it the same on the app?" asks nothing more: the note alone; "the app closes by
        # itself", "how do i track my parcel in the app" ask something else: as they were
        rest = self.signals.without(question, note, langs).split()
        if len([word for word in rest if word not in ALL_STOPWORDS]) >= 2:
            return answer if answer.refusal is None else Answer(None, 0.0, (), answer.lang)
        return Answer(None, 1.0, (), answer.lang, refusal=note)

    def _verdict(self, question: str, lang: str, langs: frozenset[str], kind: str | None) -> Answer:
        """The verdict of the words, the signals and the model, the refusal kind the signals
        name (`kind`, not a note) and the languages to compare with (`langs`) given.

        The question is compared with phrasings in `langs` (`languages`: `lang`, the base
        language and the language the text itself was detected in, when that differs).

        - A message that is one of the small-talk examples ("hi", "merci") gets that item.
        - A message of several sentences or clauses that is not answered as a whole is read
          clause by clause (issue 11.4): the best confident answer to a question-like clause
          ("..., so how do i close it?") stands in for the words' verdict, so "hi, how long
          does it take?" is answered; below `sem_skip` the model still weighs it (`fuse`).
        - A lexical answer scoring at least `sem_skip` is given at once; anything else is decided
          on the words and the semantic signal together (`fuse`), when it is installed.
        - A refusal names its `refusals:` kind when the closest refusal example is one of that
          kind's examples (another site, a hacked account, an order problem)."""
        talk = self.signals.talk(question)
        if talk is not None:
            return Answer(None, 1.0, (), lang, smalltalk=talk)
        if kind is not None:
            return Answer(None, 1.0, (), lang, refusal=kind)
        ranking = self.rank(question, langs)
        answer, refused = self.decide(ranking, lang)
        if not answer.matched:
            # A story that complains first ("my orders came late, ... so how do i close it?")
            # may look like a refusal as a whole: its question-like clause decides.
            whole, whole_refused = answer, refused
            answer, refused = self.decide_by_clauses(question, langs, lang, answer)
            # A clause's answer is weighed with the model like any lexical answer: the clause
            # "I want out because of privacy" of "..., what are the steps?" shares words with
            # the reasons people leave, the whole asks how to delete (tuning sets: 6 of 28
            # clause answers were wrong; checked by the model, 4 fewer wrong and 2 more right).
            if not answer.matched and whole_refused and not refused:
                answer, refused = whole, True
        if self.semantic is None or (answer.matched and answer.score >= self.t.sem_skip):
            return answer
        return fuse(
            self.t, answer, ranking, self.evidence(question), self.entry_ids, self._suggestion
        )

    def readable(self, text: str) -> bool:
        """Whether `text` has anything to match: words, or emoji that are a small-talk example
        ("🙏"); emoji or punctuation alone otherwise ask for words."""
        return bool(normalize(text)) or self.signals.talk(text) is not None

    def each_question(
        self, question: str, lang: str = "en", also: Iterable[str | None] = ()
    ) -> tuple[Answer, ...]:
        """The confident answers to each question a message asks ("how do i delete it? and
        how long does it take?", "how do i delete it and how long does it take"), in order,
        one per entry; empty unless it asks two or more, with a question mark each or joined
        by "and" before a question word (a clause such as "what's the process" after "I want
        to close it," only makes sense with the words before it, so it is not read alone)."""
        parts = [part for part in clauses(question) if part.rstrip().endswith("?")]
        if len(parts) < 2:
            parts = asked_in_turn(question)
        if len(parts) < 2:
            return ()
        found: dict[str, Answer] = {}
        for part in parts[:MAX_QUESTIONS]:
            answer = self.match(part, lang, also)
            if answer.entry_id is not None:
                found.setdefault(answer.entry_id, answer)
        # one entry when every part that got an answer asked about it ("combien de temps ça
        # prend ? et est-ce que je reçois un mail ?"): the caller uses it if the whole
        # message got none
        return tuple(found.values())

    def evidence(self, question: str) -> Evidence:
        """What the semantic signal says about `question` (empty without the model).

        A kind that names other things and yields to "!" words (another site: "delete my ebay
        account") has examples that are near-copies of in-scope questions but for their naming
        words: they count only when the question has a word the knowledge base never uses (an
        unlisted site) or names one of the example's own naming words ("delete my facebook
        account": "facebook" is known from an out-of-scope example), else "i wish to delete my
        account" is refused as another site."""
        if self._side is None or not normalize(question):
            return Evidence({}, 0.0, None, 0.0, None)
        if not self.lexical.knows_all(question):
            return self._side.evidence(question)
        return self._side.evidence(question, self.lexical.naming_words(question))

    def decide_by_clauses(
        self, question: str, langs: frozenset[str], lang: str, answer: Answer
    ) -> tuple[Answer, bool]:
        """The best confident answer to a question-like clause of a long message (else
        `answer`), and whether an off-topic question asked inside it is refused."""
        parts = clauses(question)
        if len(parts) < 2:
            return answer, False
        best: Answer | None = None
        for part in parts:
            if not is_question_like(part):
                continue
            candidate, part_refused = self.decide(self.rank(part, langs), lang)
            if part_refused:
                return candidate, True  # an off-topic question asked inside the story: not ours
            if candidate.matched and (best is None or candidate.score > best.score):
                best = candidate
        return best or answer, False

    def decide(self, ranking: Ranking, lang: str) -> tuple[Answer, bool]:
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
        langs = self.languages(lang, ())
        best: dict[str, float] = {}
        for variant in completions(self.lexical, text):
            for entry_id, score in self.rank(variant, langs).entries[:limit]:
                best[entry_id] = max(best.get(entry_id, 0.0), score)
        ranked = sorted(best.items(), key=lambda item: -item[1])[:limit]
        return [
            self._suggestion(entry_id, score, lang)
            for entry_id, score in ranked
            if score >= self.t.offer
        ]

    def languages(self, lang: str, also: Iterable[str | None]) -> frozenset[str]:
        """The phrasings' languages a question is compared with."""
        return frozenset({lang, BASE_LANG, *(a for a in also if a)})

    def _suggestion(self, entry_id: str, score: float, lang: str) -> Suggestion:
        return Suggestion(entry_id, self.knowledge.entry(entry_id, lang).title, score)
