"""What every handler needs, built once per app: settings, database, clock, password hasher, limiter,
blob store."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sync.server.blobstore import BlobStore
from sync.server.db import Database
from sync.server.errors import ApiError
from sync.server.security import Passwords
from sync.server.settings import Settings
from sync.server.store.common import Principal
from sync.server.store.logins import begin_attempt, end_attempt
from sync.server.store.users import add_user

__all__ = [
    "Actor",
    "Ctx",
    "LoginLimiter",
    "ServerContext",
    "TooManyAttempts",
    "get_ctx",
    "get_principal",
]


class TooManyAttempts(Exception):
    """A sign-in refused before its password is checked; `retry_after` is in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class LoginLimiter:
    """Sign-in attempts per account (across client addresses) and per client address (across usernames),
    counted in the database so that every server process on it shares the counts (sync/server/store/logins.py).

    An attempt is counted when it starts, before its password is checked, so concurrent requests cannot
    slip past the limit: once failures plus attempts in flight reach a limit, a new attempt waits for
    those in flight to finish, and is refused (429) if they all failed. A success withdraws its attempt
    and clears its account's failures (never its address's).
    """

    def __init__(
        self,
        db: Database,
        max_failures: int,
        window_seconds: int,
        clock: Callable[[], float] = time.time,
        *,
        max_client_failures: int = 30,
    ) -> None:
        self.db = db
        self.max = max_failures
        self.max_client = max_client_failures
        self.window = window_seconds
        self._clock = clock

    @contextlib.asynccontextmanager
    async def attempt(self, client: str, account: str) -> AsyncIterator[Callable[[bool], None]]:
        """Count one sign-in attempt; the body calls the yielded function with the check's outcome.

        Raises TooManyAttempts before the body runs when a limit is reached. An attempt left without an
        outcome (an error or a cancelled request) counts as a failure.
        """
        attempt_id = uuid.uuid4().hex
        pause = 0.02
        while True:
            verdict, seconds = await self.db.write(
                begin_attempt,
                attempt=attempt_id,
                account=account,
                client=client,
                now=self._clock(),
                window=self.window,
                max_account=self.max,
                max_client=self.max_client,
            )
            if verdict == "go":
                break
            if verdict == "refuse":
                raise TooManyAttempts(seconds)
            # Attempts in flight (in this process or another) decide; look again shortly.
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.25)
        outcome: list[bool] = []
        try:
            yield outcome.append
        finally:
            ok = bool(outcome and outcome[0])
            await asyncio.shield(
                self.db.write(end_attempt, attempt=attempt_id, account=account, ok=ok, now=self._clock())
            )


@dataclass
class ServerContext:
    settings: Settings
    db: Database
    clock: Callable[[], datetime]
    passwords: Passwords
    limiter: LoginLimiter
    blobs: BlobStore
    # The server epoch as last read from the database: every authenticated request reads it afresh with
    # its caller, before its handler runs, so a restore's new epoch is seen from the next request.
    epoch: str

    @property
    def secret(self) -> str:
        return self.settings.effective_secret

    def limit(self, requested: int) -> int:
        return min(requested, self.settings.list_limit_max)

    def add_users(self, users: Iterable[Mapping[str, Any]], *, now: datetime) -> dict[str, dict[str, Any]]:
        """Create or update accounts described as `models.demo_data.demo_users()` describes them (plain
        password, role, team, name, districts, experience years), each password hashed before its write;
        answers username -> the stored user (`id`, `username`, `role`, `team`)."""
        return {
            u["username"]: self.db.write_sync(
                add_user,
                username=u["username"],
                password_hash=self.passwords.hash(u["password"]),
                role=u["role"],
                team=u["team"],
                name=u.get("name"),
                districts=u.get("districts") or [],
                experience_years=u.get("experience_years") or 0,
                now=now,
            )
            for u in users
        }


# Dependencies are coroutines so that FastAPI calls them on the event loop: a plain `def` would cost a
# worker-thread hop each, on every request.
async def get_ctx(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.ctx
    return ctx


_bearer = HTTPBearer(auto_error=False, description="access token from POST /v1/auth/login")


async def get_principal(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None
) -> Principal:
    """The caller, authenticated by the middleware before the body was read (401 comes first)."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise ApiError(401, "invalid_token", "missing or invalid access token")
    assert isinstance(principal, Principal)
    return principal


Ctx = Annotated[ServerContext, Depends(get_ctx)]
Actor = Annotated[Principal, Depends(get_principal)]
