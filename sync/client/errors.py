"""Why a sync failed, as one exception tree the app and the scheduler branch on.

```
SyncError                      base; `code` is a short machine string, `retry_after` seconds or None
├── TransportError             no usable answer: DNS, refused, reset, TLS — the device is offline
│   └── SyncTimeout            the request or its answer did not arrive in time (it may have been applied)
├── CaptivePortal              a 2xx/3xx answer that is not the server's JSON envelope; never applied
├── ServerError                the server answered with an error (5xx, or a 4xx the engine cannot fix)
│   └── ServerBusy             429 or 503; `retry_after` from the Retry-After header
├── AuthError                  401 that a token refresh cannot fix: the app asks the user to sign in
│   ├── ReauthRequired         the server was restored (new epoch) and no stored sign-in was given
│   └── DeviceRevoked          the device was revoked; `wiped` tells whether local data was deleted
├── ResetRequired              410 reset_required: handled inside sync() (snapshot pull), never raised
└── MutationGap                409 mutation_gap: handled inside sync() (resend from `expected`)
```

The scheduler retries `TransportError`, `CaptivePortal` and `ServerError` with backoff, waits for a new
sign-in after `AuthError`, and stops for good after `DeviceRevoked`.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "CaptivePortal",
    "DeviceRevoked",
    "MutationGap",
    "ReauthRequired",
    "ResetRequired",
    "ServerBusy",
    "ServerError",
    "SyncError",
    "SyncTimeout",
    "TransportError",
]


class SyncError(Exception):
    """Base of every sync failure."""

    code = "sync_error"

    def __init__(
        self, message: str = "", *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message or self.__class__.__name__)
        if code is not None:
            self.code = code
        self.retry_after = retry_after


class TransportError(SyncError):
    code = "offline"


class SyncTimeout(TransportError):
    code = "timeout"


class CaptivePortal(SyncError):
    code = "captive_portal"


class ServerError(SyncError):
    code = "server_error"

    def __init__(
        self,
        message: str = "",
        *,
        status: int = 500,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, retry_after=retry_after)
        self.status = status


class ServerBusy(ServerError):
    code = "server_busy"


class AuthError(SyncError):
    code = "auth_required"


class ReauthRequired(AuthError):
    code = "reauth_required"


class DeviceRevoked(AuthError):
    code = "device_revoked"

    def __init__(self, message: str = "", *, wiped: bool = False) -> None:
        super().__init__(message)
        self.wiped = wiped


class ResetRequired(SyncError):
    code = "reset_required"


class MutationGap(SyncError):
    code = "mutation_gap"

    def __init__(self, expected: int) -> None:
        super().__init__(f"server expects mutation {expected}")
        self.expected = expected
