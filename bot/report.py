"""`helpbot report`: what the bot answered, what it could not, and where people gave up.

`build_report(events, knowledge, since, until)` turns anonymous events (`bot.events`) into one
plain dict, the `--json` output (schema `helpbot-report/1`, described in the README). The text
and HTML renderings are made from that dict only, so all three always agree. The HTML page is
one self-contained file: charts are drawn by matplotlib (the `report` extra) as inline SVG,
and a Content-Security-Policy forbids it to load anything at all.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import io
import os
import re
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from bot.events import Event, open_event_log
from bot.knowledge import Knowledge, is_shipped
from bot.sessions import StoreUnavailable, UnknownStore

SCHEMA = "helpbot-report/1"
QUESTION_KINDS = ("answer", "did_you_mean", "fallback")
UNANSWERED_SOURCES = ("did_you_mean", "fallback", "unhelpful")
OTHER_KINDS = ("smalltalk", "command", "walkthrough", "feedback", "handoff")
GROUP_SIMILARITY = 80  # rapidfuzz token_sort_ratio at or above which two questions are one group
TOP_GROUPS = 20
_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([hdw])\s*$", re.IGNORECASE)
_UNIT = {"h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def parse_since(text: str) -> float:
    """'24h', '7d', '30d', '2w' -> seconds. Raises ValueError with a readable message."""
    found = _SINCE.match(text)
    if not found or float(found[1]) <= 0:
        raise ValueError(f"{text!r} is not a period: use a number and h, d or w, e.g. 24h, 7d, 30d")
    return float(found[1]) * _UNIT[found[2].lower()]


# -- figures -------------------------------------------------------------------------------


def _rates(counts: Counter[str]) -> dict[str, Any]:
    total = sum(counts[k] for k in QUESTION_KINDS)
    figures: dict[str, Any] = {"questions": total}
    names = {"answer": "answered", "did_you_mean": "did_you_mean", "fallback": "fallback"}
    for kind, name in names.items():
        figures[name] = counts[kind]
        figures[f"{name}_rate"] = round(counts[kind] / total, 4) if total else None
    return figures


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def group_questions(
    texts: Iterable[tuple[str, str, str]], similarity: int = GROUP_SIMILARITY
) -> list[dict[str, Any]]:
    """Group (text, lang, source) triples by rapidfuzz similarity, biggest group first.

    Greedy and deterministic: distinct texts are taken most frequent first (then
    alphabetically); each joins the first group whose leading text is at least `similarity`
    alike (token_sort_ratio), or starts a new group."""
    per_text: dict[str, Counter[str]] = defaultdict(Counter)
    langs: dict[str, Counter[str]] = defaultdict(Counter)
    for text, lang, source in texts:
        per_text[text][source] += 1
        langs[text][lang] += 1
    order = sorted(per_text, key=lambda t: (-sum(per_text[t].values()), t))
    leaders: list[str] = []
    members: dict[str, list[str]] = {}
    for text in order:
        found = process.extractOne(
            text, leaders, scorer=fuzz.token_sort_ratio, score_cutoff=similarity
        )
        if found is None:
            leaders.append(text)
            members[text] = [text]
        else:
            members[found[0]].append(text)
    groups: list[dict[str, Any]] = []
    for leader in leaders:
        sources: Counter[str] = Counter()
        lang_counts: Counter[str] = Counter()
        for text in members[leader]:
            sources += per_text[text]
            lang_counts += langs[text]
        groups.append(
            {
                "count": sum(sources.values()),
                "lang": sorted(lang_counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0],
                # Every key, 0 included: a fixed shape for whoever reads the JSON.
                "sources": {source: sources[source] for source in UNANSWERED_SOURCES},
                "questions": [
                    {"text": text, "count": sum(per_text[text].values())}
                    for text in members[leader]
                ],
            }
        )
    groups.sort(key=lambda g: (-g["count"], g["questions"][0]["text"]))
    return groups


def guide_file(knowledge: Knowledge | None, lang: str) -> str:
    """Where a snippet for `lang` goes: `knowledge/<lang>/guide.yaml` for the shipped guide,
    else the served folder's own file."""
    if knowledge is None or is_shipped(knowledge.path):
        return f"knowledge/{lang}/guide.yaml"
    return str(Path(knowledge.path) / lang / "guide.yaml")


