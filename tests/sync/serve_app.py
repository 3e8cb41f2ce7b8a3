"""Runs the central server under uvicorn for the crash tests; FV_SERVER_KILL=<when>:<n> SIGKILLs it.

`before_push:n` dies when the n-th push arrives (nothing committed); `after_push:n` dies when the n-th push
is answered (committed, answer never sent).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import uvicorn

from sync.server import create_app
from tests.sync.harness import server_settings


class KillSwitch:
    def __init__(self, app: Any, spec: str | None) -> None:
        self.app = app
        self.when, _, n = (spec or "").partition(":")
        self.n = int(n) if n else 0
        self.pushes = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/sync/push" or not self.n:
            await self.app(scope, receive, send)
            return
        self.pushes += 1
        nth = self.pushes
        if self.when == "before_push" and nth == self.n:
            os.kill(os.getpid(), signal.SIGKILL)

        async def send_or_die(message: Any) -> None:
            if self.when == "after_push" and nth == self.n and message["type"] == "http.response.start":
                os.kill(os.getpid(), signal.SIGKILL)
            await send(message)

        await self.app(scope, receive, send_or_die)


def main() -> None:
    db, port = sys.argv[1], int(sys.argv[2])
    app = KillSwitch(create_app(server_settings(db)), os.environ.get("FV_SERVER_KILL"))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
