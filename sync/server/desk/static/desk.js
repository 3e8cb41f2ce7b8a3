/* FieldVisit supervisor desk: review inbox, report detail, dispatch, dashboard, feedback, devices.
   A plain single-page app over the /v1 API; every rule is enforced by the server. */
"use strict";

const I18N = {
  zh: {
    "app.title": "FieldVisit 主管工作台", "nav.inbox": "审核", "nav.dispatch": "派单", "nav.dashboard": "看板",
    "nav.feedback": "风控反馈", "nav.devices": "设备", "nav.logout": "退出", "lang.other": "English",
    "login.title": "主管登录", "login.username": "用户名", "login.password": "密码", "login.submit": "登录",
    "login.failed": "用户名或密码错误", "login.locked": "尝试次数过多，请稍后再试", "login.role": "此账号不是主管或管理员",
    "state.submitted": "待审核", "state.returned": "已退回", "state.resubmitted": "已重新提交", "state.approved": "已批准",
    "state.rejected": "已拒绝", "state.escalated_legal": "已转法务", "state.all": "全部",
    "f.investigator": "调查员", "f.team": "团队", "f.bucket": "逾期分档", "f.from": "外访日期从", "f.to": "至",
    "f.outcome": "接触结果", "f.verdict": "方案结论", "f.q": "搜索（编号、区、地址）", "f.any": "不限", "f.apply": "筛选",
    "verdict.pass": "可负担", "verdict.fail": "超出能力", "verdict.none": "无方案",
    "col.report": "报告", "col.visit": "案件", "col.district": "区", "col.bucket": "分档", "col.outcome": "结果",
    "col.plan": "月供", "col.verdict": "结论", "col.status": "状态", "col.when": "外访时间", "col.flags": "标记",
    "col.investigators": "调查员", "col.priority": "优先级", "col.planned": "计划日期", "col.balance": "逾期金额",
    "bulk.approve_selected": "批准所选", "bulk.approve_filtered": "批准全部筛选结果", "bulk.done": "已批准 {n} 份，{f} 份未能批准",
    "pager.prev": "上一页", "pager.next": "下一页", "pager.info": "第 {a}–{b} 条，共 {n} 条",
    "detail.back": "返回列表", "detail.checkin": "签到与合规", "detail.outcome": "接触结果", "detail.interview": "访谈",
    "detail.assessment": "收支评估", "detail.plan": "还款方案", "detail.photos": "照片与文件", "detail.history": "版本历史",
    "detail.comments": "审核意见", "detail.recompute": "服务器复算", "detail.conflicts": "冲突版本", "detail.flags": "标记",
    "detail.distance": "签到位置距借款人地址", "detail.pdf": "下载 PDF", "detail.actions": "审核操作",
    "detail.version": "版本", "detail.diff": "与上一版本的差异", "detail.none": "无",
    "act.approve": "批准", "act.return": "退回修改", "act.reject": "拒绝", "act.escalate": "转法务",
    "act.comment": "意见（退回时必填）", "act.route": "法务途径",
    "route.lawyer_letter": "律师函", "route.payment_order": "支付令", "route.litigation": "诉讼", "route.mediation": "调解",
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
    "dash.amount": "金额", "dash.median_h": "中位数（小时）", "dash.p90_h": "90 分位（小时）",
    "fb.title": "反馈风控", "fb.csv": "下载已批准方案与转法务 CSV", "fb.feed": "风控事件流", "fb.type": "事件", "fb.at": "时间",
    "dev.title": "设备", "dev.user": "用户", "dev.name": "设备名", "dev.last_sync": "最近同步", "dev.pending": "最近变更号",
    "dev.state": "状态", "dev.revoke": "吊销并擦除", "dev.revoked": "已吊销", "dev.active": "正常", "dev.confirm": "确定吊销此设备并远程擦除数据？",
    "loading": "加载中…", "empty": "暂无数据",
  },
  en: {
    "app.title": "FieldVisit supervisor desk", "nav.inbox": "Review", "nav.dispatch": "Dispatch", "nav.dashboard": "Dashboard",
    "nav.feedback": "Risk feedback", "nav.devices": "Devices", "nav.logout": "Sign out", "lang.other": "中文",
    "login.title": "Supervisor sign-in", "login.username": "Username", "login.password": "Password", "login.submit": "Sign in",
    "login.failed": "Wrong username or password", "login.locked": "Too many attempts, try again later", "login.role": "This account is not a supervisor or admin",
    "state.submitted": "Submitted", "state.returned": "Returned", "state.resubmitted": "Resubmitted", "state.approved": "Approved",
    "state.rejected": "Rejected", "state.escalated_legal": "Escalated to legal", "state.all": "All",
    "f.investigator": "Investigator", "f.team": "Team", "f.bucket": "Bucket", "f.from": "Visit date from", "f.to": "to",
    "f.outcome": "Outcome", "f.verdict": "Plan verdict", "f.q": "Search (ID, district, address)", "f.any": "Any", "f.apply": "Filter",
    "verdict.pass": "Affordable", "verdict.fail": "Over capacity", "verdict.none": "No plan",
    "col.report": "Report", "col.visit": "Case", "col.district": "District", "col.bucket": "Bucket", "col.outcome": "Outcome",
    "col.plan": "Instalment", "col.verdict": "Verdict", "col.status": "State", "col.when": "Visited", "col.flags": "Flags",
    "col.investigators": "Investigators", "col.priority": "Priority", "col.planned": "Planned", "col.balance": "Overdue",
    "bulk.approve_selected": "Approve selected", "bulk.approve_filtered": "Approve all filtered", "bulk.done": "Approved {n}, {f} could not be approved",
    "pager.prev": "Previous", "pager.next": "Next", "pager.info": "{a}–{b} of {n}",
    "detail.back": "Back to the list", "detail.checkin": "Check-in and compliance", "detail.outcome": "Contact outcome", "detail.interview": "Interview",
    "detail.assessment": "Income and expenses", "detail.plan": "Repayment plan", "detail.photos": "Photos and documents", "detail.history": "Version history",
    "detail.comments": "Review comments", "detail.recompute": "Server recomputation", "detail.conflicts": "Conflict versions", "detail.flags": "Flags",
    "detail.distance": "Check-in distance from the address", "detail.pdf": "Download PDF", "detail.actions": "Review",
    "detail.version": "Version", "detail.diff": "Changes from the previous version", "detail.none": "None",
    "act.approve": "Approve", "act.return": "Return for rework", "act.reject": "Reject", "act.escalate": "Escalate to legal",
    "act.comment": "Comment (required to return)", "act.route": "Legal route",
    "route.lawyer_letter": "Lawyer's letter", "route.payment_order": "Payment order", "route.litigation": "Litigation", "route.mediation": "Mediation",
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
    "dash.amount": "Amount", "dash.median_h": "Median (hours)", "dash.p90_h": "90th percentile (hours)",
    "fb.title": "Feedback to risk management", "fb.csv": "Download approved plans and escalations (CSV)", "fb.feed": "Risk feed", "fb.type": "Event", "fb.at": "At",
    "dev.title": "Devices", "dev.user": "User", "dev.name": "Device", "dev.last_sync": "Last sync", "dev.pending": "Last mutation",
    "dev.state": "State", "dev.revoke": "Revoke and wipe", "dev.revoked": "Revoked", "dev.active": "Active", "dev.confirm": "Revoke this device and wipe its data?",
    "loading": "Loading…", "empty": "Nothing here",
  },
};

