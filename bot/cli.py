"""The `helpbot` command (also `python -m bot`).

Subcommands: `ask`, `validate`, `eval`, plus one per adapter module in `adapters/` (`chat` for
the console, `telegram`, `discord`, ...). Adapters are discovered by name, so a new platform is
one new file; they import their platform library only when run, so `helpbot ask` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sqlite3
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from bot import __version__

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


def _adapters() -> dict[str, Any]:
    """Subcommand name -> adapter, for every module in the `adapters` package: its `ADAPTER`
    class (see `bot.adapter`). A module without one but with module-level `add_arguments` and
    `run(args, engine)` is still accepted while the Telegram adapter is being ported."""
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


def build_parser(adapters: dict[str, Any]) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: an option given before the subcommand must not be reset by the subcommand's
    # own copy of it; the real defaults are set once on the top-level parser below.
    common.add_argument(
        "--knowledge",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="knowledge folder to use instead of the built-in one (default: the shipped guide)",
    )
    common.add_argument(
        "--log-level",
        default=argparse.SUPPRESS,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
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
        description="Print the answer the bot would give. Use - to read one question per line from standard input.",
    )
    ask.add_argument("question", nargs="+", help="the question, or - for standard input")
    ask.add_argument(
        "--json", action="store_true", help="print a JSON object (one per line with -)"
    )
    ask.add_argument("--lang", default=None, help="answer in this language (default: English)")

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
        description="Top-1 accuracy, out-of-scope rejection and a confusion list for a YAML question set (format: tests/questions.yaml).",
    )
    evaluate.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="question set YAML: lang: xx, in_scope: {entry_id: [questions]}, out_of_scope: [questions]",
    )
    evaluate.add_argument(
        "--min-accuracy",
        type=float,
        metavar="FRACTION",
        help="exit 1 if any file's accuracy is below this (e.g. 0.9)",
    )
    evaluate.add_argument(
        "--min-rejection",
        type=float,
        metavar="FRACTION",
        help="exit 1 if any file's out-of-scope rejection is below this",
    )
    evaluate.add_argument("--json", action="store_true", help="print the figures as JSON")
    evaluate.add_argument(
        "--limit", type=int, default=50, help="at most this many confusions listed (default: 50)"
    )

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
            "--ttl",
            type=float,
            default=24.0,
            metavar="HOURS",
            help="close walkthroughs idle for this long (default: 24)",
        )
        adapter.add_arguments(adapter_parser)
    return parser


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
    adapters = _adapters()
    parser = build_parser(adapters)
    args = parser.parse_args(argv)
    # Not parser.set_defaults(): it would rewrite the shared actions' defaults in every
    # subparser and so undo an option given before the subcommand.
    args.knowledge = getattr(args, "knowledge", None)
    args.log_level = (
        getattr(args, "log_level", None) or os.environ.get("HELPBOT_LOG_LEVEL", "WARNING").upper()
    )
    from bot.logs import setup_logging

    setup_logging(args.log_level)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "validate":
        return cmd_validate(args.path or args.knowledge, strict=args.strict)
    knowledge = _load_or_report(args.knowledge)
    if knowledge is None:
        return EXIT_PROBLEM
    if args.command == "ask":
        return cmd_ask(knowledge, args)
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
    adapter = adapters[args.command]
    missing = _missing_extra(args.command, adapter)
    if missing is not None:
        print(missing, file=sys.stderr)
        return EXIT_USAGE
    from bot.engine import Engine
    from bot.sessions import open_store

    try:
        store = open_store(args.db)
    except (OSError, sqlite3.Error) as error:
        where = args.db or "the default location ($HELPBOT_DB or the user data folder)"
        print(
            f"helpbot: cannot open the session database at {where}: {error}. "
            "Choose another file with --db PATH (or :memory: to keep nothing).",
            file=sys.stderr,
        )
        return EXIT_PROBLEM
    engine = Engine(knowledge, store, ttl=args.ttl * 3600)
    try:
        if isinstance(adapter, ModuleType):
            return int(adapter.run(args, engine) or 0)
        return int(adapter(engine, args).serve_until_signal())
    except KeyboardInterrupt:
        return 130


def _load_or_report(path: str | None, out: TextIO = sys.stderr):  # type: ignore[no-untyped-def]
    from bot.knowledge import KnowledgeError, load_knowledge

    try:
        return load_knowledge(path)
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
    walk = knowledge.walkthrough()
    print(
        f"OK: {knowledge.path}: {len(base.entries)} entries, {questions} questions, "
        f"{len(base.out_of_scope)} out-of-scope examples, {len(walk.checklist)} checks and "
        f"{len(walk.steps)} steps; languages: {', '.join(knowledge.languages)}"
        + (f"; {len(warnings)} warning(s)" if warnings else "")
    )
    return EXIT_OK


def cmd_ask(knowledge, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from bot.engine import Engine
    from bot.markup import to_plain

    engine = Engine(knowledge)
    questions: list[str]
    if args.question == ["-"]:
        # Undecodable bytes become U+FFFD: that line still gets an answer, and so do the rest.
        if hasattr(sys.stdin, "reconfigure"):
            sys.stdin.reconfigure(errors="replace")
        questions = (line.rstrip("\r\n") for line in sys.stdin)  # type: ignore[assignment]
    else:
        questions = [" ".join(args.question)]
    for question in questions:
        answer, reply = engine.ask(question, args.lang)
        text = to_plain(reply.text)
        if args.json:
            entry = knowledge.entry(answer.entry_id, answer.lang) if answer.entry_id else None
            print(
                json.dumps(
                    {
                        "matched": answer.matched,
                        "id": answer.entry_id,
                        "title": entry.title if entry else None,
                        "score": round(answer.score, 4),
                        "answer": text,
                        "suggestions": [
                            {"id": s.id, "title": s.title, "score": round(s.score, 4)}
                            for s in answer.suggestions
                        ],
                        "lang": answer.lang,
                    },
                    ensure_ascii=False,
                ),
                flush=True,
            )
        else:
            print(text)
            for button in reply.all_buttons():
                if button.payload.startswith("a:"):
                    print(f"  - {button.label}")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
