// (h) The panel's actions on single objects and on a deployment: delete one object (the others
// stay), show a Secret's YAML (no secret value in it), prune a deployment's Revisions (those
// without traffic go, the one serving stays). One page and one notebook for the three actions
// (each a step), to keep the suite short. Runs after 04: its sweep does not see these runs.
import {
  confirmDialog,
  deployCell,
  describe,
  expect,
  kubectl,
  NAMESPACE,
  openNotebook,
  openPanel,
  revisionsInCluster,
  runIdOf,
  runObjectRefs,
  runObjects,
  screenshot,
  secretNeedles,
  SEEDED_SECRETS,
  startCell,
  test,
  trainCell,
  waitForState
} from './fixtures';

test("(h) panel action: delete one object, a Secret's YAML without its values, prune revisions", async ({
  page,
  tmpPath
}) => {
  test.setTimeout(120_000);
  // A model of this case's own (a deployment outlives the case: a repeat must not find it).
  const model = `e2e/pruned-${Math.random().toString(36).slice(2, 6)}`;
  // Cell 0: a build that fails keeps its Secrets and Job for troubleshooting (DESIGN §1).
  // Cells 1, 2: the same model deployed twice, the predictor changed (memory): a second
  // Revision, which takes the traffic; the first is kept with none (the simulator, a test
  // double, plays Knative).
  await openNotebook(page, tmpPath, 'actions.ipynb', [
    trainCell({ delay: 0, model: 'e2e/kept', outcome: 'Failed' }),
    deployCell({ model, memory: '1Gi', delay: 0 }),
    deployCell({ model, memory: '2Gi', delay: 0 })
  ]);
  await startCell(page, 0);
  const runId = await runIdOf(page, 0);
  await waitForState(page, 0, /^failed$/);
  const kept = runObjectRefs(runId);
  const registry = kept.find(o => /^Secret\/.*-registry$/.test(o));
  const context = kept.find(o => /^Secret\/.*-context$/.test(o));
  expect(registry && context && kept.some(o => o.startsWith('Job/')), `kept: ${kept.join(', ')}`).toBeTruthy();
  // The Jupyter server made the run's registry Secret from its source (the page never read
  // it): the same credentials.
  const data = (secret: string) => JSON.parse(kubectl(['get', 'secret', secret, '-n', NAMESPACE, '-o', 'json'])).data;
  expect(data(registry!.slice('Secret/'.length))).toEqual({
    '.dockerconfigjson': data('kaptain-registry-credentials')['.dockerconfigjson']
  });

  const panel = await openPanel(page);
  await panel.locator('[data-action="refresh"]').first().click();
  const run = panel.locator(`.kaptain-panel-run[data-run-id="${runId}"]`);
  await expect(run).toBeVisible({ timeout: 30_000 });

  await test.step('delete one object: the build context Secret goes, the others stay', async () => {
    const name = context!.slice('Secret/'.length);
    const row = run.locator(`.kaptain-panel-object[data-kind="Secret"][data-name="${name}"]`);
    await row.locator('[data-action="delete"]').click();
    await confirmDialog(page, 'Delete');
    await expect
      .poll(() => runObjectRefs(runId), { message: `run ${runId}: ${describe(runObjects(runId)).join(', ')}` })
      .toEqual(kept.filter(o => o !== context));
    await expect(row).toHaveCount(0, { timeout: 30_000 });
    await expect(run.locator('.kaptain-panel-object[data-kind="Job"]')).toBeVisible();
    await expect(panel.locator('.kaptain-panel-error')).toHaveCount(0);
  });

  await test.step("a Secret's YAML: the object, none of its values", async () => {
    const name = registry!.slice('Secret/'.length);
    // The run's Secret and the seeded source Secrets it was made from, read from the cluster.
    const needles = [...new Set([name, ...SEEDED_SECRETS].flatMap(secret => secretNeedles(secret)))];
    expect(needles.length, 'secret values to look for').toBeGreaterThan(0);
    await run.locator(`.kaptain-panel-object[data-kind="Secret"][data-name="${name}"] [data-action="yaml"]`).click();
    const yaml = page.locator('.jp-Dialog .kaptain-yaml');
    await expect(yaml).toBeVisible({ timeout: 15_000 });
    const text = (await yaml.textContent()) ?? '';
    expect(text).toContain('kind: Secret');
    expect(text).toContain(`name: ${name}`);
    // Of a Secret only its metadata is read: no data, not even the keys' names.
    expect(text).not.toMatch(/^data:|\.dockerconfigjson/m);
    expect(
      needles.filter(needle => text.includes(needle)).map(needle => `${needle.slice(0, 6)}…`),
      'secret values in the YAML'
    ).toEqual([]);
    // The screenshot shows where the values would be.
    await yaml.evaluate(pre => (pre.scrollTop = pre.scrollHeight));
    await screenshot(page.locator('.jp-Dialog-content'), 'panel-yaml-dialog');
    await page.locator('.jp-Dialog .jp-mod-accept').click();
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
  });

  await test.step('prune revisions: those without traffic go, the one serving stays', async () => {
    await startCell(page, 1);
    await runIdOf(page, 1);
    await waitForState(page, 1, /^succeeded$/);
    await startCell(page, 2);
    const second = await runIdOf(page, 2);
    await waitForState(page, 2, /^succeeded$/);
    const service = runObjects(second).find(o => o.kind === 'InferenceService')?.name;
    expect(service, `the second run holds the InferenceService: ${describe(runObjects(second)).join(', ')}`).toBeTruthy();
    const knative = `${service}-predictor-default`;
    // Two Revisions, all traffic on the newer one.
    await expect
      .poll(() => Object.values(revisionsInCluster(knative)).sort((a, b) => a - b), { timeout: 30_000 })
      .toEqual([0, 100]);
    const before = revisionsInCluster(knative);
    const serving = Object.keys(before).find(name => before[name] === 100)!;

    await panel.locator('[data-action="refresh"]').first().click();
    const deployed = panel.locator(`.kaptain-panel-run[data-run-id="${second}"]`);
    await expect(deployed).toBeVisible({ timeout: 30_000 });
    const rows = deployed.locator('.kaptain-panel-revision');
    await expect(rows).toHaveCount(2, { timeout: 30_000 });
    await expect(deployed.locator(`.kaptain-panel-revision[data-name="${serving}"]`)).toHaveAttribute(
      'data-traffic',
      '100'
    );
    await expect(deployed.locator('.kaptain-panel-revision[data-traffic="0"]')).toHaveCount(1);
    await screenshot(panel, 'panel-revisions');

    await deployed.locator('[data-action="prune"]').click();
    await confirmDialog(page, 'Prune');
    await expect.poll(() => revisionsInCluster(knative), { timeout: 30_000 }).toEqual({ [serving]: 100 });
    await expect(rows).toHaveCount(1, { timeout: 30_000 });
    await expect(rows.first()).toHaveAttribute('data-name', serving);
    await expect(panel.locator('.kaptain-panel-error')).toHaveCount(0);
    await screenshot(panel, 'panel-revisions-after-prune');
  });
});
