"""Each domain model refuses nonsense with a clear, bilingual message (one test per rule)."""

from __future__ import annotations

import copy
import uuid
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from models.entities import VisitImportRecord
from models.messages import MESSAGES, field_errors, message_for
from models.report import VisitReport
from models.rules import Severity, evaluate

BASE: dict[str, Any] = VisitReport.model_json_schema()["examples"][0]


def report(**changes: Any) -> dict[str, Any]:
    r = copy.deepcopy(BASE)
    r["report_id"] = str(uuid.uuid4())
    r["visit_id"] = str(uuid.uuid4())
    for path, value in changes.items():
        node = r
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        if value is ...:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value
    return r


def codes(exc: ValidationError) -> set[str]:
    return {e["type"] for e in exc.errors()}


def locs(exc: ValidationError) -> list[tuple[Any, ...]]:
    return [tuple(e["loc"]) for e in exc.errors()]


def test_parse_example_succeeds_when_report_is_complete() -> None:
    r = VisitReport.model_validate(report())
    assert r.plan is not None and str(r.plan.instalment) == "1100.16"
    assert r.model_dump(mode="json")["plan"]["principal"] == "12000.00"


def test_parse_refuses_negative_money_when_income_is_negative() -> None:
    r = report()
    r["assessment"]["incomes"][0]["amount"] = "-1.00"
    with pytest.raises(ValidationError) as e:
        VisitReport.model_validate(r)
    assert "fv.money_negative" in codes(e.value)
    assert ("assessment", "incomes", 0, "amount") in locs(e.value)


def test_parse_refuses_three_decimals_when_money_has_fractions_of_a_cent() -> None:
    with pytest.raises(ValidationError) as e:
        VisitReport.model_validate(report(plan__principal="12000.001"))
    assert "fv.money_places" in codes(e.value)


def test_parse_refuses_float_when_money_is_a_json_number() -> None:
    with pytest.raises(ValidationError) as e:
        VisitReport.model_validate(report(plan__principal=12000.5))
    assert "fv.decimal_string" in codes(e.value)


def test_parse_refuses_term_zero_when_plan_has_no_instalments() -> None:
    with pytest.raises(ValidationError) as e:
        VisitReport.model_validate(report(plan__term_months=0))
    assert ("plan", "term_months") in locs(e.value)


def test_parse_accepts_term_beyond_product_maximum_when_well_formed_and_the_book_flags_it() -> None:
    # A broken rule is field truth to record, not a malformed report (protocol v1.1): the book flags it.
    r = VisitReport.model_validate(report(plan__term_months=48, plan__product_type="cash_loan"))
    found = {p.code: p for p in evaluate(r, today=date(2026, 11, 20)).problems}
    assert found["term_beyond_max"].rule == "P-1" and found["term_beyond_max"].flag == "term_beyond_max"


def test_parse_refuses_unknown_outcome_code_when_not_in_catalogue() -> None:
    with pytest.raises(ValidationError) as e:
        VisitReport.model_validate(report(outcome="MET_SOMEONE"))
    assert ("outcome",) in locs(e.value)
    assert "enum" in codes(e.value)


def test_parse_refuses_unknown_expense_category_when_not_in_catalogue() -> None:
    r = report()
    r["assessment"]["expenses"][0]["category"] = "YACHT"
    with pytest.raises(ValidationError) as e:
        VisitReport.model_validate(r)
    assert ("assessment", "expenses", 0, "category") in locs(e.value)


def test_parse_refuses_checkout_when_before_checkin() -> None:
    with pytest.raises(ValidationError) as e:
        VisitReport.model_validate(report(checkout__at="2026-11-20T10:00:00+08:00"))
    assert "fv.checkout_before_checkin" in codes(e.value)


def test_parse_refuses_debt_amounts_when_third_party_was_met() -> None:
    r = report(outcome="MET_FAMILY", interview=...)
    r["third_party"] = {"relation": "family", "message_passed": True}
    with pytest.raises(ValidationError) as e:
        VisitReport.model_validate(r)
    assert "fv.third_party_disclosure" in codes(e.value)


def test_parse_accepts_contact_details_when_third_party_report_has_no_amounts() -> None:
    r = report(outcome="MET_FAMILY", interview=..., plan=..., assessment=...)
    r["third_party"] = {"relation": "family", "contact_details": "13900001111", "message_passed": True}
    r["compliance"]["no_disclosure_attested"] = True
    assert VisitReport.model_validate(r).third_party is not None


def test_parse_refuses_promise_when_third_party_was_met() -> None:
    r = report(outcome="MET_THIRD_PARTY", plan=..., assessment=...)
    r["interview"] = {"results": ["PTP"], "promise": {"amount": "500.00", "date": "2026-12-01"}}
    with pytest.raises(ValidationError) as e:
        VisitReport.model_validate(r)
    assert codes(e.value) & {"fv.third_party_disclosure", "fv.interview_needs_borrower"}


def test_parse_refuses_income_line_when_evidence_level_is_missing() -> None:
    r = report()
    del r["assessment"]["incomes"][0]["evidence"]
    with pytest.raises(ValidationError) as e:
        VisitReport.model_validate(r)
    assert ("assessment", "incomes", 0, "evidence") in locs(e.value)


def test_book_blocks_plan_when_instalment_exceeds_capacity_without_override() -> None:
    r = report()
    r["assessment"]["incomes"] = [{"amount": "3000.00", "source": "salary", "evidence": "payslip"}]
    problems = evaluate(VisitReport.model_validate(r), today=date(2026, 11, 20)).problems
    over = next(p for p in problems if p.code == "over_capacity")
    assert over.severity is Severity.BLOCK and over.message == "fv.capacity_override"


