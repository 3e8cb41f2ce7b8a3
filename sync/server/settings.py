"""Server settings from the environment (`FIELDVISIT_*`); production refuses to start without a real secret."""

from __future__ import annotations

import os
import tempfile
from decimal import Decimal
from functools import cached_property
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.codes import ProductType
from models.rules import RuleSettings
from sync.server.security import secret_weakness

__all__ = ["DEFAULT_SECRET", "Settings"]

# Development runs without configuration; this value is public, so production refuses it.
DEFAULT_SECRET = "fieldvisit-development-secret"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDVISIT_", extra="ignore")

    # A SQLite file, or a `postgresql://` URL (sync/server/pg.py).
    db: str = "./var/fieldvisit.db"
    env: Literal["development", "production"] = "development"
    secret: str | None = None
    body_limit: int = Field(default=16 * 1024 * 1024, ge=1024)
    access_ttl_seconds: int = Field(default=3600, ge=60)
    refresh_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=300)
    # Reusing a rotated refresh token revokes the device (protocol "Identity and auth"), at once by default.
    # An operator whose devices often lose answers may allow a window in which a device presenting the
    # just-rotated token again gets the same new pair back instead (a thief within it gets that pair too).
    refresh_grace_seconds: int = Field(default=0, ge=0, le=3600)
    # Failed sign-ins allowed per account (over every client address) and per client address (over every
    # username) within the window; past either, 429 with Retry-After.
    login_max_failures: int = Field(default=5, ge=1)
    login_max_client_failures: int = Field(default=30, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    # Retention (domain R-8, D-4; `fieldvisit retention`): a case is anonymised this long after its last
    # activity (never less than five years), documents not needed for the record (these attachment kinds)
    # are deleted this long after their report was decided.
    retention_record_days: int = Field(default=1827, ge=1827)
    retention_document_days: int = Field(default=90, ge=1)
    retention_document_kinds: str = "payslip,bank_statement,id_shown,document"
    # Resumable uploads (tus): a partial upload untouched this long is discarded; its bytes wait in
    # `upload_dir` when set, else with object storage in the bucket beside the blobs (every host sees
    # them), else in `uploads_path` (`<db>.uploads` beside the database, `<dir>.uploads` beside a
    # `file://` blob directory).
    upload_expiry_days: int = Field(default=7, ge=1)
    upload_dir: str | None = None
    # Where blob bytes live (sync/server/blobstore.py): `file:///dir` (default: `<db>.blobs` beside the
    # database) or `s3://bucket[/prefix]` on the service at `s3_endpoint` (AWS when unset), with the
    # standard AWS credential variables.
    blob_url: str | None = None
    s3_endpoint: str | None = None
    dispatch_capacity: int = Field(default=8, ge=1)
    dispatch_high_balance: Decimal = Decimal("30000.00")
    dispatch_high_bucket: int = Field(default=4, ge=1, le=7)
    # Plans and promises after the visit (P-6, §5.2), the legal-escalation recommendation (§5.5) and the
    # contact rules: the lender's defaults, configurable.
    tracking_grace_days: int = Field(default=3, ge=0, le=60)
    visits_per_day: int = Field(default=1, ge=1, le=10)
    visits_per_month: int = Field(default=4, ge=1, le=100)
    unreachable_attempts: int = Field(default=3, ge=1, le=20)
    escalation_contact_lost_days: int = Field(default=30, ge=1)
    escalation_broken_promises: int = Field(default=2, ge=1)
    escalation_high_bucket: int = Field(default=4, ge=1, le=7)
    escalation_high_balance: Decimal = Decimal("30000.00")
    # The rule book's thresholds (domain, P-1, P-5): the server's own, never a device's.
    rule_buffer: Decimal = Field(default=Decimal("0.80"), gt=0, le=1)
    rule_dsr_high: Decimal = Field(default=Decimal("0.50"), gt=0, le=1)
    rule_dsr_severe: Decimal = Field(default=Decimal("0.70"), gt=0, le=10)
    rule_declared_share: Decimal = Field(default=Decimal("0.50"), ge=0, le=1)
    rule_receipts_share: Decimal = Field(default=Decimal("0.30"), ge=0, le=1)
    rule_charge_cap: Decimal = Field(default=Decimal("0.24"), gt=0, lt=1)
    max_term_consumer_instalment: int = Field(default=60, ge=1, le=120)
    max_term_cash_loan: int = Field(default=36, ge=1, le=120)
    list_limit_max: int = 1000
    reader_threads: int = Field(default=4, ge=1, le=64)
    group_commit_max: int = Field(default=256, ge=1)
    # Lower argon2 costs make test suites fast; production keeps the library defaults.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)

    @model_validator(mode="after")
    def _production_secret(self) -> Settings:
        if self.env != "production":
            return self
        weakness = "it is the public development value" if self.secret == DEFAULT_SECRET else None
        weakness = weakness or secret_weakness(self.secret)
        if weakness:
            raise ValueError(
                f"FIELDVISIT_SECRET is refused in production: {weakness}; set a random value of at least "
                "32 characters (for example the output of `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`)"
            )
        return self

    def require_blob_store(self) -> None:
        """ValueError when no blob store is named where one must be: workers of one PostgreSQL database may
        run on several hosts, so no directory is theirs by default. Checked by what stores or deletes blobs
        (the server, retention), not by commands that never touch them."""
        if self.is_postgres and not self.blob_url:
            raise ValueError(
                "FIELDVISIT_BLOB_URL must be set with PostgreSQL: file:///dir (a directory every worker "
                "shares) or s3://bucket[/prefix]"
            )

    @property
    def is_postgres(self) -> bool:
        """Whether `db` is a PostgreSQL URL (else a SQLite file)."""
        from sync.server.pg import is_postgres_url

        return is_postgres_url(self.db)

    @cached_property
    def rules(self) -> RuleSettings:
        """The rule book's settings as this server runs them."""
        return RuleSettings(
            buffer=self.rule_buffer,
            dsr_high=self.rule_dsr_high,
            dsr_severe=self.rule_dsr_severe,
            declared_share=self.rule_declared_share,
            receipts_share_costs_unknown=self.rule_receipts_share,
            charge_cap=self.rule_charge_cap,
            max_term={
                ProductType.CONSUMER_INSTALMENT: self.max_term_consumer_instalment,
                ProductType.CASH_LOAN: self.max_term_cash_loan,
            },
        )

    @property
    def uploads_path(self) -> str | None:
        """Where partial uploads are kept: `upload_dir`; else None with object storage, whose bucket keeps them
        beside the blobs (`sync.server.store.uploads.partial_store`); else beside the blob directory with
        PostgreSQL (every worker shares it), beside the database file with SQLite."""
        if self.upload_dir:
            return self.upload_dir
        blobs = urlparse(self.blob_location)
        if blobs.scheme != "file":
            return None
        if self.is_postgres:
            return f"{blobs.path.rstrip('/')}.uploads"
        if self.db == ":memory:" or self.db.startswith("file:"):
            return os.path.join(tempfile.gettempdir(), f"fieldvisit-uploads-{os.getpid()}")
        return f"{self.db}.uploads"

    @property
    def blob_location(self) -> str:
        """The blob store's URL: `blob_url`, or the directory beside the database."""
        from sync.server.blobstore import default_blob_url

        self.require_blob_store()
        return self.blob_url or default_blob_url(self.db)

    @property
    def effective_secret(self) -> str:
        return self.secret or DEFAULT_SECRET
