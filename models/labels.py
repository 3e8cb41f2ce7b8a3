"""Words for people for every code list, report flag and rule of the domain, in zh-CN and English.

One catalogue for every reader: the app's screens, the supervisor desk (served as JSON) and the report PDF
all say the same thing for the same code. Keys are `<kind>.<code>`: `outcome.MET_BORROWER`,
`flag.over_capacity`, `flag_help.over_capacity` (one sentence naming the rule a flag is about),
`rule.P-5`, `attest.id_shown.yes` (an attestation as what happened), `field.assessment.incomes.amount` (a
report field, list positions left out). Pure data, no I/O.
"""

from __future__ import annotations

__all__ = [
    "FLAGS",
    "KINDS",
    "LABELS",
    "LANGUAGES",
    "RULES",
    "label",
    "labels",
]

LANGUAGES: tuple[str, ...] = ("zh-CN", "en")

# Report flags the server sets on a stored version (protocol v1 and the v1.1 rule book), in that order.
FLAGS: tuple[str, ...] = (
    "collectors_differ",
    "checkin_outside_hours",
    "checkin_outside_planned_date",
    "plan_mismatch",
    "visit_reassigned",
    "report_final",
    "checkin_missing",
    "id_not_shown",
    "entry_without_consent",
    "third_party_attestation_missing",
    "term_beyond_max",
    "product_mismatch",
    "over_capacity",
    "dsr_high",
    "dsr_severe",
    "hardship",
    "above_charge_cap",
    "p4_ceiling_exceeded",
)

# The domain rules (domain.md §1, §3–§5) that flags, forms and the rule book name.
RULES: tuple[str, ...] = (
    "R-1",
    "R-2",
    "R-3",
    "R-4",
    "R-6",
    "R-7",
    "R-12",
    "P-1",
    "P-2",
    "P-3",
    "P-4",
    "P-5",
    "P-6",
    "A-1",
    "A-4",
    "A-6",
    "A-7",
    "F-5",
    "§3",
    "§5.3",
    "§5.4",
)

_OUTCOME = {
    "MET_BORROWER": ("见到本人", "Met the borrower"),
    "MET_FAMILY": ("见到家属/同住人", "Met a family member or co-resident"),
    "MET_THIRD_PARTY": ("见到其他第三方", "Met another third party"),
    "NO_ONE_HOME": ("无人在家", "No one home"),
    "MOVED": ("已搬离", "Moved away"),
    "ADDRESS_INVALID": ("地址错误/查无此人", "Address invalid / person unknown"),
    "REFUSED_CONTACT": ("拒绝沟通/拒不开门", "Refused to talk or open the door"),
    "ACCESS_DENIED": ("无法进入小区", "Access denied (gate, guard)"),
    "DECEASED_OR_INCAPACITATED": ("据告已故或无行为能力", "Reported deceased or incapacitated"),
    "ABORTED_UNSAFE": ("因安全原因中止", "Aborted for safety"),
}

_RESULT = {
    "PTP": ("承诺还款", "Promise to pay"),
    "PLAN_PROPOSED": ("提出还款方案", "Plan proposed"),
    "PAID_VIA_OFFICIAL_CHANNEL": ("已通过官方渠道还款", "Paid via an official channel"),
    "DISPUTE": ("有争议", "Dispute"),
    "HARDSHIP_CLAIMED": ("声称困难", "Hardship claimed"),
    "REFUSES_TO_PAY": ("拒绝还款", "Refuses to pay"),
    "FOLLOW_UP_NEEDED": ("需要跟进", "Follow-up needed"),
}

_REASON = {
    "UNEMPLOYMENT": ("失业", "Unemployment"),
    "INCOME_REDUCTION": ("收入下降", "Income reduction"),
    "BUSINESS_FAILURE": ("经营失败", "Business failure"),
    "ILLNESS_INJURY": ("疾病/受伤", "Illness or injury"),
    "FAMILY_EVENT": ("家庭变故", "Family event"),
    "OVER_INDEBTEDNESS": ("多头借贷", "Over-indebtedness"),
    "IMPULSIVE_SPENDING": ("冲动消费", "Impulsive spending"),
    "PAYMENT_ISSUE": ("忘记还款/扣款失败", "Forgot or auto-debit failed"),
    "MERCHANT_DISPUTE": ("商户纠纷", "Merchant dispute"),
    "FRAUD_ID_THEFT": ("欺诈/身份冒用", "Fraud or identity theft"),
    "STRATEGIC_DEFAULT": ("有能力但不愿还", "Able but unwilling"),
    "GAMBLING_OR_ILLEGAL": ("赌博或违法活动", "Gambling or illegal activity"),
    "OTHER": ("其他", "Other"),
}

