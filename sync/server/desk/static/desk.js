/* FieldVisit supervisor desk: review inbox, report detail, dispatch, dashboard, feedback, devices.
   A plain single-page app over the /v1 API; every rule is enforced by the server. */
"use strict";

const I18N = {
  zh: {
    "app.title": "FieldVisit 主管工作台", "nav.inbox": "审核", "nav.dispatch": "派单", "nav.dashboard": "看板",
    "nav.feedback": "风控反馈", "nav.devices": "设备", "nav.logout": "退出", "lang.other": "English",
    "login.title": "主管登录", "login.username": "用户名", "login.password": "密码", "login.submit": "登录",
    "login.failed": "用户名或密码错误", "login.locked": "尝试次数过多，请稍后再试", "login.role": "此账号不是主管或管理员",
    "state.all": "全部",
    "f.investigator": "调查员", "f.team": "团队", "f.bucket": "逾期分档", "f.from": "外访日期从", "f.to": "至",
    "f.outcome": "接触结果", "f.verdict": "方案结论", "f.q": "搜索（编号、区、地址）", "f.any": "不限", "f.apply": "筛选",
    "verdict.none": "无方案",
    "col.report": "报告", "col.visit": "案件", "col.district": "区", "col.bucket": "分档", "col.outcome": "结果",
    "col.plan": "月供", "col.verdict": "结论", "col.status": "状态", "col.when": "外访时间", "col.flags": "标记",
    "col.investigators": "调查员", "col.priority": "优先级", "col.planned": "计划日期", "col.balance": "逾期金额",
    "bulk.approve_selected": "批准所选", "bulk.approve_filtered": "批准全部筛选结果", "bulk.done": "已批准 {n} 份，{f} 份未能批准",
    "pager.prev": "上一页", "pager.next": "下一页", "pager.info": "第 {a}–{b} 条，共 {n} 条",
    "detail.back": "返回列表", "detail.checkin": "签到与合规", "detail.outcome": "接触结果", "detail.interview": "访谈",
    "detail.assessment": "收支评估", "detail.plan": "还款方案", "detail.photos": "照片与文件", "detail.photos_arrived": "已到 {n}/{m}", "detail.photo_waiting": "上传中", "detail.history": "版本历史",
    "detail.comments": "审核意见", "detail.recompute": "服务器复算", "detail.conflicts": "冲突版本", "detail.flags": "标记",
    "detail.distance": "签到位置距借款人地址", "detail.pdf": "下载 PDF", "detail.actions": "审核操作",
    "p4.within": "P-4 上限 {ceiling}（未偿本金加合同利息）：应还总额 {total} 未超过", "p4.over": "P-4：应还总额 {total} 高于上限 {ceiling}（未偿本金加合同利息），需审批",
    "detail.version": "版本", "detail.schedule": "还款计划表（{n} 期）", "detail.diff": "与上一版本的差异", "detail.none": "无",
    "act.comment": "意见（退回时必填）", "act.route": "法务途径",
    "act.done": "已更新为：{s}", "err.412": "该报告已被他人更新（版本已变）。已重新载入最新内容，请核对后再操作。",
    "err.409": "当前状态不允许此操作", "err.422": "请检查输入：{m}", "err.404": "未找到或无权查看", "err.generic": "操作失败：{m}",
    "err.network": "无法连接服务器",
    "k.checkin_at": "签到时间", "k.checkout_at": "签退时间", "k.position": "签到位置", "k.outside_hours": "非时段同意（R-1）",
    "k.collectors": "外访人员（R-2）", "k.id_shown": "出示工作证（R-3）", "k.enter": "同意入户（R-4）", "k.no_disclosure": "未向第三方披露（R-12）",
    "k.reasons": "逾期原因", "k.primary": "主要原因", "k.willingness": "还款意愿", "k.hardship": "困难", "k.promise": "承诺还款",
    "k.net_income": "家庭净收入", "k.essential": "必要支出", "k.debt": "其他债务月供", "k.disposable": "可支配收入",
    "k.capacity": "还款能力", "k.dsr": "负债收入比", "k.min_term": "最短期数", "k.verdict": "结论",
    "k.apr": "年化利率（复利）", "k.apr_simple": "年化利率（单利）", "k.instalment": "月供", "k.term": "期数", "k.total": "应还总额",
    "k.rate": "月利率", "k.option": "方案类型", "k.override": "超能力理由", "k.agreement": "确认方式", "k.notes": "备注",
    "yes": "是", "no": "否",
    "s.n": "期", "s.due": "到期日", "s.payment": "还款", "s.principal": "本金", "s.interest": "利息", "s.balance": "余额",
    "disp.title": "待派单案件", "disp.suggest": "获取系统建议", "disp.apply": "应用建议", "disp.assign": "派单",
    "disp.lead": "主访", "disp.second": "协访", "disp.date": "计划日期", "disp.unassigned": "无法派单",
    "disp.import": "导入案件文件（CSV / JSON）", "disp.import_btn": "导入", "disp.import_result": "新增 {c}，更新 {u}，错误 {e}",
    "disp.row": "行", "disp.field": "字段", "disp.msg": "问题", "disp.leaver": "离职调查员", "disp.replacement": "接替人",
    "disp.bulk": "批量改派", "disp.bulk_done": "已改派 {n} 个案件", "disp.applied": "已派单 {n} 个案件", "disp.by_district": "按区",
    "dash.title": "团队看板", "dash.visits_day": "每日外访", "dash.per_investigator": "按调查员", "dash.outcomes": "接触结果",
    "dash.reasons": "逾期原因", "dash.promises": "承诺还款", "dash.plans": "还款方案", "dash.review_time": "外访到审核耗时",
    "dash.kept": "兑现", "dash.broken": "未兑现", "dash.open": "未到期", "dash.proposed": "已提出", "dash.approved": "已批准",
    "dash.amount": "金额", "dash.amount_proposed": "提出的本金", "dash.amount_approved": "批准的本金", "dash.reviewed": "已审核报告", "dash.median_h": "中位数（小时）", "dash.p90_h": "90 分位（小时）",
    "fb.title": "反馈风控", "fb.csv": "下载已批准方案与转法务 CSV", "fb.feed": "风控事件流", "fb.type": "事件", "fb.at": "时间", "fb.report_approved": "方案已批准", "fb.report_rejected": "已拒绝", "fb.legal_escalated": "已转法务",
    "dev.title": "设备", "dev.user": "用户", "dev.name": "设备名", "dev.last_sync": "最近同步", "dev.pending": "最近变更号",
    "dev.state": "状态", "dev.revoke": "吊销并擦除", "dev.revoked": "已吊销", "dev.active": "正常", "dev.confirm": "确定吊销此设备并远程擦除数据？",
    "loading": "加载中…", "empty": "暂无数据",
    "col.borrower": "借款人", "col.incomplete": "缺照片", "col.visit_date": "外访日期", "col.dpd": "逾期天数", "col.principal": "未还本金",
    "act.approve_done": "批准", "act.return_done": "退回", "act.reject_done": "拒绝", "act.escalate_legal_done": "转法务",
    "k.results": "访谈结果", "k.third_party": "第三方接触（R-12）", "k.relation": "关系", "k.contact_details": "留言/联系方式",
    "k.message_passed": "已转告", "k.location": "访谈地点", "k.recording": "已告知录音（R-7）", "k.investigator": "提交人",
    "k.visit": "案件", "k.planned": "计划日期", "k.case_collectors": "分配的调查员", "k.income": "收入", "k.expense": "支出",
    "detail.incomplete": "照片/文件尚未全部上传：{n} 个", "detail.current": "当前版本", "detail.first": "首次提交",
    "detail.no_changes": "内容无变化", "detail.field": "字段", "detail.before": "修改前", "detail.after": "修改后",
    "disp.open_count": "待派单：{n} 个", "disp.suggest_count": "系统建议：{n} 个案件", "disp.applying": "正在派单… {n}/{t}",
    "disp.reason": "依据", "disp.r_high": "高余额或 M4 以上：由经验最丰富的调查员主访", "disp.r_load": "按当日负荷均衡", "disp.r_cover": "{d} 的调查员不足两人", "disp.r_capacity": "{d} 当日人手已满（每人 {n} 个）", "disp.pair": "外访人员", "dash.reports": "报告数", "dash.none": "暂无",
    "dev.pending_blobs": "待上传文件", "dev.wipe": "擦除",
    "detail.rules": "规则检查", "rules.rule": "规则", "rules.what": "问题", "rules.severity": "处理", "rules.field": "位置",
    "cmp.title": "收支测算：设备与服务器", "cmp.item": "项目", "cmp.device": "设备上报", "cmp.server": "服务器复算",
    "cmp.differs": "标黄的项目服务器与设备不同", "cmp.server_none": "服务器尚未给出测算", "k.dsr_after": "负债收入比（含方案）",
    "signoff.title": "批准须填写审批理由", "signoff.intro": "报告带有以下标记，须由主管说明理由后才能批准：",
    "signoff.reason": "审批理由（批准时必填）", "signoff.empty": "请先填写审批理由，再批准",
    "blocked.title": "此报告不能批准", "blocked.text": "以下标记禁止批准：{flags}。可以退回修改、拒绝或转法务。",
    "err.sign_off_required": "批准前须填写审批理由：报告带有以下标记：{flags}。请在审批理由中说明后再批准。",
    "err.charge_cap": "方案的年化费率超过 24%（P-5），不能批准；可以退回修改、拒绝或转法务。",
    "err.invalid_transition": "报告当前的状态不允许此操作，已载入最新状态。",
    "err.contact_rule": "派单不符合联系规则：{m}", "k.sign_off": "审批理由",
    "bulk.sign_off": "其中 {k} 份须在详情页填写审批理由或不能批准",
    "detail.version_n": "第 {n} 版", "detail.timeline": "版本与审核", "detail.diff_from": "与第 {n} 版相比",
    "detail.kind_resubmit_report": "退回后重新提交", "detail.kind_amend_report": "修改后提交", "detail.conflict_on": "基于第 {n} 版的修改",
    "detail.attestations": "现场确认",
  },
  en: {
    "app.title": "FieldVisit supervisor desk", "nav.inbox": "Review", "nav.dispatch": "Dispatch", "nav.dashboard": "Dashboard",
    "nav.feedback": "Risk feedback", "nav.devices": "Devices", "nav.logout": "Sign out", "lang.other": "中文",
    "login.title": "Supervisor sign-in", "login.username": "Username", "login.password": "Password", "login.submit": "Sign in",
    "login.failed": "Wrong username or password", "login.locked": "Too many attempts, try again later", "login.role": "This account is not a supervisor or admin",
    "state.all": "All",
    "f.investigator": "Investigator", "f.team": "Team", "f.bucket": "Bucket", "f.from": "Visit date from", "f.to": "to",
    "f.outcome": "Outcome", "f.verdict": "Plan verdict", "f.q": "Search (ID, district, address)", "f.any": "Any", "f.apply": "Filter",
    "verdict.none": "No plan",
    "col.report": "Report", "col.visit": "Case", "col.district": "District", "col.bucket": "Bucket", "col.outcome": "Outcome",
    "col.plan": "Instalment", "col.verdict": "Verdict", "col.status": "State", "col.when": "Visited", "col.flags": "Flags",
    "col.investigators": "Investigators", "col.priority": "Priority", "col.planned": "Planned", "col.balance": "Overdue",
    "bulk.approve_selected": "Approve selected", "bulk.approve_filtered": "Approve all filtered", "bulk.done": "Approved {n}, {f} could not be approved",
    "pager.prev": "Previous", "pager.next": "Next", "pager.info": "{a}–{b} of {n}",
    "detail.back": "Back to the list", "detail.checkin": "Check-in and compliance", "detail.outcome": "Contact outcome", "detail.interview": "Interview",
    "detail.assessment": "Income and expenses", "detail.plan": "Repayment plan", "detail.photos": "Photos and documents", "detail.photos_arrived": "{n} of {m} arrived", "detail.photo_waiting": "on its way", "detail.history": "Version history",
    "detail.comments": "Review comments", "detail.recompute": "Server recomputation", "detail.conflicts": "Conflict versions", "detail.flags": "Flags",
    "detail.distance": "Check-in distance from the address", "detail.pdf": "Download PDF", "detail.actions": "Review",
    "p4.within": "P-4 ceiling {ceiling} (outstanding plus contractual interest): total repayable {total} is within it", "p4.over": "P-4: total repayable {total} is above the ceiling of {ceiling} (outstanding plus contractual interest); needs sign-off",
    "detail.version": "Version", "detail.schedule": "Schedule ({n} months)", "detail.diff": "Changes from the previous version", "detail.none": "None",
    "act.comment": "Comment (required to return)", "act.route": "Legal route",
    "act.done": "Now: {s}", "err.412": "Someone else updated this report (its version changed). The latest version is loaded; check it and try again.",
    "err.409": "This action is not allowed in the current state", "err.422": "Check the input: {m}", "err.404": "Not found or not in your scope", "err.generic": "Failed: {m}",
    "err.network": "Cannot reach the server",
    "k.checkin_at": "Check-in", "k.checkout_at": "Check-out", "k.position": "Check-in position", "k.outside_hours": "Out-of-hours consent (R-1)",
    "k.collectors": "Collectors present (R-2)", "k.id_shown": "ID shown (R-3)", "k.enter": "Consent to enter (R-4)", "k.no_disclosure": "No disclosure (R-12)",
    "k.reasons": "Reasons", "k.primary": "Primary reason", "k.willingness": "Willingness", "k.hardship": "Hardship", "k.promise": "Promise to pay",
    "k.net_income": "Net household income", "k.essential": "Essential expenses", "k.debt": "Other debt service", "k.disposable": "Disposable income",
    "k.capacity": "Capacity", "k.dsr": "DSR after plan", "k.min_term": "Minimum term", "k.verdict": "Verdict",
    "k.apr": "APR (compound)", "k.apr_simple": "APR (simple)", "k.instalment": "Instalment", "k.term": "Term", "k.total": "Total repayable",
    "k.rate": "Monthly rate", "k.option": "Option", "k.override": "Override reason", "k.agreement": "Agreed by", "k.notes": "Notes",
    "yes": "Yes", "no": "No",
    "s.n": "#", "s.due": "Due", "s.payment": "Payment", "s.principal": "Principal", "s.interest": "Interest", "s.balance": "Balance",
    "disp.title": "Visits to dispatch", "disp.suggest": "Get suggestion", "disp.apply": "Apply suggestion", "disp.assign": "Assign",
    "disp.lead": "Lead", "disp.second": "Second", "disp.date": "Planned date", "disp.unassigned": "Cannot be assigned",
    "disp.import": "Import a case file (CSV / JSON)", "disp.import_btn": "Import", "disp.import_result": "Created {c}, updated {u}, errors {e}",
    "disp.row": "Row", "disp.field": "Field", "disp.msg": "Problem", "disp.leaver": "Leaving investigator", "disp.replacement": "Replacement",
    "disp.bulk": "Reassign all", "disp.bulk_done": "Reassigned {n} visits", "disp.applied": "Assigned {n} visits", "disp.by_district": "By district",
    "dash.title": "Team dashboard", "dash.visits_day": "Visits per day", "dash.per_investigator": "Per investigator", "dash.outcomes": "Outcomes",
    "dash.reasons": "Reasons for delinquency", "dash.promises": "Promises to pay", "dash.plans": "Repayment plans", "dash.review_time": "Visit to review",
    "dash.kept": "Kept", "dash.broken": "Broken", "dash.open": "Not yet due", "dash.proposed": "Proposed", "dash.approved": "Approved",
    "dash.amount": "Amount", "dash.amount_proposed": "Principal proposed", "dash.amount_approved": "Principal approved", "dash.reviewed": "Reports reviewed", "dash.median_h": "Median (hours)", "dash.p90_h": "90th percentile (hours)",
    "fb.title": "Feedback to risk management", "fb.csv": "Download approved plans and escalations (CSV)", "fb.feed": "Risk feed", "fb.type": "Event", "fb.at": "At", "fb.report_approved": "Plan approved", "fb.report_rejected": "Rejected", "fb.legal_escalated": "Escalated to legal",
    "dev.title": "Devices", "dev.user": "User", "dev.name": "Device", "dev.last_sync": "Last sync", "dev.pending": "Last mutation",
    "dev.state": "State", "dev.revoke": "Revoke and wipe", "dev.revoked": "Revoked", "dev.active": "Active", "dev.confirm": "Revoke this device and wipe its data?",
    "loading": "Loading…", "empty": "Nothing here",
    "col.borrower": "Borrower", "col.incomplete": "Files missing", "col.visit_date": "Visit date", "col.dpd": "DPD", "col.principal": "Outstanding",
    "act.approve_done": "Approved", "act.return_done": "Returned", "act.reject_done": "Rejected", "act.escalate_legal_done": "Escalated",
    "k.results": "Interview results", "k.third_party": "Third-party contact (R-12)", "k.relation": "Relation", "k.contact_details": "Message / contact",
    "k.message_passed": "Message passed", "k.location": "Interview held", "k.recording": "Told of recording (R-7)", "k.investigator": "Submitted by",
    "k.visit": "Case", "k.planned": "Planned date", "k.case_collectors": "Assigned investigators", "k.income": "Income", "k.expense": "Expense",
    "detail.incomplete": "Photos or files still to upload: {n}", "detail.current": "current", "detail.first": "first submission",
    "detail.no_changes": "No changes", "detail.field": "Field", "detail.before": "Before", "detail.after": "After",
    "disp.open_count": "To dispatch: {n}", "disp.suggest_count": "Suggestion: {n} visits", "disp.applying": "Assigning… {n}/{t}",
    "disp.reason": "Why", "disp.r_high": "High balance or M4+: led by the most experienced", "disp.r_load": "Balanced by the day's load", "disp.r_cover": "Fewer than two investigators cover {d}", "disp.r_capacity": "Daily capacity ({n} each) reached in {d}", "disp.pair": "Collectors", "dash.reports": "Reports", "dash.none": "None yet",
    "dev.pending_blobs": "Files to upload", "dev.wipe": "wipe",
    "detail.rules": "Rule book", "rules.rule": "Rule", "rules.what": "Problem", "rules.severity": "Handling", "rules.field": "Where",
    "cmp.title": "Assessment: device and server", "cmp.item": "Item", "cmp.device": "Device", "cmp.server": "Server",
    "cmp.differs": "Highlighted items differ between the server and the device", "cmp.server_none": "The server has not assessed this report yet", "k.dsr_after": "DSR after plan",
    "signoff.title": "Approval needs a sign-off reason", "signoff.intro": "The report carries these flags; a supervisor approves it only with a reason:",
    "signoff.reason": "Sign-off reason (required to approve)", "signoff.empty": "Write the sign-off reason before approving",
    "blocked.title": "This report cannot be approved", "blocked.text": "These flags forbid approval: {flags}. You can return it for rework, reject it or escalate it to legal.",
    "err.sign_off_required": "Approval needs a sign-off reason: the report carries {flags}. Give the reason and approve again.",
    "err.charge_cap": "The plan's charges are above 24% a year (P-5), so it cannot be approved; return it, reject it or escalate it to legal.",
    "err.invalid_transition": "The report's current state does not allow this action; its latest state is loaded.",
    "err.contact_rule": "The assignment breaks a contact rule: {m}", "k.sign_off": "Sign-off reason",
    "bulk.sign_off": "{k} of them need a sign-off reason on their own page or cannot be approved",
    "detail.version_n": "Version {n}", "detail.timeline": "Versions and review", "detail.diff_from": "Compared with version {n}",
    "detail.kind_resubmit_report": "resubmitted after return", "detail.kind_amend_report": "amended", "detail.conflict_on": "Changes made on version {n}",
    "detail.attestations": "On site",
  },
};

