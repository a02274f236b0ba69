"use strict";
// The page talks to this server only (/api/...). Text from the server is set as text, never as HTML;
// figures are SVG shown through <img>, where no script in them can run.
const $ = (id) => document.getElementById(id);
const state = { table: null, timer: null, seq: 0 };

function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}
function fmt(v) {
  if (v === null || v === undefined) return "-";
  if (typeof v !== "number") return String(v);
  return Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}
function table(header, rows) {
  const t = el("table"), head = el("tr");
  header.forEach((h) => head.appendChild(el("th", h)));
  t.appendChild(head);
  rows.forEach((r) => { const tr = el("tr"); r.forEach((c) => tr.appendChild(el("td", fmt(c)))); t.appendChild(tr); });
  return t;
}
function showError(message) {
  $("error").hidden = !message;
  $("error").textContent = message || "";
}
async function call(path, options) {
  const res = await fetch(path, options);
  let doc;
  try { doc = await res.json(); } catch (e) { doc = { error: `the server answered ${res.status} without a message` }; }
  if (!res.ok || doc.error) throw new Error(doc.error || `the server answered ${res.status}`);
  return doc;
}
function post(path, body) {
  return call(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

function selectOf(id, options, chosen) {
  const s = el("select", null, { id });
  options.forEach((o) => { const opt = el("option", o.label, { value: o.value }); if (o.value === chosen) opt.selected = true; s.appendChild(opt); });
  return s;
}
function useTable(t) {
  state.table = t;
  $("table-info").textContent = `${t.source}: ${t.rows} rows; columns ${t.columns.join(", ")}`;
  const law = $("law");
  law.replaceChildren();
  law.appendChild(el("option", "auto (chosen by backtests)", { value: "auto" }));
  t.laws.forEach((l) => law.appendChild(el("option", `${l.name} (${l.inputs.join(", ")})${l.complete ? "" : " - map columns"}`, { value: l.name })));
  const first = t.laws.find((l) => l.complete);
  law.value = first ? first.name : "auto";
  const y = $("y");
  y.replaceChildren();
  t.columns.forEach((c) => y.appendChild(el("option", c, { value: c })));
  if (t.y) y.value = t.y;
  showLaw();
}
function chosenLaw() {
  const name = $("law").value;
  if (name === "auto") {  // auto compares the laws of the most inputs the columns hold: their inputs
    const complete = state.table.laws.filter((l) => l.complete);
    if (!complete.length) return null;
    const widest = complete.reduce((a, b) => (b.inputs.length > a.inputs.length ? b : a));
    return { name: "auto", inputs: widest.inputs, columns: widest.columns, complete: true };
  }
  return state.table.laws.find((l) => l.name === name) || null;
}
function showLaw() {
  const law = chosenLaw(), mapping = $("mapping"), target = $("target");
  mapping.replaceChildren();
  target.replaceChildren();
  const inputs = law ? law.inputs : [];
  inputs.forEach((name) => {
    const label = el("label", `input ${name} is column `);
    const options = [{ value: "", label: "(choose)" }].concat(state.table.columns.map((c) => ({ value: c, label: c })));
    label.appendChild(selectOf(`map-${name}`, options, law.columns[name] || ""));
    mapping.appendChild(label);
    const t = el("label", `target ${name}`);
    t.appendChild(el("input", null, { id: `at-${name}`, "data-input": name, placeholder: "e.g. 7e10" }));
    target.appendChild(t);
  });
  if (!law) mapping.appendChild(el("p", "no law's inputs are found among the columns by their common names: choose a law and map its inputs", { class: "note" }));
  schedule();
}
function request() {
  const law = chosenLaw(), x = {}, at = {};
  (law ? law.inputs : []).forEach((name) => {
    const col = $(`map-${name}`).value; if (col) x[name] = col;
    const v = $(`at-${name}`).value.trim(); if (v) at[name] = v;
  });
  const compute = $("compute").value.split(",").map((s) => s.trim()).filter((s) => s);
  return { token: state.table.token, law: $("law").value, x, at, compute, y: $("y").value,
           where: $("where").value.trim(), bootstrap: $("bootstrap").value || 0 };
}
function schedule() { clearTimeout(state.timer); state.timer = setTimeout(fit, 500); }

async function fit() {
  if (!state.table) return;
  const seq = ++state.seq;
  $("busy").hidden = false;
  try {
    const doc = await post("/api/fit", request());
    if (seq !== state.seq) return;  // a newer request was made meanwhile
    showError(null);
    render(doc);
  } catch (e) {
    if (seq === state.seq) { showError(e.message); clearResults(); }
  } finally {
    if (seq === state.seq) $("busy").hidden = true;
  }
}
function clearResults() { ["summary", "forecast", "plan", "figures"].forEach((id) => $(id).replaceChildren()); }
function render(doc) {
  clearResults();
  const f = doc.fit, s = $("summary");
  s.appendChild(el("h2", `Fit: ${doc.label} (${f.status})`, { id: "fit-title", "data-status": f.status }));
  s.appendChild(el("p", `${f.n_points} runs; ${f.n_at_best} of ${f.n_starts} starts reached the best optimum`, { class: "note" }));
  const ci = f.ci || {}, lv = ci.level ? `${Math.round(ci.level * 100)}% ` : "";
  if (doc.label !== f.law) s.appendChild(el("p", `the forecast is this weighted average; the parameters are ${f.law}'s`, { class: "note" }));
  s.appendChild(table(["parameter", "value", `${lv}interval low`, `${lv}interval high`],
    Object.entries(f.params).map(([k, v]) => [k, v, (ci[k] || [])[0], (ci[k] || [])[1]])));
  (f.warnings || []).forEach((w) => s.appendChild(el("p", w, { class: "warn" })));
  if (doc.forecast) {
    const fc = doc.forecast, box = $("forecast");
    box.appendChild(el("h2", "Forecast"));
    const where = Object.entries(fc.at).map(([k, v]) => `${k} = ${fmt(v)}`).join(", ");
    box.appendChild(el("p", `${f.y} at ${where}:`));
    box.appendChild(el("p", fmt(fc.y), { id: "forecast-value", class: "big", "data-value": String(fc.y) }));
    if (fc.interval) box.appendChild(el("p", `${Math.round(fc.level * 100)}% prediction interval [${fmt(fc.interval[0])}, ${fmt(fc.interval[1])}]`, { id: "forecast-interval" }));
    if (fc.interval_note) box.appendChild(el("p", fc.interval_note, { class: "note" }));
    box.appendChild(el("p", `${fmt(fc.decades_beyond)} decades beyond the fitted runs (the farthest input)`, { class: fc.decades_beyond > 0.5 ? "warn" : "note" }));
  }
  if (doc.plan) {
    const box = $("plan");
    box.appendChild(el("h2", "Compute-optimal plan"));
    const pl = doc.plan.find((p) => p.interval), lv = pl ? `${Math.round(pl.interval.level * 100)}% ` : "";
    const span = (iv) => (iv ? `${fmt(iv[0])} - ${fmt(iv[1])}` : "-");
    box.appendChild(table(["C", "N*", `N* ${lv}interval`, "D*", `D* ${lv}interval`, "tokens/param", "loss", `loss ${lv}prediction interval`],
      doc.plan.map((p) => [p.C, p.N, span(p.interval && p.interval.N), p.D, span(p.interval && p.interval.D),
        p.tokens_per_param, p.loss, span(p.interval && p.interval.loss)])));
    if (pl) box.appendChild(el("p", "N* and D* intervals: parameter uncertainty only", { class: "note" }));
    if (doc.plan_warning) box.appendChild(el("p", doc.plan_warning, { class: "warn" }));
  }
  if (doc.plan_note) $("plan").appendChild(el("p", doc.plan_note, { class: "note" }));
  for (const [name, svg] of Object.entries(doc.figures)) {
    if (!svg) continue;
    const img = el("img", null, { alt: `figure: ${name}`, "data-figure": name });
    img.src = "data:image/svg+xml;base64," + btoa(unescape(encodeURIComponent(svg)));
    $("figures").appendChild(img);
  }
  for (const [name, note] of Object.entries(doc.figure_notes || {})) $("figures").appendChild(el("p", `${name}: ${note}`, { class: "note" }));
}

async function loadDataset() {
  const name = $("dataset").value;
  if (!name) return;
  try { showError(null); useTable(await post("/api/load", { dataset: name })); } catch (e) { showError(e.message); }
}
async function upload(file) {
  if (!file) return;
  try {
    showError(null);
    clearResults();
    useTable(await call(`/api/upload?name=${encodeURIComponent(file.name)}`, { method: "POST", body: file }));
  } catch (e) { showError(e.message); }
}

async function start() {
  const doc = await call("/api/start");
  if (!doc.local_only) document.querySelector("header .note").textContent = "this server answers other machines too: it has no login";
  doc.datasets.forEach((d) => $("dataset").appendChild(el("option", d.name, { value: d.name, title: d.description })));
  $("dataset").addEventListener("change", loadDataset);
  $("file").addEventListener("change", (e) => upload(e.target.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); upload(e.dataTransfer.files[0]); });
  $("law").addEventListener("change", showLaw);
  $("fit").addEventListener("click", () => { clearTimeout(state.timer); fit(); });
  $("controls").addEventListener("change", (e) => { if (!["dataset", "file", "law"].includes(e.target.id)) schedule(); });
  if (doc.table) useTable(doc.table);
}
start().catch((e) => showError(e.message));
