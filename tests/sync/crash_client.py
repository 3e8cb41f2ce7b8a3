"""A device as its own process for the crash tests: `login`, `submit <visits.json> <n>`, `sync`.

FIELDVISIT_CRASH_AT names an engine crash point, or `submit.before_commit:<k>`, `push.applying`,
`pull.applying` (SIGKILL at the COMMIT of that local transaction, i.e. inside it). Exit 0 when the sync
finished, 3 when the server could not be reached.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from storage.store import DeviceStore
from sync.client import ApiClient, Credentials, SyncEngine, SyncError, TransportError
from sync.client.crash import CRASH_ENV
from tests.sync.factories import report
from tests.sync.harness import PASSWORD


def _die_at_commit(store: DeviceStore, method: str, nth: int = 1) -> None:
    """SIGKILL at the COMMIT of the nth call of `method`: the transaction's writes are done, not committed."""
    armed = {"on": False, "calls": 0}
    original = getattr(store, method)

    def trace(sql: str) -> None:
        if armed["on"] and sql.strip().upper().startswith("COMMIT"):
            os.kill(os.getpid(), signal.SIGKILL)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        armed["calls"] += 1
        armed["on"] = armed["calls"] == nth
        try:
            return original(*args, **kwargs)
        finally:
            armed["on"] = False

    store.db.conn.set_trace_callback(trace)
    setattr(store, method, wrapped)


def main() -> int:
    store_path, base, username, command, *rest = sys.argv[1:]
    store = DeviceStore(Path(store_path))
    spec = os.environ.get(CRASH_ENV, "")
    point, _, nth = spec.partition(":")
    if point == "submit.before_commit":
        _die_at_commit(store, "submit_report", int(nth or 1))
    elif point == "push.applying":
        _die_at_commit(store, "apply_push_response")
    elif point == "pull.applying":
        _die_at_commit(store, "apply_pull_page")
    http = httpx.Client(timeout=10)
    api = ApiClient(store, http)
    if command == "login":
        api.login(base, username, PASSWORD, Path(store_path).stem)
        return 0
    if command == "submit":
        visits = json.loads(Path(rest[0]).read_text())
        for i in range(int(rest[1])):
            data = os.urandom(3000)
            meta = store.register_attachment(data, kind="visit_photo", mime="image/jpeg", filename=f"{i}.jpg")
            store.submit_report(
                report(visits[i % len(visits)], report_id=str(uuid.uuid4()), attachments=[meta])
            )
            if point == "submit.after_commit" and i + 1 == int(nth or 1):
                os.kill(os.getpid(), signal.SIGKILL)
        return 0
    engine = SyncEngine(
        store,
        api,
        credentials=lambda: Credentials(username, PASSWORD, Path(store_path).stem),
        batch_size=int(os.environ.get("FV_BATCH", "50")),
    )
    for _ in range(20):
        try:
            engine.sync()
        except TransportError:
            return 3
        except SyncError as exc:
            print(f"sync error {exc.code}", file=sys.stderr)
            continue
        if store.pending_count() == 0:
            return 0
    return 4


if __name__ == "__main__":
    sys.exit(main())
