"""What every handler needs, built once per app: settings, database, clock, password hasher, limiter."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sync.server.db import Database
from sync.server.errors import ApiError
from sync.server.security import Passwords
from sync.server.settings import Settings
from sync.server.store.common import Principal
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


class _Window:
    """Failures in a sliding window plus the attempts still being checked (counted before the check)."""

    __slots__ = ("failures", "pending")

    def __init__(self) -> None:
        self.failures: deque[float] = deque()
        self.pending = 0


class LoginLimiter:
    """Sign-in attempts per account (across client addresses) and per client address (across usernames).

    An attempt is counted when it starts, before its password is checked, so concurrent requests cannot
    slip past the limit: once failures plus attempts in flight reach a limit, a new attempt waits for
    those in flight to finish, and is refused (429) if they all failed. A success withdraws its attempt
    and clears its account's failures (never its address's: a caller who holds one account cannot wash
    out failures made against others). Everything runs on the event loop, so checks and counts are atomic.
    """

    def __init__(
        self,
        max_failures: int,
        window_seconds: int,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_client_failures: int = 30,
    ) -> None:
        self.max = max_failures
        self.max_client = max_client_failures
        self.window = window_seconds
        self._clock = clock
        self._accounts: dict[str, _Window] = {}
        self._clients: dict[str, _Window] = {}
        self._waiters: list[asyncio.Future[None]] = []

    def _get(self, table: dict[str, _Window], key: str) -> _Window:
        w = table.get(key)
        if w is None:
            if len(table) >= 100_000:  # bound memory under a spray of usernames or addresses
                self._prune(table)
            w = table[key] = _Window()
        cutoff = self._clock() - self.window
        while w.failures and w.failures[0] < cutoff:
            w.failures.popleft()
        return w

    def _prune(self, table: dict[str, _Window]) -> None:
        cutoff = self._clock() - self.window
        for key in [
            k for k, w in table.items() if not w.pending and (not w.failures or w.failures[-1] < cutoff)
        ]:
            del table[key]

    def _wait_seconds(self, w: _Window) -> int:
        return max(1, int(w.failures[0] + self.window - self._clock()) + 1) if w.failures else 1

    def _verdict(self, account: _Window, client: _Window) -> tuple[Literal["go", "wait", "refuse"], int]:
        """Go ahead, wait for the attempts in flight, or refuse with the Retry-After in seconds."""
        if len(account.failures) >= self.max:
            return "refuse", self._wait_seconds(account)
        if len(client.failures) >= self.max_client:
            return "refuse", self._wait_seconds(client)
        if len(account.failures) + account.pending >= self.max:
            return "wait", 0
        if len(client.failures) + client.pending >= self.max_client:
            return "wait", 0
        return "go", 0

    @contextlib.asynccontextmanager
    async def attempt(self, client: str, account: str) -> AsyncIterator[Callable[[bool], None]]:
        """Count one sign-in attempt; the body calls the yielded function with the check's outcome.

        Raises TooManyAttempts before the body runs when a limit is reached. An attempt left without an
        outcome (an error or a cancelled request) counts as a failure.
        """
        while True:
            a, c = self._get(self._accounts, account), self._get(self._clients, client)
            verdict, seconds = self._verdict(a, c)
            if verdict == "go":
                break
            if verdict == "refuse":
                raise TooManyAttempts(seconds)
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            # Woken when an attempt in flight ends; the timeout is a backstop, the loop checks again.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, 1.0)
        a.pending += 1
        c.pending += 1
        outcome: list[bool] = []
        try:
            yield outcome.append
        finally:
            a.pending -= 1
            c.pending -= 1
            if outcome and outcome[0]:
                a.failures.clear()
            else:
                now = self._clock()
                a.failures.append(now)
                c.failures.append(now)
            self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        loop = asyncio.get_running_loop()
        for w in waiters:
            if not w.done() and w.get_loop() is loop:
                w.set_result(None)


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
