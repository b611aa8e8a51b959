import { describe, expect, it, jest } from '@jest/globals';

import { Ledger, ledgerKey } from '../ledger';
import { applyEvent, applyReport, RunsModel } from '../runs';
import { fakeCore, FakeApply, flush, MemoryStorage, record, FAKE_TRAINER } from './fakes';

const summary = {
  step: 'train' as const,
  phases: ['build' as const, 'train' as const],
  modelId: 'dev/mnist',
  framework: 'tensorflow' as const,
  namespace: 'kaptain-demo',
  runId: 'r7k2m9q',
  selector: '',
  labels: {}
};

function model(wasm: any, storage = new MemoryStorage(), now = () => 10_000) {
  return new RunsModel(fakeCore(wasm), { ledger: new Ledger(storage), now, logInterval: 0 });
}

describe('run events', () => {
  it('turn into object states, phases and fates', () => {
    const run = record({ state: 'starting' });
    applyEvent(run, { event: 'created', kind: 'TFJob', name: 'j' });
    expect(run.state).toBe('starting');
    applyEvent(run, { event: 'status', kind: 'TFJob', name: 'j', state: 'Running', message: 'running' });
    expect(run.state).toBe('running');
    applyEvent(run, { event: 'phase-ended', phase: 'train', outcome: 'succeeded', message: 'ok' });
    applyEvent(run, { event: 'kept', kind: 'TFJob', name: 'j', reason: 'success: keep' });
    applyEvent(run, { event: 'deleted', kind: 'Secret', name: 's', reason: 'success: delete' });
    expect(run.objects).toEqual([
      { kind: 'TFJob', name: 'j', state: 'Running', message: 'running', fate: { action: 'keep', reason: 'success: keep' } },
      { kind: 'Secret', name: 's', state: '', message: '', fate: { action: 'delete', reason: 'success: delete' } }
    ]);
    applyReport(
      run,
      {
        run_id: 'r', outcome: 'succeeded', phase: 'train', message: 'done', created: [{ kind: 'Job', name: 'b' }],
        plan: [
          { apiVersion: 'v1', kind: 'Job', name: 'b', action: 'delete', reason: 'success: delete' },
          { apiVersion: 'kubeflow.org/v1', kind: 'PyTorchJob', name: 'never', action: 'keep', reason: 'not created' }
        ],
        cleanup: null
      },
      20_000
    );
    expect(run.state).toBe('succeeded');
    expect(run.endedAt).toBe(20_000);
    expect(run.objects[2].fate).toEqual({ action: 'delete', reason: 'success: delete' });
    expect(run.objects.map(o => o.name)).not.toContain('never');
    expect(run.caveats).toBeUndefined();
  });

  it('keeps the caveats the core put on its plan', () => {
    const run = record({ step: 'deploy', objects: [] });
    const caveat = 'The serving credentials are deleted while the InferenceService stays.';
    applyReport(
      run,
      {
        run_id: 'r', outcome: 'succeeded', phase: 'deploy', message: 'ready', created: [],
        plan: [
          { apiVersion: 'serving.kubeflow.org/v1beta1', kind: 'InferenceService', name: 'i', action: 'keep', reason: 'keep' },
          { apiVersion: 'v1', kind: 'Secret', name: 's', action: 'delete', reason: 'delete', caveat }
        ],
        cleanup: null
      },
      1_000
    );
    expect(run.caveats).toEqual([caveat]);
  });
});

