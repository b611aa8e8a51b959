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
    objects: [{ kind: 'TFJob', name: `dev-mnist-${run_id}`, step: 'train', state: 'Running', created: 1, finished: null, active: true }],
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
function mount(core: IKaptainCore, runs: IKaptainRuns, extra: Partial<ConstructorParameters<typeof RunsPanel>[0]> = {}): RunsPanel {
  const panel = new RunsPanel({ core, runs, lookup: async () => null, pollMillis: 60_000, ...extra });
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
          objects: [{ kind: 'InferenceService', name: 'dev-mnist', step: 'deploy', state: 'Ready', created: 1 }]
        })
      ],
      [
        { name: 'dev-mnist-predictor-default-00002', traffic_percent: 100, latest_ready: true, ready: true, created: 2, service: 'dev-mnist-predictor-default', prunable: false },
        { name: 'dev-mnist-predictor-default-00001', traffic_percent: 0, latest_ready: false, ready: true, created: 1, service: 'dev-mnist-predictor-default', prunable: true }
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

  it("names a notebook by its file and a cell by its position, whole path and id on hover, each a link to it", async () => {
    const { core, runs } = fakes(async () => [
      summary('t1', { notebook: 'projects/vision/experiments/2026/mnist.ipynb', cell_id: 'kaptain-7f3a9c2e41' }),
      summary('t2', { notebook: 'projects/vision/experiments/2026/mnist.ipynb', cell_id: 'gone-cell' }),
      summary('o1', { ours: false, notebook_server: '/user/bob/', notebook: 'bob.ipynb', cell_id: 'bob-cell' })
    ]);
    const lookup = jest.fn(async (path: string) => (path.endsWith('mnist.ipynb') ? { cellIds: ['md-1', 'kaptain-7f3a9c2e41'] } : null));
    const opened: [string, string | null][] = [];
    const openCell = async (notebook: string, cellId: string | null) => void opened.push([notebook, cellId]);
    const panel = mount(core, runs, { lookup, openCell });
    const root = panel.node;
    const allServers = root.querySelector<HTMLInputElement>('input[type="checkbox"]')!;
    allServers.checked = true;
    allServers.dispatchEvent(new Event('change'));
    await panel.refresh();
    const section = root.querySelector<HTMLElement>('.kaptain-panel-notebook[data-notebook="projects/vision/experiments/2026/mnist.ipynb"]')!;
    const title = section.querySelector<HTMLElement>('.kaptain-panel-notebook-title')!;
    expect(title.querySelector('.kaptain-panel-notebook-name')!.textContent).toBe('mnist.ipynb');
    expect(title.querySelector('.kaptain-panel-notebook-dir')!.textContent).toBe('projects/vision/experiments/2026');
    expect(title.title).toBe('projects/vision/experiments/2026/mnist.ipynb');
    // Positions once the notebook was looked up (once, whatever the number of its runs).
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(lookup).toHaveBeenCalledWith('projects/vision/experiments/2026/mnist.ipynb');
    const cells = Array.from(section.querySelectorAll<HTMLElement>('.kaptain-panel-cell-title'));
    expect(cells.map(c => [c.textContent, c.title])).toEqual(
      expect.arrayContaining([
        ['cell 2', 'projects/vision/experiments/2026/mnist.ipynb, cell id kaptain-7f3a9c2e41'],
        ['cell (no longer in the notebook)', 'projects/vision/experiments/2026/mnist.ipynb, cell id gone-cell']
      ])
    );
    expect(root.querySelector('.kaptain-panel-run[data-run-id="t1"] .kaptain-panel-run-cell')!.textContent).toBe('cell 2');
    // Another server's notebook is not this server's to look up: no position, no guess.
    expect(lookup).not.toHaveBeenCalledWith('bob.ipynb');
    expect(root.querySelector('.kaptain-panel-notebook[data-notebook="bob.ipynb"] .kaptain-panel-cell-title')!.textContent).toBe('cell');

    section.querySelector<HTMLElement>('.kaptain-panel-notebook-name')!.click();
    cells.find(c => c.textContent === 'cell 2')!.click();
    root.querySelector<HTMLElement>('.kaptain-panel-run[data-run-id="t1"] [data-action="open-cell"]')!.dispatchEvent(
      new KeyboardEvent('keydown', { key: 'Enter' })
    );
    expect(opened).toEqual([
      ['projects/vision/experiments/2026/mnist.ipynb', null],
      ['projects/vision/experiments/2026/mnist.ipynb', 'kaptain-7f3a9c2e41'],
      ['projects/vision/experiments/2026/mnist.ipynb', 'kaptain-7f3a9c2e41']
    ]);
  });

  it("previews a prune with the core's decision: a Revision still rolling out is not listed", async () => {
    const revision = (n: number, traffic: number, prunable: boolean) => ({
      name: `dev-mnist-predictor-default-0000${n}`, traffic_percent: traffic, latest_ready: n === 2, ready: n !== 3, created: n,
      service: 'dev-mnist-predictor-default', prunable
    });
    const { core, runs } = fakes(
      async () => [
        summary('d1', {
          step: 'deploy',
          status: 'Ready',
          objects: [{ kind: 'InferenceService', name: 'dev-mnist', step: 'deploy', state: 'Ready', created: 1 }]
        })
      ],
      // 00003: created, not ready, no traffic yet (a rollout): no traffic, yet kept.
      [revision(3, 0, false), revision(2, 100, false), revision(1, 0, true)]
    );
    const panel = mount(core, runs);
    await panel.refresh();
    await new Promise(resolve => setTimeout(resolve, 0));
    panel.node.querySelector<HTMLButtonElement>('[data-action="prune"]')!.click();
    await new Promise(resolve => setTimeout(resolve, 50));
    const dialog = document.querySelector('.jp-Dialog')!;
    expect(dialog).not.toBeNull();
    expect(dialog.textContent).toContain('dev-mnist-predictor-default-00001');
    expect(dialog.textContent).not.toContain('dev-mnist-predictor-default-00003');
    dialog.querySelector<HTMLButtonElement>('.jp-mod-reject')!.click();
    await new Promise(resolve => setTimeout(resolve, 0));
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
