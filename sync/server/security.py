"""Passwords (argon2id) and bearer tokens (random 256-bit, stored only as keyed SHA-256 digests)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["Passwords", "derived_token", "new_token", "secret_weakness", "token_digest"]

SECRET_MIN_LENGTH = 32
SECRET_MIN_DISTINCT = 16


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
    mac = _keyed(secret).copy()
    mac.update(token.encode())
    return mac.hexdigest()


@functools.lru_cache(maxsize=8)
def _keyed(secret: str) -> hmac.HMAC:
    # Every request digests its token: the keyed state is made once per secret and copied.
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def secret_weakness(secret: str | None) -> str | None:
    """Why `secret` is too weak to key the server's token digests, or None when it will do.

    Refused: shorter than 32 characters, fewer than 16 distinct characters, or one pattern repeated (a
    string that is its own prefix shifted by at most half its length, such as `abcd` four times).
    """
    if not secret:
        return "it is not set"
    if len(secret) < SECRET_MIN_LENGTH:
        return f"it is shorter than {SECRET_MIN_LENGTH} characters"
    if len(set(secret)) < SECRET_MIN_DISTINCT:
        return f"it has fewer than {SECRET_MIN_DISTINCT} distinct characters"
    n = len(secret)
    for period in range(1, n // 2 + 1):
        if secret[period:] == secret[:-period]:
            return "it repeats one short pattern"
    return None
