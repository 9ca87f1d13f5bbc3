"""The small, immutable values that cross the boundary between adapters and the engine."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Button:
    """A button a person can press; `payload` comes back in `IncomingMessage.payload`.

    Payloads are at most 64 bytes (Telegram callback data; Discord allows 100 characters).
    """

    label: str
    payload: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to show.

    `text` uses the neutral markup of `bot.markup` (bold, links, lists); adapters render it.
    `edit` asks the adapter to replace the message whose button was pressed instead of sending
    a new one (walkthrough navigation). `private` marks a reply meant only for the presser
    (e.g. "this button is not yours"): Telegram shows it as a callback-query notice, Discord as
    an ephemeral message.
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    edit: bool = False
    private: bool = False

    def all_buttons(self) -> list[Button]:
        return [button for row in self.buttons for button in row]


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """Something a person did: typed text, a command, or a pressed button.

    `command` is set when the platform delivered a command (`/steps`, a Discord slash command);
    `text` then holds its argument. Adapters may also leave `command` empty and pass the raw
    text: the engine recognises a leading `/command` itself. `payload` is a pressed button's
    payload. `addressed` is False for group chatter the bot was not asked about.
    """

    platform: str
    chat_id: str
    user_id: str
    text: str = ""
    command: str | None = None
    payload: str | None = None
    locale: str | None = None
    is_group: bool = False
    addressed: bool = True

    @property
    def session_key(self) -> str:
        """One conversation per person per chat: the same person has separate walkthroughs in
        two groups, and two people in one group never share one."""
        return f"{self.platform}:{self.chat_id}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A runner-up entry offered as "did you mean"."""

    id: str
    title: str
    score: float


@dataclass(frozen=True, slots=True)
class Answer:
    """The matcher's verdict on one question.

    `entry_id` is set only when the matcher is confident (the *answer* band). `suggestions` are
    filled in the *suggest* band. Neither set means the fallback.

    Two verdicts replace the fallback with a reply of their own (the engine shows it, with no
    guide buttons): `smalltalk` is the id of a `smalltalk.yaml` item ("hi", "thanks": its
    `reply`), `refusal` the id of a guide.yaml `refusals:` kind (another site, a hacked
    account: its `reply`). Either one means `entry_id` is None.

    `note` names a refusal kind that answers with an entry (`answer_with`): the entry's answer
    is given, and the kind's reply follows it ("the email never came": the waiting time, then
    the spam folder and customer support).
    """

    entry_id: str | None
    score: float
    suggestions: tuple[Suggestion, ...] = field(default=())
    lang: str = "en"
    smalltalk: str | None = None
    refusal: str | None = None
    note: str | None = None

    @property
    def matched(self) -> bool:
        return self.entry_id is not None
