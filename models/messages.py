"""Validation messages a person understands, in Chinese and English, keyed by error code.

Validators raise `PydanticCustomError("fv.<code>", "<English>")`; the UI and the server look the code up
here to show the message in the user's language. Pydantic's own error types are covered too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MESSAGES", "field_errors", "message_for", "render", "request_lang"]

# code -> (zh-CN, en)
MESSAGES: dict[str, tuple[str, str]] = {
    # money and numbers
    "fv.decimal_string": ("请输入数字，例如 12.34", 'must be a decimal string such as "12.34"'),
    "fv.not_a_number": ("不是有效的数字", "is not a number"),
    "fv.money_format": (
        "金额须写作 1100.16：半角数字、两位小数，不含逗号、空格或指数",
        'must be an amount such as "1100.16": ASCII digits and two decimals, no commas, spaces or exponent',
    ),
    "fv.decimal_format": (
        "数字须写作 0.015：半角数字，不含逗号、空格或指数",
        'must be a decimal such as "0.015": ASCII digits, no commas, spaces or exponent',
    ),
    "fv.money_places": ("金额最多两位小数", "at most 2 decimal places"),
    "fv.money_negative": ("金额不能为负数", "must not be negative"),
    "fv.money_not_positive": ("金额必须大于 0", "must be greater than 0"),
    "fv.money_too_large": ("金额过大", "amount is too large"),
    "fv.rate_negative": ("利率不能为负数", "rate must not be negative"),
    "fv.rate_too_large": ("利率须为小于 1 的小数（0.015 即 1.5%）", "rate must be a fraction below 1"),
    "fv.coordinate_range": ("坐标超出范围", "coordinate out of range"),
    # identity
    "fv.phone_invalid": ("手机号须为 11 位大陆手机号", "must be an 11-digit mainland mobile number"),
    "fv.id_number_invalid": ("身份证号无效（18 位，校验位不符）", "not a valid 18-character resident ID"),
    "fv.uuid_invalid": ("编号格式无效", "not a valid identifier"),
    "fv.sha256_invalid": ("文件摘要无效", "not a valid SHA-256 hex digest"),
    # visit and report rules
    "fv.checkout_before_checkin": ("签退时间不能早于签到时间", "check-out must not be before check-in"),
    "fv.collectors_too_few": ("外访须至少两名催收员（R-2）", "a visit needs at least two collectors (R-2)"),
    "fv.outside_hours_consent": (
        "22:00 至次日 08:00 外访须记录债务人同意（R-1）",
        "a check-in between 22:00 and 08:00 needs the debtor's recorded consent (R-1)",
    ),
    "fv.third_party_disclosure": (
        "第三方在场时不得记录欠款金额、产品或逾期状态（R-12）",
        "a third-party contact must not carry debt amounts, product or delinquency status (R-12)",
    ),
    "fv.interview_needs_borrower": (
        "只有见到本人才能填写访谈",
        "the interview is recorded only when the borrower was met",
    ),
    "fv.primary_reason": (
        "主要原因须在所选原因之中",
        "the primary reason must be one of the selected reasons",
    ),
    "fv.primary_reason_missing": ("请选择一个主要原因", "choose one primary reason"),
    "fv.ptp_missing": ("承诺还款须填写金额和日期", "a promise to pay needs an amount and a date"),
    "fv.dispute_missing": ("请填写争议类型", "choose the type of dispute"),
    "fv.evidence_missing": ("每项收入须选择证明等级", "each income line needs an evidence level"),
    "fv.term_range": ("期数须在 1 到产品上限之间", "term must be between 1 and the product maximum"),
    "fv.term_beyond_product": (
        "期数超过该产品的最长期限（P-1）",
        "term is beyond the product's maximum (P-1)",
    ),
    "fv.capacity_override": (
        "月供超过还款能力，须填写主管批准理由（P-3）",
        "the instalment exceeds the capacity: an override reason is required (P-3)",
    ),
    "fv.step_payments": (
        "阶梯还款须少于期数且不能还清余额",
        "step payments must be fewer than the term and leave a balance",
    ),
    "fv.unknown_code": ("未知代码", "unknown code"),
    "fv.settlement_range": ("和解金额不能超过应还总额", "the settlement cannot exceed the total due"),
    "fv.agreement_missing": ("请记录还款计划的确认方式（P-6）", "record how the plan was agreed (P-6)"),
    "fv.date_order": ("日期顺序不正确", "dates are in the wrong order"),
    "fv.date_range": ("日期超出范围", "date out of range"),
    "fv.checkin_missing": ("请先签到", "check in first"),
    "fv.id_not_shown": ("请确认已出示工作证（R-3）", "confirm that identification was shown (R-3)"),
    "fv.outcome_missing": ("请选择接触结果", "choose the contact outcome"),
    "fv.no_disclosure": (
        "请确认未向第三方透露债务信息（R-12）",
        "confirm nothing about the debt was disclosed (R-12)",
    ),
    "fv.third_party_missing": ("请填写第三方联系记录", "record the third-party contact"),
    "fv.consent_to_enter": ("请记录是否同意入户（R-4）", "record whether entry was allowed (R-4)"),
    "fv.reasons_missing": ("请选择逾期原因", "choose the reasons for the delinquency"),
    "fv.willingness_missing": ("请评估还款意愿", "rate the willingness to pay"),
    "fv.plan_missing": ("请填写还款方案", "fill in the repayment plan"),
    "fv.incomes_missing": ("请填写家庭收入", "record the household income"),
    "fv.checkout_missing": ("请签退", "check out"),
    "fv.evidence_required": ("每项收入须选择证明等级", "each income line needs an evidence level"),
    "fv.rate_above_max": ("月利率须低于 5%", "the monthly rate must be below 0.05"),
    "fv.fee_not_below_principal": ("手续费须小于本金", "the upfront fee must be below the principal"),
    "fv.holiday_range": ("宽限期最多 12 个月", "a payment holiday is at most 12 months"),
    "fv.step_payments_too_many": ("阶梯还款须少于期数", "step payments must be fewer than the term"),
    "fv.step_payments_exhaust_balance": (
        "阶梯还款不能还清余额",
        "step payments must leave a balance to amortise",
    ),
    "fv.buffer_range": ("缓冲系数须在 0 到 1 之间", "the buffer must be between 0 and 1"),
    "fv.dsr_limit_range": ("负债收入比上限须在 0 到 1 之间", "the DSR limit must be between 0 and 1"),
    "fv.max_term_range": ("最长期数须在 1 到 60 之间", "the maximum term must be between 1 and 60"),
    "fv.p5_charges_cap": (
        "方案的年化利率（单利，按 IRR 计算，含费用）超过 24%，法院可能不予支持（P-5）",
        "the plan's simple annual rate by IRR, fees included, is above 24%; courts may cut the claim (P-5)",
    ),
    # the rule book (models/rules.py)
    "fv.checkin_position_missing": (
        "签到没有位置，主管无法核对到访地点（R-6）",
        "the check-in has no position, so the place of the visit cannot be checked (R-6)",
    ),
    "fv.checkin_outside_planned_date": (
        "签到日期不是计划外访日期（R-6）",
        "the check-in is not on the planned visit date (R-6)",
    ),
    "fv.collectors_not_assigned": (
        "只能选择本次外访已派的催收员（R-2）",
        "choose only collectors assigned to this visit (R-2)",
    ),
    "fv.collectors_differ": (
        "到场催收员与派单人员不一致（R-2）",
        "the collectors present differ from those assigned (R-2)",
    ),
    "fv.visit_reassigned": (
        "提交时该外访已改派他人（R-2）",
        "the visit had been reassigned when the report arrived (R-2)",
    ),
    "fv.authorisation_not_shown": (
        "委外人员须出示委托书（R-3）",
        "agency staff must show the lender's authorisation (R-3)",
    ),
    "fv.recording_off": ("请确认已告知对方全程录音（R-7）", "confirm that recording was announced (R-7)"),
    "fv.entry_without_consent": (
        "未经同意不得进入住宅：无同意时访谈应在门口或公共场所（R-4）",
        "no entry without consent: without it the interview is at the door or in a public place (R-4)",
    ),
    "fv.hardship": (
        "家庭可支配收入不大于 0，无力负担任何月供（A-7）",
        "the household's disposable income is 0 or less: no instalment is affordable (A-7)",
    ),
    "fv.dsr_high": (
        "含方案的债务收入比超过 50%（A-6）",
        "the debt-service ratio with the plan is above 50% (A-6)",
    ),
    "fv.dsr_severe": (
        "含方案的债务收入比超过 70%，属严重过度负债（A-6）",
        "the debt-service ratio with the plan is above 70%: severe over-indebtedness (A-6)",
    ),
    "fv.product_mismatch": ("方案的产品类型与贷款不一致", "the plan's product type differs from the loan's"),
    "fv.p4_ceiling_exceeded": (
        "重组后应还总额超过当前欠款加合同利息上限，须主管签批（P-4）",
        "the total repayable is above the outstanding plus the contract's interest: needs sign-off (P-4)",
    ),
    "fv.plan_mismatch": (
        "设备上显示的方案金额与服务器重算不一致",
        "the plan's figures shown on the device differ from the server's recomputation",
    ),
    # pydantic's own types
    "missing": ("必填", "required"),
    "enum": ("不是有效的选项", "not one of the allowed values"),
    "literal_error": ("不是有效的选项", "not one of the allowed values"),
    "string_too_short": ("内容太短", "too short"),
    "string_too_long": ("内容太长", "too long"),
    "too_short": ("项目太少", "too few items"),
    "too_long": ("项目太多", "too many items"),
    "int_parsing": ("请输入整数", "must be a whole number"),
    "int_type": ("请输入整数", "must be a whole number"),
    "greater_than": ("数值太小", "too small"),
    "greater_than_equal": ("数值太小", "too small"),
    "less_than": ("数值太大", "too large"),
    "less_than_equal": ("数值太大", "too large"),
    "date_from_datetime_parsing": ("日期格式应为 YYYY-MM-DD", "date must be YYYY-MM-DD"),
    "date_parsing": ("日期格式应为 YYYY-MM-DD", "date must be YYYY-MM-DD"),
    "datetime_parsing": ("时间格式无效", "invalid timestamp"),
    "timezone_aware": ("时间须带时区", "timestamp must carry a UTC offset"),
    "extra_forbidden": ("不允许的字段", "unexpected field"),
    "value_error": ("输入无效", "invalid value"),
    "string_type": ("须为文本", "must be text"),
    "bool_type": ("须为是或否", "must be true or false"),
    "bool_parsing": ("须为是或否", "must be true or false"),
    "list_type": ("须为列表", "must be a list"),
    "model_type": ("格式无效", "invalid structure"),
    "dict_type": ("格式无效", "invalid structure"),
    "json_invalid": ("不是有效的 JSON", "invalid JSON"),
    "string_unicode": ("文本不是有效的 Unicode", "text that is not valid Unicode"),
    "fv.text_nul": ("文本不能含有空字符（U+0000）", "text must not contain the NUL character (U+0000)"),
    # the server's own sentences (visit import rows, dispatch suggestions); {names} are filled by render()
    "import.not_object": ("每条记录须为 JSON 对象", "a record must be an object"),
    "import.team_scope": ("主管只能导入本组的记录", "a supervisor imports only for their own team"),
    "import.external_id_team": ("该 external_id 属于其他组", "external_id belongs to another team"),
    "dispatch.too_few": (
        "覆盖{district}的外访员不足两人",
        "fewer than two investigators cover district {district}",
    ),
    "dispatch.capacity": (
        "{district}的外访员已达每日上限 {capacity} 件",
        "daily capacity of {capacity} reached in district {district}",
    ),
    "dispatch.high": (
        "{district}；高余额或 M{bucket}+：由经验最多者带队",
        "district {district}; high balance or M{bucket}+: led by the most experienced",
    ),
    "dispatch.load": ("{district}；按工作量均衡", "district {district}; balanced by load"),
    # contact rules and the queue exclusions of domain §6.3
    "contact.r13_day": (
        "R-13：该债务人 {date} 已有一次外访，每人每日至多 {cap} 次",
        "R-13: the debtor already had a visit on {date}; at most {cap} a day",
    ),
    "contact.r13_month": (
        "R-13：该债务人 {month} 已外访 {count} 次，每月上限 {cap} 次",
        "R-13: the debtor already had {count} visits in {month}; the monthly cap is {cap}",
    ),
    "contact.r14_refused": (
        "R-14：债务人拒绝继续接触或提出争议/投诉（{source}），须主管解除后才能再派",
        "R-14: the debtor refused further contact or disputes the debt ({source}); a supervisor must clear "
        "it before the case is dispatched",
    ),
    "contact.r11_reachable": (
        "R-11：只有在债务人无法联系时（本人手机号无效，或连续 {attempts} 次未能联系到本人）才能走访联系人或第三方"
        "（目前连续 {failed} 次）",
        "R-11: contacts or third parties may be visited only when the debtor cannot be reached (own mobile "
        "invalid, or {attempts} consecutive failed attempts); {failed} so far",
    ),
    "exclude.active_plan": ("已有正常履行的还款计划（§6.3）", "an active plan is being kept (§6.3)"),
    "exclude.deceased": ("债务人已故或无行为能力（§6.3）", "the debtor is deceased or incapacitated (§6.3)"),
    "exclude.legal_hold": ("法务冻结，不得外访（§6.3）", "a do-not-visit legal hold (§6.3)"),
}


def message_for(code: str, lang: str = "zh", fallback: str | None = None) -> str:
    """The message for an error code in 'zh' or 'en'; the fallback (or the code) when unknown."""
    pair = MESSAGES.get(code)
    if pair is None:
        return fallback or code
    return pair[0] if lang.startswith("zh") else pair[1]


def render(code: str, lang: str = "en", **params: Any) -> str:
    """A message with its `{names}` filled in, in 'zh' or 'en'."""
    return message_for(code, lang).format(**params)


def request_lang(accept_language: str | None) -> str:
    """'zh' when an Accept-Language header puts Chinese first, else 'en' (the API's default)."""
    first = (accept_language or "").split(",")[0].strip().lower()
    return "zh" if first.startswith("zh") else "en"


def field_errors(errors: Iterable[Mapping[str, Any]], lang: str = "en") -> list[dict[str, Any]]:
    """Pydantic `errors()` -> `[{"loc": [...], "msg": "...", "type": code}]` in the chosen language."""
    out: list[dict[str, Any]] = []
    for e in errors:
        code = str(e.get("type", "value_error"))
        loc = [p for p in e.get("loc", ()) if isinstance(p, (str, int))]
        msg = message_for(code, lang, fallback=str(e.get("msg", code)))
        if code == "value_error" and e.get("msg"):
            msg = str(e["msg"]).removeprefix("Value error, ")
        out.append({"loc": loc, "msg": msg, "type": code})
    return out


def row_errors(row: int, errors: Iterable[Mapping[str, Any]], lang: str = "en") -> list[dict[str, Any]]:
    """A file record's pydantic `errors()` as the row errors of an import: `{"row", "field" (the dotted path
    within the record), "msg"}` each, in the chosen language."""
    return [
        {"row": row, "field": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]}
        for e in field_errors(errors, lang)
    ]
