"""Studio settings, read from HIGHSTAKES_STUDIO_* environment variables or given in code,
and checked at start-up."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class StudioSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HIGHSTAKES_STUDIO_")

    database_url: str = "sqlite:///studio/studio.db"
    model_dir: str = "runs/demo/classifier"
    # the menu's language-model source ("none" keeps only embedding neighbours)
    menu_lm: str = "embedded-smollm2"
    session_hours: float = Field(default=12.0, gt=0)
    # requests over this many bytes get 413 before they are read
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    # a cookie marked Secure is only sent over HTTPS; turn on behind a TLS proxy
    secure_cookies: bool = False
    max_batch: int = Field(default=32, gt=0)
    max_wait_ms: float = Field(default=4.0, ge=0)
    # how often to look for a newly activated classifier version (e.g. from the loop)
    version_poll_seconds: float = Field(default=5.0, gt=0)
    # Login throttle: this many failed logins for one username, or from one client
    # address, within the sliding window, and the login answers 429 until the window
    # passes.  Attempts are kept this many days (at least the window) and then deleted:
    # a month leaves time to look back at an incident and keeps the table small.
    max_failed_logins_per_user: int = Field(default=5, gt=0)
    max_failed_logins_per_address: int = Field(default=20, gt=0)
    failed_login_window_minutes: float = Field(default=15.0, gt=0)
    login_attempt_retention_days: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _keep_attempts_for_the_window(self) -> Self:
        if self.login_attempt_retention_days * 24 * 60 < self.failed_login_window_minutes:
            raise ValueError(
                "login_attempt_retention_days must cover failed_login_window_minutes: "
                "the throttle counts attempts from the database"
            )
        return self
