"""Client-less tests of every shell screen: the real App component on a fake Flet connection."""

from __future__ import annotations

import flet as ft
from conftest import GOOD_PASSWORD, USER, StubBackend, make_visits

from app import i18n
from app.runtime import AppModel
from app.views import app as app_views
from app.views.app import App


async def start(headless, model: AppModel, *, width: int = 390, route: str = "/"):
    model.viewport.width = width
    await headless.start(component=App, views=True, args=(model,), width=width, route=route)
    return headless


async def signed_in(headless, app_config, backend, **kw) -> AppModel:
    model = AppModel.create(app_config, backend)
    await start(headless, model, **kw)
    assert await model.session.sign_in("http://127.0.0.1:9", USER.username, GOOD_PASSWORD)
    await headless.settle(30)
    return model


def texts(headless) -> str:
    return "\n".join(headless.texts())


async def test_sign_in_shows_queue_when_password_is_right(headless, app_config, stub_backend):
    model = AppModel.create(app_config, stub_backend)
    await start(headless, model)
    assert headless.top_route() == "/signin"
    assert headless.by_id("signin-server").value == "http://127.0.0.1:9"
    await headless.type_into(headless.by_id("signin-username"), USER.username)
    await headless.type_into(headless.by_id("signin-password"), GOOD_PASSWORD)
    await headless.click(headless.by_id("signin-submit"))
    await headless.settle(40)
    assert model.session.phase == "active"
    assert headless.top_route() == "/"
    assert headless.has_id("queue-search")
    assert (app_config.data_dir / "fieldvisit-u-inv-a1.db").exists()
    assert headless.crashes() == []


async def test_sign_in_shows_error_when_password_is_wrong(headless, app_config, stub_backend):
    model = AppModel.create(app_config, stub_backend)
    await start(headless, model)
    await headless.type_into(headless.by_id("signin-username"), USER.username)
    await headless.type_into(headless.by_id("signin-password"), "nope")
    await headless.click(headless.by_id("signin-submit"))
    await headless.settle(40)
    assert model.session.phase == "signed_out"
    assert headless.by_id("form-error").value == "用户名或密码错误"
    assert not list(app_config.data_dir.glob("fieldvisit-*.db"))


async def test_sign_in_shows_offline_error_when_server_unreachable(headless, app_config):
    model = AppModel.create(app_config, StubBackend(offline=True))
    await start(headless, model)
    assert not await model.session.sign_in("http://127.0.0.1:9", USER.username, GOOD_PASSWORD)
    await headless.settle()
    assert "无法连接服务器" in headless.by_id("form-error").value


async def test_queue_shows_visits_by_priority_with_masked_phones(
    headless, app_config, stub_backend, demo_visits
):
    await signed_in(headless, app_config, stub_backend)
    cards = headless.ids("visit-card-")
    assert len(cards) == 50  # the first page
    by_id = {v.visit_id: v for v in demo_visits}
    shown = [by_id[c.removeprefix("visit-card-")] for c in cards]
    assert [v.priority for v in shown] == sorted((v.priority for v in demo_visits), reverse=True)[:50]
    first = shown[0]
    phone = headless.by_id(f"phone-{first.visit_id}").value
    assert phone == first.borrower.phone[:3] + "****" + first.borrower.phone[-4:]
    all_text = texts(headless)
    assert first.borrower.phone not in all_text
    assert first.borrower.name not in all_text or len(first.borrower.name) == 1
    assert headless.by_id("queue-count").value == "显示 50 / 共 120 条"


async def test_queue_load_more_appends_next_page(headless, app_config, stub_backend):
    model = await signed_in(headless, app_config, stub_backend)
    await headless.click(headless.by_id("queue-load-more"))
    assert len(headless.ids("visit-card-")) == 100
    await headless.click(headless.by_id("queue-load-more"))
    assert len(headless.ids("visit-card-")) == 120
    assert not headless.has_id("queue-load-more")
    assert not model.queue.has_more


async def test_queue_search_by_phone_tail_finds_the_borrower(headless, app_config, stub_backend, demo_visits):
    await signed_in(headless, app_config, stub_backend)
    target = demo_visits[17]
    await headless.type_into(headless.by_id("queue-search"), target.borrower.phone[-4:])
    cards = headless.ids("visit-card-")
    assert f"visit-card-{target.visit_id}" in cards
    assert all(
        v.borrower.phone.endswith(target.borrower.phone[-4:])
        or v.borrower.id_number.endswith(target.borrower.phone[-4:])
        for v in demo_visits
        if f"visit-card-{v.visit_id}" in cards
    )


async def test_queue_filter_by_bucket_and_district_narrows_list(
    headless, app_config, stub_backend, demo_visits
):
    model = await signed_in(headless, app_config, stub_backend)
    await headless.select(headless.by_id("filter-bucket"), "4")
    expected = [v for v in demo_visits if v.loan.bucket == 4]
    assert model.queue.total == len(expected)
    assert (
        set(headless.ids("visit-card-")) == {f"visit-card-{v.visit_id}" for v in expected[:50]}
        or len(expected) > 50
    )
    district = expected[0].borrower.district
    await headless.select(headless.by_id("filter-district"), district)
    assert model.queue.total == len([v for v in expected if v.borrower.district == district])
    await headless.select(headless.by_id("filter-bucket"), "__all__")
    assert model.queue.bucket is None