def test_parse_accepts_plan_when_instalment_exceeds_capacity_with_override_reason() -> None:
    r = report(plan__override_reason="主管批准：借款人下月复工")
    r["assessment"]["incomes"] = [{"amount": "3000.00", "source": "salary", "evidence": "payslip"}]
    assert VisitReport.model_validate(r).plan is not None


def test_parse_refuses_primary_reason_when_not_among_reasons() -> None:
    with pytest.raises(ValidationError) as e:
        VisitReport.model_validate(report(interview__primary_reason="UNEMPLOYMENT"))
    assert "fv.primary_reason" in codes(e.value)


def test_parse_refuses_promise_result_when_amount_and_date_missing() -> None:
    with pytest.raises(ValidationError) as e:
        VisitReport.model_validate(report(interview__results=["PTP"]))
    assert "fv.ptp_missing" in codes(e.value)


def test_parse_refuses_report_id_when_not_a_uuid() -> None:
    r = report()
    r["report_id"] = "not-a-uuid"
    with pytest.raises(ValidationError) as e:
        VisitReport.model_validate(r)
    assert "fv.uuid_invalid" in codes(e.value)


def test_parse_refuses_unknown_field_when_report_carries_extra_keys() -> None:
    r = report()
    r["borrower_salary_guess"] = "1.00"
    with pytest.raises(ValidationError) as e:
        VisitReport.model_validate(r)
    assert "extra_forbidden" in codes(e.value)


def test_book_lists_missing_sections_when_report_is_empty() -> None:
    r = VisitReport.model_validate({"report_id": str(uuid.uuid4()), "visit_id": str(uuid.uuid4())})
    fields = {p.field for p in evaluate(r, today=date(2026, 11, 20)).blocking}
    assert {
        "checkin.at",
        "outcome",
        "compliance.collector_ids",
        "compliance.id_shown",
        "checkout.at",
    } <= fields


def test_book_demands_consent_when_checkin_outside_hours() -> None:
    night = VisitReport.model_validate(
        report(checkin={"at": "2026-11-20T22:30:00+08:00"}, checkout={"at": "2026-11-20T23:00:00+08:00"})
    )
    day = VisitReport.model_validate(report())
    blocking = {p.field for p in evaluate(night, today=date(2026, 11, 20)).blocking}
    assert "compliance.outside_hours_consent" in blocking
    assert "compliance.outside_hours_consent" not in {
        p.field for p in evaluate(day, today=date(2026, 11, 20)).blocking
    }


def test_import_record_refuses_bad_phone_and_id_when_check_digit_is_wrong() -> None:
    example = VisitImportRecord.model_json_schema()["examples"][0]
    bad = dict(example, phone="12345", id_number=example["id_number"][:-1] + "0")
    with pytest.raises(ValidationError) as e:
        VisitImportRecord.model_validate(bad)
    assert {"fv.phone_invalid", "fv.id_number_invalid"} <= codes(e.value)


def test_import_example_parses_when_valid() -> None:
    example = VisitImportRecord.model_json_schema()["examples"][0]
    rec = VisitImportRecord.model_validate(example)
    assert rec.dpd == 75 and str(rec.overdue_amount) == "3300.48"


def test_messages_exist_in_both_languages_for_every_code() -> None:
    for code, (zh, en) in MESSAGES.items():
        assert zh and en and zh != en, code
    assert message_for("fv.money_places", "zh") == "金额最多两位小数"
    assert message_for("fv.money_places", "en") == "at most 2 decimal places"


def test_field_errors_translate_with_paths_when_language_is_chinese() -> None:
    r = report(plan__principal="-5")
    with pytest.raises(ValidationError) as e:
        VisitReport.model_validate(r)
    out = field_errors(e.value.errors(), "zh")
    assert any(x["loc"][:2] == ["plan", "principal"] and "0" in x["msg"] for x in out)


def test_import_record_parses_history_when_csv_cell_holds_json() -> None:
    import csv
    import io

    from models.demo_data import generate_import_records, to_csv_rows
    from sync.server.store.visits import csv_records

    header, rows = to_csv_rows(generate_import_records(3, seed=7))
    text = io.StringIO()
    csv.writer(text).writerows([header, *rows])
    for cells in csv_records(text.getvalue()):
        rec = VisitImportRecord.model_validate(cells)
        assert rec.repayment_history


def test_every_error_code_raised_in_code_has_a_bilingual_message() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r'PydanticCustomError\(\s*"(fv\.[a-z0-9_]+)"')
    raised = set()
    for folder in ("models", "app", "storage", "sync"):
        for path in (root / folder).rglob("*.py"):
            raised |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert raised, "the scan found no error codes"
    assert sorted(raised - set(MESSAGES)) == []


@pytest.mark.parametrize(
    ("field", "code"), [("buffer", "fv.buffer_range"), ("dsr_limit", "fv.dsr_limit_range")]
)
def test_report_assessment_takes_the_whole_range_of_a_5_and_a_6_when_a_device_sends_its_figures(
    field: str, code: str
) -> None:
    # The figures the device showed with (the server uses its own): above 0 and at most 1, as in.
    body = copy.deepcopy(BASE)
    for ok in ("1.00", "1", "0.05"):
        body["assessment"][field] = ok
        assert VisitReport.model_validate(body).assessment.model_dump(mode="json")[field] == ok  # type: ignore[union-attr]
    for bad in ("1.01", "0", "-0.5"):
        body["assessment"][field] = bad
        with pytest.raises(ValidationError) as info:
            VisitReport.model_validate(body)
        assert [e["type"] for e in info.value.errors()] == [code]
