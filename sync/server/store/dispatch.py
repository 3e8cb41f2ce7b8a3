"""Dispatch suggestion (domain §8 step 2): two collectors per open visit by district, load and experience."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlite_utils import Database

from models.messages import render
from sync.server.store.common import loads
from sync.server.store.contact import dispatch_exclusion
from sync.server.store.tracking import TrackingPolicy

__all__ = ["DispatchPolicy", "suggest"]


@dataclass(frozen=True, slots=True)
class DispatchPolicy:
    capacity: int = 8
    high_balance: Decimal = Decimal("30000.00")
    high_bucket: int = 4


def suggest(
    db: Database,
    *,
    team: str,
    day: date,
    policy: DispatchPolicy,
    lang: str = "en",
    rules: TrackingPolicy | None = None,
) -> dict[str, Any]:
    """Nothing is assigned here; the supervisor applies a suggestion with `assign`. Reasons are in `lang`.
    A visit the contact rules (R-13, R-14) or the queue exclusions of domain §6.3 keep out is `unassigned`
    with the rule in its reason."""
    rules = rules or TrackingPolicy()
    people = [
        {
            "id": r["id"],
            "districts": set(loads(r["districts"], [])),
            "experience": r["experience_years"] or 0,
        }
        for r in db.query(
            "SELECT id, districts, experience_years FROM users WHERE team = ? AND role = 'investigator' "
            "AND active = 1 ORDER BY id",
            [team],
        )
    ]
    load = {p["id"]: 0 for p in people}
    for uid, n in db.execute(
        "SELECT a.user_id, COUNT(*) FROM visit_assignees a JOIN visits v ON v.id = a.visit_id "
        "WHERE a.active = 1 AND v.planned_date = ? AND v.status != 'closed' GROUP BY a.user_id",
        [day.isoformat()],
    ).fetchall():
        if uid in load:
            load[uid] = n
    assignments: list[dict[str, Any]] = []
    unassigned: list[dict[str, Any]] = []
    visits = db.query(
        "SELECT v.id, v.district, v.bucket, v.outstanding, v.data FROM visits v WHERE v.team = ? AND v.status = 'open' "
        "AND NOT EXISTS (SELECT 1 FROM visit_assignees a WHERE a.visit_id = v.id AND a.active = 1) "
        "ORDER BY v.priority DESC, v.external_id",
        [team],
    )
    for v in visits:
        excluded = dispatch_exclusion(db, visit=v, day=day, policy=rules, lang=lang)
        if excluded is not None:
            unassigned.append({"visit_id": v["id"], "reason": excluded})
            continue
        in_district = [p for p in people if v["district"] in p["districts"]]
        if len(in_district) < 2:
            unassigned.append(
                {
                    "visit_id": v["id"],
                    "reason": render("dispatch.too_few", lang, district=v["district"]),
                }
            )
            continue
        free = [p for p in in_district if load[p["id"]] < policy.capacity]
        if len(free) < 2:
            unassigned.append(
                {
                    "visit_id": v["id"],
                    "reason": render(
                        "dispatch.capacity", lang, capacity=policy.capacity, district=v["district"]
                    ),
                }
            )
            continue
        high = (
            Decimal(v["outstanding"] or "0") >= policy.high_balance
            or (v["bucket"] or 0) >= policy.high_bucket
        )
        if high:
            lead = min(free, key=lambda p: (-p["experience"], load[p["id"]], p["id"]))
            partner = min(
                (p for p in free if p is not lead), key=lambda p: (load[p["id"]], -p["experience"], p["id"])
            )
            reason = render("dispatch.high", lang, district=v["district"], bucket=policy.high_bucket)
        else:
            lead, partner = sorted(free, key=lambda p: (load[p["id"]], -p["experience"], p["id"]))[:2]
            reason = render("dispatch.load", lang, district=v["district"])
        load[lead["id"]] += 1
        load[partner["id"]] += 1
        assignments.append(
            {"visit_id": v["id"], "investigator_ids": [lead["id"], partner["id"]], "reason": reason}
        )
    return {"date": day.isoformat(), "team": team, "assignments": assignments, "unassigned": unassigned}
