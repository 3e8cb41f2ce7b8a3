"""The supervisor desk's server side: the page itself, its labels, dashboard figures, risk CSV and the report
PDF."""

from __future__ import annotations

import csv
import io
import re

import pytest
from pypdf import PdfReader

from app import i18n
from models.labels import FLAGS, KINDS, LABELS, labels
from sync.server.desk import STATIC
from sync.server.desk.pdf import render_report_pdf
from tests.server.conftest import Server, example_report, mutation, push


def _approved_report(server: Server) -> tuple[str, str]:
    # A loan the example plan keeps every rule for (its product, P-4 within the contract's interest), so the
    # approval needs no sign-off.
    vid = server.new_visit(
        product_type="consumer_instalment", outstanding_principal="20000.00", monthly_rate="0.015"
    )
    rep = example_report(vid)
    r = push(server, "inv.a1", [mutation(1, rep)])
    assert r.json()["results"][0]["status"] == "applied", r.text
    rid = rep["report_id"]
    ok = server.client.post(
        f"/v1/reports/{rid}/review",
        headers={**server.h("sup.a"), "If-Match": '"v1"'},
        json={"action": "approve", "comment": "同意分期"},
    )
    assert ok.status_code == 200, ok.text
    return vid, rid


def test_desk_page_serves_html_when_opened_without_token(server: Server) -> None:
    r = server.client.get("/desk/")
    assert r.status_code == 200 and "desk.js" in r.text
    assert server.client.get("/desk/font.ttf").status_code == 200
    assert server.client.get("/desk/desk.js").status_code == 200


def test_desk_serves_the_rare_hanzi_font_as_its_second_family_when_a_page_needs_it(server: Server) -> None:
    rare = server.client.get("/desk/font-rare.woff2")
    assert rare.status_code == 200 and rare.headers["content-type"] == "font/woff2"
    assert rare.content[:4] == b"wOF2"
    css = server.client.get("/desk/desk.css").text
    assert 'url("font-rare.woff2")' in css
    assert 'font-family:"FV Sans", "FV Sans Rare", system-ui' in css


@pytest.mark.parametrize(
    ("query", "lang"), [("zh-CN", "zh-CN"), ("zh", "zh-CN"), ("en", "en"), ("en-GB", "en")]
)
def test_desk_labels_equal_the_one_catalogue_when_served(server: Server, query: str, lang: str) -> None:
    r = server.client.get("/desk/labels.json", params={"lang": query})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    served = r.json()
    assert served == labels(lang)
    assert set(served) == set(LABELS)
    # The app shows the very same words for every code, flag and rule.
    for key, text in served.items():
        kind, code = key.split(".", 1)
        assert i18n.label(kind, code, lang) == text, key


def test_app_screens_show_catalogue_labels_when_they_name_a_code() -> None:
    # The visit screens' own keys for a code read exactly as the catalogue does, in both languages.
    for screen_key, kind in (
        ("visit.outcome", "outcome"),
        ("visit.iv.reason", "reason"),
        ("visit.as.cat", "category"),
        ("visit.plan.option", "option"),
    ):
        for code, (zh, en) in KINDS[kind].items():
            assert i18n.t(f"{screen_key}.{code}", "zh-CN") == zh
            assert i18n.t(f"{screen_key}.{code}", "en") == en
    assert i18n.t("visit.outcome.MET_THIRD_PARTY", "en") == i18n.label("outcome", "MET_THIRD_PARTY", "en")


def test_desk_script_carries_no_labels_of_its_own_when_served() -> None:
    script = (STATIC / "desk.js").read_text(encoding="utf-8")
    for key in ("outcome.MET_THIRD_PARTY", "flag.collectors_differ", "reason.UNEMPLOYMENT", "cat.HOUS"):
        assert f'"{key}"' not in script, key
    assert "/desk/labels.json" in script


def test_report_pdf_lists_flag_labels_and_sign_off_reason_when_present() -> None:
    pdf = render_report_pdf(
        report=example_report("visit-1"),
        status="approved",
        external_id="LN-1",
        flags=["over_capacity", "dsr_severe"],
        comments=[
            {
                "at": "2026-11-21T09:00:00+08:00",
                "action": "approve",
                "comment": "同意",
                "sign_off_reason": "配偶下月复工，收入可恢复",
            }
        ],
    )
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))
    for flag in ("over_capacity", "dsr_severe"):
        assert re.sub(r"\s+", "", LABELS[f"flag.{flag}"][0]) in text
        assert re.sub(r"\s+", "", LABELS[f"flag_help.{flag}"][0]) in text
    assert "配偶下月复工，收入可恢复" in text and "审批理由" in text
    assert "已批准" in text and "见到本人" in text and "批准" in text


