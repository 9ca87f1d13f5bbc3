"""The guided walkthrough: a small state machine over the YAML's checklist and steps, the
words that drive it, and how each position looks and moves.

A position is (mode, id): ("checklist", "wallet"), ("confirm", "submit") for the warning shown
before a step that has one, or ("steps", "login"). `forward`/`backward` return the new position
or None; `Walk` is one person's walkthrough during one message (it moves their session and
renders replies with buttons); `Words` says which move a typed word means, in any language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA

from bot.actions import Navigate, RunCommand, StepHelp, button
from bot.knowledge import BASE_LANG, Knowledge, Walkthrough
from bot.lexical import step_words
from bot.markup import escape
from bot.session_state import Session
from bot.stopwords import ALL_STOPWORDS
from bot.text import clauses, is_question_like, normalize, stem
from bot.types import Button, Reply

CHECKLIST, CONFIRM, STEPS = "checklist", "confirm", "steps"


@dataclass(frozen=True, slots=True)
class Position:
    mode: str
    id: str

    @property
    def key(self) -> str:
        """Compact form carried in button payloads (`c.orders`, `w.submit`, `s.login`)."""
        return f"{self.mode[0]}.{self.id}"


def first(walk: Walkthrough) -> Position:
    return Position(CHECKLIST, walk.checklist[0].id)


def valid(walk: Walkthrough, position: Position) -> bool:
    if position.mode == CHECKLIST:
        return walk.check_index(position.id) is not None
    index = walk.step_index(position.id)
    if index is None:
        return False
    return position.mode == STEPS or bool(walk.steps[index].warning)


def forward(walk: Walkthrough, position: Position) -> Position | None:
    """The next position; None means the walkthrough is complete."""
    if position.mode == CHECKLIST:
        index = walk.check_index(position.id)
        assert index is not None
        if index + 1 < len(walk.checklist):
            return Position(CHECKLIST, walk.checklist[index + 1].id)
        return _enter_step(walk, 0)
    if position.mode == CONFIRM:
        return Position(STEPS, position.id)
    index = walk.step_index(position.id)
    assert index is not None
    return _enter_step(walk, index + 1) if index + 1 < len(walk.steps) else None


def backward(walk: Walkthrough, position: Position) -> Position | None:
    """The previous position; None when already at the very first check."""
    if position.mode == CHECKLIST:
        index = walk.check_index(position.id)
        assert index is not None
        return Position(CHECKLIST, walk.checklist[index - 1].id) if index > 0 else None
    index = walk.step_index(position.id)
    assert index is not None
    if index == 0:
        return Position(CHECKLIST, walk.checklist[-1].id)
    # Going back never re-shows a warning gate: you have already seen it to get past it.
    return Position(STEPS, walk.steps[index - 1].id)


def entry_at(walk: Walkthrough, position: Position) -> str:
    """The guide entry a check or step shows."""
    if position.mode == CHECKLIST:
        return walk.checklist[walk.check_index(position.id) or 0].entry
    return walk.steps[walk.step_index(position.id) or 0].entry


def _order(walk: Walkthrough, position: Position) -> int:
    """Where `position` comes in the walkthrough: the checks first, then the steps (a step's
    warning counts as the step)."""
    if position.mode == CHECKLIST:
        return walk.check_index(position.id) or 0
    return len(walk.checklist) + (walk.step_index(position.id) or 0)


def _enter_step(walk: Walkthrough, index: int) -> Position:
    step = walk.steps[index]
    return Position(CONFIRM if step.warning else STEPS, step.id)


def header(knowledge: Knowledge, position: Position, lang: str) -> str:
    """The bold "check 2 of 4: ..." / "Step 3 ... (3/5)" line that opens a position's message,
    in neutral markup (the title is escaped: it is text, not formatting)."""
    walk = knowledge.walkthrough(lang)
    if position.mode == CHECKLIST:
        index = walk.check_index(position.id) or 0
        key, total, entry = "checklist_item", len(walk.checklist), walk.checklist[index].entry
    else:
        index = walk.step_index(position.id) or 0
        key, total, entry = "step_header", len(walk.steps), walk.steps[index].entry
    title = escape(knowledge.entry(entry, lang).title)
    return knowledge.ui(key, lang, number=index + 1, total=total, title=title)


def describe(knowledge: Knowledge, position: Position, lang: str) -> str:
    """A short "where am I" ("check 2 of 4", "step 3 of 5") for "you're still on ..."."""
    walk = knowledge.walkthrough(lang)
    if position.mode == CHECKLIST:
        number, total, key = (
            (walk.check_index(position.id) or 0) + 1,
            len(walk.checklist),
            "where_check",
        )
    else:
        number, total, key = (walk.step_index(position.id) or 0) + 1, len(walk.steps), "where_step"
    return knowledge.ui(key, lang, number=number, total=total)


# -- typed words ----------------------------------------------------------------------------

WORD_KINDS = (
    "next",
    "back",
    "repeat",
    "cancel",
    "done",
    "more",
    "stop",  # "not yet", "no": at a check, stop here and sort it out first
    "wait",  # "wait", "hold on": stay where you are, in any mode
    "continue",
    "restart",
    "walkthrough",  # "walk me through it", "let's do it": start one, or show where you are
    "steps",  # "skip the checks": from the checklist straight to step 1
    "keep",  # "I changed my mind": stop the walkthrough, as cancel does
    "trouble",  # "it didn't work": the step again, and where to get help
    "undo",  # "oops", "I didn't mean to": right after a cancel, back to where it was
)
_LANGUAGE_WORDS = 6  # "can you speak english please": longer is a question
_STEP_NUMBER_WORDS = 8  # "can you take me to step 6 please"; longer is a question
_AFTER_A_NO = frozenset({"cancel", "back", "keep", "repeat", "wait", "restart", "steps"})
# Words that make a yes at a check a qualified one ("yes, except one order"): then it is read
# as what it says, not as Done.
_BUT = frozenset(
    "but except apart only still though although pero excepto salvo menos aunque todavia "
    "mais sauf encore mas exceto ainda porem но кроме ещё еще только хотя".split()
)
# "not" words after a yes word turn it into a no; "yet" words keep a long no a "not yet"
_NOT = frozenset("not no never nope non pas jamais nunca nao não не нет ни".split())
_YET = frozenset("yet todavia aun aún encore ainda еще ещё пока".split())
# words that ask to be shown, beside "step by step": not a topic of their own
_ASKING_WORDS = frozenset(
    "show help guide teach take walk explain bueno entonces ayudame muestrame explicame "
    "accompagne montre aide explique mostra ajuda explica покажи помоги объясни".split()
)
# Words between "no" and the thing there is none of: "no open disputes", "нет открытых споров"
_NONE_OF_FILLERS = frozenset(
    "any more open active outstanding unresolved current left de d незавершенных активных "
    "открытых".split()
)
# Words that deny a state right before it: "not empty", "il est pas vide", "он не пустой"; and
# "no está" / "não está" before one ("no está vacía")
_STATE_NOT = frozenset("not isnt arent aint wasnt pas не".split())
_COPULAS = frozenset("esta es e ta".split())
_CHECK_ANSWER_WORDS = 4  # "no I haven't yet": a longer no may be good news ("no orders left")
_CHECK_YES_WORDS = 8  # "yes I'm ok with that, go on": longer is a question or a story
_AMONG_WORDS = 12  # "the page looks different, there is no edit profile option": longer is a story
_POLITE_MAX_WORDS = 10  # longer messages are questions, not a move with polite words around
_ACK_EMOJI = frozenset({"👍", "👌", "✅", "✔", "✔️", "🆗", "👍🏻", "👍🏼", "👍🏽", "👍🏾", "👍🏿"})
_ARROWS = {"➡️": "next", "➡": "next", "▶️": "next", "▶": "next", "⏩": "next", "⏭️": "next",
           "⏭": "next", "⬅️": "back", "⬅": "back", "◀️": "back", "◀": "back", "⏪": "back",
           "⏮️": "back", "⏮": "back", "🔁": "repeat", "🔄": "repeat", "👉": "next",
           "👉🏻": "next", "👉🏼": "next", "👉🏽": "next", "👉🏾": "next", "👉🏿": "next", "❌": "cancel",
           "✖️": "cancel", "✖": "cancel", "🛑": "cancel", "⛔": "cancel"}  # fmt: skip
# What each kind of word does in each mode, first kind that applies wins.
MOVES: dict[str, tuple[tuple[str, str], ...]] = {
    CHECKLIST: (
        ("keep", "cancel"),
        ("trouble", "more"),
        ("restart", "restart"),
        ("walkthrough", "repeat"),
        ("steps", "steps"),
        ("wait", "pause"),
        ("stop", "stop"),
        ("done", "done"),
        ("yes", "done"),  # "of course", "definitely"
        ("no", "stop"),  # "nah", "not really"
        ("continue", "done"),  # "i understand", "proceed"
        ("next", "done"),
        ("more", "more"),
        ("back", "back"),
        ("repeat", "repeat"),
        ("cancel", "cancel"),
    ),
    CONFIRM: (
        ("keep", "cancel"),
        ("trouble", "repeat"),
        ("restart", "restart"),
        ("walkthrough", "repeat"),
        ("steps", "repeat"),
        ("continue", "continue"),
        ("next", "continue"),
        ("done", "continue"),
        ("yes", "continue"),
        ("back", "back"),
        ("repeat", "repeat"),
        ("more", "repeat"),  # "are you sure?", "really?": the warning again
        ("cancel", "cancel"),
        ("wait", "pause"),
        ("stop", "pause"),
    ),
    STEPS: (
        ("keep", "cancel"),
        ("trouble", "trouble"),
        ("restart", "restart"),
        ("walkthrough", "repeat"),
        ("steps", "repeat"),
        ("next", "next"),
        ("done", "next"),
        ("continue", "next"),
        ("yes", "next"),
        ("back", "back"),
        ("repeat", "repeat"),
        ("more", "repeat"),
        ("cancel", "cancel"),
        ("wait", "pause"),
        ("stop", "pause"),
    ),
}


class Words:
    """The words people type instead of pressing a walkthrough button (`words_*` in ui.yaml).

    A word is looked up in the conversation's language first, then English, then every other
    language, so "hecho" works whatever language the walkthrough is in, and a language's own
    meaning of a word wins over another's."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.languages = knowledge.languages
        # built once per knowledge base and kept with it (the index cache stores it too)
        tables: dict[str, dict[str, frozenset[str]]] | None = knowledge.prepared.get("words")
        if tables is None:
            tables = knowledge.prepared["words"] = {
                lang: {
                    kind: frozenset(
                        normalize(w) for w in knowledge.ui(f"words_{kind}", lang).split(",")
                    )
                    - {""}
                    for kind in WORD_KINDS
                }
                | {  # no walkthrough moves: see `is_yes` and `is_no`
                    "yes": _talk_examples(knowledge, lang, "yes"),
                    "no": _talk_examples(knowledge, lang, "no"),
                }
                for lang in knowledge.languages
            }
        self.tables = tables
        # "two" -> 2 in any language (`words_numbers`: one to nine, in order), and the digits:
        # "back two steps", "next 3" move that many times (see `counted`)
        numbers = {str(n): n for n in range(1, 10)}
        for lang in knowledge.languages:
            listed = [normalize(w) for w in knowledge.ui("words_numbers", lang).split(",")]
            numbers.update((word, n) for n, word in enumerate(listed, 1) if word and n < 10)
        self._numbers = numbers
        self._step_words = step_words(knowledge)
        # "español", "speak english please", "parles-tu français": a language's names and
        # the words that ask for one (`words_language`), see `language_named`
        self.language_names: dict[str, str] = {}  # a name -> its language (/language too)
        for lang in knowledge.languages:
            name = normalize(knowledge.ui("language_name", lang))
            listed = knowledge.pack(lang).ui.get("language_aliases", "").split(",")
            for alias in (name, name.split()[0] if name else "", *map(normalize, listed)):
                if alias:
                    self.language_names.setdefault(alias, lang)
        self._language_words = frozenset(
            token
            for lang in knowledge.languages
            for phrase in knowledge.ui("words_language", lang).split(",")
            for token in normalize(phrase).split()
        )
        # one-word walkthrough words (4 letters or more) -> every kind they are, any language
        single: dict[str, set[str]] = {}
        for table in tables.values():
            for kind, words in table.items():
                for word in words:
                    if kind not in ("yes", "no") and len(word) >= 4 and " " not in word:
                        single.setdefault(word, set()).add(kind)
        self._single_words = {word: frozenset(kinds) for word, kinds in single.items()}
        # one-word noes ("no", "non", "нет") before a word that says what instead, and
        # one-word yeses ("ok", "sure", "vale", "да") that may open any walkthrough word
        self._noes = _one_word(tables, ("stop", "no"))
        self._fillers = _one_word(tables, ("yes", "done", "continue"))
        # "please", "now", "can you", "por favor": words around a walkthrough word that do
        # not change it ("next please", "please cancel", "can you repeat"), any language
        polite = _listed(knowledge, "words_polite")
        self._polite = (
            re.compile("(?<!\\S)(?:" + "|".join(map(re.escape, polite)) + ")(?!\\S)")
            if polite
            else None
        )
        # Speed only: most messages are questions with no polite word in them, or with a word
        # that no walkthrough word or polite phrase has ("how long does it take"); both are
        # told by set lookups before the regex runs.
        self._polite_starts = frozenset(phrase.split()[0] for phrase in polite)
        self._polite_tokens = frozenset(token for phrase in polite for token in phrase.split())
        self._move_tokens = frozenset(
            token
            for phrases in (*(ws for table in tables.values() for ws in table.values()), polite)
            for phrase in phrases
            for token in phrase.split()
        )
        self._walkthrough_phrases = _padded(tables, "walkthrough")
        # Words that say "go" ("skip", "go", "back", "jump", "siguiente"): beside a step's
        # name they move there; "what is step 4" without one is a question about it.
        self._go_tokens = frozenset(
            token
            for table in tables.values()
            for kind in ("next", "back", "restart", "steps")
            for phrase in table[kind]
            for token in phrase.split()
            if token not in ALL_STOPWORDS and not token.isdigit()
        ) | {
            token
            for lang in knowledge.languages
            for phrase in knowledge.ui("words_go", lang).split(",")
            for token in normalize(phrase).split()
            if token not in ALL_STOPWORDS
        }
        # "it didn't work", "no encuentro el botón", "i'll keep it": also found among other
        # words (`_among`); to keep the account, a phrase of two words or more
        self._trouble_phrases = _padded(tables, "trouble")
        # "I don't see any problem, next": a move word said outright wins over trouble
        self._moves_said = _one_word(tables, ("next", "back", "cancel"))
        self._undo_phrases = _padded(tables, "undo")
        # "nothing to save", "no pending orders", "нет денег там": at a check, the good news
        # that there is nothing to sort out (`words_nothing`, or a `words_none_of` head
        # right before one of `words_things`), any language
        self._nothing_phrases = _listed(knowledge, "words_nothing")
        self._none_of_heads = _listed(knowledge, "words_none_of")
        self._things = frozenset(
            word for phrase in _listed(knowledge, "words_things") for word in phrase.split()
        )
        # what may stand beside a phrase to keep the account: small and polite words, and
        # one-word noes, cancels and yeses ("actually nevermind", "desisti", "ok")
        self._keep_beside = (
            ALL_STOPWORDS
            | self._polite_tokens
            | _one_word(tables, ("keep", "cancel", "stop", "no", "yes"))
        )
        self._keep_phrases = tuple(p for p in _padded(tables, "keep") if " " in p.strip())
        # A message is read against the words two or three times per turn (speed only).
        self._kinds = lru_cache(maxsize=4096)(self._kinds_uncached)

    def kinds(self, text: str, lang: str) -> tuple[frozenset[str], ...]:
        """Which kinds of word `text` is, per language, most relevant language first."""
        return self._kinds(text, lang)

    def _kinds_uncached(self, text: str, lang: str) -> tuple[frozenset[str], ...]:
        said = normalize(text)
        if not said:
            emoji = text.strip()
            if emoji in _ACK_EMOJI:
                return (frozenset({"done"}),)
            return (frozenset({_ARROWS[emoji]}),) if emoji in _ARROWS else ()
        order = dict.fromkeys((lang, "en", *self.languages))
        found = []
        for code in order:
            table = self.tables.get(code)
            if table:
                found.append(frozenset(kind for kind, words in table.items() if said in words))
        if any(found):
            return tuple(found)
        first, _, rest = said.partition(" ")
        if rest and first in self._fillers and any(after := self.kinds(rest, lang)):
            return after  # "ok, let's do it", "yes next", "ok cancel"; not "oui svp" (below)
        if rest and first in self._noes:
            after = self.kinds(rest, lang)  # "no, cancel", "no, go back", "нет, назад"
            if any(kinds & _AFTER_A_NO for kinds in after):
                return after
        if (
            self._polite is not None
            and said.count(" ") < _POLITE_MAX_WORDS
            and not self._polite_starts.isdisjoint(tokens := said.split())
            and self._move_tokens.issuperset(tokens)
        ):
            # polite words at the ends only first: "a" is one (Portuguese) and also a word of
            # "one step at a time please"; then everywhere ("can you repeat that please")
            pattern = self._polite.pattern
            ends = re.sub(f"^(?:{pattern}\\s*)+|(?:\\s*{pattern})+$", "", said).strip()
            for plain in (ends, " ".join(self._polite.sub(" ", said).split())):
                if plain and plain != said and any(kinds := self.kinds(plain, lang)):
                    return kinds  # "next please", "can you repeat that"
        return tuple(found)

    def counted(self, text: str, lang: str) -> tuple[str, int] | None:
        """A Next or Back said with how many times: "next next", "back back back", "go back two
        steps", "2 steps back", "skip 3" -> (the word, the count), else None. The count is a
        digit or a `words_numbers` word, with the word after it ("steps") or without."""
        tokens = normalize(text).split()
        if not 2 <= len(tokens) <= 6:
            return None
        if len(set(tokens)) == 1 and self.navigation(tokens[0], lang) in ("next", "back"):
            return tokens[0], len(tokens)
        for i, token in enumerate(tokens):
            times = self._numbers.get(token)
            if times is None:
                continue
            for end in (i + 1, i + 2):
                left = tokens[:i] + tokens[end:]
                # "на два шага назад", "recule de deux étapes": their small words aside too
                for rest in (" ".join(left), " ".join(w for w in left if len(w) > 2)):
                    if rest and self.navigation(rest, lang) in ("next", "back"):
                        return rest, times
        return None

    def only_moves(self, words: list[str]) -> bool:
        """Whether `words` are all words of walkthrough moves or polite phrases ("skip to
        the", "go back to"), in any language: a message of such words beside a step's name
        asks to go there, whatever the rest of its words lean to."""
        return bool(words) and self._move_tokens.issuperset(words)

    def step_number(self, text: str) -> int | None:
        """The number `text` gives a step ("step 6", "go to step seven", "paso 0"), if it
        names one by its word for "step" and a number; else None."""
        tokens = normalize(text).split()
        if len(tokens) > _STEP_NUMBER_WORDS or self._step_words.isdisjoint(map(stem, tokens)):
            return None
        numbers = [self._numbers.get(t, int(t) if t.isdigit() else None) for t in tokens]
        found = [n for n in numbers if n is not None]
        return found[0] if len(found) == 1 else None

    def language_named(self, text: str) -> str | None:
        """The language a short message asks for by name ("español", "speak english please",
        "in french", "parles-tu français"), else None: a name of one language beside only
        words that ask for a language and polite words."""
        tokens = normalize(text).split()
        if not tokens or len(tokens) > _LANGUAGE_WORDS:
            return None
        for size in (2, 1):
            for i in range(len(tokens) - size + 1):
                lang = self.language_names.get(" ".join(tokens[i : i + size]))
                if lang is None:
                    continue
                rest = tokens[:i] + tokens[i + size :]
                if all(w in self._language_words or w in self._polite_tokens for w in rest):
                    return lang  # not "I don't speak french", "my account is in spanish"
        return None

    def says_go(self, words: list[str]) -> bool:
        """Whether `words` (a message beside a step's name) ask to move: "skip to", "go
        back to", "vamos al"; not "what is", "what does ... say" (a question about it)."""
        return not self._go_tokens.isdisjoint(words)

    def move(self, mode: str, text: str, lang: str) -> str | None:
        """The move `text` means at a position of `mode`, or None (then it is a question).
        A word that is both Next and "no" ("n") is "no" where a question is asked (a check,
        the warning before the last step): there, moving on on a "no" would be the wrong
        guess, and staying costs one more word."""
        if mode == CHECKLIST and self._nothing_left(text):
            return "done"  # "pas besoin", "no pending orders": before "pas" is read as a no
        found = self.kinds(text, lang)
        if mode != STEPS and any("next" in kinds and "no" in kinds for kinds in found):
            return "stop" if mode == CHECKLIST else "pause"
        if mode == CONFIRM and text.rstrip().endswith("?") and any(found):
            return "pause"  # "sure?", "ok?" at the last step's warning: doubt, not a go-ahead
        if (
            text.rstrip().endswith("?")
            and any(found)
            and all(kinds <= {"done", "yes", "continue"} for kinds in found)
        ):
            return "pause"  # "¿funcionó?", "deu certo?": asks whether it worked, says nothing done
        for kinds in found:
            for kind, move in MOVES[mode]:
                if kind in kinds:
                    return move
        if self.keeps(text, lang):
            return "cancel"  # "actually nevermind i'll keep it", "desisti, vou manter a conta"
        if mode == CHECKLIST:
            return self._check_answer(text, lang)
        if (
            mode == STEPS
            and self._moves_said.isdisjoint(normalize(text).split())
            and self._among(text, self._trouble_phrases)
        ):
            return "trouble"  # "nothing works, I'm stuck", "i cant find the deactivate button"
        return None

    def _among(
        self, text: str, phrases: tuple[str, ...], beside: frozenset[str] | None = None
    ) -> bool:
        """Whether a short message that asks nothing has one of `phrases` (padded with
        spaces) among its words: "nothing works im stuck" says `words_trouble`'s "stuck".
        With `beside`, the other words must all be of it: "mejor no, decidí quedarme con
        la cuenta" keeps the account, "I'm staying with temu instead" does not."""
        said = normalize(text)
        if said.count(" ") >= _AMONG_WORDS or is_question_like(text):
            return False
        padded = f" {said} "
        found = sorted((phrase for phrase in phrases if phrase in padded), key=len, reverse=True)
        if not found or beside is None:
            return bool(found)
        for phrase in found:  # "mejor no, decidí quedarme con la cuenta": two phrases
            padded = padded.replace(phrase, " ")
        return beside.issuperset(padded.split())

    def _check_answer(self, text: str, lang: str) -> str | None:
        """A check's question answered with a yes or a no and a few words more ("yes I
        have", "yes saved", "no I haven't", "sí, ya está", "нет ещё"): Done or stop, as the
        bare word would be. Not a question ("yes but what about refunds?")."""
        tokens = self._answer_tokens(text)
        if tokens is None or len(tokens) < 2:
            return None
        if any(t.isdigit() or t in self._numbers for t in tokens):
            return None  # "check 1" names a check
        if any("more" in kinds for token in tokens[1:] for kinds in self.kinds(token, lang)):
            return None  # "yes but why": asks about the check
        first = self.kinds(tokens[0], lang)
        said_no = any(kinds & {"stop", "no"} for kinds in first)
        if said_no and (len(tokens) <= _CHECK_ANSWER_WORDS or not _YET.isdisjoint(tokens)):
            return "stop"  # "no I haven't", "no, I haven't saved it yet"
        if not _NOT.isdisjoint(tokens[1:]):
            # "definitely not", "of course not", "claro que no": a no said with a yes word
            return "stop" if len(tokens) <= _CHECK_ANSWER_WORDS else None
        # a yes may say more ("yes I'm ok with that", "of course I did", "i understand, it's
        # permanent"); a no with more words is often the good news ("no orders pending")
        for head in (" ".join(tokens[:2]), tokens[0]):
            kinds_said = self.kinds(head, lang)
            if any(kinds & {"yes", "continue"} for kinds in kinds_said):
                return "done"
            if any("done" in kinds for kinds in kinds_said) and len(tokens) <= _CHECK_ANSWER_WORDS:
                return "done"  # "ya está", "уже сделал"; not "já tentei de tudo, ..." at length
        return None

    def _answer_tokens(self, text: str) -> list[str] | None:
        """A check's answer as words, or None when it is no answer: longer than
        `_CHECK_YES_WORDS`, a question ("yes? what do you mean by disputes", or one in a later
        clause) or a qualified one ("yes, except one order")."""
        tokens = normalize(text).split()
        if not 1 <= len(tokens) <= _CHECK_YES_WORDS or "?" in text or is_question_like(text):
            return None
        if any(is_question_like(part) for part in clauses(text, min_words=1)[1:]):
            return None
        return tokens if _BUT.isdisjoint(tokens) else None

    def _nothing_left(self, text: str) -> bool:
        """Whether a check's answer says there is nothing to sort out: a `words_nothing`
        phrase ("nothing to save", "wallet is empty", "não preciso"), or a `words_none_of`
        head right before a thing ("I have no pending orders", "нет денег там"). Not with a
        "yet" ("nothing yet") or trouble ("nothing works"), not when the state is denied
        ("wallet isn't empty"), and not when a "not" follows the thing ("нет, денег не
        снимал": no, I didn't withdraw the money)."""
        tokens = self._answer_tokens(text)
        if tokens is None or not _YET.isdisjoint(tokens):
            return False
        if self._among(text, self._trouble_phrases):
            return False
        for phrase in self._nothing_phrases:
            for i in _spans(tokens, phrase):
                before = tokens[max(0, i - 2) : i]
                denied = not _STATE_NOT.isdisjoint(before) or (
                    len(before) == 2 and before[0] in ("no", "nao") and before[1] in _COPULAS
                )
                if not denied:
                    return True
        for head in self._none_of_heads:
            for i in _spans(tokens, head):
                after = tokens[i + head.count(" ") + 1 :]
                if len(after) > 1 and after[0] in _NONE_OF_FILLERS:
                    after = after[1:]
                if after and after[0] in self._things and _NOT.isdisjoint(after[1:]):
                    return True
        return False

    def _says(self, text: str, lang: str, wanted: set[str]) -> bool:
        """Whether `text` is a word of one of the `wanted` kinds, in any language."""
        return any(kinds & wanted for kinds in self.kinds(text, lang))

    def says_undo(self, text: str, lang: str) -> bool:
        """ "undo", "oops", "oops I didn't mean to cancel" (a `words_undo` phrase, alone or
        among a few words that ask nothing, any language): right after a cancel, take it
        back."""
        return self._says(text, lang, {"undo"}) or self._among(text, self._undo_phrases)

    def keeps(self, text: str, lang: str) -> bool:
        """ "I changed my mind", "ya no quiero borrarla", "desisti, nao quero mais apagar": a
        `words_keep` phrase, alone or in a short sentence of small, polite and no words."""
        return self._says(text, lang, {"keep"}) or self._among(
            text, self._keep_phrases, beside=self._keep_beside
        )

    def says_done(self, text: str, lang: str) -> bool:
        """ "done", "did it", "hecho" (the Done button's words, any language)."""
        return self._says(text, lang, {"done"})

    def says_trouble(self, text: str, lang: str) -> bool:
        """ "I'm stuck", "it didn't work", "no funciona" as the whole message, any language."""
        return self._says(text, lang, {"trouble"})

    def is_yes(self, text: str, lang: str) -> bool:
        """ "yes", "ok", "sure", "go ahead", "yes please", "let's do it" (the walkthrough's words
        for done, continue and starting, and the "yes" small talk's examples, in any language):
        an answer to "shall we?". Not "next" ("skip" is one)."""
        return self._says(text, lang, {"done", "continue", "walkthrough", "yes"})

    def is_no(self, text: str, lang: str) -> bool:
        """ "no", "nope", "not now" (the walkthrough's words for stopping and cancelling, and the
        "no" small talk's examples, in any language)."""
        return self._says(text, lang, {"stop", "wait", "cancel", "keep", "no"})

    def corrected(self, text: str) -> str | None:
        """The one-word walkthrough word `text` is a typo of ("nxet", "cancle", "bakc": one
        letter added, dropped, changed or two swapped), if exactly one word is that close.
        Words under 4 letters are left alone: "yes" and "no" are too close to others."""
        said = normalize(text)
        if len(said) < 4 or " " in said:
            return None
        close = [
            word
            for word in self._single_words
            if abs(len(word) - len(said)) <= 1 and OSA.distance(said, word, score_cutoff=1) <= 1
        ]
        meanings = {self._single_words[word] for word in close}
        return close[0] if len(meanings) == 1 else None  # "cancelr": cancel or cancelar

    def mentions_walkthrough(self, text: str) -> bool:
        """Whether `text` asks, among other words, to go step by step ("I want to delete my
        account, walk me through it", "quiero borrarla, guíame paso a paso"): a phrase of
        the walkthrough kind, in any language, on word boundaries."""
        said = f" {normalize(text)} "
        return any(phrase in said for phrase in self._walkthrough_phrases)

    def asks_for_walkthrough(self, text: str) -> bool:
        """Whether `text` is a walkthrough phrase with only small words, walkthrough words and
        asking words beside it ("show me step by step", "bueno, entonces paso a paso",
        "accompagne moi étape par étape"): a request to be guided, not a question about one
        topic "step by step"."""
        said = f" {normalize(text)} "
        for phrase in self._walkthrough_phrases:
            if phrase in said:
                rest = said.replace(phrase, " ").split()
                # "show me", "help me do it": asking words; "reset my password step by step"
                # or "explain step 2 step by step" name a topic of their own
                if all(
                    w in ALL_STOPWORDS
                    or w in self._move_tokens
                    or w in self._go_tokens
                    or w in _ASKING_WORDS
                    for w in rest
                ):
                    return True
        return False

    def starts(self, text: str, lang: str) -> bool:
        """ "walk me through it", "let's do it", "start over" (in any language): outside a
        walkthrough, these start one."""
        return self._says(text, lang, {"walkthrough", "restart"})

    def languages_saying(self, text: str, kinds: set[str]) -> list[str]:
        """The languages whose words of `kinds` include `text` as a whole ("guíame": es)."""
        said = normalize(text)
        return [lang for lang, table in self.tables.items() if any(said in table[k] for k in kinds)]

    def cancels(self, text: str, lang: str) -> bool:
        """ "cancel", "never mind", "отмена" (in any language); not "I changed my mind", which
        is a question outside a walkthrough (can I reopen my account?)."""
        return self._says(text, lang, {"cancel"})

    def skips_checks(self, text: str, lang: str) -> bool:
        """ "skip the checks", "straight to the steps" (in any language)."""
        return self._says(text, lang, {"steps"})

    def is_navigation(self, text: str, lang: str) -> bool:
        """ "next", "back" or "repeat" (in any language), e.g. typed with nothing to move."""
        return self.navigation(text, lang) is not None

    def navigation(self, text: str, lang: str) -> str | None:
        """Which of "next", "back", "repeat" or "more" `text` is (most relevant language
        first)."""
        for kinds in self.kinds(text, lang):
            for kind in ("next", "back", "repeat", "more"):
                if kind in kinds:
                    return kind
        return None