_WILLINGNESS = {
    "cooperative": ("配合", "Cooperative"),
    "hesitant": ("犹豫", "Hesitant"),
    "refuses": ("拒绝", "Refuses"),
}

_OPTION = {
    "P-INSTAL": ("重新分期", "Re-amortised instalments"),
    "P-WAIVE": ("减免罚息费用", "Waive penalty and fees"),
    "P-DEFER": ("延期还款", "Payment holiday"),
    "P-SETTLE": ("部分清偿结清", "Partial settlement"),
    "P-STEP": ("阶梯还款", "Step-up payments"),
    "P-TOKEN": ("最低还款过渡", "Token payments"),
    "P-PTP": ("承诺一次性还款", "Promise to pay"),
}

_CATEGORY = {
    "HOUS": ("住房", "Housing"),
    "UTIL": ("水电通讯", "Utilities & phone"),
    "FOOD": ("餐饮日用", "Food & household"),
    "TRAN": ("交通", "Transport"),
    "EDUC": ("教育育儿", "Education & childcare"),
    "MEDI": ("医疗保险", "Medical & insurance"),
    "DEPN": ("赡养扶养", "Support of dependants"),
    "DEBT": ("其他债务月供", "Other debt service"),
    "OTHR": ("其他必要支出", "Other essential"),
}

_SOURCE = {
    "salary": ("本人工资", "Salary"),
    "spouse": ("配偶收入", "Spouse or partner"),
    "business": ("经营收入", "Business"),
    "rent": ("租金收入", "Rent received"),
    "pension": ("养老金", "Pension"),
    "benefits": ("社会补助", "Social benefits"),
    "maintenance": ("抚养费", "Maintenance received"),
    "other": ("其他", "Other"),
}

_EVIDENCE = {
    "bank_statement": ("银行流水（代发工资）", "Bank statement (payroll)"),
    "payslip": ("工资条/收入证明", "Payslip or employer letter"),
    "social_insurance_tax": ("社保/公积金/个税", "Social insurance or tax records"),
    "business_receipts": ("经营流水", "Business receipts"),
    "declared": ("仅口述（按 50% 计入）", "Declared only (counts 50%)"),
}

_REPORT_STATUS = {
    "pending": ("待上传", "Waiting to upload"),
    "conflict": ("版本冲突", "Conflict"),
    "submitted": ("待审核", "Submitted"),
    "returned": ("已退回", "Returned"),
    "resubmitted": ("已重新提交", "Resubmitted"),
    "approved": ("已批准", "Approved"),
    "rejected": ("已拒绝", "Rejected"),
    "escalated_legal": ("已转法务", "Escalated to legal"),
}

_ACTION = {
    "approve": ("批准", "Approve"),
    "return": ("退回修改", "Return for rework"),
    "reject": ("拒绝", "Reject"),
    "escalate_legal": ("转法务", "Escalate to legal"),
}

_ROUTE = {
    "lawyer_letter": ("律师函", "Lawyer's letter"),
    "payment_order": ("支付令", "Payment order"),
    "litigation": ("诉讼", "Litigation"),
    "mediation": ("调解", "Mediation"),
}

_AGREEMENT = {
    "written": ("书面签字", "Written"),
    "e_signature": ("电子签名", "E-signature"),
    "recorded_verbal": ("录音口头确认", "Recorded verbal agreement"),
}

_RELATION = {
    "family": ("家属", "Family"),
    "co_resident": ("同住人", "Co-resident"),
    "neighbour": ("邻居", "Neighbour"),
    "property_management": ("物业", "Property management"),
    "employer": ("单位", "Employer"),
    "other": ("其他", "Other"),
}

_LOCATION = {
    "inside_home": ("室内（已获同意）", "Inside the home (allowed)"),
    "doorstep": ("门口", "At the door"),
    "public_place": ("公共场所", "Public place"),
}

_ATTACHMENT = {
    "visit_photo": ("现场照片", "Visit photo"),
    "payslip": ("工资条", "Payslip"),
    "bank_statement": ("银行流水", "Bank statement"),
    "id_shown": ("出示证件照片", "ID shown"),
    "agreement": ("还款协议", "Agreement"),
    "document": ("其他文件", "Document"),
    "audio": ("录音", "Audio"),
}

