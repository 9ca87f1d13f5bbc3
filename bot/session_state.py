"""A person's conversation state (`Session`) and the store's one error, apart from the stores
(`bot.sessions`, which imports asyncio, sqlite3 and the handoff code): the engine's answering
path needs only these, and `helpbot ask` should not pay for the rest at start-up."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(slots=True)
class Session:
    """Plain, JSON-serialisable state. `position` is a step or checklist id from the YAML,
    never an index, so editing the walkthrough cannot silently move people."""

    mode: str | None = None  # None, "checklist", "steps" or "confirm" (the warning before a step)
    position: str | None = None
    lang: str | None = None  # chosen with the language command; wins over everything
    seen_lang: str | None = None  # the language of this walkthrough so far, for button presses
    updated_at: float = 0.0  # set by the engine from its clock when it stores the session
    # the yes/no question the last reply asked ("forget": erase everything?), so a typed "yes"
    # after a restart still answers it; None once anything else is said
    asking: str | None = None

    @property
    def active(self) -> bool:
        return self.mode is not None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str | bytes) -> Session:
        """Raises ValueError for anything that is not a session this version can use."""
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("a session must be a JSON object")
        known: dict[str, Any] = {}
        for key in ("mode", "position", "lang", "seen_lang", "asking"):
            value = raw.get(key)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{key} is {type(value).__name__}, not text")
            known[key] = value
        if "updated_at" in raw:
            updated = raw["updated_at"]
            if isinstance(updated, bool) or not isinstance(updated, int | float):
                raise ValueError(f"updated_at is {type(updated).__name__}, not a number")
            if not math.isfinite(updated):
                raise ValueError("updated_at is not a finite number")
            known["updated_at"] = float(updated)
        return cls(**known)


class StoreUnavailable(Exception):
    """The store's backend cannot be reached or written right now. The message says which
    store (never its password) and why; the caller may answer without state and retry later."""
