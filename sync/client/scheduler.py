"""When to sync: backoff with full jitter from 1 s to 5 min, Retry-After honoured, never giving up."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

from sync.client.engine import SyncEngine
from sync.client.errors import AuthError, DeviceRevoked, SyncError

__all__ = ["Backoff", "SyncScheduler"]

log = logging.getLogger(__name__)


class Backoff:
    """Delay n (from 0) is uniform in [0, min(cap, base·2ⁿ)]; a server's Retry-After is a lower bound."""

    def __init__(
        self, *, base: float = 1.0, cap: float = 300.0, rand: Callable[[], float] = random.random
    ) -> None:
        self.base = base
        self.cap = cap
        self.rand = rand
        self.attempt = 0

    def next_delay(self, retry_after: float | None = None) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        delay = self.rand() * ceiling
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    def reset(self) -> None:
        self.attempt = 0


class SyncScheduler:
    """Runs `engine.sync()` forever: every `interval` seconds after a success, with backoff after a failure.

    `trigger()` (connectivity back, a new submission, the user's "sync now", a new sign-in) runs a sync at
    once. After an AuthError it waits for a trigger; after DeviceRevoked it stops.
    """

    def __init__(
        self,
        engine: SyncEngine,
        *,
        backoff: Backoff | None = None,
        interval: float = 300.0,
        poll: float = 0.25,
    ) -> None:
        self.engine = engine
        self.backoff = backoff or Backoff()
        self.interval = interval
        self.poll = poll
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.online = True

    def trigger(self) -> None:
        """Sync now (a submission, the user's "sync now", a new sign-in); restarts the backoff."""
        self.backoff.reset()
        self._wake.set()

    def set_online(self, online: bool) -> None:
        """Connectivity changed: offline skips attempts until online again, which syncs at once."""
        self.online = online
        if online:
            self.trigger()

    def start(self) -> threading.Thread:
        """Run `run_forever` on a daemon thread until `stop()`."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(
                target=self.run_forever, args=(self._stop,), name="sync", daemon=True
            )
            self._thread.start()
        return self._thread

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread started by `start()`; a running sync finishes first (its commits are atomic)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def step(self) -> float | None:
        """One sync attempt; returns seconds until the next one, None to wait for a trigger, -1 to stop."""
        try:
            self.engine.sync()
        except DeviceRevoked:
            log.warning("device revoked; sync stopped")
            return -1.0
        except AuthError as exc:
            log.info("sync needs a sign-in (%s)", exc.code)
            return None
        except SyncError as exc:
            delay = self.backoff.next_delay(exc.retry_after)
            log.info("sync failed (%s); next attempt in %.1f s", exc.code, delay)
            return delay
        except Exception:
            # A bug must not stop sync for good; it is logged and retried like a transient failure.
            log.exception("sync crashed")
            return self.backoff.next_delay()
        self.backoff.reset()
        return self.interval

    def run_forever(self, stop_event: threading.Event) -> None:
        while not stop_event.is_set():
            self._wake.clear()
            if not self.online:
                self._wait(None, stop_event)
                continue
            delay = self.step()
            if delay is not None and delay < 0:
                return
            self.engine.status.update(next_attempt_in=delay)
            self._wait(delay, stop_event)

    def _wait(self, delay: float | None, stop_event: threading.Event) -> None:
        # Polls the app's stop event so it need not know about our wake event.
        remaining = delay
        while not stop_event.is_set() and not self._stop.is_set():
            step = self.poll if remaining is None else min(self.poll, remaining)
            if self._wake.wait(step):
                return
            if remaining is not None:
                remaining -= step
                if remaining <= 0:
                    return
