"""Button actions: what pressing a button means, typed, and the one place that encodes them.

Each action is a frozen dataclass with named, typed fields (`str` or `bool`), registered under
a one-letter tag with `@action("x")`, and it handles itself: `run(turn)` returns the replies.
A payload is `tag:field:...:owner`, where the owner is a short hash of the presser's user id,
so a press by someone else in a group is refused without storing anything per message.
Nothing outside this module knows that format: use `encode`, `decode` and `button`.
Adding a button action is one class here; the engine does not change.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, ClassVar, TypeVar

from bot.types import Button, Reply

if TYPE_CHECKING:
    from bot.engine import Turn

MAX_PAYLOAD_BYTES = 64  # Telegram's callback data; Discord's custom_id allows 100 characters
_SEP = ":"


class Action:
    """A pressed button's meaning. Subclasses are frozen dataclasses registered with `@action`."""

    tag: ClassVar[str] = ""

    def run(self, turn: Turn) -> list[Reply]:
        raise NotImplementedError


A = TypeVar("A", bound=type[Action])
_ACTIONS: dict[str, type[Action]] = {}
_FIELD_NAMES: dict[type[Action], tuple[str, ...]] = {}  # per class, read once (speed only)


def action(tag: str) -> Callable[[A], A]:
    """Register an action class under a short tag (part of every payload: keep it tiny)."""

    def register(cls: A) -> A:
        if not tag or _SEP in tag or tag in _ACTIONS:
            raise ValueError(f"action tag {tag!r} is empty, has {_SEP!r} or is taken")
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} must be a frozen dataclass (put @action above it)")
        for f in dataclasses.fields(cls):
            if f.type not in ("str", "bool", str, bool):
                raise TypeError(f"{cls.__name__}.{f.name}: actions carry only str and bool")
        cls.tag = tag
        _ACTIONS[tag] = cls
        _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
        return cls

    return register


@lru_cache(maxsize=1024)  # a reply's buttons all carry the same person's tag (speed only)
def owner_tag(user_id: str) -> str:
    return hashlib.blake2b(user_id.encode(), digest_size=4).hexdigest()


def encode(act: Action, user_id: str) -> str:
    """The payload for `act` pressed by `user_id`; ValueError if it cannot fit or round-trip."""
    parts = [act.tag]
    for name in _FIELD_NAMES[type(act)]:
        value = getattr(act, name)
        text = ("1" if value else "0") if isinstance(value, bool) else str(value)
        if not text or _SEP in text:
            raise ValueError(f"{type(act).__name__}.{name}={value!r} cannot go in a payload")
        parts.append(text)
    payload = _SEP.join([*parts, owner_tag(user_id)])
    if len(payload.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload over {MAX_PAYLOAD_BYTES} bytes: {payload!r}")
    return payload


@dataclass(frozen=True, slots=True)
class Pressed:
    action: Action
    owner: str

    def belongs_to(self, user_id: str) -> bool:
        return self.owner == owner_tag(user_id)


def decode(payload: str) -> Pressed | None:
    """The action and owner tag in a payload; None for anything malformed (forged, garbled or
    from an older version): the engine treats that as a stale button."""
    if len(payload.encode()) > MAX_PAYLOAD_BYTES:
        return None
    tag, *values, owner = payload.split(_SEP) if _SEP in payload else ("", "")
    cls = _ACTIONS.get(tag)
    if cls is None or not owner:
        return None
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]  # registered classes are dataclasses
    if len(values) != len(fields) or not all(values):
        return None
    args: dict[str, str | bool] = {}
    for f, text in zip(fields, values, strict=True):
        if f.type in ("bool", bool):
            if text not in ("0", "1"):
                return None
            args[f.name] = text == "1"
        else:
            args[f.name] = text
    return Pressed(cls(**args), owner)


def button(label: str, act: Action, user_id: str) -> Button:
    return Button(label, encode(act, user_id))


# -- the actions ----------------------------------------------------------------------------


@action("a")
@dataclass(frozen=True, slots=True)
class ShowEntry(Action):
    """Answer one entry of the guide (FAQ topics, "did you mean", related topics)."""

    entry: str

    def run(self, turn: Turn) -> list[Reply]:
        if self.entry not in turn.k.base.entries:
            return turn.walk.stale()
        return turn.show_entry(self.entry)


@action("c")
@dataclass(frozen=True, slots=True)
class RunCommand(Action):
    """Run a command as if typed (main menu buttons)."""

    name: str

    def run(self, turn: Turn) -> list[Reply]:
        return turn.command(self.name, "")


@action("l")
@dataclass(frozen=True, slots=True)
class ChooseLanguage(Action):
    code: str

    def run(self, turn: Turn) -> list[Reply]:
        return turn.choose_language(self.code)


@action("f")
@dataclass(frozen=True, slots=True)
class Forget(Action):
    """The answer to "erase everything?"."""

    confirm: bool

    def run(self, turn: Turn) -> list[Reply]:
        if self.confirm:
            turn.forget()
            return [Reply(turn.ui("forgotten"), edit=True)]
        return [Reply(turn.ui("forget_kept"), edit=True)]


@action("w")
@dataclass(frozen=True, slots=True)
class Navigate(Action):
    """A walkthrough move (`next`, `back`, `cancel`, ...) pressed at position key `at`."""

    move: str
    at: str

    def run(self, turn: Turn) -> list[Reply]:
        return turn.walk.press(self.move, self.at)


@action("h")
@dataclass(frozen=True, slots=True)
class StepHelp(Action):
    """A step's help button: answer `entry` and stay at position key `at`."""

    entry: str
    at: str

    def run(self, turn: Turn) -> list[Reply]:
        return turn.walk.help(self.entry, self.at)


@action("r")
@dataclass(frozen=True, slots=True)
class Rate(Action):
    """👍 / 👎 under an answer: `token` is the answer's random rating token (`new_token()`)."""

    token: str
    helpful: bool

    def run(self, turn: Turn) -> list[Reply]:
        return turn.rate(self.token, self.helpful)


@action("o")
@dataclass(frozen=True, slots=True)
class OfferHandoff(Action):
    """ "Talk to a person" pressed: show what would be shared and ask before sending anything
    (without a support team: say so and point to AliExpress customer support)."""

    def run(self, turn: Turn) -> list[Reply]:
        return turn.engine.handoffs.consent(turn)


@action("y")
@dataclass(frozen=True, slots=True)
class ConfirmHandoff(Action):
    """The answer to "pass this conversation on?": yes opens the handoff, no shares nothing."""

    yes: bool

    def run(self, turn: Turn) -> list[Reply]:
        return turn.engine.handoffs.confirm(turn, self.yes)
