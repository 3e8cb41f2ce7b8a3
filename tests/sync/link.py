"""A userspace link emulator: a loopback TCP proxy with a one-way delay, a bandwidth cap shared by every
connection in each direction (two connections each get half of it, never twice the link), a round trip
before a new connection carries anything (the TCP handshake), and connections cut part-way (armed for the
next request of a kind, or at random with a seeded rate). It counts the bytes it carries, per direction, per
request method and per request (method and path, a SHA-256 in the path written `{sha256}` in `by_request`,
kept whole in `body_by_target`).

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

__all__ = ["LinkCounts", "LinkEmulator"]

_METHODS = (b"GET ", b"POST ", b"PUT ", b"PATCH ", b"HEAD ", b"OPTIONS ", b"DELETE ")
_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.I)
_PIECE = 16 * 1024
_CUT = object()
_SHA = re.compile(r"[0-9a-f]{64}")


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


@dataclass(frozen=True)
class LinkCounts:
    """What the link carried (see LinkEmulator's counters); `later - earlier` is what it carried between."""

    up: int = 0
    down: int = 0
    cuts: int = 0
    connections: int = 0
    requests: Counter[str] = field(default_factory=Counter)
    by_request: Counter[str] = field(default_factory=Counter)
    body_by_target: Counter[str] = field(default_factory=Counter)

    def blob_bytes_sent_again(self, sizes: dict[str, int]) -> int:
        """Body bytes of PUT and PATCH /v1/blobs/<hash> that reached the server beyond each blob's size: what
        went over the link a second time (after a cut, say)."""
        return sum(
            max(0, sum(self.body_by_target[f"{m} /v1/blobs/{sha}"] for m in ("PUT", "PATCH")) - size)
            for sha, size in sizes.items()
        )

    def __sub__(self, other: LinkCounts) -> LinkCounts:
        return LinkCounts(
            up=self.up - other.up,
            down=self.down - other.down,
            cuts=self.cuts - other.cuts,
            connections=self.connections - other.connections,
            requests=self.requests - other.requests,
            by_request=self.by_request - other.by_request,
            body_by_target=self.body_by_target - other.body_by_target,
        )


@dataclass
class _Conn:
    client: socket.socket
    upstream: socket.socket
    ready_at: float = 0.0
    up_count: int = 0
    cut_at: int | None = None
    method: str = ""
    target: str = ""
    head_left: int = 0
    closed: bool = False
    cut: bool = False
    ended: int = 0
    queues: dict[str, deque[tuple[float, object, int]]] = field(default_factory=dict)


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
        self.time_scale = time_scale
        self.nominal_bps = {"up": up_bps, "down": down_bps}
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
        # Per request, both ways, headers included: "POST /v1/sync/push" → bytes; and the body bytes that
        # reached the server per "PATCH /v1/blobs/<hash>" (a cut request's part included).
        self.by_request: Counter[str] = Counter()
        self.body_by_target: Counter[str] = Counter()
        self.connections = 0
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
        # A shutdown wakes the accept() waiting in the other thread; a close alone leaves it waiting.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
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

    def seconds_needed(self, up: int, down: int) -> float:
        """The time `up` and `down` bytes need on the emulated link (its nominal rates, not scaled): the two
        directions carry at once, so the busier one sets it."""
        return max(up * 8 / self.nominal_bps["up"], down * 8 / self.nominal_bps["down"])

    def snapshot(self) -> LinkCounts:
        """Every counter, copied: subtract two snapshots to count what happened in between."""
        with self._lock:
            return LinkCounts(
                up=self.up_bytes,
                down=self.down_bytes,
                cuts=self.cuts,
                connections=self.connections,
                requests=Counter(self.requests),
                by_request=Counter(self.by_request),
                body_by_target=Counter(self.body_by_target),
            )

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
            # SYN there, SYN-ACK back: the device's first byte leaves one round trip after it connected.
            conn = _Conn(client, upstream, ready_at=time.monotonic() + 2 * self.latency)
            with self._lock:
                self.connections += 1
            for direction, src, dst in (("up", client, upstream), ("down", upstream, client)):
                conn.queues[direction] = deque()
                cond = threading.Condition()
                threading.Thread(target=self._read, args=(conn, direction, src, cond), daemon=True).start()
                threading.Thread(target=self._write, args=(conn, direction, dst, cond), daemon=True).start()

    def _on_request_start(self, conn: _Conn, data: bytes) -> None:
        verb, _, rest = data.partition(b" ")
        method = conn.method = verb.decode("ascii", "replace")
        conn.target = f"{method} {rest.split(b' ', 1)[0].split(b'?', 1)[0].decode('ascii', 'replace')}"
        head_end = data.find(b"\r\n\r\n")
        conn.head_left = head_end + 4 if head_end >= 0 else len(data)
        m = _LENGTH.search(data[: head_end if head_end >= 0 else len(data)])
        size = conn.head_left + (int(m.group(1)) if m else 0)
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
                body = 0
                if direction == "up":
                    conn.up_count += len(data)
                    head = min(conn.head_left, len(data))
                    conn.head_left -= head
                    body = len(data) - head
                with cond:
                    if data:
                        now = max(time.monotonic(), conn.ready_at)
                        queue.append((pipe.reserve(len(data), now) + self.latency, data, body))
                    if cut:
                        queue.append((pipe.busy_until + self.latency, _CUT, 0))
                    cond.notify()
                if cut:
                    return
        except OSError:
            pass
        with cond:
            queue.append((time.monotonic() + self.latency, None, 0))
            cond.notify()

    def _write(self, conn: _Conn, direction: str, dst: socket.socket, cond: threading.Condition) -> None:
        queue = conn.queues[direction]
        try:
            while True:
                with cond:
                    while not queue:
                        cond.wait()
                    due, item, body = queue.popleft()
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
                    # Sequential requests on a connection: the answer being carried is the last request's.
                    self.by_request[_SHA.sub("{sha256}", conn.target)] += len(item)
                    if direction == "up":
                        self.up_bytes += len(item)
                        self.up_by_method[conn.method] += len(item)
                        self.body_by_target[conn.target] += body
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
