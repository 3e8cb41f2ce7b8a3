"""`fieldvisit serve --workers N`: N worker processes behind one address, and a supervisor that accepts.

Design. When worker processes share a listening socket (uvicorn's own multi-process mode), each keeps the
connections it accepted, and the worker that wakes first accepts every connection waiting, so a few
long-lived connections (8 phones pushing, a load balancer's pool to its upstream) fall unevenly: 6 and 2,
or 59% and 41% of the work with 64 of them. Here the supervisor alone listens. It accepts each connection
and hands it to the workers in turn over a Unix socket of its own per worker (`SCM_RIGHTS`), so N
connections opened at once are spread N/workers to each. A worker is a uvicorn server whose connections come
from that socket instead of a listening one; everything else (HTTP, lifespan, graceful shutdown on SIGTERM)
is uvicorn's. The supervisor starts a worker again when one dies (skipping it meanwhile), stops every one
on SIGTERM or SIGINT, and stops all and exits 1 when one fails to start (a broken app would fail the same
way every time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing as mp
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

__all__ = ["serve_workers"]

log = logging.getLogger("fieldvisit.workers")

_APP = "cli.main:worker_app"


class _HandedServer(uvicorn.Server):
    """A uvicorn server whose connections are handed to it over `channel` (one byte and one descriptor per
    connection) instead of accepted from a listening socket."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        config = self.config

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            protocol: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=_loop
            )
            return protocol

        loop = asyncio.get_running_loop()
        channel = self.channel
        channel.setblocking(False)
        opening: set[asyncio.Task[Any]] = set()

        def opened(task: asyncio.Task[Any]) -> None:
            opening.discard(task)
            if not task.cancelled() and task.exception() is not None:  # the client left before it began
                log.debug("a handed connection could not be opened: %s", type(task.exception()).__name__)

        def take() -> None:
            while True:
                try:
                    data, fds, _flags, _addr = socket.recv_fds(channel, 1, 4)
                except BlockingIOError:
                    return
                except OSError:
                    data, fds = b"", []
                if not data and not fds:  # the supervisor is gone: nothing more will come
                    loop.remove_reader(channel.fileno())
                    self.should_exit = True
                    return
                for fd in fds:
                    conn = socket.socket(fileno=fd)
                    conn.setblocking(False)
                    task = loop.create_task(loop.connect_accepted_socket(create_protocol, conn))
                    opening.add(task)
                    task.add_done_callback(opened)

        loop.add_reader(channel.fileno(), take)
        self.servers = []
        self.started = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):
            loop.remove_reader(self.channel.fileno())
        self.channel.close()
        await super().shutdown(sockets)


def _worker(channel: socket.socket, options: dict[str, Any]) -> None:
    """A worker process: the app of `cli.main:worker_app`, its connections handed over `channel`."""
    config = uvicorn.Config(_APP, factory=True, **options)
    _HandedServer(config, channel).run()


class _Slot:
    """One worker: its process and the supervisor's end of its channel."""

    def __init__(self, ctx: Any, options: dict[str, Any]) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.channel = mine
        self.process = ctx.Process(target=_worker, args=(theirs, options), daemon=False)
        self.process.start()
        theirs.close()

    def hand(self, conn: socket.socket) -> bool:
        try:
            socket.send_fds(self.channel, [b"c"], [conn.fileno()])
        except OSError:
            return False
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.channel.close()


def serve_workers(host: str, port: int, workers: int, options: dict[str, Any]) -> int:
    """Serve `cli.main:worker_app` on `host:port` with `workers` processes (see the module's note); returns the
    exit status once stopped."""
    listener = socket.create_server((host, port), backlog=2048, reuse_port=False)
    listener.settimeout(0.5)
    ctx = mp.get_context("spawn")
    stop = threading.Event()
    failed = threading.Event()
    lock = threading.Lock()
    slots = [_Slot(ctx, options) for _ in range(workers)]
    log.info("Started parent process [%d], %d workers, on http://%s:%d", os.getpid(), workers, host, port)

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

    def accept() -> None:
        turn = 0
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if stop.is_set():
                    return
                time.sleep(0.05)  # too many open files and the like: the connection waits in the backlog
                continue
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with lock:
                    for _ in range(len(slots)):
                        slot = slots[turn % len(slots)]
                        turn += 1
                        if slot.process.is_alive() and slot.hand(conn):
                            break

    acceptor = threading.Thread(target=accept, name="fv-accept", daemon=True)
    acceptor.start()
    try:
        while not stop.wait(0.5):
            with lock:
                for i, slot in enumerate(slots):
                    if slot.process.is_alive():
                        continue
                    slot.close()
                    if slot.process.exitcode == STARTUP_FAILURE:
                        log.error("worker [%s] failed to start; stopping", slot.process.pid)
                        failed.set()
                        stop.set()
                        break
                    log.info(
                        "worker [%s] died (exit %s); starting another",
                        slot.process.pid,
                        slot.process.exitcode,
                    )
                    slots[i] = _Slot(ctx, options)
    finally:
        stop.set()
        listener.close()
        acceptor.join(timeout=2)
        for slot in slots:
            if slot.process.is_alive():
                slot.process.terminate()
        deadline = time.monotonic() + float(options.get("timeout_graceful_shutdown") or 10) + 5
        for slot in slots:
            slot.process.join(max(0.1, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(5)
            slot.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("Stopping parent process [%d]", os.getpid())
    return 1 if failed.is_set() else 0
