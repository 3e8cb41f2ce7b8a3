"""Passwords (argon2id) and bearer tokens (random 256-bit, stored only as keyed SHA-256 digests)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["Passwords", "derived_token", "new_token", "token_digest"]


class Passwords:
    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self._ph = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        # Verified when the user is unknown, so a failed login takes the same time either way.
        self._dummy = self._ph.hash(secrets.token_hex(16))

    def hash(self, password: str) -> str:
        return self._ph.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._ph.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def derived_token(parent: str, salt: str, kind: str) -> str:
    """A 256-bit token derived from a secret parent token and a random salt (the same shape as new_token()).

    Only who holds the parent (stored by the server as a digest alone) and the salt can compute it, which
    is what lets a refresh rotation be answered again with the same pair.
    """
    mac = hmac.new(parent.encode(), f"{kind}:{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def token_digest(secret: str, token: str) -> str:
    """The stored form of a token: HMAC-SHA256 keyed with the server secret, hex."""
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
