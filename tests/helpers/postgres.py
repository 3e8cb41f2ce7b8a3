"""A private PostgreSQL for a test session or a benchmark: `initdb` in a temporary directory, listening on a
free loopback port and a socket directory of its own, stopped by its PID.

As root, the server runs as the `postgres` system user (PostgreSQL refuses to run as root); the temporary
directory is handed to that user. `find_bin_dir()` is None when Debian's `postgresql` package is absent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

__all__ = ["PgCluster", "find_bin_dir"]


def find_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's binaries (Debian puts them under /usr/lib/postgresql/N/bin)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name),
        reverse=True,
    )
    if found:
        return found[0].parent
    on_path = shutil.which("postgres")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One PostgreSQL server; `new_database()` answers the URL of a fresh, empty database on it."""

    def __init__(self, bin_dir: Path, *, settings: dict[str, str] | None = None) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="fv-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "run"
        self.port = _free_port()
        self.settings = settings or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self._as_other = os.geteuid() == 0
        self.user = "postgres" if self._as_other else (os.environ.get("USER") or "fieldvisit")
        self._admin: Any = None
        self._admin_lock = threading.Lock()
        self._template: str | None = None
        self._template_lock = threading.Lock()

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if self._as_other else list(args)

    def start(self, timeout: float = 60.0) -> None:
        self.sockets.mkdir()
        if self._as_other:
            shutil.chown(self.root, user="postgres")
            shutil.chown(self.sockets, user="postgres")
        subprocess.run(
            self._cmd(
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.sockets),
            "fsync": "on",
            "synchronous_commit": "on",
            "max_connections": "200",
            "shared_buffers": "128MB",
        } | self.settings
        args = [str(self.bin / "postgres"), "-D", str(self.data)]
        for key, value in options.items():
            args += ["-c", f"{key}={value}"]
        log = open(self.root / "postgres.log", "ab")
        self.proc = subprocess.Popen(self._cmd(*args), stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {(self.root / 'postgres.log').read_text()[-2000:]}")
            try:
                self.admin("SELECT 1")
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("postgres did not start")

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def admin(self, sql: str) -> None:
        """One statement on the `postgres` database, on a connection kept open for the cluster's life
        (opening one costs more than creating a database); opened again if the server ended it."""
        import psycopg

        with self._admin_lock:
            for again in (False, True):
                if self._admin is None or self._admin.closed:
                    self._admin = psycopg.connect(self.url, autocommit=True, connect_timeout=2)
                try:
                    self._admin.execute(sql)
                    return
                except psycopg.OperationalError:
                    if again or not self._admin.closed:
                        raise
                    self._admin = None

    def new_database(self, *, unix_socket: bool = False, migrated: bool = False) -> str:
        """A fresh database's URL: over TCP, or over the server's Unix socket (a server on the same host).
        `migrated`: already holding the server's schema as a server's first start leaves it (a copy of a
        database migrated once per cluster, given a server epoch of its own), so a server starts on it
        without building the schema again."""
        name = f"fv_{uuid.uuid4().hex[:12]}"
        template = f" TEMPLATE {self._migrated_template()}" if migrated else ""
        self.admin(f"CREATE DATABASE {name}{template}")
        url = (
            f"postgresql://{self.user}@/{name}?host={self.sockets}&port={self.port}"
            if unix_socket
            else f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"
        )
        if migrated:
            import psycopg

            with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
                conn.execute("UPDATE meta SET value = %s WHERE key = 'server_epoch'", [str(uuid.uuid4())])
        return url

    def _migrated_template(self) -> str:
        """The database the server's migrations built, made on first use; nothing stays connected to it,
        as CREATE DATABASE … TEMPLATE requires."""
        with self._template_lock:
            if self._template is None:
                from sync.server.db import connect
                from sync.server.migrations import migrate

                name = f"fv_template_{uuid.uuid4().hex[:8]}"
                self.admin(f"CREATE DATABASE {name}")
                db = connect(f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}")
                try:
                    migrate(db)
                finally:
                    db.conn.close()
                self._template = name
            return self._template

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1].split("?", 1)[0]
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def postmaster_pid(self) -> int:
        """The server's own PID (its backends are its children)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        """Fast shutdown by PID (SIGINT), then the temporary directory goes."""
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None
        if self.proc is not None and self.proc.poll() is None:
            # The postmaster's own PID (runuser, when it started it, does not pass signals on).
            pid = self.postmaster_pid() if (self.data / "postmaster.pid").exists() else self.proc.pid
            os.kill(pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)
