// The build step in a notebook, browser to S3: the notebook's files (trainer.py, src/model.py,
// requirements.txt beside it) are read through the Contents API, packed by the build package
// (pkg/build/) in the page, uploaded through the Jupyter server's S3 route to the control
// plane's S3 server (a real one that checks SigV4 signatures), and the kaniko Job points at
// them. The Job's pod is run by the simulator, a test double for the kubelet that also plays
// kaniko's log; nothing is really built.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import {
  describe,
  expect,
  KAPTAIN_CLI,
  kubectl,
  listObjects,
  MANAGED_BY,
  NAMESPACE,
  openNotebook,
  runIdOf,
  runObjects,
  runOutput,
  screenshot,
  secretNeedles,
  startCell,
  test,
  waitForState
} from './fixtures';

const IMAGE = 'registry.example.com/e2e/build';

function buildCell(extra = ''): string {
  return [
    '%%kaptain build',
    'model:',
    '  id: e2e/build',
    '  framework: tensorflow',
    '  main_file: trainer.py',
    `  extra_files: [src/model.py${extra}]`,
    '  requirements: requirements.txt',
    `  image_name: ${IMAGE}`,
    '  base_image: python:3.11-slim',
    '  labels:',
    '    kaptain-sim/delay-seconds: "2"',
    ''
  ].join('\n');
}

