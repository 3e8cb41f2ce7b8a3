"""The device's sync engine (protocol v1): `ApiClient` to sign in, `SyncEngine.sync()`, `SyncScheduler`."""

from sync.client.api import ApiClient, Health, TokenPair
from sync.client.engine import Credentials, CredentialsProvider, SyncEngine, SyncReport
from sync.client.errors import (
    AuthError,
    CaptivePortal,
    DeviceRevoked,
    MutationGap,
    ReauthRequired,
    ResetRequired,
    ServerBusy,
    ServerError,
    SyncError,
    SyncTimeout,
    TransportError,
)
from sync.client.scheduler import Backoff, SyncScheduler
from sync.client.status import StatusBoard, SyncStatus
from sync.client.tokens import FileTokens, MemoryTokens, StoredTokens, TokenStore

__all__ = [
    "ApiClient",
    "AuthError",
    "Backoff",
    "CaptivePortal",
    "Credentials",
    "CredentialsProvider",
    "DeviceRevoked",
    "FileTokens",
    "Health",
    "MemoryTokens",
    "MutationGap",
    "ReauthRequired",
    "ResetRequired",
    "ServerBusy",
    "ServerError",
    "StatusBoard",
    "StoredTokens",
    "SyncEngine",
    "SyncError",
    "SyncReport",
    "SyncScheduler",
    "SyncStatus",
    "SyncTimeout",
    "TokenPair",
    "TokenStore",
    "TransportError",
]