def _padded(tables: dict[str, dict[str, frozenset[str]]], kind: str) -> tuple[str, ...]:
    """The phrases of `kind`, in every language, with a space each side, to be found on word
    boundaries in a normalised message padded the same way."""
    return tuple(f" {phrase} " for table in tables.values() for phrase in table[kind])


def _spans(tokens: list[str], phrase: str) -> list[int]:
    """Where the words of `phrase` (normalised) start in `tokens`, as whole words."""
    words = phrase.split()
    size = len(words)
    return [i for i in range(len(tokens) - size + 1) if tokens[i : i + size] == words]


def _listed(knowledge: Knowledge, key: str) -> tuple[str, ...]:
    """A comma-separated ui list (`key`) of every language, normalised, longest first."""
    return tuple(
        sorted(
            {
                normalize(phrase)
                for lang in knowledge.languages
                for phrase in knowledge.ui(key, lang).split(",")
            }
            - {""},
            key=lambda phrase: (-len(phrase), phrase),
        )
    )


def _one_word(
    tables: dict[str, dict[str, frozenset[str]]], kinds: tuple[str, ...]
) -> frozenset[str]:
    """The one-word phrases of `kinds`, in every language."""
    return frozenset(
        word
        for table in tables.values()
        for kind in kinds
        for word in table[kind]
        if " " not in word
    )


