#!/usr/bin/env node
// Render throughput of the wasm package under Node: loads pkg/ (scripts/build-wasm) as the
// JupyterLab extension does (web target, default init with the wasm bytes), then renders the
// example cells in examples/cells/ round-robin and prints cells per second.
//
//   node scripts/bench-wasm.mjs [rounds]      (default 500 rounds of all example cells)
//
// Each figure is the median of 5 timed runs after a warm-up of 50 rounds; the time is wall
// clock (performance.now) around the calls only, results included (JSON output comes back as
// plain JS objects built by serde-wasm-bindgen, YAML output as one string). A fixed run id is
// passed, so no randomness is drawn.
//
// With KAPTAIN_PROXY_URL (a kubectl proxy) and KAPTAIN_TEST_NAMESPACE, also the cluster calls
// through the browser transport (fetch): `runs` (one list per kind a run creates) and the
// `cleanup` of a run that has no objects (a delete by label and a confirming list per kind),
// each the median of 5 calls after one warm-up call, with the requests cleanup reports it sent.

import { readFileSync, readdirSync } from "node:fs";
import os from "node:os";
import { performance } from "node:perf_hooks";

const root = new URL("../", import.meta.url);
const pkg = new URL("pkg/", root);
const rounds = Number(process.argv[2] ?? 500);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error("usage: node scripts/bench-wasm.mjs [rounds]");
  process.exit(2);
}

const cellsDir = new URL("examples/cells/", root);
const cells = readdirSync(cellsDir)
  .filter((f) => f.endsWith(".cell"))
  .sort()
  .map((f) => ({ name: f.replace(/\.cell$/, ""), text: readFileSync(new URL(f, cellsDir), "utf8") }));

const loadBefore = os.loadavg();
const wasmBytes = readFileSync(new URL("kaptain_bg.wasm", pkg));
const t0 = performance.now();
const kaptain = await import(new URL("kaptain.js", pkg));
await kaptain.default({ module_or_path: wasmBytes });
const initMs = performance.now() - t0;

const options = { runId: "rbench1" };
const yamlOptions = { runId: "rbench1", format: "yaml" };

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Runs fn over every cell `rounds` times; returns cells per second (median of 5 runs). */
function measure(fn) {
  for (let r = 0; r < 50; r++) for (const c of cells) fn(c.text);
  const rates = [];
  for (let run = 0; run < 5; run++) {
    const start = performance.now();
    for (let r = 0; r < rounds; r++) for (const c of cells) fn(c.text);
    const seconds = (performance.now() - start) / 1000;
    rates.push((rounds * cells.length) / seconds);
  }
  return median(rates);
}

const objectsPerRound = cells.reduce((n, c) => n + kaptain.render(c.text, options).length, 0);
const results = [
  ["render (JSON objects)", measure((text) => kaptain.render(text, options))],
  ["render (YAML string)", measure((text) => kaptain.render(text, yamlOptions))],
  ["plan (interrupted)", measure((text) => kaptain.plan(text, "interrupted", options))],
  ["parse (summary)", measure((text) => kaptain.parse(text, options))],
];

const perCell = cells.map((c) => {
  const one = { text: c.text };
  const saved = cells.splice(0, cells.length, one);
  const rate = measure((text) => kaptain.render(text, options));
  cells.splice(0, cells.length, ...saved);
  return [c.name, rate];
});

console.log(`kaptain ${kaptain.version()} wasm (${wasmBytes.length} bytes) under Node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} x${os.cpus().length}`);
console.log(`load average before: ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} (other work on the machine skews the figures)`);
console.log(`init (compile + instantiate): ${initMs.toFixed(1)} ms`);
console.log(`${cells.length} example cells (${objectsPerRound} objects per round), ${rounds} rounds per run, median of 5 runs after 50 warm-up rounds`);
for (const [what, rate] of results) {
  console.log(`  ${what.padEnd(24)} ${Math.round(rate).toString().padStart(8)} cells/s  ${(1e6 / rate).toFixed(1).padStart(7)} µs/cell`);
}
console.log("render (JSON objects) per cell:");
for (const [name, rate] of perCell) {
  console.log(`  ${name.padEnd(24)} ${Math.round(rate).toString().padStart(8)} cells/s  ${(1e6 / rate).toFixed(1).padStart(7)} µs/cell`);
}

const proxy = process.env.KAPTAIN_PROXY_URL;
const namespace = process.env.KAPTAIN_TEST_NAMESPACE;
if (proxy && namespace) {
  const cluster = { server: proxy, namespace };
  /** Median wall time of 5 awaited calls of fn after one warm-up, in ms. */
  async function time(fn) {
    await fn();
    const times = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      await fn();
      times.push(performance.now() - start);
    }
    return median(times);
  }
  const requests = (await kaptain.cleanup("rbenchnone", cluster)).requests;
  console.log(`cluster calls through fetch and ${proxy} (namespace ${namespace}), median of 5 after 1 warm-up:`);
  console.log(`  runs                     ${(await time(() => kaptain.runs(cluster))).toFixed(1).padStart(8)} ms`);
  console.log(`  cleanup of an empty run  ${(await time(() => kaptain.cleanup("rbenchnone", cluster))).toFixed(1).padStart(8)} ms  (${requests} requests)`);
}