_PRODUCT = {
    "consumer_instalment": ("消费分期", "Pay-later instalments"),
    "cash_loan": ("现金贷", "Cash loan"),
}

_VERDICT = {
    "pass": ("可负担", "Affordable"),
    "fail": ("超出能力", "Not affordable"),
    "hardship": ("无可支配收入", "No disposable income"),
}

_SEVERITY = {
    "block": ("违反必守规则", "Breaks a must-keep rule"),
    "sign_off": ("批准须说明理由", "Approval needs a reason"),
    "note": ("提示", "Note"),
}

# flag -> (short label, one sentence naming the rule), each as (zh-CN, en).
_FLAG: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "collectors_differ": (
        ("外访人员与分配不一致", "Collectors differ from the assignment"),
        (
            "签到时在场的外访人员不是本任务分派的人员，须由两名指派人员共同外访（R-2）。",
            "The collectors present at check-in are not the ones assigned to this visit; "
            "two assigned collectors must visit together (R-2).",
        ),
    ),
    "checkin_outside_hours": (
        ("签到时间在 8:00–22:00 之外（R-1）", "Check-in outside 08:00–22:00 (R-1)"),
        (
            "签到时间在当地 22:00 至次日 8:00 之间，此时外访须有债务人同意的记录（R-1）。",
            "The check-in was between 22:00 and 08:00 local time, when a visit needs the debtor's "
            "recorded consent (R-1).",
        ),
    ),
    "checkin_outside_planned_date": (
        ("签到日期与计划不同", "Check-in not on the planned date"),
        (
            "实际签到日期与派单的计划日期不同，外访应按计划进行并如实记录（R-6）。",
            "The visit was checked in on another day than the planned date; visits are planned and "
            "recorded as they happen (R-6).",
        ),
    ),
    "plan_mismatch": (
        ("还款方案计算与服务器不一致", "Plan figures differ from the server's"),
        (
            "设备上报的月供、还款总额或年化利率与服务器按同一方案复算的结果不同，借款人看到的数字可能有误（P-2、F-5）。",
            "The instalment, total or APR the device sent differ from the server's own calculation of "
            "the same plan, so the borrower may have seen wrong figures (P-2, F-5).",
        ),
    ),
    "visit_reassigned": (
        ("任务已改派", "Visit was reassigned"),
        (
            "报告送达时该任务已改派给其他外访人员，请核对由谁外访（R-2、R-6）。",
            "The visit had been reassigned to other collectors when this report arrived; check who "
            "made the visit (R-2, R-6).",
        ),
    ),
    "report_final": (
        ("报告已结案，无法再修改", "The report is final and cannot change"),
        (
            "报告已批准、拒绝或转法务，之后从设备送来的修改不会改变审核结论。",
            "The report was already approved, rejected or escalated; later changes from the device do "
            "not alter that decision.",
        ),
    ),
    "checkin_missing": (
        ("缺少签到时间或位置", "Check-in time or position missing"),
        (
            "报告没有签到时间或定位，无法核对外访时段（R-1）和外访记录（R-6）。",
            "The report has no check-in time or position, so the visiting hours (R-1) and the visit "
            "record (R-6) cannot be checked.",
        ),
    ),
    "id_not_shown": (
        ("未确认出示工作证（R-3）", "ID not confirmed as shown (R-3)"),
        (
            "见到了借款人、家属或第三方，但未确认已出示工作证并说明机构与来意（R-3）。",
            "A person was met but the collectors did not confirm showing their ID and stating the "
            "institution and purpose (R-3).",
        ),
    ),
    "entry_without_consent": (
        ("未经同意入户（R-4）", "Entered without consent (R-4)"),
        (
            "访谈在住宅内进行，但没有记录住户同意入户（R-4）。",
            "The interview was held inside the home without a recorded consent to enter (R-4).",
        ),
    ),
    "third_party_attestation_missing": (
        ("缺少未向第三方披露的确认（R-12）", "No-disclosure attestation missing (R-12)"),
        (
            "见到了家属或第三方，但外访人员未确认没有向其透露任何债务信息（R-12）。",
            "A family member or third party was met but the collectors did not confirm that nothing "
            "about the debt was disclosed (R-12).",
        ),
    ),
    "term_beyond_max": (
        ("期数超过产品上限（P-1）", "Term beyond the product maximum (P-1)"),
        (
            "方案期数（含延期月数）超过该贷款产品允许的最长期限（P-1）。",
            "The plan's term, holiday months included, is longer than the loan's product allows (P-1).",
        ),
    ),
    "product_mismatch": (
        ("方案产品与案件不符", "Plan product differs from the loan's"),
        (
            "方案所填的产品类型与案件的贷款产品不同，期限上限可能用错（P-1）。",
            "The plan names another product type than the case's loan, so the wrong maximum term may "
            "have been applied (P-1).",
        ),
    ),
    "over_capacity": (
        ("月供超过还款能力（P-3）", "Instalment above capacity (P-3)"),
        (
            "按服务器的收支测算，月供超过家庭还款能力（P-3）。",
            "By the server's count of income and expenses, the instalment is above what the household "
            "can carry (P-3).",
        ),
    ),
    "dsr_high": (
        ("负债收入比偏高（A-6）", "Debt-service ratio high (A-6)"),
        (
            "加上本方案后，全部债务月供占家庭净收入的比例超过警戒线（默认 50%）（A-6）。",
            "With this plan, all debt payments take more of the net household income than the warning "
            "level (50% by default) (A-6).",
        ),
    ),
    "dsr_severe": (
        ("负债收入比过高（A-6）", "Debt-service ratio severe (A-6)"),
        (
            "加上本方案后，全部债务月供占家庭净收入的比例超过严重线（默认 70%），家庭很可能无力履约（A-6）。",
            "With this plan, all debt payments take more of the net household income than the severe "
            "level (70% by default), so the household is unlikely to keep to it (A-6).",
        ),
    ),
    "hardship": (
        ("无可支配收入（A-7）", "No disposable income (A-7)"),
        (
            "家庭收入扣除必要支出和其他债务后已无余额，任何月供都不可负担，应考虑延期、最低还款或和解（A-4、A-7）。",
            "Nothing is left of the household income after essential expenses and other debts, so no "
            "instalment is affordable; consider a deferral, token payments or a settlement (A-4, A-7).",
        ),
    ),
    "above_charge_cap": (
        ("年化费率超过 24%（P-5）", "Charges above 24% a year (P-5)"),
        (
            "方案的利息、罚息和费用按单利年化超过 24%，法院可能不予支持，此方案不能批准（P-5）。",
            "Interest, penalties and fees come to more than 24% a year (simple APR), which courts may "
            "cut, so this plan cannot be approved (P-5).",
        ),
    ),
    "p4_ceiling_exceeded": (
        ("还款总额超过上限（P-4）", "Total repayable above the ceiling (P-4)"),
        (
            "重组后的还款总额高于未偿本金加新期限内的合同利息（P-4）。",
            "The restructured plan's total repayable is above the outstanding balance plus the "
            "contract's interest over the new term (P-4).",
        ),
    ),
}

