"""Server settings from the environment (`FIELDVISIT_*`); production refuses to start without a real secret."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_SECRET", "Settings"]

# Development runs without configuration; this value is public, so production refuses it.
DEFAULT_SECRET = "fieldvisit-development-secret"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDVISIT_", extra="ignore")

    db: str = "./var/fieldvisit.db"
    env: Literal["development", "production"] = "development"
    secret: str | None = None
    body_limit: int = Field(default=16 * 1024 * 1024, ge=1024)
    access_ttl_seconds: int = Field(default=3600, ge=60)
    refresh_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=300)
    # A device whose refresh answer was lost presents the just-rotated token again; within this window it
    # gets the same new pair back instead of being revoked for reuse (0 = no grace).
    refresh_grace_seconds: int = Field(default=60, ge=0, le=3600)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    dispatch_capacity: int = Field(default=8, ge=1)
    dispatch_high_balance: Decimal = Decimal("30000.00")
    dispatch_high_bucket: int = Field(default=4, ge=1, le=7)
    list_limit_max: int = 1000
    reader_threads: int = Field(default=4, ge=1, le=64)
    group_commit_max: int = Field(default=256, ge=1)
    # Lower argon2 costs make test suites fast; production keeps the library defaults.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)

    @model_validator(mode="after")
    def _production_secret(self) -> Settings:
        if self.env == "production" and (
            not self.secret or self.secret == DEFAULT_SECRET or len(self.secret) < 32
        ):
            raise ValueError(
                "FIELDVISIT_SECRET must be set to a random value of at least 32 characters in production"
            )
        return self

    @property
    def effective_secret(self) -> str:
        return self.secret or DEFAULT_SECRET
