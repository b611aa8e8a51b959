// The runs panel's DOM contract (what the Playwright tests rely on), with fake core and runs.
import { afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import type { RevisionInfo, RunSummary } from 'kaptain-wasm';

import { RunsPanel } from '../panel';
import type { IKaptainCore, IKaptainRuns, KaptainWasm, RunRecord } from '../tokens';

function summary(run_id: string, extra: Partial<RunSummary> = {}): RunSummary {
  return {
    run_id,
    model_id: 'dev-mnist',
    step: 'train',
    status: 'Running',
    age_seconds: 200,
    ended_seconds_ago: null,
    notebook_server: 'user.alice',
    ours: true,
    notebook: 'work/mnist.ipynb',
    cell_id: 'cell-a',
    objects: [{ api_version: 'kubeflow.org/v1', kind: 'TFJob', name: `dev-mnist-${run_id}`, step: 'train', state: 'Running', created: 1, finished: null, active: true }],
    ...extra
  };
}

function fakes(cluster: () => Promise<RunSummary[]>, revisions: RevisionInfo[] = []) {
  const wasm = {
    runs: jest.fn(cluster),
    revisions: jest.fn(async () => revisions),
    cleanup: jest.fn(async () => ({ deleted: [], restored: [], remaining: [], requests: 0 }))
  };
  const core: IKaptainCore = {
    wasm: async () => wasm as unknown as KaptainWasm,
    buildWasm: async () => {
      throw new Error('the panel never builds');
    },
    s3Route: async () => undefined,
    secretCopyRoute: () => '/kaptain/secret-copy',
    readFiles: async () => ({}),
    notebookServer: async () => '/user/alice/',
    cluster: async () => ({ server: '/kube', namespace: 'team' }),
    env: async () => ({}),
    settings: async () => undefined
  };
  const records: RunRecord[] = [];
  const runs = {
    runs: records,
    changed: new Signal<IKaptainRuns, RunRecord>({}),
    get: (id: string) => records.find(r => r.runId === id),
    live: () => records,
    interrupt: async () => undefined,
    cleanup: jest.fn(async () => undefined),
    forget: () => undefined
  };
  return { wasm, core, runs: runs as unknown as IKaptainRuns & { changed: Signal<IKaptainRuns, RunRecord> }, records };
}

// JupyterLab's icons are SVG files, stubbed in unit tests: LabIcon warns about each.
beforeAll(() => {
  const warn = console.warn.bind(console);
  jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    if (!String(args[0]).includes('SVG HTML was malformed')) {
      warn(...args);
    }
  });
});

const panels: RunsPanel[] = [];
function mount(core: IKaptainCore, runs: IKaptainRuns): RunsPanel {
  const panel = new RunsPanel({ core, runs, lookup: async () => null, pollMillis: 60_000 });
  Widget.attach(panel, document.body);
  panels.push(panel);
  return panel;
}

afterEach(() => {
  for (const panel of panels.splice(0)) {
    panel.dispose();
  }
});

describe('RunsPanel', () => {
  it('renders runs, objects, revisions and the controls with the contract attributes', async () => {
    const { core, runs } = fakes(
      async () => [
        summary('t1'),
        summary('d1', {
          step: 'deploy',
          status: 'Ready',
          age_seconds: 30,
          cell_id: 'cell-b',
          objects: [{ api_version: 'serving.kubeflow.org/v1beta1', kind: 'InferenceService', name: 'dev-mnist', step: 'deploy', state: 'Ready', created: 1 }]
        })
      ],
      [
        { name: 'dev-mnist-predictor-default-00002', traffic_percent: 100, latest_ready: true, ready: true, created: 2, service: 'dev-mnist-predictor-default' },
        { name: 'dev-mnist-predictor-default-00001', traffic_percent: 0, latest_ready: false, ready: true, created: 1, service: 'dev-mnist-predictor-default' }
      ]
    );
    const panel = mount(core, runs);
    await panel.refresh();
    const root = document.getElementById('kaptain-runs-panel')!;
    expect(root).toBe(panel.node);
    const runNodes = Array.from(root.querySelectorAll<HTMLElement>('.kaptain-panel-run'));
    expect(runNodes.map(n => [n.dataset.runId, n.dataset.step, n.dataset.status])).toEqual([
      ['d1', 'deploy', 'ready'],
      ['t1', 'train', 'running']
    ]);
    const tfjob = root.querySelector<HTMLElement>('.kaptain-panel-object[data-kind="TFJob"][data-name="dev-mnist-t1"]')!;
    expect(tfjob).not.toBeNull();
    expect(tfjob.querySelector('[data-action="yaml"]')).not.toBeNull();
    expect(tfjob.querySelector('[data-action="delete"]')).not.toBeNull();
    expect(root.querySelectorAll('[data-action="cleanup"]')).toHaveLength(2);
    expect(root.querySelectorAll('[data-action="prune"]')).toHaveLength(1);
    expect(root.querySelector('[data-action="sweep"]')).not.toBeNull();
    expect(root.querySelector('[data-action="refresh"]')).not.toBeNull();
    expect(root.querySelector<HTMLInputElement>('input[name="sweep-older-than-hours"]')!.value).toBe('24');
    expect(
      Array.from(root.querySelectorAll<HTMLElement>('.kaptain-panel-revision')).map(n => [n.dataset.name, n.dataset.traffic])
    ).toEqual([
      ['dev-mnist-predictor-default-00002', '100'],
      ['dev-mnist-predictor-default-00001', '0']
    ]);
    expect(root.querySelector('.kaptain-panel-namespace')!.textContent).toContain('team');
    expect(root.querySelector('.kaptain-panel-run[data-run-id="t1"] .kaptain-panel-age')!.textContent).toBe('3 min');
    expect(root.querySelector('.kaptain-panel-empty')).toBeNull();
  });

  it('tells a new user what to do when the namespace has no runs', async () => {
    const { core, runs } = fakes(async () => []);
    const panel = mount(core, runs);
    await panel.refresh();
    const empty = panel.node.querySelector('.kaptain-panel-empty')!;
    expect(empty.textContent).toContain('No kaptain runs of this notebook server in namespace team');
    expect(empty.textContent).toContain('%%kaptain train');
  });

  it('shows a listing failure in the panel, naming it, and clears it once listing works', async () => {
    let fail = true;
    const { core, runs } = fakes(async () => {
      if (fail) {
        throw new Error('forbidden: you may not list tfjobs');
      }
      return [];
    });
    const panel = mount(core, runs);
    await panel.refresh();
    const error = panel.node.querySelector('.kaptain-panel-error')!;
    expect(error.textContent).toContain('Could not list the kaptain runs in namespace team');
    expect(error.textContent).toContain('forbidden: you may not list tfjobs');
    fail = false;
    await panel.refresh();
    expect(panel.node.querySelector('.kaptain-panel-error')).toBeNull();
  });

  it("shows this browser's live runs at once when the ledger changes", async () => {
    const { core, runs, records } = fakes(async () => []);
    const panel = mount(core, runs);
    await panel.refresh();
    const record: RunRecord = {
      runId: 'live1',
      notebook: 'work/mnist.ipynb',
      cellId: 'cell-a',
      cell: '',
      step: 'train',
      modelId: 'dev/mnist',
      namespace: 'team',
      state: 'starting',
      startedAt: Date.now(),
      phases: [],
      objects: []
    };
    records.push(record);
    runs.changed.emit(record);
    const node = panel.node.querySelector<HTMLElement>('.kaptain-panel-run[data-run-id="live1"]')!;
    expect(node.dataset.status).toBe('starting');
  });
});
