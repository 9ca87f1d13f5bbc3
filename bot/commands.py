"""Every command the bot offers, declared once.

A declaration names the command, its aliases and its options; its texts come from `ui.yaml`
(`commands.<name>` for the description, `option_<option>` for each option). The engine
dispatches from this table, Telegram's command menus and Discord's slash commands are built
from it (through `Engine.command_specs`), and the knowledge validator requires the texts it
names. Adding a command is one `@command(...)` declaration here plus its texts in `ui.yaml`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.actions import Forget
from bot.markup import escape
from bot.text import normalize
from bot.types import Reply

if TYPE_CHECKING:
    from bot.engine import Turn
    from bot.knowledge import Knowledge

OptionKind = Literal["text", "bool", "language"]
Handler = Callable[["Turn", str], list[Reply]]


@dataclass(frozen=True, slots=True)
class Option:
    """One option of a command. At most one `text` option per command: its value is the
    command's argument (`/ask how long` and Discord's `question:` option alike). A `bool`
    option is a presentation flag the adapter honours itself (`public`); a `language` option
    offers the knowledge base's languages as choices."""

    name: str
    kind: OptionKind = "text"
    required: bool = False
    autocomplete: bool = False  # offer `Engine.suggest` results while the person types

    @property
    def text_key(self) -> str:
        return f"option_{self.name}"


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    handler: Handler
    options: tuple[Option, ...] = ()
    aliases: tuple[str, ...] = ()
    admin: bool = False  # listed and run only for operators named with --admins

    @property
    def text_key(self) -> str:
        return f"commands.{self.name}"

    @property
    def argument(self) -> Option | None:
        return next((o for o in self.options if o.kind == "text"), None)


