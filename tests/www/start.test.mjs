// Smoke test of the README's main-job command (scripts/start) as a new user meets it: start
// it with nothing running, wait for it to print the JupyterLab URL, run the example notebook's
// TensorFlow train cell in Debian's Chromium until it succeeds, open the demo page, press
// Ctrl-C, and check that nothing it started is still running.
// Its own control plane on other ports, its own notebooks folder: it runs beside the cluster
// scripts/test started. KAPTAIN_START_SMOKE=1 enables it (scripts/test-www sets it).
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { chromium } from "playwright-core";

const root = new URL("../../", import.meta.url).pathname;
const skip = process.env.KAPTAIN_START_SMOKE !== "1" && "set KAPTAIN_START_SMOKE=1 (scripts/test-www does)";
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run",
];
const freePort = () =>
  Number(execFileSync("python3", ["-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"], { encoding: "utf8" }));
/** Processes that carry `marker` in their environment: everything scripts/start started, and
 * what those started in turn (JupyterLab, its kernels and kubectl proxy, the control plane). */
const processesWith = (marker) =>
  readdirSync("/proc").filter((pid) => /^\d+$/.test(pid) && Number(pid) !== process.pid).flatMap((pid) => {
    try {
      if (!readFileSync(`/proc/${pid}/environ`).includes(marker)) return [];
      return [`${pid} ${readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim()}`];
    } catch {
      return []; // gone meanwhile, or not ours to read
    }
  });

test("scripts/start serves JupyterLab and the demo page, runs the example, and Ctrl-C stops everything", { skip, timeout: 600_000 }, async () => {
  const notebooks = mkdtempSync(join(tmpdir(), "kaptain-start-"));
  const clusterData = join(root, "tests/cluster/.data-start-smoke");
  const env = { ...process.env, KAPTAIN_NOTEBOOKS: notebooks, KAPTAIN_JUPYTER_PORT: String(freePort()),
    KAPTAIN_WWW_PORT: String(freePort()), KAPTAIN_CLUSTER_DATA: clusterData, KAPTAIN_APISERVER_PORT: "24443",
    KAPTAIN_ETCD_PORT: "20379", KAPTAIN_ETCD_PEER_PORT: "20380", KAPTAIN_KCM_PORT: "24257",
    KAPTAIN_S3_PORT: "24900" };
  delete env.KUBECONFIG; // the main job starts its own control plane unless KUBECONFIG names one
  delete env.KUBECTL;
  const marker = `KAPTAIN_START_SMOKE_ID=${randomUUID()}`;
  env.KAPTAIN_START_SMOKE_ID = marker.split("=")[1];
  const start = spawn(join(root, "scripts/start"), [], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  start.stdout.on("data", (chunk) => (out += chunk));
  start.stderr.on("data", (chunk) => (out += chunk));
  const exited = new Promise((resolve) => start.on("exit", (code, signal) => resolve({ code, signal })));
  let browser;
  try {
    const deadline = Date.now() + 480_000;
    while (!/JupyterLab:\s+(\S+)/.test(out)) {
      assert.ok(Date.now() < deadline, `scripts/start never printed the JupyterLab URL:\n${out.slice(-3000)}`);
      assert.equal(start.exitCode, null, `scripts/start exited early:\n${out.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const labUrl = /JupyterLab:\s+(\S+)/.exec(out)[1];
    const wwwUrl = /demo page:\s+(\S+)/.exec(out)?.[1];
    assert.ok(wwwUrl, `no demo page URL in:\n${out}`);

    browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(labUrl);
    const cell = page.locator(".jp-NotebookPanel .jp-Cell").filter({ hasText: "%%kaptain train --workers 2" });
    await cell.waitFor({ timeout: 120_000 });
    // The kernel first (the example runs beside a Python kernel), then the cell.
    await page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").waitFor({ timeout: 120_000 }).catch(() => {});
    await cell.locator(".jp-InputArea-editor").click();
    await page.keyboard.press("Escape");
    await page.keyboard.press("Control+Enter");
    const run = cell.locator(".kaptain-run");
    await run.waitFor({ timeout: 60_000 });
    await page.waitForFunction((el) => /^(succeeded|failed|error)$/.test(el.getAttribute("data-state") || ""), await run.elementHandle(), { timeout: 120_000 });
    assert.equal(await run.getAttribute("data-state"), "succeeded", await run.innerText());
    assert.match(await cell.locator('.kaptain-object[data-kind="TFJob"]').getAttribute("data-fate"), /keep/);

    const demo = await browser.newPage();
    const response = await demo.goto(wwwUrl);
    assert.equal(response.status(), 200);
    await demo.locator("textarea").first().waitFor({ timeout: 30_000 });
    // What the check after Ctrl-C looks for is there while it runs (JupyterLab, a kernel, two
    // kubectl proxies, the control plane's four processes).
    const live = processesWith(marker).join("\n");
    for (const expected of ["jupyter-lab", "ipykernel", "kubectl proxy", "kube-apiserver"]) {
      assert.ok(live.includes(expected), `no ${expected} among the processes of scripts/start:\n${live}`);
    }
    // JupyterLab's way to the cluster is a unix socket, and no command line (which every account
    // on the machine can read) carries the Jupyter token or the S3 keys.
    assert.match(live, /kubectl proxy --unix-socket=/);
    const token = new URL(labUrl).searchParams.get("token");
    const s3 = Object.fromEntries(readFileSync(join(clusterData, "s3.env"), "utf8").trim().split("\n").map((l) => l.split("=")));
    for (const [what, value] of [["the Jupyter token", token], ["the S3 access key", s3.KAPTAIN_S3_ACCESS_KEY_ID], ["the S3 secret key", s3.KAPTAIN_S3_SECRET_ACCESS_KEY]]) {
      assert.ok(value && value.length >= 16, what);
      assert.ok(!live.includes(value), `${what} is on a command line:\n${live}`);
    }
  } finally {
    await browser?.close();
    start.kill("SIGINT");
    const { code } = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve({ code: "timeout" }), 120_000))]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const left = processesWith(marker);
    rmSync(notebooks, { recursive: true, force: true });
    assert.equal(code, 130, `scripts/start after Ctrl-C exited with ${code}:\n${out.slice(-2000)}`);
    assert.deepEqual(left, [], "processes scripts/start left running");
  }
});
