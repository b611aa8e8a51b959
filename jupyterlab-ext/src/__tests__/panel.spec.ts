// The runs panel's pure part: merge, grouping, orphans, ages, the sweep's age input.
import { describe, expect, it, jest } from '@jest/globals';
import type { RunSummary } from 'kaptain-wasm';

import {
  errorMessage,
  fileName,
  findOrphans,
  formatAge,
  groupRuns,
  hoursToSeconds,
  inferenceServiceOf,
  mergeRuns,
  NotebookLookup,
  notebookCellIds,
  PanelRun,
  runPlace
} from '../panel-model';
import type { RunRecord } from '../tokens';

const NOW = 1_800_000_000_000;

function summary(run_id: string, extra: Partial<RunSummary> = {}): RunSummary {
  return {
    run_id,
    model_id: 'dev-mnist',
    step: 'train',
    status: 'Running',
    age_seconds: 60,
    ended_seconds_ago: null,
    notebook_server: 'user.alice',
    ours: true,
    notebook: 'work/mnist.ipynb',
    cell_id: 'cell-a',
    objects: [
      { kind: 'Job', name: `dev-mnist-${run_id}-build`, step: 'build', state: 'Succeeded', created: 1, finished: 1, active: false, serving: false },
      { kind: 'TFJob', name: `dev-mnist-${run_id}`, step: 'train', state: 'Running', created: 2, finished: null, active: true, serving: false }
    ],
    ...extra
  };
}

function record(runId: string, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    runId,
    notebook: 'work/mnist.ipynb',
    cellId: 'cell-a',
    cell: '%%kaptain train\n',
    step: 'train',
    modelId: 'dev/mnist',
    namespace: 'team',
    state: 'running',
    startedAt: NOW - 30_000,
    phases: [],
    objects: [],
    ...extra
  };
}

function panelRun(runId: string, extra: Partial<PanelRun> = {}): PanelRun {
  return {
    runId,
    step: 'train',
    modelId: 'dev-mnist',
    notebook: 'a.ipynb',
    cellId: 'c1',
    status: 'running',
    ageSeconds: 10,
    objects: [],
    inCluster: true,
    ours: true,
    server: 'user.alice',
    local: false,
    live: false,
    ...extra
  };
}

describe('formatAge', () => {
  it('gives seconds, minutes, hours and days, rounded down', () => {
    expect(formatAge(0)).toBe('0 s');
    expect(formatAge(59.9)).toBe('59 s');
    expect(formatAge(60)).toBe('1 min');
    expect(formatAge(3 * 60 + 59)).toBe('3 min');
    expect(formatAge(3600)).toBe('1 h');
    expect(formatAge(23 * 3600 + 3599)).toBe('23 h');
    expect(formatAge(2 * 86400 + 5)).toBe('2 d');
  });

  it('never shows a negative age (clock skew)', () => {
    expect(formatAge(-5)).toBe('0 s');
  });
});

describe('mergeRuns', () => {
  it('takes the cluster runs as they are, status lower-cased', () => {
    const merged = mergeRuns([summary('r1', { status: 'Succeeded' })], [], 'team', NOW);
    expect(merged).toHaveLength(1);
    expect(merged[0]).toMatchObject({
      runId: 'r1',
      step: 'train',
      status: 'succeeded',
      notebook: 'work/mnist.ipynb',
      cellId: 'cell-a',
      inCluster: true,
      local: false,
      live: false
    });
    expect(merged[0].objects.map(o => `${o.kind}/${o.name}/${o.state}`)).toEqual([
      'Job/dev-mnist-r1-build/Succeeded',
      'TFJob/dev-mnist-r1/Running'
    ]);
  });

  it("uses the record's state while this browser follows the run", () => {
    const merged = mergeRuns([summary('r1', { status: 'Succeeded' })], [record('r1', { state: 'cleaning' })], 'team', NOW);
    expect(merged[0]).toMatchObject({ status: 'cleaning', local: true, live: true });
  });

  it("shows the cell's step while a train run is still building", () => {
    const building = summary('r1', { step: 'build', status: 'Running' });
    expect(mergeRuns([building], [], 'team', NOW)[0].step).toBe('build');
    expect(mergeRuns([building], [record('r1', { step: 'train' })], 'team', NOW)[0].step).toBe('train');
  });

  it('keeps the cluster status once the record has ended', () => {
    const merged = mergeRuns([summary('r1', { status: 'Failed' })], [record('r1', { state: 'failed' })], 'team', NOW);
    expect(merged[0]).toMatchObject({ status: 'failed', local: true, live: false });
  });

  it("fills notebook and cell from the record when the objects carry none", () => {
    const merged = mergeRuns(
      [summary('r1', { notebook: null, cell_id: null })],
      [record('r1', { notebook: 'x.ipynb', cellId: 'c9', state: 'succeeded' })],
      'team',
      NOW
    );
    expect(merged[0]).toMatchObject({ notebook: 'x.ipynb', cellId: 'c9' });
  });

  it('adds live records with nothing in the cluster yet, and leaves out ended ones', () => {
    const merged = mergeRuns(
      [summary('r1', { age_seconds: 100 })],
      [
        record('new', { state: 'starting', objects: [{ kind: 'Secret', name: 's', state: 'created', message: '' }] }),
        record('gone', { state: 'succeeded' })
      ],
      'team',
      NOW
    );
    expect(merged.map(r => r.runId)).toEqual(['new', 'r1']);
    expect(merged[0]).toMatchObject({ status: 'starting', ageSeconds: 30, inCluster: false, local: true, live: true });
    expect(merged[0].objects[0]).toMatchObject({ kind: 'Secret', name: 's', inCluster: false });
  });

  it("ignores records of another namespace", () => {
    const merged = mergeRuns([], [record('elsewhere', { namespace: 'other' })], 'team', NOW);
    expect(merged).toEqual([]);
  });

  it('sorts newest first', () => {
    const merged = mergeRuns(
      [summary('old', { age_seconds: 500 }), summary('young', { age_seconds: 5 }), summary('mid', { age_seconds: 50 })],
      [],
      'team',
      NOW
    );
    expect(merged.map(r => r.runId)).toEqual(['young', 'mid', 'old']);
  });
});

