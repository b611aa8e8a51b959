// The built wasm package (pkg/, scripts/build-wasm) end to end through its JS API, loaded the
// way the JupyterLab extension and the demo page load it: the web target's default init, here
// with the wasm bytes read from disk. Run: node --test tests/wasm/
//
// With KAPTAIN_CLI=/path/to/kaptain (the native CLI), render and plan are also compared with
// the CLI's output for every example cell.

import http from "node:http";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { before, describe, test } from "node:test";

const root = new URL("../../", import.meta.url);
const pkg = new URL("pkg/", root);
const cellsDir = new URL("examples/cells/", root);
const cells = Object.fromEntries(
  readdirSync(cellsDir)
    .filter((f) => f.endsWith(".cell"))
    .map((f) => [f.replace(/\.cell$/, ""), readFileSync(new URL(f, cellsDir), "utf8")]),
);

let kaptain;
before(async () => {
  assert.ok(existsSync(new URL("kaptain_bg.wasm", pkg)), "pkg/ is built (npm run build:wasm)");
  kaptain = await import(new URL("kaptain.js", pkg));
  const exports = await kaptain.default({ module_or_path: readFileSync(new URL("kaptain_bg.wasm", pkg)) });
  assert.ok(exports.memory instanceof WebAssembly.Memory);
});

/** Asserts that fn throws a JS Error and returns its message. */
function thrown(fn) {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof Error, `an Error is thrown, not ${typeof error}: ${error}`);
    return error.message;
  }
  assert.fail("expected the call to throw");
}

function isPlain(value) {
  if (Array.isArray(value)) return value.every(isPlain);
  if (value === null || typeof value !== "object") return true;
  return Object.getPrototypeOf(value) === Object.prototype && Object.values(value).every(isPlain);
}

