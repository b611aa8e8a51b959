// Figures for BENCHMARKS.md, printed as `BENCH name: value` lines (scripts/bench-extension):
//   activation: the wasm core's fetch + instantiate in JupyterLab (the core's own Performance
//     API measure), each round in a new browser context, so with an empty HTTP cache;
//   interrupt: a train run interrupted from the toolbar while its build Job is live, timed from
//     the pointerdown on the page (a capture listener) to the first and the last DELETE the
//     core started (Resource Timing: fetches whose URL carries delete options) and to a clean
//     cluster (every kind the run had, listed by its label every 25 ms from the test process
//     through a kubectl proxy of its own, KAPTAIN_BENCH_PROXY, as scripts/bench-interrupt.mjs
//     does), the page's requests going through jupyter-server-proxy and kubectl proxy;
//   upload: a build cell whose context holds 10 MiB of incompressible bytes, its upload timed
//     by Resource Timing (the PUT of build-contexts/<checksum>.tar.gz from the fetch to its
//     end, and split into the wait for a connection and the request itself), from the page through the Jupyter server's S3 route to the control plane's S3
//     server (config.force_rebuild, so that every round uploads).
import { randomBytes } from 'crypto';

import {
  NAMESPACE,
  TOKEN,
  expect,
  openNotebook,
  runIdOf,
  startCell,
  test,
  trainCell,
  waitForObject,
  waitForState
} from '../tests/fixtures';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const WASM_LOAD_MEASURE = 'kaptain-wasm-load'; // src/core.ts

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const report = (name: string, values: number[], unit: string): void => {
  const shown = values.map(v => v.toFixed(0)).join(', ');
  console.log(`BENCH ${name}: median ${median(values).toFixed(0)} ${unit} (${values.length} rounds: ${shown})`);
};

test('activation: fetching and instantiating the wasm core', async ({ browser, baseURL }) => {
  const load: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const context = await browser.newContext();
    await context.request.get(`${baseURL}/lab?token=${encodeURIComponent(TOKEN)}`);
    const page = await context.newPage();
    await page.goto(`${baseURL}/lab`);
    // The runs panel is the first user of the core: opening it loads the wasm.
    await page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="kaptain-runs-panel"]').click();
    await page.waitForFunction(name => performance.getEntriesByName(name).length > 0, WASM_LOAD_MEASURE, {
      timeout: 60_000
    });
    const figures = await page.evaluate(name => {
      const measure = performance.getEntriesByName(name)[0];
      const wasm = (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).find(r =>
        r.name.endsWith('.wasm')
      );
      return { load: measure.duration, transfer: wasm?.transferSize ?? 0, decoded: wasm?.decodedBodySize ?? 0 };
    }, WASM_LOAD_MEASURE);
    load.push(figures.load);
    if (round === 0) {
      console.log(`BENCH wasm transfer: ${figures.transfer} B over the wire for ${figures.decoded} B`);
    }
    await context.close();
  }
  report('activation (wasm fetch + instantiate, empty cache)', load, 'ms');
});

/** The run's objects of the kinds a train run creates, straight from a kubectl proxy. */
async function remaining(runId: string): Promise<number> {
  const proxy = process.env.KAPTAIN_BENCH_PROXY;
  expect(proxy, 'KAPTAIN_BENCH_PROXY names a kubectl proxy (scripts/bench-extension)').toBeTruthy();
  const selector = encodeURIComponent(`kaptain.io/run-id=${runId}`);
  const paths = [
    `api/v1/namespaces/${NAMESPACE}/secrets`,
    `api/v1/namespaces/${NAMESPACE}/pods`,
    `apis/batch/v1/namespaces/${NAMESPACE}/jobs`,
    `apis/kubeflow.org/v1/namespaces/${NAMESPACE}/tfjobs`
  ];
  const counts = await Promise.all(
    paths.map(async p => {
      const response = await fetch(`${proxy}/${p}?labelSelector=${selector}`);
      expect(response.ok).toBeTruthy();
      return ((await response.json()) as { items: unknown[] }).items.length;
    })
  );
  return counts.reduce((a, b) => a + b, 0);
}

