import { describe, expect, it } from '@jest/globals';

import {
  ERROR_MIME,
  coreError,
  errorOutput,
  locateError,
  phaseProgress,
  renderCellError,
  renderRun,
  RUN_MIME,
  runOutput,
  summaryText
} from '../output';
import type { RunObjectView } from '../tokens';
import { record } from './fakes';

const data = { runId: 'r7k2m9q', notebook: 'work/mnist.ipynb', cellId: 'cell-1' };

function draw(run = record()): HTMLElement {
  const node = document.createElement('div');
  renderRun(node, data, run, 31_000);
  return node;
}

describe('run output', () => {
  it('writes one display_data with the run reference and a summary', () => {
    const out = runOutput(record());
    expect(out.output_type).toBe('display_data');
    expect(out.data[RUN_MIME]).toEqual(data);
    expect(out.data['text/plain']).toBe('kaptain train · dev/mnist · run r7k2m9q · Running');
    expect(summaryText(record({ state: 'failed', message: 'TFJob failed' }))).toContain('Failed\nTFJob failed');
  });

  it('draws a live run into the DOM contract', () => {
    const node = draw(
      record({
        phases: [{ phase: 'build', outcome: 'succeeded', message: 'image pushed' }, { phase: 'train' }],
        objects: [
          { kind: 'Job', name: 'dev-mnist-r7k2m9q-build', state: 'Succeeded', message: '' },
          { kind: 'TFJob', name: 'dev-mnist-r7k2m9q', state: 'Running', message: 'TFJob is running' }
        ],
        logs: [{ pod: 'dev-mnist-r7k2m9q-build-abc', lines: ['step 1', 'step 2'] }, { pod: 'p2', lines: [], error: 'logs unavailable: no kubelet' }]
      })
    );
    expect(node.classList.contains('kaptain-run')).toBe(true);
    expect(node.dataset.runId).toBe('r7k2m9q');
    expect(node.dataset.state).toBe('running');
    expect(node.querySelector('.kaptain-run-header')!.textContent).toContain('kaptain train');
    expect(node.querySelector('.kaptain-run-header')!.textContent).toContain('dev/mnist');
    expect(node.querySelector('.kaptain-run-header')!.textContent).toContain('run r7k2m9q');
    expect(node.querySelector('.kaptain-run-header')!.textContent).toContain('Running');
    const phases = [...node.querySelectorAll<HTMLElement>('.kaptain-phase')].map(p => [p.dataset.phase, p.dataset.outcome]);
    expect(phases).toEqual([
      ['build', 'succeeded'],
      ['train', 'running']
    ]);
    const rows = [...node.querySelectorAll<HTMLElement>('.kaptain-object')];
    expect(rows.map(r => [r.dataset.kind, r.dataset.name, r.dataset.state])).toEqual([
      ['Job', 'dev-mnist-r7k2m9q-build', 'Succeeded'],
      ['TFJob', 'dev-mnist-r7k2m9q', 'Running']
    ]);
    expect(rows.every(r => r.dataset.fate === undefined)).toBe(true);
    const logs = node.querySelector('.kaptain-logs')!;
    expect(logs.textContent).toContain('step 2');
    expect(logs.textContent).toContain('logs unavailable: no kubelet');
    expect(node.querySelector('.kaptain-error')).toBeNull();
    expect(node.querySelector('.kaptain-cleanup')).toBeNull();
  });

  it('draws fates, reasons and the interruption summary when ended', () => {
    const node = draw(
      record({
        state: 'interrupted',
        endedAt: 20_000,
        message: 'the run was interrupted',
        objects: [
          { kind: 'TFJob', name: 'j', state: 'Running', message: '', fate: { action: 'delete', reason: 'interrupted: delete' } },
          { kind: 'Pod', name: 'p', state: 'Running', message: '', fate: { action: 'remains', reason: 'timed out' } }
        ],
        cleanup: { deleted: [{ kind: 'TFJob', name: 'j' }, { kind: 'Secret', name: 's' }], remaining: [[{ kind: 'Pod', name: 'p' }, 'timed out']], millis: 1530 }
      })
    );
    expect(node.dataset.state).toBe('interrupted');
    const rows = [...node.querySelectorAll<HTMLElement>('.kaptain-object')];
    expect(rows.map(r => r.dataset.fate)).toEqual(['delete', 'remains']);
    expect(rows[0].textContent).toContain('interrupted: delete');
    const cleanup = node.querySelector('.kaptain-cleanup')!;
    expect(cleanup.textContent).toContain('Interrupted: deleted 2 objects in 1.5 s');
    expect(cleanup.textContent).toContain('deleted Secret s');
    expect(cleanup.textContent).toContain('not confirmed gone: Pod p');
    const phases = [...node.querySelectorAll<HTMLElement>('.kaptain-phase')].map(p => p.dataset.outcome);
    expect(phases).not.toContain('running');
  });

  it('shows the error with the core message', () => {
    const node = draw(record({ state: 'error', message: 'the API server said 403: forbidden', endedAt: 2_000 }));
    expect(node.dataset.state).toBe('error');
    expect(node.querySelector('.kaptain-error')!.textContent).toContain('the API server said 403: forbidden');
  });

  it('says so when the run is not in the ledger', () => {
    const node = document.createElement('div');
    renderRun(node, data, undefined);
    expect(node.dataset.runId).toBe('r7k2m9q');
    expect(node.dataset.state).toBeUndefined();
    expect(node.textContent).toContain('not in this browser');
  });

  it('marks a skipped build', () => {
    // Skipped because the core said so (its build-skipped event), not guessed from the kinds.
    expect(
      phaseProgress(
        record({
          objects: [{ kind: 'TFJob', name: 'j', state: 'Running', message: '' }],
          build: { skippedImage: 'registry.example.com/dev/mnist:abc', builtBy: 'r1' }
        })
      ).map(p => [p.outcome, p.message])
    ).toEqual([
      ['skipped', 'registry.example.com/dev/mnist:abc was built before'],
      ['running', undefined]
    ]);
  });

  it('shows the caveats of the core\'s plan as they are, and none it did not give', () => {
    // When a caveat applies is the core's rule (tests/lifecycle.rs); the cell shows its text.
    const caveat = 'The serving credentials are deleted while the InferenceService stays: set keep_serving_credentials.';
    const objects: RunObjectView[] = [
      { kind: 'Secret', name: 's', state: 'Created', message: '', fate: { action: 'delete', reason: 'success: delete' } },
      { kind: 'InferenceService', name: 'i', state: 'Ready', message: '', fate: { action: 'keep', reason: 'the deployment' } }
    ];
    const node = draw(record({ step: 'deploy', state: 'succeeded', endedAt: 9_000, objects, caveats: [caveat] }));
    expect([...node.querySelectorAll('.kaptain-caveat')].map(n => n.textContent)).toEqual([caveat]);
    const silent = draw(record({ step: 'deploy', state: 'succeeded', endedAt: 9_000, objects }));
    expect(silent.querySelectorAll('.kaptain-caveat')).toHaveLength(0);
  });
});