const heads = (objects) => objects.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.name}`);

describe("kaptain wasm package", () => {
  test("version is the crate's", () => {
    const cargo = readFileSync(new URL("Cargo.toml", root), "utf8");
    assert.equal(kaptain.version(), cargo.match(/^version = "(.+)"$/m)[1]);
  });

  test("render gives the objects of every example cell as plain objects", () => {
    const build = ["v1 Secret dev-mnist-r1-registry", "v1 Secret dev-mnist-r1-context", "batch/v1 Job dev-mnist-r1-build"];
    const expected = {
      build: [...build.slice(0, 2), "v1 Secret dev-mnist-r1-registry-ca", build[2]],
      train: [...build, "kubeflow.org/v1 TFJob dev-mnist-r1"],
      "train-pytorch": [
        "v1 Secret dev-mnist-torch-r1-registry",
        "v1 Secret dev-mnist-torch-r1-context",
        "batch/v1 Job dev-mnist-torch-r1-build",
        "kubeflow.org/v1 PyTorchJob dev-mnist-torch-r1",
      ],
      tune: [...build, "kubeflow.org/v1beta1 Experiment dev-mnist-r1"],
      deploy: [
        "v1 Secret dev-mnist-r1-serving",
        "v1 ServiceAccount dev-mnist-r1-serving",
        "serving.kubeflow.org/v1beta1 InferenceService dev-mnist",
      ],
      "deploy-kserve": [
        "v1 Secret dev-mnist-r1-serving",
        "v1 ServiceAccount dev-mnist-r1-serving",
        "serving.kserve.io/v1beta1 InferenceService dev-mnist",
      ],
    };
    assert.deepEqual(Object.keys(cells).sort(), Object.keys(expected).sort(), "every example cell is covered");
    for (const [name, cell] of Object.entries(cells)) {
      const objects = kaptain.render(cell, { runId: "r1" });
      assert.ok(isPlain(objects), `${name}: plain arrays and objects, no Maps`);
      assert.deepEqual(heads(objects), expected[name], name);
      for (const o of objects) {
        assert.equal(o.metadata.namespace, "default");
        assert.equal(o.metadata.labels["app.kubernetes.io/managed-by"], "kaptain");
        assert.equal(o.metadata.labels["kaptain.io/run-id"], "r1");
        assert.match(o.metadata.labels["kaptain.io/model-id"], /^dev-mnist(-torch)?$/);
        assert.equal(Object.keys(o)[0], "apiVersion", "apiVersion comes first, as people read manifests");
      }
    }
  });

  test("render takes options and a yaml format", () => {
    const objects = kaptain.render(cells.train, {
      runId: "r7k2m9q",
      namespace: "team-a",
      notebook: "work/mnist.ipynb",
      cellId: "c-42",
      env: { KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED: "600" },
    });
    const job = objects.find((o) => o.kind === "TFJob");
    assert.equal(job.metadata.name, "dev-mnist-r7k2m9q");
    assert.equal(job.metadata.namespace, "team-a");
    assert.deepEqual(
      [job.metadata.annotations["kaptain.io/notebook"], job.metadata.annotations["kaptain.io/cell-id"]],
      ["work/mnist.ipynb", "c-42"],
    );
    assert.equal(job.spec.runPolicy.ttlSecondsAfterFinished, 600);

    const yaml = kaptain.render(cells.train, { runId: "r1", format: "yaml" });
    assert.equal(typeof yaml, "string");
    assert.equal(yaml.match(/^---/gm).length, 4);
    assert.match(yaml, /^kind: TFJob$/m);
    assert.equal(kaptain.render(cells.train, { runId: "r1", format: "json" }).length, 4);
  });

  test("a new run id for every call that gives none", () => {
    const ids = new Set();
    for (let i = 0; i < 50; i++) {
      const [first] = kaptain.render(cells.deploy);
      const id = first.metadata.labels["kaptain.io/run-id"];
      assert.match(id, /^r[0-9a-z]{8}$/);
      ids.add(id);
    }
    assert.equal(ids.size, 50);
    const summary = kaptain.parse(cells.train);
    assert.match(summary.runId, /^r[0-9a-z]{8}$/);
    assert.deepEqual(summary.phases, ["build", "train"], "a train run builds first");
    // The id parse made is the one to pass on, so that render and plan name the same run.
    assert.equal(kaptain.render(cells.train, { runId: summary.runId })[3].metadata.labels["kaptain.io/run-id"], summary.runId);
  });

  test("errors are thrown as Error with the core's message", () => {
    const bad = "%%kaptain train\nmodel:\n  id: dev/mnist\n  framework: tensorflo\n  main_file: trainer.py\n";
    const expected =
      'line 4, column 14: model.framework: "tensorflo" is not a supported framework; use tensorflow or pytorch';
    assert.equal(thrown(() => kaptain.render(bad, { runId: "r1" })), expected);
    assert.equal(thrown(() => kaptain.parse(bad)), expected);
    assert.equal(thrown(() => kaptain.plan(bad, "succeeded")), expected);
    // A KaptainError: where and what, so that no page parses the message.
    let error;
    try {
      kaptain.parse(bad);
    } catch (caught) {
      error = caught;
    }
    assert.deepEqual(
      { line: error.line, column: error.column, field: error.field, fix: error.fix, detail: error.detail },
      { line: 4, column: 14, field: "model.framework", fix: "use tensorflow or pytorch", detail: expected.slice("line 4, column 14: ".length) },
    );
    assert.equal(
      thrown(() => kaptain.render("%%kaptain trian\n")),
      'line 1, column 11: step: "trian" is not a step; did you mean train?',
    );
    assert.equal(
      thrown(() => kaptain.render(cells.train, { env: { KAPTAIN_SDK_FORCE_CLEANUPP: "1" } })),
      "KAPTAIN_SDK_FORCE_CLEANUPP: is not a variable kaptain reads; did you mean KAPTAIN_SDK_FORCE_CLEANUP?",
    );
    assert.match(thrown(() => kaptain.render(cells.train, { runid: "r1" })), /^options: unknown field `runid`/);
    assert.match(thrown(() => kaptain.render(cells.train, { runId: "R1" })), /^runId: "R1" is not a valid run id; /);
    assert.match(thrown(() => kaptain.render(cells.train, { env: { KAPTAIN_SDK_FORCE_CLEANUP: true } })), /^options: invalid type/);
    assert.equal(
      thrown(() => kaptain.plan(cells.train, "done")),
      'outcome: "done" is not an outcome; use succeeded, failed, interrupted',
    );
    // After errors the module still works (no poisoned state, no panic).
    assert.equal(kaptain.render(cells.train, { runId: "r1" }).length, 4);
  });

  test("plan of a successful train keeps the TFJob and deletes the build", () => {
    const entries = kaptain.plan(cells.train, "succeeded", { runId: "r1" });
    assert.ok(isPlain(entries));
    assert.deepEqual(
      entries.map((e) => `${e.kind} ${e.name} ${e.action}`),
      ["TFJob dev-mnist-r1 keep", "Job dev-mnist-r1-build delete", "Secret dev-mnist-r1-registry delete", "Secret dev-mnist-r1-context delete"],
    );
    assert.deepEqual(Object.keys(entries[0]), ["apiVersion", "kind", "name", "action", "reason"]);
    assert.match(entries[0].reason, /^TFJob \/ PyTorchJob on success: /);

    const interrupted = kaptain.plan(cells.tune, "interrupted", { runId: "r1" });
    assert.ok(interrupted.every((e) => e.action === "delete"));
    const forced = kaptain.plan(cells.train, "succeeded", { runId: "r1", env: { KAPTAIN_SDK_FORCE_CLEANUP: "true" } });
    assert.equal(forced[0].action, "delete");
    // The serving caveat comes with the plan that deletes the serving credentials, in words.
    const caveats = (env) => kaptain.plan(cells.deploy, "succeeded", { runId: "r1", env }).flatMap((e) => (e.caveat ? [e.caveat] : []));
    assert.equal(caveats({}).length, 1);
    assert.match(caveats({})[0], /scaled from zero/);
    assert.deepEqual(caveats({ KAPTAIN_SDK_KEEP_SERVING_CREDENTIALS: "true" }), []);
  });

  test("policy is the lifecycle table, as JSON rows or Markdown", () => {
    const rows = kaptain.policy("json");
    assert.ok(isPlain(rows));
    assert.equal(rows.length, 5);
    assert.deepEqual(
      rows.map((r) => r.resource),
      ["build-objects", "training-job", "experiment", "serving-credentials", "inference-service"],
    );
    assert.deepEqual(rows[1].on_success, { rule: "delete_if", switch: "force_cleanup" });
    const markdown = kaptain.policy();
    assert.equal(markdown, kaptain.policy("markdown"));
    assert.equal(markdown.trimEnd().split("\n").length, 7);
    assert.match(markdown, /^\| resources \| on success \| on failure \| on cell interruption \|$/m);
  });

  test("parse summarises a valid cell", () => {
    assert.deepEqual(kaptain.parse(cells.deploy, { runId: "r9", namespace: "team-a" }), {
      step: "deploy",
      phases: ["deploy"],
      modelId: "dev/mnist",
      framework: "tensorflow",
      namespace: "team-a",
      runId: "r9",
      selector: "app.kubernetes.io/managed-by=kaptain,kaptain.io/run-id=r9",
      labels: {
        "app.kubernetes.io/managed-by": "kaptain",
        "kaptain.io/model-id": "dev-mnist",
        "kaptain.io/run-id": "r9",
        "kaptain.io/step": "deploy",
      },
    });
  });

  test("a namespace that is not one (a tampered ledger, a setting) is refused before any request", async () => {
    // A server that fails the test if anything reaches it.
    const requests = [];
    const server = http.createServer((request, response) => {
      requests.push(request.url);
      response.end("{}");
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${server.address().port}`;
    try {
      for (const namespace of ["../../api/v1/namespaces/kube-system/secrets", "team-a/secrets", "Team A"]) {
        for (const call of [
          () => kaptain.cleanup("r1", { server: url, namespace }),
          () => kaptain.runs({ server: url, namespace }),
          () => kaptain.objectYaml("Secret", "x", { server: url, namespace }),
          () => kaptain.sweep({ server: url, namespace, runIds: ["r1"] }),
        ]) {
          await assert.rejects(call, (error) => error.message === `namespace: ${JSON.stringify(namespace)} is not a namespace; a namespace is 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit`);
        }
      }
      assert.deepEqual(requests, []);
    } finally {
      server.close();
    }
  });

  test("a refusal on the way to the API is not reported as missing RBAC", async () => {
    // What the browser met behind every hub and ingress: kubectl proxy's host filter, a plain
    // "Forbidden"; and the kube route's own JSON when the server has no kubectl.
    const answers = [
      [403, "text/plain; charset=utf-8", "Forbidden\n"],
      [502, "application/json", JSON.stringify({ kind: "KubeProxyError", code: 502, reason: "KubectlNotFound", message: "the Jupyter server has no kubectl", fix: "the Jupyter server's administrator: install kubectl" })],
    ];
    const server = http.createServer((request, response) => {
      const [status, type, body] = answers[0];
      response.writeHead(status, { "Content-Type": type });
      response.end(body);
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${server.address().port}`;
    try {
      const refused = await kaptain.runs({ server: url, namespace: "team-a" }).then(() => null, (e) => e);
      assert.equal(refused.status, 403, "the status of the answer that refused");
      assert.equal(refused.reason, undefined, "no Kubernetes reason: the API server did not answer");
      const filtered = refused.message;
      assert.match(filtered, /^list [\w.]+ in "team-a": kubectl proxy answered 403, not the Kubernetes API: its filter refused the request/);
      assert.doesNotMatch(filtered, /cluster admin|Role/);
      answers.shift();
      const missing = await kaptain.runs({ server: url, namespace: "team-a" }).then(() => null, (e) => e.message);
      assert.match(missing, /the Jupyter server's kube route answered 502, not the Kubernetes API: the Jupyter server has no kubectl; the Jupyter server's administrator: install kubectl$/);
    } finally {
      server.close();
    }
  });

  test("with secretCopy a run's credential Secret is created through that route, and the page never reads its source", async () => {
    // A test double for the Jupyter server in front of the API (the real route, with the real
    // API server behind it, is in jupyterlab-ext/tests/test_server.py and the e2e build case):
    // it records every request and answers each copy as the route does when the source is
    // missing, then when it lacks the key.
    const requests = [];
    const copyAnswers = [
      [404, { kind: "Status", apiVersion: "v1", status: "Failure", message: 'secrets "kaptain-registry-credentials" not found', reason: "NotFound", details: { name: "kaptain-registry-credentials", kind: "secrets" }, code: 404 }],
      [422, { kind: "Status", apiVersion: "v1", status: "Failure", message: "has no key", reason: "Invalid", details: { name: "kaptain-registry-credentials", kind: "secrets", causes: [{ reason: "FieldValueRequired", field: "data[.dockerconfigjson]", message: "Required value" }] }, code: 422 }],
    ];
    const server = http.createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => (body += chunk));
      request.on("end", () => {
        requests.push({ method: request.method, url: request.url, headers: request.headers, body });
        const [status, answer] = request.url.startsWith("/copy/") ? copyAnswers[0] : [201, { metadata: { name: "created" } }];
        response.writeHead(status, { "Content-Type": "application/json" });
        response.end(JSON.stringify(answer));
      });
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${server.address().port}`;
    const options = { server: `${url}/kube`, secretCopy: `${url}/copy`, namespace: "team-a", runId: "sc1" };
    try {
      const refusal = await kaptain.apply(cells.train, options).then(() => null, (e) => e);
      const missing = refusal.message;
      assert.match(missing, /^Secret "kaptain-registry-credentials" in namespace "team-a" holding registry credentials does not exist; create it with `kubectl -n team-a create secret docker-registry kaptain-registry-credentials /);
      assert.match(refusal.fix, /^create it with `kubectl -n team-a create secret docker-registry /, "the fix comes apart from the message");
      const copies = requests.filter((r) => r.url.startsWith("/copy/"));
      assert.equal(copies.length, 1, JSON.stringify(requests.map((r) => `${r.method} ${r.url}`)));
      assert.equal(copies[0].method, "POST");
      assert.equal(copies[0].url, "/copy/api/v1/namespaces/team-a/secrets?&dryRun=All&fieldManager=kaptain");
      assert.equal(copies[0].headers["x-kaptain-copy-from"], "kaptain-registry-credentials");
      assert.equal(copies[0].headers["x-kaptain-copy-keys"], ".dockerconfigjson");
      const secret = JSON.parse(copies[0].body);
      assert.equal(secret.kind, "Secret");
      assert.equal(secret.data, undefined, "the page sends the copy without data");
      // Nothing read a Secret whole, and nothing was created before the refusal.
      assert.deepEqual(requests.filter((r) => /\/secrets\/[^?]/.test(r.url) || !r.url.includes("dryRun")), []);

      copyAnswers.shift();
      const noKey = await kaptain.apply(cells.train, options).then(() => null, (e) => e.message);
      assert.match(noKey, /^Secret "kaptain-registry-credentials" in namespace "team-a" has no key "\.dockerconfigjson"; create it with /);
      await assert.rejects(kaptain.apply(cells.train, { ...options, secretCopy: 7 }), /^Error: secretCopy: is not a URL; /);
    } finally {
      server.close();
    }
  });

  const cli = process.env.KAPTAIN_CLI;
  test("render and plan match the native CLI", { skip: !cli && "set KAPTAIN_CLI to the native binary" }, () => {
    for (const name of Object.keys(cells)) {
      const file = new URL(`${name}.cell`, cellsDir).pathname;
      const run = (...args) => JSON.parse(execFileSync(cli, [...args, file, "--run-id", "r1"], { encoding: "utf8" }));
      assert.deepEqual(kaptain.render(cells[name], { runId: "r1" }), run("render"), name);
      for (const outcome of ["succeeded", "failed", "interrupted"]) {
        assert.deepEqual(kaptain.plan(cells[name], outcome, { runId: "r1" }), run("plan", "--outcome", outcome), `${name} ${outcome}`);
      }
    }
    assert.deepEqual(kaptain.policy("json"), JSON.parse(execFileSync(cli, ["policy", "--format", "json"], { encoding: "utf8" })));
  });
});