/* Code-list, flag and rule labels: the one catalogue (models/labels.py) the app and the PDF use too,
   served by the central server at /desk/labels.json so the desk needs nothing from outside. */
const LABELS = { zh: {}, en: {} };
async function loadLabels() {
  const get = async (lang) => {
    try { const r = await fetch(`/desk/labels.json?lang=${lang}`); return r.ok ? await r.json() : {}; } catch (e) { return {}; }
  };
  [LABELS.zh, LABELS.en] = await Promise.all([get("zh-CN"), get("en")]);
}

const S = {
  lang: localStorage.getItem("fv.desk.lang") || "zh",
  token: sessionStorage.getItem("fv.desk.token"),
  user: JSON.parse(sessionStorage.getItem("fv.desk.user") || "null"),
  inbox: { status: "", offset: 0, limit: 50, filters: {}, selected: new Set(), items: [] },
  users: [],
  suggestion: null,
};

function code(kind, v) {
  if (v === null || v === undefined || v === "") return "";
  return (LABELS[S.lang] && LABELS[S.lang][kind + "." + v]) || LABELS.zh[kind + "." + v] || String(v);
}
function listJoin(items) { return items.join(S.lang === "zh" ? "、" : ", "); }
function t(key, vars) {
  let s = (I18N[S.lang] && I18N[S.lang][key]) || I18N.zh[key] || key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, v);
  return s;
}
function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
function localTime(iso) {
  if (!iso) return "";
  try {
    return new Date(iso).toLocaleString(S.lang === "zh" ? "zh-CN" : "en-GB", { timeZone: "Asia/Shanghai", hour12: false });
  } catch (e) { return iso; }
}
// A rate or share as a percentage to two places, half-up on its decimal digits (F-3), as the app and the PDF
// write it: "0.01225" reads 1.23% (binary floating point would read 1.22%).
function pct(v) {
  if (v == null || v === "") return "";
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(String(v).trim());
  if (!m || !(m[2] || m[3])) return String(v);
  const frac = (m[3] || "") + "00000";
  let units = BigInt((m[2] || "0") + frac.slice(0, 4)); // the value × 10,000
  if (frac[4] >= "5") units += 1n;
  const digits = units.toString().padStart(3, "0");
  return `${m[1] && units ? "-" : ""}${digits.slice(0, -2)}.${digits.slice(-2)}%`;
}
/* Amounts read as on the investigators' screens and in the PDF, in either language: thousands separators and
   two decimals ("8,529.48"), rounded half-up to the cent from the decimal string (a float never touches it). */