_RULE = {
    "R-1": ("外访时段 8:00–22:00", "Visiting hours 08:00–22:00"),
    "R-2": ("至少两名外访人员", "At least two collectors"),
    "R-3": ("出示工作证并说明来意", "Show ID and state the purpose"),
    "R-4": ("未经同意不得入户", "No entry without consent"),
    "R-6": ("外访须计划并记录", "Visits are planned and recorded"),
    "R-7": ("外访全程录音", "The visit is recorded"),
    "R-12": ("不向第三方披露债务", "Nothing disclosed to third parties"),
    "P-1": ("期限不超过产品上限", "Term within the product maximum"),
    "P-2": ("如实展示年化利率和还款数字", "APR and plan figures shown in full"),
    "P-3": ("月供不超过还款能力", "Instalment within capacity"),
    "P-4": ("还款总额上限", "Ceiling on the total repayable"),
    "P-5": ("年化费率不超过 24%", "Charges at most 24% a year"),
    "P-6": ("方案书面确认并经审批", "Plan agreed in writing and signed off"),
    "A-1": ("家庭净收入", "Net household income"),
    "A-4": ("可支配收入", "Disposable income"),
    "A-6": ("负债收入比", "Debt-service ratio"),
    "A-7": ("方案可负担性检查", "Plan affordability check"),
    "F-5": ("年化利率按 IRR 计算", "APR computed by IRR"),
    "§3": ("还款方案", "Repayment plan"),
    "§5.3": ("逾期原因", "Reason for delinquency"),
    "§5.4": ("还款意愿", "Willingness to pay"),
}