def alternates_yaml(
    entry_id: str | None, lang: str, texts: Sequence[str], file: str | None = None
) -> str:
    """A snippet to paste into `file` (default knowledge/<lang>/guide.yaml): the texts as
    alternate questions."""
    file = file or guide_file(None, lang)
    questions = yaml.safe_dump(
        list(texts), allow_unicode=True, default_flow_style=False, width=1000
    )
    body = "".join(f"      {line}\n" for line in questions.splitlines())
    if entry_id is None:
        head = f"# {file}: no entry comes close; a new entry, or out_of_scope\n"
        return f"{head}  - id: NEW_ENTRY_ID\n    questions:\n{body}"
    head = f"# {file}: add under the `questions:` of entry {entry_id}\n"
    return f"{head}  - id: {entry_id}\n    questions:\n{body}"


def _places(knowledge: Knowledge | None) -> list[tuple[str, str]]:
    """The walkthrough's checks and steps in order, each (id, "check" or "step")."""
    if knowledge is None:
        return []
    walk = knowledge.walkthrough()
    return [(item.id, "check") for item in walk.checklist] + [
        (step.id, "step") for step in walk.steps
    ]


def _funnel(events: Sequence[Event], knowledge: Knowledge | None) -> dict[str, Any]:
    moves = [e for e in events if e.kind == "walkthrough"]
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for event in moves:
        if event.position is not None and event.move is not None:
            per[event.position][event.move] += 1
    order = _places(knowledge)
    known = {position for position, _ in order}
    order += [(position, "unknown") for position in sorted(per) if position not in known]
    positions = []
    numbers: Counter[str] = Counter()
    for position, kind in order:
        numbers[kind] += 1
        counts = per.get(position, Counter())
        positions.append(
            {
                "id": position,
                "kind": kind,
                "number": numbers[kind],
                "reached": counts["start"] + counts["next"],
                "back": counts["back"],
                "cancelled": counts["cancel"],
                "idle": counts["idle"],
                "finished": counts["finish"],
            }
        )
    total = Counter(e.move for e in moves)
    return {
        "started": total["start"],
        "finished": total["finish"],
        "cancelled": total["cancel"],
        "idle": total["idle"],
        "positions": positions,
    }


def build_report(
    events: Sequence[Event],
    knowledge: Knowledge | None,
    since: float,
    until: float,
    top: int = TOP_GROUPS,
) -> dict[str, Any]:
    """All the report's figures as JSON-ready data (schema `helpbot-report/1`)."""
    events = [e for e in events if since <= e.at <= until]
    kinds: Counter[str] = Counter(e.kind for e in events)
    by_platform: dict[str, Counter[str]] = defaultdict(Counter)
    by_lang: dict[str, Counter[str]] = defaultdict(Counter)
    by_day: dict[str, Counter[str]] = defaultdict(Counter)
    for event in events:
        if event.kind in QUESTION_KINDS:
            by_platform[event.platform][event.kind] += 1
            by_lang[event.lang][event.kind] += 1
            by_day[_day(event.at)][event.kind] += 1
    return {
        "schema": SCHEMA,
        "since": _iso(since),
        "until": _iso(until),
        "events": len(events),
        "overall": _rates(kinds),
        "by_platform": {k: _rates(v) for k, v in sorted(by_platform.items())},
        "by_language": {k: _rates(v) for k, v in sorted(by_lang.items())},
        "by_day": {k: _rates(v) for k, v in sorted(by_day.items())},
        "other": {kind: kinds[kind] for kind in OTHER_KINDS},
        "handling_ms": _handling_ms(events),
        "unanswered": _unanswered(events, knowledge, top),
        "entries": _entries(events, knowledge),
        "walkthrough": _funnel(events, knowledge),
        "unknown_names": _unknown_names(events, knowledge),
    }


def _unknown_names(events: Sequence[Event], knowledge: Knowledge | None) -> list[str]:
    """Entries and walkthrough places the events name that `knowledge` lacks: events from
    another guide (the report was run without that guide's --knowledge), or a renamed id."""
    if knowledge is None:
        return []
    places = {place for place, _ in _places(knowledge)}
    names = {e.entry for e in events if e.entry and e.entry not in knowledge.base.entries}
    names |= {
        e.position
        for e in events
        if e.kind == "walkthrough" and e.position and e.position not in places
    }
    return sorted(names)


