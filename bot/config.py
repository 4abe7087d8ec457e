"""Operator configuration: environment variables (``LANTERN_*``) over an optional TOML file.

Validation happens once at start with messages an operator can act on; nothing else in
the code reads the environment.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SUPPORTED_LANGUAGES = ("en", "es")
ONE_WEEK = 7 * 24 * 3600


class ConfigError(Exception):
    """Configuration is invalid; the message lists every problem, one per line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LANTERN_", extra="forbid")

    bot_number: str = Field(
        default="",
        description="The Signal number the bot is registered/linked with, in E.164 (+...).",
    )
    signal_service: str = Field(
        default="localhost:8080",
        description="host:port of signal-cli-rest-api (json-rpc mode), without scheme.",
    )
    signal_connection: Literal["auto", "https_only", "http_only"] = Field(
        default="http_only",
        description="Protocol to reach signal-cli-rest-api; it is on a private network.",
    )
    data_dir: Path = Field(
        default=Path("lantern-data"), description="Where SQLite lives (no keys are stored)."
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL; default SQLite in data_dir. "
        "PostgreSQL: postgresql+asyncpg://user:pass@host/db",
    )
    default_language: str = Field(default="en", description="Language for strangers.")
    timezone: str = Field(default="UTC", description="IANA time zone of the network.")
    disappearing_timer: int = Field(
        default=ONE_WEEK,
        description="Disappearing-message timer set on every member conversation (seconds).",
    )
    invite_hours: int = Field(default=72, description="Default validity of invite codes.")
    dialog_minutes: int = Field(default=24 * 60, description="How long a half-done dialog lives.")
    share_timer: int = Field(
        default=3600,
        ge=60,
        description="Disappearing timer (seconds) on the messages that carry unseal shares.",
    )
    unseal_window_minutes: int = Field(
        default=30,
        ge=1,
        description="Shares sent for unsealing are forgotten if k are not in within this time.",
    )
    rate_per_minute: float = Field(
        default=30.0,
        gt=0,
        description="Messages per minute one sender may send (the same for everyone).",
    )
    rate_burst: int = Field(default=20, ge=1, description="Burst allowed above that rate.")
    intake_draft_hours: int = Field(
        default=72,
        ge=1,
        description="How long an unfinished intake (someone bringing a fight) is kept.",
    )
    intake_reminder_hours: int = Field(
        default=24,
        ge=0,
        description="Remind the person this long before their intake draft is deleted "
        "(0: no reminder).",
    )
    vote_hours: int = Field(
        default=48, ge=1, le=24 * 30, description="Default length of a cell's vote on a case."
    )
    case_retention_days: int = Field(
        default=90,
        ge=1,
        description="Closed cases are crypto-shredded this long after closing, unless the "
        "cell keeps them; only aggregate outcomes survive.",
    )
    ladder: list[str] = Field(
        default_factory=lambda: ["letter", "zap", "picket", "escalate"],
        min_length=1,
        description="Escalation ladder given to each accepted case. Known steps (letter, "
        "zap, picket, escalate, press, occupation) are translated; other text is shown as is.",
    )
    sweep_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often deadlines (votes, draft reminders, retention) are checked.",
    )
    send_rate_per_second: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description="Outbound messages per second to Signal (token bucket refill). Signal's "
        "limits are unpublished and strict; raise with care.",
    )
    send_burst: int = Field(default=5, ge=1, description="Messages sent at once above that rate.")
    send_max_attempts: int = Field(
        default=12,
        ge=1,
        description="Tries per message before it is recorded as failed (rate-limited tries "
        "do not count).",
    )
    retry_base_seconds: float = Field(
        default=30.0, gt=0, description="First wait after a failed send; doubles each time."
    )
    retry_max_hours: float = Field(
        default=24.0,
        gt=0,
        description="Longest wait between tries (Signal's rate limits can last a day).",
    )
    callout_reminders_hours: list[float] = Field(
        default_factory=lambda: [24.0, 2.0],
        description="Reminders to confirmed people this long before an action; one at or "
        "after the reveal time carries the place.",
    )
    callout_nudge_hours: float = Field(
        default=24.0, ge=0, description="Nudge people who answered maybe (0: never)."
    )
    reveal_hours: float = Field(
        default=2.0,
        ge=0,
        le=168,
        description="Default: the place is sent to confirmed people this long before.",
    )
    underfill_hours: float = Field(
        default=24.0,
        ge=0,
        description="Ask coordinators about an under-filled action (or an empty role slot) "
        "this long before it (0: never).",
    )
    triage_hours: float = Field(
        default=48.0, gt=0, description="Ask coordinators about a case waiting in triage this long."
    )
    stall_days: float = Field(
        default=14.0,
        gt=0,
        description="Ask coordinators about an active campaign with no action this long.",
    )
    prompt_step_minutes: int = Field(
        default=120,
        ge=1,
        description="How long each coordinator in the chain has to answer a prompt.",
    )
    prompt_mode: Literal["chain", "all"] = Field(
        default="chain",
        description="Ask coordinators one after another (chain) or all at once (all).",
    )
    debrief_hours: float = Field(
        default=3.0, ge=0, description="Ask for a debrief this long after an action starts."
    )
    outbox_keep_days: int = Field(
        default=7, ge=1, description="Delivery tombstones (no text, no recipient) kept this long."
    )
    roles_file: Path | None = Field(
        default=None,
        description="TOML file with the network's role and skill catalogue (default: the "
        "one shipped in bot/roles.toml). Coordinators add or retire roles with ADDROLE.",
    )
    rotation_offer_hours: float = Field(
        default=6.0,
        ge=0,
        le=168,
        description="A role slot is offered to one role holder at a time (least recently "
        "served first) for this long before the next is asked (0: no rotation).",
    )
    pause_max_days: int = Field(
        default=180, ge=1, le=730, description="Longest pause a member can take at once."
    )
    concentration_days: int = Field(
        default=90, ge=7, description="Window for the load figure: confirmations counted."
    )
    concentration_share: float = Field(
        default=0.6,
        gt=0.2,
        le=1.0,
        description="Tell organizers when the busiest fifth of a cell took this share of its "
        "confirmations.",
    )
    concentration_min: int = Field(
        default=10, ge=1, description="Confirmations needed before the load figure is used."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("bot_number")
    @classmethod
    def _valid_number(cls, value: str) -> str:
        if not value:
            return value
        try:
            parsed = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            raise ValueError("must be an E.164 phone number like +12025550123") from None
        if not phonenumbers.is_valid_number(parsed):
            raise ValueError("is not a valid phone number (E.164, with country code)")
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    @field_validator("roles_file", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("signal_service")
    @classmethod
    def _no_scheme(cls, value: str) -> str:
        if "://" in value:
            raise ValueError("give host:port without http:// or ws://")
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("default_language")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LANGUAGES)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Europe/Berlin") from None
        return value

    @field_validator("disappearing_timer")
    @classmethod
    def _timer(cls, value: int) -> int:
        if value < 0 or value > 4 * ONE_WEEK:
            raise ValueError("must be between 0 (off) and 2419200 seconds (4 weeks)")
        return value

    @field_validator("ladder")
    @classmethod
    def _ladder(cls, value: list[str]) -> list[str]:
        steps = [" ".join(step.split()) for step in value]
        if any(not step or len(step) > 80 for step in steps) or len(steps) > 12:
            raise ValueError("needs 1 to 12 steps of 1 to 80 characters each")
        return steps

    @field_validator("callout_reminders_hours")
    @classmethod
    def _reminders(cls, value: list[float]) -> list[float]:
        if len(value) > 6 or any(not 0 < h <= 24 * 14 for h in value):
            raise ValueError("up to 6 reminders, each between 0 and 336 hours before")
        return sorted(set(value), reverse=True)

    @model_validator(mode="after")
    def _reminder_before_expiry(self) -> Settings:
        if self.intake_reminder_hours >= self.intake_draft_hours:
            raise ValueError("intake_reminder_hours must be smaller than intake_draft_hours (or 0)")
        return self

    @field_validator("database_url")
    @classmethod
    def _db(cls, value: str) -> str:
        if not value:
            return value
        try:
            backend = make_url(value).drivername
        except ArgumentError:
            raise ValueError("is not a database URL") from None
        if backend not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            raise ValueError("use sqlite+aiosqlite:///path or postgresql+asyncpg://...")
        return value

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'lantern.db'}"

    def require_bot_number(self) -> None:
        if not self.bot_number:
            raise ConfigError("bot_number: required (set LANTERN_BOT_NUMBER=+...)")

    def redacted(self) -> dict[str, Any]:
        """For `lantern config`: the database password is never printed."""
        shown = self.model_dump(mode="json")
        shown["database_url"] = make_url(self.effective_database_url).render_as_string(
            hide_password=True
        )
        return shown


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Environment wins over the file; explicit overrides (CLI flags) win over both."""
    file_values: dict[str, Any] = {}
    if config_file is not None:
        try:
            file_values = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config_file} is not valid TOML: {exc}") from None
        file_values = file_values.get("lantern", file_values)
    try:
        env_only = Settings()
        merged = {**file_values, **env_only.model_dump(exclude_unset=True), **overrides}
        return Settings.model_validate(merged)
    except SettingsError as exc:  # an environment value that is not valid JSON, say
        raise ConfigError(f"environment: {exc}") from None
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "config"
            lines.append(f"{field}: {err['msg'].removeprefix('Value error, ')}")
        raise ConfigError("\n".join(lines)) from None