_METHOD = {
    "annuity": ("等额本息", "Equal instalments"),
    "equal_principal": ("等额本金", "Equal principal"),
}

_HOLIDAY_MODE = {
    "capitalise": ("利息计入本金", "Interest capitalised"),
    "interest_only": ("只还利息", "Interest only"),
}

_DISPUTE = {
    "amount": ("金额有争议", "Amount disputed"),
    "identity_fraud": ("身份冒用", "Identity fraud"),
    "merchant": ("商户纠纷", "Merchant dispute"),
    "other": ("其他", "Other"),
}

# Attestations as what happened (models.attestations decides which apply): `<field>.<yes|no|unasked>`.
_ATTEST = {
    "outside_hours_consent.yes": ("借款人同意在 8:00–22:00 之外外访（R-1）", "The debtor agreed to a visit outside 08:00–22:00 (R-1)"),
    "outside_hours_consent.no": ("没有借款人同意非时段外访的记录（R-1）", "No recorded consent to a visit outside 08:00–22:00 (R-1)"),
    "id_shown.yes": ("已出示工作证并说明机构与来意（R-3）", "ID shown, institution and purpose stated (R-3)"),
    "id_shown.no": ("没有出示工作证的记录（R-3）", "No record of showing ID (R-3)"),
    "authorisation_shown.yes": ("已出示委托书（R-3）", "Agency authorisation shown (R-3)"),
    "authorisation_shown.no": ("没有出示委托书的记录（R-3）", "No record of showing the agency authorisation (R-3)"),
    "consent_to_enter.yes": ("住户同意入户（R-4）", "The household allowed entry (R-4)"),
    "consent_to_enter.no": ("住户未同意入户（R-4）", "The household did not allow entry (R-4)"),
    "consent_to_enter.unasked": ("未询问是否同意入户（R-4）", "Entry was not asked about (R-4)"),
    "recording_on.yes": ("已告知全程录音（R-7）", "Told that the visit is recorded (R-7)"),
    "recording_on.no": ("没有告知录音的记录（R-7）", "No record of telling that the visit is recorded (R-7)"),
    "no_disclosure_attested.yes": ("未向第三方透露任何债务信息（R-12）", "Nothing about the debt was disclosed to the third party (R-12)"),
    "no_disclosure_attested.no": ("未确认没有向第三方透露债务信息（R-12）", "Not confirmed that nothing about the debt was disclosed (R-12)"),
    "message_passed.yes": ("已请其转告借款人联系（R-12）", "Asked them to pass on a message to contact us (R-12)"),
    "message_passed.no": ("未请其转告（R-12）", "No message passed on (R-12)"),
}  # fmt: skip

