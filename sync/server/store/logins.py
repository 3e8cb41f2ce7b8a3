"""Sign-in attempts counted in the database, so every server process sees the same counts (protocol v1.1
"Several workers"; domain D-5): per account over every client address, per client address over every
username.

An attempt is recorded before its password is checked (`failed` 0, in flight) and marked failed, or
withdrawn on success, when the check ends. Recording runs in one write transaction that counts first, so
concurrent attempts in any process cannot slip past a limit. An attempt in flight for longer than
`STALE_SECONDS` (its process died mid-check) counts as a failure.
"""

from __future__ import annotations

from typing import Literal

from sqlite_utils import Database

__all__ = ["STALE_SECONDS", "Verdict", "begin_attempt", "end_attempt"]

STALE_SECONDS = 60.0

Verdict = tuple[Literal["go", "wait", "refuse"], int]


def _counts(db: Database, scope: str, key: str, now: float, window: float) -> tuple[int, int, float | None]:
    """(failures in the window, attempts in flight, time of the oldest failure in the window)."""
    stale = now - STALE_SECONDS
    failures, pending, oldest = db.execute(
        "SELECT COUNT(CASE WHEN failed = 1 OR at < ? THEN 1 END), COUNT(CASE WHEN failed = 0 AND at >= ? THEN 1 END), "
        "MIN(CASE WHEN failed = 1 OR at < ? THEN at END) "
        "FROM login_attempts WHERE scope = ? AND key = ? AND at >= ?",
        [stale, stale, stale, scope, key, now - window],
    ).fetchone()
    return int(failures), int(pending), (None if oldest is None else float(oldest))


def _wait_seconds(oldest: float | None, now: float, window: float) -> int:
    return max(1, int(oldest + window - now) + 1) if oldest is not None else 1


def begin_attempt(
    db: Database,
    *,
    attempt: str,
    account: str,
    client: str,
    now: float,
    window: float,
    max_account: int,
    max_client: int,
) -> Verdict:
    """Record the attempt when no limit stands in its way ("go"); otherwise "wait" (attempts in flight
    may still succeed) or "refuse" with the Retry-After in seconds, recording nothing."""
    if int(now) % 64 == 0:  # now and then, rows past every window go
        db.execute("DELETE FROM login_attempts WHERE at < ?", [now - max(window, STALE_SECONDS) - 1])
    a_failed, a_pending, a_oldest = _counts(db, "account", account, now, window)
    c_failed, c_pending, c_oldest = _counts(db, "client", client, now, window)
    if a_failed >= max_account:
        return "refuse", _wait_seconds(a_oldest, now, window)
    if c_failed >= max_client:
        return "refuse", _wait_seconds(c_oldest, now, window)
    if a_failed + a_pending >= max_account or c_failed + c_pending >= max_client:
        return "wait", 0
    db.conn.executemany(
        "INSERT INTO login_attempts(scope, key, at, failed, attempt) VALUES (?, ?, ?, 0, ?)",
        [("account", account, now, attempt), ("client", client, now, attempt)],
    )
    return "go", 0


def end_attempt(db: Database, *, attempt: str, account: str, ok: bool, now: float) -> None:
    """A success withdraws the attempt and clears its account's failures (never its address's: a caller
    who holds one account cannot wash out failures made against others); a failure is kept, dated now."""
    if ok:
        db.execute("DELETE FROM login_attempts WHERE attempt = ?", [attempt])
        db.execute(
            "DELETE FROM login_attempts WHERE scope = 'account' AND key = ? AND (failed = 1 OR at < ?)",
            [account, now - STALE_SECONDS],
        )
    else:
        db.execute("UPDATE login_attempts SET failed = 1, at = ? WHERE attempt = ?", [now, attempt])
