"""``lantern roles``: check the role catalogue file and show what members will see.

An operator editing ``LANTERN_ROLES_FILE`` wants to know before a restart that the file
reads, that every role has a name and a description in every language, and how it looks.
Roles coordinators added or retired by message are in the database, encrypted: this
command holds no keys and shows only the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.config import SUPPORTED_LANGUAGES, ConfigError
from bot.roles import DEFAULT_FILE, load_catalogue

EXIT_CONFIG = 2


def register(app: typer.Typer, settings_of: object) -> None:
    """Adds the command to the main app (``settings_of`` reads --config like the rest)."""

    @app.command("roles")
    def roles(
        config: Annotated[
            Path | None,
            typer.Option("--config", "-c", help="TOML file with settings.", dir_okay=False),
        ] = None,
        file: Annotated[
            Path | None,
            typer.Option("--file", "-f", help="Check this catalogue file instead.", dir_okay=False),
        ] = None,
        language: Annotated[
            str, typer.Option("--language", "-l", help="Show names in this language.")
        ] = "en",
    ) -> None:
        """Check the role and skill catalogue file and print it (exit 2 if it is broken)."""
        out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
        if language not in SUPPORTED_LANGUAGES:
            err.print(f"[bold red]--language[/] must be one of {', '.join(SUPPORTED_LANGUAGES)}")
            raise typer.Exit(EXIT_CONFIG)
        if file is None:
            settings = settings_of(config)  # type: ignore[operator]
            file = settings.roles_file
        try:
            catalogue = load_catalogue(file)
        except ConfigError as exc:
            err.print("[bold red]Role catalogue error[/]")
            for line in str(exc).splitlines():
                err.print(f"  • {line}")
            raise typer.Exit(EXIT_CONFIG) from None
        table = Table(title=f"Roles in {file or DEFAULT_FILE}")
        table.add_column("key", no_wrap=True)
        table.add_column("name", no_wrap=True)
        table.add_column("description")
        for role in catalogue.active():
            name = role.name(language) + (" (+ language pairs)" if role.pairs else "")
            table.add_row(role.key, name, role.description(language))
        out.print(table)
        skills = ", ".join(s.name(language) for s in catalogue.skills.values())
        out.print(f"Skills: {skills}, and any language (es, ar, …)")
        out.print(
            "Roles coordinators added or retired by message are not shown (they are encrypted)."
        )
