// The demo page: a %%kaptain cell, its objects, their lifecycle, and a run against the
// cluster the page is served with. Every decision is the wasm core's (pkg/kaptain.js, and
// pkg/build/kaptain.js for the build context, loaded when a cell that builds is shown); this
// file only reads the page and writes the page.
import init, { apply, parse, plan, render } from "./pkg/kaptain.js";
import { escapeHtml, highlight } from "./yaml.js";

const params = new URLSearchParams(location.search);
/** The Kubernetes API: the origin the page is served from (kubectl proxy --www), or ?server=. */
const server = params.get("server") || location.origin;

const STEPS = {
  build: {
    about: "Build the Model's image from its code and requirements, and push it to the registry.",
    examples: [["build.cell", "TensorFlow"]],
    fields: ["model", "framework", "image"],
    builds: true,
  },
  train: {
    about: "Train the Model: one TFJob or PyTorchJob, after a build when the image must be rebuilt.",
    examples: [["train.cell", "TensorFlow"], ["train-pytorch.cell", "PyTorch"]],
    fields: ["model", "framework", "image", "workers", "gpus", "switch"],
    builds: true,
    switch: ["force-cleanup", "Delete the training job when the run ends (force_cleanup)"],
  },
  tune: {
    about: "Tune the Model's hyperparameters: a Katib Experiment whose trials are training jobs.",
    examples: [["tune.cell", "TensorFlow"]],
    fields: ["model", "framework", "image", "workers", "gpus", "switch"],
    builds: true,
    switch: ["delete-experiment", "Delete the Experiment when it succeeds (delete_experiment)"],
  },
  deploy: {
    about: "Deploy the trained Model as an InferenceService.",
    examples: [["deploy.cell", "KFServing"], ["deploy-kserve.cell", "KServe"]],
    fields: ["model", "framework", "gpus", "switch"],
    switch: ["keep-serving-credentials", "Keep the serving credentials (keep_serving_credentials)"],
  },
};
const OUTCOMES = ["succeeded", "failed", "interrupted"];
const BOOLEAN_FLAGS = new Set(["replace", "force-cleanup", "delete-experiment", "keep-serving-credentials"]);

const $ = (selector) => document.querySelector(selector);
const editor = $("#cell");
const form = $("#form");
const field = (name) => form.elements.namedItem(name);
const namespaceInput = $("#namespace");
namespaceInput.value = params.get("namespace") || namespaceInput.value;

const state = {
  step: "train",
  /** The cell text of each example, as the user left it. */
  drafts: {},
  /** The run id the objects are rendered with: the next run's. */
  runId: "",
  /** The objects of the cell as rendered: [{ kind, name }] in creation order. */
  objects: [],
  /** Per object ("Kind/name"): the cluster's answer to the last check. */
  checks: new Map(),
  /** Per object: what the last run did with it. */
  statuses: new Map(),
  /** The run in progress: its AbortController. */
  running: null,
  /** The files picked for the build context: by file name, and by path below the picked folder. */
  picked: { byName: new Map(), byPath: new Map() },
};
const key = (kind, name) => `${kind}/${name}`;

// ---------------------------------------------------------------- editing the cell text

function readFlags(firstLine) {
  const tokens = firstLine.trim().split(/\s+/);
  const flags = []; // [name, value]: value null for a bare boolean; name null for a stray token
  for (let i = 2; i < tokens.length; i++) {
    const token = tokens[i];
    if (!token.startsWith("--")) {
      flags.push([null, token]);
    } else if (token.includes("=")) {
      flags.push([token.slice(2, token.indexOf("=")), token.slice(token.indexOf("=") + 1)]);
    } else if (BOOLEAN_FLAGS.has(token.slice(2)) || i + 1 >= tokens.length || tokens[i + 1].startsWith("--")) {
      flags.push([token.slice(2), null]);
    } else {
      flags.push([token.slice(2), tokens[++i]]);
    }
  }
  return { head: tokens.slice(0, 2), flags };
}

function getFlag(text, name) {
  const found = readFlags(text.split("\n")[0]).flags.find(([n]) => n === name);
  return found ? (found[1] ?? true) : undefined;
}