# The report's fields by path, list positions left out (`assessment.incomes.amount`): how the version diff and
# the rule book's findings name a field.
_FIELD = {
    "report_id": ("报告编号", "Report ID"),
    "visit_id": ("案件编号", "Visit ID"),
    "notes": ("备注", "Notes"),
    "schema_version": ("格式版本", "Format version"),
    "investigator_id": ("提交人", "Submitted by"),
    "collector_ids": ("外访人员", "Collectors"),
    "created_at": ("创建时间", "Created"),
    "checkin": ("签到", "Check-in"),
    "checkin.at": ("签到时间", "Check-in time"),
    "checkin.position": ("签到位置", "Check-in position"),
    "checkin.position.lat": ("纬度", "Latitude"),
    "checkin.position.lon": ("经度", "Longitude"),
    "checkin.position.accuracy_m": ("定位精度（米）", "Accuracy (m)"),
    "checkin.position.source": ("定位来源", "Position source"),
    "checkout": ("签退", "Check-out"),
    "checkout.at": ("签退时间", "Check-out time"),
    "checkout.position": ("签退位置", "Check-out position"),
    "checkout.position.lat": ("纬度", "Latitude"),
    "checkout.position.lon": ("经度", "Longitude"),
    "checkout.position.accuracy_m": ("定位精度（米）", "Accuracy (m)"),
    "checkout.position.source": ("定位来源", "Position source"),
    "compliance": ("合规", "Compliance"),
    "compliance.outside_hours_consent": ("非时段外访同意（R-1）", "Out-of-hours consent (R-1)"),
    "compliance.outside_hours_consent_note": ("非时段同意说明（R-1）", "Out-of-hours consent note (R-1)"),
    "compliance.collector_ids": ("在场外访人员（R-2）", "Collectors present (R-2)"),
    "compliance.id_shown": ("出示工作证（R-3）", "ID shown (R-3)"),
    "compliance.authorisation_shown": ("出示委托书（R-3）", "Agency authorisation shown (R-3)"),
    "compliance.consent_to_enter": ("同意入户（R-4）", "Consent to enter (R-4)"),
    "compliance.location_kind": ("访谈地点（R-4）", "Interview held (R-4)"),
    "compliance.no_disclosure_attested": ("确认未向第三方披露（R-12）", "No-disclosure attestation (R-12)"),
    "compliance.recording_on": ("告知录音（R-7）", "Told of recording (R-7)"),
    "outcome": ("接触结果", "Contact outcome"),
    "third_party": ("第三方接触", "Third-party contact"),
    "third_party.relation": ("关系", "Relation"),
    "third_party.contact_details": ("留言/联系方式", "Message / contact"),
    "third_party.message_passed": ("已转告", "Message passed"),
    "third_party.refused_further_contact": ("拒绝再联系", "Refused further contact"),
    "third_party.volunteered_info": ("对方主动提供的信息", "Information volunteered"),
    "interview": ("访谈", "Interview"),
    "interview.results": ("访谈结果", "Interview results"),
    "interview.reasons": ("逾期原因", "Reasons"),
    "interview.primary_reason": ("主要原因", "Primary reason"),
    "interview.willingness": ("还款意愿", "Willingness"),
    "interview.hardship": ("困难", "Hardship"),
    "interview.hardship_note": ("困难说明", "Hardship note"),
    "interview.dispute": ("争议", "Dispute"),
    "interview.dispute.type": ("争议类型", "Dispute type"),
    "interview.dispute.note": ("争议说明", "Dispute note"),
    "interview.promise": ("承诺还款", "Promise to pay"),
    "interview.promise.amount": ("承诺金额", "Amount promised"),
    "interview.promise.date": ("承诺日期", "Date promised"),
    "interview.paid_reference": ("还款凭证号", "Payment reference"),
    "interview.notes": ("访谈备注", "Interview notes"),
    "assessment": ("收支评估", "Income and expenses"),
    "assessment.incomes": ("收入", "Income"),
    "assessment.incomes.amount": ("金额", "Amount"),
    "assessment.incomes.source": ("来源", "Source"),
    "assessment.incomes.evidence": ("证明", "Evidence"),
    "assessment.incomes.note": ("说明", "Note"),
    "assessment.expenses": ("支出", "Expense"),
    "assessment.expenses.amount": ("金额", "Amount"),
    "assessment.expenses.category": ("类别", "Category"),
    "assessment.expenses.note": ("说明", "Note"),
    "assessment.other_debts": ("其他债务", "Other debt"),
    "assessment.other_debts.lender": ("债权人", "Lender"),
    "assessment.other_debts.balance": ("余额", "Balance"),
    "assessment.other_debts.monthly_payment": ("月供", "Monthly payment"),
    "assessment.buffer": ("可用比例（设备）", "Share kept for repayment (device)"),
    "assessment.dsr_limit": ("负债收入比上限（设备）", "DSR limit (device)"),
    "plan": ("还款方案", "Repayment plan"),
    "plan.option": ("方案类型", "Option"),
    "plan.product_type": ("产品", "Product"),
    "plan.method": ("还款方式", "Repayment method"),
    "plan.principal": ("本金", "Principal"),
    "plan.term_months": ("期数", "Term"),
    "plan.monthly_rate": ("月利率", "Monthly rate"),
    "plan.upfront_fee": ("前期费用", "Upfront fee"),
    "plan.holiday_months": ("延期月数", "Holiday months"),
    "plan.holiday_mode": ("延期方式", "Holiday mode"),
    "plan.step_payments": ("阶梯还款额", "Step payments"),
    "plan.first_due_date": ("首期还款日", "First due date"),
    "plan.instalment": ("月供", "Instalment"),
    "plan.total_payment": ("应还总额", "Total repayable"),
    "plan.apr_simple": ("年化利率（单利）", "APR (simple)"),
    "plan.apr_compound": ("年化利率（复利）", "APR (compound)"),
    "plan.waiver": ("减免", "Waiver"),
    "plan.waiver.penalty": ("减免罚息", "Penalty waived"),
    "plan.waiver.fees": ("减免费用", "Fees waived"),
    "plan.waiver.interest": ("减免利息", "Interest waived"),
    "plan.waiver.principal": ("减免本金", "Principal waived"),
    "plan.total_due": ("应还总欠款", "Total due"),
    "plan.settlement_amount": ("结清金额", "Settlement amount"),
    "plan.override_reason": ("超能力理由（P-3）", "Override reason (P-3)"),
    "plan.agreement": ("确认方式", "Agreed by"),
    "plan.agreement_attachment": ("协议文件", "Agreement file"),
    "plan.restructured": ("重组", "Restructured"),
    "attachments": ("照片与文件", "Photos and documents"),
    "attachments.sha256": ("文件指纹", "File fingerprint"),
    "attachments.kind": ("类型", "Kind"),
    "attachments.mime": ("文件格式", "File format"),
    "attachments.size_bytes": ("大小（字节）", "Size (bytes)"),
    "attachments.filename": ("文件名", "File name"),
    "attachments.captured_at": ("拍摄时间", "Captured"),
    "escalation_recommended": ("建议转法务", "Escalation recommended"),
    "escalation_reason": ("转法务理由", "Escalation reason"),
    "agency_id": ("委外机构", "Agency"),
    "placement_id": ("委外批次", "Placement"),
}

