// %%kaptain cells that run to an outcome: (a) a train cell that succeeds keeps its TFJob and
// deletes its build objects, and with --force-cleanup deletes everything; (f) a cell with a
// mistake says where, and creates nothing.
import {
  describe,
  expect,
  expectRunGone,
  listObjects,
  MANAGED_BY,
  openNotebook,
  runIdOf,
  runObjects,
  runOutput,
  screenshot,
  startCell,
  test,
  trainCell,
  waitForObject,
  waitForState
} from './fixtures';

test('(a) a train cell that succeeds keeps the TFJob only; with --force-cleanup nothing', async ({
  page,
  tmpPath
}) => {
  await openNotebook(page, tmpPath, 'train.ipynb', [
    trainCell({ delay: 2 }),
    trainCell({ delay: 1, flags: '--force-cleanup' })
  ]);

  await startCell(page, 0);
  const runId = await runIdOf(page, 0);
  await waitForObject(page, 0, 'Job');
  await screenshot(runOutput(page, 0), 'cell-output-during-run');
  await waitForState(page, 0, /^succeeded$/);
  await screenshot(runOutput(page, 0), 'cell-output-after-run');

  const output = runOutput(page, 0);
  await expect(output.locator('.kaptain-object[data-kind="TFJob"]')).toHaveAttribute('data-fate', 'keep');
  await expect(output.locator('.kaptain-object[data-kind="Job"]')).toHaveAttribute('data-fate', 'delete');
  await expect(output.locator('.kaptain-phase[data-phase="train"]')).toHaveAttribute('data-outcome', 'succeeded');
  // What the cluster holds: the TFJob, nothing of the build (Secrets, Job, its pods).
  await expect
    .poll(() => runObjects(runId).filter(o => !o.deleting).map(o => o.kind), {
      message: `run ${runId}: ${describe(runObjects(runId)).join(', ')}`
    })
    .toEqual(['TFJob']);
  await expect.poll(() => describe(runObjects(runId)).filter(o => !o.startsWith('TFJob/'))).toEqual([]);

  await startCell(page, 1);
  const forced = await runIdOf(page, 1);
  expect(forced).not.toBe(runId);
  await waitForState(page, 1, /^succeeded$/);
  await expect(runOutput(page, 1).locator('.kaptain-object[data-kind="TFJob"]')).toHaveAttribute(
    'data-fate',
    'delete'
  );
  await expectRunGone(forced);
  // The first run's TFJob is still there: a cell deletes only its own run.
  expect(runObjects(runId).map(o => o.kind)).toEqual(['TFJob']);
});

test('(f) a cell with a misspelt key says where, and creates nothing', async ({ page, tmpPath }) => {
  const before = new Set(describe(listObjects(MANAGED_BY)).map(o => o.replace(' (deleting)', '')));
  const cell = trainCell({ delay: 1 }).replace('  framework: tensorflow', '  framwork: tensorflow');
  await openNotebook(page, tmpPath, 'mistake.ipynb', [cell]);
  await startCell(page, 0);

  const cellNode = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell').nth(0);
  const error = cellNode.locator('.kaptain-error');
  await expect(error).toBeVisible({ timeout: 30_000 });
  await expect(error).toContainText('framwork');
  // The line and the column: "line 4, column 3" (or 4:3).
  await expect(error).toContainText(/line \d+, column \d+|\b\d+:\d+\b/);
  // The offending line, with a caret under the key: the position the core gave with its error.
  const excerpt = cellNode.locator('.kaptain-error-excerpt');
  await expect(excerpt).toContainText('framwork: tensorflow');
  await expect(excerpt).toContainText('^');
  await screenshot(cellNode, 'cell-output-error');

  // Give anything wrongly in flight time to show up, then compare.
  await page.waitForTimeout(2_000);
  const after = describe(listObjects(MANAGED_BY))
    .map(o => o.replace(' (deleting)', ''))
    .filter(o => !before.has(o));
  expect(after, 'objects created by an invalid cell').toEqual([]);
});
