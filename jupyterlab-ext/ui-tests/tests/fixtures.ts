// What every end-to-end case shares: galata's test with the server's token, the cluster the
// cases check (listed by label with kubectl, never through the extension), notebooks with
// %%kaptain cells, and the DOM contract of the cell output and the panel.
import { expect, galata, IJupyterLabPageFixture, test as base } from '@jupyterlab/galata';
import type { APIRequestContext, Locator, Page } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export { expect, galata };

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the end-to-end tests with scripts/test-extension`);
  }
  return value;
}

export const TOKEN = process.env.KAPTAIN_JUPYTER_TOKEN ?? '';
export const NAMESPACE = process.env.KAPTAIN_NAMESPACE ?? 'kaptain-e2e';
export const ARTIFACTS =
  process.env.KAPTAIN_ARTIFACTS ?? path.resolve(__dirname, '..', '..', '..', 'artifacts', 'ui-tests');
export const KAPTAIN_CLI =
  process.env.KAPTAIN_CLI ?? path.resolve(__dirname, '..', '..', '..', 'target', 'debug', 'kaptain');

/** Every kind a run can create, with the group spelt out where two groups share a name. */
export const RUN_KINDS = [
  'secrets',
  'serviceaccounts',
  'jobs.batch',
  'pods',
  'tfjobs.kubeflow.org',
  'pytorchjobs.kubeflow.org',
  'experiments.kubeflow.org',
  'inferenceservices.serving.kubeflow.org',
  'inferenceservices.serving.kserve.io',
  'services.serving.knative.dev',
  'configurations.serving.knative.dev',
  'routes.serving.knative.dev',
  'revisions.serving.knative.dev'
].join(',');

export const MANAGED_BY = 'app.kubernetes.io/managed-by=kaptain';
export const RUN_ID_LABEL = 'kaptain.io/run-id';

export interface ClusterObject {
  kind: string;
  name: string;
  /** Set when the object is being deleted (finalizers pending). */
  deleting: boolean;
}

export function kubectl(args: string[]): string {
  return execFileSync(required('KUBECTL'), args, {
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: required('KUBECONFIG') },
    stdio: ['ignore', 'pipe', 'pipe']
  });
}

/** What the cluster holds for a label selector, over every kind a run can create. */
export function listObjects(selector: string, namespace = NAMESPACE): ClusterObject[] {
  const list = JSON.parse(kubectl(['get', RUN_KINDS, '-l', selector, '-n', namespace, '-o', 'json']));
  return (list.items as any[]).map(item => ({
    kind: item.kind,
    name: item.metadata.name,
    deleting: Boolean(item.metadata.deletionTimestamp)
  }));
}

/** The objects of one run (the run id as the cell output shows it). */
export function runObjects(runId: string, namespace = NAMESPACE): ClusterObject[] {
  return listObjects(`${RUN_ID_LABEL}=${runId}`, namespace);
}

export const describe = (objects: ClusterObject[]): string[] =>
  objects.map(o => `${o.kind}/${o.name}${o.deleting ? ' (deleting)' : ''}`).sort();

/** Waits until the run holds nothing in the cluster; fails listing what is left. */
export async function expectRunGone(runId: string, timeout = 30_000): Promise<void> {
  await expect
    .poll(() => describe(runObjects(runId)), {
      message: `objects of run ${runId} left in ${NAMESPACE}`,
      timeout
    })
    .toEqual([]);
}

/** A train cell the simulator (test double) follows: each object's outcome after `delay` s. */
export function trainCell(options: { delay: number; flags?: string; model?: string; outcome?: string }): string {
  const model = options.model ?? 'e2e/mnist';
  return [
    `%%kaptain train${options.flags ? ' ' + options.flags : ''}`,
    'model:',
    `  id: ${model}`,
    '  framework: tensorflow',
    '  main_file: trainer.py',
    `  image_name: registry.example.com/${model}`,
    '  base_image: tensorflow/tensorflow:2.5.0',
    '  labels:',
    `    kaptain-sim/outcome: ${options.outcome ?? 'Succeeded'}`,
    `    kaptain-sim/delay-seconds: "${options.delay}"`,
    ''
  ].join('\n');
}

/** nbformat 4 JSON: one code cell per source, a Python kernel. */
export function notebookJson(cells: string[]): string {
  return JSON.stringify(
    {
      cells: cells.map((source, i) => ({
        cell_type: 'code',
        execution_count: null,
        id: `kaptain-e2e-${i}`,
        metadata: {},
        outputs: [],
        source
      })),
      metadata: {
        kernelspec: { display_name: 'Python 3 (ipykernel)', language: 'python', name: 'python3' },
        language_info: { name: 'python' }
      },
      nbformat: 4,
      nbformat_minor: 5
    },
    null,
    1
  );
}

type Fixtures = {
  /** Requests from the test process, with the token (never through the page). */
  api: APIRequestContext;
  /** After each case: its kernels shut down, the page's browser storage kept as an artifact. */
  teardown: void;
};

export const test = base.extend<Fixtures>({
  // galata's fixtures (kernels, sessions, tmpPath) send their requests through `request`:
  // give it the token the server wants.
  request: async ({ playwright, baseURL }, use) => {
    const request = await playwright.request.newContext({
      baseURL,
      extraHTTPHeaders: TOKEN ? { Authorization: `token ${TOKEN}` } : {}
    });
    await use(request);
    await request.dispose();
  },
  api: async ({ request }, use) => {
    await use(request);
  },
  // galata's tracking of kernels and sessions intercepts their POST requests and parses every
  // answer as JSON, which breaks on an interrupt's empty 204: off, and `teardown` shuts the
  // kernels down instead.
  kernels: async ({}, use) => {
    await use(null);
  },
  sessions: async ({}, use) => {
    await use(null);
  },
  teardown: [
    async ({ page, request }, use, testInfo) => {
      await use();
      // The ledger and whatever else the extension keeps in the browser: the secret-value
      // check of scripts/test-extension reads it.
      const storage = await page
        .evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } }))
        .catch(() => '');
      if (storage) {
        const folder = path.join(ARTIFACTS, 'storage');
        fs.mkdirSync(folder, { recursive: true });
        fs.writeFileSync(path.join(folder, `${testInfo.testId}.json`), storage);
      }
      const sessions = await request.get('api/sessions');
      if (sessions.ok()) {
        for (const session of await sessions.json()) {
          await request.delete(`api/sessions/${session.id}`);
        }
      }
    },
    { auto: true }
  ],
  // The browser logs in as a user does, with the token once; the page then holds the login
  // cookie only, so the extension's own requests must authenticate themselves.
  context: async ({ context, baseURL }, use) => {
    if (TOKEN) {
      const response = await context.request.get(`${baseURL}/lab?token=${encodeURIComponent(TOKEN)}`);
      expect(response.ok(), `logging in with the token: ${response.status()}`).toBeTruthy();
    }
    await use(context);
  }
});

/** Writes a notebook into the test's folder in the server root and opens it. */
export async function openNotebook(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  name: string,
  cells: string[]
): Promise<string> {
  const file = `${tmpPath}/${name}`;
  expect(await page.contents.uploadContent(notebookJson(cells), 'text', file)).toBeTruthy();
  expect(await page.notebook.openByPath(file)).toBeTruthy();
  await page.notebook.activate(name);
  // The kernel must be up before a cell runs (the interrupt cases need it idle first).
  await expect.poll(() => kernelStatus(page), { timeout: 60_000, message: 'the kernel starts' }).toBe('idle');
  return file;
}

export async function kernelStatus(page: Page): Promise<string> {
  return page.evaluate(() => {
    const widget = (window as any).jupyterapp.shell.currentWidget;
    return widget?.sessionContext?.session?.kernel?.status ?? 'none';
  });
}

export async function kernelId(page: Page): Promise<string> {
  const id = await page.evaluate(() => {
    const widget = (window as any).jupyterapp.shell.currentWidget;
    return widget?.sessionContext?.session?.kernel?.id ?? '';
  });
  expect(id, 'the notebook has a kernel').not.toBe('');
  return id;
}

/** Runs cell `index` (the kernel's way, Ctrl+Enter) without waiting for it to end. */
export async function startCell(page: IJupyterLabPageFixture, index: number): Promise<void> {
  await page.notebook.selectCells(index);
  await page.keyboard.press('Control+Enter');
}

/** The run root of cell `index`'s output (DOM contract: .kaptain-run[data-run-id][data-state]). */
export function runOutput(page: Page, index: number): Locator {
  return page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell').nth(index).locator('.kaptain-run');
}

/** The run id cell `index` shows, once it shows one. */
export async function runIdOf(page: Page, index: number): Promise<string> {
  const run = runOutput(page, index);
  await expect(run).toHaveAttribute('data-run-id', /^[a-z][a-z0-9-]*$/, { timeout: 30_000 });
  return (await run.getAttribute('data-run-id'))!;
}

export async function waitForState(page: Page, index: number, states: RegExp, timeout = 60_000): Promise<string> {
  const run = runOutput(page, index);
  await expect(run).toHaveAttribute('data-state', states, { timeout });
  return (await run.getAttribute('data-state'))!;
}

/** Waits until the run's output shows an object of `kind` (so it exists in the cluster). */
export async function waitForObject(page: Page, index: number, kind: string, timeout = 30_000): Promise<void> {
  await expect(runOutput(page, index).locator(`.kaptain-object[data-kind="${kind}"]`).first()).toBeVisible({
    timeout
  });
}

export async function screenshot(target: Page | Locator, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await target.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

/** Opens the kaptain runs panel from the left sidebar. */
export async function openPanel(page: Page): Promise<Locator> {
  const panel = page.locator('#kaptain-runs-panel');
  if (!(await panel.isVisible())) {
    await page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="kaptain-runs-panel"]').click();
  }
  await expect(panel).toBeVisible();
  return panel;
}

/** Accepts a confirmation dialog if one comes up within `timeout`. */
export async function acceptDialogIfAny(page: Page, timeout = 2_000): Promise<void> {
  const accept = page.locator('.jp-Dialog .jp-mod-accept');
  try {
    await accept.waitFor({ state: 'visible', timeout });
  } catch {
    return;
  }
  await accept.click();
}
