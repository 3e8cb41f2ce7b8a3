"""A visit report as a PDF for risk management, with its Chinese text (the shipped CJK font is embedded; the
rare characters' font too, for a report with a character the first one lacks)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF

from models.attestations import attestations
from models.labels import label
from models.money import money_text, percent_text
from models.privacy import local_time

__all__ = ["FONT_PATH", "RARE_FONT_PATH", "render_report_pdf"]

FONT_PATH = Path(__file__).resolve().parents[3] / "assets" / "fonts" / "NotoSansSC-FieldVisit-Regular.ttf"
# Every unified ideograph the first font leaves out (scripts/make_font.py); reading WOFF2 needs `brotli`.
RARE_FONT_PATH = FONT_PATH.with_name("NotoSansSC-FieldVisit-Rare.woff2")

_L = {
    "title": "外访报告 Visit report",
    "case": "案件 Case",
    "status": "状态 State",
    "version": "版本 Version",
    "checkin": "签到 Check-in",
    "checkout": "签退 Check-out",
    "outcome": "接触结果 Outcome",
    "compliance": "合规 Compliance",
    "interview": "访谈 Interview",
    "assessment": "收支评估 Income and expenses",
    "plan": "还款方案 Repayment plan",
    "schedule": "还款计划表 Schedule",
    "comments": "版本与审核 Versions and review",
    "flags": "标记 Flags",
    "sign_off": "审批理由 Sign-off reason",
    "apr": "年化利率（复利）APR compound",
    "apr_simple": "年化利率（单利）APR simple",
}


def _lab(kind: str, code: Any) -> str:
    """A code's label in both languages ("见到本人 Met the borrower"); empty for no code."""
    if code in (None, ""):
        return ""
    zh, en = label(kind, code, "zh-CN"), label(kind, code, "en")
    return zh if zh == en else f"{zh} {en}"


def _labs(kind: str, codes: Any) -> str:
    return "; ".join(_lab(kind, c) for c in codes or [])


def _ts(v: Any) -> str:
    if not v:
        return ""
    try:
        return local_time(datetime.fromisoformat(str(v))).strftime("%Y-%m-%d %H:%M")
    except (ValueError, TypeError):
        return str(v)


def _both(zh: str, en: str) -> str:
    return zh if zh == en else f"{zh} {en}"


def _version_label(n: int) -> str:
    return f"第 {n} 版 Version {n}"


def _timeline(
    history: list[dict[str, Any]], comments: list[dict[str, Any]]
) -> list[tuple[int, int, dict[str, Any]]]:
    """Report versions (numbered 1, 2, … by submission) and review steps in the order they happened:
    (server_version, 0 for a version or 1 for a review step, the entry with its `n` for a version)."""
    out = [(int(v.get("server_version") or 0), 0, dict(v, n=i)) for i, v in enumerate(history, 1)]
    out += [(int(c.get("server_version") or 0), 1, c) for c in comments]
    return sorted(out, key=lambda x: (x[0], x[1]))


def _pct(v: Any) -> str:
    text = percent_text(None if v is None else str(v))
    return text if text.endswith("%") else ""  # a value that is not a rate is left blank


@functools.lru_cache(maxsize=1)
def _drawn() -> frozenset[int]:
    """The characters the first font draws."""
    from fontTools.ttLib import TTFont

    return frozenset(TTFont(str(FONT_PATH), lazy=True).getBestCmap())


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _needs_rare(*values: Any) -> bool:
    """Whether a text among `values` has a hanzi the first font lacks (the rare font costs 0.3 s to load)."""
    drawn = _drawn()
    return any(
        0x4E00 <= ord(ch) <= 0x9FFF and ord(ch) not in drawn for text in _strings(values) for ch in text
    )


class _Doc(FPDF):
    def __init__(self, *, rare: bool = False) -> None:
        super().__init__(format="A4")
        self.add_font("sc", "", str(FONT_PATH))
        if rare:
            self.add_font("sc-rare", "", str(RARE_FONT_PATH))
            self.set_fallback_fonts(["sc-rare"])
        self.set_auto_page_break(True, margin=15)
        self.add_page()
        self.set_font("sc", size=10)

    def heading(self, text: str) -> None:
        self.ln(2)
        self.set_font("sc", size=13)
        self.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        self.set_font("sc", size=10)

    def bullet(self, text: str) -> None:
        self.multi_cell(0, 6, f"· {text}", new_x="LMARGIN", new_y="NEXT")

    def kv(self, key: str, value: Any) -> None:
        if value in (None, "", []):
            return
        self.multi_cell(0, 6, f"{key}: {value}", new_x="LMARGIN", new_y="NEXT")


