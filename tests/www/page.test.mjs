// The demo page (www/) in Debian's Chromium, served by `kubectl proxy --www` on the same origin
// as the Kubernetes API of the local control plane (with the operator simulator, a test
// double, moving the objects' statuses). scripts/test-www sets the environment:
//   KAPTAIN_WWW_URL         the page (http://127.0.0.1:PORT/www/)
//   KAPTAIN_TEST_NAMESPACE  a namespace holding the source Secrets
//   KUBECTL, KUBECONFIG     to check what the cluster holds, by label
//   KAPTAIN_WWW_ARTIFACTS   where screenshots go (optional)
//   KAPTAIN_BIN             the native CLI the build context is compared with (default
//                           target/debug/kaptain, built with cargo when missing)
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";

const url = process.env.KAPTAIN_WWW_URL;
const namespace = process.env.KAPTAIN_TEST_NAMESPACE;
const artifacts = process.env.KAPTAIN_WWW_ARTIFACTS;
const skip = !(url && namespace) && "set KAPTAIN_WWW_URL and KAPTAIN_TEST_NAMESPACE (scripts/test-www does)";

const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run",
];
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
  const get = (kinds, selector) => execFileSync(process.env.KUBECTL || "kubectl", ["-n", namespace, "get", kinds, "-l", selector, "-o", "name"], {
    encoding: "utf8",
  });
  const selector = `kaptain.io/run-id=${runId}`;
  const out = get(KINDS, selector) + get("pods", `${selector},batch.kubernetes.io/job-name`);
  return out.split("\n").filter(Boolean).sort();
}

