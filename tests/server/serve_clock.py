"""The central server as its own process on a movable clock, for end-to-end tests of what depends on the
date (plans, promises, contact rules): `python -m tests.server.serve_clock DB PORT CLOCK_FILE`.

The clock file holds an RFC 3339 instant and is re-read on every reading (`app.config.clock_from_env`'s
`@file` form), so a test moves the running server's clock by rewriting it. The demo users are created with
cheap password hashing; access tokens outlive the clock's jumps."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import uvicorn

from app.config import clock_from_env
from models.demo_data import demo_users
from sync.server import Settings, create_app


def main() -> None:
    db, port, clock_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    settings = Settings(
        db=db,
        argon2_time_cost=1,
        argon2_memory_kib=64,
        access_ttl_seconds=10**9,
        refresh_ttl_seconds=10**9,
    )
    app = create_app(settings, clock=clock_from_env(f"@{clock_file}"))
    app.state.ctx.add_users(demo_users(), now=datetime.now(UTC))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
