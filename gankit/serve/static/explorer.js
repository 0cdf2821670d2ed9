// The gankit explorer page: asks the server's JSON endpoints (gankit/serve/__init__.py) for pictures and shows
// them. Plain browser JavaScript, no library and nothing from the network.
"use strict";

const $ = (id) => document.getElementById(id);
let runs = [];
let current = null; // the chosen run's description (GET /api/runs/<i>)

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

// GET or POST a JSON endpoint; a refused request shows its message in the error box and returns null.
async function ask(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch (e) {
    showError(`the explorer server did not answer (${e}); is gankit serve still running?`);
    return null;
  }
  let body;
  try {
    body = await response.json();
  } catch (e) {
    showError(`${response.status} ${response.statusText}: the server's answer was not JSON`);
    return null;
  }
  if (!response.ok) {
    showError(body.error || `${response.status} ${response.statusText}`);
    return null;
  }
  clearError();
  return body;
}

// The query string of the non-empty values.
function query(values) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) {
    if (value !== "" && value !== null && value !== undefined) params.set(key, value);
  }
  return params.toString();
}

// An answer {image} or {sentences} into the <img> / <pre> pair.
function show(answer, imageId, textId) {
  const img = $(imageId);
  const pre = textId ? $(textId) : null;
  if (answer.sentences && pre) {
    pre.textContent = answer.sentences.join("\n");
    pre.hidden = false;
    img.hidden = true;
  } else if (answer.image) {
    img.src = answer.image;
    img.hidden = false;
    if (pre) pre.hidden = true;
  }
}

function samplingValues() {
  const values = { class: $("class").value };
  if (current.truncates && $("truncation").value !== "1") values.truncation = $("truncation").value;
  if (current.text) values.temperature = $("temperature").value;
  return values;
}

async function draw() {
  const values = { seed: $("seed").value, n: $("n").value, ...samplingValues() };
  if (current.noise && $("amount").value !== "0") {
    values.amount = $("amount").value;
    values.direction = $("direction").value;
    values[$("direction").value === "dim" ? "dim" : "direction_seed"] = $("direction-arg").value;
  }
  const answer = await ask(`/api/runs/${current.index}/sample?${query(values)}`);
  if (answer) show(answer, "samples", "sentences");
}

async function interpolate() {
  const values = { a: $("seed-a").value, b: $("seed-b").value, steps: $("steps").value, ...samplingValues() };
  const answer = await ask(`/api/runs/${current.index}/interpolate?${query(values)}`);
  if (answer) show(answer, "interpolation", "interpolation-sentences");
}

async function walk() {
  const values = { code: $("code").value, seed: $("seed").value };
  const answer = await ask(`/api/runs/${current.index}/walk?${query(values)}`);
  if (answer) show(answer, "walk-image");
}

async function upload() {
  const file = $("upload-file").files[0];
  if (!file) {
    showError("choose an image file first");
    return;
  }
  const form = new FormData();
  form.append("image", file);
  if (current.domains.length) form.append("to", $("to").value);
  const answer = await ask(`/api/runs/${current.index}/upload`, { method: "POST", body: form });
  if (answer) show(answer, "upload-image");
}

function cell(row, text, tag = "td") {
  const element = document.createElement(tag);
  element.textContent = typeof text === "number" ? +text.toPrecision(4) : text;
  row.appendChild(element);
}

function table(header, rows) {
  const element = document.createElement("table");
  const head = element.insertRow();
  header.forEach((h) => cell(head, h, "th"));
  for (const values of rows) {
    const row = element.insertRow();
    values.forEach((v) => cell(row, v));
  }
  return element;
}

