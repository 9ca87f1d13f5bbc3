"""Steps and checks named by their number: "whats step one to close my account" asks about
step 1, "the third check" about the checklist's third item, and "what are the 5 steps" about the
whole process, whatever else the words lean to.

The words of such a question mostly name the deletion ("close my account"), and a number
beside the plural "steps" reads like "Step 5"'s title, so the words alone answered the first
with the overview and the second with the last step. The phrases come from walkthrough.yaml:
each step's and each check's `named` ("step 2", "second step", "paso dos", "check 3") and the
walkthrough's `all_steps_named` ("the 5 steps"), in every language; the whole process is the
overview entry, the first of `offered_after`.

A named step only settles what the words left open: an answer with the overview entry, or a
did-you-mean (even one that does not offer the named entry: "step 2 of deleting?" offered
steps 3 and 1). A named check settles an answer with a step ("the third check" leaned to step
3's "third"), the overview, another check, or the entry that lists every check (whose
`related` names them all: "what is check 2" answered that list). A fallback with nothing to offer stays one; so does an answer about something
else ("how long after the final step?" is about the waiting time), and a follow-up that counts
from the step it names ("done with step 1, what next?").
"""

from __future__ import annotations

from bot.knowledge import BASE_LANG, Knowledge
from bot.stopwords import ALL_STOPWORDS
from bot.text import normalize
from bot.types import Answer


class StepNames:
    """The entry a message names through a step's number, from walkthrough.yaml."""

    def __init__(self, knowledge: Knowledge) -> None:
        # built once per knowledge base and kept with it (the index cache stores it too)
        base = knowledge.walkthrough(BASE_LANG)
        kept: list[tuple[str, str]] | None = knowledge.prepared.get("step_names")
        if kept is None:
            overview = base.offered_after[0] if base.offered_after else None
            found: set[tuple[str, str]] = set()  # (normalised phrase, entry)
            for lang in knowledge.languages:
                walk = knowledge.walkthrough(lang)
                for step in walk.steps:
                    found.update((normalize(p), step.entry) for p in step.named)
                for item in walk.checklist:
                    found.update((normalize(p), item.entry) for p in item.named)
                if overview is not None:
                    found.update((normalize(p), overview) for p in walk.all_steps_named)
            kept = knowledge.prepared["step_names"] = sorted(
                (phrase, entry) for phrase, entry in found if phrase.strip()
            )
        self.phrases = kept
        # by first word, so a question costs a lookup per word, not a scan of every phrase
        self._by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for phrase, entry in kept:
            words = tuple(phrase.split())
            self._by_first.setdefault(words[0], []).append((words, entry))
        # each entry's phrases' words: what is left of "skip to the last step" without them
        self.words_of: dict[str, frozenset[str]] = {}
        for phrase, entry in kept:
            self.words_of[entry] = self.words_of.get(entry, frozenset()) | set(phrase.split())
        self.steps = frozenset(step.entry for step in base.steps)
        self.overview = frozenset(base.offered_after[:1])
        self.checks = frozenset(item.entry for item in base.checklist)
        # what a named check may settle: the answers the words lean to when they say "check 3"
        self.check_settles = self.steps | self.overview | self.checks
        self.check_settles |= {
            entry.id
            for entry in knowledge.base.entries.values()
            if self.checks <= set(entry.related)
        }

    def bare(self, text: str, entry: str) -> bool:
        """Whether `text` is only a phrase naming `entry` and small words ("what is", "la")."""
        return all(
            word in ALL_STOPWORDS or word in self.words_of.get(entry, ())
            for word in normalize(text).split()
        )

    def named(self, text: str) -> str | None:
        """The one entry `text` names by a step's number (or the steps as a whole), if any."""
        if not self._by_first:
            return None
        words = normalize(text).split()
        entries = {
            entry
            for i, word in enumerate(words)
            for phrase, entry in self._by_first.get(word, ())
            if tuple(words[i : i + len(phrase)]) == phrase
        }
        return entries.pop() if len(entries) == 1 else None

    def settle(self, answer: Answer, target: str, relative: bool, bare: bool = False) -> Answer:
        """`answer` with `target`, the entry the message names, where the words left it open
        (see the module docstring). `relative`: the message counts on from the step it names
        ("done with step 1, what now?"), so the number is not the step asked about. `bare`:
        the message says nothing else but small words ("¿qué es la comprobación 3?"), so even
        a fallback with nothing to offer is settled."""
        if relative or answer.refusal is not None or answer.smalltalk is not None:
            return answer
        if answer.entry_id is None:
            if not answer.suggestions and not bare:
                return answer
            offered = next((s for s in answer.suggestions if s.id == target), None)
            score = answer.score if offered is None else max(answer.score, offered.score)
            return Answer(target, score, (), answer.lang)
        if (
            (answer.entry_id in self.overview and target in self.steps)
            or (answer.entry_id in self.steps and target in self.overview)
            or (target in self.checks and answer.entry_id in self.check_settles)
        ):
            return Answer(target, answer.score, (), answer.lang)
        return answer