async def test_detail_masks_data_until_show_tapped_and_logs_access(
    headless, app_config, stub_backend, demo_visits
):
    model = await signed_in(headless, app_config, stub_backend)
    v = demo_visits[3]
    await headless.click(headless.by_id(f"visit-card-{v.visit_id}").content)
    await headless.settle(20)
    assert headless.top_route() == f"/visit/{v.visit_id}"
    assert headless.by_id("detail-phone").value == v.borrower.phone[:3] + "****" + v.borrower.phone[-4:]
    assert headless.by_id("detail-id").value.startswith(v.borrower.id_number[:6] + "****")
    assert model.audit.entries() == []
    await headless.click(headless.by_id("reveal-pii"))
    assert headless.by_id("detail-phone").value == v.borrower.phone
    assert headless.by_id("detail-name").value == v.borrower.name
    [entry] = model.audit.entries()
    assert entry["action"] == "show_personal_data" and entry["visit_id"] == v.visit_id
    assert entry["user_id"] == USER.id
    assert v.borrower.phone not in model.audit.path.read_text(encoding="utf-8")
    await headless.click(headless.by_id("hide-pii"))
    assert headless.by_id("detail-phone").value != v.borrower.phone


async def test_detail_third_party_mode_hides_amounts(headless, app_config, stub_backend, demo_visits):
    await signed_in(headless, app_config, stub_backend, route=f"/visit/{demo_visits[0].visit_id}")
    await headless.settle(20)
    assert "逾期金额" in headless.top_texts()
    await headless.toggle(headless.by_id("third-party-shield"), True)
    shown = "\n".join(headless.top_texts())
    assert demo_visits[0].borrower.address in shown
    assert "逾期金额" not in shown and "¥" not in shown and "逾期 " not in shown and "M" not in shown


async def test_detail_open_map_launches_geo_link(headless, app_config, stub_backend, demo_visits):
    v = demo_visits[0]
    await signed_in(headless, app_config, stub_backend, route=f"/visit/{v.visit_id}")
    await headless.settle(20)
    await headless.click(headless.by_id("open-map"))
    await headless.settle(10)
    assert headless.client.launched == [
        f"geo:{v.borrower.lat},{v.borrower.lon}?q={v.borrower.lat},{v.borrower.lon}"
    ]


async def test_start_visit_opens_report_route(headless, app_config, stub_backend, demo_visits):
    v = demo_visits[0]
    await signed_in(headless, app_config, stub_backend, route=f"/visit/{v.visit_id}")
    await headless.settle(20)
    await headless.click(headless.by_id("start-visit"))
    await headless.settle(20)
    assert [x.route for x in headless.views()] == ["/", f"/visit/{v.visit_id}", f"/visit/{v.visit_id}/report"]


async def test_report_route_shows_not_available_when_forms_missing(
    headless, app_config, stub_backend, demo_visits, monkeypatch
):
    monkeypatch.setattr(app_views, "report_screen", lambda: None)
    v = demo_visits[0]
    await signed_in(headless, app_config, stub_backend, route=f"/visit/{v.visit_id}/report")
    await headless.settle(20)
    assert headless.has_id("report-unavailable")
    assert "外访表单尚未安装" in texts(headless)


async def test_offline_banner_shows_pending_count(headless, app_config, stub_backend):
    model = await signed_in(headless, app_config, stub_backend)
    engine = stub_backend.engines[-1]
    from app.services.backend import EngineStatus

    engine.state = EngineStatus(pending=3, last_error="offline")
    model.tick()
    await headless.settle(20)
    assert "离线 · 3 项待上传" in headless.by_id("offline-banner").content.controls[1].value
    engine.state = EngineStatus(pending=0)
    model.tick()
    await headless.settle(20)
    assert not headless.has_id("offline-banner")


async def test_sync_screen_sync_now_calls_engine_and_lists_returned_reports(
    headless, app_config, stub_backend, demo_visits
):
    model = await signed_in(headless, app_config, stub_backend, route="/sync")
    store = model.session.store
    _returned_report(store, demo_visits[2].visit_id, "请补充收入证明")
    model.sync.reload_reports(store)
    await headless.settle(20)
    assert headless.top_route() == "/sync"
    shown = texts(headless)
    assert "退回修改（1）" in shown and "“请补充收入证明”" in shown
    await headless.click(headless.by_id("sync-now"))
    assert stub_backend.engines[-1].sync_calls == 1
    fix = [i for i in headless.ids("fix-")]
    await headless.click(headless.by_id(fix[0]))
    await headless.settle(20)
    assert headless.page.route.startswith(f"/visit/{demo_visits[2].visit_id}/report?report_id=")


