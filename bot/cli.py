"""The `helpbot` command (also `python -m bot`).

Subcommands: `ask`, `validate`, `eval`, `report`, plus one per adapter module in `adapters/` (`chat` for
the console, `telegram`, `discord`, ...). Adapters are discovered by name, so a new platform is
one new file; they import their platform library only when run, so `helpbot ask` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TextIO

from bot import __version__

if TYPE_CHECKING:
    from bot.events import EventLog
    from bot.knowledge import Knowledge
    from bot.sessions import SessionStore
    from bot.types import Answer, Reply

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
_BUILTIN = ("ask", "validate", "eval", "report")


def _adapters() -> dict[str, Any]:
    """Subcommand name -> adapter, for every module in the `adapters` package: its `ADAPTER`
    class (see `bot.adapter`). A module without one but with module-level `add_arguments` and
    `run(args, engine)` is still accepted while the Telegram adapter is being ported."""
    import pkgutil

    import adapters

    found: dict[str, Any] = {}
    for info in pkgutil.iter_modules(adapters.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"adapters.{info.name}")
        adapter = getattr(module, "ADAPTER", None)
        if adapter is not None:
            found[adapter.command] = adapter
        elif hasattr(module, "add_arguments") and hasattr(module, "run"):  # legacy shape
            found[getattr(module, "COMMAND", info.name)] = module
    return found


def _description(adapter: Any) -> str:
    if isinstance(adapter, ModuleType):
        return (adapter.__doc__ or adapter.__name__).strip()
    return str(adapter.description())


def _missing_extra(name: str, adapter: Any) -> str | None:
    if not isinstance(adapter, ModuleType):
        return adapter.missing_extra()  # type: ignore[no-any-return]
    for module, extra in getattr(adapter, "REQUIRES", {}).items():
        try:
            importlib.import_module(module)
        except ImportError:
            return (
                f"helpbot {name}: the {name} library ({module}) is not installed. "
                f"From a clone of helpbot: pip install '.[{extra}]' "
                f"(from an index: pip install 'helpbot[{extra}]')."
            )
    return None


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def build_parser(adapters: dict[str, Any], *, report: bool = True) -> argparse.ArgumentParser:
    """The whole command line. `report=False` leaves the `report` subcommand's own options out
    (they need `bot.report`, ~80 ms of imports): for a command line that runs another command."""
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: an option given before the subcommand must not be reset by the subcommand's
    # own copy of it; the real defaults are set once on the top-level parser below.
    common.add_argument(
        "--knowledge",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="knowledge folder to use instead of the built-in one (default: "
        "$HELPBOT_KNOWLEDGE, else the shipped guide)",
    )
    common.add_argument(
        "--log-level",
        default=argparse.SUPPRESS,
        choices=LOG_LEVELS,
        type=str.upper,
        help="how much to log to standard error (default: WARNING, or $HELPBOT_LOG_LEVEL)",
    )
    parser = argparse.ArgumentParser(
        prog="helpbot",
        description="A support chatbot that walks people through a step-by-step guide. "
        "Try `helpbot chat` to talk to it in this terminal.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"helpbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = sub.add_parser(
        "ask",
        parents=[common],
        help="answer one question and exit",
        description="Print the answer the bot would give to a question asked out of the blue "
        "(no walkthrough or command: try those in `helpbot chat`). Use - to read one question "
        "per line from standard input.",
    )
    ask.add_argument("question", nargs="+", help="the question, or - for standard input")
    ask.add_argument(
        "--json", action="store_true", help="print a JSON object (one per line with -)"
    )
    ask.add_argument(
        "--lang",
        default=None,
        help="answer in this language, whatever the question's (default: the question's "
        "language if clear, else English)",
    )

    validate = sub.add_parser(
        "validate",
        parents=[common],
        help="check a knowledge folder and report every problem",
        description="Exit 0 with a one-line summary, or print each problem with its file and line and exit 1.",
    )
    validate.add_argument(
        "path", nargs="?", help="knowledge folder (default: --knowledge or the built-in one)"
    )
    validate.add_argument(
        "--strict",
        action="store_true",
        help="also fail on warnings (untranslated text, questions in the wrong language)",
    )

    evaluate = sub.add_parser(
        "eval",
        parents=[common],
        help="measure answer quality on a question set",
        description="Top-1 accuracy, out-of-scope rejection, confident wrong answers and a confusion list for YAML question sets (format: tests/questions/tuning/en.yaml); a folder stands for its *.yaml files, and sets (folders) are shown side by side.",
    )
    evaluate.add_argument(
        "files",
        nargs="+",
        metavar="PATH",
        help="question file or folder of them: lang: xx, in_scope: {entry_id: [questions]}, out_of_scope: [questions], smalltalk: [messages]",
    )
    evaluate.add_argument(
        "--min-accuracy",
        type=_percentage,
        metavar="PERCENT",
        help="exit 1, naming the file, if any file's accuracy is below this percentage (e.g. 95)",
    )
    evaluate.add_argument(
        "--min-rejection",
        type=_percentage,
        metavar="PERCENT",
        help="exit 1, naming the file, if any file's out-of-scope rejection is below this percentage (e.g. 97)",
    )
    evaluate.add_argument("--json", action="store_true", help="print the figures as JSON")
    evaluate.add_argument(
        "--limit", type=int, default=50, help="at most this many confusions listed (default: 50)"
    )

    report_parser = sub.add_parser(
        "report",
        parents=[common],
        help="what was answered, what went unanswered, where people gave up",
        description="Rates, the top unanswered questions with YAML to paste, per-entry ratings and the walkthrough funnel, from the anonymous events in the bot's SQLite file. Plain text, --json, or --html FILE (needs the report extra).",
    )
    if report:
        from bot.report import add_arguments as add_report_arguments

        add_report_arguments(report_parser)

    for name, adapter in sorted(adapters.items()):
        description = _description(adapter)
        adapter_parser = sub.add_parser(
            name,
            parents=[common],
            help=description.splitlines()[0],
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        adapter_parser.add_argument(
            "--db",
            default=None,
            metavar="PATH",
            help="SQLite file for conversation state, or :memory: (default: $HELPBOT_DB or the user data folder)",
        )
        adapter_parser.add_argument(
            "--store",
            default=None,
            metavar="URL",
            help="where conversation state lives: sqlite:///path, memory:// or redis://[:password@]host:port/db (rediss:// for TLS; password also from $REDIS_PASSWORD). Default: $HELPBOT_STORE, else as --db",
        )
        adapter_parser.add_argument(
            "--ttl",
            type=_positive("hours"),
            default=24.0,
            metavar="HOURS",
            help="close walkthroughs idle for this long (default: 24)",
        )
        _add_loop_arguments(adapter_parser)
        adapter_parser.add_argument(
            "--metrics-port",
            type=int,
            default=None,
            metavar="PORT",
            help="serve /healthz, /readyz and Prometheus /metrics on this port (needs helpbot[metrics])",
        )
        adapter_parser.add_argument(
            "--metrics-host",
            default="127.0.0.1",
            metavar="ADDRESS",
            help="address for --metrics-port (default: 127.0.0.1; the Docker image passes 0.0.0.0)",
        )
        adapter_parser.add_argument(
            "--log-format",
            choices=["text", "json"],
            default="text",
            help="text lines (default) or one JSON object per line for log collectors",
        )
        adapter.add_arguments(adapter_parser)
    return parser


def _add_loop_arguments(parser: argparse.ArgumentParser) -> None:
    """The operator's loop: anonymous events, feedback buttons, admins and hot reload."""
    parser.add_argument(
        "--no-question-log",
        action="store_true",
        help="keep no question text at all in the events (see the README's Privacy section)",
    )
    parser.add_argument(
        "--retention-days",
        type=_positive("days"),
        default=30.0,
        metavar="DAYS",
        help="delete events older than this (default: 30)",
    )
    parser.add_argument("--no-feedback", action="store_true", help="no 👍/👎 buttons under answers")
    parser.add_argument(
        "--admins",
        type=_admins,
        default=None,
        metavar="PLATFORM:ID,...",
        help="operators who get /stats and /reload, e.g. telegram:12345,discord:67890 "
        "(default: $HELPBOT_ADMINS)",
    )
    parser.add_argument(
        "--reload-sets",
        nargs="+",
        default=None,
        metavar="FILE",
        help="question sets a reload must not answer worse (default: $HELPBOT_RELOAD_SETS, "
        "else tests/questions/tuning of a checkout serving the shipped guide, else only the "
        "built-in check)",
    )


