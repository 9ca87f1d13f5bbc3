"""Which language to reply in, for one message: the rules every turn follows.

The person's explicit choice (/language) wins; else the language the text is clearly written
in; else the conversation's language so far (the walkthrough's, or the last one a message was
clearly written in); else the platform locale; else English.
"""

from __future__ import annotations

from bot.knowledge import Knowledge
from bot.language import LanguageDetector, from_locale
from bot.session_state import Session
from bot.types import IncomingMessage


class ReplyLanguage:
    """The language rules over one knowledge base (rebuilt when the knowledge is reloaded)."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.detector = LanguageDetector(knowledge)

    def choose(self, message: IncomingMessage, session: Session | None) -> tuple[str, str | None]:
        """(reply language, language the text is written in if clear), detecting only once."""
        languages = self.knowledge.languages
        text = message.text if message.payload is None else ""
        if message.command and message.command not in ("ask", "faq"):
            text = ""
        elif text.startswith("/"):  # a command typed as text: "/help" is no English word
            text = text.partition(" ")[2]
        detected = self.detector.detect(text) if text else None
        explicit = session.lang if session else None
        if explicit is not None and explicit in languages:
            return explicit, detected
        if detected and session is not None and session.active and len(text.split()) <= 2:
            # "merci", "obrigado" mid-walkthrough: a word of thanks in another language does
            # not move the whole walkthrough there (Cyrillic says who is writing: it does)
            current = session.seen_lang or self.default(message)
            if detected != current and detected != "ru" and current in languages:
                return current, detected
        if detected:
            return detected, detected
        # The conversation's language, when a message has shown it, carries whatever is not
        # clearly in any language: a person who asked in Spanish and then types "sí", "listo"
        # or "cancelar" is still writing Spanish. The locale decides only before that.
        remembered = session.seen_lang if session else None
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