async def test_language_switch_rerenders_every_screen_in_english(headless, app_config, stub_backend):
    model = await signed_in(headless, app_config, stub_backend, route="/settings")
    assert "设置" in texts(headless)
    await headless.select(headless.by_id("language-choice"), "en")
    await headless.settle(20)
    assert model.settings.language == "en"
    assert "Language" in texts(headless) and "语言" not in texts(headless)
    assert model.prefs.get("language") == "en"
    await headless.navigate("/")
    await headless.settle(20)
    assert headless.by_id("queue-count").value == "Showing 50 of 120"
    assert i18n.get_language() == "en"


async def test_idle_lock_then_unlock_with_password(headless, app_config, stub_backend):
    clock = [1000.0]
    model = AppModel.create(app_config, stub_backend, monotonic=lambda: clock[0])
    await start(headless, model)
    assert await model.session.sign_in("http://127.0.0.1:9", USER.username, GOOD_PASSWORD)
    await headless.settle(20)
    clock[0] += model.session.lock_after_s + 1
    model.tick()
    await headless.settle(20)
    assert headless.top_route() == "/lock"
    await headless.type_into(headless.by_id("lock-password"), "wrong")
    await headless.click(headless.by_id("lock-unlock"))
    assert headless.by_id("form-error").value == "密码错误"
    await headless.type_into(headless.by_id("lock-password"), GOOD_PASSWORD)
    await headless.click(headless.by_id("lock-unlock"))
    await headless.settle(20)
    assert headless.top_route() == "/"


async def test_sign_out_warns_about_unsynced_drafts_then_deletes_data(
    headless, app_config, stub_backend, demo_visits
):
    model = await signed_in(headless, app_config, stub_backend, route="/settings")
    model.session.store.save_draft("r-1", demo_visits[0].visit_id, {"notes": "x"})
    await headless.click(headless.by_id("sign-out"))
    assert "有 1 项尚未同步" in headless.by_id("signout-warning").value
    assert model.session.phase == "active"
    await headless.click(headless.by_id("signout-confirm"))
    await headless.settle(20)
    assert model.session.phase == "signed_out"
    assert headless.top_route() == "/signin"
    assert not (app_config.data_dir / "fieldvisit-u-inv-a1.db").exists()
    assert stub_backend.engines[-1].stopped


async def test_wide_layout_uses_navigation_rail(headless, app_config, stub_backend):
    await signed_in(headless, app_config, stub_backend, width=1280)
    assert headless.find(ft.NavigationRail) and not headless.find(ft.NavigationBar)


async def test_phone_layout_uses_bottom_navigation_bar_and_tabs_navigate(headless, app_config, stub_backend):
    await signed_in(headless, app_config, stub_backend, width=390)
    [nav] = headless.find(ft.NavigationBar)
    assert not headless.find(ft.NavigationRail)
    headless.session.apply_patch(nav._i, {"selected_index": 1})
    await headless.session.dispatch_event(nav._i, "change", None)
    await headless.settle(20)
    assert headless.top_route() == "/sync"


async def test_remembered_sign_in_reopens_locked(headless, app_config, stub_backend):
    first = AppModel.create(app_config, stub_backend)
    assert await first.session.sign_in("http://127.0.0.1:9", USER.username, GOOD_PASSWORD)
    first.shutdown()
    model = AppModel.create(app_config, StubBackend(make_visits(3)))
    model.session.restore()
    await start(headless, model)
    assert model.session.phase == "locked"
    assert headless.top_route() == "/lock"
    assert "陈志刚" in texts(headless)


def _returned_report(store, visit_id: str, comment: str) -> str:
    import uuid

    from models.report import VisitReport
    from models.wire import Change, MutationResult, PullResponse, PushResponse

    report_id = str(uuid.uuid4())
    store.submit_report(VisitReport(report_id=report_id, visit_id=visit_id, notes=""))
    store.apply_push_response(
        PushResponse(
            last_mutation_id=1,
            server_epoch="e",
            results=[MutationResult(mutation_id=1, status="applied", server_version=1)],
        )
    )
    store.apply_pull_page(
        PullResponse(
            cursor="1",
            has_more=False,
            last_mutation_id=1,
            server_epoch="e",
            changes=[
                Change(
                    seq=1,
                    type="report_review",
                    op="put",
                    id=report_id,
                    data={"server_version": 2, "status": "returned", "comments": [{"comment": comment}]},
                )
            ],
        )
    )
    return report_id


async def test_settings_offers_the_desk_only_when_user_is_a_supervisor(headless, app_config, stub_backend):
    from dataclasses import replace

    model = await signed_in(headless, app_config, stub_backend)
    await headless.navigate("/settings")
    await headless.settle(20)
    assert not headless.has_id("open-desk")
    model.session.user = replace(USER, role="supervisor")
    await headless.navigate("/")
    await headless.navigate("/settings")
    await headless.settle(20)
    assert headless.has_id("open-desk")
    assert headless.crashes() == []
