"""Visits: the loan system's import (upsert by external_id), lists, detail and assignment (R-2)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlite_utils import Database

from models.canonical import MAX_JSON_DEPTH, loads_json
from models.entities import Borrower, LoanAccount, VisitImportRecord
from models.ids import new_id
from models.messages import render, row_errors
from models.privacy import mask_name
from models.risk import bucket as bucket_of
from models.risk import priority_score
from sync.server.errors import ApiError, RefusedRecord
from sync.server.store.common import Principal, audit, dumps, loads
from sync.server.store.contact import contact_problems
from sync.server.store.state import add_changes, collectors, visit_payload, visit_visible
from sync.server.store.tracking import TrackingPolicy

__all__ = ["assign_visit", "csv_records", "get_visit", "import_visits", "list_visits"]

_VISIT_STATUSES = ("open", "assigned", "visited", "closed")


# CSV cells are text. Whole-number columns become JSON integers when they are ASCII digits; other text is
# left for validation to name. Number cells keep their spaces: " 100.00" is as malformed here as in JSON.
_INT_COLUMNS = frozenset({"dpd", "broken_ptp_count", "days_since_last_contact"})
_NUMBER_COLUMNS = _INT_COLUMNS | {
    "outstanding_principal",
    "overdue_amount",
    "contractual_instalment",
    "monthly_rate",
    "lat",
    "lon",
}
_ASCII_INT = re.compile(r"-?[0-9]+").fullmatch
# Yes/no columns: a JSON record carries true/false; a CSV cell is text, read here as the loan system writes it.
_BOOL_COLUMNS = frozenset(
    {
        "contact_lost",
        "active_plan_current",
        "contact_stopped",
        "phone_invalid",
        "deceased",
        "legal_hold",
        "fraud_suspected",
    }
)
_CSV_BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def csv_records(text: str) -> list[dict[str, Any]]:
    """CSV rows as import records: blank cells are absent, `repayment_history` is a JSON cell."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    out: list[dict[str, Any]] = []
    for row in reader:
        rec: dict[str, Any] = {}
        for key, cell in row.items():
            if key is None or cell is None:
                continue
            key = key.strip()
            value = cell.strip()
            if value == "":
                continue
            if key == "repayment_history":
                try:
                    rec[key] = loads_json(value, max_depth=MAX_JSON_DEPTH)
                except ValueError:
                    rec[key] = value  # left as text, so validation reports the field
                continue
            if key in _BOOL_COLUMNS and value.lower() in _CSV_BOOLS:
                rec[key] = _CSV_BOOLS[value.lower()]
                continue
            if key in _NUMBER_COLUMNS:
                value = cell
                if key in _INT_COLUMNS and _ASCII_INT(cell) is not None:
                    rec[key] = int(cell)
                    continue
            rec[key] = value
        out.append(rec)
    return out


def _visit_data(r: VisitImportRecord) -> tuple[dict[str, Any], int, Decimal]:
    b = bucket_of(r.dpd)
    borrower = Borrower(
        name=r.borrower_name,
        phone=r.phone,
        id_number=r.id_number,
        address=r.address,
        district=r.district,
        lat=r.lat,
        lon=r.lon,
    )
    loan = LoanAccount(
        external_id=r.external_id,
        product_type=r.product_type,
        outstanding_principal=r.outstanding_principal,
        overdue_amount=r.overdue_amount,
        dpd=r.dpd,
        bucket=b,
        contractual_instalment=r.contractual_instalment,
        monthly_rate=r.monthly_rate,
        repayment_history=r.repayment_history,
    )
    priority = priority_score(
        bucket=b,
        balance=r.outstanding_principal,
        broken_ptp=r.broken_ptp_count,
        contact_lost=r.contact_lost,
        days_since_last_contact=r.days_since_last_contact or 0,
        active_plan_current=r.active_plan_current,
    )
    data = {
        "borrower": borrower.model_dump(mode="json"),
        "loan": loan.model_dump(mode="json"),
        "priority": str(priority),
        "broken_ptp_count": r.broken_ptp_count,
        "days_since_last_contact": r.days_since_last_contact,
        "contact_lost": r.contact_lost,
        "active_plan_current": r.active_plan_current,
        "contact_stopped": r.contact_stopped,
        "phone_invalid": r.phone_invalid,
        "deceased": r.deceased,
        "legal_hold": r.legal_hold,
        "fraud_suspected": r.fraud_suspected,
    }
    return data, b, priority


def _tombstone(db: Database, visit_id: str, user_ids: list[str]) -> None:
    if not user_ids:
        return
    add_changes(db, user_ids, "visit", "del", visit_id)
    for (rid,) in db.execute("SELECT id FROM reports WHERE visit_id = ?", [visit_id]).fetchall():
        add_changes(db, user_ids, "report_review", "del", rid)


