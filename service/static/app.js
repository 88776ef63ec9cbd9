// ragkit web page: key in sessionStorage, compare methods side by side, browse eval reports.
// Server data is only ever written with textContent (never innerHTML).
"use strict";

const KEY_STORE = "ragkit.key";
const $ = (id) => document.getElementById(id);

const state = {
  collection: null,
  models: [],          // [{collection, method, adapter, label}]
  evalTimer: null,
  reportUrl: null,     // blob URL of the open report, revoked when replaced
};

// ---------- helpers ----------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "className") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function getKey() { return sessionStorage.getItem(KEY_STORE); }

// Fetch with the Bearer key; JSON by default, text with {as: "text"}. Throws ApiError with the server's message.
async function api(path, { method = "GET", body, as = "json" } = {}) {
  const headers = { Authorization: `Bearer ${getKey() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, "network", `Cannot reach the server (${e.message}).`);
  }
  if (!resp.ok) {
    let code = `http_${resp.status}`;
    let message = `${resp.status} ${resp.statusText}`;
    try {
      const data = await resp.json();
      if (data && data.error) {
        code = data.error.code || code;
        message = data.error.message || message;
      } else if (data && data.detail) {
        message = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
      }
    } catch (_) { /* not JSON: keep the status line */ }
    if (resp.status === 401) {
      message = `Key rejected: ${message}`;
      onUnauthorized(message);
    }
    throw new ApiError(resp.status, code, message);
  }
  return as === "text" ? resp.text() : resp.json();
}

function coll(path = "") {
  return `/v1/collections/${encodeURIComponent(state.collection)}${path}`;
}

function fmtDate(s) {
  if (!s) return "–";
  const d = new Date(s);
  return isNaN(d) ? String(s) : d.toLocaleString();
}

function fmtNum(v, digits = 3) {
  if (v === null || v === undefined) return "–";
  return typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(digits)) : String(v);
}

// ---------- key ----------

function onUnauthorized(message) {
  sessionStorage.removeItem(KEY_STORE);
  renderKeyState();
  showError(message);
}

function renderKeyState() {
  const has = Boolean(getKey());
  $("key-form").hidden = has;
  $("key-status").hidden = !has;
  $("app").hidden = !has;
  if (!has) {
    stopEvalPolling();
    $("key-input").focus();
  }
}

async function useKey(event) {
  event.preventDefault();
  const key = $("key-input").value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY_STORE, key);
  $("key-input").value = "";
  showError("");
  renderKeyState();
  await loadCollections();
}

function forgetKey() {
  sessionStorage.removeItem(KEY_STORE);
  state.collection = null;
  for (const id of ["collection", "method-list", "results", "eval-rows"]) $(id).replaceChildren();
  $("results-question").textContent = "";
  $("chunk-panel").hidden = true;
  closeReport();
  showError("");
  renderKeyState();
}

// ---------- collections and methods ----------

async function loadCollections() {
  let data;
  try {
    data = await api("/v1/collections");
  } catch (e) {
    showError(e.message);
    return;
  }
  const select = $("collection");
  const names = data.collections.map((c) => c.name);
  select.replaceChildren(...data.collections.map((c) => el("option", { value: c.name, text: c.name })));
  select.dataset.info = JSON.stringify(data.collections);
  if (!names.length) {
    $("collection-info").textContent = "This key cannot see any collection.";
    state.collection = null;
    return;
  }
  const keep = names.includes(state.collection) ? state.collection : names[0];
  select.value = keep;
  await selectCollection(keep);
}

async function selectCollection(name) {
  state.collection = name;
  const info = JSON.parse($("collection").dataset.info || "[]").find((c) => c.name === name);
  $("collection-info").textContent = info
    ? `${info.documents} documents · ${info.chunks} chunks · revision ${info.revision}`
    : "";
  $("results").replaceChildren();
  $("results-question").textContent = "";
  $("chunk-panel").hidden = true;
  closeReport();
  await Promise.all([loadModels(), loadEvals()]);
}

// "ragkit/<collection>/<method>[:<adapter>]" -> parts; the collection is everything before the last "/".
function parseModelId(id) {
  if (!id.startsWith("ragkit/")) return null;
  const rest = id.slice("ragkit/".length);
  const slash = rest.lastIndexOf("/");
  if (slash < 0) return null;
  const [method, adapter] = rest.slice(slash + 1).split(/:(.*)/s);
  return { collection: rest.slice(0, slash), method, adapter: adapter || null, label: rest.slice(slash + 1) };
}

async function loadModels() {
  const list = $("method-list");
  const collection = state.collection;
  delete list.dataset.collection;
  list.replaceChildren();
  $("methods-empty").hidden = true;
  let data;
  try {
    data = await api("/v1/models");
  } catch (e) {
    showError(e.message);
    return;
  }
  if (collection !== state.collection) return; // the user switched meanwhile
  list.replaceChildren(); // a second load may have raced this one
  state.models = data.data.map((m) => parseModelId(m.id)).filter((m) => m && m.collection === collection);
  for (const m of state.models) {
    const box = el("input", {
      type: "checkbox", name: "method", value: m.label,
      "data-testid": `method-${m.label}`, "data-method": m.method, "data-adapter": m.adapter || "",
    });
    box.checked = !m.adapter; // plain methods by default; adapter variants on request
    list.append(el("label", { className: m.adapter ? "method adapter" : "method" }, box, ` ${m.label}`));
  }
  $("methods-empty").hidden = state.models.length > 0;
  list.dataset.collection = collection; // loaded: lets tests and scripts wait for it
}

// ---------- compare ----------

let busyTimer = null;

function setBusy(on, text) {
  $("ask").disabled = on;
  $("collection").disabled = on;
  $("results").setAttribute("aria-busy", on ? "true" : "false");
  $("busy").hidden = !on;
  clearInterval(busyTimer);
  if (on) {
    const start = Date.now();
    const tick = () => { $("busy-text").textContent = `${text} ${Math.round((Date.now() - start) / 1000)} s`; };
    tick();
    busyTimer = setInterval(tick, 1000);
  }
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  const checked = [...document.querySelectorAll("#method-list input:checked")];
  if (!question) return;
  if (!checked.length) { showError("Pick at least one method."); return; }
  showError("");
  // compare takes one adapter per call: one call per distinct adapter, run one after another (CPU models).
  const groups = new Map();
  for (const box of checked) {
    const adapter = box.dataset.adapter || "";
    if (!groups.has(adapter)) groups.set(adapter, []);
    groups.get(adapter).push(box.dataset.method);
  }
  const results = $("results");
  results.replaceChildren();
  $("chunk-panel").hidden = true;
  $("results-question").textContent = `“${question}”`;
  const collection = state.collection;
  setBusy(true, "Asking the methods… (the local CPU model can take a minute)");
  try {
    for (const [adapter, methods] of groups) {
      const body = { question, methods };
      if (adapter) body.adapter = adapter;
      try {
        const data = await api(coll("/compare"), { method: "POST", body });
        for (const r of data.results) results.append(resultCard(r, adapter, collection));
      } catch (e) {
        for (const m of methods) results.append(resultCard({ method: m, error: { code: e.code, message: e.message } }, adapter, collection));
        if (e.status === 401) break;
      }
    }
  } finally {
    setBusy(false);
  }
}

function resultCard(r, adapter, collection) {
  const label = adapter ? `${r.method}:${adapter}` : r.method;
  const card = el("article", { className: "card", "data-testid": "result-card", "data-method": label });
  const head = el("header", { className: "card-head" }, el("h3", { text: label }));
  card.append(head);
  if (r.error) {
    card.classList.add("failed");
    card.append(el("p", { className: "card-error", "data-testid": "card-error", text: `${r.error.message} (${r.error.code})` }));
    return card;
  }
  if (r.abstained) head.append(el("span", { className: "badge", "data-testid": "abstained", text: "abstained" }));
  card.append(el("p", { className: "answer", "data-testid": "answer", text: r.answer || "" }));

  const cites = r.citations || [];
  if (cites.length) {
    const list = el("ol", { className: "citations", "data-testid": "citations" });
    for (const c of cites) {
      const btn = el("button", {
        type: "button", className: c.cited ? "citation cited" : "citation",
        "data-testid": "citation", "data-chunk-id": c.chunk_id,
        title: c.cited ? "cited in the answer" : "retrieved, not cited",
        onclick: () => showChunk(collection, c, btn),
      });
      btn.append(el("span", { className: "cite-n", text: `[${c.n}]` }), ` ${c.source}`);
      list.append(el("li", {}, btn));
    }
    card.append(list);
  } else {
    card.append(el("p", { className: "muted small", text: "No citations." }));
  }

  const usage = r.usage || {};
  card.append(el("dl", { className: "stats" },
    el("dt", { text: "latency" }), el("dd", { "data-testid": "latency", text: `${fmtNum(r.latency_ms, 0)} ms` }),
    el("dt", { text: "tokens" }), el("dd", { "data-testid": "tokens", text: `${fmtNum(usage.prompt_tokens)} prompt · ${fmtNum(usage.completion_tokens)} completion` }),
  ));
  if (r.details && Object.keys(r.details).length) {
    card.append(el("details", { className: "small" }, el("summary", { text: "details" }),
      el("pre", { text: JSON.stringify(r.details, null, 2) })));
  }
  return card;
}

async function showChunk(collection, cite, btn) {
  document.querySelectorAll(".citation.active").forEach((b) => b.classList.remove("active"));
  btn.classList.add("active");
  const panel = $("chunk-panel");
  panel.hidden = false;
  $("chunk-title").textContent = `[${cite.n}] ${cite.source}`;
  $("chunk-meta").textContent = "Loading…";
  $("chunk-text").textContent = "";
  try {
    const ch = await api(`/v1/collections/${encodeURIComponent(collection)}/chunks/${encodeURIComponent(cite.chunk_id)}`);
    const meta = Object.entries(ch.metadata || {}).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`);
    $("chunk-meta").textContent = [`chunk ${ch.chunk_id}`, `doc ${ch.doc_id}`, ...meta].join(" · ");
    $("chunk-text").textContent = ch.text;
  } catch (e) {
    $("chunk-meta").textContent = `Could not load the chunk: ${e.message}`;
  }
  panel.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