/** The S3 server's endpoint and keys (tests/cluster/up writes them; scripts/test-extension says where). */
function s3(): Record<string, string> {
  const file = process.env.KAPTAIN_S3_ENV;
  if (!file) {
    throw new Error('KAPTAIN_S3_ENV is not set: run scripts/test-extension');
  }
  return Object.fromEntries(
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(line => line.includes('='))
      .map(line => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
  );
}

/** An object from the S3 server, read with curl's own SigV4 signer (not the one under test). */
function s3Get(key: string): Buffer {
  const env = s3();
  return execFileSync('curl', [
    '-sS',
    '--fail',
    '--aws-sigv4',
    'aws:amz:us-east-1:s3',
    '--user',
    `${env.KAPTAIN_S3_ACCESS_KEY_ID}:${env.KAPTAIN_S3_SECRET_ACCESS_KEY}`,
    `${env.KAPTAIN_S3_ENDPOINT}/${key}`
  ]);
}

test('a build cell uploads the notebook files; a second run with the same files builds nothing', async ({
  page,
  tmpPath
}) => {
  const files: Record<string, string> = {
    'requirements.txt': 'numpy==1.26.4\n',
    'src/model.py': 'LAYERS = 3\n',
    // What openNotebook writes beside every notebook.
    'trainer.py': `print("training for ${tmpPath}/build.ipynb")\n`
  };
  await page.contents.createDirectory(`${tmpPath}/src`);
  for (const name of ['requirements.txt', 'src/model.py']) {
    expect(await page.contents.uploadContent(files[name], 'text', `${tmpPath}/${name}`)).toBeTruthy();
  }
  await openNotebook(page, tmpPath, 'build.ipynb', [buildCell(), buildCell()]);
  // Every answer the page gets while the first run goes, read whole.
  const answers: Promise<{ what: string; body: string }>[] = [];
  page.on('requestfinished', request => {
    answers.push(
      (async () => {
        const body = await (await request.response())?.body().catch(() => null);
        return { what: `${request.method()} ${new URL(request.url()).pathname}`, body: body?.toString('utf8') ?? '' };
      })()
    );
  });

  await startCell(page, 0);
  const runId = await runIdOf(page, 0);
  const output = runOutput(page, 0);
  await expect(output).toContainText(/Build context uploaded to s3:\/\/kaptain\/build-contexts\/[0-9a-f]{64}\.tar\.gz/, {
    timeout: 60_000
  });
  // kaniko's log streams into the cell while the build runs.
  await expect(output.locator('.kaptain-logs, .kaptain-log').first()).toContainText('Downloading the build context', {
    timeout: 30_000
  });
  await screenshot(output, 'cell-output-build-running');
  await waitForState(page, 0, /^succeeded$/);
  const text = (await output.textContent()) ?? '';
  const checksum = text.match(/build-contexts\/([0-9a-f]{64})\.tar\.gz/)![1];
  await expect(output).toContainText(`Pushing image to ${IMAGE}:${checksum}`);
  await screenshot(output, 'cell-output-build-done');
  page.removeAllListeners('requestfinished');

  // The run's registry Secret was made by the server's secret-copy route: no answer the page
  // got carries the registry credentials. The S3 keys came with one answer only, the read of
  // their Secret that signs the upload.
  const seen = await Promise.all(answers);
  const carrying = (needles: string[]) => seen.filter(a => needles.some(n => a.body.includes(n))).map(a => a.what);
  const copies = seen.filter(a => a.what.startsWith('POST ') && a.what.endsWith(`/kaptain/secret-copy/api/v1/namespaces/${NAMESPACE}/secrets`));
  // Two Secrets (the registry's, the context's S3 keys), each validated, then created.
  expect(copies.length).toBe(4);
  expect(carrying(secretNeedles('kaptain-registry-credentials'))).toEqual([]);
  const s3Reads = carrying(secretNeedles('kaptain-s3-credentials'));
  const read = new RegExp(`^GET /.*kube/api/v1/namespaces/${NAMESPACE}/secrets/kaptain-s3-credentials$`);
  expect(s3Reads.length).toBeGreaterThan(0);
  expect(s3Reads.filter(what => !read.test(what))).toEqual([]);

  // The uploaded object is, byte for byte, what the native CLI packs from the same files: the
  // same archive in wasm and natively, the same checksum.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kaptain-e2e-build-'));
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  fs.writeFileSync(path.join(dir, 'build.cell'), buildCell());
  const packed = execFileSync(KAPTAIN_CLI, ['context', path.join(dir, 'build.cell'), '--dir', dir, '--out', path.join(dir, 'context.tar.gz')])
    .toString()
    .trim()
    .split('\n');
  expect(packed[packed.length - 1]).toBe(checksum);
  expect(s3Get(`kaptain/build-contexts/${checksum}.tar.gz`).equals(fs.readFileSync(path.join(dir, 'context.tar.gz')))).toBe(true);
  fs.rmSync(dir, { recursive: true, force: true });

  // Success: the build's Secrets and Job are gone; the image record stays.
  await expect.poll(() => describe(runObjects(runId))).toEqual([]);
  const records = kubectl(['get', 'configmaps', '-n', NAMESPACE, '-l', 'kaptain.io/image-record', '-o', 'jsonpath={.items[*].data.image}']);
  expect(records.split(' ')).toContain(`${IMAGE}:${checksum}`);

  // The same files again: nothing to build, nothing created.
  await startCell(page, 1);
  const second = await runIdOf(page, 1);
  await waitForState(page, 1, /^succeeded$/);
  await expect(runOutput(page, 1)).toContainText(`Build skipped: ${IMAGE}:${checksum} was built by run ${runId}`);
  expect(describe(runObjects(second))).toEqual([]);
  await screenshot(runOutput(page, 1), 'cell-output-build-skipped');
});

test('a build cell naming a file that is not there says which, and creates nothing', async ({ page, tmpPath }) => {
  const before = new Set(describe(listObjects(MANAGED_BY)).map(o => o.replace(' (deleting)', '')));
  await page.contents.createDirectory(`${tmpPath}/src`);
  expect(await page.contents.uploadContent('LAYERS = 3\n', 'text', `${tmpPath}/src/model.py`)).toBeTruthy();
  expect(await page.contents.uploadContent('numpy\n', 'text', `${tmpPath}/requirements.txt`)).toBeTruthy();
  await openNotebook(page, tmpPath, 'missing.ipynb', [buildCell(', src/missing.py')]);
  await startCell(page, 0);
  const cellNode = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell').nth(0);
  const error = cellNode.locator('.kaptain-error');
  await expect(error).toBeVisible({ timeout: 30_000 });
  await expect(error).toContainText('model.extra_files[1]: "src/missing.py" was not found in the notebook\'s directory');
  await page.waitForTimeout(2_000);
  const after = describe(listObjects(MANAGED_BY)).map(o => o.replace(' (deleting)', ''));
  expect(after.filter(o => !before.has(o))).toEqual([]);
});