async function eventually(probe, check, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The example train cell, with the simulator's labels (outcome and delay) in the Model's labels. */
const trainExample = readFileSync(new URL("../../examples/cells/train.cell", import.meta.url), "utf8");
const simulated = (delaySeconds) =>
  trainExample.replace(
    "  requirements: requirements.txt\n",
    `  requirements: requirements.txt\n  labels:\n    kaptain-sim/outcome: Succeeded\n    kaptain-sim/delay-seconds: "${delaySeconds}"\n`,
  );

/** The example build cell: its Model names main_file trainer.py and requirements.txt. */
const buildExample = readFileSync(new URL("../../examples/cells/build.cell", import.meta.url), "utf8");
const root = fileURLToPath(new URL("../..", import.meta.url));

/** The native CLI, built when missing. */
function kaptainBin() {
  const bin = process.env.KAPTAIN_BIN || join(root, "target/debug/kaptain");
  if (!existsSync(bin)) execFileSync("cargo", ["build", "--locked", "--bin", "kaptain"], { cwd: root, stdio: "inherit" });
  return bin;
}

/**
 * `kaptain context CELL --dir DIR --out OUT` for the same files: the checksum (its last line),
 * the files with their sizes, and the archive's bytes.
 */
function nativeContext(cell, dir) {
  const scratch = mkdtempSync(join(tmpdir(), "kaptain-www-native-"));
  try {
    writeFileSync(join(scratch, "cell"), cell);
    const out = join(scratch, "context.tar.gz");
    const printed = execFileSync(kaptainBin(), ["context", join(scratch, "cell"), "--dir", dir, "--out", out], { encoding: "utf8" });
    const lines = printed.trim().split("\n");
    const files = lines.filter((line) => /^\s*\d+ {2}\S/.test(line)).map((line) => {
      const [, size, path] = /^\s*(\d+) {2}(.*)$/.exec(line);
      return [path, Number(size)];
    });
    return { checksum: lines.at(-1), files, archive: readFileSync(out) };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A directory holding the given files (path -> text). */
function filesDir(files) {
  const dir = mkdtempSync(join(tmpdir(), "kaptain-www-files-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const TRAINER = 'import tensorflow as tf\n\nprint("training MNIST", tf.__version__)\n';
const REQUIREMENTS = "numpy==1.26.4\npandas>=2\n";

describe("the demo page", { skip }, () => {
  let browser;
  let page;
  const errors = [];

  before(async () => {
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${url}?namespace=${encodeURIComponent(namespace)}`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 30000 });
    if (artifacts) mkdirSync(artifacts, { recursive: true });
  });

  after(async () => {
    await browser?.close();
  });

  /** Types a cell into the editor and waits for the page to parse it. */
  async function setCell(text) {
    await page.fill("#cell", text);
    // The page parses 150 ms after the last keystroke.
    await page.waitForTimeout(300);
  }

  /** The objects table: per row, its object and the text of each column. */
  const table = () =>
    page.$$eval("#objects tbody tr[data-object]", (rows) =>
      rows.map((row) => ({
        object: row.dataset.object,
        check: row.querySelector('[data-column="check"]').textContent.trim(),
        status: row.querySelector('[data-column="status"] .badge')?.textContent.trim() ?? "",
        succeeded: row.querySelector('[data-outcome="succeeded"] .badge').textContent.trim(),
        failed: row.querySelector('[data-outcome="failed"] .badge').textContent.trim(),
        interrupted: row.querySelector('[data-outcome="interrupted"] .badge').textContent.trim(),
      })),
    );

  test("the train example renders: highlighted manifests and the lifecycle of each object", async () => {
    assert.equal(await page.getAttribute("#steps button[data-step=train]", "aria-pressed"), "true");
    assert.equal(await page.inputValue("#cell"), trainExample);
    assert.match(await page.textContent("#parse"), /✓ train · Model dev\/mnist \(MNIST\) · TensorFlow · namespace kaptain-www-/);
    const yaml = await page.textContent("#manifests");
    const runId = await page.getAttribute("body", "data-run-id");
    for (const line of ["kind: TFJob", "kind: Job", "kind: Secret", `name: dev-mnist-${runId}`, `namespace: ${namespace}`]) {
      assert.ok(yaml.includes(line), `the manifests show ${line}`);
    }
    assert.ok(!/\n(data|stringData):/.test(yaml), "rendered Secrets carry no data");
    assert.ok((await page.$$("#manifests .y-k")).length > 20, "keys are highlighted");
    assert.ok((await page.$$("#manifests .y-n")).length > 0, "numbers are highlighted");
    assert.deepEqual(await table(), [
      { object: `Secret/dev-mnist-${runId}-registry`, check: "—", status: "", succeeded: "delete", failed: "delete", interrupted: "delete" },
      { object: `Secret/dev-mnist-${runId}-context`, check: "—", status: "", succeeded: "delete", failed: "delete", interrupted: "delete" },
      { object: `Job/dev-mnist-${runId}-build`, check: "—", status: "", succeeded: "delete", failed: "delete", interrupted: "delete" },
      { object: `TFJob/dev-mnist-${runId}`, check: "—", status: "", succeeded: "keep", failed: "keep", interrupted: "delete" },
    ]);
    if (artifacts) await page.screenshot({ path: `${artifacts}/render.png`, fullPage: true });
  });

  test("the form writes the cell; the cell fills the form", async () => {
    await page.fill('#form input[name="workers"]', "4");
    await page.press('#form input[name="workers"]', "Tab");
    await page.waitForFunction(() => document.querySelector("#cell").value.startsWith("%%kaptain train --workers 4 --gpus 1\n"));
    await page.check('#form input[name="switch"]');
    await page.waitForFunction(() => document.querySelector("#cell").value.startsWith("%%kaptain train --workers 4 --gpus 1 --force-cleanup\n"));
    const tfjob = (await table()).find((row) => row.object.startsWith("TFJob/"));
    assert.deepEqual([tfjob.succeeded, tfjob.failed], ["delete", "delete"], "force_cleanup: the TFJob goes on success and failure");
    await page.fill('#form input[name="model"]', "team/fraud");
    await page.press('#form input[name="model"]', "Tab");
    await page.waitForFunction(() => document.querySelector("#cell").value.includes("\n  id: team/fraud\n"));
    assert.match(await page.textContent("#manifests"), /kaptain\.io\/model-id: team-fraud/);
    await setCell(trainExample.replace("framework: tensorflow", "framework: pytorch"));
    assert.equal(await page.inputValue('#form select[name="framework"]'), "pytorch");
    assert.match(await page.textContent("#manifests"), /kind: PyTorchJob/);
  });

  test("a parse error is shown with its line and column, and nothing can run", async () => {
    await setCell(trainExample.replace("framework: tensorflow", "framework: tf2"));
    assert.equal(
      await page.textContent("#parse"),
      '✗ line 5, column 14: model.framework: "tf2" is not a supported framework; use tensorflow or pytorch',
    );
    assert.equal(await page.getAttribute("#parse a", "data-line"), "5");
    assert.ok(await page.isDisabled("#run"));
    assert.ok(await page.isDisabled("#check"));
    assert.equal(await page.textContent("#manifests"), "");
    if (artifacts) await page.screenshot({ path: `${artifacts}/parse-error.png` });
    await page.click("#parse a");
    const caret = await page.evaluate(() => document.querySelector("#cell").selectionStart);
    assert.equal(caret, trainExample.split("\n").slice(0, 4).join("\n").length + 1 + 13, "the link puts the caret on line 5, column 14");
  });

  test("Check validates every object with the cluster (dry run) and creates nothing", async () => {
    await setCell(simulated(1));
    const runId = await page.getAttribute("body", "data-run-id");
    await page.click("#check");
    await page.waitForSelector("#outcome.good, #outcome.bad", { timeout: 30000 });
    assert.equal(await page.textContent("#outcome"), "✓ The cluster accepts every object; nothing was created.");
    assert.deepEqual((await table()).map((row) => row.check), ["accepted", "accepted", "accepted", "accepted"]);
    assert.deepEqual(objectsOfRun(runId), []);
  });

  test("Run follows the train run to success; what the table says is kept is all that is left", async () => {
    await setCell(simulated(1));
    const started = Date.now();
    await page.click("#run");
    await page.waitForSelector("#outcome.good, #outcome.bad", { timeout: 60000 });
    const outcome = await page.textContent("#outcome");
    assert.match(outcome, /^✓ The run succeeded after [\d.]+ s/, outcome);
    const runId = await page.getAttribute("body", "data-run-id");
    const rows = await table();
    assert.equal(rows.length, 4);
    for (const row of rows) {
      assert.equal(row.status, { keep: "kept", delete: "deleted" }[row.succeeded], `${row.object}: as the table says for a success`);
    }
    assert.match(outcome, new RegExp(`Kept: TFJob dev-mnist-${runId}\\. Deleted: Job dev-mnist-${runId}-build, Secret`));
    const left = await eventually(() => objectsOfRun(runId), (names) => names.length === 1);
    assert.deepEqual(left, [`tfjob.kubeflow.org/dev-mnist-${runId}`], "the cluster holds only the TFJob");
    if (artifacts) await page.screenshot({ path: `${artifacts}/run-succeeded.png`, fullPage: true });
    // Leave the namespace as it was.
    execFileSync(process.env.KUBECTL || "kubectl", ["-n", namespace, "delete", "tfjobs.kubeflow.org", "-l", `kaptain.io/run-id=${runId}`, "--wait=false"]);
    console.log(`run to success: ${Date.now() - started} ms`);
  });

  test("Stop interrupts a live run and deletes everything it created", async () => {
    await setCell(simulated(60));
    await page.click("#run");
    const runId = await page.getAttribute("body", "data-run-id");
    // Wait until the run is live: its build Job (or more) exists in the cluster.
    await page.waitForFunction(() => document.querySelector('#objects tr[data-object^="Job/"] [data-column="status"] .badge'), null, { timeout: 30000 });
    assert.ok(objectsOfRun(runId).length > 0, "the run created objects");
    const stopped = Date.now();
    await page.click("#stop");
    await page.waitForSelector("#outcome.stopped:has-text('Nothing of the run is left')", { timeout: 60000 });
    const outcome = await page.textContent("#outcome");
    assert.match(outcome, /^■ Stopped after [\d.]+ s: deleted \d+ object\(s\): /, outcome);
    assert.deepEqual(objectsOfRun(runId), [], "zero objects of the run are left, the build's pods included");
    for (const row of await table()) {
      if (row.status) assert.equal(row.status, "deleted", `${row.object} is shown deleted`);
    }
    if (artifacts) await page.screenshot({ path: `${artifacts}/stopped.png`, fullPage: true });
    console.log(`stop to nothing left: ${Date.now() - stopped} ms`);
  });

  /** The Build context section: the needed paths and what is picked for each, the status. */
  const contextNeeded = () =>
    page.$$eval("#context-needed tbody tr", (rows) => rows.map((row) => [row.dataset.path, row.querySelector(".badge").textContent.trim()]));

  test("the build package loads only when a cell that builds is shown", async () => {
    const other = await browser.newPage();
    const requests = [];
    other.on("request", (request) => requests.push(new URL(request.url()).pathname));
    other.on("pageerror", (error) => errors.push(error.message));
    try {
      await other.goto(`${url}?namespace=${encodeURIComponent(namespace)}&step=deploy`);
      await other.waitForSelector("body[data-ready=true]", { timeout: 30000 });
      await other.waitForTimeout(500);
      assert.ok(await other.isHidden("#context"), "a deploy cell has no build context");
      assert.deepEqual(requests.filter((path) => path.includes("/pkg/build/")), [], "pkg/build is not loaded for a deploy cell");
      // The serving caveat, in the core's words, while the plan deletes the serving credentials.
      assert.match(await other.textContent("#caveat"), /scaled from zero.*keep_serving_credentials/);
      assert.ok(await other.isVisible("#caveat"));
      await other.check("input[name=switch]");
      await other.waitForSelector("#caveat", { state: "hidden", timeout: 10000 });
      await other.click("#steps button[data-step=build]");
      await other.waitForSelector("#context-needed tbody tr", { timeout: 30000 });
      assert.ok(requests.some((path) => path.endsWith("/pkg/build/kaptain_bg.wasm")), "pkg/build is loaded for a build cell");
    } finally {
      await other.close();
    }
  });

  test("the build context: the files a build cell needs, and a missing one named by the core", async () => {
    await page.click("#steps button[data-step=build]");
    await page.waitForFunction(() => document.querySelector("#cell").value.startsWith("%%kaptain build"));
    await page.waitForSelector("#context-needed tbody tr", { timeout: 30000 });
    assert.deepEqual(await contextNeeded(), [["requirements.txt", "not picked"], ["trainer.py", "not picked"]]);
    const note = (await page.textContent("#context-no-upload")).replace(/\s+/g, " ");
    assert.match(note, /packs the build context but does not upload it: it has no route to S3/);
    assert.match(note, /JupyterLab \(through the Jupyter server's S3 route\) or from the CLI \(kaptain apply --dir\)/);
    assert.match(note, /Run on this page creates the build objects without uploading the context/);
    assert.ok(await page.isHidden("#context-result"));

    const dir = filesDir({ "trainer.py": TRAINER });
    try {
      await page.setInputFiles("#context-pick", [join(dir, "trainer.py")]);
      await page.waitForSelector("#context-status.error", { timeout: 10000 });
      assert.equal(
        await page.textContent("#context-status"),
        '✗ model.requirements: "requirements.txt" was not found in the notebook\'s directory; put the file there or correct the path',
      );
      assert.deepEqual(await contextNeeded(), [["requirements.txt", "not picked"], ["trainer.py", "picked"]]);
      assert.ok(await page.isHidden("#context-result"), "nothing packed while a file is missing");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await page.click("#context-forget");
    await page.waitForFunction(() => !document.querySelector("#context-status.error"));
  });

  test("the build context packed in the page is the CLI's: same checksum, same tar.gz bytes", async () => {
    const dir = filesDir({ "trainer.py": TRAINER, "requirements.txt": REQUIREMENTS });
    try {
      await page.setInputFiles("#context-pick", [join(dir, "trainer.py"), join(dir, "requirements.txt")]);
      await page.waitForSelector("#context-result:not([hidden])", { timeout: 10000 });
      const native = nativeContext(await page.inputValue("#cell"), dir);
      assert.match(native.checksum, /^[0-9a-f]{64}$/);
      assert.equal(await page.textContent("#context-checksum"), native.checksum);
      assert.deepEqual(await contextNeeded(), [["requirements.txt", "picked"], ["trainer.py", "picked"]]);
      const packed = await page.$$eval("#context-packed tbody tr", (rows) =>
        rows.map((row) => [row.cells[0].textContent, Number(row.cells[1].textContent)]));
      assert.deepEqual(packed, native.files);
      assert.deepEqual(packed.map(([path]) => path), ["Dockerfile", "requirements.txt", "trainer.py"]);
      assert.match(await page.textContent("#context-size"), new RegExp(`\\b${native.archive.length} bytes`));
      const dockerfile = await page.textContent("#context-dockerfile");
      assert.match(dockerfile, /^FROM tensorflow\/tensorflow:2\.5\.0$/m);
      assert.ok(dockerfile.includes(`LABEL checksum=${native.checksum}`), dockerfile);
      if (artifacts) await page.screenshot({ path: `${artifacts}/build-context.png`, fullPage: true });

      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#context-download")]);
      assert.equal(download.suggestedFilename(), `${native.checksum}.tar.gz`);
      const downloaded = readFileSync(await download.path());
      assert.ok(downloaded.equals(native.archive), `the page's tar.gz (${downloaded.length} bytes) is the CLI's (${native.archive.length} bytes)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a picked folder matches the needed files by their path below it", async () => {
    await page.click("#context-forget");
    const cell = buildExample.replace("  requirements: requirements.txt\n", "  requirements: requirements.txt\n  extra_files:\n    - lib/util.py\n");
    await setCell(cell);
    await page.waitForFunction(() => document.querySelectorAll("#context-needed tbody tr").length === 3);
    const dir = filesDir({
      "trainer.py": TRAINER,
      "requirements.txt": REQUIREMENTS,
      "lib/util.py": "def helper():\n    return 42\n",
      "util.py": "# not this one: the cell names lib/util.py\n",
      "notes.md": "not needed\n",
    });
    try {
      await page.setInputFiles("#context-folder", dir);
      await page.waitForSelector("#context-result:not([hidden])", { timeout: 10000 });
      assert.deepEqual(await contextNeeded(), [["requirements.txt", "picked"], ["trainer.py", "picked"], ["lib/util.py", "picked"]]);
      const native = nativeContext(cell, dir);
      assert.equal(await page.textContent("#context-checksum"), native.checksum);
      const packed = await page.$$eval("#context-packed tbody tr", (rows) => rows.map((row) => row.cells[0].textContent));
      assert.deepEqual(packed, native.files.map(([path]) => path));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // A step that does not build has no build context.
    await page.click("#steps button[data-step=deploy]");
    await page.waitForFunction(() => document.querySelector("#cell").value.startsWith("%%kaptain deploy"));
    await page.waitForSelector("#context", { state: "hidden", timeout: 10000 });
  });

  test("no error on the page", () => {
    assert.deepEqual(errors, []);
  });
});
