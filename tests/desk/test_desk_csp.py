"""The supervisor desk and the docs page under their Content-Security-Policy, in a real browser.

A real `fieldvisit serve` with one team; a report with a photo is pushed over HTTP. Headless chromium walks
the desk (sign-in, inbox, the report with its photo, dispatch, dashboard bars, risk feedback) and the
browser must report no policy violation; the desk cannot be framed.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from models.demo_data import DEMO_PASSWORD, generate_import_records
from tests.app.journey_helpers import keep_to_loopback
from tests.server.conftest import example_report, mutation

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
FIELDVISIT = Path(sys.executable).with_name("fieldvisit")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
PHOTO = b"\x89PNG\r\n\x1a\n" + bytes.fromhex(
    "0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
)

if not os.path.exists(CHROMIUM):
    pytest.skip("no /usr/bin/chromium", allow_module_level=True)
if not FIELDVISIT.exists():
    pytest.skip("the fieldvisit CLI is not installed", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

# Every violation the page sees, reported by the browser itself.
_WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));
"""


def _cli(*args: str) -> str:
    return subprocess.run([str(FIELDVISIT), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("csp-central")
    db = str(tmp / "server.db")
    ids = {}
    for name, role in (("sup.a", "supervisor"), ("inv.a1", "investigator"), ("inv.a2", "investigator")):
        out = _cli(
            "users", "add", name, "--password", DEMO_PASSWORD, "--role", role, "--team", "hz-a", "--db", db
        )
        ids[name] = out.strip().rsplit(":", 1)[-1].strip()
    records = generate_import_records(3, seed=31, team="hz-a")
    records[0].update(
        product_type="consumer_instalment", outstanding_principal="20000.00", monthly_rate="0.015"
    )
    (tmp / "cases.json").write_text(json.dumps({"records": records}, ensure_ascii=False), encoding="utf-8")
    _cli("import", str(tmp / "cases.json"), "--db", db)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(FIELDVISIT), "serve", "--host", "127.0.0.1", "--port", str(port), "--db", db],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/v1/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=60) as http:

            def token(user: str) -> dict[str, str]:
                r = http.post(
                    "/v1/auth/login", json={"username": user, "password": DEMO_PASSWORD, "device_name": "t"}
                )
                return {
                    "Authorization": f"Bearer {r.json()['access_token']}",
                    "device": r.json()["device_id"],
                }

            sup = token("sup.a")
            visit = next(
                v
                for v in http.get("/v1/visits", headers=sup).json()["items"]
                if v["external_id"] == records[0]["external_id"]
            )
            http.post(
                f"/v1/visits/{visit['visit_id']}/assign",
                headers=sup,
                json={"investigator_ids": [ids["inv.a1"], ids["inv.a2"]], "planned_date": "2026-11-20"},
            ).raise_for_status()
            inv = token("inv.a1")
            sha = hashlib.sha256(PHOTO).hexdigest()
            rep = example_report(visit["visit_id"], collector_ids=[ids["inv.a1"], ids["inv.a2"]])
            rep["attachments"] = [
                {"sha256": sha, "kind": "visit_photo", "mime": "image/png", "size_bytes": len(PHOTO)}
            ]
            device = inv.pop("device")
            epoch = http.get("/v1/health").json()["server_epoch"]
            pushed = http.post(
                "/v1/sync/push",
                headers=inv,
                json={
                    "device_id": device,
                    "server_epoch": epoch,
                    "mutations": [mutation(1, rep, blobs=[sha])],
                },
            )
            assert pushed.status_code == 200, pushed.text
            http.put(f"/v1/blobs/{sha}", content=PHOTO, headers=inv).raise_for_status()
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _violations(page: Any) -> list[str]:
    return list(page.evaluate("window.__csp || []"))


def test_desk_works_without_policy_violations_when_served_with_its_csp(central: str, browser: Any) -> None:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    ctx.set_default_timeout(15_000)
    ctx.add_init_script(_WATCH)
    page = ctx.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.on("pageerror", lambda e: console.append("pageerror " + str(e)))
    outside: list[str] = []
    keep_to_loopback(page, outside, ("http://127.0.0.1", "blob:", "data:"))
    try:
        page.goto(central + "/desk/")
        page.locator("#login-form input[name=username]").fill("sup.a")
        page.locator("#login-form input[name=password]").fill(DEMO_PASSWORD)
        page.locator("#login-form button[type=submit]").click()
        expect(page.locator("#inbox-table tbody tr")).to_have_count(1, timeout=30_000)
        page.locator("#inbox-table tbody tr").first.click()
        expect(page.locator("img[src^='blob:']")).to_be_visible(timeout=30_000)
        assert page.locator("img[src^='blob:']").evaluate("(i) => i.naturalWidth") == 1
        for nav in ("dispatch", "dashboard", "feedback", "devices", "inbox"):
            page.locator(f'header nav a[data-nav="{nav}"]').click()
            page.wait_for_load_state("networkidle")
        page.locator('header nav a[data-nav="dashboard"]').click()
        bar = page.locator("div.bar").first
        expect(bar).to_be_attached(timeout=30_000)
        # The bars size themselves with style attributes, which the policy admits (style-src-attr).
        assert bar.evaluate("(b) => b.style.width") not in ("", None)

        assert _violations(page) == [], _violations(page)
        assert not [m for m in console if "Content Security Policy" in m], console
        assert outside == []
    finally:
        ctx.close()


def test_desk_cannot_be_framed_by_another_page(central: str, browser: Any) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    try:
        page.set_content(f'<iframe id="f" src="{central}/desk/"></iframe>')
        page.wait_for_timeout(1500)
        frame = page.frame_locator("#f")
        assert frame.locator("#main").count() == 0
        assert any("frame-ancestors" in m or "Refused to display" in m for m in console), console
    finally:
        ctx.close()


def test_docs_page_runs_its_inline_script_under_its_csp(central: str, browser: Any) -> None:
    ctx = browser.new_context()
    ctx.add_init_script(_WATCH)
    page = ctx.new_page()
    outside: list[str] = []
    keep_to_loopback(page, outside, ("http://127.0.0.1",))  # the Swagger UI bundle itself is on a CDN
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(central + "/docs")
        page.wait_for_timeout(500)
        # The inline script ran (it needs the CDN bundle, blocked here, so it stops at that name).
        assert any("SwaggerUIBundle" in e for e in errors), errors
        assert [v for v in _violations(page) if v.startswith("script-src")] == []
    finally:
        ctx.close()
