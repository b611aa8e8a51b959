// The kaptain runs panel on the deployed server: it lists a live run of this server's notebook
// with its objects, as the cluster has them, and its "clean up" action deletes them all.
import {
  acceptDialogIfAny,
  expect,
  expectRunGone,
  openNotebook,
  openPanel,
  runIdOf,
  runObjectRefs,
  screenshot,
  startCell,
  test,
  trainCell,
  waitForObject,
  waitForState
} from './fixtures';

test('the panel lists a live run with its objects, and cleans it up', async ({ page, tmpPath }, testInfo) => {
  const notebook = await openNotebook(page, tmpPath, 'panel.ipynb', [trainCell({ delay: 30 })]);
  await startCell(page, 0);
  const runId = await runIdOf(page, 0);
  await waitForObject(page, 0, 'Job');
  await waitForState(page, 0, /^running$/);

  const panel = await openPanel(page);
  await panel.locator('[data-action="refresh"]').first().click();
  const run = panel.locator(`.kaptain-panel-run[data-run-id="${runId}"]`);
  await expect(run).toBeVisible({ timeout: 30_000 });
  await expect(run).toHaveAttribute('data-step', 'train');
  // The notebook it belongs to, and the objects the cluster holds for it.
  await expect(panel).toContainText(notebook.split('/').pop()!);
  const objects = runObjectRefs(runId);
  expect(objects.some(o => o.startsWith('Job/')), `run ${runId}: ${objects.join(', ')}`).toBe(true);
  for (const ref of objects) {
    const [kind, name] = ref.split('/');
    await expect(run.locator(`.kaptain-panel-object[data-kind="${kind}"][data-name="${name}"]`)).toBeVisible();
  }
  await screenshot(panel, `${testInfo.project.name}-panel-live-run`);

  await run.locator('[data-action="cleanup"]').first().click();
  await acceptDialogIfAny(page, 5_000);
  await expectRunGone(runId);
  await expect(panel.locator('.kaptain-panel-error')).toHaveCount(0);
  await panel.locator('[data-action="refresh"]').first().click();
  await expect(run.locator('.kaptain-panel-object')).toHaveCount(0, { timeout: 30_000 });
});
