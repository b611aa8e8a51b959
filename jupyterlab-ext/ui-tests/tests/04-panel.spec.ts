// The kaptain runs panel: (d) after a reload in the middle of a run the panel shows the run and
// cleans it up; a run's card names its notebook and cell, and its link makes the cell the
// active one; (e) a sweep deletes the sweepable objects of orphaned runs (their notebook is
// gone) and nothing of runs that are not orphans. Runs last: the sweep may take earlier cases'
// leftovers with it (galata deletes each case's notebooks, which orphans their runs).
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  acceptDialogIfAny,
  ARTIFACTS,
  deployCell,
  describe,
  expect,
  expectRunGone,
  KAPTAIN_CLI,
  NAMESPACE,
  openNotebook,
  openPanel,
  runIdOf,
  runObjects,
  screenshot,
  startCell,
  test,
  trainCell,
  waitForObject,
  waitForState
} from './fixtures';

test('(d) after a reload mid-run, the panel shows the run and cleans it up', async ({ page, tmpPath }) => {
  await openNotebook(page, tmpPath, 'reload.ipynb', [trainCell({ delay: 30 })]);
  await startCell(page, 0);
  const runId = await runIdOf(page, 0);
  await waitForObject(page, 0, 'Job');
  await waitForState(page, 0, /^running$/);

  // galata waits for the launcher after a reload; the notebook comes back instead.
  await page.reload({ waitForIsReady: false });

  const panel = await openPanel(page);
  const run = panel.locator(`.kaptain-panel-run[data-run-id="${runId}"]`);
  await expect(run).toBeVisible({ timeout: 30_000 });
  // The cell's step from the ledger, though mid-build the run's objects are the build's.
  await expect(run).toHaveAttribute('data-step', 'train');
  await expect(run.locator('.kaptain-panel-object[data-kind="Job"]')).toBeVisible();
  await screenshot(panel, 'panel-run-after-reload');
  // At the panel's default width: the notebook by its name (the whole path on hover), the cell
  // by its position, and the run's link to its cell.
  // `has` is looked for inside each section: a selector of its own, not `run` (rooted at the panel).
  const section = panel.locator('.kaptain-panel-notebook').filter({ has: page.locator(`.kaptain-panel-run[data-run-id="${runId}"]`) });
  await expect(section.locator('.kaptain-panel-notebook-name')).toHaveText('reload.ipynb');
  await expect(section.locator('.kaptain-panel-notebook-title')).toHaveAttribute('title', `${tmpPath}/reload.ipynb`);
  await expect(run.locator('.kaptain-panel-run-cell')).toHaveText('reload.ipynb · cell 1', { timeout: 30_000 });
  const nameFits = await section
    .locator('.kaptain-panel-notebook-name')
    .evaluate(name => name.getBoundingClientRect().right <= name.parentElement!.getBoundingClientRect().right);
  expect(nameFits, "the notebook's name is not cut").toBe(true);
  await page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').first().click();
  await run.locator('[data-action="open-cell"]').click();
  await expect(page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active')).toHaveCount(1);

  await run.locator('[data-action="cleanup"]').first().click();
  await acceptDialogIfAny(page, 5_000);
  await expectRunGone(runId);
  await expect(panel.locator('.kaptain-panel-error')).toHaveCount(0);
  // The panel no longer lists objects of it (the run itself may stay listed from the ledger).
  await panel.locator('[data-action="refresh"]').first().click();
  await expect(run.locator('.kaptain-panel-object')).toHaveCount(0, { timeout: 30_000 });
  await screenshot(panel, 'panel-after-cleanup');
});

/** The notebook JupyterLab shows in front, and its active cell's index. */
async function activeCell(page: IJupyterLabPageFixture): Promise<{ path: string; index: number }> {
  return page.evaluate(() => {
    const widget = (window as any).jupyterapp.shell.currentWidget;
    return { path: widget?.context?.path ?? '', index: widget?.content?.activeCellIndex ?? -1 };
  });
}

test("a run's card names its notebook and cell; its link opens the notebook and makes the cell active", async ({
  page,
  tmpPath
}) => {
  const name = 'links.ipynb';
  // A deploy cell: the simulator (a test double) serves it, so the run ends with or without the
  // real operators; a model of this case's own (a deployment outlives the case).
  const model = `e2e/links-${Math.random().toString(36).slice(2, 6)}`;
  const file = await openNotebook(page, tmpPath, name, [
    'print("before")',
    deployCell({ model, memory: '1Gi', delay: 0 }),
    'print("after")'
  ]);
  await startCell(page, 1);
  const runId = await runIdOf(page, 1);
  await waitForState(page, 1, /^succeeded$/);

  const panel = await openPanel(page);
  const run = panel.locator(`.kaptain-panel-run[data-run-id="${runId}"]`);
  const place = run.locator('.kaptain-panel-run-cell');
  // The notebook is open: its file name and the cell's position, counted from 1; the path and
  // the cell id (notebookJson's) on hover.
  await expect(place).toHaveText(`${name} · cell 2`, { timeout: 30_000 });
  await expect(place).toHaveAttribute('title', `${file}\ncell id kaptain-e2e-1`);
  const fits = await place.evaluate(node => node.scrollWidth <= node.clientWidth);
  expect(fits, 'the name and position are not cut at the default width').toBe(true);
  await screenshot(panel, 'panel-card-place');

  // Another cell active and another tab in front: the link brings the notebook to the front
  // and makes the run's cell the active one, in view.
  await page.notebook.selectCells(2);
  expect(await activeCell(page)).toEqual({ path: file, index: 2 });
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('launcher:create'));
  await expect.poll(() => activeCell(page).then(a => a.path)).toBe('');
  await place.click();
  await expect.poll(() => activeCell(page)).toEqual({ path: file, index: 1 });
  const active = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active');
  await expect(active).toHaveCount(1);
  await expect(active).toContainText('%%kaptain deploy');
  await expect(active).toBeInViewport();

  // Closed: the name alone (no position it cannot see); the link opens it again, at the cell.
  expect(await page.notebook.close(true)).toBeTruthy();
  await expect(place).toHaveText(name);
  await place.click();
  await expect.poll(() => activeCell(page), { timeout: 30_000 }).toEqual({ path: file, index: 1 });
  await expect(place).toHaveText(`${name} · cell 2`);

  // The cell deleted: the card says so, and the link says so too, rather than doing nothing.
  await page.notebook.selectCells(1);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('notebook:delete-cell'));
  await expect(place).toHaveText(`${name} · cell gone`);
  await place.click();
  await expect(panel.locator('.kaptain-panel-notice')).toContainText(
    `The cell this run came from is no longer in ${name}: it was deleted, or the notebook was replaced (cell id kaptain-e2e-1).`
  );
  await expect(panel.locator('.kaptain-panel-error')).toHaveCount(0);
  await screenshot(panel, 'panel-card-cell-gone');
});

