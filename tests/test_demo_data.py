"""Seeded Hangzhou demo data: import records per protocol "Visits and dispatch", demo users, CSV form."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from models.demo_data import (
    CSV_COLUMNS,
    DEFAULT_AS_OF,
    DEMO_PASSWORD,
    DISTRICT_AREA_CODES,
    DISTRICTS,
    TEAM_DISTRICTS,
    demo_users,
    generate_import_records,
    to_csv_rows,
)
from models.entities import VisitImportRecord
from models.identity import id_birth_date, is_valid_id_number, is_valid_mobile

MONEY_RE = re.compile(r"^\d+\.\d{2}$")
COORD_RE = re.compile(r"^\d+\.\d{4,6}$")
REQUIRED = (
    "external_id",
    "team",
    "borrower_name",
    "phone",
    "id_number",
    "address",
    "district",
    "product_type",
    "outstanding_principal",
    "overdue_amount",
    "dpd",
)


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return generate_import_records(1000)


def _cents(s: str) -> int:
    assert MONEY_RE.fullmatch(s), s
    return int(Decimal(s) * 100)


def _bucket(dpd: int) -> int:
    return 0 if dpd == 0 else min(7, -(-dpd // 30))


def _json_safe(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_safe(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_safe(v) for v in value)
    return value is None or type(value) in (str, int, bool)


def test_generate_returns_identical_records_when_seed_is_the_same() -> None:
    assert generate_import_records(50, seed=7) == generate_import_records(50, seed=7)
    assert generate_import_records(50, seed=7) != generate_import_records(50, seed=8)


def test_generate_returns_same_record_i_when_n_or_start_differ() -> None:
    whole = generate_import_records(20, seed=11)
    assert generate_import_records(5, seed=11, start=8) == whole[7:12]
    assert generate_import_records(3, seed=11) == whole[:3]


def test_generate_numbers_external_ids_by_team_when_teams_share_indexes() -> None:
    a = generate_import_records(3, team="hz-a")
    b = generate_import_records(3, team="hz-b")
    assert [r["external_id"] for r in a] == ["LN-HZA-0000001", "LN-HZA-0000002", "LN-HZA-0000003"]
    assert [r["external_id"] for r in b] == ["LN-HZB-0000001", "LN-HZB-0000002", "LN-HZB-0000003"]
    assert {r["team"] for r in b} == {"hz-b"}


def test_generate_yields_unique_external_ids_when_many_records(records: list[dict[str, Any]]) -> None:
    assert len({r["external_id"] for r in records}) == len(records)


def test_generate_yields_json_safe_values_when_serialised(records: list[dict[str, Any]]) -> None:
    assert all(_json_safe(r) for r in records)
    assert json.loads(json.dumps(records, ensure_ascii=False)) == records


def test_generate_yields_records_the_import_model_accepts_when_validated(
    records: list[dict[str, Any]],
) -> None:
    for r in records:
        model = VisitImportRecord.model_validate(r)
        assert model.external_id == r["external_id"]
        assert len(model.repayment_history) == len(r["repayment_history"])


def test_generate_yields_valid_identity_fields_when_checked(records: list[dict[str, Any]]) -> None:
    for r in records:
        assert all(r.get(f) not in (None, "") for f in REQUIRED), r["external_id"]
        assert is_valid_mobile(r["phone"])
        assert is_valid_id_number(r["id_number"], today=DEFAULT_AS_OF)
        assert r["id_number"][:6] == DISTRICT_AREA_CODES[r["district"]]
        born = id_birth_date(r["id_number"])
        assert born is not None and 1965 <= born.year <= 2003
        assert 2 <= len(r["borrower_name"]) <= 3
        assert r["address"].startswith(f"浙江省杭州市{r['district']}")
        assert re.search(r"\d+幢\d+单元\d+室$", r["address"]), r["address"]


def test_generate_yields_two_decimal_money_and_hangzhou_coordinates_when_checked(
    records: list[dict[str, Any]],
) -> None:
    for r in records:
        outstanding = _cents(r["outstanding_principal"])
        _cents(r["overdue_amount"])
        assert _cents(r["contractual_instalment"]) > 0
        assert re.fullmatch(r"0\.\d{4}", r["monthly_rate"])
        assert Decimal("0") < Decimal(r["monthly_rate"]) < Decimal("0.02")  # below the 24 % a year of P-5
        lo, hi = (1_000, 50_000) if r["product_type"] == "consumer_instalment" else (5_000, 200_000)
        assert lo * 100 <= outstanding <= hi * 100, (r["product_type"], r["outstanding_principal"])
        assert COORD_RE.fullmatch(r["lat"]) and COORD_RE.fullmatch(r["lon"])
        assert Decimal("29.9") < Decimal(r["lat"]) < Decimal("30.6")
        assert Decimal("119.8") < Decimal(r["lon"]) < Decimal("120.6")


def test_generate_yields_history_consistent_with_dpd_when_as_of_given() -> None:
    as_of = date(2025, 12, 31)
    partial = earlier_paid = 0
    for r in generate_import_records(1000, seed=99, as_of=as_of):
        history = r["repayment_history"]
        assert 1 <= len(history) <= 12
        due_dates = [date.fromisoformat(h["due_date"]) for h in history]
        assert due_dates == sorted(due_dates) and due_dates[-1] <= as_of
        unpaid = [h for h in history if _cents(h["amount_paid"]) < _cents(h["amount_due"])]
        assert date.fromisoformat(unpaid[0]["due_date"]) == as_of - timedelta(days=r["dpd"])  # domain B-1
        # Once an instalment is unpaid, every later one is too: payments clear the oldest first.
        assert history[-len(unpaid) :] == unpaid
        arrears = sum(_cents(h["amount_due"]) - _cents(h["amount_paid"]) for h in unpaid)
        assert arrears == _cents(r["overdue_amount"])
        for h in history:
            if _cents(h["amount_paid"]) > 0:
                assert h["paid_on"] is not None and date.fromisoformat(h["paid_on"]) < as_of
            else:
                assert h["paid_on"] is None
        partial += 0 < _cents(unpaid[0]["amount_paid"])
        earlier_paid += len(history) > len(unpaid)
    assert partial >= 100 and earlier_paid >= 500


def test_generate_covers_every_bucket_and_product_when_1000_records(records: list[dict[str, Any]]) -> None:
    assert {_bucket(r["dpd"]) for r in records} == {1, 2, 3, 4, 5, 6, 7}
    assert {r["product_type"] for r in records} == {"consumer_instalment", "cash_loan"}


def test_generate_varies_priority_inputs_when_1000_records(records: list[dict[str, Any]]) -> None:
    broken = [r["broken_ptp_count"] for r in records]
    assert any(b >= 1 for b in broken) and any(b >= 2 for b in broken) and 0 in broken
    lost = sum(r["contact_lost"] for r in records)
    on_plan = sum(r["active_plan_current"] for r in records)
    assert 0 < lost < 500
    assert 0 < on_plan < 60
    assert all(r["days_since_last_contact"] >= 0 for r in records)
    assert any(_cents(r["outstanding_principal"]) >= 3_000_000 for r in records)  # dispatch "high balance"


@pytest.mark.parametrize("team", sorted(TEAM_DISTRICTS))
def test_generate_places_records_in_team_districts_when_team_given(team: str) -> None:
    found = {r["district"] for r in generate_import_records(400, team=team)}
    assert found == set(TEAM_DISTRICTS[team])


def test_generate_uses_given_districts_when_districts_passed() -> None:
    found = {r["district"] for r in generate_import_records(200, districts=["萧山区", "滨江区"])}
    assert found == {"萧山区", "滨江区"}


@pytest.mark.parametrize("districts", [["朝阳区"], []])
def test_generate_raises_when_districts_are_not_hangzhou(districts: list[str]) -> None:
    with pytest.raises(ValueError):
        generate_import_records(1, districts=districts)


def test_generate_produces_100k_records_when_asked() -> None:
    big = generate_import_records(100_000)
    assert len(big) == 100_000
    assert big[-1]["external_id"] == "LN-HZA-0100000"
    assert big[:1000] == generate_import_records(1000)


def test_demo_users_cover_every_district_twice_when_grouped_by_team() -> None:
    users = demo_users()
    for team, districts in TEAM_DISTRICTS.items():
        investigators = [u for u in users if u["team"] == team and u["role"] == "investigator"]
        assert len(investigators) >= 4
        for district in districts:
            assert sum(district in u["districts"] for u in investigators) >= 2, (team, district)
        assert all(set(u["districts"]) <= set(districts) for u in investigators)


def test_demo_users_have_expected_accounts_when_listed() -> None:
    users = demo_users()
    by_name = {u["username"]: u for u in users}
    assert len(by_name) == len(users)
    assert by_name["admin"]["role"] == "admin"
    assert (by_name["sup.a"]["role"], by_name["sup.a"]["team"]) == ("supervisor", "hz-a")
    assert (by_name["sup.b"]["role"], by_name["sup.b"]["team"]) == ("supervisor", "hz-b")
    assert {f"inv.a{i}" for i in range(1, 7)} | {f"inv.b{i}" for i in range(1, 5)} <= set(by_name)
    for u in users:
        assert u["password"] == DEMO_PASSWORD == "demo1234"
        assert u["team"] in TEAM_DISTRICTS
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,3}", u["name"]), u["name"]
        assert isinstance(u["experience_years"], int) and u["experience_years"] >= 0
        assert set(u["districts"]) <= set(DISTRICTS)
    assert len({u["experience_years"] for u in users if u["role"] == "investigator"}) > 3


def test_to_csv_rows_round_trips_when_written_and_read_back(records: list[dict[str, Any]]) -> None:
    header, rows = to_csv_rows(records[:50])
    assert header == list(CSV_COLUMNS)
    assert set(REQUIRED) <= set(header)
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    back = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert len(back) == 50
    for rec, row in zip(records[:50], back, strict=True):
        assert json.loads(row["repayment_history"]) == rec["repayment_history"]
        assert row["dpd"] == str(rec["dpd"])
        assert row["contact_lost"] == ("true" if rec["contact_lost"] else "false")
        assert [row[c] for c in REQUIRED] == [str(rec[c]) for c in REQUIRED]


def test_generate_never_repeats_an_id_number_within_a_team_when_100k_records() -> None:
    big = generate_import_records(100_000, seed=2026, team="hz-a")
    ids = [r["id_number"] for r in big]
    assert len(set(ids)) == len(ids)
    years = {int(i[6:10]) for i in ids}
    assert min(years) == 1965 and max(years) == 2003  # birth dates still spread over the whole range
