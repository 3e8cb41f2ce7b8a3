"""Helpers for the browser journeys and the app benchmark: the central server and `fieldvisit app` as their own
processes (stoppable and restartable on the same database and port), headless Debian chromium with every
non-loopback request aborted, semantics-tree lookups, and a small supervisor API client."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tests" / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
FIELDVISIT = Path(sys.executable).with_name("fieldvisit")
SHANGHAI = ZoneInfo("Asia/Shanghai")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip
LOOPBACK = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")
PHONE = (390, 844)
# Taps and typing are printed (pytest shows them for a failed test); the benchmark turns this off.
TRACE = True
DESKTOP = (1440, 900)
# Semantics text that would disclose the debt: a currency sign or an amount written as money.
MONEY_RE = re.compile(r"[¥￥]|\b\d{1,3}(?:,\d{3})+(?:\.\d{2})?\b|\b\d+\.\d{2}\b")


def have_browser() -> bool:
    if not os.path.exists(CHROMIUM) or not FIELDVISIT.exists():
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def cli(*args: str, env: dict[str, str] | None = None) -> str:
    full_env = {**os.environ, **env} if env else None
    return subprocess.run(
        [str(FIELDVISIT), *args], check=True, capture_output=True, text=True, env=full_env
    ).stdout


def local_instant(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=SHANGHAI)


def yesterday_shanghai() -> date:
    """A day whose evening is already past, so fixed check-in times are never in the future."""
    return (datetime.now(SHANGHAI) - timedelta(days=1)).date()


# ---------------------------------------------------------------------------------------------- processes
class Proc:
    """A subprocess with its output in a log file (read on failure)."""

    def __init__(self, args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
                 log: Path) -> None:  # fmt: skip
        self.args, self.env, self.cwd, self.log = args, env, cwd, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = open(self.log, "ab")  # the child process keeps its own handle
        self.proc = subprocess.Popen(
            self.args, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT
        )
        out.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 40) -> str:
        with suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        return ""


@dataclass
class Central:
    """`fieldvisit serve` on its own database; stop() and start() keep the database and the port.

    The database is a SQLite file in `folder` unless `database_url` names a PostgreSQL database; then the
    blobs go to `folder`/blobs (PostgreSQL has no default blob directory)."""

    folder: Path
    password: str
    port: int = field(default_factory=free_port)
    users: dict[str, str] = field(default_factory=dict)  # username → user id
    proc: Proc | None = None
    database_url: str | None = None

    @property
    def db(self) -> str:
        return self.database_url or str(self.folder / "server.db")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _db_args(self) -> list[str]:
        return ["--database-url", self.database_url] if self.database_url else ["--db", self.db]

    def _env(self) -> dict[str, str]:
        if not self.database_url:
            return {}
        return {"FIELDVISIT_BLOB_URL": (self.folder / "blobs").resolve().as_uri()}

    def add_user(self, username: str, role: str, team: str, name: str) -> str:
        out = cli("users", "add", username, "--password", self.password, "--role", role, "--team", team,
                  "--name", name, *self._db_args(), env=self._env())  # fmt: skip
        self.users[username] = out.strip().rsplit(":", 1)[-1].strip()
        return self.users[username]

    def import_records(self, records: list[dict[str, Any]], name: str = "import.json") -> None:
        path = self.folder / name
        path.write_text(json.dumps({"records": records}, ensure_ascii=False), encoding="utf-8")
        cli("import", str(path), *self._db_args(), env=self._env())

    def start(self) -> None:
        env = {**os.environ, **self._env()} if self.database_url else None
        self.proc = self.proc or Proc(
            [str(FIELDVISIT), "serve", "--host", "127.0.0.1", "--port", str(self.port), *self._db_args()],
            env=env,
            log=self.folder / "server.log",
        )
        self.proc.start()
        wait_http(f"{self.url}/v1/health")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
        # The port must refuse connections before the test goes on (the app must see "offline").
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/v1/health", timeout=0.5)
            except httpx.HTTPError:
                return
            time.sleep(0.1)

    def api(self, username: str) -> Api:
        return Api(self.url, username, self.password)


class Api:
    """A signed-in API client (supervisor checks and actions)."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=30)
        r = self.client.post("/v1/auth/login", json={"username": username, "password": password,
                                                     "device_name": f"test-{username}"})  # fmt: skip
        r.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    def close(self) -> None:
        self.client.close()

    def visits(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = self.client.get("/v1/visits", params={"limit": 1000, "offset": len(out)}).json()
            out += page["items"]
            if not page["items"] or len(out) >= page["total"]:
                return out

    def assign(self, visit_ids: Iterable[str], investigator_ids: list[str], planned: date) -> None:
        for vid in visit_ids:
            self.client.post(f"/v1/visits/{vid}/assign", json={
                "investigator_ids": investigator_ids, "planned_date": planned.isoformat()}).raise_for_status()  # fmt: skip

    def reports(self, **params: Any) -> list[dict[str, Any]]:
        r = self.client.get("/v1/reports", params={"limit": 1000, **params})
        r.raise_for_status()
        return list(r.json()["items"])

    def report(self, report_id: str) -> tuple[dict[str, Any], str]:
        r = self.client.get(f"/v1/reports/{report_id}")
        r.raise_for_status()
        return r.json(), r.headers["ETag"]

    def review(self, report_id: str, action: str, comment: str = "") -> dict[str, Any]:
        _body, etag = self.report(report_id)
        r = self.client.post(f"/v1/reports/{report_id}/review", headers={"If-Match": etag},
                             json={"action": action, "comment": comment})  # fmt: skip
        r.raise_for_status()
        return dict(r.json())


@dataclass
class AppServer:
    """`fieldvisit app` (web mode, no CDN) with its own device folder and, optionally, a movable clock."""

    folder: Path
    server_url: str
    port: int = field(default_factory=free_port)
    clock_file: Path | None = None
    proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def set_clock(self, when: datetime) -> None:
        assert self.clock_file is not None
        tmp = self.clock_file.with_suffix(".tmp")
        tmp.write_text(when.isoformat(), encoding="utf-8")
        os.replace(tmp, self.clock_file)

    def start(self) -> None:
        data = self.folder / "device"
        data.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, FLET_APP_STORAGE_DATA=str(data))
        env.pop("FIELDVISIT_NOW", None)
        if self.clock_file is not None:
            env["FIELDVISIT_NOW"] = f"@{self.clock_file}"
        self.proc = Proc([str(FIELDVISIT), "app", "--server", self.server_url, "--port", str(self.port),
                          "--host", "127.0.0.1"], env=env, cwd=data, log=self.folder / "app.log")  # fmt: skip
        self.proc.start()
        wait_http(self.url)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