test('interrupt: to the last DELETE and to a clean cluster', async ({ page, tmpPath }) => {
  const toFirstDelete: number[] = [];
  const toLastDelete: number[] = [];
  const toClean: number[] = [];
  let requests = 0;
  for (let round = 0; round < ROUNDS; round++) {
    await openNotebook(page, tmpPath, `bench-${round}.ipynb`, [trainCell({ delay: 60, model: `bench/m${round}` })]);
    await startCell(page, 0);
    const runId = await runIdOf(page, 0);
    await waitForObject(page, 0, 'Job');
    await waitForState(page, 0, /^running$/);
    expect(await remaining(runId)).toBeGreaterThan(0);

    // Wall-clock times on the page's side, so Playwright's own latency to click is not counted.
    await page.evaluate(() => {
      const w = window as any;
      w.kaptainBenchClick = 0;
      performance.clearResourceTimings();
      // JupyterLab's toolbar buttons act on mousedown: the pointerdown is the user's moment.
      document.addEventListener(
        'pointerdown',
        () => (w.kaptainBenchClick = performance.timeOrigin + performance.now()),
        { capture: true, once: true }
      );
    });
    expect(await page.notebook.clickToolbarItem('interrupt')).toBeTruthy();
    let clean = 0;
    for (const started = Date.now(); Date.now() - started < 60_000; ) {
      if ((await remaining(runId)) === 0) {
        clean = Date.now();
        break;
      }
      await new Promise(resolve => setTimeout(resolve, 25));
    }
    expect(clean, 'the run is gone within 60 s').toBeGreaterThan(0);
    await waitForState(page, 0, /^interrupted$/);
    const { clicked, deletes } = await page.evaluate(() => ({
      clicked: (window as any).kaptainBenchClick as number,
      // The client sends delete options in the query (kube/client.rs), lists never carry them.
      deletes: (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
        .filter(e => e.name.includes('/kube/') && e.name.includes('propagationPolicy='))
        .map(e => performance.timeOrigin + e.startTime)
    }));
    expect(clicked, 'the click was seen').toBeGreaterThan(0);
    expect(deletes.length, 'the page sent DELETEs').toBeGreaterThan(0);
    toFirstDelete.push(Math.min(...deletes) - clicked);
    toLastDelete.push(Math.max(...deletes) - clicked);
    toClean.push(clean - clicked);
    requests = deletes.length;
    await page.notebook.close(true);
  }
  console.log(`BENCH interrupt DELETE requests per run: ${requests}`);
  report('interrupt -> first DELETE sent (jupyter-server-proxy + kubectl proxy)', toFirstDelete, 'ms');
  report('interrupt -> last DELETE sent (jupyter-server-proxy + kubectl proxy)', toLastDelete, 'ms');
  report('interrupt -> clean cluster (jupyter-server-proxy + kubectl proxy)', toClean, 'ms');
});

test('upload: a 10 MiB build context through the Jupyter server S3 route', async ({ page, tmpPath }) => {
  test.setTimeout(600_000);
  const cell = (round: number) =>
    [
      '%%kaptain build',
      'model:',
      '  id: bench/upload',
      '  framework: tensorflow',
      '  main_file: trainer.py',
      '  extra_files: [data.bin]',
      '  image_name: registry.example.com/bench/upload',
      '  base_image: python:3.11-slim',
      '  labels:',
      '    kaptain-sim/delay-seconds: "1"',
      `    bench-round: "${round}"`,
      'config:',
      '  force_rebuild: true',
      ''
    ].join('\n');
  const data = randomBytes(10 * 1024 * 1024);
  expect(await page.contents.uploadContent(data.toString('base64'), 'base64', `${tmpPath}/data.bin`)).toBeTruthy();
  const cells = Array.from({ length: ROUNDS }, (_, round) => cell(round));
  await openNotebook(page, tmpPath, 'upload.ipynb', cells);
  const upload: number[] = [];
  const queued: number[] = [];
  const transfer: number[] = [];
  let bytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // The page's Resource Timing buffer holds 250 entries: emptied before each round.
    await page.evaluate(() => performance.clearResourceTimings());
    await startCell(page, round);
    await waitForState(page, round, /^succeeded$/, 120_000);
    const timing = await page.evaluate(() =>
      (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
        .filter(r => r.name.includes('/kaptain/s3/') && r.name.includes('build-contexts/'))
        // Queued: from the fetch to the request's start (a free connection: Chromium keeps six
        // per origin, and the run's watch and log stream hold some); then the transfer.
        .map(r => ({ duration: r.duration, queued: r.requestStart - r.startTime, transfer: r.responseEnd - r.requestStart }))
        .pop()
    );
    expect(timing).toBeTruthy();
    upload.push(timing!.duration);
    queued.push(timing!.queued);
    transfer.push(timing!.transfer);
    const text = (await page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').nth(round).textContent()) ?? '';
    bytes = Number(text.match(/\((\d+) bytes\)/)?.[1] ?? 0);
  }
  console.log(`BENCH upload context: ${bytes} B of tar.gz for 10 MiB of random bytes and trainer.py`);
  report('upload of the 10 MiB context (page -> Jupyter S3 route -> S3 server)', upload, 'ms');
  report('... of which queued for a connection', queued, 'ms');
  report('... of which request start to response end', transfer, 'ms');
});
