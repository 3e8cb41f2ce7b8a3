"""A loopback TCP proxy that breaks a share of its connections: reset at once, after the request reached
the server (its answer is lost), or halfway through the answer."""

from __future__ import annotations

import contextlib
import random
import select
import socket
import struct
import threading
from collections import Counter

MODES = ("reset_now", "lose_answer", "cut_answer")


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        # Linger 0 turns close() into an RST, like a dropped mobile link.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class FlakyProxy:
    def __init__(self, target_port: int, *, drop_rate: float = 0.1, seed: int = 1) -> None:
        self.target = ("127.0.0.1", target_port)
        self.drop_rate = drop_rate
        self.rng = random.Random(seed)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                mode = self.rng.choice(MODES) if self.rng.random() < self.drop_rate else "ok"
                self.counts[mode] += 1
            threading.Thread(target=self._serve, args=(client, mode), daemon=True).start()

    def _serve(self, client: socket.socket, mode: str) -> None:
        if mode == "reset_now":
            _reset(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=30)
        except OSError:
            _reset(client)
            return
        answered = 0
        try:
            while True:
                ready, _, _ = select.select([client, upstream], [], [], 30)
                if not ready:
                    break
                if client in ready:
                    data = client.recv(65536)
                    if not data:
                        break
                    upstream.sendall(data)
                if upstream in ready:
                    data = upstream.recv(65536)
                    if not data:
                        break
                    if mode == "lose_answer":
                        break  # the server has handled the request; its answer never arrives
                    if mode == "cut_answer":
                        client.sendall(data[: max(1, len(data) // 2)])
                        break
                    client.sendall(data)
                    answered += len(data)
        except OSError:
            pass
        finally:
            _reset(client)
            with contextlib.suppress(OSError):
                upstream.close()