def _talk_examples(knowledge: Knowledge, lang: str, item: str) -> frozenset[str]:
    """The examples of the small-talk item `item` ("yes", "no") in `lang`, normalised."""
    return frozenset(
        normalize(example)
        for talk in knowledge.pack(lang).smalltalk
        if talk.id == item
        for example in talk.examples
    ) - {""}


# What a follow-up phrase found inside a message means, as a kind of walkthrough word: having
# finished the step or asking what is next moves on, "before that" goes back, "where is that
# button" shows the step again. The first kind present wins.
FOLLOWUP_KINDS = ("done", "next", "back", "where")
FOLLOWUP_AS_WORD = {"done": "done", "next": "next", "back": "back", "where": "repeat"}
# A walkthrough word typed outside a walkthrough, read as a follow-up to the last answer.
WORD_AS_FOLLOWUP = {"next": "next", "back": "back", "repeat": "where", "more": "more"}


class FollowUps:
    """Phrases that only make sense against what the bot last showed ("what is next", "where
    is that button"), from `words_followup_*` in ui.yaml. Unlike `Words`, they are found
    inside longer messages (normalised, on word boundaries), in every language."""

    def __init__(self, knowledge: Knowledge) -> None:
        # built once per knowledge base and kept with it (the index cache stores it too)
        kept: list[tuple[str, str]] | None = knowledge.prepared.get("followups")
        if kept is None:
            phrases = {
                (normalize(p), kind)
                for lang in knowledge.languages
                for kind in FOLLOWUP_KINDS
                for p in knowledge.ui(f"words_followup_{kind}", lang).split(",")
            }
            # Longest first, so "what is the next step" is taken out whole before "next step"
            # (then alphabetical: the same order in every process).
            kept = knowledge.prepared["followups"] = sorted(
                ((p, k) for p, k in phrases if p), key=lambda pk: (-len(pk[0]), pk)
            )
        self.phrases = kept
        # Padded once here rather than for every phrase of every message (speed only), and by
        # first word: a message is tried only on the phrases that start with one of its words
        # (taking a phrase out only removes words: a phrase found after it still starts with
        # one of the message's words).
        self._padded = [(f" {p} ", k) for p, k in kept]
        self._by_first: dict[str, list[int]] = {}
        for i, (p, _) in enumerate(kept):
            self._by_first.setdefault(p.split()[0], []).append(i)

    def find(self, text: str) -> tuple[str | None, str]:
        """(the follow-up kind `text` says, or None; the text left without its phrases)."""
        normalized = normalize(text)
        said = f" {normalized} "
        found: set[str] = set()
        by_first, padded = self._by_first, self._padded
        tried = sorted({i for word in set(normalized.split()) for i in by_first.get(word, ())})
        for i in tried:
            phrase, meaning = padded[i]
            if phrase in said:
                found.add(meaning)
                said = said.replace(phrase, " ")
        kind = next((k for k in FOLLOWUP_KINDS if k in found), None)
        return kind, " ".join(said.split())