function moneyText(v) {
  if (v === null || v === undefined || v === "") return "";
  const m = String(v).trim().match(/^(-?)(\d+)(?:\.(\d+))?$/);
  if (!m) return String(v);
  let [, sign, int, frac = ""] = m;
  if (frac.length > 2) {
    const cents = (BigInt(int + frac.slice(0, 2)) + (Number(frac[2]) >= 5 ? 1n : 0n)).toString().padStart(3, "0");
    int = cents.slice(0, -2); frac = cents.slice(-2);
  } else frac = frac.padEnd(2, "0");
  if (/^0*$/.test(int + frac)) sign = "";
  return sign + int.replace(/^0+(?=\d)/, "").replace(/\B(?=(\d{3})+(?!\d))/g, ",") + "." + frac;
}
function money(v) { return esc(moneyText(v)); }
function toast(msg, isError) {
  const el = $("#toast");
  el.textContent = msg; el.className = isError ? "error" : ""; el.hidden = false;
  clearTimeout(toast._t); toast._t = setTimeout(() => { el.hidden = true; }, 6000);
}

class ApiError extends Error {
  constructor(status, body) { super((body && body.message) || String(status)); this.status = status; this.body = body || {}; }
}
async function api(method, path, { json, body, headers = {}, raw = false } = {}) {
  const h = Object.assign({}, headers);
  if (S.token) h["Authorization"] = "Bearer " + S.token;
  h["Accept-Language"] = S.lang === "en" ? "en" : "zh-CN";  // row errors and dispatch reasons in the desk's language
  if (json !== undefined) { h["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  let r;
  try { r = await fetch(path, { method, headers: h, body }); } catch (e) { throw new ApiError(0, { message: t("err.network") }); }
  if (r.status === 401 && path !== "/v1/auth/login") { logout(); throw new ApiError(401, {}); }
  if (raw) { if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => ({}))); return r; }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, data);
  data.__etag = r.headers.get("ETag");
  return data;
}
function flagList(flags) {
  return listJoin((flags || []).map((f) => code("flag", typeof f === "string" ? f : (f && (f.flag || f.code)) || "")).filter(Boolean));
}
function errText(e) {
  const kind = (e.body && e.body.error) || "";
  if (e.status === 412) return t("err.412");
  if (e.status === 409 && kind === "sign_off_required") return t("err.sign_off_required", { flags: flagList(e.body.details) });
  if (e.status === 409 && kind === "charge_cap") return t("err.charge_cap");
  if (e.status === 409 && kind === "invalid_transition") return t("err.invalid_transition");
  if (e.status === 409 && kind === "contact_rule") {
    return t("err.contact_rule", { m: (e.body.details || []).map((x) => (typeof x === "string" ? x : [x.rule && `${x.rule} ${code("rule", x.rule)}`, x.msg].filter(Boolean).join("：")))
      .join("; ") });
  }
  if (e.status === 409) return t("err.409");
  if (e.status === 404) return t("err.404");
  if (e.status === 422) {
    const d = (e.body.details || []).map((x) => (x.loc ? pathLabel(x.loc.filter((p) => p !== "body").join(".")) + ": " : "") + (x.msg || "")).join("; ");
    return t("err.422", { m: d || e.body.message || "" });
  }
  return t("err.generic", { m: e.body.message || e.message });
}

function applyI18n() {
  document.documentElement.lang = S.lang === "zh" ? "zh-CN" : "en";
  $$("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("#lang-btn").textContent = t("lang.other");
}
function logout() {
  S.token = null; S.user = null; sessionStorage.clear();
  $("#topbar").hidden = true; location.hash = "#/login"; route();
}

/* ---------------------------------------------------------------- login */
function viewLogin() {
  $("#topbar").hidden = true;
  $("#main").innerHTML = `<form class="card login" id="login-form">
    <h2>${t("login.title")}</h2>
    <label>${t("login.username")}<input name="username" autocomplete="username" required></label>
    <label>${t("login.password")}<input name="password" type="password" autocomplete="current-password" required></label>
    <p class="error" id="login-error"></p>
    <button class="primary" type="submit">${t("login.submit")}</button>
    <button class="link" type="button" id="login-lang">${t("lang.other")}</button></form>`;
  $("#login-lang").onclick = () => { toggleLang(); };
  $("#login-form").onsubmit = async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    try {
      const r = await api("POST", "/v1/auth/login", { json: { username: f.get("username"), password: f.get("password"), device_name: "supervisor-desk" } });
      if (!["supervisor", "admin"].includes(r.user.role)) { $("#login-error").textContent = t("login.role"); return; }
      S.token = r.access_token; S.user = r.user;
      sessionStorage.setItem("fv.desk.token", S.token); sessionStorage.setItem("fv.desk.user", JSON.stringify(S.user));
      location.hash = "#/inbox";
    } catch (e) {
      $("#login-error").textContent = e.status === 429 ? t("login.locked") : t("login.failed");
    }
  };
}

async function loadUsers() {
  if (S.users.length) return S.users;
  try { const r = await api("GET", "/v1/users"); S.users = r.items || r; } catch (e) { S.users = []; }
  return S.users;
}
function userName(id) { const u = S.users.find((x) => x.id === id); return u ? (u.name || u.username) : id; }

/* ---------------------------------------------------------------- inbox */
const STATES = ["submitted", "resubmitted", "returned", "approved", "rejected", "escalated_legal"];
const OUTCOMES = ["MET_BORROWER", "MET_FAMILY", "MET_THIRD_PARTY", "NO_ONE_HOME", "MOVED", "ADDRESS_INVALID", "REFUSED_CONTACT", "ACCESS_DENIED", "DECEASED_OR_INCAPACITATED", "ABORTED_UNSAFE"];

function inboxQuery(extra) {
  const p = new URLSearchParams();
  const f = S.inbox.filters;
  if (S.inbox.status) p.set("status", S.inbox.status);
  for (const k of ["investigator_id", "bucket", "from", "to", "q", "outcome", "verdict", "team"]) if (f[k]) p.set(k, f[k]);
  p.set("limit", S.inbox.limit); p.set("offset", S.inbox.offset);
  if (extra) for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return p.toString();
}

async function viewInbox() {
  await loadUsers();
  const f = S.inbox.filters;
  const invOpts = S.users.filter((u) => u.role === "investigator").map((u) => `<option value="${esc(u.id)}" ${f.investigator_id === u.id ? "selected" : ""}>${esc(u.name || u.username)}</option>`).join("");
  $("#main").innerHTML = `
    <div class="chips" id="state-chips"></div>
    <form class="card row" id="filters">
      <label>${t("f.investigator")}<select name="investigator_id"><option value="">${t("f.any")}</option>${invOpts}</select></label>
      ${S.user.role === "admin" ? `<label>${t("f.team")}<input name="team" value="${esc(f.team || "")}" size="8"></label>` : ""}
      <label>${t("f.bucket")}<select name="bucket"><option value="">${t("f.any")}</option>${[1, 2, 3, 4, 5, 6, 7].map((b) => `<option value="${b}" ${String(f.bucket) === String(b) ? "selected" : ""}>M${b}${b === 7 ? "+" : ""}</option>`).join("")}</select></label>
      <label>${t("f.from")}<input type="date" name="from" value="${esc(f.from || "")}"></label>
      <label>${t("f.to")}<input type="date" name="to" value="${esc(f.to || "")}"></label>
      <label>${t("f.outcome")}<select name="outcome"><option value="">${t("f.any")}</option>${OUTCOMES.map((o) => `<option value="${o}" ${f.outcome === o ? "selected" : ""}>${esc(code("outcome", o))}</option>`).join("")}</select></label>
      <label>${t("f.verdict")}<select name="verdict"><option value="">${t("f.any")}</option>${["pass", "fail"].map((v) => `<option value="${v}" ${f.verdict === v ? "selected" : ""}>${code("verdict", v)}</option>`).join("")}</select></label>
      <label>${t("f.q")}<input name="q" value="${esc(f.q || "")}"></label>
      <button class="primary" type="submit">${t("f.apply")}</button>
    </form>
    <div class="row" style="margin-bottom:10px">
      <button id="bulk-selected" disabled>${t("bulk.approve_selected")}</button>
      <button id="bulk-filtered">${t("bulk.approve_filtered")}</button>
    </div>
    <div id="inbox-table">${t("loading")}</div>`;
  $("#filters").onsubmit = (ev) => {
    ev.preventDefault();
    S.inbox.filters = Object.fromEntries(Array.from(new FormData(ev.target).entries()).filter(([, v]) => v !== ""));
    S.inbox.offset = 0; refreshInbox();
  };
  $("#bulk-selected").onclick = () => bulkApprove(S.inbox.items.filter((i) => S.inbox.selected.has(i.report_id)));
  $("#bulk-filtered").onclick = async () => {
    const all = [];
    for (let off = 0; ; off += 1000) {
      const r = await api("GET", "/v1/reports?" + inboxQuery({ limit: 1000, offset: off }));
      all.push(...r.items); if (all.length >= r.total || !r.items.length) break;
    }
    bulkApprove(all.filter((i) => ["submitted", "resubmitted"].includes(i.status)));
  };
  refreshInbox();
}

