"""Code-list, flag and rule labels for the app, taken from the one catalogue in `models.labels`.

Each label is available under its own key (`outcome.MET_BORROWER`, `flag.over_capacity`, `rule.P-5`, as
`label(kind, code)` asks for it) and under the key the visit screens use for the same code
(`visit.outcome.MET_BORROWER`, `visit.iv.reason.UNEMPLOYMENT`, …), so no screen carries its own wording.
"""

from __future__ import annotations

from models.labels import KINDS

__all__ = ["MESSAGES", "SCREEN_KEYS"]

# The visit screens' key prefix -> the label kind it shows.
SCREEN_KEYS: dict[str, str] = {
    "visit.outcome": "outcome",
    "visit.iv.result": "result",
    "visit.iv.reason": "reason",
    "visit.iv.willingness": "willingness",
    "visit.as.source": "source",
    "visit.as.evidence": "evidence",
    "visit.as.cat": "category",
    "visit.plan.option": "option",
    "visit.plan.agreement": "agreement",
    "visit.tp.relation": "relation",
    "visit.location": "location",
    "visit.att.kind": "attachment",
    "visit.header.product": "product",
}

MESSAGES: dict[str, tuple[str, str]] = {
    f"{kind}.{code}": pair for kind, codes in KINDS.items() for code, pair in codes.items()
}
MESSAGES.update(
    {f"{prefix}.{code}": pair for prefix, kind in SCREEN_KEYS.items() for code, pair in KINDS[kind].items()}
)
