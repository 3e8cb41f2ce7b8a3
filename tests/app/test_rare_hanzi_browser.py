"""Rare hanzi in the browser, offline: characters of names and places outside GB2312 (喆, 堃, 犇) are drawn
from the shipped rare characters' font, which the page fetches only when a text needs one, not as empty boxes.

`fieldvisit app` as a subprocess on a fresh device (its sign-in page; no central server is needed to type a
name), headless Debian chromium with every non-loopback request aborted."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.app.journey_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    FIELDVISIT,
    free_port,
    keep_to_loopback,
    wait_http,
)

pytestmark = pytest.mark.browser

if not os.path.exists(CHROMIUM):
    pytest.skip("no /usr/bin/chromium", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")

RARE = "NotoSansSC-FieldVisit-Rare.woff2"
NAME = "王喆张堃犇"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    data = tmp_path_factory.mktemp("device")
    port = free_port()
    env = dict(os.environ, FLET_APP_STORAGE_DATA=str(data))
    # The sign-in page only: the server address is never reached.
    proc = subprocess.Popen([str(FIELDVISIT), "app", "--server", "http://127.0.0.1:9", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=data)  # fmt: skip
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


def _name_field(browser, url: str, *, rare_font: bool) -> tuple[list[bytes], list[str], list[str]]:
    """Type NAME into the sign-in page's username field (a user in China), leave the field and picture it
    twice, 1.5 s apart; without `rare_font` the page cannot fetch the rare characters' font (as before it
    shipped). Answers the pictures, the rare font's fetches and what was asked of other hosts."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = ctx.new_page()
    outside: list[str] = []
    keep_to_loopback(page, outside)
    fetched: list[str] = []
    page.on("requestfinished", lambda r: fetched.append(r.url) if RARE in r.url else None)
    if not rare_font:
        page.route(f"**/{RARE}", lambda r: r.abort())
    try:
        page.goto(url)
        page.wait_for_selector("#loading", state="detached", timeout=60_000)
        page.eval_on_selector("flt-semantics-placeholder", "el => el.click()")
        field = page.get_by_role("textbox", name="用户名")
        field.wait_for(timeout=30_000)
        assert fetched == [], "the rare characters' font is fetched only for a text that needs it"
        field.click()
        page.keyboard.type(NAME)
        page.keyboard.press("Tab")  # the cursor leaves the field (no caret in the pictures)
        if rare_font:
            deadline = time.monotonic() + 30
            while not fetched and time.monotonic() < deadline:
                page.wait_for_timeout(200)
        time.sleep(2.5)  # the canvas paints again once the font is registered
        box = field.bounding_box()
        assert box is not None
        shots = [page.screenshot(clip=box)]
        time.sleep(1.5)
        shots.append(page.screenshot(clip=box))
        return shots, fetched, outside
    finally:
        ctx.close()


def test_rare_name_hanzi_are_drawn_from_the_shipped_font_and_not_as_empty_boxes_when_typed(browser, app_url):
    boxes, _, _ = _name_field(browser, app_url, rare_font=False)
    drawn, fetched, outside = _name_field(browser, app_url, rare_font=True)
    # Each page paints the field the same way twice, so a difference between the pages is the glyphs.
    assert boxes[0] == boxes[1] and drawn[0] == drawn[1]
    assert fetched, "the page fetched the rare characters' font"
    assert drawn[0] != boxes[0]
    assert outside == []