def test_report_pdf_draws_rare_name_hanzi_from_the_rare_font_when_the_report_has_them() -> None:
    # 喆 and 堃 are outside GB2312, so outside the first font: without the rare font they are left out.
    rep = example_report("visit-1")
    rep["notes"] = "借款人王喆与配偶张堃在家"
    # (pypdf's text extraction puts a NUL where the text moves from one embedded font to the other.)
    text = _pdf_text(render_report_pdf(report=rep, status="submitted")).replace("\x00", "")
    assert "借款人王喆与配偶张堃在家" in text


def test_report_pdf_leaves_the_rare_font_out_when_every_character_is_in_the_first() -> None:
    plain = render_report_pdf(report=example_report("visit-1"), status="submitted")
    rep = example_report("visit-1")
    rep["notes"] = "王喆"
    rare = render_report_pdf(report=rep, status="submitted")
    fonts = [len(PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]) for pdf in (plain, rare)]
    assert fonts == [1, 2]


def test_report_pdf_names_no_raw_flag_code_when_flags_are_listed() -> None:
    pdf = render_report_pdf(report=example_report("visit-1"), status="submitted", flags=list(FLAGS))
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "above_charge_cap" not in text and "p4_ceiling_exceeded" not in text


def test_stats_counts_outcomes_and_plans_when_a_report_is_approved(server: Server) -> None:
    _approved_report(server)
    r = server.client.get("/v1/stats", headers=server.h("sup.a"))
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["outcomes"] == {"MET_BORROWER": 1}
    assert s["reasons"] == {"INCOME_REDUCTION": 1}
    assert s["plans"]["proposed"] == 1 and s["plans"]["approved"] == 1
    assert s["plans"]["approved_amount"] == "12000.00"
    assert s["review_time"]["reviewed"] == 1
    assert sum(d["count"] for d in s["visits_per_day"]) == 1


def test_stats_is_empty_when_other_team_supervisor_asks(server: Server) -> None:
    _approved_report(server)
    s = server.client.get("/v1/stats", headers=server.h("sup.b")).json()
    assert s["reports"] == 0 and s["outcomes"] == {}


def test_stats_forbidden_when_investigator_asks(server: Server) -> None:
    assert server.client.get("/v1/stats", headers=server.h("inv.a1")).status_code == 403


