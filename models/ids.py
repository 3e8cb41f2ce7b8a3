"""Identifiers minted by devices and the server: time-ordered UUIDs (version 7, RFC 9562).

A version-7 UUID starts with its creation time in milliseconds, so the IDs a device or server makes one
after another sort one after another. Reports, report versions and visits are keyed by them in B-tree
indexes on both sides of the sync; with ordered keys each insert lands on the index's last page instead of
a random one, which keeps the pages a batch writes (and the WAL behind them) few and the cost per insert
flat as the tables grow. They are ordinary UUIDs on the wire: nothing reads the time back out of them.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid

__all__ = ["new_id"]

_RAND_BITS = 74  # rand_a (12 bits) and rand_b (62 bits)
_lock = threading.Lock()
_last = (0, 0)  # (milliseconds, random part) of the last ID made by this process


def new_id() -> str:
    """A new UUIDv7 as its canonical lower-case string; strictly increasing within this process."""
    global _last
    with _lock:
        ms = time.time_ns() // 1_000_000
        last_ms, last_rand = _last
        if ms <= last_ms:
            # Same millisecond (or a clock step back): count on from the last ID instead of drawing anew.
            ms, rand = last_ms, last_rand + 1
            if rand >> _RAND_BITS:
                ms, rand = last_ms + 1, secrets.randbits(_RAND_BITS - 1)
        else:
            # One bit of headroom below the top keeps room to count on within the millisecond.
            rand = secrets.randbits(_RAND_BITS - 1)
        _last = (ms, rand)
    rand_a, rand_b = rand >> 62, rand & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))
