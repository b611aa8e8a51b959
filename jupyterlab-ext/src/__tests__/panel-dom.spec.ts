// The runs panel's DOM contract (what the Playwright tests rely on), with fake core and runs.
import { afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import type { RevisionInfo, RunSummary } from 'kaptain-wasm';

import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { CellShower, OpenCellOutcome, OpenNotebooks, RunsPanel, showCell, TrackedNotebooks } from '../panel';
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
    objects: [{ kind: 'TFJob', name: `dev-mnist-${run_id}`, step: 'train', state: 'Running', created: 1, finished: null, active: true, serving: false }],
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
          objects: [{ kind: 'InferenceService', name: 'dev-mnist', step: 'deploy', state: 'Ready', created: 1, serving: true }]
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

  it("names a run's notebook by its file and its cell by its position while open, the path and id on hover, a link to the cell", async () => {
    const path = 'projects/vision/experiments/2026/mnist.ipynb';
    const { core, runs } = fakes(async () => [
      summary('t1', { notebook: path, cell_id: 'kaptain-7f3a9c2e41', age_seconds: 10 }),
      summary('t2', { notebook: path, cell_id: 'gone-cell', age_seconds: 20 }),
      summary('c1', { notebook: 'closed.ipynb', cell_id: 'c-1', age_seconds: 30 }),
      summary('o1', { ours: false, notebook_server: '/user/bob/', notebook: path, cell_id: 'kaptain-7f3a9c2e41', age_seconds: 40 })
    ]);
    // mnist.ipynb is open (a markdown cell first), closed.ipynb is not.
    const open = new Map<string, string[]>([[path, ['md-1', 'kaptain-7f3a9c2e41']]]);
    const changed = new Signal<OpenNotebooks, void>({} as OpenNotebooks);
    const openNotebooks: OpenNotebooks = { cellIds: p => open.get(p), changed };
    const opened: [string, string | null][] = [];
    const openCell = jest.fn(async (notebook: string, cellId: string | null): Promise<OpenCellOutcome> => {
      opened.push([notebook, cellId]);
      return cellId === 'gone-cell' ? 'cell-gone' : cellId ? 'cell' : 'notebook';
    });
    const panel = mount(core, runs, { openCell, openNotebooks });
    const root = panel.node;
    const allServers = root.querySelector<HTMLInputElement>('input[name="all-servers"]')!;
    allServers.checked = true;
    allServers.dispatchEvent(new Event('change'));
    await panel.refresh();
    const place = (runId: string) => root.querySelector<HTMLElement>(`.kaptain-panel-run[data-run-id="${runId}"] .kaptain-panel-run-cell`)!;

    // The notebook's header: its name, its directory dimmed, the path on hover.
    const section = root.querySelector<HTMLElement>(`.kaptain-panel-notebook[data-notebook="${path}"]`)!;
    const title = section.querySelector<HTMLElement>('.kaptain-panel-notebook-title')!;
    expect(title.querySelector('.kaptain-panel-notebook-name')!.textContent).toBe('mnist.ipynb');
    expect(title.querySelector('.kaptain-panel-notebook-dir')!.textContent).toBe('projects/vision/experiments/2026');
    expect(title.title).toBe(path);

    // Each card: the file name and the cell's position in the open notebook, path and id on hover.
    expect(place('t1').textContent).toBe('mnist.ipynb · cell 2');
    expect(place('t1').dataset.position).toBe('2');
    expect(place('t1').title).toBe(`${path}\ncell id kaptain-7f3a9c2e41`);
    expect(place('t1').dataset.action).toBe('open-cell');
    expect(place('t2').textContent).toBe('mnist.ipynb · cell gone');
    // Not open: the name alone, no guessed position.
    expect(place('c1').textContent).toBe('closed.ipynb');
    expect(place('c1').dataset.position).toBe('');
    expect(place('c1').title).toContain("position shows while the notebook is open");
    // Another server's run: its notebook is not the one open here; named, not linked.
    expect(place('o1').textContent).toBe('mnist.ipynb');
    expect(place('o1').dataset.action).toBeUndefined();

    // The notebook opens: its positions replace the name alone; cells moved: positions follow.
    open.set('closed.ipynb', ['x', 'y', 'c-1']);
    changed.emit();
    await new Promise(resolve => setTimeout(resolve, 150));
    expect(place('c1').textContent).toBe('closed.ipynb · cell 3');
    open.set(path, ['kaptain-7f3a9c2e41', 'md-1']);
    changed.emit();
    await new Promise(resolve => setTimeout(resolve, 150));
    expect(place('t1').textContent).toBe('mnist.ipynb · cell 1');

    // The links: the notebook's name opens it; a card's place (click or Enter) opens its cell.
    section.querySelector<HTMLElement>('.kaptain-panel-notebook-name')!.click();
    place('t1').click();
    place('c1').dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(opened).toEqual([
      [path, null],
      [path, 'kaptain-7f3a9c2e41'],
      ['closed.ipynb', 'c-1']
    ]);
    expect(root.querySelector('.kaptain-panel-notice')).toBeNull();
    expect(root.querySelector('.kaptain-panel-error')).toBeNull();

    // A cell that is gone: said so, naming the cell and the notebook.
    place('t2').click();
    await new Promise(resolve => setTimeout(resolve, 0));
    const notice = root.querySelector('.kaptain-panel-notice')!;
    expect(notice.textContent).toContain(
      'The cell this run came from is no longer in mnist.ipynb: it was deleted, or the notebook was replaced (cell id gone-cell).'
    );
    expect(notice.textContent).toContain('The notebook is open.');
  });

  it('says why a notebook could not be opened from a card', async () => {
    const { core, runs } = fakes(async () => [summary('t1', { notebook: 'work/deleted.ipynb', cell_id: 'c-1' })]);
    const openCell = async (): Promise<OpenCellOutcome> => {
      throw new Error('it no longer exists');
    };
    const panel = mount(core, runs, { openCell });
    await panel.refresh();
    panel.node.querySelector<HTMLElement>('.kaptain-panel-run[data-run-id="t1"] [data-action="open-cell"]')!.click();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(panel.node.querySelector('.kaptain-panel-error')!.textContent).toContain(
      'Could not open work/deleted.ipynb: it no longer exists'
    );
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
          objects: [{ kind: 'InferenceService', name: 'dev-mnist', step: 'deploy', state: 'Ready', created: 1, serving: true }]
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

describe('showCell', () => {
  function notebook(ids: string[]) {
    const calls: string[] = [];
    const fake = {
      widgets: ids.map(id => ({ model: { id } })),
      activeCellIndex: 0,
      deselectAll: () => void calls.push('deselectAll'),
      scrollToItem: async (index: number, align?: string) => void calls.push(`scrollToItem ${index} ${align}`)
    };
    return { fake, calls, shower: fake as unknown as CellShower };
  }

  it('makes the cell with that id the active one, alone selected, scrolled to the middle', async () => {
    const { fake, calls, shower } = notebook(['a', 'b', 'c']);
    expect(await showCell(shower, 'c')).toBe(true);
    expect(fake.activeCellIndex).toBe(2);
    expect(calls).toEqual(['deselectAll', 'scrollToItem 2 center']);
  });

  it('changes nothing when no cell has that id', async () => {
    const { fake, calls, shower } = notebook(['a']);
    expect(await showCell(shower, 'gone')).toBe(false);
    expect(fake.activeCellIndex).toBe(0);
    expect(calls).toEqual([]);
  });
});

describe('TrackedNotebooks', () => {
  class FakeCells {
    changed = new Signal<FakeCells, void>(this);
    constructor(public ids: string[]) {}
    *[Symbol.iterator]() {
      for (const id of this.ids) {
        yield { id };
      }
    }
  }
  function fakePanel(path: string, ids: string[]) {
    let ready!: () => void;
    const panel = {
      isDisposed: false,
      disposed: new Signal<unknown, void>({}),
      context: {
        path,
        isReady: false,
        ready: new Promise<void>(resolve => (ready = resolve)),
        pathChanged: new Signal<unknown, string>({})
      },
      content: { model: { cells: new FakeCells(ids) }, modelChanged: new Signal<unknown, void>({}) }
    };
    const load = () => {
      panel.context.isReady = true;
      ready();
    };
    return { panel, load };
  }

  it("gives an open notebook's cells once it is loaded, and says when they change", async () => {
    const panels: unknown[] = [];
    const widgetAdded = new Signal<unknown, unknown>({});
    const tracker = {
      widgetAdded,
      forEach: (fn: (p: unknown) => void) => panels.forEach(fn),
      find: (fn: (p: unknown) => boolean) => panels.find(fn)
    } as unknown as INotebookTracker;
    const open = new TrackedNotebooks(tracker);
    let changes = 0;
    open.changed.connect(() => void changes++);

    const { panel, load } = fakePanel('work/a.ipynb', ['c1', 'c2']);
    panels.push(panel);
    widgetAdded.emit(panel as unknown as NotebookPanel);
    // Not loaded yet: its cells are not known (an empty notebook would say every cell is gone).
    expect(open.cellIds('work/a.ipynb')).toBeUndefined();
    load();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(open.cellIds('work/a.ipynb')).toEqual(['c1', 'c2']);
    expect(open.cellIds('work/other.ipynb')).toBeUndefined();

    const before = changes;
    panel.content.model.cells.ids = ['c2', 'c1'];
    panel.content.model.cells.changed.emit();
    expect(changes).toBe(before + 1);
    expect(open.cellIds('work/a.ipynb')).toEqual(['c2', 'c1']);

    panel.isDisposed = true;
    panel.disposed.emit();
    expect(changes).toBe(before + 2);
    expect(open.cellIds('work/a.ipynb')).toBeUndefined();
  });
});