def render_report_pdf(
    *,
    report: dict[str, Any],
    status: str,
    external_id: str = "",
    flags: list[str] | None = None,
    comments: list[dict[str, Any]] | None = None,
    recomputed: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    current_version_id: str | None = None,
) -> bytes:
    """The report as a PDF; `history` (the applied versions) numbers the current one and lists each version
    with the review steps between them; amounts read as on every screen ("8,529.48")."""
    history = history or []
    current = next((i for i, v in enumerate(history, 1) if v.get("version_id") == current_version_id), None)
    version_n = current or len(history) or 1
    d = _Doc(rare=_needs_rare(report, external_id, comments, recomputed, history))
    d.set_font("sc", size=16)
    d.multi_cell(0, 10, _L["title"], new_x="LMARGIN", new_y="NEXT")
    d.set_font("sc", size=10)
    d.kv(_L["case"], f"{external_id} · report {report.get('report_id', '')}")
    d.kv(_L["status"], _lab("report_status", status))
    d.kv(_L["version"], _version_label(version_n))
    if flags:
        d.heading(_L["flags"])
        for flag in flags:
            d.kv(_lab("flag", flag), f"{label('flag_help', flag, 'zh-CN')} {label('flag_help', flag, 'en')}")

    ci, co, comp = report.get("checkin") or {}, report.get("checkout") or {}, report.get("compliance") or {}
    d.heading(_L["checkin"])
    d.kv(_L["checkin"], _ts(ci.get("at")))
    pos = ci.get("position") or {}
    if pos:
        d.kv("GPS", f"{pos.get('lat')}, {pos.get('lon')} ±{pos.get('accuracy_m') or '?'} m")
    d.kv(_L["checkout"], _ts(co.get("at")))
    d.kv(_L["outcome"], _lab("outcome", report.get("outcome")))
    found = attestations(report, flags or [])
    if found:
        d.heading(_L["compliance"])
        for att in found:
            d.bullet(_lab("attest", att["key"].split(".", 1)[1]))
        d.kv("访谈地点 Interview held", _lab("location", comp.get("location_kind")))
    d.kv("备注 Notes", report.get("notes"))

    iv = report.get("interview")
    if iv:
        d.heading(_L["interview"])
        d.kv("结果 Results", _labs("result", iv.get("results")))
        d.kv("原因 Reasons", _labs("reason", iv.get("reasons")))
        d.kv("主要原因 Primary", _lab("reason", iv.get("primary_reason")))
        d.kv("意愿 Willingness", _lab("willingness", iv.get("willingness")))
        promise = iv.get("promise") or {}
        if promise:
            d.kv("承诺还款 Promise", f"{money_text(promise.get('amount'))} @ {promise.get('date')}")

    a = report.get("assessment")
    aff = (recomputed or {}).get("affordability") or {}
    if a:
        d.heading(_L["assessment"])
        for line in a.get("incomes") or []:
            source, evidence = _lab("source", line.get("source")), _lab("evidence", line.get("evidence"))
            d.kv(f"收入 Income · {source} ({evidence})", money_text(line.get("amount")))
        for line in a.get("expenses") or []:
            d.kv(f"支出 Expense · {_lab('category', line.get('category'))}", money_text(line.get("amount")))
        for k, name in (
            ("net_income", "家庭净收入 Net income"),
            ("essential_expenses", "必要支出 Essential expenses"),
            ("debt_service", "其他债务 Debt service"),
            ("disposable_income", "可支配收入 Disposable income"),
            ("capacity", "还款能力 Capacity"),
        ):
            d.kv(name, money_text(aff.get(k)))
        d.kv("负债收入比 DSR", _pct(aff.get("dsr_after")))
        d.kv("结论 Verdict", _lab("verdict", aff.get("verdict")))

    plan = report.get("plan")
    if plan:
        d.heading(_L["plan"])
        d.set_font("sc", size=12)
        d.kv(_L["apr"], _pct(plan.get("apr_compound")))
        d.set_font("sc", size=10)
        d.kv(_L["apr_simple"], _pct(plan.get("apr_simple")))
        d.kv("方案 Option", _lab("option", plan.get("option")))
        d.kv("本金 Principal", money_text(plan.get("principal")))
        d.kv("月供 Instalment", money_text(plan.get("instalment")))
        d.kv("期数 Term", plan.get("term_months"))
        d.kv("月利率 Monthly rate", _pct(plan.get("monthly_rate")))
        d.kv("应还总额 Total repayable", money_text(plan.get("total_payment")))
        d.kv("超能力理由 Override reason", plan.get("override_reason"))
        d.kv("确认方式 Agreed by", _lab("agreement", plan.get("agreement")))
        schedule = (recomputed or {}).get("schedule") or []
        if schedule:
            d.heading(_L["schedule"])
            d.set_font("sc", size=8)
            for row in schedule:
                d.multi_cell(
                    0,
                    4.5,
                    f"{row['n']:>3}  {row['due_date']}  {money_text(row['payment']):>12}  "
                    f"{money_text(row['principal']):>12}  {money_text(row['interest']):>10}  "
                    f"{money_text(row['balance']):>13}",
                    new_x="LMARGIN",
                    new_y="NEXT",
                )
            d.set_font("sc", size=10)

    if history or comments:
        d.heading(_L["comments"])
        for _sv, is_review, e in _timeline(history, comments or []):
            if not is_review:
                first = e["n"] == 1
                kind = _both("首次提交", "first submission") if first else _both("重新提交", "resubmitted")
                d.kv(f"{_ts(e.get('received_at'))} {_version_label(e['n'])}", kind)
                continue
            d.kv(
                f"{_ts(e.get('at'))} {_lab('action', e.get('action'))}",
                f"{e.get('comment') or ''} {_lab('route', e.get('route'))}".strip() or "—",
            )
            d.kv(f"  {_L['sign_off']}", e.get("sign_off_reason"))
    return bytes(d.output())
