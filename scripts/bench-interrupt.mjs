// Interrupt of a live run with the wasm core in Node straight against `kubectl proxy`, the
// baseline for the extension's figure through jupyter-server-proxy (scripts/bench-extension).
// A train run (build Job live, the simulator holding it for 60 s) is aborted; timed from the
// abort to the last DELETE the core sent (fetch wrapped) and to a clean cluster (the run's
// kinds listed by label every 25 ms). Env: KAPTAIN_PROXY (the kubectl proxy's URL),
// KAPTAIN_NAMESPACE (with the source Secrets), ROUNDS (5).
import { readFile } from 'node:fs/promises';
import initWasm, { apply } from '../pkg/kaptain.js';

const server = process.env.KAPTAIN_PROXY;
const namespace = process.env.KAPTAIN_NAMESPACE;
const rounds = Number(process.env.ROUNDS ?? 5);
if (!server || !namespace) throw new Error('KAPTAIN_PROXY and KAPTAIN_NAMESPACE must be set');
await initWasm({ module_or_path: await readFile(new URL('../pkg/kaptain_bg.wasm', import.meta.url)) });

const deletes = [];
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  if ((init?.method ?? input?.method) === 'DELETE') deletes.push(performance.now());
  return realFetch(input, init);
};

const cell = model => `%%kaptain train
model:
  id: ${model}
  framework: tensorflow
  main_file: trainer.py
  image_name: registry.example.com/${model}
  base_image: tensorflow/tensorflow:2.5.0
  labels:
    kaptain-sim/delay-seconds: "60"
`;
async function remaining(runId) {
  const selector = encodeURIComponent(`kaptain.io/run-id=${runId}`);
  const paths = [`api/v1/namespaces/${namespace}/secrets`, `api/v1/namespaces/${namespace}/pods`,
    `apis/batch/v1/namespaces/${namespace}/jobs`, `apis/kubeflow.org/v1/namespaces/${namespace}/tfjobs`];
  const counts = await Promise.all(paths.map(async p => {
    const response = await realFetch(`${server}/${p}?labelSelector=${selector}`);
    if (!response.ok) throw new Error(`${p}: ${response.status}`);
    return (await response.json()).items.length;
  }));
  return counts.reduce((a, b) => a + b, 0);
}
const median = values => {
  const s = [...values].sort((a, b) => a - b), m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const toFirstDelete = [], toLastDelete = [], toClean = [];
for (let round = 0; round < rounds; round++) {
  const runId = `bi${Date.now().toString(36).slice(-6)}${round}`;
  const stop = new AbortController();
  let live;
  const running = new Promise(resolve => (live = resolve));
  const report = apply(cell(`bench/node${round}`), { server, namespace, runId, signal: stop.signal }, event => {
    if (event.event === 'status' && event.kind === 'Job') live();
  });
  await running;
  deletes.length = 0;
  const aborted = performance.now();
  stop.abort();
  let clean = 0;
  while (performance.now() - aborted < 60_000) {
    if ((await remaining(runId)) === 0) { clean = performance.now(); break; }
    await new Promise(resolve => setTimeout(resolve, 25));
  }
  const outcome = (await report).outcome;
  if (outcome !== 'interrupted' || !clean || !deletes.length) throw new Error(`round ${round}: ${outcome}, clean ${clean}`);
  toFirstDelete.push(Math.min(...deletes) - aborted);
  toLastDelete.push(Math.max(...deletes) - aborted);
  toClean.push(clean - aborted);
}
const show = values => `median ${median(values).toFixed(0)} ms (${values.length} rounds: ${values.map(v => v.toFixed(0)).join(', ')})`;
console.log(`BENCH interrupt -> first DELETE sent (wasm in Node, kubectl proxy only): ${show(toFirstDelete)}`);
console.log(`BENCH interrupt -> last DELETE sent (wasm in Node, kubectl proxy only): ${show(toLastDelete)}`);
console.log(`BENCH interrupt -> clean cluster (wasm in Node, kubectl proxy only): ${show(toClean)}`);
