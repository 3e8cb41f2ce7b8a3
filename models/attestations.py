"""The attestations a visit report makes, only those that apply to what happened on site, each as what it says
happened: a key of the labels catalogue (`attest.<field>.<yes|no|unasked>`) and the rule it is about.

An attestation that does not apply is left out rather than shown as "no": "nothing disclosed to third
parties (R-12): no" on a visit where only the borrower was met would read as "the debt was disclosed".
Applicability follows the rule book (`models.rules`). Pure, no I/O.
"""

from __future__ import annotations

from typing import Any

from models.codes import THIRD_PARTY_OUTCOMES, ContactOutcome

__all__ = ["ATTESTATIONS", "Attestation", "attestations"]

# compliance/third-party field -> the rule it attests, in the order a report lists them.
ATTESTATIONS: dict[str, str] = {
    "outside_hours_consent": "R-1",
    "id_shown": "R-3",
    "authorisation_shown": "R-3",
    "consent_to_enter": "R-4",
    "recording_on": "R-7",
    "no_disclosure_attested": "R-12",
    "message_passed": "R-12",
}

_THIRD_PARTY = frozenset(o.value for o in THIRD_PARTY_OUTCOMES)
_MET = frozenset({ContactOutcome.MET_BORROWER.value, *_THIRD_PARTY})

Attestation = dict[str, str]  # {"field", "rule", "state", "key"}


def _state(value: Any) -> str:
    return "yes" if value is True else "no" if value is False else "unasked"


def attestations(report: dict[str, Any] | None, flags: list[str] | tuple[str, ...] = ()) -> list[Attestation]:
    """The attestations that apply to `report` (a report as stored, JSON-shaped) given the server's `flags`:
    out-of-hours consent only for a check-in outside 08:00–22:00 (or when recorded), identification and
    entry only when a person was met, R-12 and the message only when a family member or third party was."""
    rep = report or {}
    c = rep.get("compliance") or {}
    outcome = rep.get("outcome")
    third_party = outcome in _THIRD_PARTY or bool(rep.get("third_party"))
    applies = {
        "outside_hours_consent": c.get("outside_hours_consent") is True or "checkin_outside_hours" in flags,
        "id_shown": outcome in _MET or c.get("id_shown") is True,
        "authorisation_shown": bool(rep.get("agency_id")),
        "consent_to_enter": outcome == ContactOutcome.MET_BORROWER.value
        or c.get("consent_to_enter") is not None,
        "recording_on": True,
        "no_disclosure_attested": third_party,
        "message_passed": bool(rep.get("third_party")),
    }
    out: list[Attestation] = []
    for name, rule in ATTESTATIONS.items():
        if not applies[name]:
            continue
        value = (rep.get("third_party") or {}).get(name) if name == "message_passed" else c.get(name)
        state = _state(value)
        if state == "unasked" and name != "consent_to_enter":
            state = "no"  # a box left unticked records that it did not happen
        out.append({"field": name, "rule": rule, "state": state, "key": f"attest.{name}.{state}"})
    return out