class CommandRegistry:
    """Name or alias -> declaration, in declaration order (menus keep that order)."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}
        self._aliases: dict[str, str] = {}

    def add(self, command: Command) -> None:
        for name in (command.name, *command.aliases):
            if name in self._commands or name in self._aliases:
                raise ValueError(f"command name {name!r} declared twice")
        self._commands[command.name] = command
        for alias in command.aliases:
            self._aliases[alias] = command.name

    def get(self, name: str) -> Command | None:
        name = name.lower()
        return self._commands.get(self._aliases.get(name, name))

    def names(self) -> tuple[str, ...]:
        return tuple(self._commands)

    def option_names(self) -> frozenset[str]:
        return frozenset(o.name for c in self._commands.values() for o in c.options)

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands.values())


REGISTRY = CommandRegistry()


def command(
    name: str,
    *,
    options: tuple[Option, ...] = (),
    aliases: tuple[str, ...] = (),
    admin: bool = False,
) -> Callable[[Handler], Handler]:
    """Declare a command whose handler is the decorated function."""

    def register(handler: Handler) -> Handler:
        REGISTRY.add(Command(name, handler, options, aliases, admin))
        return handler

    return register


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """An option as one platform's menu shows it, in one language."""

    name: str
    description: str
    kind: OptionKind
    required: bool
    autocomplete: bool
    choices: tuple[tuple[str, str], ...] = ()  # (value, label), for `language`


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command as a menu shows it, in one language (see `Engine.command_specs`)."""

    name: str
    description: str
    options: tuple[OptionSpec, ...] = ()
    admin: bool = False


def menu_specs(knowledge: Knowledge, lang: str | None, admin: bool) -> list[CommandSpec]:
    """Every declared command as a menu shows it in `lang` (admin commands only when `admin`);
    `Engine.command_specs` serves this to the adapters."""
    k = knowledge
    descriptions = k.command_descriptions(lang)
    languages = tuple((code, k.ui("language_name", code)) for code in k.languages)
    specs = []
    for declared in REGISTRY:
        if declared.admin and not admin:
            continue
        options = tuple(
            OptionSpec(
                o.name,
                k.ui(o.text_key, lang),
                o.kind,
                o.required,
                o.autocomplete,
                languages if o.kind == "language" else (),
            )
            for o in declared.options
        )
        specs.append(
            CommandSpec(declared.name, descriptions[declared.name], options, declared.admin)
        )
    return specs


# -- the commands ---------------------------------------------------------------------------
# Handlers take the turn (the message being handled, the person's session and language) and
# the command's argument; they return the replies.

_PUBLIC = Option("public", "bool")


@command("start", aliases=("menu",))
def _start(turn: Turn, argument: str) -> list[Reply]:
    deep = REGISTRY.get(normalize(argument))  # a deep link: t.me/bot?start=walkthrough
    if deep is not None and deep.name in ("walkthrough", "steps", "faq", "checklist", "help"):
        return turn.command(deep.name, "")
    return turn.walk.keeping_place([Reply(turn.ui("greeting"), turn.main_buttons())])


@command("help")
def _help(turn: Turn, argument: str) -> list[Reply]:
    return turn.walk.keeping_place([Reply(turn.ui("help"), turn.main_buttons())])


@command("ask", options=(Option("question", required=True), _PUBLIC))
def _ask(turn: Turn, argument: str) -> list[Reply]:
    if argument and turn.engine.handoffs.asked(argument):  # "/ask talk to a human" (Discord)
        return turn.engine.handoffs.consent(turn)
    return turn.question(argument) if argument else [Reply(turn.ui("ask_usage"))]


@command("steps")
def _steps(turn: Turn, argument: str) -> list[Reply]:
    return [turn.walk.steps_reply()]


@command("faq", options=(Option("topic", autocomplete=True), _PUBLIC), aliases=("questions",))
def _faq(turn: Turn, argument: str) -> list[Reply]:
    if not argument:
        topics = turn.k.pack(turn.lang).faq_topics
        return [Reply(turn.ui("faq_header"), turn.topic_rows(topics))]
    if argument in turn.k.base.entries:  # an entry id, picked from autocomplete
        return turn.show_entry(argument)
    return turn.question(argument)


@command("checklist")
def _checklist(turn: Turn, argument: str) -> list[Reply]:
    return [turn.walk.checklist_reply()]


@command("walkthrough", aliases=("delete",))
def _walkthrough(turn: Turn, argument: str) -> list[Reply]:
    return turn.walk.resume()


@command("cancel", aliases=("stop",))
def _cancel(turn: Turn, argument: str) -> list[Reply]:
    return turn.walk.cancel()


@command("forget")
def _forget(turn: Turn, argument: str) -> list[Reply]:
    yes = turn.button(turn.ui("button_forget_yes"), Forget(True))
    no = turn.button(turn.ui("button_forget_no"), Forget(False))
    turn.asking = "forget"  # a typed "yes" or "no" answers it too
    return [Reply(turn.ui("forget_confirm"), ((yes, no),))]


@command("human")
def _human(turn: Turn, argument: str) -> list[Reply]:
    """Reach a person (bot.handoff): the consent step, or where to get help without a team."""
    return turn.engine.handoffs.consent(turn)


@command("language", options=(Option("language", "language"),))
def _language(turn: Turn, argument: str) -> list[Reply]:
    return turn.choose_language(argument)


@command("close")
def _close(turn: Turn, argument: str) -> list[Reply]:
    """Staff end a handoff from inside its thread (Discord) or topic: the adapter handles it
    there, as only it knows the thread and who is staff. Anywhere else nothing is closed."""
    return [Reply(turn.ui("handoff_close_elsewhere"))]


# -- operators' commands (only for --admins; for anyone else they do not exist) --------------


@command("stats", admin=True)
def _stats(turn: Turn, argument: str) -> list[Reply]:
    engine = turn.engine

    async def figures() -> list[Reply]:
        from bot.report import build_report

        until = engine.clock()
        since = until - 24 * 3600
        events = await engine.events.events(since)
        report = build_report(events, turn.k, since, until, top=1)
        overall, walk = report["overall"], report["walkthrough"]
        helpful = sum(e["helpful"] for e in report["entries"])
        rated = helpful + sum(e["unhelpful"] for e in report["entries"])
        top = report["unanswered"][0]["questions"][0]["text"] if report["unanswered"] else "-"
        text = turn.ui(
            "stats",
            questions=overall["questions"],
            answered=overall["answered"],
            did_you_mean=overall["did_you_mean"],
            fallback=overall["fallback"],
            helpful=helpful,
            rated=rated,
            started=walk["started"],
            finished=walk["finished"],
            cancelled=walk["cancelled"] + walk["idle"],
            top=escape(top),
        )
        return [Reply(text)]

    turn.later.append(figures)
    return []


@command("reload", admin=True)
def _reload(turn: Turn, argument: str) -> list[Reply]:
    engine = turn.engine

    async def reload() -> list[Reply]:
        result = await engine.reload()
        key = "reload_done" if result.ok else "reload_refused"
        return [Reply(turn.k.ui(key, turn.lang, reason=escape(result.reason)))]

    turn.later.append(reload)
    return []
