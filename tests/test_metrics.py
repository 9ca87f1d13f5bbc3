"""The metrics registry and the /healthz, /readyz, /metrics server, scraped over real HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import metrics as metrics_module
from bot.metrics import Metrics, MetricsServer

pytest.importorskip("prometheus_client", reason="the [metrics] extra is not installed")
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent


def get(url: str, timeout: float = 5.0) -> tuple[int, str, str]:
    """Status, content type and body of a GET, in a thread so the server's loop keeps running."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


async def aget(url: str) -> tuple[int, str, str]:
    return await asyncio.to_thread(get, url)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, parsed with prometheus-client's own parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


@pytest.fixture
async def served() -> AsyncIterator[tuple[Metrics, MetricsServer, str]]:
    m = Metrics()
    server = MetricsServer(m, "127.0.0.1", 0)
    async with server:
        yield m, server, f"http://127.0.0.1:{server.port}"


async def test_healthz_answers_ok_and_unknown_paths_are_404(served):
    _, _, base = served
    assert await aget(base + "/healthz") == (200, "text/plain; charset=utf-8", "ok\n")
    status, _, body = await aget(base + "/nope")
    assert status == 404 and "/metrics" in body


async def test_metrics_count_messages_by_platform_kind_and_language(served):
    m, _, base = served
    m.message("telegram", "answered", "es", seconds=0.02)
    m.message("telegram", "answered", "es", seconds=0.03)
    m.message("discord", "walkthrough", "ru", seconds=0.5)
    m.api_error("discord", "rate_limited")
    m.api_retry("discord")
    m.store_call("get", 0.001)
    m.store_call("put", 0.002, ok=False)
    m.set_handoffs_open(2)
    m.walkthroughs_from(lambda: 7)
    status, ctype, body = await aget(base + "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=")
    got = samples(body)
    labels = (("kind", "answered"), ("lang", "es"), ("platform", "telegram"))
    assert got[("helpbot_messages_total", labels)] == 2
    walk = (("kind", "walkthrough"), ("lang", "ru"), ("platform", "discord"))
    assert got[("helpbot_messages_total", walk)] == 1
    assert got[("helpbot_handling_seconds_count", (("platform", "telegram"),))] == 2
    assert got[("helpbot_handling_seconds_sum", (("platform", "telegram"),))] == pytest.approx(0.05)
    # 0.5 s falls in the 0.5 bucket, not the 0.25 one
    assert got[("helpbot_handling_seconds_bucket", (("le", "0.25"), ("platform", "discord")))] == 0
    assert got[("helpbot_handling_seconds_bucket", (("le", "0.5"), ("platform", "discord")))] == 1
    err = (("kind", "rate_limited"), ("platform", "discord"))
    assert got[("helpbot_platform_api_errors_total", err)] == 1
    assert got[("helpbot_platform_api_retries_total", (("platform", "discord"),))] == 1
    assert got[("helpbot_store_seconds_count", (("op", "get"),))] == 1
    assert got[("helpbot_store_seconds_count", (("op", "put"),))] == 1
    assert got[("helpbot_store_errors_total", (("op", "put"),))] == 1
    assert ("helpbot_store_errors_total", (("op", "get"),)) not in got
    assert got[("helpbot_walkthroughs_open", ())] == 7
    assert got[("helpbot_handoffs_open", ())] == 2


async def test_labels_only_take_known_values_so_ids_never_become_series(served):
    m, _, base = served
    for i in range(50):
        m.message(f"user-{i}", f"kind-{i}", f"xx{i}", seconds=0.001)
        m.api_error("telegram", f"weird {i}")
        m.store_call(f"op{i}", 0.001, ok=False)
    _, _, body = await aget(base + "/metrics")
    assert "user-" not in body and "kind-" not in body and "xx1" not in body
    got = samples(body)
    other = (("kind", "other"), ("lang", "other"), ("platform", "other"))
    assert got[("helpbot_messages_total", other)] == 50
    assert (
        got[("helpbot_platform_api_errors_total", (("kind", "other"), ("platform", "telegram")))]
        == 50
    )
    assert got[("helpbot_store_errors_total", (("op", "other"),))] == 50


async def test_store_timer_counts_exceptions_as_errors_and_reraises():
    m = Metrics()
    with m.store_timer("get"):
        pass
    with pytest.raises(ConnectionError), m.store_timer("get"):
        raise ConnectionError("redis went away")
    got = samples(m.exposition()[0].decode())
    assert got[("helpbot_store_seconds_count", (("op", "get"),))] == 2
    assert got[("helpbot_store_errors_total", (("op", "get"),))] == 1


async def test_a_failing_walkthrough_callback_reads_nan_and_the_scrape_still_works(served):
    m, _, base = served

    def broken() -> float:
        raise RuntimeError("store down")

    m.walkthroughs_from(broken)
    status, _, body = await aget(base + "/metrics")
    assert status == 200
    assert math.isnan(samples(body)[("helpbot_walkthroughs_open", ())])


async def test_each_metrics_has_its_own_registry():
    a, b = Metrics(), Metrics()
    a.message("telegram", "answered", "en", 0.01)
    assert "helpbot_messages_total{" in a.exposition()[0].decode()
    assert "helpbot_messages_total{" not in b.exposition()[0].decode()
    from prometheus_client import REGISTRY, generate_latest

    assert b"helpbot_" not in generate_latest(REGISTRY)