const S = {
  lang: localStorage.getItem("fv.desk.lang") || "zh",
  token: sessionStorage.getItem("fv.desk.token"),
  user: JSON.parse(sessionStorage.getItem("fv.desk.user") || "null"),
  inbox: { status: "", offset: 0, limit: 50, filters: {}, selected: new Set(), items: [] },
  users: [],
  suggestion: null,
};

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
function pct(v) { return v == null || v === "" ? "" : (Number(v) * 100).toFixed(2) + "%"; }
function money(v) { return v == null ? "" : "¥" + esc(v); }
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
function errText(e) {
  if (e.status === 412) return t("err.412");
  if (e.status === 409) return t("err.409");
  if (e.status === 404) return t("err.404");
  if (e.status === 422) {
    const d = (e.body.details || []).map((x) => (x.loc ? x.loc.join(".") + ": " : "") + (x.msg || "")).join("; ");
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
      <label>${t("f.outcome")}<select name="outcome"><option value="">${t("f.any")}</option>${OUTCOMES.map((o) => `<option ${f.outcome === o ? "selected" : ""}>${o}</option>`).join("")}</select></label>
      <label>${t("f.verdict")}<select name="verdict"><option value="">${t("f.any")}</option>${["pass", "fail", "none"].map((v) => `<option value="${v}" ${f.verdict === v ? "selected" : ""}>${t("verdict." + v)}</option>`).join("")}</select></label>
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
  $("#state-chips").innerHTML = [["", t("state.all"), total], ...STATES.map((s) => [s, t("state." + s), counts[s] || 0])]
    .map(([s, label, n]) => `<span class="chip ${S.inbox.status === s ? "active" : ""}" data-state="${s}" data-testid="count-${s || "all"}">${esc(label)}<b>${n}</b></span>`).join("");
  $$("#state-chips .chip").forEach((c) => { c.onclick = () => { S.inbox.status = c.dataset.state; S.inbox.offset = 0; refreshInbox(); }; });
  if (!r.items.length) { $("#inbox-table").innerHTML = `<p class="muted">${t("empty")}</p>`; return; }
  const rows = r.items.map((i) => {
    const plan = i.plan_instalment || (i.plan && i.plan.instalment) || "";
    const flags = (i.flags || []).map((x) => `<span class="badge flag">${esc(x)}</span>`).join(" ");
    const inv = (i.investigator_ids || (i.investigator_id ? [i.investigator_id] : [])).map(userName).join("、");
    return `<tr class="clickable" data-id="${esc(i.report_id)}">
      <td><input type="checkbox" data-sel="${esc(i.report_id)}" ${["submitted", "resubmitted"].includes(i.status) ? "" : "disabled"}></td>
      <td>${esc(i.external_id || i.visit_id)}</td><td>${esc(i.district || "")}</td><td>${i.bucket != null ? "M" + esc(i.bucket) + (i.bucket >= 7 ? "+" : "") : ""}</td>
      <td>${esc(i.outcome || "")}</td><td class="num">${plan ? money(plan) : ""}</td>
      <td>${i.verdict ? t("verdict." + i.verdict) : ""}</td><td>${esc(inv)}</td><td>${esc(localTime(i.visited_at || i.submitted_at))}</td>
      <td><span class="badge ${esc(i.status)}">${esc(t("state." + i.status))}</span></td><td>${flags}</td></tr>`;
  }).join("");
  const a = S.inbox.offset + 1, b = S.inbox.offset + r.items.length;
  $("#inbox-table").innerHTML = `<table><thead><tr><th></th><th>${t("col.visit")}</th><th>${t("col.district")}</th><th>${t("col.bucket")}</th><th>${t("col.outcome")}</th><th class="num">${t("col.plan")}</th><th>${t("col.verdict")}</th><th>${t("col.investigators")}</th><th>${t("col.when")}</th><th>${t("col.status")}</th><th>${t("col.flags")}</th></tr></thead><tbody>${rows}</tbody></table>
    <div class="pager"><button id="pg-prev" ${S.inbox.offset ? "" : "disabled"}>${t("pager.prev")}</button><span>${t("pager.info", { a, b, n: r.total })}</span><button id="pg-next" ${b < r.total ? "" : "disabled"}>${t("pager.next")}</button></div>`;
  $$("#inbox-table tr.clickable").forEach((tr) => { tr.onclick = (ev) => { if (ev.target.matches("input")) return; location.hash = "#/report/" + tr.dataset.id; }; });
  $$("#inbox-table [data-sel]").forEach((cb) => { cb.onchange = () => { cb.checked ? S.inbox.selected.add(cb.dataset.sel) : S.inbox.selected.delete(cb.dataset.sel); $("#bulk-selected").disabled = !S.inbox.selected.size; }; });
  $("#pg-prev").onclick = () => { S.inbox.offset = Math.max(0, S.inbox.offset - S.inbox.limit); refreshInbox(); };
  $("#pg-next").onclick = () => { S.inbox.offset += S.inbox.limit; refreshInbox(); };
}

async function bulkApprove(items) {
  let n = 0, failed = 0;
  for (const i of items) {
    try { await api("POST", `/v1/reports/${i.report_id}/review`, { json: { action: "approve", comment: "" }, headers: { "If-Match": `"v${i.server_version}"` } }); n++; }
    catch (e) { failed++; }
  }
  toast(t("bulk.done", { n, f: failed }), failed > 0);
  refreshInbox();
}

/* ---------------------------------------------------------------- report detail */
function kv(pairs) {
  return `<dl class="kv">${pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => `<dt>${esc(t(k))}</dt><dd>${v}</dd>`).join("")}</dl>`;
}
function yn(v) { return v === true ? t("yes") : v === false ? t("no") : ""; }

function flatten(obj, prefix = "", out = {}) {
  if (obj && typeof obj === "object") {
    for (const [k, v] of Object.entries(obj)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out[prefix] = obj;
  return out;
}
function diffVersions(prev, cur) {
  const a = flatten(prev || {}), b = flatten(cur || {});
  const keys = Array.from(new Set([...Object.keys(a), ...Object.keys(b)])).sort();
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .map((k) => `<tr><td>${esc(k)}</td><td class="diff-del">${esc(a[k] ?? "")}</td><td class="diff-add">${esc(b[k] ?? "")}</td></tr>`).join("");
}

function budgetChart(aff) {
  if (!aff) return "";
  const items = [["k.net_income", aff.net_income], ["k.essential", aff.essential_expenses], ["k.debt", aff.debt_service], ["k.disposable", aff.disposable_income], ["k.capacity", aff.capacity]];
  const max = Math.max(...items.map(([, v]) => Math.abs(Number(v) || 0)), 1);
  return `<table class="bars">${items.map(([k, v]) => `<tr><td>${t(k)}</td><td style="width:50%"><div class="bar" style="width:${(Math.abs(Number(v) || 0) / max) * 100}%"></div></td><td class="num">${money(v)}</td></tr>`).join("")}</table>`;
}

async function viewReport(id) {
  await loadUsers();
  $("#main").innerHTML = t("loading");
  let d;
  try { d = await api("GET", "/v1/reports/" + id); } catch (e) { $("#main").innerHTML = `<p class="error">${esc(errText(e))}</p>`; return; }
  const etag = d.__etag || `"v${d.server_version}"`;
  try { const rc = await api("GET", `/v1/reports/${id}/recomputed`); d.recomputed_plan = rc.recomputed; d.checkin_distance_m = rc.checkin_distance_m; } catch (e) { /* shown as none */ }
  const cur = d.current || d.report || {};
  const rep = cur.report || cur;
  const c = rep.compliance || {}, ci = rep.checkin || {}, co = rep.checkout || {}, iv = rep.interview || {};
  const as = rep.assessment, plan = rep.plan, visit = d.visit || {};
  const recompute = d.recomputed_plan || d.recomputation || null;
  const aff = (recompute && recompute.affordability) || d.affordability || null;
  let distance = "";
  if (d.checkin_distance_m != null) distance = (Number(d.checkin_distance_m) / 1000).toFixed(2) + " km";
  const schedule = (recompute && recompute.schedule) || [];
  const history = d.history || d.versions || [];
  const conflicts = d.conflicts || [];
  const comments = d.comments || [];
  const canReview = ["submitted", "resubmitted", "returned"].includes(d.status);
  $("#main").innerHTML = `
    <p><a href="#/inbox">← ${t("detail.back")}</a></p>
    <div class="card row" style="justify-content:space-between">
      <div><h2 style="margin:0">${esc(visit.external_id || d.external_id || d.visit_id || "")} <span class="badge ${esc(d.status)}" id="report-status">${esc(t("state." + d.status))}</span></h2>
      <span class="muted">${t("detail.version")} v${esc(d.server_version)} · ${esc(d.report_id)}</span></div>
      <div class="row"><button id="pdf-btn">${t("detail.pdf")}</button></div>
    </div>
    ${(d.flags || []).length ? `<div class="card"><strong>${t("detail.flags")}</strong> ${(d.flags || []).map((x) => `<span class="badge flag">${esc(x)}</span>`).join(" ")}</div>` : ""}
    <div class="grid2">
      <div class="card"><h3>${t("detail.checkin")}</h3>${kv([
        ["k.checkin_at", esc(localTime(ci.at))], ["k.checkout_at", esc(localTime(co.at))],
        ["k.position", ci.position ? esc(`${ci.position.lat}, ${ci.position.lon} ±${ci.position.accuracy_m ?? "?"}m`) : ""],
        ["detail.distance", esc(distance)],
        ["k.outside_hours", yn(c.outside_hours_consent)], ["k.collectors", esc((c.collector_ids || rep.collector_ids || []).map(userName).join("、"))],
        ["k.id_shown", yn(c.id_shown)], ["k.enter", yn(c.consent_to_enter)], ["k.no_disclosure", yn(c.no_disclosure_attested)]])}</div>
      <div class="card"><h3>${t("detail.outcome")}</h3>${kv([["detail.outcome", esc(rep.outcome || "")], ["k.notes", esc(rep.notes || "")]])}
        <h3>${t("detail.interview")}</h3>${kv([["k.reasons", esc((iv.reasons || []).join(", "))], ["k.primary", esc(iv.primary_reason || "")],
        ["k.willingness", esc(iv.willingness || "")], ["k.hardship", yn(iv.hardship)],
        ["k.promise", iv.promise ? esc(`¥${iv.promise.amount} @ ${iv.promise.date}`) : ""]])}</div>
    </div>
    ${as ? `<div class="card"><h3>${t("detail.assessment")}</h3><div class="grid2"><div>${kv(aff ? [["k.net_income", money(aff.net_income)], ["k.essential", money(aff.essential_expenses)], ["k.debt", money(aff.debt_service)], ["k.disposable", money(aff.disposable_income)], ["k.capacity", money(aff.capacity)], ["k.dsr", pct(aff.dsr_after)], ["k.min_term", esc(aff.min_term_months ?? "")], ["k.verdict", aff.verdict ? esc(t("verdict." + aff.verdict)) : ""]] : [])}
      <table><tbody>${(as.incomes || []).map((l) => `<tr><td>${esc(l.source)}</td><td>${esc(l.evidence)}</td><td class="num">${money(l.amount)}</td></tr>`).join("")}${(as.expenses || []).map((l) => `<tr><td>${esc(l.category)}</td><td></td><td class="num">${money(l.amount)}</td></tr>`).join("")}</tbody></table></div>
      <div>${budgetChart(aff)}</div></div></div>` : ""}
    ${plan ? `<div class="card"><h3>${t("detail.plan")}</h3><div class="grid2"><div>
      <p class="apr" data-testid="apr">${t("k.apr")}: ${pct(plan.apr_compound)}</p>
      ${kv([["k.apr_simple", pct(plan.apr_simple)], ["k.option", esc(plan.option)], ["k.instalment", money(plan.instalment)], ["k.term", esc(plan.term_months)], ["k.rate", pct(plan.monthly_rate)], ["k.total", money(plan.total_payment)], ["k.override", esc(plan.override_reason || "")], ["k.agreement", esc(plan.agreement || "")]])}</div>
      <div><h4>${t("detail.recompute")}</h4>${recompute ? kv([["k.instalment", money(recompute.instalment)], ["k.total", money(recompute.total_payment)], ["k.apr", pct(recompute.apr_compound)], ["k.apr_simple", pct(recompute.apr_simple)]]) : `<p class="muted">${t("detail.none")}</p>`}
      ${(d.flags || []).includes("plan_mismatch") ? `<p class="error">plan_mismatch</p>` : ""}</div></div>
      ${schedule.length ? `<table><thead><tr><th>${t("s.n")}</th><th>${t("s.due")}</th><th class="num">${t("s.payment")}</th><th class="num">${t("s.principal")}</th><th class="num">${t("s.interest")}</th><th class="num">${t("s.balance")}</th></tr></thead><tbody>${schedule.map((r) => `<tr><td>${r.n}</td><td>${esc(r.due_date)}</td><td class="num">${esc(r.payment)}</td><td class="num">${esc(r.principal)}</td><td class="num">${esc(r.interest)}</td><td class="num">${esc(r.balance)}</td></tr>`).join("")}</tbody></table>` : ""}</div>` : ""}
    ${(rep.attachments || []).length ? `<div class="card photos"><h3>${t("detail.photos")}</h3><div id="photos"></div></div>` : ""}
    <div class="grid2">
      <div class="card"><h3>${t("detail.history")}</h3>${history.map((h, i) => `<details ${i === history.length - 1 ? "" : ""}><summary>v${esc(h.server_version ?? i + 1)} · ${esc(localTime(h.received_at || h.at))} · ${esc(h.version_id || "")}</summary>
        ${i > 0 ? `<table><thead><tr><th>${t("detail.diff")}</th><th></th><th></th></tr></thead><tbody>${diffVersions((history[i - 1] || {}).report, h.report)}</tbody></table>` : ""}</details>`).join("") || `<p class="muted">${t("detail.none")}</p>`}
        ${conflicts.length ? `<h4>${t("detail.conflicts")}</h4>${conflicts.map((x) => `<div class="muted">${esc(x.version_id)} ${(x.flags || []).map(esc).join(" ")}</div>`).join("")}` : ""}</div>
      <div class="card"><h3>${t("detail.comments")}</h3>${comments.map((m) => `<p><span class="badge">${esc(m.action)}</span> ${esc(userName(m.author_id))} · ${esc(localTime(m.at))}<br>${esc(m.comment || "")} ${m.route ? esc(t("route." + m.route)) : ""}</p>`).join("") || `<p class="muted">${t("detail.none")}</p>`}</div>
    </div>
    ${canReview ? `<form class="card" id="review-form"><h3>${t("detail.actions")}</h3>
      <label style="display:flex">${t("act.comment")}<textarea name="comment" id="review-comment"></textarea></label>
      <div class="row"><label>${t("act.route")}<select name="route"><option value="">—</option>${["lawyer_letter", "payment_order", "litigation", "mediation"].map((r) => `<option value="${r}">${t("route." + r)}</option>`).join("")}</select></label>
      ${d.status !== "returned" ? `<button type="button" class="primary" data-action="approve">${t("act.approve")}</button><button type="button" data-action="return">${t("act.return")}</button>` : ""}
      <button type="button" class="danger" data-action="reject">${t("act.reject")}</button><button type="button" data-action="escalate_legal">${t("act.escalate")}</button></div>
      <p class="error" id="review-error" role="alert"></p></form>` : ""}`;
  $("#pdf-btn").onclick = () => download(`/v1/reports/${id}/pdf`, `report-${id}.pdf`);
  if ((rep.attachments || []).length) loadPhotos(rep.attachments);
  $$("#review-form [data-action]").forEach((b) => {
    b.onclick = async () => {
      const f = new FormData($("#review-form"));
      const body = { action: b.dataset.action, comment: f.get("comment") || "" };
      if (f.get("route")) body.route = f.get("route");
      try {
        const r = await api("POST", `/v1/reports/${id}/review`, { json: body, headers: { "If-Match": etag } });
        toast(t("act.done", { s: t("state." + r.status) }));
        viewReport(id);
      } catch (e) {
        $("#review-error").textContent = errText(e);
        toast(errText(e), true);
        if (e.status === 412) { const keep = errText(e); await viewReport(id); $("#review-error") && ($("#review-error").textContent = keep); }
      }
    };
  });
}

async function loadPhotos(atts) {
  for (const a of atts) {
    try {
      const r = await api("GET", "/v1/blobs/" + a.sha256, { raw: true });
      const url = URL.createObjectURL(await r.blob());
      const el = (a.mime || "").startsWith("image/") ? `<img src="${url}" alt="${esc(a.kind)}">` : `<a href="${url}" download="${esc(a.filename || a.sha256)}">${esc(a.filename || a.kind)}</a>`;
      $("#photos").insertAdjacentHTML("beforeend", el);
    } catch (e) { $("#photos").insertAdjacentHTML("beforeend", `<span class="muted">${esc(a.kind)} (${esc(a.sha256.slice(0, 8))}…)</span> `); }
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
  const today = new Date().toISOString().slice(0, 10);
  $("#main").innerHTML = `
    <div class="card"><h3>${t("disp.import")}</h3><div class="row"><input type="file" id="import-file" accept=".csv,.json,text/csv,application/json"><button id="import-btn" class="primary">${t("disp.import_btn")}</button></div><div id="import-result"></div></div>
    <div class="card row"><label>${t("disp.date")}<input type="date" id="disp-date" value="${today}"></label>
      <button id="suggest-btn">${t("disp.suggest")}</button><button id="apply-btn" class="primary" disabled>${t("disp.apply")}</button>
      <span class="spacer"></span>
      <label>${t("disp.leaver")}<select id="leaver"><option value="">—</option>${opt()}</select></label>
      <label>${t("disp.replacement")}<select id="replacement"><option value="">—</option>${opt()}</select></label>
      <button id="bulk-reassign">${t("disp.bulk")}</button></div>
    <div id="suggestion"></div>
    <div class="card"><h3>${t("disp.title")}</h3><div id="open-visits">${t("loading")}</div></div>`;
  $("#import-btn").onclick = importFile;
  $("#suggest-btn").onclick = suggest;
  $("#apply-btn").onclick = applySuggestion;
  $("#bulk-reassign").onclick = bulkReassign;
  loadOpenVisits(opt);
}

async function loadOpenVisits(opt) {
  let r;
  try { r = await api("GET", "/v1/visits?unassigned=true&limit=1000"); } catch (e) { $("#open-visits").innerHTML = `<p class="error">${esc(errText(e))}</p>`; return; }
  if (!r.items.length) { $("#open-visits").innerHTML = `<p class="muted">${t("empty")}</p>`; return; }
  const byDistrict = {};
  for (const v of r.items) (byDistrict[v.district] = byDistrict[v.district] || []).push(v);
  $("#open-visits").innerHTML = Object.entries(byDistrict).sort().map(([d, vs]) => `<h4>${esc(d)} <span class="muted">(${vs.length})</span></h4>
    <table><thead><tr><th>${t("col.visit")}</th><th>${t("col.bucket")}</th><th class="num">${t("col.priority")}</th><th class="num">${t("col.balance")}</th><th>${t("disp.lead")}</th><th>${t("disp.second")}</th><th></th></tr></thead><tbody>
    ${vs.map((v) => `<tr data-visit="${esc(v.visit_id)}"><td>${esc(v.external_id)}</td><td>M${esc(v.bucket)}${v.bucket >= 7 ? "+" : ""}</td><td class="num">${esc(v.priority)}</td><td class="num">${money(v.overdue_amount || "")}</td>
      <td><select class="lead"><option value="">—</option>${opt()}</select></td><td><select class="second"><option value="">—</option>${opt()}</select></td>
      <td><button class="assign">${t("disp.assign")}</button></td></tr>`).join("")}</tbody></table>`).join("");
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
    if (S.user.team && S.user.role !== "admin") body.team = S.user.team;
    S.suggestion = await api("POST", "/v1/dispatch/suggest", { json: body });
  } catch (e) { toast(errText(e), true); return; }
  const s = S.suggestion;
  $("#apply-btn").disabled = !s.assignments.length;
  $("#suggestion").innerHTML = `<div class="card"><h3>${t("disp.suggest")} (${s.assignments.length})</h3><table><tbody>
    ${s.assignments.map((a) => `<tr><td>${esc(a.visit_id)}</td><td>${esc(a.investigator_ids.map(userName).join(" + "))}</td><td class="muted">${esc(a.reason || "")}</td></tr>`).join("")}</tbody></table>
    ${s.unassigned.length ? `<h4>${t("disp.unassigned")} (${s.unassigned.length})</h4><table><tbody>${s.unassigned.map((u) => `<tr><td>${esc(u.visit_id)}</td><td class="muted">${esc(u.reason)}</td></tr>`).join("")}</tbody></table>` : ""}</div>`;
}

async function applySuggestion() {
  if (!S.suggestion) return;
  let n = 0;
  for (const a of S.suggestion.assignments) {
    try { await api("POST", `/v1/visits/${a.visit_id}/assign`, { json: { investigator_ids: a.investigator_ids, planned_date: $("#disp-date").value } }); n++; } catch (e) { /* counted below */ }
  }
  toast(t("disp.applied", { n }));
  S.suggestion = null; viewDispatch();
}

async function bulkReassign() {
  const leaver = $("#leaver").value, repl = $("#replacement").value;
  if (!leaver || !repl || leaver === repl) return;
  let n = 0;
  for (let off = 0; ; off += 1000) {
    const r = await api("GET", `/v1/visits?status=assigned&limit=1000&offset=${off}`);
    for (const v of r.items.filter((x) => (x.investigator_ids || []).includes(leaver))) {
      const ids = v.investigator_ids.map((x) => (x === leaver ? repl : x));
      try { await api("POST", `/v1/visits/${v.visit_id}/assign`, { json: { investigator_ids: Array.from(new Set(ids)), planned_date: v.planned_date } }); n++; }
      catch (e) { toast(errText(e), true); }
    }
    if (off + r.items.length >= r.total || !r.items.length) break;
  }
  toast(t("disp.bulk_done", { n }));
}

async function importFile() {
  const file = $("#import-file").files[0];
  if (!file) return;
  const text = await file.text();
  const isCsv = file.name.toLowerCase().endsWith(".csv") || file.type === "text/csv";
  try {
    const r = isCsv ? await api("POST", "/v1/visits/import", { body: text, headers: { "Content-Type": "text/csv" } })
      : await api("POST", "/v1/visits/import", { json: JSON.parse(text) });
    $("#import-result").innerHTML = `<p data-testid="import-summary">${t("disp.import_result", { c: r.created, u: r.updated, e: r.errors.length })}</p>
      ${r.errors.length ? `<table><thead><tr><th>${t("disp.row")}</th><th>${t("disp.field")}</th><th>${t("disp.msg")}</th></tr></thead><tbody>${r.errors.map((e) => `<tr><td>${esc(e.row)}</td><td>${esc(e.field)}</td><td>${esc(e.msg)}</td></tr>`).join("")}</tbody></table>` : ""}`;
    loadOpenVisits(() => "");
    viewDispatch();
    $("#import-result") && ($("#import-result").innerHTML = `<p data-testid="import-summary">${t("disp.import_result", { c: r.created, u: r.updated, e: r.errors.length })}</p>` +
      (r.errors.length ? `<table><thead><tr><th>${t("disp.row")}</th><th>${t("disp.field")}</th><th>${t("disp.msg")}</th></tr></thead><tbody>${r.errors.map((e) => `<tr><td>${esc(e.row)}</td><td>${esc(e.field)}</td><td>${esc(e.msg)}</td></tr>`).join("")}</tbody></table>` : ""));
  } catch (e) { toast(errText(e), true); }
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
  $("#main").innerHTML = `<h2>${t("dash.title")}</h2><div class="grid2">
    <div class="card"><h3>${t("dash.visits_day")}</h3>${barTable((d.visits_per_day || []).map((x) => [x.date, x.count]))}</div>
    <div class="card"><h3>${t("dash.per_investigator")}</h3>${barTable((d.visits_per_investigator || []).map((x) => [userName(x.investigator_id), x.count]))}</div>
    <div class="card"><h3>${t("dash.outcomes")}</h3>${barTable(Object.entries(d.outcomes || {}))}</div>
    <div class="card"><h3>${t("dash.reasons")}</h3>${barTable(Object.entries(d.reasons || {}))}</div>
    <div class="card"><h3>${t("dash.promises")}</h3>${barTable([[t("dash.kept"), p.kept || 0], [t("dash.broken"), p.broken || 0], [t("dash.open"), p.open || 0]])}</div>
    <div class="card"><h3>${t("dash.plans")}</h3>${barTable([[t("dash.proposed"), pl.proposed || 0], [t("dash.approved"), pl.approved || 0]])}
      ${kv([["dash.amount", `${money(pl.proposed_amount || "0.00")} / ${money(pl.approved_amount || "0.00")}`]])}</div>
    <div class="card"><h3>${t("dash.review_time")}</h3>${kv([["dash.median_h", esc(rt.median_hours ?? "")], ["dash.p90_h", esc(rt.p90_hours ?? "")]])}</div>
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
      ${events.reverse().map((e) => `<tr class="clickable" data-id="${esc(e.report_id)}"><td>${esc(e.type)}</td><td>${esc(e.external_id || e.visit_id)}</td><td class="num">${e.data && e.data.plan ? money(e.data.plan.instalment) : ""}</td><td>${e.data && e.data.route ? esc(t("route." + e.data.route)) : ""}</td><td>${esc(localTime(e.at))}</td></tr>`).join("")}</tbody></table>` : `<p class="muted">${t("empty")}</p>`;
    $$("#feed tr.clickable").forEach((tr) => { tr.onclick = () => { location.hash = "#/report/" + tr.dataset.id; }; });
  } catch (e) { $("#feed").innerHTML = `<p class="error">${esc(errText(e))}</p>`; }
}

/* ---------------------------------------------------------------- devices */
async function viewDevices() {
  await loadUsers();
  let r;
  try { r = await api("GET", "/v1/devices"); } catch (e) { $("#main").innerHTML = `<p class="error">${esc(errText(e))}</p>`; return; }
  const items = r.items || r;
  $("#main").innerHTML = `<div class="card"><h3>${t("dev.title")}</h3><table><thead><tr><th>${t("dev.user")}</th><th>${t("dev.name")}</th><th>${t("dev.last_sync")}</th><th class="num">${t("dev.pending")}</th><th>${t("dev.state")}</th><th></th></tr></thead><tbody>
    ${items.map((d) => `<tr><td>${esc(userName(d.user_id))}</td><td>${esc(d.device_name || d.name || d.device_id)}</td><td>${esc(localTime(d.last_sync_at))}</td><td class="num">${esc(d.last_mutation_id ?? "")}</td>
      <td>${d.revoked ? t("dev.revoked") : t("dev.active")}</td><td>${d.revoked ? "" : `<button class="danger" data-dev="${esc(d.device_id)}">${t("dev.revoke")}</button>`}</td></tr>`).join("")}</tbody></table></div>`;
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
document.addEventListener("DOMContentLoaded", () => {
  $("#lang-btn").onclick = toggleLang;
  $("#logout-btn").onclick = logout;
  route();
});