def import_visits(
    db: Database, *, actor: Principal, records: list[Any], now: datetime, lang: str = "en"
) -> dict[str, Any]:
    """Upsert each record on its own; a bad row becomes row errors (in `lang`) and never stops the others."""
    created = updated = 0
    visits: list[dict[str, str]] = []
    errors: list[dict[str, Any]] = []
    ts = now.isoformat()
    for row, rec in enumerate(records, start=1):
        if isinstance(rec, RefusedRecord):  # text holding U+0000
            errors.append({"row": row, "field": rec.field, "msg": render(rec.code, lang)})
            continue
        if not isinstance(rec, dict):
            errors.append({"row": row, "field": "", "msg": render("import.not_object", lang)})
            continue
        try:
            r = VisitImportRecord.model_validate(rec)
        except ValidationError as exc:
            errors += row_errors(row, exc.errors(), lang)
            continue
        if not actor.is_admin and r.team != actor.team:
            errors.append({"row": row, "field": "team", "msg": render("import.team_scope", lang)})
            continue
        found = db.execute(
            "SELECT id, team, status, json_extract(data, '$.contact_stopped') FROM visits WHERE external_id = ?",
            [r.external_id],
        ).fetchone()
        if found is not None and found[1] != r.team:
            errors.append(
                {"row": row, "field": "external_id", "msg": render("import.external_id_team", lang)}
            )
            continue
        data, b, priority = _visit_data(r)
        closing = r.status is not None and r.status.value == "closed"
        if found is None:
            vid = new_id()
            db.execute(
                "INSERT INTO visits(id, external_id, team, status, district, bucket, priority, dpd, outstanding, "
                "borrower_name, planned_date, data, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    vid,
                    r.external_id,
                    r.team,
                    "closed" if closing else "open",
                    r.district,
                    b,
                    float(priority),
                    r.dpd,
                    str(r.outstanding_principal),
                    r.borrower_name,
                    None,
                    dumps(data),
                    ts,
                    ts,
                ],
            )
            created += 1
            audit(db, at=ts, actor=actor, action="visit.create", entity="visit", entity_id=vid)
        else:
            vid, _, status, _stopped = found
            current = collectors(db, vid)
            if closing:
                new_status = "closed"
            elif status == "closed" and r.status is not None and r.status.value == "open":
                new_status = "open"
            else:
                new_status = status
            db.execute(
                "UPDATE visits SET status = ?, district = ?, bucket = ?, priority = ?, dpd = ?, outstanding = ?, "
                "borrower_name = ?, data = ?, updated_at = ? WHERE id = ?",
                [
                    new_status,
                    r.district,
                    b,
                    float(priority),
                    r.dpd,
                    str(r.outstanding_principal),
                    r.borrower_name,
                    dumps(data),
                    ts,
                    vid,
                ],
            )
            if new_status == "closed" and current:
                db.execute("UPDATE visit_assignees SET active = 0 WHERE visit_id = ?", [vid])
                _tombstone(db, vid, current)
            elif current:
                add_changes(db, current, "visit", "put", vid)
            updated += 1
            audit(
                db,
                at=ts,
                actor=actor,
                action="visit.close" if closing else "visit.update",
                entity="visit",
                entity_id=vid,
            )
        if r.contact_stopped and (found is None or not found[3]):
            # R-14 from the loan system: the stop holds until a supervisor clears it.
            db.execute(
                "INSERT INTO contact_events(visit_id, kind, source, at, actor_id) VALUES (?, 'stop', 'import', ?, ?)",
                [vid, ts, actor.user_id],
            )
        visits.append({"external_id": r.external_id, "visit_id": vid})
    return {"created": created, "updated": updated, "visits": visits, "errors": errors}