// ---------- evals ----------

function stopEvalPolling() {
  clearTimeout(state.evalTimer);
  state.evalTimer = null;
}

async function loadEvals() {
  stopEvalPolling();
  const collection = state.collection;
  if (!collection) return;
  let data;
  try {
    data = await api(coll("/evals"));
  } catch (e) {
    $("eval-rows").replaceChildren();
    $("eval-table").hidden = true;
    $("evals-empty").hidden = false;
    $("evals-empty").textContent = `Could not list eval runs: ${e.message}`;
    return;
  }
  if (collection !== state.collection) return; // the user switched meanwhile
  const evals = [...data.evals].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  $("eval-rows").replaceChildren(...evals.map(evalRow));
  $("eval-table").hidden = evals.length === 0;
  $("evals-empty").hidden = evals.length > 0;
  $("evals-empty").textContent = "No eval runs for this collection yet.";
  // queued or running runs: look again in a while
  if (evals.some((e) => e.state === "queued" || e.state === "running")) {
    state.evalTimer = setTimeout(loadEvals, 5000);
  }
}

function stateText(ev) {
  const running = ev.state === "running" && typeof ev.progress === "number";
  return running ? `running ${Math.round(ev.progress * 100)}%` : ev.state;
}

function evalRow(ev) {
  const methods = ev.result && ev.result.methods ? ev.result.methods : null;
  const acc = el("td", { className: "acc" });
  if (methods) {
    const winner = ev.result.winner && ev.result.winner.method;
    for (const [name, m] of Object.entries(methods)) {
      acc.append(el("span", { className: name === winner ? "acc-item winner" : "acc-item", text: `${name} ${fmtNum(m.accuracy)}` }));
    }
  } else {
    acc.textContent = "–";
  }
  const open = el("button", {
    type: "button", className: "secondary", "data-testid": "open-report", text: "Report",
    onclick: () => openReport(ev),
  });
  open.disabled = !(ev.state === "succeeded" && ev.report_url);
  return el("tr", { "data-testid": "eval-row", "data-eval-id": ev.id },
    el("td", { title: ev.id, text: fmtDate(ev.created_at) }),
    el("td", {}, el("span", { className: `state state-${ev.state}`, text: stateText(ev) }),
      ev.error ? el("div", { className: "card-error small", text: ev.error.message || "" }) : null),
    el("td", { text: ev.methods && ev.methods.length ? ev.methods.join(", ") : "all" }),
    acc,
    el("td", {}, open));
}