def sequence(walk: Walkthrough) -> list[str]:
    """The guide entries in walkthrough order (checks, then steps), each once."""
    return list(dict.fromkeys([c.entry for c in walk.checklist] + [s.entry for s in walk.steps]))


# -- one person's walkthrough ---------------------------------------------------------------

Rows = tuple[tuple[Button, ...], ...]


class Walk:
    """One person's walkthrough while one message is handled: it reads and moves their
    session and renders each position with its buttons, in `lang`."""

    def __init__(self, knowledge: Knowledge, lang: str, user_id: str, session: Session) -> None:
        self.k = knowledge
        self.lang = lang
        self.user_id = user_id
        self.session = session
        self.guide = knowledge.walkthrough(lang)
        # (move, check/step id) for each walkthrough move made, for the anonymous events:
        # start/next/back at the position arrived at, cancel/finish at the one left.
        self.moves: list[tuple[str, str]] = []
        self.offered = False  # whether a reply offered to start one ("start a new one?")
        self.aside = False  # whether a reply answered beside the walkthrough ("still on step 2")
        # the position a cancel just left: "undo", "oops" as the next message goes back there
        self.cancelled: Position | None = None

    def ui(self, key: str) -> str:
        return self.k.ui(key, self.lang)

    @property
    def offered_after(self) -> tuple[str, ...]:
        """Entries whose answer invites the walkthrough (ids: the base language's list)."""
        return self.k.walkthrough(BASE_LANG).offered_after

    def nav(self, label_key: str, move: str, position: Position) -> Button:
        return button(self.ui(label_key), Navigate(move, position.key), self.user_id)

    def position(self) -> Position | None:
        s = self.session
        if not s.active or s.position is None or s.mode is None:
            return None
        position = Position(s.mode, s.position)
        return position if valid(self.guide, position) else None

    def move_to(self, position: Position | None) -> None:
        self.session.mode = position.mode if position else None
        self.session.position = position.id if position else None

    def start(self) -> list[Reply]:
        position = self._begin()
        return [Reply(self.guide.intro), self.render(position, edit=False)]

    def start_at_steps(self) -> list[Reply]:
        """A new walkthrough past its checks ("skip the checks" typed outside one), without
        the intro, which announces the checks."""
        return self.navigate(self._begin(), "steps", edit=False)

    def _begin(self) -> Position:
        """Move to the first check of a new walkthrough and record the start."""
        position = first(self.guide)
        self.move_to(position)
        self.moves.append(("start", position.id))
        return position

    def resume(self) -> list[Reply]:
        """/walkthrough: where the person is, or a new walkthrough."""
        position = self.position()
        return [self.render(position, edit=False)] if position is not None else self.start()

    def cancel(self) -> list[Reply]:
        position = self.position()
        if position is None and not self.session.active:
            return [Reply(self.ui("nothing_to_cancel"))]
        if position is not None:
            self.moves.append(("cancel", position.id))
            self.cancelled = position
        self.move_to(None)
        return [Reply(self.ui("cancelled"), self.restart_row())]

    def typed(self, words: Words, text: str) -> list[Reply] | None:
        """Replies when `text` is a walkthrough word at the current position, else None;
        "back two steps" moves twice (see Words.counted)."""
        position = self.position()
        if position is None:
            return None
        move = words.move(position.mode, text, self.lang)
        if move is not None:
            return self.navigate(position, move, edit=False)
        counted = words.counted(text, self.lang)
        move = words.move(position.mode, counted[0], self.lang) if counted else None
        if counted is None or move is None:
            return None
        return self.navigate_times(position, move, counted[1])

    def navigate_times(self, position: Position, move: str, times: int) -> list[Reply]:
        """`move` (Next or Back) made `times` times, showing only where it ends; never past a
        warning (the step behind it is shown with its warning first, as one Next would), the
        end of the walkthrough or the first check."""
        replies = self.navigate(position, move, edit=False)
        for _ in range(times - 1):
            here = self.position()
            if here is None or here.mode == CONFIRM or here == position:
                break
            if move == "back" and backward(self.guide, here) is None:
                break
            if move != "back" and forward(self.guide, here) is None:
                break  # the last step stays on screen: one more Next would finish
            position = here
            replies = self.navigate(here, move, edit=False)
        return replies

    def follow(self, kind: str) -> list[Reply] | None:
        """A follow-up of `kind` (see FollowUps) at the current position, moved like the word
        it stands for; None outside a walkthrough."""
        position = self.position()
        if position is None:
            return None
        word = FOLLOWUP_AS_WORD[kind]
        if position.mode == CONFIRM and word != "back":
            word = "repeat"  # "what now?" at the warning is no go-ahead: the warning again
        move = next((m for k, m in MOVES[position.mode] if k == word), "repeat")
        return self.navigate(position, move, edit=False)

    def go_to(self, entry: str) -> list[Reply] | None:
        """Move to the step or check whose entry is `entry` ("skip to step 3", "back to check
        2"): a step's warning first when it has one, as Next would. None if no position shows
        that entry."""
        here = self.position()
        if here is None:
            return None
        step = next((i for i, s in enumerate(self.guide.steps) if s.entry == entry), None)
        check = next((i for i, c in enumerate(self.guide.checklist) if c.entry == entry), None)
        if step is not None:
            target = _enter_step(self.guide, step)
        elif check is not None:
            target = Position(CHECKLIST, self.guide.checklist[check].id)
        else:
            return None
        if target == here:
            return [self.render(here, edit=False)]
        self.move_to(target)
        self.moves.append(
            ("back" if _order(self.guide, target) < _order(self.guide, here) else "next", target.id)
        )
        return [self.render(target, edit=False)]

    @property
    def finished(self) -> bool:
        """Whether this message took the walkthrough past its last step."""
        return any(kind == "finish" for kind, _ in self.moves)

    def undo_cancel(self, key: str) -> list[Reply] | None:
        """Back to the position a cancel just left (`key`: "mode.id"), as if it never
        happened; None if the walkthrough no longer has that position."""
        mode, _, item = key.partition(".")
        target = Position(mode, item)
        if mode not in (CHECKLIST, CONFIRM, STEPS) or not valid(self.guide, target):
            return None
        self.move_to(target)
        self.moves.append(("start", target.id))
        return [Reply(self.ui("walkthrough_resumed")), self.render(target, edit=False)]

    def here_entry(self) -> str | None:
        """The entry the current position shows (None outside a walkthrough)."""
        position = self.position()
        return None if position is None else entry_at(self.guide, position)

    def here_entries(self) -> set[str]:
        """The current position's entry and its neighbours': what a follow-up may talk about."""
        position = self.position()
        if position is None:
            return set()
        near = (backward(self.guide, position), position, forward(self.guide, position))
        return {entry_at(self.guide, p) for p in near if p is not None}

    def press(self, move: str, at: str) -> list[Reply]:
        """A navigation button pressed at position key `at`."""
        position = self.position()
        if position is None:
            return self.start() if move == "start" else self.ended()
        if at != position.key:
            return [Reply(self.ui("stale_button")), self.render(position, edit=False)]
        return self.navigate(position, move, edit=True)

    def help(self, entry: str, at: str) -> list[Reply]:
        """A step's help button: its entry's answer, then where the person still is."""
        position = self.position()
        if position is None:
            return self.ended()
        if at != position.key:
            return [Reply(self.ui("stale_button")), self.render(position, edit=False)]
        known = entry in self.k.base.entries
        text = self.k.entry(entry, self.lang).answer if known else self.ui("stale_button")
        return [Reply(text), self.still_here(position)]

    def stale(self) -> list[Reply]:
        position = self.position()
        if position is None:
            return self.ended()
        return [Reply(self.ui("stale_button")), self.render(position, edit=False)]

    def ended(self) -> list[Reply]:
        self.offered = True  # "Start a new one?": a typed "yes" starts it (Turn.answer_asked)
        return [Reply(self.ui("walkthrough_ended"), self.restart_row())]

    def restart_row(self) -> Rows:
        start = Navigate("start", "none")
        return ((button(self.ui("button_restart"), start, self.user_id),),)

    def keeping_place(self, replies: list[Reply]) -> list[Reply]:
        """`replies`, then, mid-walkthrough, where the person still is (/start and /help in
        the middle of the steps leave them there: say so, with the step's buttons)."""
        position = self.position()
        if position is None:
            return replies
        self.aside = True
        return [*replies, self.still_here(position)]

    def still_here(self, position: Position) -> Reply:
        """After an answer mid-walkthrough: where the person is, with that step's buttons."""
        where = describe(self.k, position, self.lang)
        return Reply(self.k.ui("still_here", self.lang, where=where), self.nav_buttons(position))

    def navigate(self, position: Position, move: str, edit: bool) -> list[Reply]:
        if move == "restart":  # "start over": the first check again, with the introduction
            return self.start()
        if move == "pause":  # "wait", "not yet", "hold on": stay, and say where
            return [self.still_here(position)]
        if move == "trouble":  # "it didn't work": the step again, and who can help
            self.aside = True  # an "ok" next shows the step again: it was not said to be done
            link = self.ui("support_link")
            trouble = Reply(self.k.ui("step_trouble", self.lang, link=link))
            return [trouble, self.render(position, edit=False)]
        if move == "steps":  # past the remaining checks, to step 1
            first_step = _enter_step(self.guide, 0)
            self.move_to(first_step)
            self.moves.append(("next", first_step.id))
            return [self.render(first_step, edit=edit)]
        if move == "cancel":
            self.moves.append(("cancel", position.id))
            self.cancelled = position
            self.move_to(None)
            return [Reply(self.ui("cancelled"), self.restart_row(), edit=edit)]
        if move == "more" and position.mode == CHECKLIST:
            more = self.k.entry(entry_at(self.guide, position), self.lang).answer
            return [self.render(position, edit=edit, more=more)]
        if move == "stop" and position.mode == CHECKLIST:
            # "not yet", "no": sort it out first; the place is kept, and Done carries on
            # whether there was something to sort out or not ("no funds to withdraw")
            item = self.guide.checklist[self.guide.check_index(position.id) or 0]
            stopped = item.if_no or self.ui("checklist_stopped")
            return [Reply(stopped, self.nav_buttons(position), edit=edit)]
        if move == "back":
            previous = backward(self.guide, position)
            if previous is None:
                first_already = Reply(self.ui("already_first"), private=True)
                return [first_already, self.render(position, edit=edit)]
            self.move_to(previous)
            self.moves.append(("back", previous.id))
            return [self.render(previous, edit=edit)]
        if move in ("next", "done", "continue"):
            following = forward(self.guide, position)
            self.move_to(following)
            if following is None:
                self.moves.append(("finish", position.id))
            elif following.id != position.id:  # past a warning gate is the same step
                self.moves.append(("next", following.id))
            if following is None:
                faq = button(self.ui("button_faq"), RunCommand("faq"), self.user_id)
                return [Reply(self.guide.done, ((faq,),), edit=edit)]
            return [self.render(following, edit=edit)]
        return [self.render(position, edit=False)]  # "repeat", or a move from an older version

    def nav_buttons(self, position: Position) -> Rows:
        if position.mode == CHECKLIST:
            return (
                (
                    self.nav("button_done", "done", position),
                    self.nav("button_more", "more", position),
                ),
                (
                    self.nav("button_stop", "stop", position),
                    self.nav("button_cancel", "cancel", position),
                ),
            )
        if position.mode == CONFIRM:
            return (
                (self.nav("button_continue", "continue", position),),
                (
                    self.nav("button_back", "back", position),
                    self.nav("button_cancel", "cancel", position),
                ),
            )
        step = self.guide.steps[self.guide.step_index(position.id) or 0]
        moves = (("button_back", "back"), ("button_repeat", "repeat"), ("button_next", "next"))
        rows: list[tuple[Button, ...]] = [tuple(self.nav(k, m, position) for k, m in moves)]
        for extra in step.help:
            rows.append((button(extra.label, StepHelp(extra.entry, position.key), self.user_id),))
        rows.append((self.nav("button_cancel", "cancel", position),))
        return tuple(rows)

    def render(self, position: Position, edit: bool, more: str = "") -> Reply:
        guide = self.guide
        head = header(self.k, position, self.lang)
        if position.mode == CHECKLIST:
            item = guide.checklist[guide.check_index(position.id) or 0]
            text = f"{head}\n\n{item.prompt}" + (f"\n\n{more}" if more else "")
        else:
            step = guide.steps[guide.step_index(position.id) or 0]
            confirm = position.mode == CONFIRM
            body = step.warning if confirm else self.k.entry(step.entry, self.lang).answer
            text = f"{head}\n\n{body}"
        return Reply(text, self.nav_buttons(position), edit=edit)

    def steps_reply(self) -> Reply:
        """Every step in one message (/steps)."""
        total = len(self.guide.steps)
        parts = [self.k.ui("steps_header", self.lang, total=total)]
        for number, step in enumerate(self.guide.steps, 1):
            entry = self.k.entry(step.entry, self.lang)
            title = escape(entry.title)
            head = self.k.ui("step_header", self.lang, number=number, total=total, title=title)
            parts.append(f"{head}\n{entry.answer}")
        return Reply("\n\n".join(parts), self.start_row())

    def checklist_reply(self) -> Reply:
        """Every check in one message (/checklist)."""
        parts = [self.k.ui("checklist_header", self.lang, total=len(self.guide.checklist))]
        for number, item in enumerate(self.guide.checklist, 1):
            entry = self.k.entry(item.entry, self.lang)
            parts.append(f"**{number}. {escape(entry.title)}**\n{entry.answer}")
        return Reply("\n\n".join(parts), self.start_row())

    def start_row(self) -> Rows:
        walkthrough = RunCommand("walkthrough")
        return ((button(self.ui("button_walkthrough"), walkthrough, self.user_id),),)