def list_visits(
    db: Database,
    *,
    actor: Principal,
    status: str | None,
    district: str | None,
    unassigned: bool,
    team: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    clauses: list[str] = []
    args: list[Any] = []
    if not actor.is_admin:
        clauses.append("v.team = ?")
        args.append(actor.team)
    if team:
        clauses.append("v.team = ?")
        args.append(team)
    if status:
        if status not in _VISIT_STATUSES:
            raise ApiError(
                422,
                "validation",
                "unknown status",
                [{"loc": ["query", "status"], "msg": "open, assigned, visited or closed"}],
            )
        clauses.append("v.status = ?")
        args.append(status)
    if district:
        clauses.append("v.district = ?")
        args.append(district)
    if unassigned:
        clauses.append(
            "NOT EXISTS (SELECT 1 FROM visit_assignees a WHERE a.visit_id = v.id AND a.active = 1)"
        )
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    total = db.execute(f"SELECT COUNT(*) FROM visits v {where}", args).fetchone()[0]
    rows = db.query(
        "SELECT v.*, (SELECT json_group_array(user_id) FROM (SELECT user_id FROM visit_assignees a "
        " WHERE a.visit_id = v.id AND a.active = 1 ORDER BY position, user_id) AS ranked) AS ids "
        f"FROM visits v {where} ORDER BY v.priority DESC, v.external_id LIMIT ? OFFSET ?",
        [*args, limit, offset],
    )
    items = []
    for v in rows:
        data = loads(v["data"], {})
        items.append(
            {
                "visit_id": v["id"],
                "external_id": v["external_id"],
                "team": v["team"],
                "district": v["district"],
                "status": v["status"],
                "bucket": v["bucket"],
                "priority": data.get("priority", "0"),
                "dpd": v["dpd"],
                "outstanding_principal": v["outstanding"],
                "investigator_ids": loads(v["ids"], []),
                "planned_date": v["planned_date"],
                "borrower_name_masked": mask_name(v["borrower_name"] or ""),
                "updated_at": v["updated_at"],
            }
        )
    return {"items": items, "total": total}


def _load(db: Database, actor: Principal, visit_id: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM visits WHERE id = ?", [visit_id]))
    if not rows or not visit_visible(db, actor, visit_id, rows[0]["team"]):
        raise ApiError(404, "not_found", "no such visit")
    return rows[0]


def get_visit(db: Database, *, actor: Principal, visit_id: str) -> dict[str, Any]:
    return visit_payload(db, _load(db, actor, visit_id))


def assign_visit(
    db: Database,
    *,
    actor: Principal,
    visit_id: str,
    investigator_ids: list[str],
    planned_date: date | None,
    now: datetime,
    purpose: str = "debtor",
    policy: Any = None,
    lang: str = "en",
) -> dict[str, Any]:
    """Assign ≥ 2 distinct collectors of the visit's team (R-2); removed collectors get tombstones. The
    contact rules (R-11, R-13, R-14) refuse with 409 `contact_rule`, each problem naming its rule."""
    visit = _load(db, actor, visit_id)
    if actor.is_investigator:
        raise ApiError(403, "forbidden", "only a supervisor or an admin may assign visits")
    ids = list(dict.fromkeys(i.strip() for i in investigator_ids if i.strip()))
    if len(ids) < 2:
        raise ApiError(
            422,
            "validation",
            "a visit needs at least two distinct collectors (R-2)",
            [{"loc": ["body", "investigator_ids"], "msg": "at least two distinct collectors (R-2)"}],
        )
    bad = []
    for i, uid in enumerate(ids):
        u = db.execute("SELECT role, team, active FROM users WHERE id = ?", [uid]).fetchone()
        if u is None or u[0] != "investigator" or u[1] != visit["team"] or not u[2]:
            bad.append(
                {"loc": ["body", "investigator_ids", i], "msg": "not an investigator of the visit's team"}
            )
    if bad:
        raise ApiError(422, "validation", "every collector must be an investigator of the visit's team", bad)
    if visit["status"] == "closed":
        raise ApiError(409, "visit_closed", "the visit is closed")
    # R-13 counts the visits a new planned date would add; changing only the collectors plans none.
    problems = contact_problems(
        db, visit=visit, planned=planned_date, purpose=purpose, policy=policy or TrackingPolicy(), lang=lang
    )
    if problems:
        raise ApiError(
            409,
            "contact_rule",
            "; ".join(p["msg"] for p in problems),
            [{"rule": p["rule"], "code": p["code"], "msg": p["msg"]} for p in problems],
        )
    db.execute("DELETE FROM account_reopened WHERE visit_id = ?", [visit_id])
    current = collectors(db, visit_id)
    removed = [u for u in current if u not in ids]
    added = [u for u in ids if u not in current]
    ts = now.isoformat()
    if removed:
        db.conn.executemany(
            "UPDATE visit_assignees SET active = 0 WHERE visit_id = ? AND user_id = ?",
            [(visit_id, u) for u in removed],
        )
        _tombstone(db, visit_id, removed)
    db.conn.executemany(
        "INSERT INTO visit_assignees(visit_id, user_id, active, position, assigned_at) VALUES (?,?,1,?,?) "
        "ON CONFLICT(visit_id, user_id) DO UPDATE SET active = 1, position = excluded.position, "
        "assigned_at = CASE WHEN visit_assignees.active = 1 THEN visit_assignees.assigned_at "
        "ELSE excluded.assigned_at END",
        [(visit_id, u, pos, ts) for pos, u in enumerate(ids)],
    )
    status = "assigned" if visit["status"] == "open" else visit["status"]
    planned = planned_date.isoformat() if planned_date else visit["planned_date"]
    db.execute(
        "UPDATE visits SET status = ?, planned_date = ?, updated_at = ? WHERE id = ?",
        [status, planned, ts, visit_id],
    )
    add_changes(db, ids, "visit", "put", visit_id)
    if added:
        for (rid,) in db.execute("SELECT id FROM reports WHERE visit_id = ?", [visit_id]).fetchall():
            add_changes(db, added, "report_review", "put", rid)
    audit(
        db,
        at=ts,
        actor=actor,
        action="visit.assign",
        entity="visit",
        entity_id=visit_id,
        detail={"investigator_ids": ids, "removed": removed, "purpose": purpose},
    )
    return {
        "visit_id": visit_id,
        "status": status,
        "investigator_ids": ids,
        "planned_date": planned,
        "removed": removed,
        "purpose": purpose,
    }
