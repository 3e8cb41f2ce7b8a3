"""`fieldvisit demo`: the central server on a demo database with demo data and users, plus the app.

Everything goes through the documented commands and the wire protocol (users import, import, dispatch
suggest + assign), so the demo exercises the same paths a real installation does.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger("fieldvisit.demo")

DEFAULT_SERVER_PORT = 8765
DEFAULT_APP_PORT = 8550
DEMO_PASSWORD = "demo1234"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEFAULT_SERVER_PORT, help="central server port")
    p.add_argument("--app-port", type=int, default=DEFAULT_APP_PORT, help="app (web) port")
    p.add_argument("--db", default=None, help="demo database (default var/demo/fieldvisit.db)")
    p.add_argument(
        "--database-url",
        default=None,
        help="sqlite:///PATH, or postgresql://… for the demo on PostgreSQL (seeded when it holds no users; "
        "photos under var/demo/blobs unless FIELDVISIT_BLOB_URL says otherwise); wins over --db",
    )
    p.add_argument("--visits", type=int, default=120, help="demo visits per team")
    p.add_argument("--fresh", action="store_true", help="recreate the demo database")
    p.add_argument("--no-app", action="store_true", help="run the central server only")


def _fieldvisit() -> list[str]:
    exe = Path(sys.executable).with_name("fieldvisit")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "cli.main"]


def _port_taken(host: str, port: int) -> bool:
    """Whether something already listens on host:port (another server would answer the demo's calls)."""
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0


def _wait_healthy(url: str, server: subprocess.Popen[bytes] | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise SystemExit(f"fieldvisit demo: the central server stopped (exit {server.returncode})")
        try:
            if httpx.get(f"{url}/v1/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the central server did not start at {url}")


def _wait_http(url: str, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return True
        except httpx.HTTPError:
            time.sleep(0.3)
    return False


def seed(db: Path, visits_per_team: int, where: list[str] | None = None) -> list[dict[str, Any]]:
    """Create the demo users and import the demo cases (into `where`, the database options of the commands,
    by default `--db db`); returns the users. `db` names the folder the import file is written to."""
    from models.demo_data import demo_users, generate_import_records

    users = demo_users()
    where = where or ["--db", str(db)]
    env = dict(os.environ, FIELDVISIT_DB=str(db))
    # All in one `users import`, the accounts (passwords too) on its standard input, never in a file. The
    # demo users have the fields of an account; each must be added, as each `users add` had to succeed.
    accounts = [{"password": DEMO_PASSWORD, **u} for u in users]
    done = subprocess.run(
        [*_fieldvisit(), "users", "import", "-", *where],
        input=json.dumps({"users": accounts}, ensure_ascii=False).encode("utf-8"),
        check=True,
        env=env,
        stdout=subprocess.PIPE,
    )
    summary = done.stdout.decode("utf-8", "replace")
    if not summary.startswith("created ") or ", errors 0" not in summary.splitlines()[0]:
        raise SystemExit(f"fieldvisit demo: the demo users were not all added:\n{summary}")
    records: list[dict[str, Any]] = []
    teams: dict[str, set[str]] = {}
    for u in users:
        if u["role"] == "investigator":
            teams.setdefault(u["team"], set()).update(u.get("districts") or [])
    start = 1
    for team, districts in sorted(teams.items()):
        records += generate_import_records(
            visits_per_team, seed=2026, team=team, districts=sorted(districts), start=start
        )
        start += visits_per_team
    file = db.with_name("demo-import.json")
    file.write_text(json.dumps({"records": records}, ensure_ascii=False), encoding="utf-8")
    subprocess.run(
        [*_fieldvisit(), "import", str(file), *where], check=True, env=env, stdout=subprocess.DEVNULL
    )
    return users


def dispatch(server: str, users: list[dict[str, Any]]) -> int:
    """Each team's supervisor applies the server's dispatch suggestion for today and tomorrow."""
    assigned = 0
    for sup in (u for u in users if u["role"] == "supervisor"):
        with httpx.Client(base_url=server, timeout=30) as c:
            r = c.post(
                "/v1/auth/login",
                json={
                    "username": sup["username"],
                    "password": sup.get("password", DEMO_PASSWORD),
                    "device_name": "demo-dispatch",
                },
            )
            r.raise_for_status()
            c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            for day in (date.today(), date.today() + timedelta(days=1)):
                s = c.post("/v1/dispatch/suggest", json={"date": day.isoformat(), "team": sup["team"]})
                s.raise_for_status()
                for a in s.json().get("assignments", []):
                    ok = c.post(
                        f"/v1/visits/{a['visit_id']}/assign",
                        json={"investigator_ids": a["investigator_ids"], "planned_date": day.isoformat()},
                    )
                    assigned += ok.status_code == 200
    return assigned


def _demo_report(visit_id: str, collectors: list[str], index: int, day: date) -> dict[str, Any]:
    """A plausible synced report: a plan proposal, a promise to pay, or a family member met (R-12)."""
    import copy
    import uuid

    from models.report import EXAMPLE_REPORT

    rep: dict[str, Any] = copy.deepcopy(EXAMPLE_REPORT)
    rep["report_id"] = str(uuid.uuid4())
    rep["visit_id"] = visit_id
    rep["collector_ids"] = collectors
    rep["compliance"]["collector_ids"] = collectors
    hour = 9 + index % 9
    rep["checkin"]["at"] = f"{day.isoformat()}T{hour:02d}:05:00+08:00"
    rep["checkout"]["at"] = f"{day.isoformat()}T{hour:02d}:55:00+08:00"
    rep["plan"]["first_due_date"] = (day + timedelta(days=30)).isoformat()
    kind = index % 3
    if kind == 1:
        rep.pop("plan")
        rep["interview"] = {
            "results": ["PTP"],
            "reasons": ["UNEMPLOYMENT"],
            "primary_reason": "UNEMPLOYMENT",
            "willingness": "hesitant",
            "hardship": True,
            "promise": {"amount": "1500.00", "date": (day + timedelta(days=10)).isoformat()},
        }
        rep["notes"] = "借款人失业，承诺下月初先还一部分"
    elif kind == 2:
        for key in ("plan", "assessment", "interview"):
            rep.pop(key)
        rep["outcome"] = "MET_FAMILY"
        rep["third_party"] = {
            "relation": "family",
            "contact_details": "借款人新号码已记录",
            "message_passed": True,
        }
        rep["compliance"]["no_disclosure_attested"] = True
        rep["notes"] = "家属在家，已请其转告借款人回电"
    return rep


def submit_demo_reports(server: str, users: list[dict[str, Any]], per_team: int = 6) -> int:
    """Lead investigators sync a few reports so the supervisor desk has something to review."""
    from models.canonical import content_sha256

    sent = 0
    for sup in (u for u in users if u["role"] == "supervisor"):
        with httpx.Client(base_url=server, timeout=30) as c:
            token = c.post(
                "/v1/auth/login",
                json={"username": sup["username"], "password": DEMO_PASSWORD, "device_name": "demo"},
            ).json()["access_token"]
            visits = c.get(
                "/v1/visits?status=assigned&limit=1000", headers={"Authorization": f"Bearer {token}"}
            ).json()["items"][:per_team]
            all_users = c.get("/v1/users", headers={"Authorization": f"Bearer {token}"}).json()
        by_id = {
            u["id"]: u
            for u in (all_users.get("items", all_users) if isinstance(all_users, dict) else all_users)
        }
        for i, v in enumerate(visits):
            lead = by_id.get(v["investigator_ids"][0])
            if not lead:
                continue
            with httpx.Client(base_url=server, timeout=30) as c:
                login = c.post(
                    "/v1/auth/login",
                    json={
                        "username": lead["username"],
                        "password": DEMO_PASSWORD,
                        "device_name": "demo-phone",
                    },
                ).json()
                rep = _demo_report(v["visit_id"], v["investigator_ids"], i, date.today())
                m = {
                    "mutation_id": 1,
                    "kind": "submit_report",
                    "report_id": rep["report_id"],
                    "version_id": rep["report_id"],
                    "base_version": 0,
                    "content_sha256": content_sha256(rep),
                    "blobs": [],
                    "report": rep,
                }
                r = c.post(
                    "/v1/sync/push",
                    headers={"Authorization": f"Bearer {login['access_token']}"},
                    json={
                        "device_id": login["device_id"],
                        "server_epoch": login["server_epoch"],
                        "mutations": [m],
                    },
                )
                sent += r.status_code == 200 and r.json()["results"][0]["status"] == "applied"
    return sent


def _has_users(url: str) -> bool:
    """Whether the PostgreSQL database already holds users (a demo seeded before)."""
    from sync.server.db import connect

    db = connect(url)
    try:
        return bool(db.execute("SELECT to_regclass('users') IS NOT NULL").fetchone()[0]) and bool(
            db.execute("SELECT EXISTS (SELECT 1 FROM users)").fetchone()[0]
        )
    finally:
        db.conn.close()


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    host = getattr(args, "host", "127.0.0.1")
    port = getattr(args, "port", DEFAULT_SERVER_PORT) or DEFAULT_SERVER_PORT
    app_port = getattr(args, "app_port", DEFAULT_APP_PORT) or DEFAULT_APP_PORT
    visits = getattr(args, "visits", 120) or 120
    for taken in (port, *(() if getattr(args, "no_app", False) else (app_port,))):
        if _port_taken(host, taken):
            print(
                f"fieldvisit demo: port {taken} on {host} is in use; stop what runs there or choose another",
                file=sys.stderr,
            )
            return 2
    from cli.main import database_location
    from sync.server.pg import is_postgres_url

    given = getattr(args, "database_url", None)
    location = database_location(given) if given else getattr(args, "db", None)
    url = location if location and is_postgres_url(location) else None
    if url is not None and getattr(args, "fresh", False):
        print(
            "fieldvisit demo: --fresh is for the SQLite demo file; on PostgreSQL drop and re-create the "
            "database to start over (an empty one is seeded)",
            file=sys.stderr,
        )
        return 2
    if url is None:
        db = Path(location or Path("var") / "demo" / "fieldvisit.db").resolve()
        where = ["--db", str(db)]
        env = dict(os.environ, FIELDVISIT_DB=str(db))
        fresh = bool(getattr(args, "fresh", False)) or not db.exists()
        if fresh:
            db.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
    else:
        db = (Path("var") / "demo" / "fieldvisit.db").resolve()  # the folder for the import file and devices
        db.parent.mkdir(parents=True, exist_ok=True)
        where = ["--database-url", url]
        env = dict(os.environ, FIELDVISIT_DATABASE_URL=url)
        env.setdefault("FIELDVISIT_BLOB_URL", (db.parent / "blobs").as_uri())
        os.environ["FIELDVISIT_BLOB_URL"] = env["FIELDVISIT_BLOB_URL"]  # the seeding commands need it too
        fresh = not _has_users(url)
    if fresh:
        try:
            users = seed(db, visits, where)
        except subprocess.CalledProcessError as exc:
            step = exc.cmd[len(_fieldvisit())]
            print(
                f"fieldvisit demo: seeding the demo database failed ({step} exited {exc.returncode})",
                file=sys.stderr,
            )
            return 2
    else:
        from models.demo_data import demo_users

        users = demo_users()
    server_url = f"http://{host}:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    # A terminate (service manager, closed terminal) stops the server and the app like Ctrl+C does,
    # instead of leaving them running on their ports.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    procs.append(
        subprocess.Popen([*_fieldvisit(), "serve", "--host", host, "--port", str(port), *where], env=env)
    )
    try:
        _wait_healthy(server_url, procs[0])
        if fresh:
            n = dispatch(server_url, users)
            log.info("dispatched %d demo visits", n)
            log.info("synced %d demo reports", submit_demo_reports(server_url, users))
        app_url = None
        if not getattr(args, "no_app", False):
            data_dir = db.parent / "devices"
            data_dir.mkdir(exist_ok=True)
            app_env = dict(os.environ, FLET_APP_STORAGE_DATA=str(data_dir))
            procs.append(
                subprocess.Popen(
                    [*_fieldvisit(), "app", "--server", server_url, "--port", str(app_port), "--host", host],
                    env=app_env,
                )
            )
            app_url = f"http://{host}:{app_port}/"
            _wait_http(app_url)
        _banner(server_url, app_url, users)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        return next((p.returncode or 0 for p in procs if p.poll() is not None), 0)
    except KeyboardInterrupt:
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def _banner(server_url: str, app_url: str | None, users: list[dict[str, Any]]) -> None:
    lines = [
        "",
        "FieldVisit demo is running",
        f"  central server : {server_url}  (API docs {server_url}/docs)",
    ]
    if app_url:
        lines.append(f"  app            : {app_url}  (investigators)")
    lines.append(f"  supervisor desk: {server_url}/desk/")
    lines.append(f"  sign-ins (password {DEMO_PASSWORD}):")
    for u in users:
        lines.append(f"    {u['role']:<12} {u['username']:<10} team {u['team']}")
    lines.append("  Ctrl+C stops both.")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
