"""docker-compose.yml and the Dockerfile run commands and settings that exist (no Docker engine runs here)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from services.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _cogov_invocations(command: str) -> list[list[str]]:
    return [shlex.split(part.strip())[1:] for part in command.split("&&") if part.strip().startswith("cogov")]


def _check_cogov(args: list[str]) -> None:
    words = [arg for arg in args if not arg.startswith("-")][:2]
    sub = words[:2] if words and words[0] in ("db", "audit") else words[:1]
    result = subprocess.run([sys.executable, "-m", "services.cli", *sub, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"cogov {' '.join(sub)}: {result.stderr}"
    for option in (arg.split("=")[0] for arg in args if arg.startswith("--")):
        assert option in result.stdout, f"cogov {' '.join(sub)} has no option {option}"


def test_compose_runs_postgres_redis_and_two_api_replicas_behind_a_proxy():
    services = COMPOSE["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["api"]["deploy"]["replicas"] == 2
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert "pgdata" in COMPOSE["volumes"]
    assert "dynamic a api 8000" in COMPOSE["configs"]["caddyfile"]["content"]


def test_the_proxy_bounds_how_long_a_client_may_take_to_send_request_headers():
    # uvicorn has no such deadline (docs/notes-edge-hardening.md): the proxy in front must have one.
    caddyfile = COMPOSE["configs"]["caddyfile"]["content"]
    assert caddyfile.lstrip().startswith("{"), "the global options block must come first"
    seconds = re.search(r"servers\s*\{\s*timeouts\s*\{[^}]*?read_header\s+(\d+)s", caddyfile)
    assert seconds is not None and 1 <= int(seconds.group(1)) <= 30


def test_compose_commands_are_real_cogov_commands_and_migrate_first():
    command = COMPOSE["services"]["api"]["command"][-1]
    invocations = _cogov_invocations(command)
    assert invocations[0][:2] == ["db", "upgrade"]
    for args in invocations:
        _check_cogov(args)


def test_compose_environment_names_real_settings():
    fields = {f"COGOV_{name.upper()}" for name in Settings.model_fields}
    for name in COMPOSE["services"]["api"]["environment"]:
        assert name in fields, f"{name} is not a setting"
    url = COMPOSE["services"]["api"]["environment"]["COGOV_DATABASE_URL"]
    assert url.startswith("postgresql+asyncpg://")


def test_dockerfile_cmd_matches_compose():
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r'^CMD \["sh", "-c", "(.*)"\]$', dockerfile, re.M).group(1)
    assert cmd == COMPOSE["services"]["api"]["command"][-1]
    for package in ("networks", "norms", "services", "migrations"):
        assert f"COPY {package} ./{package}" in dockerfile


def test_compose_runs_a_worker_and_the_replicas_leave_its_work_to_it():
    worker, api = COMPOSE["services"]["worker"], COMPOSE["services"]["api"]
    invocations = _cogov_invocations(worker["command"][-1])
    assert invocations[0][:2] == ["db", "upgrade"] and invocations[-1][:1] == ["worker"]
    for args in invocations:
        _check_cogov(args)
    fields = {f"COGOV_{name.upper()}" for name in Settings.model_fields}
    assert set(worker["environment"]) <= fields
    assert api["environment"]["COGOV_WORKER_IN_SERVE"] == "false"
    assert worker["environment"]["COGOV_DATABASE_URL"] == api["environment"]["COGOV_DATABASE_URL"]
    # One publication key for all: generated into the data volume they share.
    assert worker["volumes"] == api["volumes"] == ["cogov-data:/var/lib/cogov"]
    assert worker["healthcheck"] == {"disable": True}  # the image's check asks /readyz, which a worker does not serve


def test_compose_runs_mailpit_and_the_replicas_and_worker_send_to_it():
    mailpit = COMPOSE["services"]["mailpit"]
    assert mailpit["image"] == "axllent/mailpit" and "8025:8025" in mailpit["ports"]
    for service in ("api", "worker"):
        environment = COMPOSE["services"][service]["environment"]
        assert environment["COGOV_SMTP_URL"] == "${COGOV_SMTP_URL:-smtp://mailpit:1025}"
        Settings(_env_file=None, smtp_url="smtp://mailpit:1025", mail_from=environment["COGOV_MAIL_FROM"].split(":-", 1)[1].rstrip("}"))
