// The runs panel's pure part: merging the cluster's runs with this browser's records, grouping
// by notebook and cell, naming a run's notebook and cell, finding orphans, formatting ages. No
// DOM, no JupyterLab: panel.ts renders what these functions compute, and
// src/__tests__/panel.spec.ts tests them.
import type { RunSummary } from 'kaptain-wasm';
import type { RunRecord, RunState } from './tokens';

/** One object of a run as the panel lists it. */
export interface PanelObject {
  kind: string;
  name: string;
  /** The cluster's state (e.g. "Running"), else the last one this browser saw. */
  state: string;
  /** Whether the object is in the cluster (false: only this browser's record names it). */
  inCluster: boolean;
  /** A deployment, as the core says: Revisions serve traffic behind it. */
  serving: boolean;
}

/** One run as the panel shows it: the cluster's truth, completed by this browser's record. */
export interface PanelRun {
  runId: string;
  step: string;
  modelId: string;
  notebook: string | null;
  cellId: string | null;
  /** Lower-case: the cluster's status ("running", "succeeded", "ready"...), or this browser's
   * run state while it follows the run ("starting", "running", "cleaning"). */
  status: string;
  /** Seconds since the run's newest object was created (or since this browser started it). */
  ageSeconds: number;
  objects: PanelObject[];
  /** Found in the cluster by label. */
  inCluster: boolean;
  /** Started by this notebook server (the panel shows others' only when asked for all). */
  ours: boolean;
  /** The label value of the notebook server that started it; null: not a notebook server. */
  server: string | null;
  /** Started in this browser (its ledger has a record of it). */
  local: boolean;
  /** This browser is following it now (starting, running or cleaning). */
  live: boolean;
  /** The record's message (an outcome or an error), if any. */
  message?: string;
}

export const LIVE_STATES: readonly RunState[] = ['starting', 'running', 'cleaning'];

/** Whether a record is a run this browser still follows. */
export function isLive(record: Pick<RunRecord, 'state'>): boolean {
  return LIVE_STATES.includes(record.state);
}

/**
 * Merges the cluster's runs (found by label: the truth about what exists) with this browser's
 * records of the same namespace. A run in both keeps the cluster's objects and takes the
 * record's notebook / cell when the objects carry none, and the record's state while this
 * browser follows the run. A record with nothing in the cluster shows only while it is live
 * (its objects may not be created yet); ended ones are gone from the cluster and from here.
 * Newest first.
 */
export function mergeRuns(
  cluster: readonly RunSummary[],
  records: readonly RunRecord[],
  namespace: string,
  nowMillis: number
): PanelRun[] {
  const byId = new Map<string, RunRecord>();
  for (const record of records) {
    if (record.namespace === namespace || !record.namespace) {
      byId.set(record.runId, record);
    }
  }
  const merged: PanelRun[] = [];
  const seen = new Set<string>();
  for (const run of cluster) {
    seen.add(run.run_id);
    const record = byId.get(run.run_id);
    const live = record ? isLive(record) : false;
    const objects: PanelObject[] = run.objects.map(o => ({
      kind: o.kind,
      name: o.name,
      state: o.state,
      inCluster: true,
      serving: o.serving
    }));
    merged.push({
      runId: run.run_id,
      // The cell's step (a train run mid-build shows train); the cluster knows only the last reached.
      step: record?.step || run.step || '',
      modelId: run.model_id || record?.modelId || '',
      notebook: run.notebook ?? (record?.notebook || null),
      cellId: run.cell_id ?? (record?.cellId || null),
      status: (live && record ? record.state : run.status || 'unknown').toLowerCase(),
      ageSeconds: Math.max(0, run.age_seconds),
      objects,
      inCluster: true,
      ours: run.ours,
      server: run.notebook_server,
      local: !!record,
      live,
      message: record?.message
    });
  }
  for (const record of byId.values()) {
    if (seen.has(record.runId) || !isLive(record)) {
      continue;
    }
    merged.push({
      runId: record.runId,
      step: record.step,
      modelId: record.modelId,
      notebook: record.notebook || null,
      cellId: record.cellId || null,
      status: record.state,
      ageSeconds: Math.max(0, Math.round((nowMillis - record.startedAt) / 1000)),
      objects: record.objects.map(o => ({ kind: o.kind, name: o.name, state: o.state, inCluster: false, serving: false })),
      inCluster: false,
      ours: true,
      server: null,
      local: true,
      live: true,
      message: record.message
    });
  }
  merged.sort((a, b) => a.ageSeconds - b.ageSeconds || a.runId.localeCompare(b.runId));
  return merged;
}

/** The runs of one cell of one notebook. */
export interface CellGroup {
  cellId: string | null;
  runs: PanelRun[];
}

/** The runs of one notebook (null: runs started elsewhere, e.g. by the CLI). */
export interface NotebookGroup {
  notebook: string | null;
  cells: CellGroup[];
}

/**
 * Groups runs by notebook, then cell. Groups come in the order of their newest run (the
 * input's order when it is newest first, as mergeRuns gives it); runs without a notebook
 * come last, in one group.
 */
export function groupRuns(runs: readonly PanelRun[]): NotebookGroup[] {
  const notebooks = new Map<string | null, Map<string | null, PanelRun[]>>();
  const sorted = [...runs].sort((a, b) => a.ageSeconds - b.ageSeconds);
  for (const run of sorted) {
    let cells = notebooks.get(run.notebook);
    if (!cells) {
      cells = new Map();
      notebooks.set(run.notebook, cells);
    }
    const list = cells.get(run.cellId);
    if (list) {
      list.push(run);
    } else {
      cells.set(run.cellId, [run]);
    }
  }
  const groups: NotebookGroup[] = [];
  for (const [notebook, cells] of notebooks) {
    groups.push({
      notebook,
      cells: [...cells].map(([cellId, list]) => ({ cellId, runs: list }))
    });
  }
  // Map iteration keeps insertion order, that is newest first; null goes last.
  return [...groups.filter(g => g.notebook !== null), ...groups.filter(g => g.notebook === null)];
}

