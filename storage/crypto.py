"""Encryption at rest on the device (D-5): the per-device data key, authenticated field encryption and the
password wrap of the key. Primitives come from `cryptography` (OpenSSL): AES-256-GCM, scrypt, HKDF; the search tokens are keyed
BLAKE2b (RFC 7693's MAC mode, Python's hashlib).

Errors: `CryptoError` ← `WrongPassword`. A sealed value that was altered, sealed under another key, or moved
to another row or column (its associated data differs) is refused with `CryptoError`, never returned.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Collection, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

__all__ = [
    "KDF_N",
    "OVERHEAD",
    "CryptoError",
    "DataKey",
    "WrongPassword",
    "unwrap_key",
    "wrap_key",
]

# Format byte, then a 96-bit random nonce, the ciphertext and GCM's 128-bit tag.
_FORMAT = b"\x01"
_NONCE = 12
_TAG = 16
OVERHEAD = len(_FORMAT) + _NONCE + _TAG
KEY_BYTES = 32
# scrypt's cost: 2**15 × r=8 needs 32 MiB and a few hundred milliseconds on a phone, paid once per unlock.
KDF_N = 2**15
_KDF_R, _KDF_P = 8, 1
_WRAP_AAD = b"fieldvisit/data-key/v1"
_TOKEN_MEMO = 65_536


class CryptoError(Exception):
    """A sealed value could not be opened: altered, sealed under another key, or belonging elsewhere."""


class WrongPassword(CryptoError):
    """The password does not open the wrapped data key."""


class DataKey:
    """The device's 256-bit data key: seals values (AES-256-GCM with associated data) and derives the
    keyed search tokens (keyed BLAKE2b under a sub-key from HKDF, so the index key is never the sealing key)."""

    __slots__ = ("_aead", "_index_mac", "_memo_size", "_raw", "_tokens")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEY_BYTES:
            raise ValueError("a data key has 32 bytes")
        self._raw = bytes(raw)
        self._aead = AESGCM(self._raw)
        index_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"fieldvisit/search-index/v1"
        ).derive(self._raw)
        # The keyed state after the key block: each token copies it rather than absorbing the key again.
        self._index_mac = hashlib.blake2b(key=index_key, digest_size=8)
        # Terms repeat across visits (districts, streets, surnames): a bounded memo of their tokens, one map
        # per kind of term (`tokens`), so a lookup needs no prefixed copy of the term.
        self._tokens: dict[str, dict[str, str]] = {}
        self._memo_size = 0

    @classmethod
    def generate(cls) -> DataKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @property
    def raw(self) -> bytes:
        """The key itself, for wrapping and for the platform's secure storage only."""
        return self._raw

    def seal(self, data: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return _FORMAT + nonce + self._aead.encrypt(nonce, data, aad)

    def seal_many(self, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        """`seal` of each `(data, aad)`, the random nonces drawn from the OS in one read."""
        if not items:
            return []
        nonces = os.urandom(_NONCE * len(items))
        encrypt = self._aead.encrypt
        out = []
        at = 0
        for data, aad in items:
            nonce = nonces[at : at + _NONCE]
            at += _NONCE
            out.append(_FORMAT + nonce + encrypt(nonce, data, aad))
        return out

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        if len(sealed) < OVERHEAD or sealed[:1] != _FORMAT:
            raise CryptoError("not a sealed value")
        try:
            return self._aead.decrypt(sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :], aad)
        except InvalidTag:
            raise CryptoError("sealed value refused (altered, other key or other place)") from None

    def seal_text(self, text: str, aad: bytes) -> bytes:
        return self.seal(text.encode("utf-8"), aad)

    def open_text(self, sealed: bytes, aad: bytes) -> str:
        return self.open(sealed, aad).decode("utf-8")

    def token(self, text: str) -> str:
        """A search token: keyed BLAKE2b-64 of the term under the index key, in hex (16 characters)."""
        mac = self._index_mac.copy()
        mac.update(text.encode("utf-8"))
        return mac.hexdigest()

    def tokens(self, kind: str, terms: Collection[str]) -> list[str]:
        """`token(kind + term)` of each term, in the order `terms` iterates; terms seen before are answered
        from the memo."""
        memo = self._tokens.get(kind)
        if memo is None:
            memo = self._tokens[kind] = {}
        try:
            return [memo[t] for t in terms]
        except KeyError:
            pass  # a term not seen before: computed below, then remembered
        if self._memo_size >= _TOKEN_MEMO:
            # Full: start afresh with new maps (a call on another thread may still fill an old one, harmlessly).
            memo = {}
            self._tokens = {kind: memo}
            self._memo_size = 0
        found = []
        for term in terms:
            tok = memo.get(term)
            if tok is None:
                tok = memo[term] = self.token(kind + term)
                self._memo_size += 1
            found.append(tok)
        return found

    def __repr__(self) -> str:  # never show the key
        return "DataKey(…)"


def _kek(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode("utf-8"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def wrap_key(key: DataKey, password: str, *, n: int = KDF_N, context: str = "") -> dict[str, Any]:
    """The data key wrapped by a key derived from the password (scrypt, fresh salt); `context` (the user id)
    binds the wrap to its owner. Everything returned may be stored in the clear."""
    salt = secrets.token_bytes(16)
    kek = AESGCM(_kek(password, salt, n, _KDF_R, _KDF_P))
    nonce = os.urandom(_NONCE)
    wrapped = kek.encrypt(nonce, key.raw, _WRAP_AAD + context.encode("utf-8"))
    return {
        "kdf": "scrypt",
        "n": n,
        "r": _KDF_R,
        "p": _KDF_P,
        "salt": _b64(salt),
        "nonce": _b64(nonce),
        "wrapped": _b64(wrapped),
        "cipher": "AES-256-GCM",
    }


def unwrap_key(record: dict[str, Any], password: str, *, context: str = "") -> DataKey:
    """The data key, if the password is right; `WrongPassword` otherwise (also for a tampered record)."""
    try:
        if record.get("kdf") != "scrypt":
            raise CryptoError("unknown key derivation")
        salt = base64.b64decode(record["salt"])
        kek = AESGCM(_kek(password, salt, int(record["n"]), int(record["r"]), int(record["p"])))
        raw = kek.decrypt(
            base64.b64decode(record["nonce"]),
            base64.b64decode(record["wrapped"]),
            _WRAP_AAD + context.encode("utf-8"),
        )
    except (InvalidTag, KeyError, ValueError, TypeError):
        raise WrongPassword("the password does not open the data key") from None
    return DataKey(raw)
