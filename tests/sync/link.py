"""A userspace link emulator: a loopback TCP proxy with a one-way delay, a bandwidth cap shared by every
connection in each direction, and connections cut part-way (armed for the next request of a kind, or at
random with a seeded rate). It counts the bytes it carries, per direction and per request method.

Time can be scaled: `time_scale=10` runs a 1 Mbit/s, 150 ms link as 10 Mbit/s and 15 ms, ten times faster;
multiply measured durations by the scale to read them on the emulated link.
"""

from __future__ import annotations

import contextlib
import random
import re
import socket
import struct
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

__all__ = ["LinkEmulator"]

_METHODS = (b"GET ", b"POST ", b"PUT ", b"PATCH ", b"HEAD ", b"OPTIONS ", b"DELETE ")
_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.I)
_PIECE = 16 * 1024
_CUT = object()


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class _Pipe:
    """One direction of the link: pieces are serialised at `bps`, one after another, whatever connection."""

    def __init__(self, bps: float) -> None:
        self.bps = bps
        self.busy_until = 0.0
        self.lock = threading.Lock()

    def reserve(self, n: int, now: float) -> float:
        with self.lock:
            start = max(now, self.busy_until)
            self.busy_until = start + n * 8 / self.bps
            return self.busy_until


@dataclass
class _Conn:
    client: socket.socket
    upstream: socket.socket
    up_count: int = 0
    cut_at: int | None = None
    method: str = ""
    closed: bool = False
    cut: bool = False
    ended: int = 0
    queues: dict[str, deque[tuple[float, object]]] = field(default_factory=dict)


class LinkEmulator:
    def __init__(
        self,
        target_port: int,
        *,
        latency_s: float = 0.150,
        up_bps: float = 1_000_000,
        down_bps: float = 1_000_000,
        cut_rate: float = 0.0,
        seed: int = 1,
        time_scale: float = 1.0,
    ) -> None:
        self.target = ("127.0.0.1", target_port)
        self.latency = latency_s / time_scale
        self.pipes = {"up": _Pipe(up_bps * time_scale), "down": _Pipe(down_bps * time_scale)}
        self.cut_rate = cut_rate
        self.rng = random.Random(seed)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # Bytes delivered through the link; per request method, client→server bytes (headers included).
        self.up_bytes = 0
        self.down_bytes = 0
        self.up_by_method: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.cuts = 0
        self._armed: list[tuple[str, float]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="link-accept", daemon=True)

    def __enter__(self) -> LinkEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        self._thread.join(5)

    def arm_cut(self, method: str, fraction: float) -> None:
        """Cut the next `method` request once `fraction` of it (headers and body) has gone through."""
        with self._lock:
            self._armed.append((method.upper(), fraction))

    def counters(self) -> dict[str, int]:
        with self._lock:
            return {"up": self.up_bytes, "down": self.down_bytes, "cuts": self.cuts}

    # -- plumbing --------------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=60)
            except OSError:
                _reset(client)
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(client, upstream)
            for direction, src, dst in (("up", client, upstream), ("down", upstream, client)):
                conn.queues[direction] = deque()
                cond = threading.Condition()
                threading.Thread(target=self._read, args=(conn, direction, src, cond), daemon=True).start()
                threading.Thread(target=self._write, args=(conn, direction, dst, cond), daemon=True).start()

    def _on_request_start(self, conn: _Conn, data: bytes) -> None:
        method = data.split(b" ", 1)[0].decode("ascii", "replace")
        conn.method = method
        head_end = data.find(b"\r\n\r\n")
        m = _LENGTH.search(data[: head_end if head_end >= 0 else len(data)])
        size = (head_end + 4 if head_end >= 0 else len(data)) + (int(m.group(1)) if m else 0)
        with self._lock:
            self.requests[method] += 1
            fraction = None
            for i, (armed, frac) in enumerate(self._armed):
                if armed == method:
                    fraction = frac
                    del self._armed[i]
                    break
            if fraction is None and self.cut_rate and self.rng.random() < self.cut_rate:
                fraction = self.rng.uniform(0.2, 0.9)
        if fraction is not None:
            conn.cut_at = conn.up_count + max(1, int(size * fraction))

    def _read(self, conn: _Conn, direction: str, src: socket.socket, cond: threading.Condition) -> None:
        queue = conn.queues[direction]
        pipe = self.pipes[direction]
        try:
            while True:
                data = src.recv(_PIECE)
                if not data:
                    break
                if direction == "up" and data.startswith(_METHODS):
                    self._on_request_start(conn, data)
                cut = False
                if direction == "up" and conn.cut_at is not None and conn.up_count + len(data) >= conn.cut_at:
                    data = data[: conn.cut_at - conn.up_count]
                    cut = True
                if direction == "up":
                    conn.up_count += len(data)
                with cond:
                    if data:
                        queue.append((pipe.reserve(len(data), time.monotonic()) + self.latency, data))
                    if cut:
                        queue.append((pipe.busy_until + self.latency, _CUT))
                    cond.notify()
                if cut:
                    return
        except OSError:
            pass
        with cond:
            queue.append((time.monotonic() + self.latency, None))
            cond.notify()

    def _write(self, conn: _Conn, direction: str, dst: socket.socket, cond: threading.Condition) -> None:
        queue = conn.queues[direction]
        try:
            while True:
                with cond:
                    while not queue:
                        cond.wait()
                    due, item = queue.popleft()
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if item is _CUT:
                    with self._lock:
                        self.cuts += 1
                    self._cut(conn)
                    return
                if item is None:
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                    with self._lock:
                        conn.ended += 1
                        both = conn.ended == 2
                    if both:
                        self._close(conn, reset=False)
                    return
                assert isinstance(item, bytes)
                dst.sendall(item)
                with self._lock:
                    if direction == "up":
                        self.up_bytes += len(item)
                        self.up_by_method[conn.method] += len(item)
                    else:
                        self.down_bytes += len(item)
        except OSError:
            self._close(conn, reset=True)

    def _cut(self, conn: _Conn) -> None:
        """The link breaks: the device sees a reset; the server reads what reached it, then the end of the
        connection (a reset would make its kernel drop bytes it had received but not yet read)."""
        conn.cut = True
        with contextlib.suppress(OSError):
            conn.upstream.shutdown(socket.SHUT_WR)
        _reset(conn.client)
        timer = threading.Timer(2.0, lambda: conn.upstream.close())
        timer.daemon = True
        timer.start()

    def _close(self, conn: _Conn, *, reset: bool) -> None:
        if conn.cut:
            return
        if conn.closed:
            return
        conn.closed = True
        for s in (conn.client, conn.upstream):
            if reset:
                _reset(s)
            else:
                with contextlib.suppress(OSError):
                    s.close()
