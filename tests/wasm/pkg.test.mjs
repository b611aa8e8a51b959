// The built wasm package (pkg/, scripts/build-wasm) end to end through its JS API, loaded the
// way the JupyterLab extension and the demo page load it: the web target's default init, here
// with the wasm bytes read from disk. Run: node --test tests/wasm/
//
// With KAPTAIN_CLI=/path/to/kaptain (the native CLI), render and plan are also compared with
// the CLI's output for every example cell.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
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