describe('a run that failed before any object existed', () => {
  it('does not say that its build was skipped', () => {
    const failed = record({ state: 'error', message: 'Secret "kaptain-registry-credentials" ... does not exist', endedAt: 2_000, objects: [] });
    expect(phaseProgress(failed).map(p => [p.phase, p.outcome])).toEqual([
      ['build', 'not-started'],
      ['train', 'not-started']
    ]);
    const node = draw(failed);
    expect(node.querySelector('.kaptain-phases')!.textContent).toBe('build: not started→train: not started');
    expect(node.textContent).not.toMatch(/skipped|up to date/);
  });
});

describe('cell error output', () => {
  const cell = '%%kaptain train\nmodel:\n  id: dev/mnist\n  framework: tensorflw\n';
  const message = 'line 4, column 14: model.framework: "tensorflw" is not a supported framework; use tensorflow or pytorch';

  // What the core rejects with (a KaptainError): the position is given, not parsed.
  const rejected = Object.assign(new Error(message), { line: 4, column: 14, field: 'model.framework' });

  it('points at the line and column the core gives', () => {
    expect(locateError(coreError(rejected), cell)).toEqual({ message, line: 4, column: 14, excerpt: '  framework: tensorflw' });
    // The text alone says nothing about where: nothing reads it.
    expect(locateError(coreError(new Error(message)), cell)).toEqual({ message });
    const out = errorOutput(coreError(rejected), cell);
    expect(out.data['text/plain']).toContain(message);
    expect(out.data['text/plain']).toContain('4 |   framework: tensorflw');
    const node = document.createElement('div');
    renderCellError(node, out.data[ERROR_MIME] as any);
    expect(node.querySelector('.kaptain-error')!.textContent).toContain(message);
    const excerpt = node.querySelector('.kaptain-error-excerpt')!.textContent!.split('\n');
    expect(excerpt[1].indexOf('^')).toBe('4 | '.length + 13);
  });

  it('keeps a message without a position', () => {
    expect(locateError(coreError(new Error('cannot reach the cluster')))).toEqual({ message: 'cannot reach the cluster' });
  });

  it('does not blame the cell when the run could not start', () => {
    const out = errorOutput(coreError(new Error('Loading chunk 608 failed')), cell, 'setup');
    expect(out.data['text/plain']).toMatch(/^kaptain: the run could not start; nothing was created\./);
    const node = document.createElement('div');
    renderCellError(node, out.data[ERROR_MIME] as any);
    expect(node.querySelector('.kaptain-error-title')!.textContent).toBe(
      'kaptain: the run could not start; nothing was created.'
    );
    expect(node.querySelector('.kaptain-error-excerpt')).toBeNull();
    renderCellError(node, errorOutput(coreError(rejected), cell).data[ERROR_MIME] as any);
    expect(node.querySelector('.kaptain-error-title')!.textContent).toContain('the cell is not valid');
  });
});