function fillEvaluations(evaluations) {
  const box = $("evaluations");
  box.replaceChildren();
  if (!evaluations.length) {
    box.textContent = "No evaluation yet: gankit eval RUN --metrics fid,kid,is,pr";
    return;
  }
  const keys = [...new Set(evaluations.flatMap((e) => Object.keys(e.scores)))].sort();
  box.appendChild(table(["step", "checkpoint", ...keys],
    evaluations.map((e) => [e.step, e.checkpoint, ...keys.map((k) => (k in e.scores ? e.scores[k] : ""))])));
  evaluations.forEach((e) => {
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = `protocol of the evaluation at step ${e.step}`;
    details.appendChild(summary);
    details.appendChild(table(["field", "value"], Object.entries(e.protocol).map(
      ([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : v])));
    box.appendChild(details);
  });
}

function fillSymptoms(symptoms) {
  const box = $("symptoms");
  box.replaceChildren();
  if (!symptoms.length) {
    box.className = "ok";
    box.textContent = "none detected";
    return;
  }
  box.className = "warn";
  box.appendChild(table(["symptom", "began at step", "ended", "what", "evidence"], symptoms.map((s) => [
    s.name, s.began, s.ended === null || s.ended === undefined ? "still present" : s.ended, s.description || "",
    Object.entries(s.evidence || {}).map(([k, v]) => `${k} ${typeof v === "number" ? +v.toPrecision(4) : v}`).join(", "),
  ])));
}

function showOnly(selector, visible) {
  document.querySelectorAll(selector).forEach((element) => { element.hidden = !visible; });
}

function fillSelect(select, values) {
  select.replaceChildren(...values.map((v) => new Option(v, v)));
}

async function chooseRun(index) {
  const run = await ask(`/api/runs/${index}`);
  if (!run) return;
  current = run;
  $("report").href = run.report;
  $("about").textContent = `${run.preset} (recipe ${run.recipe}) on ${run.data}, ${run.kind} data, step ` +
    `${run.step} of ${run.steps}${run.paper ? ". " + run.paper : ""}`;
  showOnly(".needs-classes", run.classes > 0);
  $("class").max = run.classes - 1;
  $("class").title = run.codes.length ? "the value of the first categorical code, cat0" : `0..${run.classes - 1}`;
  showOnly(".needs-truncation", run.truncates);
  showOnly(".needs-text", run.text);
  showOnly(".needs-noise", run.noise);
  showOnly(".needs-codes", run.codes.length > 0);
  fillSelect($("code"), run.codes);
  showOnly(".needs-upload", run.upload !== null);
  showOnly(".needs-domains", run.domains.length > 0);
  fillSelect($("to"), run.domains);
  $("upload-hint").textContent = run.upload ? `This ${run.preset} run ${run.upload_what}; the image is ` +
    "converted and resized to the run's training size, and read in memory only." : "";
  $("draw-hint").textContent = run.noise ? `Every sample's noise z (${run.z_size} entries) moves by the slider's ` +
    "amount along the chosen unit direction, before the truncation trick." : "";
  fillEvaluations(run.evaluations);
  fillSymptoms(run.symptoms);
  const last = run.samples[run.samples.length - 1];
  $("training-samples").hidden = !last;
  $("no-training-samples").hidden = !!last;
  if (last) $("training-samples").src = `/runs/${run.index}/file?${query({ path: last })}`;
  ["samples", "sentences", "interpolation", "interpolation-sentences", "walk-image", "upload-image"].forEach(
    (id) => { $(id).hidden = true; });
  await draw();
}

// Small pictures (8 to 64 px samples) are shown at a whole multiple of their size, pixels kept sharp.
function enlarge(img) {
  const scale = Math.max(1, Math.floor(Math.min(1100 / img.naturalWidth, 480 / img.naturalHeight)));
  img.style.width = `${img.naturalWidth * scale}px`;
}

async function start() {
  document.querySelectorAll("img.picture").forEach((img) => img.addEventListener("load", () => enlarge(img)));
  const answer = await ask("/api/runs");
  if (!answer) return;
  runs = answer.runs;
  $("run").replaceChildren(...runs.map((r) => new Option(`${r.index}: ${r.name} (${r.preset})`, r.index)));
  $("run").addEventListener("change", () => chooseRun($("run").value));
  $("draw").addEventListener("click", draw);
  $("new-seed").addEventListener("click", () => {
    $("seed").value = Math.floor(Math.random() * 1e9);
    draw();
  });
  $("amount").addEventListener("input", () => { $("amount-shown").textContent = $("amount").value; });
  $("amount").addEventListener("change", draw);
  $("interpolate").addEventListener("click", interpolate);
  $("walk").addEventListener("click", walk);
  $("upload").addEventListener("click", upload);
  await chooseRun(0);
  document.body.dataset.ready = "true"; // the browser tests wait for this
}

start();
