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


def _settled(page, box, *, unlike: bytes | None = None, within: float = 30.0) -> bytes:
    """A picture of `box` once the canvas has stopped changing: two pictures 0.5 s apart are the same (and,
    given `unlike`, differ from it, so a page that is still registering a font is waited for). Answers the
    last picture taken when `within` seconds pass first, for the caller's assertions to judge."""
    deadline = time.monotonic() + within
    shot = page.screenshot(clip=box)
    while True:
        page.wait_for_timeout(500)
        again = page.screenshot(clip=box)
        if again == shot and again != unlike:
            return again
        if time.monotonic() > deadline:
            return again
        shot = again


def _typed(
    browser, url: str, text: str, font: str, *, served: bool, unlike: bytes | None = None
) -> tuple[bytes, list[str], list[str]]:
    """Type `text` into the sign-in page's username field (a user in China), leave the field and picture it
    once the canvas has settled; unless `served`, the page cannot fetch the fonts whose URL has `font` (as
    before they shipped). Answers the picture, those fonts' fetches and what was asked of other hosts."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = ctx.new_page()
    outside: list[str] = []
    keep_to_loopback(page, outside)
    asked: list[str] = []
    fetched: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if font in r.url else None)
    page.on("requestfinished", lambda r: fetched.append(r.url) if font in r.url else None)
    if not served:
        page.route(lambda u: font in u, lambda r: r.abort())
    try:
        page.goto(url)
        page.wait_for_selector("#loading", state="detached", timeout=60_000)
        page.eval_on_selector("flt-semantics-placeholder", "el => el.click()")
        field = page.get_by_role("textbox", name="用户名")
        field.wait_for(timeout=30_000)
        assert asked == [], "the font is asked for only for a text that needs it"
        field.click()
        page.keyboard.type(text)
        page.keyboard.press("Tab")  # the cursor leaves the field (no caret in the pictures)
        # Flutter asks for the font once it lays the text out: on both pages the picture is taken after that,
        # so the page without the font is pictured with its boxes, not before the text was painted.
        deadline = time.monotonic() + 30
        while not (fetched if served else asked) and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        box = field.bounding_box()
        assert box is not None
        return _settled(page, box, unlike=unlike), fetched, outside
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
    # The page that may fetch the font is pictured once it has settled on a picture other than the boxes:
    # when the font never draws, the wait ends and the assertion below fails.
    drawn, fetched, outside = _typed(browser, app_url, text, font, served=True, unlike=boxes)
    assert drawn != boxes, "the characters are drawn, not as the empty boxes of a page without the font"
    assert fetched, "the page fetched the shipped font"
    assert outside == []
