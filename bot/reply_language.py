"""Which language to reply in, for one message: the rules every turn follows.

The person's explicit choice (/language) wins; else the language the text is clearly written
in; else, for a walkthrough, a button press, a command or a follow-up to a recent answer, the
conversation's language so far; else the platform locale; else English.
"""

from __future__ import annotations

from bot.commands import REGISTRY
from bot.knowledge import Knowledge
from bot.language import LanguageDetector, from_locale
from bot.sessions import Session
from bot.text import normalize
from bot.types import IncomingMessage


class ReplyLanguage:
    """The language rules over one knowledge base (rebuilt when the knowledge is reloaded)."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.detector = LanguageDetector(knowledge)

    def choose(
        self, message: IncomingMessage, session: Session | None, follows_up: bool = False
    ) -> tuple[str, str | None]:
        """(reply language, language the text is written in if clear), detecting only once.
        `follows_up`: the text is a follow-up ("y luego?") to an answer given moments ago, so
        it keeps the conversation's language."""
        languages = self.knowledge.languages
        text = message.text if message.payload is None else ""
        if message.command and message.command not in ("ask", "faq"):
            text = ""
        detected = self.detector.detect(text) if text else None
        explicit = session.lang if session else None
        if explicit is not None and explicit in languages:
            return explicit, detected
        if detected:
            return detected, detected
        # The conversation's language carries a walkthrough, button presses, commands and a
        # follow-up to a recent answer; any other free question that is not clearly in any
        # language goes by the locale.
        question = message.payload is None and not message.command
        question = question and not text.startswith("/") and REGISTRY.get(normalize(text)) is None
        active = session is not None and session.active
        carried = active or not question or follows_up
        remembered = session.seen_lang if session and carried else None
        if remembered is not None and remembered in languages:
            return remembered, None
        return self.default(message), None

    def default(self, message: IncomingMessage) -> str:
        """The platform locale's language if the knowledge has it, else English."""
        return from_locale(message.locale, self.knowledge.languages) or "en"

    def to_keep(
        self, message: IncomingMessage, session: Session, lang: str, text_lang: str | None
    ) -> str | None:
        """The conversation's language, remembered for button presses and words that do not
        show their language ("hecho", "walkthrough"): the walkthrough's, else the last one a
        message was clearly written in. None (nothing kept) when the locale gives it anyway."""
        kept: str | None = lang if session.active else text_lang or session.seen_lang
        return None if kept == self.default(message) else kept