# The columns of a case file from the loan system (`fieldvisit import`, the desk's import form).
_COLUMN = {
    "external_id": ("案件编号", "Case number"),
    "team": ("团队", "Team"),
    "borrower_name": ("借款人姓名", "Borrower name"),
    "phone": ("手机号", "Phone"),
    "id_number": ("身份证号", "ID number"),
    "address": ("地址", "Address"),
    "district": ("区", "District"),
    "product_type": ("产品类型", "Product type"),
    "outstanding_principal": ("未还本金", "Outstanding principal"),
    "overdue_amount": ("逾期金额", "Overdue amount"),
    "dpd": ("逾期天数", "Days past due"),
    "lat": ("纬度", "Latitude"),
    "lon": ("经度", "Longitude"),
    "contractual_instalment": ("合同月供", "Contractual instalment"),
    "monthly_rate": ("合同月利率", "Contractual monthly rate"),
    "broken_ptp_count": ("未兑现承诺次数", "Broken promises"),
    "days_since_last_contact": ("距上次联系天数", "Days since last contact"),
    "repayment_history": ("还款记录", "Repayment history"),
    "contact_lost": ("失联", "Contact lost"),
    "active_plan_current": ("现有方案正常履约", "Current plan kept"),
}

# After the visit (protocol v1.1 "Repayments, plans and promises tracked"): an approved plan (P-6) and a
# promise to pay (§5.2) as the server evaluates them against the loan system's repayments.
_PLAN_STATE = {
    "performing": ("正常履行", "Performing"),
    "missed_1": ("逾期 1 期", "1 instalment missed"),
    "lapsed": ("计划失效", "Lapsed"),
    "completed": ("已结清", "Completed"),
}
_PROMISE_STATE = {
    "open": ("未到期", "Open"),
    "kept": ("已兑现", "Kept"),
    "broken": ("已违约", "Broken"),
}
# Why a case went back to dispatch.
_REOPEN_REASON = {
    "plan_lapsed": ("计划失效", "Plan lapsed"),
    "ptp_broken": ("承诺违约", "Promise broken"),
}
# The grounds of the legal-escalation recommendation (§5.5).
_ESCALATION = {
    "unwilling_able": ("有能力但无意愿", "Able but unwilling"),
    "contact_lost_30d": ("失联超过 30 天", "Contact lost for more than 30 days"),
    "broken_ptp_2": ("承诺违约 ≥ 2 次", "2 or more broken promises"),
    "plan_lapsed": ("还款计划失效", "Repayment plan lapsed"),
    "late_bucket_high_balance": ("M4+ 且余额高", "M4+ with a high balance"),
    "fraud": ("欺诈或隐匿资产", "Fraud or asset concealment"),
}
# The willingness × ability quadrant (§5.4).
_SEGMENT = {
    "willing_able": ("愿意 · 有能力", "Willing · able"),
    "willing_unable": ("愿意 · 无能力", "Willing · unable"),
    "unwilling_able": ("不愿意 · 有能力", "Unwilling · able"),
    "unwilling_unable": ("不愿意 · 无能力", "Unwilling · unable"),
}
# Where a contact stop comes from.
_CONTACT_STOP = {
    "refused_contact": ("拒绝接触", "Refused contact"),
    "dispute": ("争议/投诉", "Dispute or complaint"),
    "loan_system": ("贷款系统标记", "Marked by the loan system"),
}
# The desk's follow-up cards: the dashboard's board, a report's account and the dispatch board's routes.
_TRACKING = {
    "title": ("还款计划与承诺跟踪", "Plans and promises"),
    "plans": ("已批准的计划", "Approved plans"),
    "promises": ("承诺还款", "Promises to pay"),
    "reopened": ("重新派单的案件", "Cases back in dispatch"),
    "recommended": ("建议转法务", "Recommended for legal escalation"),
    "none": ("暂无", "None"),
    "visit": ("案件", "Case"),
    "state": ("状态", "State"),
    "paid": ("已还", "Paid"),
    "due": ("应还至今", "Due to date"),
    "missed": ("逾期期数", "Missed"),
    "next_due": ("下一期", "Next due"),
    "amount": ("金额", "Amount"),
    "date": ("日期", "Date"),
    "reason": ("原因", "Reason"),
    "reasons": ("依据", "Grounds"),
    "segment": ("意愿 × 能力", "Willingness × ability"),
    "account": ("账户跟踪", "Account follow-up"),
    "rec_yes": ("建议转法务（由主管决定）", "Legal escalation recommended (the supervisor decides)"),
    "rec_no": ("暂无转法务建议", "No escalation recommended"),
    "stop": ("停止接触（R-14）", "Contact stopped (R-14)"),
    "clear": ("解除停止接触", "Clear the contact stop"),
    "clear_prompt": (
        "解除原因（必填，记入审计）",
        "Why may the borrower be contacted again? (required, audited)",
    ),
    "cleared": ("已解除", "Cleared"),
    "routes": ("当日路线", "Routes of the day"),
    "pair": ("外访员", "Investigators"),
    "stops": ("拜访数", "Visits"),
    "km": ("路线长度（公里）", "Route length (km)"),
    "no_position": ("无坐标", "no position"),
}