def _handling_ms(events: Sequence[Event]) -> dict[str, float | None]:
    """Median and 95th percentile of the time the bot took per message."""
    timings = sorted(e.ms for e in events if e.ms is not None)
    return {
        "median": round(timings[len(timings) // 2], 1) if timings else None,
        "p95": round(timings[min(len(timings) - 1, int(len(timings) * 0.95))], 1)
        if timings
        else None,
    }


def _unanswered(
    events: Sequence[Event], knowledge: Knowledge | None, top: int
) -> list[dict[str, Any]]:
    """The top groups of questions the bot could not answer well, each with the entry that
    comes closest and ready-to-paste YAML, so a maintainer can close the gap."""
    unanswered = [
        (e.question, e.lang, "unhelpful" if e.kind == "feedback" else e.kind)
        for e in events
        if e.question
        and (e.kind in ("fallback", "did_you_mean") or (e.kind == "feedback" and e.rating == -1))
    ]
    groups = group_questions(unanswered)[:top]
    matcher = None
    if knowledge is not None and groups:
        from bot.matcher import Matcher

        matcher = Matcher(knowledge)
    for group in groups:
        entry_id: str | None = None
        score = None
        texts = [q["text"] for q in group["questions"]]
        answers = [matcher.match(t, group["lang"]) for t in texts] if matcher is not None else []
        if answers:
            answer = answers[0]  # the group's first question suggests its entry
            if answer.entry_id is not None:
                entry_id, score = answer.entry_id, answer.score
            elif answer.suggestions:
                entry_id, score = answer.suggestions[0].id, answer.suggestions[0].score
        group["suggested_entry"] = entry_id
        group["suggested_title"] = (
            knowledge.entry(entry_id, group["lang"]).title if knowledge and entry_id else None
        )
        group["suggested_score"] = round(score, 4) if score is not None else None
        if answers:
            # A question refused as another site or topic ("delete my temu account") was
            # refused rightly: teaching it to an entry would make the bot answer it.
            texts = [t for t, a in zip(texts, answers, strict=True) if a.refusal is None]
        file = guide_file(knowledge, group["lang"])
        group["yaml"] = (
            alternates_yaml(entry_id, group["lang"], texts, file)
            if texts
            else f"# {file}: nothing to add, these were rightly refused as out of scope\n"
        )
    return groups


def _entries(events: Sequence[Event], knowledge: Knowledge | None) -> list[dict[str, Any]]:
    """Per entry: how often it was the answer and how people rated it, most used first."""
    hits = Counter(e.entry for e in events if e.kind == "answer" and e.entry)
    ratings: dict[str, Counter[int]] = defaultdict(Counter)
    for event in events:
        if event.kind == "feedback" and event.entry and event.rating:
            ratings[event.entry][event.rating] += 1
    entry_ids = sorted(set(hits) | set(ratings), key=lambda i: (-hits[i], i))
    entries = []
    for entry_id in entry_ids:
        helpful, unhelpful = ratings[entry_id][1], ratings[entry_id][-1]
        title = None
        if knowledge is not None and entry_id in knowledge.base.entries:
            title = knowledge.entry(entry_id).title
        entries.append(
            {
                "id": entry_id,
                "title": title,
                "hits": hits[entry_id],
                "helpful": helpful,
                "unhelpful": unhelpful,
                "helpful_rate": round(helpful / (helpful + unhelpful), 4)
                if helpful + unhelpful
                else None,
            }
        )
    return entries


# -- text ------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _rate_line(name: str, figures: dict[str, Any]) -> str:
    return (
        f"  {name:<14} {figures['questions']:>6}   {_pct(figures['answered_rate']):>8}"
        f"   {_pct(figures['did_you_mean_rate']):>12}   {_pct(figures['fallback_rate']):>8}"
    )


def render_text(report: dict[str, Any]) -> str:
    lines = [f"helpbot report, {report['since']} to {report['until']} (UTC)", ""]
    lines.append(
        f"  {'':<14} {'asked':>6}   {'answered':>8}   {'did-you-mean':>12}   {'fallback':>8}"
    )
    lines.append(_rate_line("overall", report["overall"]))
    for title, key in (("platform", "by_platform"), ("language", "by_language"), ("day", "by_day")):
        if report[key]:
            lines.append(f" by {title}:")
            lines += [_rate_line(name, figures) for name, figures in report[key].items()]
    other = ", ".join(f"{kind} {count}" for kind, count in report["other"].items())
    lines += ["", f"Other events: {other}"]
    timing = report["handling_ms"]
    if timing["median"] is not None:
        lines.append(
            f"Handling time: median {timing['median']} ms, 95th percentile {timing['p95']} ms"
        )
    lines += ["", "Top unanswered questions (fallback, did-you-mean, rated unhelpful):"]
    if not report["unanswered"]:
        lines.append("  none")
    for n, group in enumerate(report["unanswered"], 1):
        suggestion = group["suggested_entry"] or "no entry comes close"
        lines.append(
            f"  {n}. {group['count']} x  {group['questions'][0]['text']!r}  -> {suggestion}"
        )
        lines += [f"       {q['count']} x {q['text']!r}" for q in group["questions"][1:]]
        lines += [f"     {line}" for line in group["yaml"].splitlines()]
    lines += ["", "Entries (answers given, rated helpful):"]
    if not report["entries"]:
        lines.append("  none")
    for entry in report["entries"]:
        rated = entry["helpful"] + entry["unhelpful"]
        lines.append(
            f"  {entry['id']:<24} {entry['hits']:>5} answers   "
            f"helpful {_pct(entry['helpful_rate'])} of {rated} rated"
        )
    walk = report["walkthrough"]
    lines += [
        "",
        f"Walkthrough: started {walk['started']}, finished {walk['finished']}, "
        f"cancelled {walk['cancelled']}, went idle {walk['idle']}",
    ]
    for p in walk["positions"]:
        lines.append(
            f"  {p['kind']:<7} {p['number']:>2} {p['id']:<14} reached {p['reached']:>5}   "
            f"back {p['back']:>4}   cancelled {p['cancelled']:>4}   idle {p['idle']:>4}"
        )
    return "\n".join(lines) + "\n"


# -- HTML ------------------------------------------------------------------------------------

MISSING_EXTRA = (
    "helpbot: --html draws its charts with matplotlib, which is not installed. "
    "Install the report extra: pip install 'helpbot[report]'"
)


_COLOURS = {"answered": "#2e7d32", "did_you_mean": "#f9a825", "fallback": "#c62828"}
_LABELS = {"answered": "answered", "did_you_mean": "did you mean", "fallback": "fallback"}


def _charts(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, inline SVG) for each chart. Imports matplotlib; raises ImportError without it."""
    import matplotlib

    matplotlib.use("Agg")

    charts: list[tuple[str, str]] = []
    _stacked(charts, "days", "Questions per day", report["by_day"], horizontal=False)
    groups = {f"platform: {k}": v for k, v in report["by_platform"].items()}
    groups |= {f"language: {k}": v for k, v in report["by_language"].items()}
    _stacked(charts, "groups", "Questions per platform and language", groups, horizontal=True)
    _funnel_chart(charts, report["walkthrough"])
    return charts


def _svg(name: str, fig: Any) -> str:
    """The figure as an inline <svg> element; closes the figure."""
    import matplotlib
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    # A distinct salt per chart keeps the SVGs' element ids apart on one page.
    with matplotlib.rc_context({"svg.hashsalt": f"helpbot-{name}"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _stacked(
    charts: list[tuple[str, str]],
    name: str,
    title: str,
    rows: dict[str, dict[str, Any]],
    horizontal: bool,
) -> None:
    """Answered / did-you-mean / fallback stacked per row; nothing when there are no rows."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if not rows:
        return
    names = list(rows)
    fig, ax = plt.subplots(figsize=(9, max(2.2, 0.45 * len(names) + 1.2) if horizontal else 3.6))
    base = [0] * len(names)
    for key in ("answered", "did_you_mean", "fallback"):
        values = [rows[n][key] for n in names]
        if horizontal:
            ax.barh(names, values, left=base, color=_COLOURS[key], label=_LABELS[key])
        else:
            ax.bar(names, values, bottom=base, color=_COLOURS[key], label=_LABELS[key])
        base = [b + v for b, v in zip(base, values, strict=True)]
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    (ax.xaxis if horizontal else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
    if horizontal:
        ax.invert_yaxis()
    else:
        ax.tick_params(axis="x", labelrotation=45)
    charts.append((title, _svg(name, fig)))


def _funnel_chart(charts: list[tuple[str, str]], walk: dict[str, Any]) -> None:
    """How many reached each walkthrough position and how many gave up there."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    positions = [p for p in walk["positions"] if p["kind"] != "unknown"]
    if not (walk["started"] and positions):
        return
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(positions) + 1.5))
    names = [f"{p['kind']} {p['number']}: {p['id']}" for p in positions]
    rows = range(len(positions))
    ax.barh(
        [r - 0.2 for r in rows],
        [p["reached"] for p in positions],
        height=0.4,
        color="#1565c0",
        label="reached",
    )
    ax.barh(
        [r + 0.2 for r in rows],
        [p["cancelled"] + p["idle"] for p in positions],
        height=0.4,
        color="#c62828",
        label="cancelled or went idle here",
    )
    ax.set_yticks(list(rows), names)
    ax.invert_yaxis()
    ax.set_title("Walkthrough funnel")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="best", fontsize="small")
    charts.append(("Walkthrough funnel", _svg("funnel", fig)))


_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;
       background: #fff; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
td.n { text-align: right; }
pre { background: #f4f4f4; padding: 0.5em; margin: 0.3em 0; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
"""


def render_html(report: dict[str, Any]) -> str:
    """One self-contained page. Raises ImportError when matplotlib is missing."""
    esc = html.escape
    charts = _charts(report)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing on this page may load anything: it must open offline, and question text
        # typed by strangers is shown on it.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>helpbot report {esc(report['since'])} to {esc(report['until'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>helpbot report</h1>",
        f"<p>{esc(report['since'])} to {esc(report['until'])} (UTC), {report['events']} events.</p>",
        "<h2>Questions</h2>",
        "<table><tr><th></th><th>asked</th><th>answered</th><th>did you mean</th><th>fallback</th></tr>",
    ]
    rows = [("overall", report["overall"])]
    rows += [(f"platform {k}", v) for k, v in report["by_platform"].items()]
    rows += [(f"language {k}", v) for k, v in report["by_language"].items()]
    rows += [(f"day {k}", v) for k, v in report["by_day"].items()]
    for name, f in rows:
        out.append(
            f"<tr><th>{esc(name)}</th><td class=n>{f['questions']}</td>"
            f"<td class=n>{_pct(f['answered_rate'])}</td><td class=n>{_pct(f['did_you_mean_rate'])}</td>"
            f"<td class=n>{_pct(f['fallback_rate'])}</td></tr>"
        )
    out.append("</table>")
    for title, chart in charts:
        out.append(f'<figure aria-label="{esc(title)}">{chart}</figure>')
    out += _html_tables(report)
    return "\n".join(out) + "\n"


def _html_tables(report: dict[str, Any]) -> list[str]:
    """The unanswered, entries and walkthrough sections, ending the page."""
    esc = html.escape
    out = ["<h2>Top unanswered questions</h2>"]
    if not report["unanswered"]:
        out.append("<p>None.</p>")
    else:
        out.append(
            "<table><tr><th>count</th><th>questions</th><th>suggested entry</th><th>YAML</th></tr>"
        )
        for group in report["unanswered"]:
            texts = "<br>".join(f"{q['count']} × {esc(q['text'])}" for q in group["questions"])
            out.append(
                f"<tr><td class=n>{group['count']}</td><td>{texts}</td>"
                f"<td>{esc(group['suggested_entry'] or 'none close')}</td>"
                f"<td><pre>{esc(group['yaml'])}</pre></td></tr>"
            )
        out.append("</table>")
    out.append(
        "<h2>Entries</h2><table><tr><th>entry</th><th>answers</th><th>👍</th><th>👎</th><th>helpful</th></tr>"
    )
    for e in report["entries"]:
        out.append(
            f"<tr><td>{esc(e['id'])}</td><td class=n>{e['hits']}</td><td class=n>{e['helpful']}</td>"
            f"<td class=n>{e['unhelpful']}</td><td class=n>{_pct(e['helpful_rate'])}</td></tr>"
        )
    out.append("</table>")
    walk = report["walkthrough"]
    out.append(
        f"<h2>Walkthrough</h2><p>Started {walk['started']}, finished {walk['finished']}, "
        f"cancelled {walk['cancelled']}, went idle {walk['idle']}.</p>"
        "<table><tr><th>position</th><th>reached</th><th>back</th><th>cancelled</th><th>idle</th></tr>"
    )
    for p in walk["positions"]:
        out.append(
            f"<tr><td>{esc(p['kind'])} {p['number']}: {esc(p['id'])}</td><td class=n>{p['reached']}</td>"
            f"<td class=n>{p['back']}</td><td class=n>{p['cancelled']}</td><td class=n>{p['idle']}</td></tr>"
        )
    out.append("</table></body></html>")
    return out


# -- the command ---------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        default="7d",
        metavar="PERIOD",
        help="how far back to look: 24h, 7d, 30d, 2w ... (default: 7d)",
    )
    parser.add_argument(
        "--db",
        "--store",
        dest="db",
        default=None,
        metavar="PATH",
        help="SQLite file the bot writes to, sqlite:///PATH, or the bots' redis://host:port/db "
        "(default: $HELPBOT_STORE, else $HELPBOT_DB or the user data folder, as the bots)",
    )
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print the figures as JSON")
    form.add_argument(
        "--html", metavar="FILE", help="write a self-contained HTML page with charts to FILE"
    )
    parser.add_argument(
        "--top", type=int, default=TOP_GROUPS, help="unanswered groups listed (default: 20)"
    )


def run(args: argparse.Namespace, knowledge: Knowledge | None) -> int:
    """The `helpbot report` command; returns the exit status."""
    import json

    try:
        period = parse_since(args.since)
    except ValueError as error:
        print(f"helpbot report: --since {error}", file=sys.stderr)
        return 2
    # The bots' own order (bot.cli._open_store_or_report): the option, $HELPBOT_STORE, then
    # $HELPBOT_DB or the user data folder (open_event_log's default).
    db: str | None = args.db or os.environ.get("HELPBOT_STORE", "").strip() or None
    redis = db is not None and db.startswith(("redis://", "rediss://"))
    if db is not None and "://" in db and not redis:
        scheme, _, rest = db.partition("://")
        if scheme != "sqlite":
            print(
                f"helpbot report: cannot read events from {scheme}:// stores; give the SQLite "
                "file with --db PATH or the bots' redis:// URL",
                file=sys.stderr,
            )
            return 2
        db = rest[1:] if rest.startswith("//") else rest
    if db == ":memory:":
        print("helpbot report: a :memory: store keeps no events to report on", file=sys.stderr)
        return 1
    until = time.time()
    try:
        log = open_event_log(db, read_only=True)
        events = asyncio.run(_read(log, until - period))
    except UnknownStore as error:
        print(f"helpbot report: {error}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error, StoreUnavailable, ValueError) as error:
        from bot.sessions import default_db_path, redact_url

        print(
            f"helpbot report: cannot read events from "
            f"{redact_url(str(db)) if db else default_db_path()}: {redact_url(str(error))}",
            file=sys.stderr,
        )
        return 1
    report = build_report(events, knowledge, until - period, until, top=args.top)
    unknown = report["unknown_names"]
    if unknown and knowledge is not None:
        shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        print(
            f"helpbot report: warning: the events name {len(unknown)} entries or walkthrough "
            f"places that the knowledge at {knowledge.path} does not have ({shown}); if the bot "
            "served another guide, pass its folder with --knowledge",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    elif args.html:
        try:
            page = render_html(report)
        except ImportError:
            print(MISSING_EXTRA, file=sys.stderr)
            return 1
        Path(args.html).write_text(page, encoding="utf-8")
        print(f"wrote {args.html}")
    else:
        sys.stdout.write(render_text(report))
    return 0


async def _read(log: Any, since: float) -> list[Event]:
    try:
        events: list[Event] = await log.events(since)
        return events
    finally:
        await log.close()
