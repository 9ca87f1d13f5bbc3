"""Logging set-up that never lets a secret (a bot token) reach a log line."""

from __future__ import annotations

import logging
import re
from typing import Any

_secrets: set[str] = set()
# Token shapes each adapter registers (`Adapter.secret_patterns`): masked even when unregistered.
_patterns: list[re.Pattern[str]] = []
# Library loggers held at WARNING or above (`Adapter.quiet_loggers`), e.g. ones that log URLs.
_quiet: set[str] = {"httpx", "httpcore"}
_installed = False
_configured = False


def add_secret(secret: str | None) -> None:
    """Register a value that must be masked wherever it would be logged."""
    if secret and len(secret) >= 8:
        _secrets.add(secret)
    _install_masking()


def add_secret_pattern(pattern: re.Pattern[str]) -> None:
    """Mask everything matching `pattern` (a platform's token shape) in every log record."""
    if pattern not in _patterns:
        _patterns.append(pattern)
    _install_masking()


def quiet_loggers(*names: str) -> None:
    """Hold these loggers at WARNING or above once `setup_logging` configures logging (at once
    when it already has); an embedding application or a test keeps its own levels."""
    _quiet.update(names)
    if _configured:
        root = logging.getLogger().level
        for name in names:
            logging.getLogger(name).setLevel(max(logging.WARNING, root))


def redact(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, "[REDACTED]")
    for pattern in _patterns:
        text = pattern.sub("[REDACTED]", text)
    return text


def _install_masking() -> None:
    """Mask secrets in every log record as it is created, whatever handler later receives it
    (ours, pytest's capture, an embedding application's) and in exception text too. httpx logs
    each request URL, which for Telegram contains the token, at INFO."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)


def setup_logging(level: str = "INFO") -> None:
    global _configured
    _configured = True
    _install_masking()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO, and some platforms put the token in the URL.
    for noisy in _quiet:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
