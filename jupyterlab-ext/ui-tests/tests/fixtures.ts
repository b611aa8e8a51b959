// What every end-to-end case shares: galata's test with the server's token, the cluster the
// cases check (listed by label with kubectl, never through the extension), notebooks with
// %%kaptain cells, and the DOM contract of the cell output and the panel.
import { expect, galata, IJupyterLabPageFixture, test as base } from '@jupyterlab/galata';
import type { APIRequestContext, BrowserContext, Locator, Page } from '@playwright/test';
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

/**
 * What the cluster holds for a label selector, over every kind a run can create. Of the pods,
 * only a build Job's count (labelled with their Job's name by the Job controller): a training
 * job's pods carry the run's labels too, copied from the template by the training operator, but
 * they are the operator's, kept and removed with their job.
 */
export function listObjects(selector: string, namespace = NAMESPACE): ClusterObject[] {
  const list = JSON.parse(kubectl(['get', RUN_KINDS, '-l', selector, '-n', namespace, '-o', 'json']));
  const ours = (item: any) => item.kind !== 'Pod' || Boolean(item.metadata.labels?.['batch.kubernetes.io/job-name']);
  return (list.items as any[]).filter(ours).map(item => ({
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

type Options = {
  /**
   * The token the test process's requests carry (`Authorization: token ...`); the browser logs
   * in with it once when `tokenLogIn`. Default: KAPTAIN_JUPYTER_TOKEN. A deployment's suite
   * (deployed/) sets its own per server: a hub's API token, or none behind an ingress.
   */
  jupyterToken: string;
  /** Whether the browser logs in with `jupyterToken` (`/lab?token=`); a hub logs in its own way. */
  tokenLogIn: boolean;
};

type Fixtures = {
  /** Requests from the test process, with the token (never through the page). */
  api: APIRequestContext;
  /** After each case: its kernels shut down, the page's browser storage kept as an artifact. */
  teardown: void;
};

export const test = base.extend<Fixtures & Options>({
  jupyterToken: [TOKEN, { option: true }],
  tokenLogIn: [true, { option: true }],
  // galata's fixtures (kernels, sessions) and tmpPath below send their requests through
  // `request`: give it the token the server wants. Its base URL ends with a slash, so that a
  // relative path (`api/sessions`) stays under a server's base_url (/user/alice/).
  request: async ({ playwright, baseURL, jupyterToken, ignoreHTTPSErrors }, use) => {
    const options = { baseURL: baseURL?.replace(/\/?$/, '/'), ignoreHTTPSErrors };
    let request = await playwright.request.newContext({
      ...options,
      extraHTTPHeaders: jupyterToken ? { Authorization: `token ${jupyterToken}` } : {}
    });
    if (!jupyterToken) {
      // A server without a token (behind an ingress that authenticates, as Kubeflow's) still
      // checks XSRF on every request but a GET: take the _xsrf cookie its page sets and send it
      // back in X-XSRFToken, as JupyterLab does.
      expect((await request.get('lab')).ok(), 'the server page answers').toBeTruthy();
      const storageState = await request.storageState();
      const xsrf = storageState.cookies.find(cookie => cookie.name === '_xsrf');
      expect(xsrf, 'the _xsrf cookie of the server page').toBeTruthy();
      await request.dispose();
      request = await playwright.request.newContext({
        ...options,
        storageState,
        extraHTTPHeaders: { 'X-XSRFToken': decodeURIComponent(xsrf!.value) }
      });
    }
    await use(request);
    await request.dispose();
  },
  // galata's contents helper (page.contents, also behind page.notebook and page.filebrowser)
  // sends its requests with the browser's cookies and the page's token; a server without a
  // token wants the XSRF header too: the helper sends them through `request` instead.
  page: async ({ page, request, jupyterToken }, use) => {
    if (!jupyterToken) {
      (page.contents as unknown as { request: APIRequestContext }).request = request;
    }
    await use(page);
  },
  // The test's folder in the server root (galata's own joins its paths to the host's root,
  // which misses a server under a base_url). Named after the test, as galata's; kept after it
  // when serverFiles is on.
  tmpPath: async ({ request, serverFiles }, use, testInfo) => {
    const folder = path.basename(testInfo.outputDir).replace(/-retry\d+$/i, '');
    await deleteServerTree(request, folder);
    const created = await request.put(`api/contents/${encodeURIComponent(folder)}`, {
      data: { type: 'directory', format: 'json' }
    });
    expect(created.status(), `creating the test's folder ${folder}`).toBe(201);
    await use(folder);
    if (serverFiles === 'off' || (serverFiles === 'only-on-failure' && testInfo.status === testInfo.expectedStatus)) {
      await deleteServerTree(request, folder);
    }
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
  context: async ({ context, baseURL, jupyterToken, tokenLogIn }, use) => {
    if (jupyterToken && tokenLogIn) {
      const response = await context.request.get(`${baseURL}/lab?token=${encodeURIComponent(jupyterToken)}`);
      expect(response.ok(), `logging in with the token: ${response.status()}`).toBeTruthy();
    }
    await use(context);
  }
});

/** Deletes a file or folder of the server root through the Contents API, folders with what they hold. */
async function deleteServerTree(request: APIRequestContext, serverPath: string): Promise<void> {
  const url = `api/contents/${serverPath.split('/').map(encodeURIComponent).join('/')}`;
  const model = await request.get(`${url}?content=1`);
  if (model.status() === 404) {
    return;
  }
  expect(model.ok(), `reading ${serverPath}: ${model.status()}`).toBeTruthy();
  const { type, content } = await model.json();
  if (type === 'directory') {
    for (const item of content as { path: string }[]) {
      await deleteServerTree(request, item.path);
    }
  }
  const deleted = await request.delete(url);
  expect(deleted.status(), `deleting ${serverPath}`).toBe(204);
}

/** Writes a notebook into the test's folder in the server root and opens it. */
export async function openNotebook(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  name: string,
  cells: string[]
): Promise<string> {
  const file = `${tmpPath}/${name}`;
  // The main file of the cells' model, beside the notebook: build steps pack it (its text
  // names the notebook, so each test builds its own image and none reuses another's); written
  // once per folder (galata's upload refuses to overwrite).
  if (!(await page.contents.fileExists(`${tmpPath}/trainer.py`))) {
    expect(await page.contents.uploadContent(`print("training for ${file}")\n`, 'text', `${tmpPath}/trainer.py`)).toBeTruthy();
  }
  expect(await page.contents.uploadContent(notebookJson(cells), 'text', file)).toBeTruthy();
  // Opened by JupyterLab's own command, not galata's file-browser walk (its breadcrumb selectors
  // follow the newest JupyterLab and miss 4.2's; the e2e runs on both).
  await page.evaluate(
    path => (window as any).jupyterapp.commands.execute('docmanager:open', { path, factory: 'Notebook' }),
    file
  );
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

// ------------------------------------------------------------------ helpers of 05 and 06

/** Waits for a confirmation dialog whose accept button says `label`, and accepts it. */
export async function confirmDialog(page: Page, label: string, timeout = 10_000): Promise<void> {
  const accept = page.locator('.jp-Dialog .jp-mod-accept');
  await expect(accept).toBeVisible({ timeout });
  await expect(accept).toHaveText(label);
  await accept.click();
  await expect(page.locator('.jp-Dialog')).toHaveCount(0);
}

/** "Kind/name" of every object the cluster holds for the run, pods aside (they go with their Job). */
export function runObjectRefs(runId: string): string[] {
  return runObjects(runId)
    .filter(o => o.kind !== 'Pod')
    .map(o => `${o.kind}/${o.name}`)
    .sort();
}

/** A `DELETE` the page sent through /kube/ on a collection, by label selector. */
export interface CollectionDelete {
  /** The collection's path below /kube/, e.g. /api/v1/namespaces/ns/secrets. */
  path: string;
  selector: string;
}

/**
 * Records every DELETE by label selector that the pages of `context` send through /kube/
 * (the page, other tabs, workers). `of(runId)` gives those of one run's selector.
 */
export function recordCollectionDeletes(context: BrowserContext): { of(runId: string): CollectionDelete[] } {
  const seen: CollectionDelete[] = [];
  context.on('request', request => {
    if (request.method() !== 'DELETE') {
      return;
    }
    const url = new URL(request.url());
    const at = url.pathname.indexOf('/kube/');
    const selector = url.searchParams.get('labelSelector');
    if (at >= 0 && selector) {
      seen.push({ path: url.pathname.slice(at + '/kube'.length), selector });
    }
  });
  return {
    of: runId => seen.filter(d => d.selector.split(',').includes(`${RUN_ID_LABEL}=${runId}`))
  };
}

/** How many times each collection was sent a DELETE, by path. */
export function countByPath(deletes: CollectionDelete[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const d of deletes) {
    counts[d.path] = (counts[d.path] ?? 0) + 1;
  }
  return counts;
}

/** What cell `index`'s cleanup summary lists as deleted, as "Kind/name". */
export async function cleanupDeleted(page: Page, index: number): Promise<string[]> {
  const items = await runOutput(page, index).locator('.kaptain-cleanup-deleted').allTextContents();
  return items.map(text => text.trim().replace(/^deleted (\S+) (\S+)$/, '$1/$2')).sort();
}

/** The objects cell `index`'s output lists (its `.kaptain-object` rows), as "Kind/name". */
export async function outputObjects(page: Page, index: number): Promise<string[]> {
  return runOutput(page, index)
    .locator('.kaptain-object')
    .evaluateAll(rows => rows.map(row => `${(row as HTMLElement).dataset.kind}/${(row as HTMLElement).dataset.name}`))
    .then(refs => refs.sort());
}

/**
 * The values a Secret holds, as they could show up in text: each value base64-encoded (as in
 * `data`) and decoded, and inside a docker config the password and the auth (both encodings).
 */
export function secretNeedles(name: string, namespace = NAMESPACE): string[] {
  const secret = JSON.parse(kubectl(['get', 'secret', name, '-n', namespace, '-o', 'json']));
  const needles = new Set<string>();
  const add = (value: unknown) => {
    if (typeof value === 'string' && value.length >= 6) {
      needles.add(value);
      needles.add(Buffer.from(value).toString('base64').replace(/=+$/, ''));
    }
  };
  for (const encoded of Object.values<string>(secret.data ?? {})) {
    needles.add(encoded.replace(/=+$/, ''));
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    add(decoded);
    try {
      const config = JSON.parse(decoded);
      for (const auth of Object.values<any>(config.auths ?? {})) {
        add(auth.password);
        add(auth.auth);
        if (typeof auth.auth === 'string') {
          add(Buffer.from(auth.auth, 'base64').toString('utf8'));
        }
      }
    } catch {
      // Not a docker config.
    }
  }
  return [...needles];
}

/** The source Secrets scripts/test-extension seeds (their values must never show). */
export const SEEDED_SECRETS = ['kaptain-registry-credentials', 'kaptain-s3-credentials'];

/** Revisions of a Knative Service in the cluster: name -> traffic percent (the Route's status). */
export function revisionsInCluster(knativeService: string, namespace = NAMESPACE): Record<string, number> {
  const list = JSON.parse(
    kubectl([
      'get',
      'revisions.serving.knative.dev',
      '-n',
      namespace,
      '-l',
      `serving.knative.dev/service=${knativeService}`,
      '-o',
      'json'
    ])
  );
  let traffic: any[] = [];
  try {
    const route = JSON.parse(kubectl(['get', 'routes.serving.knative.dev', knativeService, '-n', namespace, '-o', 'json']));
    traffic = route.status?.traffic ?? [];
  } catch {
    // No Route yet.
  }
  const result: Record<string, number> = {};
  for (const item of list.items as any[]) {
    const name = item.metadata.name;
    result[name] = traffic.filter(t => t.revisionName === name).reduce((sum, t) => sum + (t.percent ?? 0), 0);
  }
  return result;
}

/** A deploy cell (the simulator, a test double, makes it ready after `delay` s). */
export function deployCell(options: { model: string; memory: string; delay?: number }): string {
  return [
    '%%kaptain deploy --replace',
    'model:',
    `  id: ${options.model}`,
    '  version: "1"',
    '  framework: tensorflow',
    '  framework_version: "2.5.0"',
    '  labels:',
    `    kaptain-sim/delay-seconds: "${options.delay ?? 1}"`,
    `model_uri: s3://kaptain/models/${options.model}/1`,
    'cpu: 1',
    `memory: ${options.memory}`,
    ''
  ].join('\n');
}