describe('groupRuns', () => {
  it('groups by notebook then cell, newest first, runs without a notebook last', () => {
    const groups = groupRuns([
      panelRun('cli', { notebook: null, cellId: null, ageSeconds: 1 }),
      panelRun('a1', { notebook: 'a.ipynb', cellId: 'c1', ageSeconds: 5 }),
      panelRun('b1', { notebook: 'b.ipynb', cellId: 'c1', ageSeconds: 3 }),
      panelRun('a2', { notebook: 'a.ipynb', cellId: 'c2', ageSeconds: 7 }),
      panelRun('a3', { notebook: 'a.ipynb', cellId: 'c1', ageSeconds: 9 })
    ]);
    expect(groups.map(g => g.notebook)).toEqual(['b.ipynb', 'a.ipynb', null]);
    const a = groups[1];
    expect(a.cells.map(c => c.cellId)).toEqual(['c1', 'c2']);
    expect(a.cells[0].runs.map(r => r.runId)).toEqual(['a1', 'a3']);
    expect(groups[2].cells).toEqual([{ cellId: null, runs: [expect.objectContaining({ runId: 'cli' })] }]);
  });

  it('gives nothing for no runs', () => {
    expect(groupRuns([])).toEqual([]);
  });
});

describe('findOrphans', () => {
  const notebooks: Record<string, string[]> = {
    'a.ipynb': ['c1', 'c2'],
    'old.ipynb': [] // nbformat < 4.5: no cell ids
  };
  const lookup: NotebookLookup = async path => (path in notebooks ? { cellIds: notebooks[path] } : null);

  it('finds runs whose notebook is gone or whose cell is gone', async () => {
    const report = await findOrphans(
      [
        panelRun('ok', { notebook: 'a.ipynb', cellId: 'c1' }),
        panelRun('cell-gone', { notebook: 'a.ipynb', cellId: 'c3' }),
        panelRun('nb-gone', { notebook: 'gone.ipynb', cellId: 'c1' }),
        panelRun('nb-gone-no-cell', { notebook: 'gone.ipynb', cellId: null })
      ],
      lookup
    );
    expect(report.orphans).toEqual([
      { runId: 'cell-gone', reason: 'its cell is no longer in a.ipynb' },
      { runId: 'nb-gone', reason: 'notebook gone.ipynb no longer exists' },
      { runId: 'nb-gone-no-cell', reason: 'notebook gone.ipynb no longer exists' }
    ]);
    expect(report.errors).toEqual([]);
  });

  it("never calls runs without a notebook, runs followed here, runs of id-less notebooks or another server's runs orphans", async () => {
    const report = await findOrphans(
      [
        panelRun('cli', { notebook: null, cellId: null }),
        panelRun('live', { notebook: 'gone.ipynb', live: true }),
        panelRun('old-format', { notebook: 'old.ipynb', cellId: 'c7' }),
        // Its notebook is on bob's server, not missing from this one.
        panelRun('bobs', { notebook: 'gone.ipynb', ours: false, server: 'user.bob' })
      ],
      lookup
    );
    expect(report.orphans).toEqual([]);
  });

  it('looks each notebook up once', async () => {
    const spy = jest.fn(lookup);
    await findOrphans(
      [panelRun('1', { notebook: 'a.ipynb' }), panelRun('2', { notebook: 'a.ipynb' }), panelRun('3', { notebook: 'gone.ipynb' })],
      spy
    );
    expect(spy.mock.calls.map(c => c[0])).toEqual(['a.ipynb', 'gone.ipynb']);
  });

  it('leaves runs alone when their notebook cannot be checked, and says so', async () => {
    const failing: NotebookLookup = async path => {
      if (path === 'denied.ipynb') {
        throw new Error('403 Forbidden');
      }
      return lookup(path);
    };
    const report = await findOrphans(
      [panelRun('d1', { notebook: 'denied.ipynb' }), panelRun('d2', { notebook: 'denied.ipynb' }), panelRun('g', { notebook: 'gone.ipynb' })],
      failing
    );
    expect(report.orphans.map(o => o.runId)).toEqual(['g']);
    expect(report.errors).toEqual([{ notebook: 'denied.ipynb', message: '403 Forbidden' }]);
  });
});

