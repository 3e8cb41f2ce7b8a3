"""Named crash points: with FIELDVISIT_CRASH_AT=<point>[:<nth>] the process SIGKILLs itself there."""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_ENV", "CRASH_POINTS", "crash_point"]

CRASH_ENV = "FIELDVISIT_CRASH_AT"

# Points the engine passes, in the order one sync reaches them.
CRASH_POINTS = (
    "blob.after_put",  # a photo is stored on the server, not yet marked uploaded locally
    "push.before_send",  # a batch is built, nothing sent
    "push.after_send",  # the server committed and answered; the answer is not applied
    "push.after_apply",  # the answer is applied locally
    "pull.after_receive",  # a page arrived, not applied
    "pull.after_apply",  # a page and its cursor are stored
)

_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= (int(nth) if nth else 1):
        os.kill(os.getpid(), signal.SIGKILL)