async function refreshInbox() {
  let r;
  try { r = await api("GET", "/v1/reports?" + inboxQuery()); } catch (e) { $("#inbox-table").innerHTML = `<p class="error">${esc(errText(e))}</p>`; return; }
  S.inbox.items = r.items; S.inbox.selected.clear();
  const counts = r.counts || {};
  const total = STATES.reduce((a, s) => a + (counts[s] || 0), 0);
  $("#state-chips").innerHTML = [["", t("state.all"), total], ...STATES.map((s) => [s, code("report_status", s), counts[s] || 0])]
    .map(([s, label, n]) => `<span class="chip ${S.inbox.status === s ? "active" : ""}" data-state="${s}" data-testid="count-${s || "all"}">${esc(label)}<b>${n}</b></span>`).join("");
  $$("#state-chips .chip").forEach((c) => { c.onclick = () => { S.inbox.status = c.dataset.state; S.inbox.offset = 0; refreshInbox(); }; });
  if (!r.items.length) { $("#inbox-table").innerHTML = `<p class="muted">${t("empty")}</p>`; return; }
  const bucketLabel = (b) => (b != null ? "M" + esc(b) + (b >= 7 ? "+" : "") : "");
  const rows = r.items.map((i) => {
    const flags = (i.flags || []).map((x) => `<span class="badge flag" data-flag="${esc(x)}" title="${esc(code("flag_help", x))}">${esc(code("flag", x))}</span>`).join(" ");
    const inc = i.incomplete ? ` <span class="badge flag">${esc(t("col.incomplete"))}</span>` : "";
    return `<tr class="clickable" data-id="${esc(i.report_id)}">
      <td><input type="checkbox" data-sel="${esc(i.report_id)}" aria-label="${esc(i.external_id || i.report_id)}" ${["submitted", "resubmitted"].includes(i.status) ? "" : "disabled"}></td>
      <td data-col="visit"><a href="#/report/${esc(i.report_id)}">${esc(i.external_id || i.visit_id)}</a></td><td data-col="borrower">${esc(i.borrower_name_masked || "")}</td>
      <td data-col="district">${esc(i.district || "")}</td><td data-col="bucket">${bucketLabel(i.bucket)}</td>
      <td data-col="outcome">${esc(code("outcome", i.outcome))}</td>
      <td data-col="verdict">${i.verdict ? esc(code("verdict", i.verdict)) : ""}</td><td data-col="investigator">${esc(i.investigator_id ? userName(i.investigator_id) : "")}</td>
      <td data-col="visit_date">${esc(i.visit_date || "")}</td>
      <td data-col="status"><span class="badge ${esc(i.status)}">${esc(code("report_status", i.status))}</span></td><td data-col="flags">${flags}${inc}</td></tr>`;
  }).join("");
  const a = S.inbox.offset + 1, b = S.inbox.offset + r.items.length;
  $("#inbox-table").innerHTML = `<table data-testid="inbox"><thead><tr><th></th><th>${t("col.visit")}</th><th>${t("col.borrower")}</th><th>${t("col.district")}</th><th>${t("col.bucket")}</th><th>${t("col.outcome")}</th><th>${t("col.verdict")}</th><th>${t("k.investigator")}</th><th>${t("col.visit_date")}</th><th>${t("col.status")}</th><th>${t("col.flags")}</th></tr></thead><tbody>${rows}</tbody></table>
    <div class="pager"><button id="pg-prev" ${S.inbox.offset ? "" : "disabled"}>${t("pager.prev")}</button><span>${t("pager.info", { a, b, n: r.total })}</span><button id="pg-next" ${b < r.total ? "" : "disabled"}>${t("pager.next")}</button></div>`;
  $$("#inbox-table tr.clickable").forEach((tr) => { tr.onclick = (ev) => { if (ev.target.matches("input")) return; location.hash = "#/report/" + tr.dataset.id; }; });
  $$("#inbox-table [data-sel]").forEach((cb) => { cb.onchange = () => { cb.checked ? S.inbox.selected.add(cb.dataset.sel) : S.inbox.selected.delete(cb.dataset.sel); $("#bulk-selected").disabled = !S.inbox.selected.size; }; });
  $("#pg-prev").onclick = () => { S.inbox.offset = Math.max(0, S.inbox.offset - S.inbox.limit); refreshInbox(); };
  $("#pg-next").onclick = () => { S.inbox.offset += S.inbox.limit; refreshInbox(); };
}

async function bulkApprove(items) {
  let n = 0, failed = 0, gated = 0;
  for (const i of items) {
    try { await api("POST", `/v1/reports/${i.report_id}/review`, { json: { action: "approve", comment: "" }, headers: { "If-Match": `"v${i.server_version}"` } }); n++; }
    catch (e) { failed++; if (["sign_off_required", "charge_cap"].includes(e.body && e.body.error)) gated++; }
  }
  toast(t("bulk.done", { n, f: failed }) + (gated ? " · " + t("bulk.sign_off", { k: gated }) : ""), failed > 0);
  refreshInbox();
}

/* ---------------------------------------------------------------- report detail */
function kv(pairs) {
  return `<dl class="kv">${pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => `<dt>${esc(t(k))}</dt><dd>${v}</dd>`).join("")}</dl>`;
}
function yn(v) { return v === true ? t("yes") : v === false ? t("no") : ""; }

