"""`--log-format json`: one JSON object per line, secrets still masked."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from bot.cli import _adapters, build_parser
from bot.jsonlog import JsonFormatter
from bot.logs import add_secret, setup_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_time_level_logger_message_and_exc_and_never_the_token(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    token = "987654321:json-test-token-XYZ-0123456789abcdefgh"
    add_secret(token)
    setup_logging("INFO", "json")
    log = logging.getLogger("adapters.telegram")
    log.info("calling https://api.telegram.org/bot%s/getMe\nsecond line", token)
    try:
        raise ConnectionError(f"POST /bot{token}/sendMessage refused")
    except ConnectionError:
        log.exception("send failed for %s", "chat 42")
    logging.getLogger("quiet").debug("below the level")
    err = capsys.readouterr().err
    assert token not in err
    lines = err.strip().splitlines()
    assert len(lines) == 2, err  # the embedded newline is escaped, DEBUG is dropped
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "INFO" and first["logger"] == "adapters.telegram"
    assert first["message"] == "calling https://api.telegram.org/bot[REDACTED]/getMe\nsecond line"
    assert first["time"].endswith("+00:00") and "T" in first["time"]
    assert second["level"] == "ERROR" and second["message"] == "send failed for chat 42"
    assert (
        second["exc"].startswith("Traceback")
        and "ConnectionError: POST /bot[REDACTED]" in second["exc"]
    )


def test_formatter_masks_even_a_record_made_without_the_masking_factory() -> None:
    secret = "plain-secret-made-before-factory"
    add_secret(secret)
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "value=%s", (secret,), None)
    record.msg, record.args = "value=%s", (secret,)  # as if the factory had not run
    out = json.loads(JsonFormatter().format(record))
    assert out["message"] == "value=[REDACTED]"


def test_text_stays_the_default_and_unknown_formats_are_refused(restore_logging: None) -> None:
    args = build_parser(_adapters()).parse_args(["chat"])
    assert args.log_format == "text"
    assert (
        build_parser(_adapters()).parse_args(["telegram", "--log-format", "json"]).log_format
        == "json"
    )
    with pytest.raises(SystemExit):
        build_parser(_adapters()).parse_args(["chat", "--log-format", "xml"])
    with pytest.raises(ValueError, match="'text' or 'json'"):
        setup_logging("INFO", "xml")
