"""What every handler needs, built once per app: settings, database, clock, password hasher, limiter."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sync.server.db import Database
from sync.server.errors import ApiError
from sync.server.security import Passwords
from sync.server.settings import Settings
from sync.server.store.common import Principal
from sync.server.store.users import add_user

__all__ = ["Actor", "Ctx", "LoginLimiter", "ServerContext", "get_ctx", "get_principal"]


class LoginLimiter:
    """Failed sign-ins per (client, username) in a sliding window; past the limit the pair gets 429."""

    def __init__(
        self, max_failures: int, window_seconds: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max = max_failures
        self.window = window_seconds
        self._clock = clock
        self._fails: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        cutoff = self._clock() - self.window
        while q and q[0] < cutoff:
            q.popleft()
        return q

    def retry_after(self, key: tuple[str, str]) -> int | None:
        q = self._recent(key)
        if len(q) < self.max:
            return None
        return max(1, int(q[0] + self.window - self._clock()) + 1)

    def failed(self, key: tuple[str, str]) -> None:
        self._recent(key).append(self._clock())
        if len(self._fails) > 100_000:  # bound memory under a spray of usernames
            self._fails.clear()

    def succeeded(self, key: tuple[str, str]) -> None:
        self._fails.pop(key, None)


@dataclass
class ServerContext:
    settings: Settings
    db: Database
    clock: Callable[[], datetime]
    passwords: Passwords
    limiter: LoginLimiter
    epoch: str
    auth_cache: dict[str, tuple[Principal, float]] = field(default_factory=dict)

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