# ---------------------------------------------------------------------------------------------- browser
def launch(p: Any) -> Any:
    return p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


_NODE_TEXT = """el => {
    const out = [];
    const visit = (n) => {
        if (n.nodeType === 3) { if (n.textContent.trim()) out.push(n.textContent.trim()); return; }
        if (n.nodeType !== 1) return;
        const label = n.getAttribute('aria-label');
        if (label && label.trim()) out.push(label.trim());
        for (const c of n.childNodes) visit(c);
    };
    visit(el);
    return out.join('\\n');
}"""


class Screen:
    """One browser page on the app: semantics lookups, typing, waits and screenshots."""

    def __init__(self, page: Any, outside: list[str]) -> None:
        self.page = page
        self.outside = outside

    # -- finding
    def id(self, ident: str) -> Any:
        return self.page.locator(f'[flt-semantics-identifier="{ident}"]')

    def ids(self, prefix: str) -> Any:
        return self.page.locator(f'[flt-semantics-identifier^="{prefix}"]')

    def wait(self, ident: str, timeout: float = 30_000) -> Any:
        loc = self.id(ident).first
        loc.wait_for(state="attached", timeout=timeout)
        return loc

    def gone(self, ident: str, timeout: float = 30_000) -> None:
        self.id(ident).first.wait_for(state="detached", timeout=timeout)

    def present(self, ident: str) -> bool:
        return self.id(ident).count() > 0

    def text(self, ident: str) -> str:
        """The node's text: its own and its descendants' text and aria-labels (Flutter puts a group's
        texts in the group's aria-label and a button's in its content), one per line."""
        loc = self.wait(ident)
        return str(loc.evaluate(_NODE_TEXT)).strip()

    def wait_text(self, ident: str, pattern: str | re.Pattern[str], timeout: float = 30.0) -> str:
        """Waits until the node's text contains `pattern` (a substring or a regex)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.present(ident):
                with suppress(Exception):
                    last = self.text(ident)
                    ok = pattern.search(last) if isinstance(pattern, re.Pattern) else pattern in last
                    if ok:
                        return last
            time.sleep(0.2)
        raise AssertionError(f"{ident}: {last!r} never matched {pattern!r}")

    def all_text(self) -> str:
        """Every string the semantics tree exposes: text content, labels, values of inputs."""
        return str(
            self.page.evaluate("""() => {
            const out = [];
            for (const el of document.querySelectorAll('flt-semantics, flt-semantics *')) {
                for (const a of ['aria-label', 'aria-description', 'aria-valuetext', 'title', 'placeholder']) {
                    const v = el.getAttribute && el.getAttribute(a); if (v) out.push(v);
                }
                if (el.value) out.push(String(el.value));
                for (const n of el.childNodes) if (n.nodeType === 3 && n.textContent.trim()) out.push(n.textContent);
            }
            return out.join('\\n');
        }""")
        )

    def checked(self, ident: str) -> bool:
        node = self.wait(ident)
        own = node.get_attribute("aria-checked") or node.get_attribute("aria-selected")
        if own is None:
            inner = node.locator("[aria-checked], [aria-selected]")
            if inner.count():
                own = inner.first.get_attribute("aria-checked") or inner.first.get_attribute("aria-selected")
        return own == "true"

    # -- scrolling: Flutter only puts what is near the viewport into the semantics tree
    def reveal(self, ident: str, timeout: float = 30.0, area: tuple[float, float] | None = None) -> Any:
        """Scrolls the screen's scrollable content (mouse wheel) until `ident` is on screen; returns it."""
        vw, vh = self.page.viewport_size["width"], self.page.viewport_size["height"]
        x, y = area or (vw / 2, vh * 0.6)
        deadline = time.monotonic() + timeout
        direction, moved_without_progress = 1, 0
        top = 40.0 if ident.startswith("tab-") else self._content_top()
        while time.monotonic() < deadline:
            loc = self.id(ident).first
            if loc.count():
                box = loc.bounding_box()
                if (
                    box
                    and box["height"] > 0
                    and box["y"] >= top
                    and box["y"] + min(box["height"], 48) <= vh - 8
                ):
                    return loc
                if box:
                    step = box["y"] + min(box["height"], 48) / 2 - vh / 2
                    self.page.mouse.move(x, y)
                    self.page.mouse.wheel(0, max(-vh * 0.7, min(vh * 0.7, step)))
                    time.sleep(0.35)
                    continue
            before = self._scroll_marker()
            self.page.mouse.move(x, y)
            self.page.mouse.wheel(0, direction * vh * 0.6)
            time.sleep(0.35)
            if self._scroll_marker() == before:
                moved_without_progress += 1
                if moved_without_progress >= 2:
                    direction, moved_without_progress = -direction, 0
        raise AssertionError(f"{ident} never came on screen; on screen: {self.debug_ids()}")

    def scroll_until(self, check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
        """Scrolls down step by step until `check()` is truthy; returns its value."""
        vw, vh = self.page.viewport_size["width"], self.page.viewport_size["height"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with suppress(Exception):
                got = check()
                if got:
                    return got
            self.page.mouse.move(vw / 2, vh * 0.6)
            self.page.mouse.wheel(0, vh * 0.3)
            time.sleep(0.4)
        raise AssertionError(f"{what}: not found while scrolling")

    def _content_top(self) -> float:
        """Where a form's scrolling content starts: below the app bar and, on the visit forms, the tab bar."""
        bottom = self.page.evaluate("""() => Math.max(40, ...[...document.querySelectorAll(
            '[flt-semantics-identifier^="tab-"]')].map(e => e.getBoundingClientRect().bottom))""")
        return float(bottom)

    def debug_ids(self) -> str:
        with suppress(Exception):
            self.shot("failure-last")
        return str(
            self.page.evaluate("""() => [...document.querySelectorAll('[flt-semantics-identifier]')]
            .map(e => { const r = e.getBoundingClientRect();
                        return e.getAttribute('flt-semantics-identifier') + '@' + Math.round(r.left) + ',' +
                               Math.round(r.top) + '+' + Math.round(r.height); }).join(' ')""")
        )

    def _scroll_marker(self) -> str:
        return str(
            self.page.evaluate("""() => [...document.querySelectorAll('[flt-semantics-identifier]')]
            .slice(0, 40).map(e => e.getAttribute('flt-semantics-identifier') + ':' +
            Math.round(e.getBoundingClientRect().top)).join('|')""")
        )

    # -- acting
    def tap(self, ident: str, timeout: float = 30_000) -> None:
        """A real click on the control (scrolled into view first). The tree is rebuilt as the app answers,
        so a node can be replaced under the pointer: the click is retried on the fresh node."""
        deadline = time.monotonic() + timeout / 1000
        while True:
            loc = self.reveal(ident, timeout=max(1.0, deadline - time.monotonic()))
            if not self._settled(loc) and time.monotonic() < deadline:
                continue
            box = loc.bounding_box()
            vw = self.page.viewport_size["width"]
            if TRACE:
                print(f"{time.strftime('%H:%M:%S')} tap {ident} at {box}", flush=True)
            try:
                if box and (box["x"] < 0 or box["x"] + min(box["width"], 40) > vw):
                    # Off to the side in a horizontally scrolled strip (the tab bar): the node's own tap action.
                    target = loc.locator("[flt-tappable]")
                    (target.first if target.count() else loc).dispatch_event("click", timeout=5_000)
                else:
                    loc.click(timeout=5_000)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def tap_until(self, ident: str, appears: str, tries: int = 3, timeout: float = 10_000) -> None:
        """Taps and waits for the effect; taps again if the first tap landed before the control was live."""
        for i in range(tries):
            self.tap(ident)
            try:
                self.wait(appears, timeout=timeout)
                return
            except Exception:
                if i == tries - 1:
                    raise

    def input(self, ident: str) -> Any:
        """The field's own input element, on screen and settled (a click on the wrapper could land on
        whatever the layout has just moved there)."""
        deadline = time.monotonic() + 30
        while True:
            node = self.reveal(ident)
            inner = node.locator("input, textarea")
            if inner.count() and self._settled(inner.first):
                return inner.first
            if time.monotonic() > deadline:
                raise AssertionError(f"{ident} has no input element; on screen: {self.debug_ids()}")
            time.sleep(0.2)

    def _settled(self, loc: Any, pause: float = 0.25) -> bool:
        """True when the node stays where it is for `pause` seconds (the layout is not moving)."""
        try:
            before = loc.bounding_box()
            time.sleep(pause)
            after = loc.bounding_box()
        except Exception:
            return False
        return bool(before and after and before == after)

    def _editing_value(self) -> str | None:
        return self.page.evaluate(
            "() => { const e = document.activeElement; return e && e.tagName === 'INPUT' || "
            "e && e.tagName === 'TEXTAREA' ? e.value : null; }"
        )

    def fill(self, ident: str, value: str, tries: int = 4) -> None:
        """Replaces the field's text as a person would: focus, select all, delete, type (each key is an
        on_change); then checks the editing element holds exactly `value`. Playwright's fill() would append:
        Flutter keeps the text in its own editing element, not in the semantics input."""
        for _ in range(tries):
            box = self.input(ident)
            if TRACE:
                print(f"{time.strftime('%H:%M:%S')} fill {ident} at {box.bounding_box()}", flush=True)
            box.click()
            try:
                until(lambda box=box: focused_in(self.page, box), 3, 0.05, f"focus on {ident}")
            except AssertionError:
                time.sleep(0.5)  # the layout was still moving (a line was just added): aim again
                continue
            self.page.keyboard.press("Control+a")
            self.page.keyboard.press("Backspace")
            try:
                until(lambda: self._editing_value() == "", 3, 0.05, f"{ident} cleared")
            except AssertionError:
                continue
            if value:
                self.page.keyboard.type(value)
            try:
                until(lambda: self._editing_value() == value, 3, 0.05, f"{ident} = {value!r}")
            except AssertionError:
                continue
            time.sleep(0.15)
            return
        raise AssertionError(f"could not type {value!r} into {ident}")

    def pick(self, ident: str, option_text: str) -> None:
        """Opens a dropdown and chooses the option shown as `option_text`."""
        self.tap(ident)
        node = self.id(ident).first
        owns = node.get_attribute("aria-owns")
        scope = self.page.locator(f"#{owns}") if owns else self.page
        opt = scope.get_by_role("button", name=option_text, exact=True)
        opt.first.wait_for(state="attached", timeout=10_000)
        opt.first.click()
        opt.first.wait_for(state="detached", timeout=10_000)

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        time.sleep(1.2)  # the canvas paints after the semantics tree updates
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


def focused_in(page: Any, field: Any) -> bool:
    """Whether the element being typed into is `field`'s: Flutter's editing element is its own input, laid
    over the field it edits, so its centre lies inside the field's box. A tap the layout moved elsewhere
    focuses another field, whose text a select-all and the keys would replace."""
    centre = page.evaluate(
        "() => { const e = document.activeElement; if (!e || !['INPUT', 'TEXTAREA'].includes(e.tagName))"
        " return null; const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }"
    )
    try:
        box = field.bounding_box(timeout=1_000)
    except Exception:
        return False
    if not centre or not box:
        return False
    x, y = centre
    return bool(box["x"] <= x <= box["x"] + box["width"] and box["y"] <= y <= box["y"] + box["height"])


def keep_to_loopback(page: Any, outside: list[str], allowed: tuple[str, ...] = LOOPBACK) -> None:
    """Let the page reach only URLs starting with `allowed`; every other request is aborted and noted in
    `outside` (the product may download nothing at run time)."""

    def route(r: Any) -> None:
        if r.request.url.startswith(allowed):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)


def open_app(browser: Any, url: str, size: tuple[int, int] = PHONE) -> tuple[Any, Screen]:
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = ctx.new_page()
    outside: list[str] = []
    keep_to_loopback(page, outside)
    page.goto(url)
    page.wait_for_selector("#loading", state="detached", timeout=60_000)
    enable_semantics(page)
    return ctx, Screen(page, outside)


def enable_semantics(page: Any) -> None:
    page.wait_for_selector("flt-semantics-placeholder", state="attached", timeout=60_000)
    page.eval_on_selector("flt-semantics-placeholder", "el => el.click()")
    page.wait_for_selector("flt-semantics", state="attached", timeout=30_000)


def sign_in(s: Screen, server_url: str, username: str, password: str) -> None:
    s.fill("signin-server", server_url)
    s.fill("signin-username", username)
    s.fill("signin-password", password)
    s.tap("signin-submit")
    s.ids("visit-card-").first.wait_for(state="attached", timeout=60_000)


def png(width: int = 64, height: int = 48, rgb: tuple[int, int, int] = (40, 90, 200)) -> bytes:
    """A small valid PNG (a solid colour) made without any imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    row = b"\x00" + bytes(rgb) * width
    raw = row * height
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def until(check: Callable[[], Any], timeout: float, every: float = 0.5, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with suppress(Exception):
            last = check()
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"{what} not met within {timeout:.0f} s (last: {last!r})")