// Against a real cluster through a real `kubectl proxy` (scripts/wasm-test starts one when
// KUBECONFIG and KUBECTL are set, and creates the namespace with the source Secrets). What is
// checked is what the cluster holds afterwards, listed by label with kubectl.
const proxy = process.env.KAPTAIN_PROXY_URL;
const testNamespace = process.env.KAPTAIN_TEST_NAMESPACE;
const noCluster = !(proxy && testNamespace) && "set KAPTAIN_PROXY_URL (a kubectl proxy) and KAPTAIN_TEST_NAMESPACE (scripts/wasm-test does, given KUBECONFIG and KUBECTL)";

describe("kaptain wasm package against a cluster", { skip: noCluster }, () => {
  const KINDS = [
    "secrets", "serviceaccounts", "jobs.batch", "tfjobs.kubeflow.org", "pytorchjobs.kubeflow.org",
    "experiments.kubeflow.org", "inferenceservices.serving.kubeflow.org", "inferenceservices.serving.kserve.io",
  ].join(",");

  /**
   * Every object of a run in the test namespace, as kubectl names them (kind.group/name), and the
   * build Job's pods. The training operator's pods carry the run's labels too (copied from the
   * template); they are the operator's, kept and removed with their job, so they do not count.
   */
  function objectsOfRun(runId) {
    const get = (kinds, selector) => execFileSync(process.env.KUBECTL || "kubectl", ["-n", testNamespace, "get", kinds, "-l", selector, "-o", "name"], {
      encoding: "utf8",
      env: process.env,
    });
    const selector = `kaptain.io/run-id=${runId}`;
    return (get(KINDS, selector) + get("pods", `${selector},batch.kubernetes.io/job-name`)).split("\n").filter(Boolean).sort();
  }

  /** Polls until check(await probe()) holds or time is up, and returns the last value. */
  async function eventually(probe, check, seconds = 30) {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const value = await probe();
      if (check(value) || Date.now() > deadline) return value;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  const trainCell = (delay, id = "browser") =>
    [
      "%%kaptain train",
      "model:",
      `  id: test/${id}`,
      "  framework: tensorflow",
      "  main_file: trainer.py",
      "  image_name: registry.example.com/test/model",
      "  base_image: base:1",
      "  labels:",
      "    kaptain-sim/outcome: Succeeded",
      `    kaptain-sim/delay-seconds: "${delay}"`,
      "config:",
      `  namespace: ${testNamespace}`,
      "",
    ].join("\n");

  const cluster = () => ({ server: proxy, namespace: testNamespace });
  const suffix = Math.random().toString(36).slice(2, 7);
  let succeeded; // the run id of (a)

  test("apply follows a train run to success and applies the lifecycle", async () => {
    const runId = `ws${suffix}`;
    const events = [];
    const report = await kaptain.apply(trainCell(1), { ...cluster(), runId }, (event) => events.push(event));
    assert.ok(isPlain(report), "the report is a plain object");
    assert.ok(events.every(isPlain), "events are plain objects");
    assert.equal(report.outcome, "succeeded", report.message);
    assert.equal(report.run_id, runId);
    assert.equal(report.phase, "train");
    assert.equal(report.cleanup, null);
    const kinds = new Set(events.map((e) => e.event));
    for (const kind of ["validated", "created", "status", "phase-ended", "deleted", "kept"]) {
      assert.ok(kinds.has(kind), `a ${kind} event among ${[...kinds]}`);
    }
    // The TFJob's last status is its outcome, said by the core (front ends do not read states).
    const tfjob = events.filter((e) => e.event === "status" && e.kind === "TFJob").at(-1);
    assert.equal(tfjob.outcome, "succeeded", JSON.stringify(tfjob));
    assert.ok(events.filter((e) => e.event === "status" && e.state === "Running").every((e) => e.outcome === null));
    assert.deepEqual(
      events.filter((e) => e.event === "created").map((e) => `${e.kind} ${e.name}`),
      report.created.map((o) => `${o.kind} ${o.name}`),
    );
    assert.deepEqual(
      events.filter((e) => e.event === "kept").map((e) => `${e.kind} ${e.name}`),
      [`TFJob test-browser-${runId}`],
    );
    const left = await eventually(() => objectsOfRun(runId), (names) => names.length === 1);
    assert.deepEqual(left, [`tfjob.kubeflow.org/test-browser-${runId}`], "only the TFJob is kept");
    succeeded = runId;
  });

  test("aborting the signal interrupts the run and deletes everything of it", async () => {
    const runId = `wi${suffix}`;
    const stop = new AbortController();
    const events = [];
    const started = Date.now();
    setTimeout(() => stop.abort(), 2000);
    const report = await kaptain.apply(trainCell(30), { ...cluster(), runId, signal: stop.signal }, (event) => events.push(event));
    assert.equal(report.outcome, "interrupted", report.message);
    assert.ok(Date.now() - started < 25000, "the run did not wait for the 30 s job");
    assert.ok(report.created.length > 0, "the run had created objects before the abort");
    assert.equal(report.cleanup.remaining.length, 0, JSON.stringify(report.cleanup.remaining));
    assert.ok(events.some((e) => e.event === "deleted"));
    // The cleanup confirmed everything gone (pods included) before resolving.
    assert.deepEqual(objectsOfRun(runId), []);
  });

  test("an interrupted run leaves no request behind: its watch is aborted", async () => {
    // The API server counts open watches; the run's own is the one on a single Job (scope "resource").
    // Read as the admin: the proxy acts as the namespace's user, who may not read /metrics.
    const openWatches = async () => {
      const metrics = execFileSync(process.env.KUBECTL || "kubectl", ["get", "--raw", "/metrics"], { encoding: "utf8", maxBuffer: 64 << 20 });
      const line = metrics.split("\n").find((l) =>
        l.startsWith("apiserver_longrunning_requests{") && l.includes('resource="jobs"') && l.includes('scope="resource"') && l.includes('verb="WATCH"'));
      return line ? Number(line.split(" ").pop()) : 0;
    };
    const before = await openWatches();
    const stop = new AbortController();
    const run = kaptain.apply(trainCell(30), { ...cluster(), runId: `wd${suffix}`, signal: stop.signal });
    const during = await eventually(openWatches, (n) => n > before, 10);
    assert.ok(during > before, "the run watches its build Job");
    stop.abort();
    assert.equal((await run).outcome, "interrupted");
    const after = await eventually(openWatches, (n) => n === before, 5);
    assert.equal(after, before, "the watch connection was closed");
  });

  test("a signal aborted before the call interrupts the run at once", async () => {
    const runId = `wa${suffix}`;
    const report = await kaptain.apply(trainCell(30), { ...cluster(), runId, signal: AbortSignal.abort() });
    assert.equal(report.outcome, "interrupted");
    assert.deepEqual(objectsOfRun(runId), []);
  });

  test("runs lists the run of the first test", async (t) => {
    if (!succeeded) return t.skip("the first test did not succeed");
    const listed = await kaptain.runs(cluster());
    assert.ok(isPlain(listed));
    const run = listed.find((r) => r.run_id === succeeded);
    assert.ok(run, `run ${succeeded} in ${JSON.stringify(listed.map((r) => r.run_id))}`);
    assert.equal(run.model_id, "test-browser");
    assert.equal(run.step, "train");
    assert.equal(run.status, "Succeeded");
    assert.deepEqual(run.objects.map((o) => `${o.kind} ${o.name}`), [`TFJob test-browser-${succeeded}`]);
    assert.ok(run.age_seconds >= 0 && run.age_seconds < 600, `age ${run.age_seconds}`);
  });

  test("cleanup deletes what the run kept", async (t) => {
    if (!succeeded) return t.skip("the first test did not succeed");
    const report = await kaptain.cleanup(succeeded, cluster());
    assert.ok(isPlain(report));
    assert.deepEqual(report.deleted, [{ kind: "TFJob", name: `test-browser-${succeeded}` }]);
    assert.deepEqual(report.remaining, []);
    assert.deepEqual(objectsOfRun(succeeded), []);
    assert.ok(!(await kaptain.runs(cluster())).some((r) => r.run_id === succeeded), "runs no longer lists it");
  });

  test("followed by polling when the watch is refused (Accept: text/event-stream gets 406) or off", async () => {
    for (const watch of ["event-stream", "poll"]) {
      const runId = `w${watch[0]}${suffix}`;
      const report = await kaptain.apply(trainCell(1), { ...cluster(), runId, watch });
      assert.equal(report.outcome, "succeeded", `${watch}: ${report.message}`);
      await kaptain.cleanup(runId, cluster());
      assert.deepEqual(objectsOfRun(runId), []);
    }
  });

  const www = process.env.KAPTAIN_WWW_URL;
  const chromedriver = process.env.CHROMEDRIVER || "/usr/bin/chromedriver";
  const noBrowser =
    (!www && "set KAPTAIN_WWW_URL (kubectl proxy --www of pkg/ and tests/wasm/: scripts/wasm-test does)") ||
    (!existsSync(chromedriver) && `no chromedriver at ${chromedriver} (Debian package chromium-driver)`);
  test("in headless Chromium too: a run succeeds and an aborted one leaves nothing", { skip: noBrowser }, async () => {
    // WebDriver over HTTP: chromedriver drives Debian's chromium with the flags of webdriver.json.
    const port = 20000 + Math.floor(Math.random() * 20000);
    const driver = spawn(chromedriver, [`--port=${port}`], { stdio: "ignore" });
    const webdriver = async (method, path, body) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: { "content-type": "application/json" },
        body: body && JSON.stringify(body),
      });
      const { value } = await response.json();
      if (value && value.error) throw new Error(`webdriver ${path}: ${value.error}: ${value.message}`);
      return value;
    };
    try {
      await eventually(() => webdriver("GET", "/status").then(() => true, () => false), (up) => up, 20);
      const options = JSON.parse(readFileSync(new URL("webdriver.json", import.meta.url), "utf8"));
      const session = await webdriver("POST", "/session", { capabilities: { alwaysMatch: options } });
      const at = `/session/${session.sessionId}`;
      try {
        await webdriver("POST", `${at}/timeouts`, { script: 120000 });
        await webdriver("POST", `${at}/url`, { url: new URL("tests/wasm/cluster.html", www).href });
        const title = await eventually(() => webdriver("GET", `${at}/title`), (t) => t === "ready", 30);
        assert.equal(title, "ready", "the page loaded the wasm package");
        const run = (runId, delay, abortAfter) =>
          webdriver("POST", `${at}/execute/async`, {
            script: "const done = arguments[arguments.length - 1]; window.run(...arguments).then(done);",
            args: [trainCell(delay, "chromium"), runId, abortAfter],
          });

        const ok = await run(`wc${suffix}`, 1, 0);
        assert.equal(ok.error, undefined);
        assert.equal(ok.report.outcome, "succeeded", ok.report.message);
        assert.ok(ok.events.includes("kept") && ok.events.includes("deleted"), ok.events.join(" "));
        const left = await eventually(() => objectsOfRun(`wc${suffix}`), (names) => names.length === 1);
        assert.deepEqual(left, [`tfjob.kubeflow.org/test-chromium-wc${suffix}`]);
        await kaptain.cleanup(`wc${suffix}`, cluster());

        const stopped = await run(`wk${suffix}`, 30, 2000);
        assert.equal(stopped.report.outcome, "interrupted", stopped.report.message);
        assert.deepEqual(objectsOfRun(`wk${suffix}`), []);
      } finally {
        await webdriver("DELETE", at).catch(() => {});
      }
    } finally {
      driver.kill();
    }
  });

  /** Creates objects through the proxy as they are, for a run some other page started. */
  async function create(object) {
    const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : ["", object.apiVersion];
    const plural = { Secret: "secrets", Job: "jobs" }[object.kind];
    const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const response = await fetch(`${proxy}${base}/namespaces/${testNamespace}/${plural}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(object),
    });
    assert.equal(response.status, 201, await response.text());
  }

  test("runs() tells notebook and cell; objectYaml hides Secret values; logs; deleteObject", async () => {
    const runId = `wy${suffix}`;
    const options = { ...cluster(), runId, follow: false, notebook: "work/panel.ipynb", cellId: "cell-7" };
    await kaptain.apply(trainCell(20, "yaml"), options);
    const run = (await kaptain.runs(cluster())).find((r) => r.run_id === runId);
    assert.equal(run.notebook, "work/panel.ipynb");
    assert.equal(run.cell_id, "cell-7");

    const yaml = await kaptain.objectYaml("Secret", `test-yaml-${runId}-registry`, cluster());
    assert.match(yaml, /^kind: Secret$/m);
    // Of a Secret only its metadata is read: no data, no key names.
    assert.doesNotMatch(yaml, /^data:|dockerconfigjson/m);
    assert.doesNotMatch(yaml, /seeded-registry-password|managedFields/);
    const job = await kaptain.objectYaml("TFJob", `test-yaml-${runId}`, cluster());
    assert.match(job, /^kind: TFJob$/m);
    await assert.rejects(kaptain.objectYaml("Secret", "kaptain-registry-credentials", cluster()),
      /^Error: Secret "kaptain-registry-credentials" in namespace ".+" is not kaptain's: it has no label app.kubernetes.io\/managed-by=kaptain; /);
    await assert.rejects(kaptain.objectYaml("Deployment", "x", cluster()), /^Error: kind: "Deployment" is not a kind kaptain shows or deletes; use one of InferenceService, /);
    await assert.rejects(kaptain.objectYaml("Job", "../secrets", cluster()), /^Error: name: "..\/secrets" is not an object name/);
    await assert.rejects(kaptain.objectYaml("Job", "no-such-job", cluster()), /^Error: Job "no-such-job" is not in namespace/);

    // The simulator (a test double for the kubelet's log endpoint) plays kaniko's log: its last
    // lines. The training operator's pods of the TFJob are the run's too; their containers print
    // nothing there, so they come with no lines and no error.
    const isBuild = (tail) => tail.pod.startsWith(`test-yaml-${runId}-build-`);
    const tails = await eventually(
      () => kaptain.logs(runId, { ...cluster(), tailLines: 5 }),
      (t) => t.some(isBuild) && t.filter(isBuild).every((x) => x.lines.length > 0),
    );
    assert.ok(isPlain(tails));
    for (const tail of tails.filter((t) => !isBuild(t))) {
      assert.match(tail.pod, new RegExp(`^test-yaml-${runId}-(chief|worker)-0$`), JSON.stringify(tail));
      assert.equal(tail.error, undefined, JSON.stringify(tail));
    }
    for (const tail of tails.filter(isBuild)) {
      assert.equal(tail.container, "kaniko");
      assert.equal(tail.error, undefined, JSON.stringify(tail));
      assert.ok(tail.lines.length <= 5, JSON.stringify(tail));
      for (const line of tail.lines) {
        assert.match(line, /^(INFO\[\d{4}\] |Successfully )/, JSON.stringify(tail));
      }
    }
    await assert.rejects(kaptain.logs(runId, { ...cluster(), tailLines: -1 }), /^Error: options: /);

    assert.deepEqual(await kaptain.deleteObject("Job", `test-yaml-${runId}-build`, cluster()), { kind: "Job", name: `test-yaml-${runId}-build` });
    assert.ok(!objectsOfRun(runId).includes(`job.batch/test-yaml-${runId}-build`));
    await assert.rejects(kaptain.deleteObject("Secret", "kaptain-s3-credentials", cluster()), /is not kaptain's/);
    await kaptain.cleanup(runId, cluster());
  });

  test("revisions and pruneRevisions after two deploys of the same model", async () => {
    const deployCell = (delay) =>
      [
        "%%kaptain deploy --replace",
        "model:",
        `  id: test/served-${suffix}`,
        "  framework: tensorflow",
        "  labels:",
        "    kaptain-sim/outcome: Succeeded",
        `    kaptain-sim/delay-seconds: "${delay}"`,
        "model_uri: s3://kaptain/models/m/1",
        "config:",
        `  namespace: ${testNamespace}`,
        "",
      ].join("\n");
    const isvc = `test-served-${suffix}`;
    const first = await kaptain.apply(deployCell(1), { ...cluster(), runId: `wr1${suffix}` });
    assert.equal(first.outcome, "succeeded", first.message);
    const one = await eventually(() => kaptain.revisions(isvc, cluster()), (r) => r.length === 1 && r[0].traffic_percent === 100);
    assert.deepEqual(one.map((r) => [r.name, r.traffic_percent, r.latest_ready, r.ready, r.service]),
      [[`${isvc}-predictor-default-00001`, 100, true, true, `${isvc}-predictor-default`]]);
    assert.ok(one[0].created > 1.7e9);

    const second = await kaptain.apply(deployCell(2), { ...cluster(), runId: `wr2${suffix}` });
    assert.equal(second.outcome, "succeeded", second.message);
    const two = await eventually(() => kaptain.revisions(isvc, cluster()), (r) => r.length === 2 && r[0].traffic_percent === 100);
    assert.ok(isPlain(two));
    assert.deepEqual(two.map((r) => [r.name.slice(-5), r.traffic_percent, r.latest_ready]), [["00002", 100, true], ["00001", 0, false]]);

    const pruned = await kaptain.pruneRevisions(isvc, cluster());
    assert.deepEqual(pruned, { deleted: [`${isvc}-predictor-default-00001`], kept: [`${isvc}-predictor-default-00002`] });
    assert.deepEqual((await kaptain.revisions(isvc, cluster())).map((r) => r.name), [`${isvc}-predictor-default-00002`]);
    assert.deepEqual(await kaptain.pruneRevisions(isvc, cluster()), { deleted: [], kept: [`${isvc}-predictor-default-00002`] });
    await assert.rejects(kaptain.revisions("no-such-model", cluster()), /^Error: InferenceService "no-such-model" is not in namespace/);

    // A sweep of the deploy run keeps its deployment.
    const [swept] = await kaptain.sweep({ ...cluster(), runIds: [`wr2${suffix}`] });
    assert.equal(swept.run_id, `wr2${suffix}`);
    assert.deepEqual(swept.deleted, []);
    assert.deepEqual(swept.kept.map((o) => o.kind), ["InferenceService"]);
    assert.deepEqual(await kaptain.deleteObject("InferenceService", isvc, cluster()), { kind: "InferenceService", name: isvc });
  });

  test("sweep removes the runs named in runIds (dry run first)", async () => {
    const runId = `wz${suffix}`;
    await kaptain.apply(trainCell(20, "swept"), { ...cluster(), runId, follow: false });
    const other = `wo${suffix}`;
    await kaptain.apply(trainCell(20, "other"), { ...cluster(), runId: other, follow: false });
    const dry = await kaptain.sweep({ ...cluster(), runIds: [runId], dryRun: true });
    assert.ok(isPlain(dry));
    assert.deepEqual(dry.map((r) => r.run_id), [runId]);
    assert.deepEqual(dry[0].deleted.map((o) => o.kind).sort(), ["Job", "Secret", "Secret", "TFJob"]);
    assert.deepEqual(dry[0].kept, []);
    assert.ok(objectsOfRun(runId).length >= 4, "a dry run deletes nothing");
    const swept = await kaptain.sweep({ ...cluster(), runIds: [runId] });
    const shape = (runs) => runs.map(({ run_id, deleted, kept }) => ({ run_id, deleted, kept }));
    assert.deepEqual(shape(swept), shape(dry));
    const left = await eventually(() => objectsOfRun(runId), (names) => names.length === 0);
    assert.deepEqual(left, []);
    assert.ok(objectsOfRun(other).length >= 4, "the other run is not touched");
    await kaptain.cleanup(other, cluster());
    await assert.rejects(kaptain.sweep(cluster()), /^Error: sweep: selects no run; pass olderThanSeconds, runIds or both$/);
    await assert.rejects(kaptain.sweep({ ...cluster(), runIds: ["R1"] }), /^Error: runIds\[0\]: "R1" is not a valid run id; /);
  });

  test("resume follows a run another page started: what exists counts, the rest is created", async () => {
    const runId = `wu${suffix}`;
    const cell = trainCell(1, "resumed");
    // The page that started it created the build objects, then was reloaded.
    for (const object of kaptain.render(cell, { runId }).filter((o) => o.kind !== "TFJob")) {
      if (object.type === "kubernetes.io/dockerconfigjson") object.data = { ".dockerconfigjson": btoa('{"auths":{}}') };
      await create(object);
    }
    const events = [];
    const report = await kaptain.apply(cell, { ...cluster(), runId, resume: true }, (event) => events.push(event));
    assert.equal(report.outcome, "succeeded", report.message);
    const created = events.filter((e) => e.event === "created");
    assert.deepEqual(created.map((e) => `${e.kind} ${e.resumed === true}`), ["Secret true", "Secret true", "Job true", "TFJob false"]);
    assert.ok(!("resumed" in created[3]), "a created event of a new object has the usual shape");
    const left = await eventually(() => objectsOfRun(runId), (names) => names.length === 1);
    assert.deepEqual(left, [`tfjob.kubeflow.org/test-resumed-${runId}`], "the plan was applied as usual");
    await kaptain.cleanup(runId, cluster());
    await assert.rejects(kaptain.apply(cell, { ...cluster(), runId, resume: true }), /^Error: run .+ has no objects left in namespace .+ to resume/);
    await assert.rejects(kaptain.apply(cell, { ...cluster(), resume: true }), /^Error: resume: needs runId/);

    // Interrupting a resumed run deletes everything of it.
    const stopped = `wv${suffix}`;
    await kaptain.apply(trainCell(30, "stopped"), { ...cluster(), runId: stopped, follow: false });
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 1500);
    const interrupted = await kaptain.apply(trainCell(30, "stopped"), { ...cluster(), runId: stopped, resume: true, signal: stop.signal });
    assert.equal(interrupted.outcome, "interrupted");
    assert.deepEqual(objectsOfRun(stopped), []);
  });

  test("a bad cell or bad options reject before anything is created", async () => {
    const runId = `wb${suffix}`;
    const bad = trainCell(1).replace("framework: tensorflow", "framework: tensorflo");
    await assert.rejects(kaptain.apply(bad, { ...cluster(), runId }), (error) => {
      assert.ok(error instanceof Error);
      assert.equal(error.message, 'line 4, column 14: model.framework: "tensorflo" is not a supported framework; use tensorflow or pytorch');
      return true;
    });
    await assert.rejects(kaptain.apply(trainCell(1), { namespace: testNamespace, runId }), /^Error: server: missing; /);
    await assert.rejects(kaptain.apply(trainCell(1), { ...cluster(), runId, format: "yaml" }), /^Error: options: unknown field `format`/);
    await assert.rejects(kaptain.apply(trainCell(1), { ...cluster(), runId, watch: "sse" }), /^Error: watch: "sse" is not a watch mode; use json, event-stream, poll$/);
    await assert.rejects(kaptain.apply(trainCell(1), { ...cluster(), runId, signal: "stop" }), /^Error: signal: is not an AbortSignal/);
    await assert.rejects(kaptain.cleanup("R1", cluster()), /^Error: runId: "R1" is not a valid run id; /);
    assert.deepEqual(objectsOfRun(runId), []);
  });

  test("dryRun validates every object with the cluster and creates nothing", async () => {
    const runId = `wv${suffix}`;
    const events = [];
    const report = await kaptain.apply(trainCell(1), { ...cluster(), runId, dryRun: true }, (event) => events.push(event));
    assert.equal(report.outcome, "succeeded", report.message);
    assert.deepEqual(report.created, []);
    assert.deepEqual(report.plan, []);
    const checked = events.filter((e) => e.event === "checked");
    assert.deepEqual(
      checked.map((e) => `${e.kind} ${e.error}`),
      ["Secret null", "Secret null", "Job null", "TFJob null"],
    );
    assert.ok(!events.some((e) => e.event === "created" || e.event === "validated"));
    // Refused by the API server (annotations over 256 KiB), each answer naming its object.
    const notebook = "x".repeat(300000);
    const refusedEvents = [];
    const refused = await kaptain.apply(trainCell(1), { ...cluster(), runId, notebook, dryRun: true }, (event) => refusedEvents.push(event));
    assert.equal(refused.outcome, "failed");
    assert.match(refused.message, /^the cluster refused 4 of 4 object\(s\); nothing was created$/);
    const errors = refusedEvents.filter((e) => e.event === "checked").map((e) => e.error);
    assert.ok(errors.every((e) => /is invalid: .*metadata\.annotations: Too long/.test(e)), errors.join("\n"));
    assert.match(errors[3], new RegExp(`TFJob.kubeflow.org "test-browser-${runId}"`));
    assert.deepEqual(objectsOfRun(runId), []);
  });

  test("a missing source Secret is reported before anything is created", async () => {
    const runId = `wm${suffix}`;
    const cell = trainCell(1) + "  registry_credentials_secret: no-such-secret\n";
    await assert.rejects(kaptain.apply(cell, { ...cluster(), runId }), /no-such-secret/);
    assert.deepEqual(objectsOfRun(runId), []);
  });
});