/** Sets (value: a string or true) or removes (null, "", false) a flag on the first line. */
function setFlag(text, name, value) {
  const lines = text.split("\n");
  const { head, flags } = readFlags(lines[0]);
  const at = flags.findIndex(([n]) => n === name);
  if (value === null || value === "" || value === false) {
    if (at >= 0) flags.splice(at, 1);
  } else {
    const entry = [name, value === true ? null : String(value)];
    if (at >= 0) flags[at] = entry;
    else flags.push(entry);
  }
  const words = flags.flatMap(([n, v]) => (n === null ? [v] : v === null ? [`--${n}`] : [`--${n}`, v]));
  lines[0] = [...head, ...words].join(" ");
  return lines.join("\n");
}

/** The lines of the `model:` block: [first line after `model:`, end). */
function modelBlock(lines) {
  const start = lines.findIndex((line) => /^model:\s*(#.*)?$/.test(line));
  if (start < 0) return null;
  let end = start + 1;
  while (end < lines.length && (lines[end].trim() === "" || /^\s/.test(lines[end]))) end++;
  return { start, end };
}

function unquote(text) {
  if (text.startsWith('"')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  if (text.startsWith("'")) return text.slice(1, -1).replace(/''/g, "'");
  return text;
}

const yamlScalar = (value) =>
  /^[A-Za-z][\w./:@-]*$/.test(value) && !/^(true|false|yes|no|on|off|null|y|n)$/i.test(value) ? value : JSON.stringify(value);

function getModelField(text, field) {
  const lines = text.split("\n");
  const block = modelBlock(lines);
  if (!block) return "";
  const pattern = new RegExp(`^\\s+${field}:\\s*(.*?)\\s*(#.*)?$`);
  for (let i = block.start + 1; i < block.end; i++) {
    const match = pattern.exec(lines[i]);
    if (match) return unquote(match[1]);
  }
  return "";
}

function setModelField(text, field, value) {
  const lines = text.split("\n");
  let block = modelBlock(lines);
  if (!block) {
    lines.splice(1, 0, "model:");
    block = { start: 1, end: 2 };
  }
  const body = lines.slice(block.start + 1, block.end).find((line) => line.trim());
  const indent = body ? body.match(/^\s*/)[0] : "  ";
  const pattern = new RegExp(`^\\s+${field}:`);
  let at = -1;
  for (let i = block.start + 1; i < block.end; i++) if (pattern.test(lines[i])) at = i;
  const line = `${indent}${field}: ${yamlScalar(value)}`;
  if (!value) {
    if (at >= 0) lines.splice(at, 1);
  } else if (at >= 0) {
    lines[at] = line;
  } else {
    let end = block.end;
    while (end > block.start + 1 && !lines[end - 1].trim()) end--;
    lines.splice(end, 0, line);
  }
  return lines.join("\n");
}

/** The form shows what the cell says. */
function readForm(text, step) {
  const fields = STEPS[step].fields;
  for (const label of form.querySelectorAll("label[data-for]")) label.hidden = !fields.includes(label.dataset.for);
  field("model").value = getModelField(text, "id");
  field("framework").value = getModelField(text, "framework") || "tensorflow";
  field("image").value = getModelField(text, "image_name");
  for (const name of ["workers", "gpus"]) {
    const flag = getFlag(text, name);
    const body = new RegExp(`^${name}:\\s*(\\S+)`, "m").exec(text);
    field(name).value = typeof flag === "string" ? flag : body ? body[1] : "";
  }
  const toggle = STEPS[step].switch;
  if (toggle) {
    $("#switch-text").textContent = toggle[1];
    const body = new RegExp(`^${toggle[0].replace(/-/g, "_")}:\\s*(true|yes|y|1)\\s*$`, "im").test(text);
    const flag = getFlag(text, toggle[0]);
    field("switch").checked = flag === undefined ? body : flag === true || /^(true|yes|y|1)$/i.test(flag);
  }
}

/** A form field changed: the cell text follows. */
function writeForm(name) {
  let text = editor.value;
  const input = field(name);
  const value = input.type === "checkbox" ? input.checked : input.value.trim();
  switch (name) {
    case "model": text = setModelField(text, "id", value); break;
    case "framework": text = setModelField(text, "framework", value); break;
    case "image": text = setModelField(text, "image_name", value); break;
    case "workers":
    case "gpus": text = setFlag(text, name, value); break;
    case "switch": text = setFlag(text, STEPS[state.step].switch[0], value); break;
  }
  editor.value = text;
  edited();
}

// ---------------------------------------------------------------- rendering

const options = () => ({ runId: state.runId, namespace: namespaceInput.value.trim() || undefined });

/** The cell changed: parse, render, plan; forget what the cluster said about the old objects. */
function edited() {
  state.drafts[$("#example").value] = editor.value;
  state.checks.clear();
  state.statuses.clear();
  update();
}

function update() {
  const text = editor.value;
  if (!state.runId) {
    try {
      state.runId = parse(text).runId; // a new one from the core
    } catch {
      // an invalid cell: the next valid one gives the run id
    }
  }
  const status = $("#parse");
  let summary;
  try {
    summary = parse(text, options());
  } catch (error) {
    showParseError(error);
    readForm(text, state.step);
    state.objects = [];
    $("#manifests").innerHTML = "";
    $("#count").textContent = "";
    drawTable(null);
    showContext(text, null);
    setBusy(Boolean(state.running));
    return;
  }
  editor.classList.remove("invalid");
  status.className = "status ok";
  status.textContent = `✓ ${summary.step} · Model ${summary.modelId}${summary.modelName ? ` (${summary.modelName})` : ""} · ${
    summary.framework === "pytorch" ? "PyTorch" : "TensorFlow"
  } · namespace ${summary.namespace}`;
  if (summary.step !== state.step) selectStep(summary.step, false);
  readForm(text, summary.step);
  state.namespace = summary.namespace;
  state.selector = summary.selector;
  state.objects = render(text, options()).map((o) => ({ kind: o.kind, name: o.metadata.name }));
  $("#manifests").innerHTML = highlight(render(text, { ...options(), format: "yaml" }));
  $("#count").textContent = `${state.objects.length} · run ${state.runId}`;
  document.body.dataset.runId = state.runId;
  const plans = Object.fromEntries(OUTCOMES.map((outcome) => [outcome, plan(text, outcome, options())]));
  drawTable(plans);
  // What a fate costs the user, in the core's words (the serving caveat of a deploy's success).
  const caveats = new Set(OUTCOMES.flatMap((outcome) => plans[outcome].flatMap((e) => (e.caveat ? [e.caveat] : []))));
  $("#caveat").textContent = [...caveats].join(" ");
  $("#caveat").hidden = caveats.size === 0;
  showContext(text, summary);
  setBusy(Boolean(state.running));
}

/** The core's error (a KaptainError): where it points is given, the text is not taken apart. */
function showParseError(error) {
  const status = $("#parse");
  editor.classList.add("invalid");
  status.className = "status error";
  const { line, column } = error;
  status.innerHTML = Number.isInteger(line) && Number.isInteger(column)
    ? `✗ <a href="#" data-line="${line}" data-column="${column}">line ${line}, column ${column}</a>: ${escapeHtml(error.detail ?? error.message)}`
    : `✗ ${escapeHtml(error.message ?? String(error))}`;
}

/** Puts the caret where a parse error points. */
function goTo(line, column) {
  const lines = editor.value.split("\n");
  let offset = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
  offset += Math.max(0, column - 1);
  editor.focus();
  editor.setSelectionRange(offset, Math.min(offset + 1, editor.value.length));
}

let lastPlans = null;
function drawTable(plans) {
  if (plans !== undefined) lastPlans = plans;
  const rows = state.objects.map(({ kind, name }) => {
    const id = key(kind, name);
    const check = state.checks.get(id);
    const checkCell = !check ? '<span class="muted">—</span>'
      : check.error ? `<span class="badge bad">refused</span><small>${escapeHtml(check.error)}</small>`
      : '<span class="badge good">accepted</span>';
    const status = state.statuses.get(id);
    const statusCell = !status ? '<span class="muted">—</span>'
      : `<span class="badge ${status.tone}">${escapeHtml(status.state)}</span>${status.detail ? `<small>${escapeHtml(status.detail)}</small>` : ""}`;
    const fate = OUTCOMES.map((outcome) => {
      const entry = lastPlans?.[outcome].find((e) => e.kind === kind && e.name === name);
      if (!entry) return "<td></td>";
      return `<td data-outcome="${outcome}"><span class="badge ${entry.action}">${entry.action}</span><small>${escapeHtml(entry.reason)}</small></td>`;
    });
    return `<tr data-object="${escapeHtml(id)}"><td><b>${escapeHtml(kind)}</b><br><code>${escapeHtml(name)}</code></td>`
      + `<td data-column="check">${checkCell}</td><td data-column="status">${statusCell}</td>${fate.join("")}</tr>`;
  });
  $("#objects tbody").innerHTML = rows.join("") || '<tr><td colspan="6" class="muted">Fix the cell to see its objects.</td></tr>';
}

// ---------------------------------------------------------------- the build context

/**
 * The build package (pkg/build: the core plus the packer), imported the first time a cell of a
 * step that builds is shown. `STEPS[step].builds` only says when to load it; which files a cell
 * needs, and whether it needs any, is the core's answer (`contextFiles`).
 */
let buildCore = null;
function loadBuildCore() {
  buildCore ??= import("./pkg/build/kaptain.js")
    .then(async (module) => {
      await module.default();
      return module;
    })
    .catch((error) => {
      buildCore = null; // try again with the next cell
      throw new Error(`the build package (pkg/build) could not load: ${error.message}`);
    });
  return buildCore;
}

/** Bytes of each picked File, read once. */
const fileBytes = new WeakMap();
function bytesOf(file) {
  if (!fileBytes.has(file)) fileBytes.set(file, file.arrayBuffer().then((buffer) => new Uint8Array(buffer)));
  return fileBytes.get(file);
}

/** The picked file for a path the cell needs: by its path below a picked folder, else by file name. */
const pickedFor = (path) => state.picked.byPath.get(path) ?? state.picked.byName.get(path.slice(path.lastIndexOf("/") + 1));

/** Files from a picker: a folder's files by their path after the folder's own name, others by name. */
function pick(files) {
  for (const file of files) {
    const relative = file.webkitRelativePath;
    if (relative) state.picked.byPath.set(relative.slice(relative.indexOf("/") + 1), file);
    else state.picked.byName.set(file.name, file);
  }
  showContext(editor.value, lastSummary);
}

function forgetPicked() {
  state.picked.byName.clear();
  state.picked.byPath.clear();
  $("#context-pick").value = "";
  $("#context-folder").value = "";
  showContext(editor.value, lastSummary);
}

const bytes = (n) => (n < 1024 ? `${n} bytes` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB (${n} bytes)` : `${(n / 1048576).toFixed(1)} MiB (${n} bytes)`);

let lastSummary = null;
let contextGeneration = 0;
let archiveUrl = "";

function contextStatus(tone, text) {
  const status = $("#context-status");
  status.className = `status ${tone}`;
  status.textContent = text;
}

function hidePacked() {
  $("#context-result").hidden = true;
  if (archiveUrl) URL.revokeObjectURL(archiveUrl);
  archiveUrl = "";
  $("#context-download").removeAttribute("href");
}

/** The cell (or the picked files) changed: what the cell needs, what is picked, the packed context. */
function showContext(text, summary) {
  lastSummary = summary;
  packContextOf(text, summary, ++contextGeneration).catch((error) => {
    $("#context").hidden = false;
    hidePacked();
    contextStatus("error", `✗ ${error.message}`);
  });
}

async function packContextOf(text, summary, generation) {
  const section = $("#context");
  if (!summary || !STEPS[summary.step]?.builds) {
    section.hidden = true;
    return;
  }
  const core = await loadBuildCore();
  if (generation !== contextGeneration) return; // a newer cell is shown
  const needed = core.contextFiles(text, options());
  section.hidden = needed.length === 0;
  if (!needed.length) return;
  const matched = needed.map((path) => [path, pickedFor(path)]);
  $("#context-needed tbody").innerHTML = matched
    .map(([path, file]) => `<tr data-path="${escapeHtml(path)}"><td><code>${escapeHtml(path)}</code></td>`
      + `<td>${file ? `<span class="badge good">picked</span> ${escapeHtml(file.webkitRelativePath || file.name)} · ${bytes(file.size)}` : '<span class="badge bad">not picked</span>'}</td></tr>`)
    .join("");
  if (!matched.some(([, file]) => file)) {
    hidePacked();
    contextStatus("", `Pick the ${needed.length === 1 ? "file" : `${needed.length} files`} above to pack the build context.`);
    return;
  }
  // What is picked goes to the core; a missing file is its message to show.
  const files = {};
  for (const [path, file] of matched) if (file) files[path] = await bytesOf(file);
  if (generation !== contextGeneration) return;
  let packed;
  try {
    packed = core.packContext(text, files, options());
  } catch (error) {
    hidePacked();
    contextStatus("error", `✗ ${error.message}`);
    return;
  }
  hidePacked();
  archiveUrl = URL.createObjectURL(new Blob([packed.archive], { type: "application/gzip" }));
  const download = $("#context-download");
  download.href = archiveUrl;
  download.download = `${packed.checksum}.tar.gz`;
  download.textContent = `Download ${packed.checksum.slice(0, 12)}….tar.gz`;
  $("#context-checksum").textContent = packed.checksum;
  $("#context-size").textContent = `${bytes(packed.archive.length)}, ${packed.files.length} files`;
  $("#context-packed tbody").innerHTML = packed.files
    .map(([path, size]) => `<tr><td><code>${escapeHtml(path)}</code></td><td class="number">${size}</td></tr>`)
    .join("");
  $("#context-dockerfile").textContent = packed.dockerfile;
  $("#context-result").hidden = false;
  contextStatus("ok", "✓ Packed here, not uploaded: the checksum is the one JupyterLab and the CLI give for the same files.");
}

// ---------------------------------------------------------------- the cluster

function setBusy(busy) {
  const valid = state.objects.length > 0;
  $("#check").disabled = busy || !valid;
  $("#run").disabled = busy || !valid;
  $("#stop").disabled = !busy;
  editor.readOnly = busy;
  namespaceInput.disabled = busy;
  for (const element of [...form.elements, ...document.querySelectorAll("#steps button, #example")]) element.disabled = busy;
}

function banner(tone, html) {
  const element = $("#outcome");
  element.hidden = false;
  element.className = `banner ${tone}`;
  element.innerHTML = html;
}

const objectList = (objects) => objects.map((o) => `${escapeHtml(o.kind)} <code>${escapeHtml(o.name)}</code>`).join(", ");

let started = 0;
function log(event) {
  const item = document.createElement("li");
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const { event: name, kind, name: object, ...rest } = event;
  const detail = Object.values(rest).filter((v) => v !== null && v !== "" && v !== true).join(" · ");
  item.textContent = `+${seconds} s  ${name}${kind ? ` ${kind} ${object}` : ""}${detail ? `: ${detail}` : ""}`;
  $("#log").append(item);
}

function onEvent(event) {
  log(event);
  const id = key(event.kind, event.name);
  switch (event.event) {
    case "checked": state.checks.set(id, { error: event.error }); break;
    case "created": state.statuses.set(id, { state: "created", tone: "live" }); break;
    case "status": {
      const tone = { succeeded: "good", failed: "bad" }[event.outcome] ?? "live";
      state.statuses.set(id, { state: event.state, detail: event.message, tone });
      break;
    }
    // Why, in the core's words (the rule of the table, or the interruption).
    case "deleted": state.statuses.set(id, { state: "deleted", detail: event.reason, tone: "delete" }); break;
    case "kept": state.statuses.set(id, { state: "kept", tone: "keep" }); break;
    case "restored": state.statuses.set(id, { state: "restored", detail: event.reason, tone: "keep" }); break;
    case "remains": state.statuses.set(id, { state: "not deleted", detail: event.why, tone: "bad" }); break;
  }
  drawTable();
}

async function check() {
  state.checks.clear();
  $("#log").replaceChildren();
  started = performance.now();
  setBusy(true);
  banner("live", "Asking the cluster to validate every object (dry run)…");
  try {
    const report = await apply(editor.value, { ...options(), server, dryRun: true }, onEvent);
    const accepted = report.outcome === "succeeded";
    banner(accepted ? "good" : "bad", `${accepted ? "✓" : "✗"} ${escapeHtml(report.message.replace(/^./, (c) => c.toUpperCase()))}.`);
  } catch (error) {
    banner("bad", `✗ ${escapeHtml(error.message)}`);
  } finally {
    setBusy(false);
  }
}

async function run() {
  // A new run id for every run: the objects are rendered again with it.
  state.runId = parse(editor.value).runId;
  state.checks.clear();
  state.statuses.clear();
  update();
  $("#log").replaceChildren();
  $("#events").open = true;
  started = performance.now();
  const stop = new AbortController();
  state.running = stop;
  setBusy(true);
  banner("live", `Running ${escapeHtml(state.runId)}… Stop deletes everything the run created.`);
  try {
    const report = await apply(editor.value, { ...options(), server, signal: stop.signal }, onEvent);
    const took = `${((performance.now() - started) / 1000).toFixed(1)} s`;
    if (report.outcome === "interrupted") {
      const { deleted, remaining } = report.cleanup;
      const left = remaining.length
        ? ` Not confirmed gone: ${remaining.map(([o, why]) => `${escapeHtml(o.kind)} <code>${escapeHtml(o.name)}</code> (${escapeHtml(why)})`).join(", ")}.`
        : " Nothing of the run is left.";
      banner("stopped", `■ Stopped after ${took}: deleted ${deleted.length} object(s)${deleted.length ? `: ${objectList(deleted)}` : ""}.${left}`);
      for (const object of deleted) {
        const id = key(object.kind, object.name);
        if (state.statuses.get(id)?.state !== "deleted") state.statuses.set(id, { state: "deleted", tone: "delete" });
      }
      drawTable();
    } else {
      const created = (e) => report.created.some((c) => c.kind === e.kind && c.name === e.name);
      const kept = report.plan.filter((e) => e.action === "keep" && created(e));
      const deleted = report.plan.filter((e) => e.action === "delete" && created(e));
      const good = report.outcome === "succeeded";
      banner(good ? "good" : "bad",
        `${good ? "✓ The run succeeded" : `✗ The run failed in ${escapeHtml(report.phase)}`} after ${took}${report.message ? `: ${escapeHtml(report.message.replace(/\.$/, ""))}` : ""}.`
        + (kept.length ? ` Kept: ${objectList(kept)}.` : "") + (deleted.length ? ` Deleted: ${objectList(deleted)}.` : ""));
    }
  } catch (error) {
    banner("bad", `✗ ${escapeHtml(error.message)}`);
  } finally {
    state.running = null;
    setBusy(false);
  }
}

function interrupt() {
  if (!state.running) return;
  banner("stopped", "Stopping: deleting everything the run created…");
  $("#stop").disabled = true;
  state.running.abort();
}

async function connect() {
  const element = $("#cluster");
  try {
    const response = await fetch(`${server}/version`, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const version = await response.json();
    element.textContent = `Kubernetes ${version.gitVersion} at ${server}`;
    element.className = "good-text";
  } catch (error) {
    element.innerHTML = `No Kubernetes API at <code>${escapeHtml(server)}</code> (${escapeHtml(error.message)}): serve this page with <code>kubectl proxy --www=www --www-prefix=/www/</code>.`;
    element.className = "bad-text";
  }
}

// ---------------------------------------------------------------- steps and examples

async function loadExample(file) {
  if (state.drafts[file] === undefined) {
    const response = await fetch(`cells/${file}`);
    if (!response.ok) throw new Error(`cells/${file}: HTTP ${response.status}`);
    state.drafts[file] = await response.text();
  }
  editor.value = state.drafts[file];
  state.checks.clear();
  state.statuses.clear();
  update();
}

/** Shows a step's tab (and loads its first example when `load`). */
function selectStep(step, load = true) {
  state.step = step;
  for (const button of document.querySelectorAll("#steps button")) button.setAttribute("aria-pressed", String(button.dataset.step === step));
  $("#step-about").textContent = STEPS[step].about;
  const select = $("#example");
  const current = select.value;
  select.innerHTML = STEPS[step].examples.map(([file, label]) => `<option value="${file}">${label}</option>`).join("");
  select.hidden = STEPS[step].examples.length < 2;
  if (!load && STEPS[step].examples.some(([file]) => file === current)) select.value = current;
  if (load) return loadExample(select.value);
}

// ---------------------------------------------------------------- start

async function main() {
  await init();
  state.runId = params.get("runId") || "";
  document.querySelectorAll("#steps button").forEach((button) =>
    button.addEventListener("click", () => selectStep(button.dataset.step).catch((e) => banner("bad", escapeHtml(e.message)))));
  $("#example").addEventListener("change", (e) => loadExample(e.target.value).catch((err) => banner("bad", escapeHtml(err.message))));
  let timer;
  editor.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(edited, 150);
  });
  form.addEventListener("change", (e) => writeForm(e.target.name));
  form.addEventListener("submit", (e) => e.preventDefault());
  namespaceInput.addEventListener("change", () => {
    state.checks.clear();
    update();
  });
  $("#parse").addEventListener("click", (e) => {
    const link = e.target.closest("a[data-line]");
    if (!link) return;
    e.preventDefault();
    goTo(Number(link.dataset.line), Number(link.dataset.column));
  });
  $("#check").addEventListener("click", check);
  $("#run").addEventListener("click", run);
  $("#stop").addEventListener("click", interrupt);
  $("#context-pick").addEventListener("change", (e) => pick(e.target.files));
  $("#context-folder").addEventListener("change", (e) => pick(e.target.files));
  $("#context-forget").addEventListener("click", forgetPicked);
  addEventListener("beforeunload", (e) => {
    // Leaving does not stop the run: its objects would stay (kaptain sweep cleans them).
    if (state.running) e.preventDefault();
  });
  connect();
  const step = params.get("step");
  await selectStep(STEPS[step] ? step : "train");
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  banner("bad", `The page could not start: ${escapeHtml(error.message)}`);
  console.error(error);
});
