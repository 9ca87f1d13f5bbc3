"""The deploy files (Dockerfile, compose.yaml, the systemd unit) run valid `helpbot` commands.

Docker has no daemon here, so what can be checked is checked: the compose file parses and has
its services, volume and append-only Redis; every `helpbot ...` command in the three files
parses with helpbot's own argparse parser; the Dockerfile's extras exist; tokens stay out of
images, command lines and git.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from bot.cli import _adapters, build_parser

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
UNIT = ROOT / "deploy" / "helpbot-telegram.service"
ENV_EXAMPLE = ROOT / "deploy" / "env.example"


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def docker_json(instruction: str) -> list[str]:
    [args] = [rest for word, rest in dockerfile_instructions() if word == instruction]
    value = json.loads(args)
    assert isinstance(value, list), f"{instruction} must use the exec (JSON) form"
    return value


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def helpbot_commands() -> list[tuple[str, list[str]]]:
    """(where, argv after `helpbot`) for every helpbot command the deploy files run."""
    found = [("Dockerfile CMD", docker_json("CMD"))]
    assert docker_json("ENTRYPOINT") == ["helpbot"]
    for name, service in compose()["services"].items():
        if "command" in service and "image" in service and service["image"].startswith("helpbot"):
            command = service["command"]
            argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
            found.append((f"compose.yaml service {name}", argv))
    [exec_start] = unit_settings()["ExecStart"]
    argv = shlex.split(exec_start.replace("%d", "/run/credentials/helpbot-telegram.service"))
    assert Path(argv[0]).name == "helpbot", exec_start
    found.append(("helpbot-telegram.service ExecStart", argv[1:]))
    return found


def subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices[command]


def test_compose_has_both_bots_and_an_append_only_redis_with_a_volume():
    spec = compose()
    services = spec["services"]
    assert {"telegram", "discord", "redis"} <= set(services)
    redis = services["redis"]
    command = redis["command"]
    argv = shlex.split(command) if isinstance(command, str) else command
    assert argv[0] == "redis-server"
    assert argv[argv.index("--appendonly") + 1] == "yes"
    [volume] = [v for v in redis["volumes"] if v.endswith(":/data")]
    assert volume.split(":")[0] in spec["volumes"]  # a named volume, not a bind mount
    for name in ("telegram", "discord"):
        bot = services[name]
        assert bot["env_file"] in (".env", [".env"])
        assert "redis" in bot["depends_on"]
        assert bot["command"][0] == name
        store = bot["command"][bot["command"].index("--store") + 1]
        assert store.startswith("redis://redis:6379/")
        for port in bot.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


@pytest.mark.parametrize("where,argv", helpbot_commands(), ids=lambda v: str(v)[:40])
def test_every_deploy_command_is_a_valid_helpbot_invocation(where, argv):
    parser = build_parser(_adapters())
    subparser(parser, argv[0])  # the command exists
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:
        pytest.fail(f"{where}: `helpbot {shlex.join(argv)}` does not parse (exit {exit.code})")
    assert args.command in {"telegram", "discord"}
    # Every deploy serves health and metrics on 9100 and logs JSON for the collector.
    assert args.metrics_port == 9100 and args.log_format == "json", where
    assert not any("token" in a.lower() and "=" in a for a in argv), "no token on a command line"
    if where.startswith("compose.yaml"):
        # The bots in compose share the Redis service (sessions, locks and events).
        assert args.store == "redis://redis:6379/0", where


def test_the_parser_rejects_what_these_tests_rely_on_it_to_reject():
    """So the test above can fail: a wrong flag or value is a parse error."""
    parser = build_parser(_adapters())
    for bad in (
        ["telegram", "--metrics-port", "x"],
        ["discord", "--log-format", "yaml"],
        ["telegram", "--no-such-flag"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_dockerfile_is_slim_non_root_with_the_extras_and_a_python_healthcheck():
    instructions = dockerfile_instructions()
    [base] = [rest for word, rest in instructions if word == "FROM"]
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base), base
    users = [rest for word, rest in instructions if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    installs = " ".join(
        rest for word, rest in instructions if word == "RUN" and "pip install" in rest
    )
    extras = set(re.search(r"\[([a-z,]+)\]", installs).group(1).split(","))  # type: ignore[union-attr]
    assert extras == {"telegram", "discord", "redis", "metrics"}
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert extras <= set(declared), f"extras not in pyproject.toml: {extras - set(declared)}"
    [check] = [rest for word, rest in instructions if word == "HEALTHCHECK"]
    assert "curl" not in check and "urllib" in check
    probe = json.loads(check[check.index("CMD") + 3 :].strip())
    assert probe[0] == "python"
    env = " ".join(rest for word, rest in instructions if word == "ENV")
    assert "HELPBOT_HEALTH_URL=http://127.0.0.1:9100/healthz" in env
    compile(probe[-1], "<healthcheck>", "exec")  # the probe is valid Python


def test_systemd_unit_waits_for_the_network_restarts_and_owns_its_state():
    s = unit_settings()
    assert "network-online.target" in s["After"][0] and "network-online.target" in s["Wants"][0]
    assert s["Restart"] == ["on-failure"] and s["RestartSec"] == ["5"]
    assert s["StateDirectory"] == ["helpbot"]
    assert s.get("DynamicUser") == ["yes"] or "User" in s
    assert any(e.startswith("HELPBOT_DB=/var/lib/helpbot/") for e in s["Environment"])
    name, _, source = s["LoadCredential"][0].partition(":")
    assert source.startswith("/etc/") and f"--token-file %d/{name}" in s["ExecStart"][0]
    for option in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert s[option] == ["yes"], option
    assert s["ProtectSystem"] == ["strict"]


def test_tokens_come_from_an_env_file_that_is_never_committed_or_baked_in():
    names = {
        line.split("=")[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert {"TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN"} <= names
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            assert line.endswith("="), f"env.example must not carry a value: {line}"
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert ".env" in (ROOT / ".dockerignore").read_text().split()
    assert not [
        w for w, rest in dockerfile_instructions() if w in ("ENV", "ARG") and "TOKEN" in rest
    ]