async def test_readyz_is_200_only_when_every_check_passes(served):
    _, server, base = served
    store_ok = True

    async def store_ready() -> bool:
        return store_ok

    server.add_check("store", store_ready)
    server.mark("platform", False, "not connected to Telegram yet")
    status, ctype, body = await aget(base + "/readyz")
    assert (status, ctype) == (503, "application/json")
    assert json.loads(body) == {
        "ready": False,
        "checks": {"store": "ready", "platform": "not connected to Telegram yet"},
        "not_ready": ["platform"],
    }
    server.mark("platform", True)
    status, _, body = await aget(base + "/readyz")
    assert status == 200 and json.loads(body)["ready"] is True
    store_ok = False
    status, _, body = await aget(base + "/readyz")
    assert status == 503 and json.loads(body)["not_ready"] == ["store"]


async def test_readyz_names_a_check_that_raises_or_hangs(served, monkeypatch):
    _, server, base = served
    monkeypatch.setattr(metrics_module, "CHECK_TIMEOUT", 0.2)

    def raises() -> bool:
        raise ConnectionRefusedError("redis://redis:6379 refused")

    async def hangs() -> bool:
        await asyncio.sleep(60)
        return True

    server.add_check("store", raises)
    server.add_check("platform", hangs)
    start = time.monotonic()
    status, _, body = await aget(base + "/readyz")
    assert time.monotonic() - start < 3
    checks = json.loads(body)["checks"]
    assert status == 503
    assert checks["store"].startswith("failed: ConnectionRefusedError: redis://redis:6379")
    assert checks["platform"] == "no answer within 0.2 s"


async def raw_exchange(port: int, data: bytes, wait: float = 5.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), wait)
    finally:
        writer.close()


async def test_other_methods_get_405_and_head_gets_no_body(served):
    _, server, _ = served
    post = await raw_exchange(server.port, b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert post.startswith(b"HTTP/1.1 405 ") and b"Allow: GET, HEAD" in post
    head = await raw_exchange(server.port, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and head.endswith(b"\r\n\r\n")
    garbage = await raw_exchange(server.port, b"hello\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400 ")


async def test_huge_and_slow_requests_are_refused_and_the_server_keeps_serving(served, monkeypatch):
    _, server, base = served
    huge = b"GET /metrics HTTP/1.1\r\nX-Junk: " + b"a" * 100_000 + b"\r\n\r\n"
    reply = await raw_exchange(server.port, huge)
    assert reply.startswith(b"HTTP/1.1 431 ")
    monkeypatch.setattr(metrics_module, "READ_TIMEOUT", 0.3)
    start = time.monotonic()
    slow = await raw_exchange(server.port, b"GET /healthz HTTP/1.1\r\n")  # never finishes
    assert slow.startswith(b"HTTP/1.1 408 ") and time.monotonic() - start < 3
    assert (await aget(base + "/healthz"))[0] == 200


async def test_too_many_connections_are_closed_without_blocking_the_rest(served, monkeypatch):
    _, server, base = served
    monkeypatch.setattr(metrics_module, "MAX_CONNECTIONS", 3)
    idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
    await asyncio.sleep(0.1)
    start = time.monotonic()
    try:
        extra = await raw_exchange(server.port, b"GET /healthz HTTP/1.1\r\n\r\n", wait=2)
    except ConnectionResetError:
        extra = b""
    assert extra == b""  # closed at once, not queued behind the idle ones
    assert time.monotonic() - start < 1
    for _, writer in idle:
        writer.close()
    await asyncio.sleep(0.1)
    assert (await aget(base + "/healthz"))[0] == 200


def test_thread_mode_serves_while_the_caller_blocks_and_reports_bind_errors():
    m = Metrics()
    server = MetricsServer(m, "127.0.0.1", 0)
    server.start_in_thread()
    try:
        m.message("console", "answered", "en", 0.01)
        assert get(f"http://127.0.0.1:{server.port}/healthz")[0] == 200
        assert 'platform="console"' in get(f"http://127.0.0.1:{server.port}/metrics")[2]
        clash = MetricsServer(m, "127.0.0.1", server.port)
        with pytest.raises(OSError):
            clash.start_in_thread()
    finally:
        server.stop_thread()
    with socket.socket() as s, pytest.raises(OSError):
        s.settimeout(1)
        s.connect(("127.0.0.1", server.port))


def test_missing_prometheus_client_is_a_one_line_error_naming_the_extra(tmp_path):
    """Run the real CLI with prometheus_client made unimportable."""
    blocker = tmp_path / "prometheus_client.py"
    blocker.write_text("raise ImportError('blocked for this test')\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--db", ":memory:", "--metrics-port", "0"],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": ""},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "helpbot[metrics]" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


async def test_stop_drops_idle_connections_quietly(caplog):
    server = MetricsServer(Metrics(), "127.0.0.1", 0)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /healthz HTTP/1.1\r\n")  # headers never finished
    await writer.drain()
    await asyncio.sleep(0.05)
    with caplog.at_level(logging.DEBUG, logger="asyncio"):
        await server.stop()
        assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
