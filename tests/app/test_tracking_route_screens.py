"""Client-less tests of what follows the visit on the investigator's screens: the account's plans and
promises with their outcome on the case detail (P-6, §5.2), and the queue ordered as the day's route from
the investigator's position (§6.3) with its length."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import flet as ft
from conftest import GOOD_PASSWORD, USER, StubBackend, make_visits

from app.format import fmt_km
from app.runtime import AppModel
from app.views.app import App
from models.codes import VisitStatus
from models.entities import TrackedPlan, TrackedPromise, Visit
from models.route import distance_km


async def signed_in(headless, app_config, backend, *, route: str = "/", width: int = 390) -> AppModel:
    model = AppModel.create(app_config, backend)
    model.viewport.width = width
    await headless.start(component=App, views=True, args=(model,), width=width, route=route)
    assert await model.session.sign_in("http://127.0.0.1:9", USER.username, GOOD_PASSWORD)
    await headless.settle(30)
    return model


def chip(headless, ident: str) -> str:
    return headless.by_id(ident).content.value


def tracked_visit() -> Visit:
    v = make_visits(1)[0]
    return v.model_copy(
        update={
            "plans": [
                TrackedPlan(
                    report_id="r-plan-2",
                    state="missed_1",
                    paid=Decimal("1100.16"),
                    due_to_date=Decimal("2200.32"),
                    missed=1,
                    next_due_date=date(2027, 1, 20),
                    approved_at=datetime(2026, 11, 21, 2, 0, tzinfo=UTC),
                ),
                TrackedPlan(
                    report_id="r-plan-1",
                    state="lapsed",
                    paid=Decimal("0.00"),
                    due_to_date=Decimal("2200.32"),
                    missed=2,
                    approved_at=datetime(2026, 6, 2, 2, 0, tzinfo=UTC),
                ),
            ],
            "promises": [
                TrackedPromise(
                    report_id="r-ptp-1", amount=Decimal("500.00"), date=date(2026, 5, 10), state="kept"
                ),
                TrackedPromise(
                    report_id="r-ptp-2", amount=Decimal("300.00"), date=date(2026, 8, 5), state="broken"
                ),
            ],
        }
    )


async def test_detail_shows_plans_and_promises_with_their_outcome_when_the_server_tracked_them(
    headless, app_config
) -> None:
    v = tracked_visit()
    await signed_in(headless, app_config, StubBackend([v]), route=f"/visit/{v.visit_id}")
    await headless.settle(20)
    assert (chip(headless, "plan-r-plan-2"), chip(headless, "plan-r-plan-1")) == ("逾期 1 期", "计划失效")
    assert (chip(headless, "promise-r-ptp-1"), chip(headless, "promise-r-ptp-2")) == ("已兑现", "已违约")
    shown = "\n".join(headless.top_texts())
    assert "还款计划与承诺" in shown
    assert (
        "还款计划（2026-11-21批准）：已还 ¥1,100.16 / 应还至今 ¥2,200.32 · 逾期 1 期 · 下一期 2027-01-20"
        in shown
    )
    assert "承诺 ¥300.00（2026-08-05前）" in shown
    # The latest promise first.
    order = [i for i in headless.ids("promise-")]
    assert order == ["promise-r-ptp-2", "promise-r-ptp-1"]

    await headless.toggle(headless.by_id("third-party-shield"), True)
    assert not headless.has_id("plan-r-plan-2") and "¥1,100.16" not in "\n".join(headless.top_texts())


async def test_detail_says_none_tracked_when_the_account_has_no_plan_or_promise(headless, app_config) -> None:
    v = make_visits(1)[0]
    await signed_in(headless, app_config, StubBackend([v]), route=f"/visit/{v.visit_id}")
    await headless.settle(20)
    assert "此账户暂无已批准的计划或承诺还款" in headless.top_texts()
    assert headless.ids("plan-") == [] and headless.ids("promise-") == []


def day_visits() -> tuple[dict[str, Visit], date]:
    """Today: four visits on a north–south line (a…d), one without coordinates; tomorrow: two more; one of
    today's already closed. Priorities make b the day's first visit by priority."""
    today = date.today()
    base = make_visits(8, planned=today)
    lats = {"a": "30.1000", "b": "30.2000", "c": "30.3500", "d": "30.5000", "x": None, "t1": "30.1000",
            "t2": "30.2000", "z": "30.0000"}  # fmt: skip
    prio = {"a": "10", "b": "90", "c": "20", "d": "30", "x": "50", "t1": "10", "t2": "20", "z": "99"}
    out = {}
    for key, v in zip(lats, base, strict=True):
        borrower = v.borrower.model_copy(
            update={
                "lat": Decimal(lats[key]) if lats[key] else None,
                "lon": Decimal("120.0000") if lats[key] else None,
            }
        )
        update = {"borrower": borrower, "priority": Decimal(prio[key])}
        if key.startswith("t"):
            update["planned_date"] = today + timedelta(days=1)
        if key == "z":
            update["status"] = VisitStatus.CLOSED
        out[key] = v.model_copy(update=update)
    return out, today


def route_cards(headless) -> list[str]:
    lists = [lv for lv in headless.find(ft.ListView) if any(
        isinstance(c, ft.Semantics) and (c.identifier or "").startswith("visit-card-") for c in lv.controls)]  # fmt: skip
    if not lists:
        return []
    [lv] = lists
    return [c.identifier.removeprefix("visit-card-") for c in lv.controls if isinstance(c, ft.Semantics)]


async def test_queue_orders_the_days_visits_as_a_route_from_the_position_when_by_route_is_chosen(
    headless, app_config
) -> None:
    visits, today = day_visits()
    key_of = {v.visit_id: k for k, v in visits.items()}
    model = await signed_in(headless, app_config, StubBackend(list(visits.values())))
    headless.client.position = {"latitude": 30.55, "longitude": 120.0, "accuracy": 8.0}
    await headless.select(headless.by_id("queue-order"), "route")
    await headless.settle(30)
    assert model.queue.order == "route"
    assert [key_of[i] for i in route_cards(headless)] == ["d", "c", "b", "a"]
    km = fmt_km(round(distance_km((30.55, 120.0), (30.1, 120.0)), 1))
    assert (
        headless.by_id("route-summary").value
        == f"{today.isoformat()} 路线：4 个拜访，共 {km} · 从当前位置出发"
    )
    assert headless.by_id("route-missing").value == "1 个拜访没有坐标，未排入路线"
    assert headless.by_id("route-day").value == today.isoformat()

    await headless.click(headless.by_id("route-next"))
    await headless.settle(20)
    assert [key_of[i] for i in route_cards(headless)] == ["t2", "t1"]
    assert headless.by_id("route-day").value == (today + timedelta(days=1)).isoformat()
    assert not headless.has_id("route-missing")

    await headless.select(headless.by_id("queue-order"), "priority")
    await headless.settle(20)
    assert not headless.has_id("route-summary")
    assert len(route_cards(headless)) == 8
    assert headless.crashes() == []


async def test_queue_route_starts_at_the_days_first_visit_when_no_position_is_known(
    headless, app_config
) -> None:
    visits, today = day_visits()
    key_of = {v.visit_id: k for k, v in visits.items()}
    await signed_in(headless, app_config, StubBackend(list(visits.values())))
    headless.client.position = None  # the phone cannot get a fix
    await headless.select(headless.by_id("queue-order"), "route")
    await headless.settle(30)
    # b has the day's highest priority; from there the nearest first, then on to the end of the line.
    assert [key_of[i] for i in route_cards(headless)] == ["b", "a", "c", "d"]
    km = fmt_km(
        round(distance_km((30.2, 120.0), (30.1, 120.0)) + distance_km((30.1, 120.0), (30.5, 120.0)), 1)
    )
    assert headless.by_id("route-summary").value == (
        f"{today.isoformat()} 路线：4 个拜访，共 {km} · 未定位：从优先级最高的拜访出发"
    )
