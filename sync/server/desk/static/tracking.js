/* FieldVisit supervisor desk: plans and promises after the visit (P-6, §5.2), the legal-escalation
   recommendation (§5.5), the contact stop (R-14) and the dispatch board's route lengths. It extends the
   desk's dashboard, report and dispatch views with what GET /v1/tracking, GET /v1/visits/{id} and
   GET /v1/dispatch/routes answer; every rule stays in the API. */
"use strict";

/* Every word comes from the one catalogue (models/labels.py, /desk/labels.json): the cards' own words under
   `tracking.*`, the states under `plan_state.*` and `promise_state.*`, and the reasons, segments and stops
   under their own kinds. */
function tk(key) { return code("tracking", key); }
function trkState(kind, s) { return `<span class="badge trk-${esc(s)}" data-state="${esc(s)}">${esc(code(kind, s))}</span>`; }
function trkReasons(list) { return (list || []).map((r) => `<span class="badge flag" data-reason="${esc(r)}">${esc(code("escalation", r))}</span>`).join(" "); }
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
      `<tr data-testid="trk-plan" data-state="${esc(p.state)}"><td>${link(p)}</td><td>${trkState("plan_state", p.state)}</td><td class="num">${money(p.paid)}</td><td class="num">${money(p.due_to_date)}</td><td class="num">${esc(p.missed)}</td><td>${esc(p.next_due_date || "")}</td></tr>`))}</div>
    <div data-testid="trk-promises"><h4>${tk("promises")}</h4>${trkTable(["visit", "amount", "date", "state"], b.promises.map((p) =>
      `<tr data-testid="trk-promise" data-state="${esc(p.state)}"><td>${link(p)}</td><td class="num">${money(p.amount)}</td><td>${esc(p.date)}</td><td>${trkState("promise_state", p.state)}</td></tr>`))}</div>
    <div data-testid="trk-reopened"><h4>${tk("reopened")}</h4>${trkTable(["visit", "reason"], b.reopened.map((r) =>
      `<tr><td>${link(r)}</td><td>${esc(code("reopen_reason", r.reason))}</td></tr>`))}</div>
    <div data-testid="trk-recommended"><h4>${tk("recommended")}</h4>${trkTable(["visit", "segment", "reasons"], b.recommended.map((r) =>
      `<tr data-testid="trk-recommendation"><td>${esc(r.external_id || r.visit_id)}</td><td>${esc(code("segment", r.segment))}</td><td>${trkReasons(r.reasons)}</td></tr>`))}</div>
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
      ${v.segment ? `<span class="muted">· ${tk("segment")}: ${esc(code("segment", v.segment))}</span>` : ""}</p>
    ${stop ? `<p data-testid="contact-stop" class="error">${tk("stop")}: ${esc(code("contact_stop", stop.source))}
      <button type="button" id="trk-clear">${tk("clear")}</button></p>` : ""}
    <h4>${tk("plans")}</h4>${trkTable(["state", "paid", "due", "missed", "next_due"], (v.plans || []).map((p) =>
      `<tr data-testid="account-plan" data-state="${esc(p.state)}"><td>${trkState("plan_state", p.state)}</td><td class="num">${money(p.paid)}</td><td class="num">${money(p.due_to_date)}</td><td class="num">${esc(p.missed)}</td><td>${esc(p.next_due_date || "")}</td></tr>`))}
    <h4>${tk("promises")}</h4>${trkTable(["amount", "date", "state"], (v.promises || []).map((p) =>
      `<tr data-testid="account-promise" data-state="${esc(p.state)}"><td class="num">${money(p.amount)}</td><td>${esc(p.date)}</td><td>${trkState("promise_state", p.state)}</td></tr>`))}
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