async function openReport(ev) {
  const view = $("report-view");
  view.hidden = false;
  $("report-title").textContent = `Report ${ev.id}`;
  const frame = $("report-frame");
  frame.srcdoc = "<p style='font-family:sans-serif'>Loading…</p>";
  try {
    const html = await api(ev.report_url, { as: "text" });
    frame.srcdoc = html; // sandbox without allow-scripts: the inline SVG renders, no script runs
    if (state.reportUrl) URL.revokeObjectURL(state.reportUrl);
    state.reportUrl = URL.createObjectURL(new Blob([html], { type: "text/html" }));
    $("report-open").href = state.reportUrl;
  } catch (e) {
    frame.srcdoc = "";
    view.hidden = true;
    showError(`Could not open the report: ${e.message}`);
    return;
  }
  view.scrollIntoView({ block: "start", behavior: "smooth" });
}

function closeReport() {
  $("report-view").hidden = true;
  $("report-frame").srcdoc = "";
  if (state.reportUrl) URL.revokeObjectURL(state.reportUrl);
  state.reportUrl = null;
}

// ---------- wiring ----------

document.addEventListener("DOMContentLoaded", () => {
  $("key-form").addEventListener("submit", useKey);
  $("forget-key").addEventListener("click", forgetKey);
  $("collection").addEventListener("change", (e) => {
    if (e.target.value !== state.collection) selectCollection(e.target.value);
  });
  $("ask-form").addEventListener("submit", ask);
  $("question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("ask-form").requestSubmit(); }
  });
  $("chunk-close").addEventListener("click", () => { $("chunk-panel").hidden = true; });
  $("evals-refresh").addEventListener("click", loadEvals);
  $("report-close").addEventListener("click", closeReport);
  renderKeyState();
  if (getKey()) loadCollections();
});
