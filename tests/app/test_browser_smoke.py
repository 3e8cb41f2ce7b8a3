"""Browser smoke test: the real central server and `fieldvisit app` as subprocesses, headless Debian chromium
with every non-loopback request aborted. Sign in, queue by priority with masked phones, open a case; saves
screenshots of the main screens at phone and desktop sizes to tests/artifacts/screenshots/."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from datetime import date
from pathlib import Path

import flet_web
import httpx
import pytest

from tests.app.journey_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    FIELDVISIT,
    cli,
    free_port,
    keep_to_loopback,
    wait_http,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tests" / "artifacts" / "screenshots"
PASSWORD = "smoke-pass-1"

if not os.path.exists(CHROMIUM):
    pytest.skip("no /usr/bin/chromium", allow_module_level=True)
if not FIELDVISIT.exists() or subprocess.run([str(FIELDVISIT), "--help"], capture_output=True).returncode:
    pytest.skip("the fieldvisit CLI (serve, users add, import) is not installed yet", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def central(tmp_path_factory):
    """The central server on a fresh database: a supervisor, two investigators, 40 assigned demo visits."""
    from models.demo_data import generate_import_records

    tmp = tmp_path_factory.mktemp("central")
    db = str(tmp / "server.db")
    ids = {}
    for user, role in (("sup.a", "supervisor"), ("inv.a1", "investigator"), ("inv.a2", "investigator")):
        out = cli("users", "add", user, "--password", PASSWORD, "--role", role, "--team", "hz-a",
                   "--name", {"sup.a": "沈丽萍", "inv.a1": "陈志刚", "inv.a2": "王婷"}[user], "--db", db)  # fmt: skip
        ids[user] = out.strip().rsplit(":", 1)[-1].strip()
    records = generate_import_records(40, seed=2026, team="hz-a")
    (tmp / "import.json").write_text(json.dumps({"records": records}, ensure_ascii=False), encoding="utf-8")
    cli("import", str(tmp / "import.json"), "--db", db)
    port = free_port()
    proc = subprocess.Popen([str(FIELDVISIT), "serve", "--port", str(port), "--db", db],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/v1/health")
        with httpx.Client(base_url=url, timeout=30) as c:
            r = c.post(
                "/v1/auth/login", json={"username": "sup.a", "password": PASSWORD, "device_name": "desk"}
            )
            c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            visits = c.get("/v1/visits", params={"limit": 1000}).json()["items"]
            for v in visits:
                c.post(f"/v1/visits/{v['visit_id']}/assign",
                       json={"investigator_ids": [ids["inv.a1"], ids["inv.a2"]],
                             "planned_date": date.today().isoformat()}).raise_for_status()  # fmt: skip
        yield {"url": url, "visits": visits}
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def app_url(central, tmp_path_factory):
    data = tmp_path_factory.mktemp("device")
    port = free_port()
    env = dict(os.environ, FLET_APP_STORAGE_DATA=str(data))
    proc = subprocess.Popen([str(FIELDVISIT), "app", "--server", central["url"], "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=data)  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser, url: str, width: int, height: int):
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    outside: list[str] = []
    keep_to_loopback(page, outside)
    with page.expect_response(lambda r: "NotoSansSC-FieldVisit" in r.url, timeout=60_000):
        page.goto(url)
        page.wait_for_selector("#loading", state="detached", timeout=60_000)
    page.eval_on_selector("flt-semantics-placeholder", "el => el.click()")
    page.wait_for_selector("flt-semantics", state="attached", timeout=30_000)
    return ctx, page, outside


def _id(page, ident: str):
    return page.locator(f'[flt-semantics-identifier="{ident}"]')


def _shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    time.sleep(1.2)  # the canvas paints after the semantics tree updates
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def _type(page, ident: str, text: str) -> None:
    _id(page, ident).locator("input, textarea").first.click() if _id(page, ident).locator(
        "input, textarea").count() else _id(page, ident).click()  # fmt: skip
    page.keyboard.type(text)


def test_phone_sign_in_queue_by_priority_masked_then_case_detail(browser, app_url, central):
    expect = playwright.expect
    ctx, page, outside = _open(browser, app_url, 390, 844)
    try:
        _shot(page, "phone-signin")
        # Type only once the field has the focus: keys pressed before it arrives are lost on a busy machine.
        focused = "() => ['INPUT', 'TEXTAREA'].includes(document.activeElement?.tagName)"
        page.get_by_role("textbox", name="用户名").click()
        page.wait_for_function(focused, timeout=10_000)
        page.keyboard.type("inv.a1")
        page.get_by_role("textbox", name="密码").click()
        page.wait_for_function(focused, timeout=10_000)
        page.keyboard.type(PASSWORD)
        _id(page, "signin-submit").click()
        cards = page.locator('[flt-semantics-identifier^="visit-card-"]')
        expect(cards.first).to_be_visible(timeout=60_000)
        # The highest priority first, equal priorities in account order (as the server lists them).
        top = min(central["visits"], key=lambda v: (-float(v["priority"]), v["external_id"]))
        assert cards.first.get_attribute("flt-semantics-identifier") == f"visit-card-{top['visit_id']}"
        phones = page.locator('[flt-semantics-identifier^="phone-"]')
        first_phone = phones.first.inner_text()
        assert re.fullmatch(r"1\d\d\*{4}\d{4}", first_phone.strip()), first_phone
        expect(_id(page, "queue-count")).to_contain_text("共 40 条")
        _shot(page, "phone-queue")

        cards.first.click()
        expect(_id(page, "detail-phone")).to_be_visible(timeout=15_000)
        assert "****" in _id(page, "detail-phone").inner_text()
        _shot(page, "phone-detail-masked")
        _id(page, "reveal-pii").click()
        expect(_id(page, "detail-phone")).to_have_text(re.compile(r"^1\d{10}$"), timeout=10_000)
        _shot(page, "phone-detail-revealed")
        page.go_back()
        expect(cards.first).to_be_visible(timeout=15_000)

        page.get_by_role("tab", name="同步").or_(page.get_by_text("同步", exact=True)).first.click()
        expect(_id(page, "sync-now")).to_be_visible(timeout=15_000)
        _shot(page, "phone-sync")
        page.get_by_role("tab", name="设置").or_(page.get_by_text("设置", exact=True)).first.click()
        expect(_id(page, "sign-out")).to_be_visible(timeout=15_000)
        _shot(page, "phone-settings")
        # Offline: the app needed nothing from outside loopback (no CDN fonts or renderer).
        assert not [u for u in outside if "font" in u or "canvaskit" in u], outside
    finally:
        ctx.close()


def test_desktop_layout_after_unlock(browser, app_url):
    expect = playwright.expect
    ctx, page, _ = _open(browser, app_url, 1280, 800)
    try:
        # The device remembers the sign-in from the phone test: a new session opens at the lock screen.
        expect(_id(page, "lock-unlock")).to_be_visible(timeout=30_000)
        page.get_by_role("textbox", name="密码").click()
        page.keyboard.type(PASSWORD)
        _id(page, "lock-unlock").click()
        cards = page.locator('[flt-semantics-identifier^="visit-card-"]')
        expect(cards.first).to_be_visible(timeout=30_000)
        _shot(page, "desktop-queue")
        cards.first.click()
        expect(_id(page, "detail-phone")).to_be_visible(timeout=15_000)
        _shot(page, "desktop-detail")
    finally:
        ctx.close()


def test_cjk_and_emoji_fallback_font_slices_are_answered_by_shipped_fonts_inside_the_page(browser, app_url):
    # Offline, the web client looks for Flutter's Noto fallback slices under assets/fonts/ of the app's server.
    assert 'fontFallbackBaseUrl="assets/fonts/"' in httpx.get(app_url).text
    client = (Path(flet_web.__file__).parent / "web" / "main.dart.js").read_text(encoding="utf-8")
    fonts = ROOT / "assets" / "fonts"
    rare = (fonts / "NotoSansSC-FieldVisit-Rare.woff2").read_bytes()
    expected: dict[str, bytes] = {}
    for family, number in (("notosanssc", r"\d+"), ("notosanshk", r"\d+"), ("notosanstc", r"\d+"),
                           ("notosansjp", r"\d+"), ("notosanssc", "118"), ("notocoloremoji", "9")):  # fmt: skip
        found = re.search(family + r"/v\d+/[\w-]+\.(" + number + r")\.woff2", client)
        assert found, f"the web client names no {family} slice {number}"
        n = int(found.group(1))
        if family == "notocoloremoji":
            body = (fonts / "emoji" / f"NotoColorEmoji-{n}.woff2").read_bytes()
        elif family == "notosanssc" and 111 <= n <= 118:  # the most frequent hanzi: the app's own font
            body = (fonts / "NotoSansSC-FieldVisit-Regular.otf").read_bytes()
        else:
            body = rare
        expected["assets/fonts/" + found.group(0)] = body
    # The server has no slices, so a request that reached it would fail (the page answers them itself).
    assert all(httpx.get(app_url + path).status_code == 404 for path in expected)
    ctx, page, outside = _open(browser, app_url, 390, 844)
    try:
        reached: list[str] = []
        page.on("request", lambda r: reached.append(r.url) if "/assets/fonts/noto" in r.url else None)
        for path, body in expected.items():
            got = page.evaluate(
                """async (path) => {
                    const r = await fetch(path);
                    const bytes = new Uint8Array(await r.arrayBuffer());
                    return [r.status, bytes.length, Array.from(bytes.slice(0, 4))];
                }""",
                path,
            )
            assert got == [200, len(body), list(body[:4])], path
        assert reached == [] and outside == []
    finally:
        ctx.close()
