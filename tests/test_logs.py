"""Secrets never reach a log line, whoever logs them and whichever handler writes them."""

from __future__ import annotations

import logging

from bot.logs import add_secret, redact


def test_registered_secret_is_masked_in_messages_args_and_tracebacks(caplog):
    secret = "s3cr3t-token-value-for-test"
    add_secret(secret)
    log = logging.getLogger("some.library")
    with caplog.at_level(logging.DEBUG):
        log.info("GET https://api.example/bot%s/getMe", secret)
        try:
            raise RuntimeError(f"failed with {secret}")
        except RuntimeError:
            log.exception("request failed")
    text = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert secret not in text
    assert "[REDACTED]" in text


def test_telegram_shaped_tokens_are_masked_even_unregistered():
    import adapters.telegram  # noqa: F401  (the adapter registers its token shape on import)

    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    assert token not in redact(f"https://api.telegram.org/bot{token}/getUpdates")