# kind -> {code: (zh-CN, en)}
KINDS: dict[str, dict[str, tuple[str, str]]] = {
    "outcome": _OUTCOME,
    "result": _RESULT,
    "reason": _REASON,
    "willingness": _WILLINGNESS,
    "option": _OPTION,
    "category": _CATEGORY,
    "source": _SOURCE,
    "evidence": _EVIDENCE,
    "report_status": _REPORT_STATUS,
    "action": _ACTION,
    "route": _ROUTE,
    "agreement": _AGREEMENT,
    "relation": _RELATION,
    "location": _LOCATION,
    "attachment": _ATTACHMENT,
    "product": _PRODUCT,
    "verdict": _VERDICT,
    "severity": _SEVERITY,
    "flag": {code: short for code, (short, _help) in _FLAG.items()},
    "flag_help": {code: help_ for code, (_short, help_) in _FLAG.items()},
    "rule": _RULE,
    "method": _METHOD,
    "holiday_mode": _HOLIDAY_MODE,
    "dispute": _DISPUTE,
    "attest": _ATTEST,
    "field": _FIELD,
    "column": _COLUMN,
    "plan_state": _PLAN_STATE,
    "promise_state": _PROMISE_STATE,
    "reopen_reason": _REOPEN_REASON,
    "escalation": _ESCALATION,
    "segment": _SEGMENT,
    "contact_stop": _CONTACT_STOP,
    "tracking": _TRACKING,
}

# key -> (zh-CN, en), every kind flattened.
LABELS: dict[str, tuple[str, str]] = {
    f"{kind}.{code}": pair for kind, codes in KINDS.items() for code, pair in codes.items()
}


def labels(lang: str) -> dict[str, str]:
    """Every label in one language ("zh-CN", or "en"; "zh" counts as zh-CN): {key: text}."""
    i = 0 if lang.lower().startswith("zh") else 1
    return {key: pair[i] for key, pair in LABELS.items()}


def label(kind: str, code: object, lang: str = "zh-CN") -> str:
    """The label of one code, e.g. label("flag", "over_capacity", "en"); an unknown code is shown as itself."""
    value = str(getattr(code, "value", code))
    pair = LABELS.get(f"{kind}.{value}")
    if pair is None:
        return value
    return pair[0] if lang.lower().startswith("zh") else pair[1]
