// Two notebook servers of one namespace on one origin, as a Kubeflow profile serves them: the
// browser's storage, locks and channels are shared, the cluster namespace too. A run started on
// server a is a's: b's page does not list it (until its user asks for every server's runs), does
// not follow or apply it, and b's kernel interrupt does not touch it; a's interrupt cleans it up.
import type { Page } from '@playwright/test';
import {
  expect,
  expectRunGone,
  kernelStatus,
  openNotebook,
  openPanel,
  runIdOf,
  runObjectRefs,
  startCell,
  test,
  trainCell,
  waitForObject,
  waitForState
} from './fixtures';

test('a run of server a is not server b’s to show, follow or interrupt', async ({ page, tmpPath, baseURL }, testInfo) => {
  test.skip(!/\/a\/?$/.test(baseURL ?? ''), "runs on server a, with server b of the same origin beside it");
  await openNotebook(page, tmpPath, 'neighbour.ipynb', [trainCell({ delay: 60, model: 'e2e/neighbour' })]);
  await startCell(page, 0);
  const runId = await runIdOf(page, 0);
  await waitForObject(page, 0, 'Job');
  await waitForState(page, 0, /^running$/);

  // Server b in another tab of the same browser: same origin, its own base URL.
  const serverB = baseURL!.replace(/\/a\/?$/, '/b/');
  const creates: string[] = [];
  page.context().on('request', request => {
    if (request.method() === 'POST' && request.url().startsWith(`${serverB}kube/`) && !request.url().includes('dryRun')) {
      creates.push(request.url());
    }
  });
  const b: Page = await page.context().newPage();
  await b.goto(`${serverB}lab`);
  await expect(b.locator('.jp-LabShell')).toBeVisible({ timeout: 60_000 });
  const panel = await openPanel(b);
  await panel.locator('[data-action="refresh"]').first().click();
  await expect(panel.locator('.kaptain-panel-empty, .kaptain-panel-run').first()).toBeVisible({ timeout: 30_000 });
  await expect(panel.locator(`.kaptain-panel-run[data-run-id="${runId}"]`)).toHaveCount(0);
  await panel.locator('input[name="all-servers"]').check();
  const listed = panel.locator(`.kaptain-panel-run[data-run-id="${runId}"]`);
  await expect(listed).toBeVisible({ timeout: 30_000 });
  await expect(listed).toContainText(/server notebook\.[a-z0-9-]+\.a/);
  // b's ledger holds none of a's runs; b's page applied nothing of it.
  const ledgers = await b.evaluate(() =>
    Object.fromEntries(Object.keys(localStorage).filter(k => k.startsWith('kaptain:runs:')).map(k => [k, localStorage.getItem(k) ?? '']))
  );
  const own = (path: string) => Object.entries(ledgers).find(([key]) => key.endsWith(path))?.[1] ?? '';
  expect(own(new URL(baseURL!.replace(/\/?$/, '/')).pathname), "a's ledger").toContain(runId);
  expect(own(new URL(serverB).pathname), "b's ledger").not.toContain(runId);
  expect(creates, "server b's page sent no create").toEqual([]);
  // b's kernel interrupt (b has a notebook of the same name) is not a's.
  await b.evaluate(async () => {
    const app = (window as any).jupyterapp;
    // With its kernel named, so that JupyterLab does not ask which to start.
    const kernelspec = { name: 'python3', display_name: 'Python 3 (ipykernel)', language: 'python' };
    const empty = { cells: [], metadata: { kernelspec }, nbformat: 4, nbformat_minor: 5 };
    await app.serviceManager.contents.save('neighbour.ipynb', { type: 'notebook', format: 'json', content: empty });
    await app.commands.execute('docmanager:open', { path: 'neighbour.ipynb', factory: 'Notebook' });
  });
  await expect.poll(() => kernelStatus(b), { timeout: 60_000 }).toBe('idle');
  await b.evaluate(() => (window as any).jupyterapp.commands.execute('notebook:interrupt-kernel'));
  await b.waitForTimeout(3_000);
  expect(runObjectRefs(runId).some(o => o.startsWith('Job/')), "a's run lives on").toBe(true);
  await b.close();

  expect(await page.notebook.clickToolbarItem('interrupt')).toBeTruthy();
  await waitForState(page, 0, /^interrupted$/, 60_000);
  await expectRunGone(runId);
  testInfo.annotations.push({ type: 'server b', description: serverB });
});