function cliApply(cell: string, name: string): string {
  const file = path.join(ARTIFACTS, `${name}.cell`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(file, cell);
  try {
    const out = execFileSync(KAPTAIN_CLI, ['apply', file, '-n', NAMESPACE, '--wait'], {
      encoding: 'utf8',
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe']
    });
    const id = out.match(/^run ([a-z][a-z0-9-]*):/m);
    expect(id, `the CLI's run id in:\n${out}`).toBeTruthy();
    return id![1];
  } finally {
    fs.rmSync(file);
  }
}

test('(e) sweep from the panel deletes the orphans, not the runs still followed', async ({
  page,
  tmpPath
}) => {
  // A run of the CLI: no notebook, young; not an orphan, so not swept below.
  const kept = cliApply(trainCell({ delay: 1, model: 'e2e/cli' }), 'cli-run');
  // Runs from cells of a notebook that is deleted afterwards: orphans.
  const deploy = [
    '%%kaptain deploy --replace',
    'model:',
    '  id: e2e/served',
    '  version: "1"',
    '  framework: tensorflow',
    '  framework_version: "2.5.0"',
    '  labels:',
    '    kaptain-sim/delay-seconds: "1"',
    'model_uri: s3://kaptain/models/e2e/served/1',
    ''
  ].join('\n');
  const notebook = await openNotebook(page, tmpPath, 'orphans.ipynb', [
    trainCell({ delay: 1, model: 'e2e/orphan' }),
    deploy
  ]);
  await startCell(page, 0);
  const train = await runIdOf(page, 0);
  await waitForState(page, 0, /^succeeded$/);
  await startCell(page, 1);
  const served = await runIdOf(page, 1);
  await waitForState(page, 1, /^succeeded$/);
  expect(runObjects(train).map(o => o.kind)).toContain('TFJob');
  expect(runObjects(served).map(o => o.kind)).toContain('InferenceService');
  const servedBefore = describe(runObjects(served));

  expect(await page.notebook.close(true)).toBeTruthy();
  expect(await page.contents.deleteFile(notebook)).toBeTruthy();

  const panel = await openPanel(page);
  await panel.locator('[data-action="refresh"]').first().click();
  await expect(panel.locator(`.kaptain-panel-run[data-run-id="${train}"]`)).toBeVisible({ timeout: 30_000 });
  // The CLI's run is no notebook server's: shown when the user asks for every server's runs.
  await expect(panel.locator(`.kaptain-panel-run[data-run-id="${kept}"]`)).toHaveCount(0);
  await panel.locator('input[name="all-servers"]').check();
  await expect(panel.locator(`.kaptain-panel-run[data-run-id="${kept}"]`)).toBeVisible();
  await expect(panel.locator(`.kaptain-panel-run[data-run-id="${kept}"]`)).toContainText('not from a notebook server');
  await screenshot(panel, 'panel-before-sweep');
  await panel.locator('input[name="all-servers"]').uncheck();

  // Older than 1000 hours: no run here is; only the orphans qualify.
  await panel.locator('input[name="sweep-older-than-hours"]').fill('1000');
  await panel.locator('[data-action="sweep"]').first().click();
  await acceptDialogIfAny(page, 15_000);

  // The orphaned train run: everything gone.
  await expectRunGone(train);
  // The orphaned deployment: a sweep keeps deployments (the InferenceService and what it
  // uses), so nothing of it goes.
  await expect.poll(() => describe(runObjects(served))).toEqual(servedBefore);
  // The CLI's run is not an orphan and not old: its TFJob stays.
  expect(runObjects(kept).map(o => o.kind)).toEqual(['TFJob']);
  await expect(panel.locator('.kaptain-panel-error')).toHaveCount(0);
  await screenshot(panel, 'panel-after-sweep');
});
