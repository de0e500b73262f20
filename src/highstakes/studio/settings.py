"""Studio settings, read from HIGHSTAKES_STUDIO_* environment variables or given in code,
and checked at start-up."""

from __future__ import annotations

from pydantic import Field
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
