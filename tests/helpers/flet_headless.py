"""Client-less test harness for Flet 1.0 apps (no Flutter, no browser, no sockets).

Adapted from /work/shared/reference/flet_headless.py: semantics-id lookups, dropdown/switch events, and
fake answers for UrlLauncher, Geolocator and Connectivity.

Pattern lifted from flet's own unit tests (sdk/python/packages/flet/tests/
test_use_dialog.py: `_RecordingConnection` + real `Session` + `session.dispatch_event`),
extended with a tiny fake client that:
  * records every outgoing protocol message,
  * answers `invoke_method` calls (so `await page.push_route()`, `ft.SharedPreferences()`
    etc. don't hang waiting for Flutter),
  * emulates what the Dart client does for push_route (update page.route + fire
    `route_change`), for TextField typing (update `value` + fire `change`) and clicks.

It relies on internal (underscore / non-exported) APIs: `Session`, `Connection`,
`_context_page`, `control._i`. These are what flet's own tests use, but they are not
a public, versioned API -> pin flet and keep this shim small.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import flet as ft
import msgpack
from flet.controls.base_control import BaseControl
from flet.controls.context import _context_page, context
from flet.messaging.connection import Connection
from flet.messaging.protocol import MessageAction, configure_encode_object_for_msgpack
from flet.messaging.session import Session
from flet.pubsub.pubsub_hub import PubSubHub

# IMPORTANT: encoding is not just I/O. Flet's msgpack encoder records the
# `__prev_*` snapshots that the next in-place diff (control.update()) compares
# against. A fake connection that does not encode sees no changes after the first
# patch (page.add() would emit nothing). So always encode, like the real transport.
_encode_default = configure_encode_object_for_msgpack(BaseControl)


def encode(obj) -> bytes:
    return msgpack.packb(obj, default=_encode_default)


class FakeClient(Connection):
    def __init__(self):
        super().__init__()
        self.messages: list = []
        self.wire_bytes = 0
        self.session: Session | None = None
        self.pubsubhub = PubSubHub()
        self.page_name = ""
        self.page_url = "http://fake.local/"
        # (control_type, method) -> callable(args) -> result ; control_type "*" = any
        self.method_handlers: dict[tuple[str, str], Callable[[Any], Any]] = {}
        self.prefs: dict[str, Any] = {}  # in-memory SharedPreferences backing store
        self.launched: list[str] = []  # URLs the app asked the platform to open
        self.connectivity: list[str] = ["wifi"]
        self.position: dict[str, Any] | None = None  # what Geolocator.get_current_position answers
        # What the platform answers for the location permission (before and after asking) and service.
        self.location_permission = "whileInUse"
        self.location_permission_asked = "whileInUse"
        self.location_service = True
        self._install_default_handlers()

    # -- Connection API -------------------------------------------------
    def send_message(self, message):
        self.wire_bytes += len(encode([message.action, message.body]))
        self.messages.append(message)
        if message.action == MessageAction.INVOKE_METHOD:
            body = message.body
            asyncio.get_running_loop().create_task(self._answer(body))

    # -- fake client behaviour --------------------------------------------
    async def _answer(self, body):
        await asyncio.sleep(0)
        sess = self.session
        ctrl = sess.index.get(body.control_id)
        ctype = getattr(ctrl, "_c", "?")
        h = self.method_handlers.get((ctype, body.name)) or self.method_handlers.get(("*", body.name))
        result, err = None, None
        try:
            if h is None:
                raise RuntimeError(f"FakeClient: no handler for {ctype}.{body.name}")
            result = h(body.args or {})
            if inspect.isawaitable(result):
                result = await result
        except Exception as e:  # reported back like the real client does
            err = str(e)
        sess.handle_invoke_method_results(body.control_id, body.call_id, result, err)

    def _install_default_handlers(self):
        p = self.prefs

        async def push_route(args):
            route = args["route"]
            # exactly what flet_backend.dart::_sendRouteChangeEvent does
            self.session.apply_page_patch({"route": route})
            asyncio.get_running_loop().create_task(
                self.session.dispatch_event(self.session.page._i, "route_change", {"route": route})
            )

        self.method_handlers.update(
            {
                ("Page", "push_route"): push_route,
                ("SharedPreferences", "set"): lambda a: p.__setitem__(a["key"], a["value"]) or True,
                ("SharedPreferences", "get"): lambda a: p.get(a["key"]),
                ("SharedPreferences", "contains_key"): lambda a: a["key"] in p,
                ("SharedPreferences", "remove"): lambda a: p.pop(a["key"], None) is not None,
                ("SharedPreferences", "get_keys"): lambda a: [
                    k for k in p if k.startswith(a.get("key_prefix", ""))
                ],
                ("SharedPreferences", "clear"): lambda a: p.clear() or True,
                ("Connectivity", "get_connectivity"): lambda a: list(self.connectivity),
                ("UrlLauncher", "launch_url"): lambda a: self.launched.append(str(a["url"])),
                ("Geolocator", "get_current_position"): lambda a: self.position,
                ("Geolocator", "is_location_service_enabled"): lambda a: self.location_service,
                ("Geolocator", "get_permission_status"): lambda a: self.location_permission,
                ("Geolocator", "request_permission"): lambda a: self.location_permission_asked,
            }
        )


class HeadlessApp:
    """Run `main(page)` or a root @ft.component against a FakeClient."""

    def __init__(self):
        self.client = FakeClient()
        self.session = Session(self.client)
        self.client.session = self.session
        self.page: ft.Page = self.session.page
        self._token = None

    async def start(
        self, main=None, *, component=None, views=False, route="/", width=1000, height=700, args=()
    ):
        self.client.loop = asyncio.get_running_loop()
        # what the real client sends in REGISTER_CLIENT (subset)
        self.session.apply_page_patch({"route": route, "width": width, "height": height})
        self._token = _context_page.set(self.page)
        context.reset_auto_update()
        encode(self.session.get_page_patch())  # index + mount + snapshot initial tree
        if component is not None:
            (self.page.render_views if views else self.page.render)(component, *args)
        elif inspect.iscoroutinefunction(main):
            await main(self.page)
        else:
            main(self.page)
        await self.session.after_event(self.page)
        await self.settle()
        return self

    async def settle(self, turns: int = 10):
        for _ in range(turns):
            await asyncio.sleep(0)

    async def close(self):
        self.session.close()
        await self.settle()
        if self._token is not None:
            try:
                _context_page.reset(self._token)
            except ValueError:  # fixture teardown runs in another contextvars.Context
                _context_page.set(None)

    # -- querying -------------------------------------------------------
    def walk(self) -> Iterator[BaseControl]:
        """All controls currently mounted in the session (the live tree)."""
        return iter(list(self.session.index.values()))

    def find(self, cls=BaseControl, **attrs) -> list[BaseControl]:
        out = []
        for c in self.walk():
            if isinstance(c, cls) and all(getattr(c, k, object()) == v for k, v in attrs.items()):
                out.append(c)
        return out

    def one(self, cls=BaseControl, **attrs):
        found = self.find(cls, **attrs)
        assert len(found) == 1, f"expected 1 {cls.__name__} {attrs}, got {len(found)}"
        return found[0]

    def views(self) -> list:
        """page.views flattened through component wrappers (render_views / Router)."""

        def flat(x):
            x = ft.unwrap_component(x)
            if isinstance(x, (list, tuple)):
                for e in x:
                    yield from flat(e)
            elif x is not None:
                yield x

        return list(flat(self.page.views))

    def texts(self) -> list[str]:
        return [c.value for c in self.find(ft.Text) if isinstance(c.value, str)]

    def button(self, label: str):
        return self.one(ft.Button, content=label)

    def by_id(self, identifier: str):
        """The control wrapped in ft.Semantics(identifier=...): what browser tests find by that id."""
        found = [c for c in self.find(ft.Semantics) if c.identifier == identifier]
        assert len(found) == 1, f"expected 1 Semantics {identifier!r}, got {len(found)}"
        return found[0].content

    def has_id(self, identifier: str) -> bool:
        return any(c.identifier == identifier for c in self.find(ft.Semantics))

    def ids(self, prefix: str = "") -> list[str]:
        return [c.identifier for c in self.find(ft.Semantics) if (c.identifier or "").startswith(prefix)]

    def top_texts(self) -> list[str]:
        """Texts of the topmost view only (the views below it stay mounted in the stack)."""
        views = self.views()
        if not views:
            return []
        top = views[-1]
        out = []
        for c in self.find(ft.Text):
            node = c
            while node is not None and node is not top:
                node = node.parent
            if node is top and isinstance(c.value, str):
                out.append(c.value)
        return out

    def top_route(self) -> str:
        views = self.views()
        return views[-1].route if views else ""

    async def select(self, control, value: str):
        """Dropdown / RadioGroup choice, as the client reports it."""
        event = "select" if isinstance(control, ft.Dropdown) else "change"
        self.session.apply_patch(control._i, {"value": value})
        await self.session.dispatch_event(control._i, event, value)
        await self.settle()

    async def toggle(self, control, value: bool):
        self.session.apply_patch(control._i, {"value": value})
        await self.session.dispatch_event(control._i, "change", value)
        await self.settle()

    # -- interacting (mirrors what the Dart client sends) ------------------
    async def click(self, control):
        await self.session.dispatch_event(control._i, "click", None)
        await self.settle()

    async def type_into(self, field, text: str):
        self.session.apply_patch(field._i, {"value": text})
        await self.session.dispatch_event(field._i, "change", text)
        await self.settle()

    async def navigate(self, route: str):
        await self.page.push_route(route)
        await self.settle()

    def crashes(self):
        return [m for m in self.client.messages if m.action == MessageAction.SESSION_CRASHED]
