"""Button payloads: short strings that say what a press means and whose button it was.

`verb:argument:owner`, e.g. `w:next.login:3fk2qa`. The owner is a short hash of the user id,
so a press by someone else in a group can be refused without storing anything per message.
Every payload fits Telegram's 64-byte callback data (and so Discord's 100-character custom id).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

MAX_PAYLOAD_BYTES = 64
VERBS = {
    "a": "answer an entry",
    "h": "answer an entry and stay on the walkthrough step",
    "w": "walkthrough navigation: action.position",
    "c": "run a command",
    "f": "forget: yes or no",
    "l": "choose the reply language",
}


def owner_tag(user_id: str) -> str:
    return hashlib.blake2b(user_id.encode(), digest_size=4).hexdigest()


@dataclass(frozen=True, slots=True)
class Payload:
    verb: str
    arg: str
    owner: str

    def encode(self) -> str:
        text = f"{self.verb}:{self.arg}:{self.owner}"
        if len(text.encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload over {MAX_PAYLOAD_BYTES} bytes: {text!r}")
        return text

    @classmethod
    def decode(cls, text: str) -> Payload | None:
        """None for anything malformed: a forged or ancient payload is just a stale button."""
        parts = text.split(":")
        if len(parts) != 3 or parts[0] not in VERBS or not parts[1] or len(text) > 100:
            return None
        return cls(*parts)


def make(verb: str, arg: str, user_id: str) -> str:
    return Payload(verb, arg, owner_tag(user_id)).encode()
