// Every step from a notebook of the deployed server, on its host name, as its ServiceAccount
// (the page is checked to be where a user reaches it first): a build cell packs
// and uploads the notebook's files and its Job builds; a train, a tune and a deploy cell each
// reach success; the cluster holds what the lifecycle table keeps, and nothing else of each run.
// One notebook, one page, the four cells in a row.
import {
  describe,
  expect,
  kubectl,
  NAMESPACE,
  openNotebook,
  runIdOf,
  runObjects,
  runOutput,
  screenshot,
  startCell,
  test,
  trainCell,
  waitForState
} from './fixtures';

/** The kinds of the run's objects that are not being deleted, sorted. */
const liveKinds = (runId: string) =>
  runObjects(runId)
    .filter(o => !o.deleting)
    .map(o => o.kind)
    .sort();

test('build, train, tune and deploy cells succeed and leave what the lifecycle keeps', async ({
  page,
  tmpPath,
  baseURL
}, testInfo) => {
  test.setTimeout(240_000);
  // A model per server: each builds its own image, and a deployment of another server's case
  // is not replaced.
  const model = `e2e/${testInfo.project.name}`;
  const image = `registry.example.com/${model}`;
  const modelLines = (delay: number) => [
    'model:',
    `  id: ${model}`,
    '  framework: tensorflow',
    '  framework_version: "2.5.0"',
    '  main_file: trainer.py',
    `  image_name: ${image}`,
    '  base_image: tensorflow/tensorflow:2.5.0',
    '  labels:',
    `    kaptain-sim/delay-seconds: "${delay}"`
  ];
  const build = ['%%kaptain build', ...modelLines(2), ''].join('\n');
  const tune = [
    '%%kaptain tune --trials 4',
    ...modelLines(2),
    'hyperparameters:',
    '  learning_rate: {min: 0.001, max: 0.1}',
    '  optimizer: [adam, sgd]',
    'objectives: [accuracy]',
    'objective_goal: 0.99',
    'parallel_trials: 2',
    ''
  ].join('\n');
  const deploy = [
    '%%kaptain deploy --replace',
    ...modelLines(1).filter(line => !/main_file|image_name|base_image/.test(line)),
    '  version: "1"',
    `model_uri: s3://kaptain/models/${model}/1`,
    'cpu: 1',
    'memory: 1Gi',
    ''
  ].join('\n');
  await test.step('the page is on the host name, under the server base URL', async () => {
    const expected = new URL(baseURL!.replace(/\/?$/, '/'));
    expect(expected.hostname).not.toMatch(/^(localhost|127\.|\[::1\])/);
    const { host, pageBase } = await page.evaluate(() => ({
      host: location.host,
      pageBase: (window as any).jupyterapp.serviceManager.serverSettings.baseUrl as string
    }));
    expect(host).toBe(expected.host);
    expect(new URL(pageBase, expected).pathname).toBe(expected.pathname);
  });
  await openNotebook(page, tmpPath, 'steps.ipynb', [build, trainCell({ delay: 2, model }), tune, deploy]);

  await test.step('build: the context is uploaded, the image built; nothing of the run stays', async () => {
    await startCell(page, 0);
    const runId = await runIdOf(page, 0);
    await expect(runOutput(page, 0)).toContainText(/Build context uploaded to s3:\/\/kaptain\/build-contexts\/[0-9a-f]{64}\.tar\.gz/, {
      timeout: 60_000
    });
    await waitForState(page, 0, /^succeeded$/);
    await expect(runOutput(page, 0)).toContainText(`Pushing image to ${image}:`);
    await expect.poll(() => describe(runObjects(runId)), { message: `objects of build run ${runId}` }).toEqual([]);
    const records = kubectl(['get', 'configmaps', '-n', NAMESPACE, '-l', 'kaptain.io/image-record', '-o', 'jsonpath={.items[*].data.image}']);
    expect(records.split(' ').some(record => record.startsWith(`${image}:`)), `image records: ${records}`).toBe(true);
  });

  await test.step('train: the image is reused, the TFJob succeeds and is kept', async () => {
    await startCell(page, 1);
    const runId = await runIdOf(page, 1);
    await waitForState(page, 1, /^succeeded$/);
    await expect(runOutput(page, 1)).toContainText('Build skipped');
    await expect(runOutput(page, 1).locator('.kaptain-object[data-kind="TFJob"]')).toHaveAttribute('data-fate', 'keep');
    await expect.poll(() => liveKinds(runId), { message: `objects of train run ${runId}` }).toEqual(['TFJob']);
  });

  await test.step('tune: the Experiment succeeds and is kept', async () => {
    await startCell(page, 2);
    const runId = await runIdOf(page, 2);
    await waitForState(page, 2, /^succeeded$/);
    await expect(runOutput(page, 2).locator('.kaptain-object[data-kind="Experiment"]')).toHaveAttribute('data-fate', 'keep');
    await expect.poll(() => liveKinds(runId), { message: `objects of tune run ${runId}` }).toEqual(['Experiment']);
  });

  await test.step('deploy: the InferenceService is ready and kept, its credentials deleted', async () => {
    await startCell(page, 3);
    const runId = await runIdOf(page, 3);
    await waitForState(page, 3, /^succeeded$/);
    await expect(runOutput(page, 3).locator('.kaptain-object[data-kind="InferenceService"]')).toHaveAttribute(
      'data-fate',
      'keep'
    );
    // Its credentials (the S3 Secret and the ServiceAccount that carries it) go on success;
    // the InferenceService stays, with the Knative objects serving it.
    await expect(runOutput(page, 3).locator('.kaptain-object[data-kind="Secret"]')).toHaveAttribute('data-fate', 'delete');
    await expect
      .poll(() => liveKinds(runId).filter(kind => kind === 'Secret' || kind === 'ServiceAccount'), {
        message: `credentials of deploy run ${runId}`
      })
      .toEqual([]);
    expect(liveKinds(runId)).toContain('InferenceService');
  });
  await screenshot(page, `${testInfo.project.name}-steps`);
});