describe('notebookCellIds', () => {
  it("reads the cells' ids of a notebook's JSON", () => {
    expect(notebookCellIds({ cells: [{ id: 'a' }, { id: 'b' }, {}, { id: '' }] })).toEqual(['a', 'b']);
  });

  it('gives nothing for what is not a notebook', () => {
    expect(notebookCellIds('text file')).toEqual([]);
    expect(notebookCellIds(null)).toEqual([]);
    expect(notebookCellIds({ cells: 'x' })).toEqual([]);
  });
});

describe('hoursToSeconds', () => {
  it('reads positive hours, fractions too', () => {
    expect(hoursToSeconds('24')).toBe(86400);
    expect(hoursToSeconds(' 0.5 ')).toBe(1800);
  });

  it('refuses what is not a positive number', () => {
    for (const bad of ['', ' ', '0', '-1', 'abc', 'Infinity']) {
      expect(hoursToSeconds(bad)).toBeUndefined();
    }
  });
});

describe('inferenceServiceOf and errorMessage', () => {
  it("finds a deploy run's deployment in the cluster by what the core says it is", () => {
    expect(
      inferenceServiceOf({
        objects: [
          { kind: 'Secret', name: 's', state: '', inCluster: true, serving: false },
          { kind: 'InferenceService', name: 'dev-mnist', state: 'Ready', inCluster: true, serving: true }
        ]
      })
    ).toBe('dev-mnist');
    expect(inferenceServiceOf({ objects: [{ kind: 'InferenceService', name: 'x', state: '', inCluster: false, serving: true }] })).toBeUndefined();
  });

  it('turns rejections into messages', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage({ code: 1 })).toBe('{"code":1}');
  });
});

describe('runPlace', () => {
  const path = 'e2e/sessions-chromium/actions.ipynb';

  it("names the notebook by its file and the cell by its position in the open notebook, counted from 1", () => {
    expect(runPlace(path, 'c3', ['md', 'c2', 'c3'])).toEqual({
      text: 'actions.ipynb · cell 3',
      title: 'e2e/sessions-chromium/actions.ipynb\ncell id c3',
      position: 3
    });
  });

  it('shows the name alone when the notebook is not open, and says so on hover', () => {
    const place = runPlace(path, 'kaptain-7f3a9c2e41', undefined);
    expect(place.text).toBe('actions.ipynb');
    expect(place.position).toBeNull();
    expect(place.title.split('\n')).toEqual([
      'e2e/sessions-chromium/actions.ipynb',
      'cell id kaptain-7f3a9c2e41',
      "The cell's position shows while the notebook is open"
    ]);
  });

  it('says when the cell is no longer in the open notebook', () => {
    const place = runPlace(path, 'deleted', ['c1']);
    expect(place).toMatchObject({ text: 'actions.ipynb · cell gone', position: null });
    expect(place.title).toContain('cell id deleted');
    expect(place.title).toContain('no longer in the open notebook');
  });

  it('names no cell when the run did not say which', () => {
    const place = runPlace('top.ipynb', null, ['c1']);
    expect(place).toMatchObject({ text: 'top.ipynb', position: null });
    expect(place.title).toBe('top.ipynb\nThe run does not say which cell it came from');
  });

  it("takes a path's last part as the file name", () => {
    expect(fileName('a/b/c.ipynb')).toBe('c.ipynb');
    expect(fileName('c.ipynb')).toBe('c.ipynb');
    expect(fileName('a/b/')).toBe('b');
  });
});