/** A short age: "12 s", "3 min", "5 h", "2 d". */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) {
    return `${s} s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)} min`;
  }
  if (s < 86400) {
    return `${Math.floor(s / 3600)} h`;
  }
  return `${Math.floor(s / 86400)} d`;
}

/**
 * What the contents lookup tells about a notebook: null when it does not exist; otherwise the
 * ids of its cells in the notebook's order (cells without an id, as in nbformat < 4.5, are left
 * out).
 */
export type NotebookLookup = (path: string) => Promise<{ cellIds: string[] } | null>;

/** The last part of a notebook's path (paths relative to the server root, '/'-separated). */
export function fileName(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return parts.length > 0 ? parts[parts.length - 1] : path;
}

/** Where a run came from, as its card names it: a short text and what its hover shows. */
export interface RunPlace {
  /** The notebook's file name, and the cell's position when it is known: "actions.ipynb · cell 3". */
  text: string;
  /** The whole path and the cell id, one a line, and why no position is shown when none is. */
  title: string;
  /** 1-based position of the cell in the open notebook; null when not open, gone or unknown. */
  position: number | null;
}

/**
 * How a run's card names its notebook and cell. `openCellIds`: the ids of the notebook's cells
 * in the order JupyterLab shows them while the notebook is open in this browser (counted from 1,
 * as the table of contents and the prompts count), undefined when it is not open: its file may
 * differ from what was run, and reading it on every poll costs the whole notebook, so only the
 * name is shown then.
 */
export function runPlace(
  notebook: string,
  cellId: string | null,
  openCellIds: readonly string[] | undefined
): RunPlace {
  const name = fileName(notebook);
  const lines = [notebook];
  if (cellId === null) {
    lines.push('The run does not say which cell it came from');
    return { text: name, title: lines.join('\n'), position: null };
  }
  lines.push(`cell id ${cellId}`);
  if (openCellIds === undefined) {
    lines.push("The cell's position shows while the notebook is open");
    return { text: name, title: lines.join('\n'), position: null };
  }
  const index = openCellIds.indexOf(cellId);
  if (index < 0) {
    lines.push('This cell is no longer in the open notebook');
    return { text: `${name} · cell gone`, title: lines.join('\n'), position: null };
  }
  return { text: `${name} · cell ${index + 1}`, title: lines.join('\n'), position: index + 1 };
}

/** Why a run is an orphan. */
export interface Orphan {
  runId: string;
  reason: string;
}

/** What orphan detection found: the orphans, and the notebooks that could not be checked. */
export interface OrphanReport {
  orphans: Orphan[];
  /** Notebooks whose lookup failed (not a "does not exist"): their runs are left alone. */
  errors: { notebook: string; message: string }[];
}

/**
 * Runs whose notebook no longer exists, or whose cell is no longer in it. Runs without a
 * notebook (started elsewhere) are never orphans, nor are runs of another notebook server (its
 * notebooks are not this server's to look up); a run without a cell id is one only when its
 * notebook is gone; a notebook whose cells carry no ids at all cannot tell, so its runs are
 * kept. Runs this browser is following are never orphans. Each notebook is looked up once.
 */
export async function findOrphans(runs: readonly PanelRun[], lookup: NotebookLookup): Promise<OrphanReport> {
  const lookups = new Map<string, Promise<{ cellIds: string[] } | null>>();
  const orphans: Orphan[] = [];
  const errors = new Map<string, string>();
  for (const run of runs) {
    if (!run.notebook || run.live || !run.ours) {
      continue;
    }
    const path = run.notebook;
    let pending = lookups.get(path);
    if (!pending) {
      pending = lookup(path);
      lookups.set(path, pending);
    }
    let found: { cellIds: string[] } | null;
    try {
      found = await pending;
    } catch (error) {
      errors.set(path, error instanceof Error ? error.message : String(error));
      continue;
    }
    if (found === null) {
      orphans.push({ runId: run.runId, reason: `notebook ${path} no longer exists` });
    } else if (run.cellId && found.cellIds.length > 0 && !found.cellIds.includes(run.cellId)) {
      orphans.push({ runId: run.runId, reason: `its cell is no longer in ${path}` });
    }
  }
  return { orphans, errors: [...errors].map(([notebook, message]) => ({ notebook, message })) };
}

/** The cell ids of a notebook's JSON (contents API `content`), ignoring what is not a notebook. */
export function notebookCellIds(content: unknown): string[] {
  const cells = (content as { cells?: unknown } | null)?.cells;
  if (!Array.isArray(cells)) {
    return [];
  }
  return cells
    .map(cell => (cell as { id?: unknown } | null)?.id)
    .filter((id): id is string => typeof id === 'string' && id.length > 0);
}

/** Hours from the sweep's age input, in seconds; undefined when not a positive number. */
export function hoursToSeconds(value: string): number | undefined {
  const hours = Number(value.trim());
  if (!value.trim() || !Number.isFinite(hours) || hours <= 0) {
    return undefined;
  }
  return Math.round(hours * 3600);
}

/** The deployment (InferenceService) of a deploy run in the cluster, if it has one. */
export function inferenceServiceOf(run: Pick<PanelRun, 'objects'>): string | undefined {
  return run.objects.find(o => o.serving && o.inCluster)?.name;
}

/** A message from whatever a promise rejected with. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  if (typeof error === 'string') {
    return error;
  }
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}