def _command_of(argv: list[str]) -> str | None:
    """The subcommand named in `argv` (the first word that is not an option or the value of
    --knowledge / --log-level), or None. Only a hint for what to import: argparse decides."""
    words = iter(argv)
    for word in words:
        if word in ("--knowledge", "--log-level"):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _admins(text: str) -> frozenset[str]:
    """`telegram:123,discord:456` -> {"telegram:123", "discord:456"}."""
    found = set()
    for item in text.split(","):
        item = item.strip()
        platform, _, user = item.partition(":")
        if not item:
            continue
        if not platform or not user.strip():
            raise argparse.ArgumentTypeError(
                f"{item!r} is not PLATFORM:USER_ID (e.g. telegram:12345)"
            )
        found.add(f"{platform.strip().lower()}:{user.strip()}")
    return frozenset(found)


def _positive(unit: str) -> Callable[[str], float]:
    """An argparse type: a finite number of `unit` above 0 (--ttl hours, --retention-days)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {unit}") from None
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be a number of {unit} above 0, not {text}")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`helpbot ask ... | head`): stop quietly, like other CLI tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The built-in commands need no adapter, and only `report` needs bot.report: skip
    # importing what the command will not use (start-up time).
    command = _command_of(argv)
    adapters = {} if command in _BUILTIN else _adapters()
    parser = build_parser(adapters, report=command not in {*_BUILTIN, *adapters} - {"report"})
    args = parser.parse_args(argv)
    args.argv = argv  # what started this process (the Telegram workers run it again)
    # Not parser.set_defaults(): it would rewrite the shared actions' defaults in every
    # subparser and so undo an option given before the subcommand.
    args.knowledge = (
        getattr(args, "knowledge", None) or os.environ.get("HELPBOT_KNOWLEDGE", "").strip() or None
    )
    args.log_level = (
        getattr(args, "log_level", None)
        or os.environ.get("HELPBOT_LOG_LEVEL", "").strip().upper()
        or "WARNING"
    )
    if args.log_level not in LOG_LEVELS:
        parser.error(
            f"$HELPBOT_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {args.log_level!r}"
        )
    from bot.logs import setup_logging

    setup_logging(args.log_level, getattr(args, "log_format", "text"))
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "validate":
        return cmd_validate(args.path or args.knowledge, strict=args.strict)
    # A platform bot runs for days: it reads an index built apart, not fragmenting its own
    # heap (bot.cache); the one-shot commands and the console chat build it here, faster.
    apart = args.command not in (*_BUILTIN, "chat")
    knowledge = _load_or_report(args.knowledge, apart=apart)
    if knowledge is None:
        return EXIT_PROBLEM
    lang = getattr(args, "lang", None)
    if lang is not None:
        args.lang = lang = lang.strip().lower()  # "ES" is es
    if lang is not None and lang not in knowledge.languages:
        parser.error(
            f"argument --lang: {lang!r} is not a language of the knowledge base "
            f"(choose from {', '.join(knowledge.languages)})"
        )
    if args.command in ("ask", "report", "eval"):
        return _run_offline(knowledge, args)
    return _run_platform(parser, args, adapters[args.command], knowledge)


def _run_offline(knowledge: Knowledge, args: argparse.Namespace) -> int:
    """The commands that answer from the knowledge base or the event log and exit."""
    if args.command == "ask":
        return cmd_ask(knowledge, args)
    if args.command == "report":
        from bot.report import run as run_report

        return run_report(args, knowledge)
    if args.command == "eval":
        from bot.evaluate import run_eval

        return run_eval(
            knowledge,
            [Path(f) for f in args.files],
            as_json=args.json,
            limit=args.limit,
            min_accuracy=args.min_accuracy,
            min_rejection=args.min_rejection,
        )
    raise AssertionError(f"not an offline command: {args.command}")


def _run_platform(
    parser: argparse.ArgumentParser, args: argparse.Namespace, adapter: Any, knowledge: Knowledge
) -> int:
    """Build the engine with its store, event log and metrics, then serve one platform until
    stopped."""
    missing = _missing_extra(args.command, adapter)
    if missing is not None:
        print(missing, file=sys.stderr)
        return EXIT_USAGE
    from bot.adapter import AdapterExit
    from bot.engine import Engine

    admins = args.admins
    if admins is None:
        try:
            admins = _admins(os.environ.get("HELPBOT_ADMINS", ""))
        except argparse.ArgumentTypeError as error:
            parser.error(f"$HELPBOT_ADMINS: {error}")
    if not _prepare_metrics(args):
        return EXIT_USAGE
    store = _open_store_or_report(args)
    if isinstance(store, int):
        return store
    events = _open_events_or_report(store, args)
    if events is None:
        return EXIT_PROBLEM
    engine = Engine(
        knowledge,
        store,
        ttl=args.ttl * 3600,
        events=events,
        feedback=not args.no_feedback,
        retention_days=args.retention_days,
        admins=admins,
        reload_sets=[Path(f) for f in args.reload_sets] if args.reload_sets else None,
    )
    try:
        if isinstance(adapter, ModuleType):
            return int(adapter.run(args, engine) or 0)
        try:
            running = adapter(engine, args)
        except AdapterExit as refused:  # a setting it cannot use, e.g. from the environment
            return int(adapter.report_exit(refused))
        return int(running.serve_until_signal())
    except KeyboardInterrupt:
        return 130


def _prepare_metrics(args: argparse.Namespace) -> bool:
    """With --metrics-port: `args.metrics`, a fresh `Metrics` the adapter serves from its own
    event loop (see `bot.adapter`); False after a one-line error when prometheus-client is
    missing. Without the option `args.metrics` is None."""
    args.metrics = None
    if args.metrics_port is None:
        return True
    from bot.metrics import Metrics, MetricsUnavailable

    if not 0 <= args.metrics_port < 65536:
        print(f"helpbot: --metrics-port {args.metrics_port} is not a TCP port", file=sys.stderr)
        return False
    try:
        args.metrics = Metrics()
    except MetricsUnavailable as error:
        print(f"helpbot: {error}", file=sys.stderr)
        return False
    return True


def _open_store_or_report(args: argparse.Namespace) -> SessionStore | int:
    """The store chosen by --store, --db, $HELPBOT_STORE or $HELPBOT_DB (in that order),
    proven usable (a SQLite file writable, Redis answering), else an exit status after one
    clear line: EXIT_USAGE for a store that cannot be named so (both options, an unknown
    scheme, redis:// without its extra), EXIT_PROBLEM for one that does not work."""
    import asyncio
    import sqlite3

    from bot.sessions import RedisStore, StoreUnavailable, UnknownStore, open_store, redact_url

    if args.store and args.db:
        print("helpbot: give --store URL or --db PATH, not both.", file=sys.stderr)
        return EXIT_USAGE
    where = args.store or args.db or os.environ.get("HELPBOT_STORE") or None
    shown = (
        redact_url(str(where))
        if where
        else "the default location ($HELPBOT_DB or the user data folder)"
    )
    try:
        store = open_store(where, session_ttl=2 * args.ttl * 3600)
        if isinstance(store, RedisStore):
            # Check with a throw-away client: the real one must connect inside the adapter's
            # own event loop.
            probe = open_store(where)
            assert isinstance(probe, RedisStore)

            async def check() -> None:
                try:
                    await probe.check()
                finally:
                    await probe.close()

            asyncio.run(check())
    except UnknownStore as error:
        print(f"helpbot: --store {shown}: {error}.", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, sqlite3.Error, StoreUnavailable, ValueError) as error:
        print(
            f"helpbot: cannot open the session database at {shown}: {redact_url(str(error)).rstrip('.')}. "
            "Choose another with --store URL or --db PATH (memory:// keeps nothing).",
            file=sys.stderr,
        )
        return EXIT_PROBLEM
    return store


def _open_events_or_report(store: SessionStore, args: argparse.Namespace) -> EventLog | None:
    """The anonymous event log beside the sessions: in the same SQLite file, in the same Redis
    (keys expiring after --retention-days), in memory for a memory store."""
    import sqlite3

    from bot.events import MemoryEventLog, RedisEventLog, open_event_log
    from bot.sessions import RedisStore, SqliteStore

    log_questions = not args.no_question_log
    if isinstance(store, RedisStore):
        where = args.store or os.environ.get("HELPBOT_STORE") or ""
        return RedisEventLog(where, log_questions=log_questions, retention_days=args.retention_days)
    if not isinstance(store, SqliteStore):
        return MemoryEventLog(log_questions)
    try:
        return open_event_log(store.path, log_questions=log_questions)
    except (OSError, sqlite3.Error) as error:
        print(f"helpbot: cannot open the event log in {store.path}: {error}.", file=sys.stderr)
        return None


def _load_or_report(
    path: str | None, out: TextIO = sys.stderr, apart: bool = False
) -> Knowledge | None:
    from bot.cache import load_knowledge_cached
    from bot.knowledge import KnowledgeError

    try:
        return load_knowledge_cached(path, apart=apart)
    except KnowledgeError as error:
        for problem in error.problems:
            print(problem, file=out)
        print(
            f"helpbot: the knowledge base has {len(error.problems)} problem(s); not starting.",
            file=out,
        )
        return None


def cmd_validate(path: str | None, strict: bool = False) -> int:
    from bot.knowledge import KnowledgeError, load_knowledge

    try:
        knowledge = load_knowledge(path)
    except KnowledgeError as error:
        for problem in error.problems:
            print(problem)
        sys.stdout.flush()
        print(f"{len(error.problems)} problem(s) found.", file=sys.stderr)
        return EXIT_PROBLEM
    from bot.language import wrong_language_questions

    warnings = [str(w) for w in knowledge.warnings] + wrong_language_questions(knowledge)
    for warning in warnings:
        print(f"warning: {warning}")
    if strict and warnings:
        sys.stdout.flush()
        print(f"{len(warnings)} warning(s) with --strict.", file=sys.stderr)
        return EXIT_PROBLEM
    base = knowledge.base
    questions = sum(len(e.questions) for e in base.entries.values())
    others = sum(
        len(e.questions)
        for lang in knowledge.languages
        if lang != base.lang
        for e in knowledge.packs[lang].entries.values()
    )
    walk = knowledge.walkthrough()
    print(
        f"OK: {knowledge.path}: {len(base.entries)} entries, {questions} questions in "
        f"{base.lang}" + (f" and {others} in the other languages" if others else "") + ", "
        f"{len(base.out_of_scope)} out-of-scope examples, {len(walk.checklist)} checks and "
        f"{len(walk.steps)} steps; languages: {', '.join(knowledge.languages)}"
        + (f"; {len(warnings)} warning(s)" if warnings else "")
    )
    return EXIT_OK


def cmd_ask(knowledge: Knowledge, args: argparse.Namespace) -> int:
    from bot.engine import Engine

    engine = Engine(knowledge)
    questions: Iterable[str]
    if args.question == ["-"]:
        # Undecodable bytes become U+FFFD: that line still gets an answer, and so do the rest.
        if hasattr(sys.stdin, "reconfigure"):
            sys.stdin.reconfigure(errors="replace")
        questions = (line.rstrip("\r\n") for line in sys.stdin)
    else:
        questions = [" ".join(args.question)]
    many = args.question == ["-"]
    for question in questions:
        answer, reply = engine.ask(question, args.lang)
        if args.json:
            print(json.dumps(ask_json(knowledge, answer, reply), ensure_ascii=False), flush=True)
        elif many:  # each answer under its question, one blank line apart
            print(f"> {question}\n{ask_text(reply)}\n", flush=True)
        else:
            print(ask_text(reply))
    return EXIT_OK


def _topics(reply: Reply) -> list[tuple[str, str]]:
    """(entry id, label) of the reply's buttons that answer an entry: the topics it offers."""
    from bot.actions import ShowEntry, decode

    found = []
    for button in reply.all_buttons():
        pressed = decode(button.payload)
        if pressed is not None and isinstance(pressed.action, ShowEntry):
            found.append((pressed.action.entry, button.label))
    return found


def ask_text(reply: Reply) -> str:
    """The reply as plain text, with the topics its buttons offer listed under it."""
    from bot.markup import to_plain

    lines = [to_plain(reply.text)] + [f"  - {label}" for _, label in _topics(reply)]
    return "\n".join(lines)


def ask_json(knowledge: Knowledge, answer: Answer, reply: Reply) -> dict[str, object]:
    """What a person would see, as data: the answer text with its listed topics, the topics
    (related entries, "did you mean" or the fallback's) and every button's label."""
    entry = knowledge.entry(answer.entry_id, answer.lang) if answer.entry_id else None
    return {
        "matched": answer.matched,
        "id": answer.entry_id,
        "title": entry.title if entry else None,
        "score": round(answer.score, 4),
        "answer": ask_text(reply),
        "suggestions": [
            {"id": s.id, "title": s.title, "score": round(s.score, 4)} for s in answer.suggestions
        ],
        "topics": [{"id": i, "title": label} for i, label in _topics(reply)],
        "buttons": [b.label for b in reply.all_buttons()],
        "lang": answer.lang,
        "kind": _kind(answer),
        "smalltalk": answer.smalltalk,
        "refusal": answer.refusal,
    }


def _kind(answer: Answer) -> str:
    """The verdict in one word, as the operator's events name it."""
    if answer.smalltalk is not None:
        return "smalltalk"
    if answer.refusal is not None:
        return "refusal"
    if answer.matched:
        return "answer"
    return "did_you_mean" if answer.suggestions else "fallback"


def _percentage(text: str) -> float:
    from bot.evaluate import percentage

    return percentage(text)


if __name__ == "__main__":
    raise SystemExit(main())