def test_risk_csv_contains_the_approved_plan_when_exported(server: Server) -> None:
    _vid, rid = _approved_report(server)
    r = server.client.get("/v1/exports/risk.csv", headers=server.h("sup.a"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert len(rows) == 1
    row = rows[0]
    assert row["report_id"] == rid and row["event"] == "report_approved"
    assert row["instalment"] == "1100.16" and row["apr_compound"] == "0.1956"
    assert row["comment"] == "同意分期"
    other = server.client.get("/v1/exports/risk.csv", headers=server.h("sup.b")).text
    assert rid not in other


def test_report_pdf_contains_chinese_text_and_plan_when_downloaded(server: Server) -> None:
    _vid, rid = _approved_report(server)
    r = server.client.get(f"/v1/reports/{rid}/pdf", headers=server.h("sup.a"))
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)
    flat = re.sub(r"\s+", "", text)
    assert "还款方案" in flat and "同意分期" in flat
    assert "1,100.16" in flat and "19.56%" in flat


def test_report_pdf_not_found_when_other_team_asks(server: Server) -> None:
    _vid, rid = _approved_report(server)
    assert server.client.get(f"/v1/reports/{rid}/pdf", headers=server.h("sup.b")).status_code == 404


def test_recomputed_returns_schedule_and_distance_when_plan_present(server: Server) -> None:
    _vid, rid = _approved_report(server)
    r = server.client.get(f"/v1/reports/{rid}/recomputed", headers=server.h("sup.a")).json()
    assert r["recomputed"]["instalment"] == "1100.16"
    assert len(r["recomputed"]["schedule"]) == 12
    assert r["checkin_distance_m"] is None or r["checkin_distance_m"] >= 0


@pytest.mark.parametrize(
    ("outstanding", "rate", "within"),
    [("20000.00", "0.015", True), ("10000.00", "0.010", False)],
)
def test_recomputed_checks_p4_against_the_cases_loan(
    server: Server, outstanding: str, rate: str, within: bool
) -> None:
    vid = server.new_visit(outstanding_principal=outstanding, monthly_rate=rate)
    rep = example_report(vid)  # E-1: 12,000 over 12 months at 1.5% a month, total 13,201.95
    assert push(server, "inv.a1", [mutation(1, rep)]).json()["results"][0]["status"] == "applied"
    r = server.client.get(f"/v1/reports/{rep['report_id']}/recomputed", headers=server.h("sup.a")).json()
    assert r["p4"]["total_repayable"] == "13201.95"
    assert r["p4"]["within"] is within
    if within:
        assert (
            r["p4"]["ceiling"] == "22003.21"
        )  # 20,000 at 1.5% over the same 12 months (11 × 1,833.60 + the rest)


def _pdf_text(pdf: bytes) -> str:
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def test_report_pdf_writes_amounts_with_thousands_separators_when_rendered() -> None:
    rep = example_report("visit-1")
    rep["assessment"]["incomes"][0]["amount"] = "8529.48"
    text = _pdf_text(render_report_pdf(report=rep, status="submitted"))
    assert "8,529.48" in text and "8529.48" not in text
    assert "1,100.16" in text and "13,201.95" in text and "12,000.00" in text
    assert "¥" not in text


def test_report_pdf_numbers_versions_by_submission_when_reviews_move_the_counter() -> None:
    first, second = example_report("visit-1"), example_report("visit-1", notes="已补充配偶收入证明")
    history = [
        {"version_id": "a", "server_version": 1, "received_at": "2026-11-20T03:00:00+00:00", "report": first},
        {
            "version_id": "b",
            "server_version": 3,
            "received_at": "2026-11-21T03:00:00+00:00",
            "report": second,
        },
    ]
    comments = [
        {"at": "2026-11-20T09:00:00+00:00", "action": "return", "comment": "请补充", "server_version": 2},
        {"at": "2026-11-21T09:00:00+00:00", "action": "approve", "comment": "同意", "server_version": 4},
    ]
    pdf = render_report_pdf(
        report=second, status="approved", comments=comments, history=history, current_version_id="b"
    )
    text = _pdf_text(pdf)
    assert "版本Version:第2版Version2" in text
    assert "第4版" not in text and "v4" not in text and "v3" not in text
    # One timeline: version 1, its return, version 2, its approval.
    order = [
        text.index(x)
        for x in ("第1版Version1:首次提交", "请补充", "第2版Version2:重新提交", "批准Approve:同意")
    ]
    assert order == sorted(order), order


@pytest.mark.parametrize(
    ("outcome", "attested", "present", "absent"),
    [
        ("MET_BORROWER", False, ["已出示工作证并说明机构与来意（R-3）"], ["R-12", "no_disclosure"]),
        ("MET_FAMILY", True, ["未向第三方透露任何债务信息（R-12）"], ["no_disclosure"]),
        ("MET_FAMILY", False, ["未确认没有向第三方透露债务信息（R-12）"], ["no_disclosure"]),
    ],
)
def test_report_pdf_words_only_applicable_attestations_when_rendered(
    outcome: str, attested: bool, present: list[str], absent: list[str]
) -> None:
    rep = example_report("visit-1", outcome=outcome)
    rep["compliance"]["no_disclosure_attested"] = attested
    if outcome == "MET_FAMILY":
        rep.update(interview=None, assessment=None, plan=None, third_party={"relation": "family"})
    text = _pdf_text(render_report_pdf(report=rep, status="submitted"))
    for words in present:
        assert re.sub(r"\s+", "", words) in text, words
    for words in absent:
        assert words not in text, words
    assert "=True" not in text and "=False" not in text


def test_recomputed_lists_the_attestations_that_apply_when_the_borrower_was_met(server: Server) -> None:
    _vid, rid = _approved_report(server)
    r = server.client.get(f"/v1/reports/{rid}/recomputed", headers=server.h("sup.a")).json()
    fields = {a["field"]: a["state"] for a in r["attestations"]}
    assert fields == {"id_shown": "yes", "consent_to_enter": "yes", "recording_on": "yes"}
    assert all(f"attest.{a['field']}.{a['state']}" in LABELS for a in r["attestations"])


def test_labels_name_every_field_of_the_report_when_a_version_diff_shows_it() -> None:
    def paths(obj: object, prefix: str = "") -> set[str]:
        if isinstance(obj, dict):
            out = {prefix} if prefix else set()
            for k, v in obj.items():
                out |= paths(v, f"{prefix}.{k}" if prefix else k)
            return out
        if isinstance(obj, list) and obj and isinstance(obj[0], dict):
            return {prefix} | paths(obj[0], prefix)
        return {prefix}

    rep = example_report("visit-1")
    rep["third_party"] = {"relation": "family", "contact_details": "", "message_passed": True}
    missing = sorted(p for p in paths(rep) if f"field.{p}" not in LABELS)
    assert not missing, missing
