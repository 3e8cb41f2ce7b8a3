/* FieldVisit supervisor desk: plans and promises after the visit (P-6, §5.2), the legal-escalation
   recommendation (§5.5), the contact stop (R-14) and the dispatch board's route lengths. It extends the
   desk's dashboard, report and dispatch views with what GET /v1/tracking, GET /v1/visits/{id} and
   GET /v1/dispatch/routes answer; every rule stays in the API. */
"use strict";

const TRK = {
  zh: {
    title: "还款计划与承诺跟踪", plans: "已批准的计划", promises: "承诺还款", reopened: "重新派单的案件",
    recommended: "建议转法务", none: "暂无", visit: "案件", state: "状态", paid: "已还", due: "应还至今", missed: "逾期期数",
    next_due: "下一期", amount: "金额", date: "日期", reason: "原因", reasons: "依据", segment: "意愿 × 能力",
    account: "账户跟踪", rec_yes: "建议转法务（由主管决定）", rec_no: "暂无转法务建议", stop: "停止接触（R-14）",
    clear: "解除停止接触", clear_prompt: "解除原因（必填，记入审计）", cleared: "已解除", routes: "当日路线",
    pair: "外访员", stops: "拜访数", km: "路线长度（公里）", no_position: "无坐标",
    "state.performing": "正常履行", "state.missed_1": "逾期 1 期", "state.lapsed": "计划失效", "state.completed": "已结清",
    "state.open": "未到期", "state.kept": "已兑现", "state.broken": "已违约",
    "why.plan_lapsed": "计划失效", "why.ptp_broken": "承诺违约",
    "rec.unwilling_able": "有能力但无意愿", "rec.contact_lost_30d": "失联超过 30 天", "rec.broken_ptp_2": "承诺违约 ≥ 2 次",
    "rec.plan_lapsed": "还款计划失效", "rec.late_bucket_high_balance": "M4+ 且余额高", "rec.fraud": "欺诈或隐匿资产",
    "seg.willing_able": "愿意 · 有能力", "seg.willing_unable": "愿意 · 无能力", "seg.unwilling_able": "不愿意 · 有能力", "seg.unwilling_unable": "不愿意 · 无能力",
    "src.refused_contact": "拒绝接触", "src.dispute": "争议/投诉", "src.loan_system": "贷款系统标记",
  },
  en: {
    title: "Plans and promises", plans: "Approved plans", promises: "Promises to pay", reopened: "Cases back in dispatch",
    recommended: "Recommended for legal escalation", none: "None", visit: "Case", state: "State", paid: "Paid", due: "Due to date", missed: "Missed",
    next_due: "Next due", amount: "Amount", date: "Date", reason: "Reason", reasons: "Grounds", segment: "Willingness × ability",
    account: "Account follow-up", rec_yes: "Legal escalation recommended (the supervisor decides)", rec_no: "No escalation recommended", stop: "Contact stopped (R-14)",
    clear: "Clear the contact stop", clear_prompt: "Why may the borrower be contacted again? (required, audited)", cleared: "Cleared", routes: "Routes of the day",
    pair: "Investigators", stops: "Visits", km: "Route length (km)", no_position: "no position",
    "state.performing": "performing", "state.missed_1": "1 missed", "state.lapsed": "lapsed", "state.completed": "completed",
    "state.open": "open", "state.kept": "kept", "state.broken": "broken",
    "why.plan_lapsed": "plan lapsed", "why.ptp_broken": "promise broken",
    "rec.unwilling_able": "unwilling and able", "rec.contact_lost_30d": "contact lost > 30 days", "rec.broken_ptp_2": "≥ 2 broken promises",
    "rec.plan_lapsed": "plan lapsed", "rec.late_bucket_high_balance": "M4+ with a high balance", "rec.fraud": "fraud or asset concealment",
    "seg.willing_able": "willing · able", "seg.willing_unable": "willing · unable", "seg.unwilling_able": "unwilling · able", "seg.unwilling_unable": "unwilling · unable",
    "src.refused_contact": "refused contact", "src.dispute": "dispute or complaint", "src.loan_system": "loan system",
  },
};
function tk(key) { const d = TRK[S.lang === "en" ? "en" : "zh"]; return d[key] || TRK.zh[key] || key; }
function trkState(s) { return `<span class="badge trk-${esc(s)}" data-state="${esc(s)}">${esc(tk("state." + s))}</span>`; }
function trkReasons(list) { return (list || []).map((r) => `<span class="badge flag" data-reason="${esc(r)}">${esc(tk("rec." + r))}</span>`).join(" "); }
function trkTable(head, rows) {
  if (!rows.length) return `<p class="muted">${tk("none")}</p>`;
  return `<table><thead><tr>${head.map((h) => `<th>${esc(tk(h))}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

// The last report detail the desk read, so the report view can show its account's follow-up.
const trkApi = api;
api = async function (method, path, opts) {
  const r = await trkApi(method, path, opts);
  if (method === "GET" && /^\/v1\/reports\/[^/?]+$/.test(path)) S.trkReport = r;
  return r;
};

const trkDashboard = viewDashboard;
viewDashboard = async function () {
  await trkDashboard();
  let b;
  try { b = await api("GET", "/v1/tracking"); } catch (e) { return; }
  const link = (v) => `<a href="#/report/${esc(v.report_id)}">${esc(v.external_id || v.visit_id)}</a>`;
  const html = `<div class="card" data-testid="dash-tracking"><h3>${tk("title")}</h3><div class="grid2">
    <div data-testid="trk-plans"><h4>${tk("plans")}</h4>${trkTable(["visit", "state", "paid", "due", "missed", "next_due"], b.plans.map((p) =>
      `<tr data-testid="trk-plan" data-state="${esc(p.state)}"><td>${link(p)}</td><td>${trkState(p.state)}</td><td class="num">${money(p.paid)}</td><td class="num">${money(p.due_to_date)}</td><td class="num">${esc(p.missed)}</td><td>${esc(p.next_due_date || "")}</td></tr>`))}</div>
    <div data-testid="trk-promises"><h4>${tk("promises")}</h4>${trkTable(["visit", "amount", "date", "state"], b.promises.map((p) =>
      `<tr data-testid="trk-promise" data-state="${esc(p.state)}"><td>${link(p)}</td><td class="num">${money(p.amount)}</td><td>${esc(p.date)}</td><td>${trkState(p.state)}</td></tr>`))}</div>
    <div data-testid="trk-reopened"><h4>${tk("reopened")}</h4>${trkTable(["visit", "reason"], b.reopened.map((r) =>
      `<tr><td>${link(r)}</td><td>${esc(tk("why." + r.reason))}</td></tr>`))}</div>
    <div data-testid="trk-recommended"><h4>${tk("recommended")}</h4>${trkTable(["visit", "segment", "reasons"], b.recommended.map((r) =>
      `<tr data-testid="trk-recommendation"><td>${esc(r.external_id || r.visit_id)}</td><td>${esc(r.segment ? tk("seg." + r.segment) : "")}</td><td>${trkReasons(r.reasons)}</td></tr>`))}</div>
  </div></div>`;
  $("#main").insertAdjacentHTML("beforeend", html);
};

const trkReport = viewReport;
viewReport = async function (id, opts) {
  S.trkReport = null;
  await trkReport(id, opts);
  const d = S.trkReport;
  if (!d || !d.visit_id) return;
  let v;
  try { v = await api("GET", "/v1/visits/" + encodeURIComponent(d.visit_id)); } catch (e) { return; }
  const rec = v.recommendation || { escalate_legal: false, reasons: [] };
  const stop = v.contact_stop;
  const html = `<div class="card" data-testid="account-tracking"><h3>${tk("account")}</h3>
    <p data-testid="recommendation" data-escalate="${rec.escalate_legal ? "true" : "false"}"><strong>${esc(rec.escalate_legal ? tk("rec_yes") : tk("rec_no"))}</strong> ${trkReasons(rec.reasons)}
      ${v.segment ? `<span class="muted">· ${tk("segment")}: ${esc(tk("seg." + v.segment))}</span>` : ""}</p>
    ${stop ? `<p data-testid="contact-stop" class="error">${tk("stop")}: ${esc(tk("src." + stop.source))}
      <button type="button" id="trk-clear">${tk("clear")}</button></p>` : ""}
    <h4>${tk("plans")}</h4>${trkTable(["state", "paid", "due", "missed", "next_due"], (v.plans || []).map((p) =>
      `<tr data-testid="account-plan" data-state="${esc(p.state)}"><td>${trkState(p.state)}</td><td class="num">${money(p.paid)}</td><td class="num">${money(p.due_to_date)}</td><td class="num">${esc(p.missed)}</td><td>${esc(p.next_due_date || "")}</td></tr>`))}
    <h4>${tk("promises")}</h4>${trkTable(["amount", "date", "state"], (v.promises || []).map((p) =>
      `<tr data-testid="account-promise" data-state="${esc(p.state)}"><td class="num">${money(p.amount)}</td><td>${esc(p.date)}</td><td>${trkState(p.state)}</td></tr>`))}
  </div>`;
  $("#main").insertAdjacentHTML("beforeend", html);
  if ($("#trk-clear")) $("#trk-clear").onclick = async () => {
    const comment = (window.prompt(tk("clear_prompt")) || "").trim();
    if (!comment) return;
    try { await api("POST", `/v1/visits/${encodeURIComponent(d.visit_id)}/clear-contact-stop`, { json: { comment } }); toast(tk("cleared")); await viewReport(id); }
    catch (e) { toast(errText(e), true); }
  };
};

async function trkRoutes() {
  const box = $("#trk-routes");
  if (!box) return;
  const date = ($("#disp-date") || {}).value;
  if (!date) return;
  let r;
  try { r = await api("GET", `/v1/dispatch/routes?date=${encodeURIComponent(date)}`); } catch (e) { box.innerHTML = `<p class="error">${esc(errText(e))}</p>`; return; }
  box.innerHTML = trkTable(["pair", "stops", "km"], r.routes.map((x) =>
    `<tr data-testid="route-row"><td>${x.investigator_ids.map((i) => esc(userName(i))).join(" + ")}</td><td class="num">${x.visit_ids.length + x.without_position.length}${x.without_position.length ? ` <span class="muted">(${x.without_position.length} ${tk("no_position")})</span>` : ""}</td><td class="num" data-testid="route-km">${esc(x.distance_km)}</td></tr>`));
}
const trkDispatch = viewDispatch;
viewDispatch = async function () {
  await trkDispatch();
  $("#main").insertAdjacentHTML("beforeend", `<div class="card" data-testid="routes"><h3>${tk("routes")}</h3><div id="trk-routes"></div></div>`);
  const input = $("#disp-date");
  if (input) input.addEventListener("change", trkRoutes);
  await trkRoutes();
};
