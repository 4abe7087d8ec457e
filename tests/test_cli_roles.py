"""``lantern roles`` checks the catalogue file an operator edits; ``lantern run`` refuses a
broken one with the same list of problems instead of a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import EXIT_CONFIG, app
from bot.roles import load_catalogue

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("LANTERN_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LANTERN_DATA_DIR", str(tmp_path / "data"))


def test_cli_roles_shows_every_shipped_role_in_the_chosen_language() -> None:
    result = runner.invoke(app, ["roles", "--language", "es"])
    assert result.exit_code == 0, result.output
    for role in load_catalogue().active():
        assert role.key in result.output
    assert "portavoz" in result.output
    assert "language pairs" in result.output  # the translator takes pairs


def test_cli_roles_reads_the_file_named_by_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    custom = tmp_path / "roles.toml"
    custom.write_text(
        "[roles.cook]\n"
        'en = { name = "cook", description = "Feeds people at long actions." }\n'
        'es = { name = "cocinero/a", description = "Da de comer en acciones largas." }\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("LANTERN_ROLES_FILE", str(custom))
    result = runner.invoke(app, ["roles"])
    assert result.exit_code == 0, result.output
    assert "cook" in result.output
    assert "driver" not in result.output


def test_cli_roles_lists_every_problem_of_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "roles.toml"
    broken.write_text(
        '[roles.Bad-Key]\nen = { name = "x", description = "y" }\n'
        '[roles.ok]\nen = { name = "ok", description = "fine" }\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["roles", "--file", str(broken)])
    assert result.exit_code == EXIT_CONFIG
    assert "Bad-Key" in result.output
    assert "role ok: needs es" in result.output
    assert "Traceback" not in result.output


def test_cli_run_refuses_a_broken_roles_file_before_connecting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "roles.toml"
    broken.write_text("[roles.x\n", encoding="utf-8")
    monkeypatch.setenv("LANTERN_BOT_NUMBER", "+12025550123")
    monkeypatch.setenv("LANTERN_ROLES_FILE", str(broken))
    result = runner.invoke(app, ["run"])
    assert result.exit_code == EXIT_CONFIG
    assert "roles file" in result.output
    assert "Connecting" not in result.output
