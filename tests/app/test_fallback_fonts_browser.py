"""Rare hanzi and emoji in the browser, offline: characters of names and places outside GB2312 (喆, 堃, 犇)
are drawn from the shipped rare characters' font, and emoji from the shipped Noto Color Emoji slices, which
the page fetches only when a text needs them, and not as empty boxes.

`fieldvisit app` as a subprocess on a fresh device (its sign-in page; no central server is needed to type a
name), headless Debian chromium with every non-loopback request aborted."""

from __future__ import annotations

import os
import time

import pytest

from tests.app.journey_helpers import CHROMIUM, AppServer, keep_to_loopback, launch

pytestmark = pytest.mark.browser

if not os.path.exists(CHROMIUM):
    pytest.skip("no /usr/bin/chromium", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")

RARE = "NotoSansSC-FieldVisit-Rare.woff2"
EMOJI = "fonts/emoji/NotoColorEmoji-"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    # The sign-in page only: the server address is never reached.
    app = AppServer(tmp_path_factory.mktemp("app"), "http://127.0.0.1:9")
    app.start()
    try:
        yield app.url
    finally:
        app.stop()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def _typed(
    browser, url: str, text: str, font: str, *, served: bool
) -> tuple[list[bytes], list[str], list[str]]:
    """Type `text` into the sign-in page's username field (a user in China), leave the field and picture it
    twice, 1.5 s apart; unless `served`, the page cannot fetch the fonts whose URL has `font` (as before they
    shipped). Answers the pictures, those fonts' fetches and what was asked of other hosts."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = ctx.new_page()
    outside: list[str] = []
    keep_to_loopback(page, outside)
    fetched: list[str] = []
    page.on("requestfinished", lambda r: fetched.append(r.url) if font in r.url else None)
    if not served:
        page.route(lambda u: font in u, lambda r: r.abort())
    try:
        page.goto(url)
        page.wait_for_selector("#loading", state="detached", timeout=60_000)
        page.eval_on_selector("flt-semantics-placeholder", "el => el.click()")
        field = page.get_by_role("textbox", name="用户名")
        field.wait_for(timeout=30_000)
        assert fetched == [], "the font is fetched only for a text that needs it"
        field.click()
        page.keyboard.type(text)
        page.keyboard.press("Tab")  # the cursor leaves the field (no caret in the pictures)
        if served:
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


@pytest.mark.parametrize(
    ("text", "font"),
    [("王喆张堃犇", RARE), ("好的😀👍🙏🇨🇳✅", EMOJI)],
    ids=["rare-hanzi", "emoji"],
)
def test_characters_beyond_the_apps_font_are_drawn_from_shipped_fonts_and_not_as_empty_boxes_when_typed(
    browser, app_url, text, font
):
    boxes, _, _ = _typed(browser, app_url, text, font, served=False)
    drawn, fetched, outside = _typed(browser, app_url, text, font, served=True)
    # Each page paints the field the same way twice, so a difference between the pages is the glyphs.
    assert boxes[0] == boxes[1] and drawn[0] == drawn[1]
    assert fetched, "the page fetched the shipped font"
    assert drawn[0] != boxes[0]
    assert outside == []
