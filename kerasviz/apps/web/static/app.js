// The kerasviz page: plain JavaScript over the HTTP API (GET /api/…, POST /api/compare,
// POST /api/activations). No build step, no library.
"use strict";

const $ = (id) => document.getElementById(id);
let MODELS = [];

async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error((await r.json()).detail || r.statusText);
  return r.json();
}

function checkbox(parent, name, value, text, checked, title) {
  const label = document.createElement("label");
  const box = document.createElement("input");
  Object.assign(box, { type: "checkbox", name, value, checked });
  label.append(box, " " + text);
  if (title) label.title = title;
  parent.append(label);
}

function chosen(name) {
  return [...document.querySelectorAll(`input[name=${name}]:checked`)].map((b) => b.value);
}

function fillLayers() {
  // the layers every chosen model has (a layer applies to all of them)
  const picked = MODELS.filter((m) => chosen("models").includes(m.name));
  const common = picked.length ? picked.map((m) => m.layers).reduce((a, b) => a.filter((l) => b.includes(l))) : [];
  const select = $("layer");
  const keep = select.value;
  select.replaceChildren(new Option("last conv layer", ""), ...common.map((l) => new Option(l, l)));
  if (common.includes(keep)) select.value = keep;
}

async function searchClasses() {
  const model = chosen("models")[0];
  const q = $("class").value.trim();
  if (!model || !q) return;
  const found = await getJSON(`/api/classes?model=${encodeURIComponent(model)}&q=${encodeURIComponent(q)}`);
  $("class-list").replaceChildren(...found.map((c) => new Option(c.name, c.name)));
}

async function init() {
  const [models, methods, samples] = await Promise.all(
    ["/api/models", "/api/methods", "/api/samples"].map(getJSON));
  MODELS = models;
  models.forEach((m, i) => checkbox($("models"), "models", m.name,
    `${m.name} (${m.classes} outputs)`, i === 0));
  methods.forEach((m) => checkbox($("methods"), "methods", m.name, m.name, m.name === "gradcam", m.doc));
  samples.forEach((s) => $("sample").append(new Option(`${s.id}: ${s.description}`, s.id)));
  $("models").addEventListener("change", fillLayers);
  fillLayers();
  $("target").addEventListener("change", () => { $("class").disabled = $("target").value !== "class"; });
  $("class").addEventListener("input", () => searchClasses().catch(showError));
  $("file").addEventListener("change", () => {
    const f = $("file").files[0];
    if (f) { $("sample").value = ""; $("preview").src = URL.createObjectURL(f); $("preview").hidden = false; }
  });
  $("sample").addEventListener("change", () => {
    const s = $("sample").value;
    $("preview").hidden = !s && !$("file").files[0];
    if (s) $("preview").src = `/api/samples/${encodeURIComponent(s)}`;
  });
  $("form").addEventListener("submit", (e) => { e.preventDefault(); run().catch(showError); });
}

function showError(err) {
  $("error").textContent = String(err.message || err);
}

function imageForm() {
  const form = new FormData();
  if ($("sample").value) form.append("sample", $("sample").value);
  else if ($("file").files[0]) form.append("image", $("file").files[0]);
  else throw new Error("Choose an image: upload a file or pick a sample.");
  return form;
}

async function post(url, form) {
  const r = await fetch(url, { method: "POST", body: form });
  const body = await r.json().catch(() => ({ detail: r.statusText }));
  if (!r.ok) throw new Error(`${r.status}: ${typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)}`);
  return body;
}

async function run() {
  $("error").textContent = "";
  const form = imageForm();
  const models = chosen("models"), methods = chosen("methods");
  if (!models.length || !methods.length) throw new Error("Choose at least one model and one method.");
  models.forEach((m) => form.append("models", m));
  methods.forEach((m) => form.append("methods", m));
  const target = $("target").value === "class" ? $("class").value.trim() : $("target").value;
  if (!target) throw new Error("Type a class name, or choose a top-k target.");
  form.append("target", target);
  form.append("layer", $("layer").value);

  const start = Date.now();
  $("busy").hidden = false;
  $("run").disabled = true;
  const tick = setInterval(() => { $("elapsed").textContent = `Computing… ${Math.round((Date.now() - start) / 1000)} s`; }, 500);
  try {
    const result = await post("/api/compare", form);
    showComparison(result);
    const acts = imageForm();
    acts.append("model", models[0]);
    acts.append("layer", $("layer").value);
    const grid = await post("/api/activations", acts);
    $("acts").src = grid.png;
    $("acts").alt = `activations of ${grid.layer} (${grid.shape.join("×")}), most active channels first`;
  } finally {
    clearInterval(tick);
    $("busy").hidden = true;
    $("run").disabled = false;
    $("elapsed").textContent = "Computing…";
  }
}

function showComparison(result) {
  $("results").hidden = false;
  $("grid").src = result.grid.png;
  $("grid-png").href = result.grid.png;
  $("json").href = URL.createObjectURL(new Blob([JSON.stringify(result, null, 1)], { type: "application/json" }));
  const table = document.createElement("table");
  const head = table.insertRow();
  ["model", ...[1, 2, 3, 4, 5].map((k) => `top-${k}`)].forEach((t) => {
    const th = document.createElement("th"); th.textContent = t; head.append(th);
  });
  result.rows.forEach((row) => {
    const tr = table.insertRow();
    tr.insertCell().textContent = row.model;
    row.predictions.forEach((p) => {
      const value = row.kind === "probability" ? `${(100 * p.value).toFixed(1)}%` : p.value.toPrecision(3);
      tr.insertCell().textContent = `${p.name.replace(/_/g, " ")} (${value})`;
    });
  });
  $("top5").replaceChildren(table);
  const figures = [];
  result.rows.forEach((row) => row.cells.filter((c) => c.method !== "input").forEach((cell) => {
    const fig = document.createElement("figure");
    const cap = document.createElement("figcaption");
    if (cell.crop) {
      const img = new Image(); img.src = cell.crop; img.alt = `region of ${cell.method}`;
      fig.append(img);
      cap.textContent = `${row.model} · ${cell.method} · ${cell.label}`;
    } else {
      cap.textContent = `${row.model} · ${cell.method}: ${cell.error}`;
    }
    fig.append(cap);
    figures.push(fig);
  }));
  $("crops").replaceChildren(...figures);
}

init().catch(showError);