/* A report version as {path: value}; a list of plain values (reasons, step payments) is one value. */
function flatten(obj, prefix = "", out = {}) {
  const leaf = obj === null || typeof obj !== "object" || (Array.isArray(obj) && obj.every((x) => x === null || typeof x !== "object"));
  if (leaf) { if (prefix) out[prefix] = obj; return out; }
  for (const [k, v] of Object.entries(obj)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}
// Which code list a field's values come from; the words are the catalogue's.
const FIELD_CODES = { outcome: "outcome", "interview.results": "result", "interview.reasons": "reason", "interview.primary_reason": "reason",
  "interview.willingness": "willingness", "interview.dispute.type": "dispute", "assessment.incomes.source": "source",
  "assessment.incomes.evidence": "evidence", "assessment.expenses.category": "category", "plan.option": "option", "plan.product_type": "product",
  "plan.method": "method", "plan.holiday_mode": "holiday_mode", "plan.agreement": "agreement", "third_party.relation": "relation",
  "compliance.location_kind": "location", "attachments.kind": "attachment" };
const MONEY_FIELDS = new Set(["amount", "balance", "monthly_payment", "principal", "upfront_fee", "step_payments", "penalty", "fees", "interest",
  "total_due", "settlement_amount", "instalment", "total_payment"]);
const RATE_FIELDS = new Set(["monthly_rate", "apr_simple", "apr_compound", "buffer", "dsr_limit"]);
const TIME_FIELDS = new Set(["at", "captured_at", "created_at"]);
const LINE_CODES = [["source", "source"], ["category", "category"], ["kind", "attachment"]];
function fieldKey(path) { return path.split(".").filter((p) => !/^\d+$/.test(p)).join("."); }
function fieldName(key, fallback) { return (LABELS[S.lang] && LABELS[S.lang]["field." + key]) || LABELS.zh["field." + key] || fallback; }
function fieldValue(path, v) {
  if (v === undefined || v === null || v === "") return "";
  const key = fieldKey(path), last = key.split(".").pop();
  if (Array.isArray(v)) return listJoin(v.map((x) => fieldValue(path, x)));
  if (typeof v === "boolean") return yn(v);
  if (FIELD_CODES[key]) return code(FIELD_CODES[key], v);
  if (/(^|\.)(collector_ids|investigator_id)$/.test(key)) return userName(v);
  if (MONEY_FIELDS.has(last)) return moneyText(v);
  if (RATE_FIELDS.has(last)) return pct(v);
  if (TIME_FIELDS.has(last)) return localTime(v);
  return String(v);
}
/* "assessment.incomes.1.amount" → "收支评估 › 收入 #2（配偶收入） › 金额": the form's own labels, a list line by
   its number and what it is (looked up in `docs`, the versions the path comes from). */
function pathLabel(path, docs = []) {
  const out = [];
  let key = "", node = docs.filter(Boolean);
  for (const p of String(path || "").split(".").filter((x) => x !== "")) {
    node = node.map((n) => (n && typeof n === "object" ? n[p] : undefined)).filter((n) => n !== undefined && n !== null);
    if (/^\d+$/.test(p) && out.length) {
      const item = node[0] || {};
      const what = LINE_CODES.map(([f, kind]) => (item[f] ? code(kind, item[f]) : "")).find(Boolean);
      out[out.length - 1] += ` #${Number(p) + 1}` + (what ? (S.lang === "zh" ? `（${what}）` : ` (${what})`) : "");
      continue;
    }
    key = key ? `${key}.${p}` : p;
    out.push(fieldName(key, p));
  }
  return out.join(" › ");
}
function diffVersions(prev, cur) {
  const a = flatten(prev || {}), b = flatten(cur || {});
  const keys = Array.from(new Set([...Object.keys(a), ...Object.keys(b)])).sort();
  return keys.filter((k) => JSON.stringify(a[k] ?? null) !== JSON.stringify(b[k] ?? null))
    .map((k) => `<tr data-field="${esc(k)}"><td>${esc(pathLabel(k, [cur, prev]))}</td><td class="diff-del">${esc(fieldValue(k, a[k]))}</td><td class="diff-add">${esc(fieldValue(k, b[k]))}</td></tr>`).join("");
}

function budgetChart(aff) {
  if (!aff) return "";
  const items = [["k.net_income", aff.net_income], ["k.essential", aff.essential_expenses], ["k.debt", aff.debt_service], ["k.disposable", aff.disposable_income], ["k.capacity", aff.capacity]];
  const max = Math.max(...items.map(([, v]) => Math.abs(Number(v) || 0)), 1);
  return `<table class="bars"><tbody>${items.map(([k, v]) => `<tr><td>${t(k)}</td><td style="width:50%"><div class="bar${Number(v) < 0 ? " neg" : ""}" style="width:${(Math.abs(Number(v) || 0) / max) * 100}%"></div></td><td class="num">${money(v)}</td></tr>`).join("")}</tbody></table>`;
}

/* The rule book's findings: each flag with its label and the sentence that names its rule, then every
   problem the server's rule book found in the current version. */
function flagsCard(flags, rules, missing) {
  if (!flags.length && !rules.length && !missing) return "";
  const items = flags.map((x) => `<li data-testid="flag-${esc(x)}" data-flag="${esc(x)}"><span class="badge flag">${esc(code("flag", x))}</span> <span class="help">${esc(code("flag_help", x) === x ? "" : code("flag_help", x))}</span></li>`).join("");
  const ruleRows = rules.map((r) => {
    const what = r.flag ? code("flag", r.flag) : (LABELS.zh["flag." + r.code] ? code("flag", r.code) : code("rule", r.rule));
    return `<tr class="sev-${esc(r.severity)}"><td><strong>${esc(r.rule || "")}</strong> <span class="muted">${esc(r.rule ? code("rule", r.rule) : "")}</span></td><td>${esc(what)}</td><td><span class="badge sev ${esc(r.severity)}">${esc(code("severity", r.severity))}</span></td><td class="muted">${esc(r.field ? pathLabel(r.field) : "")}</td></tr>`;
  }).join("");
  return `<div class="card flags" data-testid="report-flags"><h3>${t("detail.flags")}</h3>
    ${items ? `<ul class="flag-list">${items}</ul>` : ""}
    ${missing ? `<p><span class="badge flag">${esc(t("detail.incomplete", { n: missing }))}</span></p>` : ""}
    ${ruleRows ? `<h4>${t("detail.rules")}</h4><table data-testid="rules"><thead><tr><th>${t("rules.rule")}</th><th>${t("rules.what")}</th><th>${t("rules.severity")}</th><th>${t("rules.field")}</th></tr></thead><tbody>${ruleRows}</tbody></table>` : ""}</div>`;
}

/* The household's figures as the device computed them (its own buffer and DSR limit) beside the server's
   recomputation with the lender's settings; a row where they differ is highlighted. */
const ASSESS_ROWS = [["net_income", "k.net_income", "money"], ["essential_expenses", "k.essential", "money"], ["debt_service", "k.debt", "money"],
  ["disposable_income", "k.disposable", "money"], ["capacity", "k.capacity", "money"], ["dsr_after", "k.dsr_after", "rate"], ["verdict", "k.verdict", "verdict"]];
function assessValue(kind, v) {
  if (v === undefined || v === null || v === "") return "—";
  if (kind === "money") return money(v);
  if (kind === "rate") return pct(v);
  return esc(code("verdict", v));
}
function assessDiffers(kind, a, b) {
  if (a == null || b == null || a === "" || b === "") return false;
  if (kind === "money") return Math.round(Number(a) * 100) !== Math.round(Number(b) * 100);
  if (kind === "rate") return Math.round(Number(a) * 10000) !== Math.round(Number(b) * 10000);
  return String(a) !== String(b);
}
function compareTable(device, server) {
  if (!device && !server) return "";
  const rows = ASSESS_ROWS.map(([k, label, kind]) => {
    const a = device ? device[k] : null, b = server ? server[k] : null;
    const differs = assessDiffers(kind, a, b);
    return `<tr data-testid="cmp-${k}" class="${differs ? "differs" : ""}" ${differs ? 'data-differs="true"' : ""}><td>${t(label)}</td><td class="num">${assessValue(kind, a)}</td><td class="num">${assessValue(kind, b)}</td></tr>`;
  }).join("");
  const anyDiff = ASSESS_ROWS.some(([k, , kind]) => device && server && assessDiffers(kind, device[k], server[k]));
  return `<div data-testid="assessment-compare"><h4>${t("cmp.title")}</h4><table class="compare"><thead><tr><th>${t("cmp.item")}</th><th class="num">${t("cmp.device")}</th><th class="num">${t("cmp.server")}</th></tr></thead><tbody>${rows}</tbody></table>
    ${!server ? `<p class="muted">${t("cmp.server_none")}</p>` : anyDiff ? `<p class="warn">${t("cmp.differs")}</p>` : ""}</div>`;
}

function section(id, title, body) {
  return `<div class="card" data-testid="section-${id}"><h3>${title}</h3>${body}</div>`;
}

async function viewReport(id, opts = {}) {
  await loadUsers();
  $("#main").innerHTML = `<p class="muted">${t("loading")}</p>`;
  let d;
  try { d = await api("GET", "/v1/reports/" + encodeURIComponent(id)); }
  catch (e) { $("#main").innerHTML = `<p><a href="#/inbox">← ${t("detail.back")}</a></p><div class="card"><p class="error" data-testid="load-error">${esc(errText(e))}</p></div>`; return; }
  const etag = d.__etag || `"v${d.server_version}"`;
  try { const rc = await api("GET", `/v1/reports/${encodeURIComponent(id)}/recomputed`); d.recomputed_plan = rc.recomputed; d.p4 = rc.p4 || null; d.checkin_distance_m = rc.checkin_distance_m; d.attestations = rc.attestations || []; } catch (e) { /* shown as none */ }
  const rep = d.report || {};
  const c = rep.compliance || {}, ci = rep.checkin || {}, co = rep.checkout || {}, iv = rep.interview, tp = rep.third_party;
  const as = rep.assessment, plan = rep.plan, visit = d.visit || {};
  const recompute = d.recomputed_plan || null;
  const aff = (recompute && recompute.affordability) || null;
  const distance = d.checkin_distance_m != null ? (Number(d.checkin_distance_m) >= 1000 ? (Number(d.checkin_distance_m) / 1000).toFixed(2) + " km" : d.checkin_distance_m + " m") : "";
  const schedule = (recompute && recompute.schedule) || [];
  const history = d.history || [];
  const conflicts = d.conflicts || [];
  const comments = d.comments || [];
  const canReview = ["submitted", "resubmitted", "returned"].includes(d.status);
  // Sign-off (P-3, P-5, P-6): the server says which flags need a reason and which forbid approval; a 409
  // from a server that did not say so beforehand adds its flags here.
  const signOff = d.sign_off || {};
  const blocked = Array.from(new Set([...(signOff.blocked || []), ...(opts.blocked || [])]));
  const required = Array.from(new Set([...(signOff.required || []), ...(opts.signOffRequired || [])]));
  const draft = opts.draft || {};
  // A server without the rule book recomputed with the device's own settings: that is the device's view.
  const deviceAssessment = "device_assessment" in d ? d.device_assessment : aff;
  const serverAssessment = d.server_assessment || null;
  const missing = (d.missing_blobs || []).length;
  const names = (ids) => listJoin((ids || []).map(userName));

  const checkin = kv([
    ["k.checkin_at", esc(localTime(ci.at))], ["k.checkout_at", esc(localTime(co.at))],
    ["k.position", ci.position ? esc(`${ci.position.lat}, ${ci.position.lon} ±${ci.position.accuracy_m ?? "?"} m`) : ""],
    ["detail.distance", esc(distance)], ["k.location", esc(code("location", c.location_kind))],
    ["k.collectors", esc(names(c.collector_ids && c.collector_ids.length ? c.collector_ids : rep.collector_ids))]]) +
    // Only the attestations that apply to this visit (the server decides, as its rule book does), each as what happened.
    ((d.attestations || []).length ? `<h4>${t("detail.attestations")}</h4><ul class="attests" data-testid="attestations">${d.attestations.map((a) => `<li data-testid="attest-${esc(a.field)}" data-state="${esc(a.state)}">${esc(code("attest", `${a.field}.${a.state}`))}</li>`).join("")}</ul>` : "");
  const outcome = kv([["detail.outcome", esc(code("outcome", rep.outcome))], ["k.notes", esc(rep.notes || "")]]) +
    (tp ? `<h4>${t("k.third_party")}</h4>` + kv([["k.relation", esc(code("relation", tp.relation))], ["k.contact_details", esc(tp.contact_details || "")]]) : "");
  const interview = iv ? kv([
    ["k.results", esc(listJoin((iv.results || []).map((x) => code("result", x))))],
    ["k.reasons", esc(listJoin((iv.reasons || []).map((x) => code("reason", x))))], ["k.primary", esc(code("reason", iv.primary_reason))],
    ["k.willingness", esc(code("willingness", iv.willingness))], ["k.hardship", yn(iv.hardship)],
    ["k.promise", iv.promise ? esc(`${moneyText(iv.promise.amount)} · ${iv.promise.date}`) : ""], ["k.notes", esc(iv.notes || "")]]) : `<p class="muted">${t("detail.none")}</p>`;
  const lines = as ? `<table><thead><tr><th></th><th></th><th class="num"></th></tr></thead><tbody>${(as.incomes || []).map((l) => `<tr><td>${t("k.income")} · ${esc(code("source", l.source))}</td><td class="muted">${esc(code("evidence", l.evidence))}</td><td class="num">${money(l.amount)}</td></tr>`).join("")}${(as.expenses || []).map((l) => `<tr><td>${t("k.expense")} · ${esc(code("category", l.category))}</td><td></td><td class="num">${money(l.amount)}</td></tr>`).join("")}</tbody></table>` : "";
  const compare = compareTable(deviceAssessment, serverAssessment);
  const assessment = `${compare}` + (as ? `<div class="grid2"><div>${kv(aff ? [["k.net_income", money(aff.net_income)], ["k.essential", money(aff.essential_expenses)], ["k.debt", money(aff.debt_service)], ["k.disposable", money(aff.disposable_income)], ["k.capacity", money(aff.capacity)], ["k.dsr", pct(aff.dsr_after)], ["k.min_term", esc(aff.min_term_months ?? "")], ["k.verdict", aff.verdict ? `<span class="badge ${aff.verdict === "pass" ? "approved" : "rejected"}">${esc(code("verdict", aff.verdict))}</span>` : ""]] : [])}${lines}</div>
      <div>${budgetChart(aff)}</div></div>` : "");
  const planHtml = plan ? `<div class="grid2"><div>
      <p class="apr" data-testid="apr">${t("k.apr")}: ${pct(plan.apr_compound)} ${aff && aff.verdict ? `<span class="badge ${aff.verdict === "pass" ? "approved" : "rejected"}">${esc(code("verdict", aff.verdict))}</span>` : ""}</p>
      ${kv([["k.apr_simple", pct(plan.apr_simple)], ["k.option", esc(code("option", plan.option))], ["k.instalment", money(plan.instalment)], ["k.term", esc(plan.term_months)], ["k.rate", pct(plan.monthly_rate)], ["k.total", money(plan.total_payment)], ["k.override", esc(plan.override_reason || "")], ["k.agreement", esc(code("agreement", plan.agreement))]])}</div>
      <div><h4>${t("detail.recompute")}</h4>${recompute ? kv([["k.instalment", money(recompute.instalment)], ["k.total", money(recompute.total_payment)], ["k.apr", pct(recompute.apr_compound)], ["k.apr_simple", pct(recompute.apr_simple)]]) : `<p class="muted">${t("detail.none")}</p>`}
      ${d.p4 ? `<p class="${d.p4.within ? "muted" : "error"}" data-testid="p4">${t(d.p4.within ? "p4.within" : "p4.over", { total: money(d.p4.total_repayable), ceiling: money(d.p4.ceiling) })}</p>` : ""}
      ${(d.flags || []).includes("plan_mismatch") ? `<p class="error">${esc(code("flag", "plan_mismatch"))}</p>` : ""}</div></div>
      ${schedule.length ? `<details class="schedule" open><summary>${t("detail.schedule", { n: schedule.length })}</summary><table><thead><tr><th>${t("s.n")}</th><th>${t("s.due")}</th><th class="num">${t("s.payment")}</th><th class="num">${t("s.principal")}</th><th class="num">${t("s.interest")}</th><th class="num">${t("s.balance")}</th></tr></thead><tbody>${schedule.map((r) => `<tr><td>${r.n}</td><td>${esc(r.due_date)}</td><td class="num">${money(r.payment)}</td><td class="num">${money(r.principal)}</td><td class="num">${money(r.interest)}</td><td class="num">${money(r.balance)}</td></tr>`).join("")}</tbody></table></details>` : ""}` : "";
  // Report versions are numbered 1, 2, … by submission; review steps (which also move the server's version
  // counter) are shown as what they are, in one timeline.
  const versionOf = (sv) => history.filter((h) => (h.server_version ?? 0) <= sv).length;
  const currentN = (history.findIndex((h) => h.version_id === d.current_version_id) + 1) || history.length || 1;
  const versionEntry = (h, i) => {
    const diff = i > 0 ? diffVersions(history[i - 1].report, h.report) : "";
    const kind = t(i === 0 ? "detail.first" : h.kind === "resubmit_report" ? "detail.kind_resubmit_report" : "detail.kind_amend_report");
    return `<details class="tl-version" data-testid="version-${i + 1}" ${i === history.length - 1 && i > 0 ? "open" : ""}><summary><strong>${t("detail.version_n", { n: i + 1 })}</strong> · ${esc(kind)} · ${esc(localTime(h.received_at))} · ${esc(userName(h.user_id))}${h.version_id === d.current_version_id ? ` <span class="badge">${t("detail.current")}</span>` : ""}</summary>
      ${i > 0 ? `<p class="muted">${t("detail.diff_from", { n: i })}</p>` + (diff ? `<table class="diff"><thead><tr><th>${t("detail.field")}</th><th>${t("detail.before")}</th><th>${t("detail.after")}</th></tr></thead><tbody>${diff}</tbody></table>` : `<p class="muted">${t("detail.no_changes")}</p>`) : ""}</details>`;
  };
  const reviewEntry = (m) => `<div class="comment tl-review" data-testid="review-step"><span class="badge ${esc(({ approve: "approved", return: "returned", reject: "rejected", escalate_legal: "escalated_legal" })[m.action] || "")}">${esc(t("act." + m.action + "_done"))}</span> <strong>${esc(m.author_name || userName(m.author_id))}</strong> <span class="muted">· ${esc(localTime(m.at))}</span>
      ${m.comment ? `<p>${esc(m.comment)}</p>` : ""}${m.sign_off_reason ? `<p data-testid="comment-sign-off"><span class="muted">${t("k.sign_off")}：</span>${esc(m.sign_off_reason)}</p>` : ""}${m.route ? `<p class="muted">${t("act.route")}: ${esc(code("route", m.route))}</p>` : ""}</div>`;
  const timeline = [...history.map((h, i) => ({ sv: h.server_version ?? 0, order: 0, html: versionEntry(h, i) })),
    ...comments.map((m) => ({ sv: m.server_version ?? 0, order: 1, html: reviewEntry(m) }))]
    .sort((a, b) => a.sv - b.sv || a.order - b.order).map((x) => x.html).join("") || `<p class="muted">${t("detail.none")}</p>`;

  $("#main").innerHTML = `
    <p><a href="#/inbox">← ${t("detail.back")}</a></p>
    ${opts.notice ? `<div class="card notice" role="alert" data-testid="review-notice">${esc(opts.notice)}</div>` : ""}
    <div class="card head">
      <div><h2>${esc(visit.external_id || d.visit_id || "")} <span class="badge ${esc(d.status)}" id="report-status" data-testid="report-status">${esc(code("report_status", d.status))}</span></h2>
      <span class="muted"><span data-testid="report-version">${t("detail.version_n", { n: currentN })}</span> · ${esc(visit.district || "")} · ${visit.bucket != null ? "M" + esc(visit.bucket) : ""} · ${t("k.planned")} ${esc(visit.planned_date || "")} · ${t("k.case_collectors")} ${esc(names(visit.investigator_ids))} · ${t("k.investigator")} ${esc(userName(d.investigator_id))}</span></div>
      <div class="row"><button id="pdf-btn" type="button">${t("detail.pdf")}</button></div>
    </div>
    ${flagsCard(d.flags || [], d.rules || [], missing)}
    <div class="layout">
      <div class="col-main">
        <div class="grid2">${section("checkin", t("detail.checkin"), checkin)}
          <div class="card" data-testid="section-outcome"><h3>${t("detail.outcome")}</h3>${outcome}
            <div data-testid="section-interview"><h3 class="sub">${t("detail.interview")}</h3>${interview}</div></div></div>
        ${plan ? section("plan", t("detail.plan"), planHtml) : ""}
        ${as || serverAssessment ? section("assessment", t("detail.assessment"), assessment) : ""}
        ${(rep.attachments || []).length ? `<div class="card photos" data-testid="section-photos"><h3>${t("detail.photos")} <span class="muted" id="photos-arrived" data-testid="photos-arrived"></span></h3><div id="photos"></div></div>` : ""}
      </div>
      <div class="col-side">
        ${canReview ? `<form class="card" id="review-form" data-testid="review-form"><h3>${t("detail.actions")}</h3>
          <label class="block">${t("act.comment")}<textarea name="comment" id="review-comment">${esc(draft.comment || "")}</textarea></label>
          ${d.status !== "returned" && blocked.length ? `<div class="gate blocked" data-testid="approve-blocked" id="approve-blocked" role="note"><strong>${t("blocked.title")}</strong><p>${esc(t("blocked.text", { flags: flagList(blocked) }))}</p></div>` : ""}
          ${d.status !== "returned" && required.length && !blocked.length ? `<fieldset class="gate sign-off" data-testid="sign-off"><legend>${t("signoff.title")}</legend><p>${t("signoff.intro")}</p>
            <ul>${required.map((f) => `<li data-flag="${esc(f)}"><strong>${esc(code("flag", f))}</strong> <span class="muted">${esc(code("flag_help", f) === f ? "" : code("flag_help", f))}</span></li>`).join("")}</ul>
            <label class="block">${t("signoff.reason")}<textarea name="sign_off_reason" id="sign-off-reason" required aria-required="true">${esc(draft.sign_off_reason || "")}</textarea></label></fieldset>` : ""}
          <div class="row">
          ${d.status !== "returned" ? `<button type="button" class="primary" data-action="approve" ${blocked.length ? 'disabled aria-describedby="approve-blocked"' : ""}>${code("action", "approve")}</button><button type="button" data-action="return">${code("action", "return")}</button>` : ""}
          <button type="button" class="danger" data-action="reject">${code("action", "reject")}</button></div>
          <div class="row" style="margin-top:10px"><label>${t("act.route")}<select name="route"><option value="">—</option>${["lawyer_letter", "payment_order", "litigation", "mediation"].map((r) => `<option value="${r}">${code("route", r)}</option>`).join("")}</select></label>
          <button type="button" data-action="escalate_legal">${code("action", "escalate_legal")}</button></div>
          <p class="error" id="review-error" role="alert"></p></form>` : ""}
        <div class="card" data-testid="history"><h3>${t("detail.timeline")}</h3>${timeline}
          ${conflicts.length ? `<h4>${t("detail.conflicts")}</h4>${conflicts.map((x) => `<div class="muted">${t("detail.conflict_on", { n: versionOf(x.base_version ?? 0) })} · ${esc(localTime(x.received_at))} · ${esc(userName(x.user_id))} ${(x.flags || []).map((f) => `<span class="badge flag">${esc(code("flag", f))}</span>`).join(" ")}</div>`).join("")}` : ""}</div>
      </div>
    </div>`;
  $("#pdf-btn").onclick = () => download(`/v1/reports/${encodeURIComponent(id)}/pdf`, `report-${id}.pdf`);
  if ((rep.attachments || []).length) loadPhotos(id, rep.attachments, d.missing_blobs || []);
  if ($("#sign-off-reason")) $("#sign-off-reason").oninput = () => { $("#review-error").textContent = ""; };
  $$("#review-form [data-action]").forEach((b) => {
    b.onclick = async () => {
      const f = new FormData($("#review-form"));
      const body = { action: b.dataset.action, comment: f.get("comment") || "" };
      if (f.get("route")) body.route = f.get("route");
      const reason = String(f.get("sign_off_reason") || "").trim();
      if (body.action === "approve" && required.length) {
        if (!reason) { $("#review-error").textContent = t("signoff.empty"); $("#sign-off-reason").focus(); return; }
        body.sign_off_reason = reason;
      }
      const kept = { comment: body.comment, sign_off_reason: reason };
      const enable = () => $$("#review-form button").forEach((x) => { x.disabled = x.dataset.action === "approve" && blocked.length > 0; });
      $$("#review-form button").forEach((x) => { x.disabled = true; });
      try {
        const r = await api("POST", `/v1/reports/${encodeURIComponent(id)}/review`, { json: body, headers: { "If-Match": etag } });
        toast(t("act.done", { s: code("report_status", r.status) }));
        await viewReport(id);
      } catch (e) {
        const msg = errText(e);
        toast(msg, true);
        // 412/409: the report or its rules changed; show the fresh state with the message kept on screen, the
        // gate the server named, and what the supervisor had typed.
        if (e.status === 412 || e.status === 409) {
          const kind = (e.body && e.body.error) || "";
          const named = (e.body.details || []).filter((x) => typeof x === "string");
          await viewReport(id, { notice: msg, draft: kept,
            signOffRequired: kind === "sign_off_required" ? named : [],
            blocked: kind === "charge_cap" ? (named.length ? named : ["above_charge_cap"]) : [] });
          return;
        }
        enable();
        $("#review-error").textContent = msg;
      }
    };
  });
}

// Photos follow their report over the investigator's link: the ones still missing wait in place, and the
// report is asked again every 15 s while this page shows it, each photo appearing as it arrives.
async function loadPhotos(id, atts, missing) {
  const box = $("#photos");
  const waiting = new Set(missing);
  const slot = (a) => `photo-${a.sha256.slice(0, 16)}`;
  const counter = () => { const el = $("#photos-arrived"); if (el) el.textContent = t("detail.photos_arrived", { n: atts.length - waiting.size, m: atts.length }); };
  const show = async (a) => {
    const el = document.getElementById(slot(a));
    if (waiting.has(a.sha256)) { el.innerHTML = `<span class="muted" data-testid="photo-waiting">${esc(a.kind)} · ${t("detail.photo_waiting")}</span> `; return; }
    try {
      const r = await api("GET", "/v1/blobs/" + a.sha256, { raw: true });
      const url = URL.createObjectURL(await r.blob());
      el.innerHTML = (a.mime || "").startsWith("image/") ? `<img src="${url}" alt="${esc(a.kind)}">` : `<a href="${url}" download="${esc(a.filename || a.sha256)}">${esc(a.filename || a.kind)}</a>`;
    } catch (e) { el.innerHTML = `<span class="muted">${esc(a.kind)} (${esc(a.sha256.slice(0, 8))}…)</span> `; }
  };
  box.innerHTML = atts.map((a) => `<span id="${slot(a)}"></span>`).join("");
  counter();
  for (const a of atts) await show(a);
  while (waiting.size) {
    await new Promise((done) => setTimeout(done, 15000));
    if (!document.body.contains(box)) return;
    let now;
    try { now = new Set((await api("GET", "/v1/reports/" + encodeURIComponent(id))).missing_blobs || []); } catch (e) { continue; }
    for (const a of atts) if (waiting.has(a.sha256) && !now.has(a.sha256)) { waiting.delete(a.sha256); await show(a); }
    counter();
  }
}

async function download(path, filename) {
  try {
    const r = await api("GET", path, { raw: true });
    const url = URL.createObjectURL(await r.blob());
    const a = document.createElement("a"); a.href = url; a.download = filename; document.body.appendChild(a); a.click(); a.remove();
  } catch (e) { toast(errText(e), true); }
}

/* ---------------------------------------------------------------- dispatch */
async function viewDispatch() {
  await loadUsers();
  const invs = S.users.filter((u) => u.role === "investigator");
  const opt = (sel) => invs.map((u) => `<option value="${esc(u.id)}" ${sel === u.id ? "selected" : ""}>${esc(u.name || u.username)} (${esc((u.districts || []).join("/"))})</option>`).join("");
  const today = S.dispatchDate || new Date().toISOString().slice(0, 10);
  $("#main").innerHTML = `
    <div class="grid2">
      <div class="card"><h3>${t("disp.import")}</h3><div class="row"><input type="file" id="import-file" accept=".csv,.json,text/csv,application/json"><button id="import-btn" type="button" class="primary">${t("disp.import_btn")}</button></div><div id="import-result"></div></div>
      <div class="card"><h3>${t("disp.suggest")}</h3><div class="row"><label>${t("disp.date")}<input type="date" id="disp-date" value="${today}"></label>
        <button id="suggest-btn" type="button">${t("disp.suggest")}</button><button id="apply-btn" type="button" class="primary" disabled>${t("disp.apply")}</button></div>
        <div class="row" style="margin-top:12px">
        <label>${t("disp.leaver")}<select id="leaver"><option value="">—</option>${opt()}</select></label>
        <label>${t("disp.replacement")}<select id="replacement"><option value="">—</option>${opt()}</select></label>
        <button id="bulk-reassign" type="button">${t("disp.bulk")}</button></div></div>
    </div>
    <div id="suggestion"></div>
    <div class="card"><h3>${t("disp.title")} <span class="muted" data-testid="open-count" id="open-count"></span></h3><div id="open-visits">${t("loading")}</div></div>`;
  renderImportResult();
  $("#disp-date").onchange = () => { S.dispatchDate = $("#disp-date").value; };
  $("#import-btn").onclick = importFile;
  $("#suggest-btn").onclick = suggest;
  $("#apply-btn").onclick = applySuggestion;
  $("#bulk-reassign").onclick = bulkReassign;
  await loadOpenVisits(opt);
}

function localReason(reason) {
  const r = String(reason || "");
  if (/high balance/.test(r)) return t("disp.r_high");
  if (/balanced by load/.test(r)) return t("disp.r_load");
  let m = r.match(/fewer than two investigators cover district (.*)$/);
  if (m) return t("disp.r_cover", { d: m[1] });
  m = r.match(/daily capacity of (\d+) reached in district (.*)$/);
  if (m) return t("disp.r_capacity", { n: m[1], d: m[2] });
  return r;
}

async function loadOpenVisits(opt) {
  let items = [], total = 0;
  try {
    for (let off = 0; ; off += 1000) {
      const r = await api("GET", `/v1/visits?unassigned=true&status=open&limit=1000&offset=${off}`);
      items.push(...r.items); total = r.total;
      if (items.length >= r.total || !r.items.length) break;
    }
  } catch (e) { $("#open-visits").innerHTML = `<p class="error">${esc(errText(e))}</p>`; return; }
  S.openVisits = Object.fromEntries(items.map((v) => [v.visit_id, v]));
  $("#open-count").textContent = t("disp.open_count", { n: total });
  if (!items.length) { $("#open-visits").innerHTML = `<p class="muted">${t("empty")}</p>`; return; }
  const byDistrict = {};
  for (const v of items) (byDistrict[v.district] = byDistrict[v.district] || []).push(v);
  $("#open-visits").innerHTML = `<div class="districts">${Object.entries(byDistrict).sort().map(([d, vs]) => `<details ${Object.keys(byDistrict).length === 1 ? "open" : ""}><summary><strong>${esc(d)}</strong> <span class="muted">(${vs.length})</span></summary>
    <table><thead><tr><th>${t("col.visit")}</th><th>${t("col.borrower")}</th><th>${t("col.bucket")}</th><th class="num">${t("col.dpd")}</th><th class="num">${t("col.priority")}</th><th class="num">${t("col.principal")}</th><th>${t("disp.lead")}</th><th>${t("disp.second")}</th><th></th></tr></thead><tbody>
    ${vs.map((v) => `<tr data-visit="${esc(v.visit_id)}"><td>${esc(v.external_id)}</td><td>${esc(v.borrower_name_masked || "")}</td><td>M${esc(v.bucket)}${v.bucket >= 7 ? "+" : ""}</td><td class="num">${esc(v.dpd ?? "")}</td><td class="num">${esc(v.priority)}</td><td class="num">${money(v.outstanding_principal)}</td>
      <td><select class="lead" aria-label="${t("disp.lead")}"><option value="">—</option>${opt()}</select></td><td><select class="second" aria-label="${t("disp.second")}"><option value="">—</option>${opt()}</select></td>
      <td><button type="button" class="assign">${t("disp.assign")}</button></td></tr>`).join("")}</tbody></table></details>`).join("")}</div>`;
  $$("#open-visits button.assign").forEach((b) => {
    b.onclick = async () => {
      const tr = b.closest("tr");
      const ids = [$(".lead", tr).value, $(".second", tr).value].filter(Boolean);
      try { await api("POST", `/v1/visits/${tr.dataset.visit}/assign`, { json: { investigator_ids: ids, planned_date: $("#disp-date").value } }); toast(t("disp.applied", { n: 1 })); tr.remove(); }
      catch (e) { toast(errText(e), true); }
    };
  });
}

async function suggest() {
  try {
    const body = { date: $("#disp-date").value };
    if (S.user.team) body.team = S.user.team;
    S.suggestion = await api("POST", "/v1/dispatch/suggest", { json: body });
  } catch (e) { toast(errText(e), true); return; }
  const s = S.suggestion;
  const ov = S.openVisits || {};
  $("#apply-btn").disabled = !s.assignments.length;
  const perPerson = {};
  for (const a of s.assignments) for (const id of a.investigator_ids) perPerson[id] = (perPerson[id] || 0) + 1;
  $("#suggestion").innerHTML = `<div class="card"><h3 data-testid="suggest-count">${t("disp.suggest_count", { n: s.assignments.length })}</h3>
    <div class="chips">${Object.entries(perPerson).sort((a, b) => b[1] - a[1]).map(([id, n]) => `<span class="chip">${esc(userName(id))}<b>${n}</b></span>`).join("")}</div>
    <div class="scroll"><table><thead><tr><th>${t("col.visit")}</th><th>${t("col.district")}</th><th>${t("col.bucket")}</th><th>${t("disp.lead")}</th><th>${t("disp.second")}</th><th>${t("disp.reason")}</th></tr></thead><tbody>
    ${s.assignments.map((a) => { const v = ov[a.visit_id] || {}; return `<tr data-testid="suggest-row"><td>${esc(v.external_id || a.visit_id)}</td><td>${esc(v.district || "")}</td><td>${v.bucket != null ? "M" + esc(v.bucket) : ""}</td><td>${esc(userName(a.investigator_ids[0]))}</td><td>${esc(userName(a.investigator_ids[1]))}</td><td class="muted">${esc(localReason(a.reason))}</td></tr>`; }).join("")}</tbody></table></div>
    ${s.unassigned.length ? `<h4>${t("disp.unassigned")} (${s.unassigned.length})</h4><table><tbody>${s.unassigned.map((u) => `<tr data-testid="suggest-unassigned"><td>${esc((ov[u.visit_id] || {}).external_id || u.visit_id)}</td><td class="muted">${esc(localReason(u.reason))}</td></tr>`).join("")}</tbody></table>` : ""}</div>`;
}

async function applySuggestion() {
  if (!S.suggestion) return;
  const list = S.suggestion.assignments.slice();
  const date = $("#disp-date").value;
  $("#apply-btn").disabled = true; $("#suggest-btn").disabled = true;
  let n = 0, done = 0, failed = 0;
  const total = list.length;
  // A few requests in flight at once: the server commits them together.
  async function worker() {
    while (list.length) {
      const a = list.shift();
      try { await api("POST", `/v1/visits/${a.visit_id}/assign`, { json: { investigator_ids: a.investigator_ids, planned_date: date } }); n++; }
      catch (e) { failed++; }
      done++;
      if ($("#apply-btn")) $("#apply-btn").textContent = t("disp.applying", { n: done, t: total });
    }
  }
  await Promise.all(Array.from({ length: 6 }, worker));
  S.suggestion = null;
  await viewDispatch();
  toast(t("disp.applied", { n }) + (failed ? " · " + t("bulk.done", { n, f: failed }) : ""), failed > 0);
}

async function bulkReassign() {
  const leaver = $("#leaver").value, repl = $("#replacement").value;
  if (!leaver || !repl || leaver === repl) return;
  let n = 0;
  const todo = [];
  for (let off = 0; ; off += 1000) {
    const r = await api("GET", `/v1/visits?status=assigned&limit=1000&offset=${off}`);
    todo.push(...r.items.filter((x) => (x.investigator_ids || []).includes(leaver)));
    if (off + r.items.length >= r.total || !r.items.length) break;
  }
  for (const v of todo) {
    const ids = v.investigator_ids.map((x) => (x === leaver ? repl : x));
    try { await api("POST", `/v1/visits/${v.visit_id}/assign`, { json: { investigator_ids: Array.from(new Set(ids)), planned_date: v.planned_date } }); n++; }
    catch (e) { toast(errText(e), true); }
  }
  toast(t("disp.bulk_done", { n }));
}

function renderImportResult() {
  const r = S.importResult;
  if (!r || !$("#import-result")) return;
  $("#import-result").innerHTML = `<p data-testid="import-summary" class="${r.errors.length ? "warn" : ""}">${t("disp.import_result", { c: r.created, u: r.updated, e: r.errors.length })}</p>
    ${r.errors.length ? `<div class="scroll short"><table data-testid="import-errors"><thead><tr><th>${t("disp.row")}</th><th>${t("disp.field")}</th><th>${t("disp.msg")}</th></tr></thead><tbody>${r.errors.map((e) => `<tr><td class="num">${esc(e.row)}</td><td data-field="${esc(e.field)}">${esc(code("column", e.field))}</td><td>${esc(e.msg)}</td></tr>`).join("")}</tbody></table></div>` : ""}`;
}

async function importFile() {
  const file = $("#import-file").files[0];
  if (!file) return;
  const text = await file.text();
  const isCsv = file.name.toLowerCase().endsWith(".csv") || file.type === "text/csv";
  $("#import-btn").disabled = true;
  try {
    S.importResult = isCsv ? await api("POST", "/v1/visits/import", { body: text, headers: { "Content-Type": "text/csv" } })
      : await api("POST", "/v1/visits/import", { json: JSON.parse(text) });
    await viewDispatch();
  } catch (e) { toast(e instanceof SyntaxError ? t("err.generic", { m: e.message }) : errText(e), true); if ($("#import-btn")) $("#import-btn").disabled = false; }
}

/* ---------------------------------------------------------------- dashboard */
function barTable(rows, fmt = (v) => esc(v)) {
  const max = Math.max(...rows.map(([, v]) => Number(v) || 0), 1);
  return `<table class="bars"><tbody>${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td style="width:55%"><div class="bar" style="width:${((Number(v) || 0) / max) * 100}%"></div></td><td class="num">${fmt(v)}</td></tr>`).join("")}</tbody></table>`;
}
async function viewDashboard() {
  await loadUsers();
  let d;
  try { d = await api("GET", "/v1/stats"); } catch (e) { $("#main").innerHTML = `<p class="error">${esc(errText(e))}</p>`; return; }
  const p = d.promises || {}, pl = d.plans || {}, rt = d.review_time || {};
  const card = (id, title, body) => `<div class="card" data-testid="dash-${id}"><h3>${title}</h3>${body}</div>`;
  const none = `<p class="muted">${t("dash.none")}</p>`;
  const bars = (rows) => (rows.length ? barTable(rows) : none);
  $("#main").innerHTML = `<div class="row head-row"><h2>${t("dash.title")}</h2><span class="muted">${esc(d.since)} – ${esc(d.until)} · ${t("dash.reports")} ${esc(d.reports)}</span></div>
  <div class="grid3">
    ${card("per-day", t("dash.visits_day"), bars((d.visits_per_day || []).map((x) => [x.date, x.count])))}
    ${card("per-investigator", t("dash.per_investigator"), bars((d.visits_per_investigator || []).map((x) => [userName(x.investigator_id), x.count])))}
    ${card("outcomes", t("dash.outcomes"), bars(Object.entries(d.outcomes || {}).map(([k, v]) => [code("outcome", k), v])))}
    ${card("reasons", t("dash.reasons"), bars(Object.entries(d.reasons || {}).map(([k, v]) => [code("reason", k), v])))}
    ${card("promises", t("dash.promises"), barTable([[t("dash.kept"), p.kept || 0], [t("dash.broken"), p.broken || 0], [t("dash.open"), p.open || 0]]))}
    ${card("plans", t("dash.plans"), barTable([[t("dash.proposed"), pl.proposed || 0], [t("dash.approved"), pl.approved || 0]]) +
      kv([["dash.amount_proposed", money(pl.proposed_amount || "0.00")], ["dash.amount_approved", money(pl.approved_amount || "0.00")]]))}
    ${card("review-time", t("dash.review_time"), kv([["dash.reviewed", esc(rt.reviewed ?? 0)], ["dash.median_h", esc(rt.median_hours ?? "—")], ["dash.p90_h", esc(rt.p90_hours ?? "—")]]))}
  </div>`;
}

/* ---------------------------------------------------------------- feedback */
async function viewFeedback() {
  $("#main").innerHTML = `<div class="card"><h3>${t("fb.title")}</h3><button id="csv-btn" class="primary">${t("fb.csv")}</button></div>
    <div class="card"><h3>${t("fb.feed")}</h3><div id="feed">${t("loading")}</div></div>`;
  $("#csv-btn").onclick = () => download("/v1/exports/risk.csv", "fieldvisit-risk.csv");
  try {
    const events = [];
    let since = "0";
    for (let i = 0; i < 20; i++) {
      const r = await api("GET", `/v1/feed?since=${encodeURIComponent(since)}&limit=500`);
      events.push(...r.events); since = r.cursor; if (!r.has_more) break;
    }
    $("#feed").innerHTML = events.length ? `<table><thead><tr><th>${t("fb.type")}</th><th>${t("col.visit")}</th><th>${t("k.instalment")}</th><th>${t("act.route")}</th><th>${t("fb.at")}</th></tr></thead><tbody>
      ${events.reverse().map((e) => `<tr class="clickable" data-id="${esc(e.report_id)}"><td><span class="badge ${esc(({ report_approved: "approved", report_rejected: "rejected", legal_escalated: "escalated_legal" })[e.type] || "")}">${esc(t("fb." + e.type))}</span></td><td>${esc(e.external_id || e.visit_id)}</td><td class="num">${e.data && e.data.plan ? money(e.data.plan.instalment) : ""}</td><td>${e.data && e.data.route ? esc(code("route", e.data.route)) : ""}</td><td>${esc(localTime(e.at))}</td></tr>`).join("")}</tbody></table>` : `<p class="muted">${t("empty")}</p>`;
    $$("#feed tr.clickable").forEach((tr) => { tr.onclick = () => { location.hash = "#/report/" + tr.dataset.id; }; });
  } catch (e) { $("#feed").innerHTML = `<p class="error">${esc(errText(e))}</p>`; }
}

/* ---------------------------------------------------------------- devices */
async function viewDevices() {
  await loadUsers();
  let r;
  try { r = await api("GET", "/v1/devices"); } catch (e) { $("#main").innerHTML = `<p class="error">${esc(errText(e))}</p>`; return; }
  const items = r.items || r;
  $("#main").innerHTML = `<div class="card"><h3>${t("dev.title")}</h3><table class="devices"><thead><tr><th>${t("dev.user")}</th><th>${t("dev.name")}</th><th>${t("dev.last_sync")}</th><th class="num">${t("dev.pending")}</th><th class="num">${t("dev.pending_blobs")}</th><th>${t("dev.state")}</th><th></th></tr></thead><tbody>
    ${items.map((d) => `<tr><td>${esc(d.name || d.username || userName(d.user_id))} <span class="muted">${esc(d.username || "")}</span></td><td>${esc(d.device_name || d.device_id)}</td><td>${esc(localTime([d.last_sync_at, d.last_pull_at].filter(Boolean).sort().pop()))}</td><td class="num">${esc(d.last_mutation_id ?? "")}</td><td class="num">${esc(d.pending_blobs ?? "")}</td>
      <td>${d.revoked ? `<span class="badge rejected">${t("dev.revoked")}${d.wipe ? " · " + t("dev.wipe") : ""}</span>` : `<span class="badge approved">${t("dev.active")}</span>`}</td><td>${d.revoked ? "" : `<button class="danger" data-dev="${esc(d.device_id)}">${t("dev.revoke")}</button>`}</td></tr>`).join("")}</tbody></table></div>`;
  $$("[data-dev]").forEach((b) => {
    b.onclick = async () => {
      if (!confirm(t("dev.confirm"))) return;
      try { await api("POST", `/v1/devices/${b.dataset.dev}/revoke`, { json: { wipe: true } }); viewDevices(); } catch (e) { toast(errText(e), true); }
    };
  });
}

/* ---------------------------------------------------------------- router */
function toggleLang() {
  S.lang = S.lang === "zh" ? "en" : "zh"; localStorage.setItem("fv.desk.lang", S.lang); applyI18n(); route();
}
function route() {
  applyI18n();
  const h = location.hash || "#/inbox";
  if (!S.token) { viewLogin(); return; }
  $("#topbar").hidden = false;
  $("#whoami").textContent = `${S.user.name} · ${S.user.team}`;
  const [, page, arg] = h.split("/");
  $$("header nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === page || (page === "report" && a.dataset.nav === "inbox")));
  ({ inbox: viewInbox, report: () => viewReport(arg), dispatch: viewDispatch, dashboard: viewDashboard, feedback: viewFeedback, devices: viewDevices, login: viewInbox }[page] || viewInbox)();
}
window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", async () => {
  $("#lang-btn").onclick = toggleLang;
  $("#logout-btn").onclick = logout;
  await loadLabels();
  route();
});
