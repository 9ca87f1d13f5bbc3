"""bot.fusion.fuse: small talk over an entry the words alone found (Thresholds.talk_sure)."""

from bot.fusion import Evidence, fuse
from bot.lexical import Ranking
from bot.thresholds import Thresholds
from bot.types import Answer, Suggestion

ENTRIES = ["reopen_account", "processing_time"]


def _suggest(entry_id: str, score: float, lang: str) -> Suggestion:
    return Suggestion(entry_id, entry_id, score)


def _verdict(talk: float) -> Answer:
    # "cya later": the words find reopen_account below sem_skip; the model sees a goodbye.
    lexical = Answer("reopen_account", 0.47, (), "en")
    ranking = Ranking((("reopen_account", 0.47),), 0.0)
    evidence = Evidence({0: 0.52, 1: 0.40}, 0.68, None, talk, "goodbye")
    return fuse(Thresholds(), lexical, ranking, evidence, ENTRIES, _suggest)


def test_a_near_certain_small_talk_example_wins_over_a_weak_lexical_entry() -> None:
    answer = _verdict(talk=0.95)
    assert answer.entry_id is None and answer.smalltalk == "goodbye"


def test_below_talk_sure_the_words_entry_is_not_replaced_by_small_talk() -> None:
    answer = _verdict(talk=0.85)
    assert answer.smalltalk is None
