"""The link emulator models one link: connections share its bandwidth, and a new one waits a round trip."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.sync.link import LinkEmulator

PAYLOAD = 100_000


class _Sink:
    """A TCP server that reads everything and notes when each connection's last byte arrived."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.arrived: list[tuple[float, int]] = []  # (time of the last byte, bytes)
        self.first_byte: list[float] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        n, last = 0, 0.0
        with conn:
            while data := conn.recv(65536):
                last = time.monotonic()
                if n == 0:
                    with self._lock:
                        self.first_byte.append(last)
                n += len(data)
        with self._lock:
            self.arrived.append((last, n))


@pytest.fixture
def sink() -> Iterator[_Sink]:
    s = _Sink()
    yield s
    s.listener.close()


def _send(port: int, payload: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        c.recv(1)  # the far end closes once it has read everything


def _wait_for(sink: _Sink, count: int) -> None:
    deadline = time.monotonic() + 20
    while len(sink.arrived) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_two_connections_share_the_bandwidth_when_they_send_at_once(sink: _Sink) -> None:
    # 8 Mbit/s: 100 kB take 0.1 s alone, two of them 0.2 s whatever the number of connections.
    with LinkEmulator(sink.port, latency_s=0.010, up_bps=8_000_000, down_bps=8_000_000) as link:
        started = time.monotonic()
        senders = [threading.Thread(target=_send, args=(link.port, b"x" * PAYLOAD)) for _ in range(2)]
        for t in senders:
            t.start()
        _wait_for(sink, 2)
        for t in senders:
            t.join(10)
        counts = link.snapshot()

    assert [n for _, n in sink.arrived] == [PAYLOAD, PAYLOAD]
    last = max(t for t, _ in sink.arrived) - started
    assert last >= 2 * PAYLOAD * 8 / 8_000_000, last
    assert counts.up == 2 * PAYLOAD and counts.connections == 2
    assert link.seconds_needed(counts.up, counts.down) == pytest.approx(2 * PAYLOAD * 8 / 8_000_000)


def test_first_byte_arrives_after_a_round_trip_and_the_one_way_delay_when_a_connection_opens(
    sink: _Sink,
) -> None:
    with LinkEmulator(sink.port, latency_s=0.100, up_bps=8_000_000, down_bps=8_000_000) as link:
        started = time.monotonic()
        _send(link.port, b"x")
        _wait_for(sink, 1)

    assert sink.first_byte[0] - started >= 0.3
