"""The operator's CLI: help everywhere, clear configuration errors, documented exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import EXIT_CONFIG, EXIT_NOT_MIGRATED, app

runner = CliRunner()
SUBCOMMANDS = ("run", "migrate", "init", "sandbox", "demo", "config", "roles")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("LANTERN_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LANTERN_DATA_DIR", str(tmp_path / "data"))


def test_cli_help_lists_every_subcommand() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in SUBCOMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_cli_every_subcommand_has_help(name: str) -> None:
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0
    assert len(result.output.strip().splitlines()) > 3


def test_cli_run_without_bot_number_is_a_config_error() -> None:
    result = runner.invoke(app, ["run"])
    assert result.exit_code == EXIT_CONFIG
    assert "LANTERN_BOT_NUMBER" in result.output


def test_cli_config_errors_are_listed_one_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANTERN_BOT_NUMBER", "12345")
    monkeypatch.setenv("LANTERN_TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("LANTERN_SIGNAL_SERVICE", "http://api:8080")
    monkeypatch.setenv("LANTERN_DATABASE_URL", "mysql://x")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == EXIT_CONFIG
    for field in ("bot_number", "timezone", "signal_service", "database_url"):
        assert field in result.output
    assert "Traceback" not in result.output


def test_cli_config_file_is_read_and_env_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "lantern.toml"
    config.write_text(
        '[lantern]\nbot_number = "+12025550100"\ntimezone = "Europe/Berlin"\n'
        'database_url = "postgresql+asyncpg://bot:s3cret-pass@db/lantern"\n'
    )
    monkeypatch.setenv("LANTERN_TIMEZONE", "America/Chicago")
    result = runner.invoke(app, ["config", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "America/Chicago" in result.output
    assert "+12025550100" in result.output
    assert "s3cret-pass" not in result.output


def test_cli_broken_config_file_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("this is = = not toml")
    result = runner.invoke(app, ["config", "--config", str(config)])
    assert result.exit_code == EXIT_CONFIG
    assert "not valid TOML" in result.output


def test_cli_init_needs_migration_then_prints_one_code_per_coordinator() -> None:
    result = runner.invoke(app, ["init", "--name", "Riverside"])
    assert result.exit_code == EXIT_NOT_MIGRATED
    assert "lantern migrate" in result.output
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    again = runner.invoke(app, ["migrate"])
    assert again.exit_code == 0
    assert "already" in again.output
    result = runner.invoke(app, ["init", "--name", "Riverside", "--coordinators", "4"])
    assert result.exit_code == 0, result.output
    codes = [line for line in result.output.splitlines() if line.count("-") == 2]
    assert len(codes) == 4
    assert len(set(codes)) == 4
    twice = runner.invoke(app, ["init", "--name", "Other"])
    assert twice.exit_code == EXIT_CONFIG
    assert "already holds a network" in twice.output


@pytest.mark.parametrize(
    "args",
    [
        ["--coordinators", "2", "--threshold", "3"],
        ["--coordinators", "1", "--threshold", "1"],
        ["--coordinators", "3", "--threshold", "1"],
        ["--coordinators", "17"],
    ],
)
def test_cli_init_rejects_impossible_thresholds(args: list[str]) -> None:
    runner.invoke(app, ["migrate"])
    result = runner.invoke(app, ["init", "--name", "X", *args])
    assert result.exit_code == EXIT_CONFIG


def test_cli_init_passphrase_mode_asks_twice_and_refuses_short_ones() -> None:
    runner.invoke(app, ["migrate"])
    short = runner.invoke(
        app,
        ["init", "--name", "X", "--coordinators", "1", "--threshold", "1", "--passphrase"],
        input="short\nshort\n",
    )
    assert short.exit_code == EXIT_CONFIG
    good = "correct horse battery staple"
    result = runner.invoke(
        app,
        ["init", "--name", "X", "--coordinators", "1", "--threshold", "1", "--passphrase"],
        input=f"{good}\n{good}\n",
    )
    assert result.exit_code == 0, result.output
    assert "UNSEAL" in result.output


def test_cli_run_without_network_says_to_init(monkeypatch: pytest.MonkeyPatch) -> None:
    runner.invoke(app, ["migrate"])
    monkeypatch.setenv("LANTERN_BOT_NUMBER", "+12025550100")
    # logging would bind to the runner's stdout, which closes after invoke()
    monkeypatch.setattr("bot.cli.configure_logging", lambda level: None)
    monkeypatch.setattr("bot.cli.guard_stderr", lambda: None)
    result = runner.invoke(app, ["run"])
    assert result.exit_code == EXIT_CONFIG
    assert "lantern init" in result.output
