"""The one catalogue of labels (models/labels.py): every flag, rule and code list named in both languages."""

from __future__ import annotations

import re

import pytest

from models import codes
from models.labels import FLAGS, KINDS, LABELS, LANGUAGES, RULES, label, labels

_RULE_ID = re.compile(r"\b[RPAF]-\d+\b")


@pytest.mark.parametrize("flag", FLAGS)
def test_flag_has_label_and_explanation_when_catalogued(flag: str) -> None:
    for kind in ("flag", "flag_help"):
        zh, en = LABELS[f"{kind}.{flag}"]
        assert zh.strip() and en.strip(), (kind, flag)
        assert re.search(r"[\u4e00-\u9fff]", zh), (kind, flag)  # the Chinese text is Chinese
        assert not re.search(r"[\u4e00-\u9fff]", en), (kind, flag)
    zh_help, en_help = LABELS[f"flag_help.{flag}"]
    if flag != "report_final":  # a finished review, not a broken rule
        assert _RULE_ID.findall(zh_help) and _RULE_ID.findall(zh_help) == _RULE_ID.findall(en_help), flag


def test_flag_list_matches_catalogue_when_compared() -> None:
    assert set(FLAGS) == set(KINDS["flag"]) == set(KINDS["flag_help"])
    v11 = {"checkin_missing", "id_not_shown", "entry_without_consent", "third_party_attestation_missing",
           "term_beyond_max", "product_mismatch", "over_capacity", "dsr_high", "dsr_severe", "hardship",
           "above_charge_cap", "p4_ceiling_exceeded"}  # fmt: skip
    v1 = {"collectors_differ", "checkin_outside_hours", "checkin_outside_planned_date", "plan_mismatch",
          "visit_reassigned", "report_final"}  # fmt: skip
    assert set(FLAGS) == v1 | v11


def test_rule_has_title_in_both_languages_when_named_by_a_flag() -> None:
    for rule in ("R-1", "R-2", "R-3", "R-4", "R-6", "R-7", "R-12", "P-1", "P-3", "P-4", "P-5", "P-6"):
        assert rule in RULES
    for rule in ("A-1", "A-4", "A-6", "A-7"):
        assert rule in RULES
    assert set(RULES) == set(KINDS["rule"])
    for rule in RULES:
        zh, en = LABELS[f"rule.{rule}"]
        assert zh.strip() and en.strip(), rule
    named = {r for zh, _en in KINDS["flag_help"].values() for r in _RULE_ID.findall(zh)}
    assert named <= set(RULES), named - set(RULES)


@pytest.mark.parametrize(
    ("kind", "enum"),
    [
        ("outcome", codes.ContactOutcome),
        ("result", codes.InterviewResult),
        ("reason", codes.Reason),
        ("willingness", codes.Willingness),
        ("option", codes.PlanOption),
        ("category", codes.ExpenseCategory),
        ("source", codes.IncomeSource),
        ("evidence", codes.EvidenceLevel),
        ("report_status", codes.ReportStatus),
        ("action", codes.ReviewAction),
        ("route", codes.LegalRoute),
        ("agreement", codes.AgreementMethod),
        ("location", codes.LocationKind),
        ("attachment", codes.AttachmentKind),
        ("product", codes.ProductType),
    ],
)
def test_code_list_is_labelled_in_both_languages_when_it_has_a_code(kind: str, enum: type) -> None:
    for member in enum:  # type: ignore[attr-defined]
        zh, en = LABELS[f"{kind}.{member.value}"]
        assert zh.strip() and en.strip(), (kind, member)


def test_labels_give_one_language_when_asked() -> None:
    assert LANGUAGES == ("zh-CN", "en")
    zh, en = labels("zh-CN"), labels("en")
    assert set(zh) == set(en) == set(LABELS)
    assert zh["flag.over_capacity"] == "月供超过还款能力（P-3）"
    assert en["flag_help.over_capacity"].startswith("By the server's count")
    assert labels("zh") == zh


def test_label_returns_code_when_unknown() -> None:
    assert label("outcome", codes.ContactOutcome.MET_BORROWER, "en") == "Met the borrower"
    assert label("flag", "no_such_flag") == "no_such_flag"


def test_rule_book_flags_and_rules_are_labelled_when_the_book_names_them() -> None:
    from models.rules import APPROVAL_BLOCKING_FLAGS, SIGN_OFF_FLAGS
    from models.rules import RULES as BOOK

    flags = {d.flag for d in BOOK.values() if d.flag} | set(SIGN_OFF_FLAGS) | set(APPROVAL_BLOCKING_FLAGS)
    assert flags <= set(FLAGS), flags - set(FLAGS)
    assert {d.rule for d in BOOK.values()} <= set(RULES)
    assert {f"severity.{s}" for s in ("block", "sign_off", "note")} <= set(LABELS)
