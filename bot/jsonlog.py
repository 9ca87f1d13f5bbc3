"""`--log-format json`: one JSON object per log line, for log collectors.

Each line has `time` (UTC, ISO 8601 with milliseconds), `level`, `logger` and `message`, plus
`exc` (the formatted traceback) when there is one. Secrets are masked before this formatter
ever sees a record: `bot.logs` installs a log-record factory that redacts the message and the
exception text as each record is created. The formatter redacts once more anyway, so a
record made before the factory was installed cannot leak a token either.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from bot.logs import redact


class JsonFormatter(logging.Formatter):
    """Formats a record as a single line of JSON (newlines inside are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)
