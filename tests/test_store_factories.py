"""Factories and fixtures for the device store tests: visits, reports, a stepping clock and sequential ids."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from models.codes import VisitStatus
from models.entities import Borrower, LoanAccount, Visit
from models.identity import gb11643_check_digit
from models.report import AttachmentMeta, VisitReport
from models.wire import Change, MutationResult, PullResponse, PushResponse
from storage.store import DeviceStore

EPOCH = "e0000000-0000-4000-8000-000000000001"


class StepClock:
    """Each reading is one second after the previous one, so orderings by time are deterministic."""

    def __init__(self, start: datetime = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def seq_ids(prefix: str = "a") -> Any:
    counter = itertools.count(1)
    return lambda: f"{prefix * 8}-0000-4000-8000-{next(counter):012d}"


def uid(n: int, prefix: str = "v") -> str:
    return f"{ord(prefix):08x}-0000-4000-8000-{n:012d}"


def id_number(n: int) -> str:
    first17 = f"33010619850712{n % 1000:03d}"
    return first17 + gb11643_check_digit(first17)


def make_visit(
    n: int,
    *,
    name: str = "王建国",
    phone: str | None = None,
    id_no: str | None = None,
    address: str = "杭州市西湖区文三路 100 号",
    district: str = "西湖区",
    priority: str = "10",
    status: VisitStatus = VisitStatus.ASSIGNED,
    dpd: int = 75,
    overdue: str = "3300.48",
) -> Visit:
    return Visit(
        visit_id=uid(n),
        external_id=f"LN-{n:07d}",
        team="hz-a",
        status=status,
        borrower=Borrower(
            name=name,
            phone=phone or f"138{n:08d}",
            id_number=id_no or id_number(n),
            address=address,
            district=district,
        ),
        loan=LoanAccount(
            external_id=f"LN-{n:07d}",
            product_type="cash_loan",
            outstanding_principal="20000.00",
            overdue_amount=overdue,
            dpd=dpd,
            bucket=0 if dpd == 0 else min(7, -(-dpd // 30)),
        ),
        investigator_ids=["u-1", "u-2"],
        planned_date=date(2026, 4, 2),
        priority=Decimal(priority),
    )


def make_report(
    n: int = 1, *, visit: int = 1, notes: str = "借款人配合", attachments: list[AttachmentMeta] | None = None
) -> VisitReport:
    return VisitReport(report_id=uid(n, "r"), visit_id=uid(visit), notes=notes, attachments=attachments or [])


def push_response(*results: dict[str, Any], last: int | None = None) -> PushResponse:
    rs = [MutationResult(**r) for r in results]
    return PushResponse(
        last_mutation_id=last if last is not None else max((r.mutation_id for r in rs), default=0),
        server_epoch=EPOCH,
        results=rs,
    )


def pull_page(*changes: dict[str, Any], cursor: str = "c1") -> PullResponse:
    return PullResponse(
        cursor=cursor,
        has_more=False,
        last_mutation_id=0,
        server_epoch=EPOCH,
        changes=[Change(seq=i, **c) for i, c in enumerate(changes, start=1)],
    )


def new_store(path: Path | None = None) -> DeviceStore:
    """A store on the real migrations, with the stepping clock and sequential ids."""
    return DeviceStore(path, clock=StepClock(), new_id=seq_ids())


def test_make_visit_builds_valid_distinct_visits_when_numbered() -> None:
    a, b = make_visit(1), make_visit(2)
    assert a.visit_id != b.visit_id and a.borrower.id_number != b.borrower.id_number
    assert make_report(3, visit=2).visit_id == b.visit_id