describe('RunsModel', () => {
  it('starts a run with the cell options, follows it and keeps it in the ledger', async () => {
    const fake = new FakeApply();
    const storage = new MemoryStorage();
    const runs = model({ apply: fake.apply }, storage);
    const changed = jest.fn();
    runs.changed.connect(changed);
    const done = runs.start({ cell: '%%kaptain train', summary, notebook: 'work/mnist.ipynb', cellId: 'cell-1' });
    expect(runs.get('r7k2m9q')!.state).toBe('starting');
    await flush();
    expect(fake.calls[0].options).toMatchObject({
      runId: 'r7k2m9q', notebook: 'work/mnist.ipynb', cellId: 'cell-1', namespace: 'kaptain-demo', server: '/kube'
    });
    // The server makes the run's credential Secrets: their sources never reach the page.
    expect(fake.calls[0].options.secretCopy).toBe('/kaptain/secret-copy');
    expect(fake.calls[0].options.resume).toBeUndefined();
    // A train cell builds: the build package gets the notebook's files and the S3 route.
    expect(fake.calls[0].options.files).toEqual({ 'trainer.py': FAKE_TRAINER });
    expect(fake.calls[0].options.filesLocation).toBe("the notebook's directory /work");
    expect(fake.calls[0].options.s3).toEqual({ route: '/kaptain/s3', endpoint: 'http://minio.test:9000' });
    fake.calls[0].onEvent!({ event: 'context-uploaded', uri: 's3://kaptain/build-contexts/abc.tar.gz', bytes: 321, checksum: 'abc' });
    expect(runs.get('r7k2m9q')!.build).toEqual({ uploaded: 's3://kaptain/build-contexts/abc.tar.gz', bytes: 321 });
    // kaniko's log, line by line as the core streams it.
    fake.calls[0].onEvent!({ event: 'log', pod: 'b-1', line: 'INFO[0000] Downloading the build context' });
    fake.calls[0].onEvent!({ event: 'log', pod: 'b-1', line: 'INFO[0001] Pushing image' });
    expect(runs.get('r7k2m9q')!.logs).toEqual([
      { pod: 'b-1', lines: ['INFO[0000] Downloading the build context', 'INFO[0001] Pushing image'], streamed: true }
    ]);
    fake.calls[0].onEvent!({ event: 'status', kind: 'TFJob', name: 'j', state: 'Running', message: '' });
    expect(runs.live().map(r => r.runId)).toEqual(['r7k2m9q']);
    expect(JSON.parse(storage.getItem(ledgerKey('/'))!)[0].state).toBe('running');
    fake.finish(0, { outcome: 'failed', message: 'TFJob failed' });
    const ended = await done;
    expect(ended.state).toBe('failed');
    expect(ended.message).toBe('TFJob failed');
    expect(runs.live()).toEqual([]);
    expect(changed).toHaveBeenCalled();
  });

  it('resumes the live runs of the ledger after a reload', async () => {
    const storage = new MemoryStorage();
    new Ledger(storage).save([record({ state: 'running' }), record({ runId: 'old', state: 'succeeded' })]);
    const fake = new FakeApply();
    const runs = model({ apply: fake.apply }, storage);
    void runs.resumeAll();
    await flush();
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0].options).toMatchObject({ runId: 'r7k2m9q', resume: true, cellId: 'cell-1' });
    fake.finish(0, { outcome: 'succeeded' });
    await flush();
    expect(runs.get('r7k2m9q')!.state).toBe('succeeded');
  });

  it('marks a run that cannot be resumed as an error', async () => {
    const storage = new MemoryStorage();
    new Ledger(storage).save([record({ state: 'running' })]);
    const runs = model({ apply: () => Promise.reject(new Error('nothing of run r7k2m9q is left')) }, storage);
    await runs.resumeAll();
    expect(runs.get('r7k2m9q')!.state).toBe('error');
    expect(runs.get('r7k2m9q')!.message).toContain('nothing of run r7k2m9q is left');
  });

  it('cleans a run nobody follows with wasm cleanup()', async () => {
    const storage = new MemoryStorage();
    new Ledger(storage).save([record({ state: 'failed', endedAt: 2_000, objects: [{ kind: 'TFJob', name: 'j', state: 'Failed', message: '', fate: { action: 'keep', reason: 'failure: keep' } }] })]);
    const cleanup = jest.fn(async () => ({ deleted: [{ kind: 'TFJob', name: 'j' }], remaining: [], requests: 3 }));
    const runs = model({ cleanup } as any, storage);
    await runs.cleanup('r7k2m9q');
    expect(cleanup).toHaveBeenCalledWith('r7k2m9q', expect.objectContaining({ namespace: 'kaptain-demo' }));
    const run = runs.get('r7k2m9q')!;
    expect(run.state).toBe('failed');
    expect(run.cleanup!.deleted).toEqual([{ kind: 'TFJob', name: 'j' }]);
    expect(run.objects[0].fate!.action).toBe('delete');
    runs.forget('r7k2m9q');
    expect(runs.get('r7k2m9q')).toBeUndefined();
    expect(JSON.parse(storage.getItem(ledgerKey('/'))!)).toEqual([]);
  });
});

describe('interrupted phase', () => {
  it('ends the phase the run was in, not the step the report names', () => {
    const run = record({ objects: [{ kind: 'Job', name: 'b', state: 'Running', message: '' }] });
    applyReport(
      run,
      {
        run_id: 'r', outcome: 'interrupted', phase: 'train', message: 'interrupted', created: [{ kind: 'Job', name: 'b' }], plan: [],
        cleanup: { deleted: [{ kind: 'Job', name: 'b' }], restored: [], remaining: [], requests: 2 }
      },
      5_000,
      4_000
    );
    expect(run.phases).toEqual([{ phase: 'build', outcome: 'interrupted', message: 'interrupted' }, { phase: 'train' }]);
    expect(run.cleanup!.millis).toBe(1_000);
    expect(run.objects[0].fate!.action).toBe('delete');
  });
});
