"""`helpbot report`: exact figures from known events, its three forms, and the HTML page in a
real headless browser."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.events import Event, SqliteEventLog, new_token
from bot.knowledge import Knowledge, default_path
from bot.report import (
    alternates_yaml,
    build_report,
    group_questions,
    parse_since,
    render_html,
    render_text,
)

DAY = 86400.0
NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC


def _synthetic() -> list[Event]:
    t = NOW - 3600
    events = [
        # Day 1 (yesterday): telegram/en, 2 answers, 1 fallback.
        Event("answer", "telegram", "en", at=t - DAY, entry="processing_time", score=0.9, ms=4.0),
        Event("answer", "telegram", "en", at=t - DAY, entry="delete_account", score=0.8, ms=6.0),
        Event("fallback", "telegram", "en", at=t - DAY, question="can i delete my etsy account"),
        # Day 2 (today): discord/es and console/en.
        Event("fallback", "discord", "es", at=t, question="can i delete my etsy acount"),
        Event("fallback", "console", "en", at=t, question="where is my parcel"),
        Event("did_you_mean", "discord", "es", at=t, score=0.3, question="cuanto tarda borrar"),
        Event("answer", "console", "en", at=t, entry="processing_time", score=0.95, ms=2.0),
        Event("feedback", "console", "en", at=t, entry="processing_time", rating=1, token="a"),
        Event(
            "feedback",
            "telegram",
            "en",
            at=t,
            entry="processing_time",
            rating=-1,
            token="b",
            question="how long until it is gone",
        ),
        Event("command", "console", "en", at=t),
        Event("smalltalk", "console", "en", at=t),
        # Walkthrough: two start; one goes to check 2 and back; one cancels at step 3.
        Event("walkthrough", "console", "en", at=t, position="orders", move="start"),
        Event("walkthrough", "console", "en", at=t, position="orders", move="start"),
        Event("walkthrough", "console", "en", at=t, position="history", move="next"),
        Event("walkthrough", "console", "en", at=t, position="orders", move="back"),
        Event("walkthrough", "console", "en", at=t, position="login", move="next"),
        Event("walkthrough", "console", "en", at=t, position="settings", move="next"),
        Event("walkthrough", "console", "en", at=t, position="deactivate", move="next"),
        Event("walkthrough", "console", "en", at=t, position="deactivate", move="cancel"),
        Event("walkthrough", "console", "en", at=t, position="history", move="idle"),
        # Outside the period: must not count.
        Event("fallback", "console", "en", at=NOW - 9 * DAY, question="old question"),
    ]
    return events


@pytest.fixture(scope="module")
def report(knowledge: Knowledge) -> dict[str, Any]:
    return build_report(_synthetic(), knowledge, NOW - 7 * DAY, NOW)


def test_since_periods() -> None:
    assert parse_since("24h") == DAY
    assert parse_since("7d") == 7 * DAY
    assert parse_since("30D") == 30 * DAY
    assert parse_since("2w") == 14 * DAY
    for bad in ("7", "d", "-1d", "0d", "7 days", "1y"):
        with pytest.raises(ValueError, match=r"e\.g\. 24h, 7d, 30d"):
            parse_since(bad)


def test_rates_overall_per_platform_language_and_day(report: dict[str, Any]) -> None:
    assert report["schema"] == "helpbot-report/1"
    assert report["events"] == 20
    assert report["overall"] == {
        "questions": 7,
        "answered": 3,
        "answered_rate": round(3 / 7, 4),
        "did_you_mean": 1,
        "did_you_mean_rate": round(1 / 7, 4),
        "fallback": 3,
        "fallback_rate": round(3 / 7, 4),
    }
    platforms = {
        k: (v["questions"], v["answered"], v["did_you_mean"], v["fallback"])
        for k, v in report["by_platform"].items()
    }
    assert platforms == {"console": (2, 1, 0, 1), "discord": (2, 0, 1, 1), "telegram": (3, 2, 0, 1)}
    languages = {k: (v["questions"], v["answered_rate"]) for k, v in report["by_language"].items()}
    assert languages == {"en": (5, 0.6), "es": (2, 0.0)}
    days = {k: (v["questions"], v["fallback"]) for k, v in report["by_day"].items()}
    assert days == {"2027-01-14": (3, 1), "2027-01-15": (4, 2)}
    assert report["other"] == {
        "smalltalk": 1,
        "command": 1,
        "walkthrough": 9,
        "feedback": 2,
        "handoff": 0,
    }
    assert report["handling_ms"] == {"median": 4.0, "p95": 6.0}


def test_unanswered_questions_are_grouped_with_a_suggestion_and_yaml(
    report: dict[str, Any],
) -> None:
    groups = report["unanswered"]
    assert [(g["count"], [q["text"] for q in g["questions"]]) for g in groups] == [
        (2, ["can i delete my etsy account", "can i delete my etsy acount"]),
        (1, ["cuanto tarda borrar"]),
        (1, ["how long until it is gone"]),
        (1, ["where is my parcel"]),
    ]
    etsy, cuanto, gone, parcel = groups
    assert etsy["sources"] == {"did_you_mean": 0, "fallback": 2, "unhelpful": 0}
    assert gone["sources"] == {"did_you_mean": 0, "fallback": 0, "unhelpful": 1}
    assert cuanto["lang"] == "es" and cuanto["suggested_entry"] == "processing_time"
    assert gone["suggested_entry"] == "processing_time"
    assert parcel["suggested_entry"] is None
    assert "knowledge/es/guide.yaml" in cuanto["yaml"]
    import yaml

    pasted = yaml.safe_load(cuanto["yaml"])
    assert pasted == [{"id": "processing_time", "questions": ["cuanto tarda borrar"]}]
    # Another site's account, a parcel: refused rightly (a refusal kind), so nothing to teach
    # (the YAML added "can i delete my etsy account" as a question of a new entry)
    for refused in (etsy, parcel):
        assert yaml.safe_load(refused["yaml"]) is None and "rightly" in refused["yaml"]
    new_entry = yaml.safe_load(alternates_yaml(None, "en", ["how do i bake bread"]))
    assert new_entry == [{"id": "NEW_ENTRY_ID", "questions": ["how do i bake bread"]}]


def test_grouping_is_by_similarity_not_by_identity() -> None:
    groups = group_questions(
        [
            ("how do i close my shop", "en", "fallback"),
            ("how do i close my shop", "en", "fallback"),
            ("how do i clsoe my shop", "en", "did_you_mean"),
            ("shop how do i close my", "fr", "fallback"),
            ("what is the weather", "en", "fallback"),
        ]
    )
    assert [(g["count"], len(g["questions"]), g["lang"]) for g in groups] == [
        (4, 3, "en"),
        (1, 1, "en"),
    ]
    assert groups[0]["sources"] == {"did_you_mean": 1, "fallback": 3, "unhelpful": 0}


def test_entries_hits_and_helpful_rate(report: dict[str, Any]) -> None:
    rows = {
        e["id"]: (e["hits"], e["helpful"], e["unhelpful"], e["helpful_rate"])
        for e in report["entries"]
    }
    assert rows == {"processing_time": (2, 1, 1, 0.5), "delete_account": (1, 0, 0, None)}
    assert report["entries"][0]["id"] == "processing_time"  # most answered first


def test_walkthrough_funnel(report: dict[str, Any]) -> None:
    walk = report["walkthrough"]
    assert (walk["started"], walk["finished"], walk["cancelled"], walk["idle"]) == (2, 0, 1, 1)
    rows = {
        p["id"]: (p["kind"], p["number"], p["reached"], p["back"], p["cancelled"], p["idle"])
        for p in walk["positions"]
    }
    assert rows["orders"] == ("check", 1, 2, 1, 0, 0)
    assert rows["history"] == ("check", 2, 1, 0, 0, 1)
    assert rows["wallet"] == ("check", 3, 0, 0, 0, 0)
    assert rows["login"] == ("step", 1, 1, 0, 0, 0)
    assert rows["deactivate"] == ("step", 3, 1, 0, 1, 0)
    assert [p["id"] for p in walk["positions"]][:2] == ["orders", "history"]  # guide order


def test_text_report_shows_the_figures(report: dict[str, Any]) -> None:
    text = render_text(report)
    assert "  overall             7      42.9%          14.3%      42.9%" in text
    assert "2 x  'can i delete my etsy account'  -> no entry comes close" in text
    assert "processing_time              2 answers   helpful 50.0% of 2 rated" in text
    assert "Walkthrough: started 2, finished 0, cancelled 1, went idle 1" in text


def _write_events(path: Path, events: list[Event]) -> None:
    async def write() -> None:
        log = SqliteEventLog(path)
        for event in events:
            await log.record(event)
        await log.close()

    asyncio.run(write())


def test_scripted_session_then_report_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two fallbacks, one 👎, a walkthrough abandoned at step 3 -> exactly those counts."""
    path = tmp_path / "sessions.sqlite3"
    now = time.time()

    async def script() -> None:
        log = SqliteEventLog(path)
        await log.record(Event("fallback", "console", "en", question="Can I delete my Etsy shop?"))
        await log.record(Event("fallback", "console", "en", question="can i delete my etsy shop"))
        token = new_token()
        await log.record(
            Event(
                "answer",
                "console",
                "en",
                entry="processing_time",
                token=token,
                question="how long does it take",
            )
        )
        assert await log.rate(token, -1)
        for position, move in [
            ("orders", "start"),
            ("history", "next"),
            ("wallet", "next"),
            ("reopen", "next"),
            ("login", "next"),
            ("settings", "next"),
            ("deactivate", "next"),
            ("deactivate", "cancel"),
        ]:
            await log.record(Event("walkthrough", "console", "en", position=position, move=move))  # type: ignore[arg-type]
        await log.close()

    asyncio.run(script())
    assert main(["report", "--db", str(path), "--json", "--since", "24h"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["overall"]["fallback"] == 2 and report["overall"]["answered"] == 1
    assert report["unanswered"][0]["count"] == 2
    assert report["unanswered"][0]["questions"] == [
        {"text": "can i delete my etsy shop", "count": 2}
    ]
    assert report["unanswered"][1]["questions"] == [{"text": "how long does it take", "count": 1}]
    assert report["entries"] == [
        {
            "id": "processing_time",
            "title": report["entries"][0]["title"],
            "hits": 1,
            "helpful": 0,
            "unhelpful": 1,
            "helpful_rate": 0.0,
        }
    ]
    walk = report["walkthrough"]
    assert (walk["started"], walk["cancelled"], walk["finished"]) == (1, 1, 0)
    cancelled = [(p["kind"], p["number"]) for p in walk["positions"] if p["cancelled"]]
    assert cancelled == [("step", 3)]
    assert abs(time.time() - now) < 60


def test_events_from_another_guide_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A report on the shipped guide of events a router guide's bot wrote warns, and the YAML
    to paste names the folder the report was given."""
    path = tmp_path / "s.sqlite3"
    _write_events(
        path,
        [
            Event("answer", "console", "en", entry="reset_router", question="reset it"),
            Event("walkthrough", "console", "en", position="unplug", move="start"),
            Event("answer", "console", "en", entry="processing_time", question="how long"),
        ],
    )
    assert main(["report", "--db", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["unknown_names"] == ["reset_router", "unplug"]
    assert "2 entries or walkthrough places" in captured.err and "--knowledge" in captured.err
    _write_events(tmp_path / "t.sqlite3", [Event("fallback", "console", "en", question="hm")])
    assert main(["report", "--db", str(tmp_path / "t.sqlite3")]) == 0
    captured = capsys.readouterr()
    assert not captured.err and "# knowledge/en/guide.yaml" in captured.out
    folder = tmp_path / "guide"
    shutil.copytree(default_path(), folder)
    assert main(["--knowledge", str(folder), "report", "--db", str(tmp_path / "t.sqlite3")]) == 0
    assert f"# {folder / 'en' / 'guide.yaml'}:" in capsys.readouterr().out


def test_report_errors_are_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing.sqlite3"
    assert main(["report", "--db", str(missing)]) == 1
    assert f"cannot read events from {missing}" in capsys.readouterr().err
    assert not missing.exists()
    assert main(["report", "--db", str(missing), "--since", "a week"]) == 2
    assert "--since 'a week' is not a period" in capsys.readouterr().err
    from tests.redis_server import free_port

    nowhere = f"redis://:hunter2@127.0.0.1:{free_port()}/0"  # nothing listens there
    assert main(["report", "--store", nowhere]) == 1
    err = capsys.readouterr().err
    assert "cannot read events from redis://:***@127.0.0.1" in err and "hunter2" not in err
    assert main(["report", "--store", "mongodb://x/y"]) == 2
    assert "cannot read events from mongodb:// stores" in capsys.readouterr().err
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello, this is not a database" * 100)
    assert main(["report", "--db", str(not_db)]) == 1
    assert "cannot read events from" in capsys.readouterr().err


def test_store_url_and_plain_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.sqlite3"
    _write_events(path, [Event("fallback", "discord", "fr", question="ou est mon colis")])
    assert main(["report", "--store", f"sqlite:///{path}"]) == 0
    out = capsys.readouterr().out
    assert "1 x  'ou est mon colis'" in out
    assert "  fr                  1       0.0%           0.0%     100.0%" in out


def test_the_store_comes_from_the_environment_as_for_the_bots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """$HELPBOT_STORE first, then $HELPBOT_DB: the file a bot started the same way writes."""
    store, db = tmp_path / "store.sqlite3", tmp_path / "db.sqlite3"
    _write_events(store, [Event("fallback", "discord", "en", question="from the store")])
    _write_events(db, [Event("fallback", "discord", "en", question="from the db")])
    monkeypatch.setenv("HELPBOT_DB", str(db))
    monkeypatch.setenv("HELPBOT_STORE", f"sqlite://{store}")
    assert main(["report"]) == 0
    out = capsys.readouterr().out
    assert "'from the store'" in out and "'from the db'" not in out
    monkeypatch.delenv("HELPBOT_STORE")
    assert main(["report"]) == 0
    assert "'from the db'" in capsys.readouterr().out


def test_missing_matplotlib_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.sqlite3"
    _write_events(path, [Event("fallback", "console", "en", question="x")])
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["report", "--db", str(path), "--html", str(tmp_path / "r.html")]) == 1
    assert "pip install 'helpbot[report]'" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


# -- HTML --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page(report: dict[str, Any]) -> str:
    pytest.importorskip("matplotlib", reason="the report extra (matplotlib) is not installed")
    hostile = dict(report)
    hostile["unanswered"] = [
        *report["unanswered"],
        {
            **report["unanswered"][0],
            "questions": [{"text": "<script>alert(1)</script>", "count": 1}],
        },
    ]
    return render_html(hostile)


def test_html_is_self_contained_and_escapes_what_people_typed(page: str) -> None:
    assert page.count("<svg") == 3  # per day, per platform and language, funnel
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for needle in ('src="http', "src='http", 'href="http', "@import", "url(http"):
        assert needle not in page
    assert "default-src 'none'" in page
    assert "can i delete my etsy account" in page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _png_colours(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24)
    return len(colours or [])


def _load_in_browser(html_file: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """Open the page in headless chromium: the screenshot and the console lines it logged."""
    browser = _chromium()
    assert browser is not None
    shot = tmp_path / f"{html_file.stem}.png"
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,2000",
            "--enable-logging=stderr",
            "--v=0",
            html_file.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [
        line
        for line in done.stderr.splitlines()
        if ":CONSOLE" in line or "Uncaught" in line or "Content-Security-Policy" in line
    ]
    return shot, console


needs_chromium = pytest.mark.skipif(
    _chromium() is None,
    reason="chromium is not installed (apt-get install -y chromium; .ci/run does)",
)


@needs_chromium
def test_html_report_in_a_real_headless_browser(page: str, tmp_path: Path) -> None:
    html_file = tmp_path / "report.html"
    html_file.write_text(page, encoding="utf-8")
    shot, console = _load_in_browser(html_file, tmp_path)
    assert console == []
    assert shot.stat().st_size > 10_000
    assert _png_colours(shot) > 50  # charts in several colours, antialiased text: not blank


@needs_chromium
def test_the_browser_check_sees_errors_and_blank_pages(tmp_path: Path) -> None:
    """The check above can fail: a page with a script error and nothing drawn is caught."""
    pytest.importorskip("PIL", reason="Pillow (installed with the report extra) is not installed")
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>")
    shot, console = _load_in_browser(bad, tmp_path)
    assert any("Uncaught ReferenceError" in line for line in console)
    assert _png_colours(shot) <= 2
