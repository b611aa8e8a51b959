// The run ledger: the runs of this browser in localStorage, so that a reload can show, follow
// or clean runs that were live (DESIGN §3). It stores RunRecord fields only, copied field by
// field: whatever else an object carries (a Secret's data, a token, an error's cause) never
// reaches the storage. Pod logs are not stored either (they are fetched again while a run lives).
// Every tab of the browser shares it; a tab writes only the runs it follows or cleans up
// (runs.ts) and hears of the others' writes through `watch`.
import type { ObjectRef, Outcome } from 'kaptain-wasm';
import type { RunObjectView, RunRecord, RunState } from './tokens';

export const LEDGER_KEY = 'kaptain:runs:v1';

/**
 * What tells this notebook server's browser state (ledger, run locks, tab channel) from that of
 * other servers on the same origin: its base URL, as the page has it (`/user/alice/`,
 * `/notebook/team-a/mnist/`). Browser storage, locks and channels are per origin, and a hub or
 * a Kubeflow profile serves several servers from one origin.
 */
export function serverScope(baseUrl: string): string {
  try {
    return new URL(baseUrl, 'http://origin.invalid').pathname;
  } catch {
    return baseUrl;
  }
}

/** The ledger's storage key for a server (see serverScope). */
export const ledgerKey = (server: string): string => `${LEDGER_KEY}:${server}`;
/** Ended runs kept in the ledger (live runs are always kept). */
export const MAX_ENDED = 50;
/** Longest cell text the ledger keeps (a cell is short; this bounds a pasted blob). */
export const MAX_CELL_CHARS = 64 * 1024;
/** Most objects per run the ledger keeps. */
export const MAX_OBJECTS = 200;

const STATES: readonly RunState[] = [
  'starting',
  'running',
  'cleaning',
  'succeeded',
  'failed',
  'interrupted',
  'error'
];
const LIVE: readonly RunState[] = ['starting', 'running', 'cleaning'];
const OUTCOMES: readonly Outcome[] = ['succeeded', 'failed', 'interrupted'];

export function isLive(record: Pick<RunRecord, 'state'>): boolean {
  return LIVE.includes(record.state);
}

const str = (value: unknown, max = 4096): string =>
  typeof value === 'string' ? value.slice(0, max) : value === undefined || value === null ? '' : String(value).slice(0, max);
const num = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;

function ref(value: unknown): ObjectRef {
  const v = (value ?? {}) as Record<string, unknown>;
  return { kind: str(v.kind, 253), name: str(v.name, 253) };
}

function object(value: unknown): RunObjectView {
  const v = (value ?? {}) as Record<string, unknown>;
  const out: RunObjectView = {
    kind: str(v.kind, 253),
    name: str(v.name, 253),
    state: str(v.state, 253),
    message: str(v.message)
  };
  const fate = v.fate as Record<string, unknown> | undefined;
  if (fate && (fate.action === 'delete' || fate.action === 'keep' || fate.action === 'restore' || fate.action === 'remains')) {
    out.fate = { action: fate.action, reason: str(fate.reason) };
  }
  return out;
}

/**
 * The record as the ledger stores it: a fresh object with RunRecord's fields only (each
 * nested value copied field by field), without logs. Undefined when it is not a run record.
 */
export function toStored(value: unknown): RunRecord | undefined {
  const v = (value ?? {}) as Record<string, unknown>;
  if (typeof v.runId !== 'string' || !v.runId || !STATES.includes(v.state as RunState)) {
    return undefined;
  }
  const record: RunRecord = {
    runId: str(v.runId, 64),
    notebook: str(v.notebook),
    cellId: str(v.cellId, 256),
    cell: str(v.cell, MAX_CELL_CHARS),
    step: str(v.step, 32),
    modelId: str(v.modelId, 253),
    namespace: str(v.namespace, 253),
    state: v.state as RunState,
    startedAt: num(v.startedAt) ?? 0,
    phases: (Array.isArray(v.phases) ? v.phases : []).slice(0, 16).map(p => {
      const phase = (p ?? {}) as Record<string, unknown>;
      const out: RunRecord['phases'][number] = { phase: str(phase.phase, 32) };
      if (OUTCOMES.includes(phase.outcome as Outcome)) {
        out.outcome = phase.outcome as Outcome;
      }
      if (phase.message !== undefined) {
        out.message = str(phase.message);
      }
      return out;
    }),
    objects: (Array.isArray(v.objects) ? v.objects : []).slice(0, MAX_OBJECTS).map(object)
  };
  const endedAt = num(v.endedAt);
  if (endedAt !== undefined) {
    record.endedAt = endedAt;
  }
  if (v.message !== undefined) {
    record.message = str(v.message);
  }
  const cleanup = v.cleanup as Record<string, unknown> | undefined;
  if (cleanup && typeof cleanup === 'object') {
    record.cleanup = {
      deleted: (Array.isArray(cleanup.deleted) ? cleanup.deleted : []).slice(0, MAX_OBJECTS).map(ref),
      remaining: (Array.isArray(cleanup.remaining) ? cleanup.remaining : [])
        .slice(0, MAX_OBJECTS)
        .map(entry => {
          const [what, why] = Array.isArray(entry) ? entry : [entry, ''];
          return [ref(what), str(why)] as [ObjectRef, string];
        }),
      millis: num(cleanup.millis) ?? 0
    };
  }
  return record;
}

/** Every live run, and the newest `maxEnded` ended ones; newest first. */
export function bound(records: RunRecord[], maxEnded = MAX_ENDED): RunRecord[] {
  const sorted = [...records].sort((a, b) => b.startedAt - a.startedAt);
  let ended = 0;
  return sorted.filter(record => isLive(record) || ++ended <= maxEnded);
}

/** The ledger in a Storage (localStorage in the browser). */
export class Ledger {
  constructor(
    private storage: Storage | null = typeof localStorage !== 'undefined' ? localStorage : null,
    readonly key = ledgerKey('/'),
    readonly maxEnded = MAX_ENDED
  ) {}

  /** The stored runs; an unreadable ledger counts as empty. */
  load(): RunRecord[] {
    try {
      const text = this.storage?.getItem(this.key);
      const parsed = text ? (JSON.parse(text) as unknown) : [];
      return (Array.isArray(parsed) ? parsed : [])
        .map(toStored)
        .filter((r): r is RunRecord => !!r);
    } catch {
      return [];
    }
  }

  /** Stores the runs (bounded, RunRecord fields only); returns what was stored. */
  save(records: RunRecord[]): RunRecord[] {
    const stored = bound(
      records.map(toStored).filter((r): r is RunRecord => !!r),
      this.maxEnded
    );
    try {
      this.storage?.setItem(this.key, JSON.stringify(stored));
    } catch {
      // Storage full or denied: the runs still live in memory.
    }
    return stored;
  }

  /**
   * Calls `listener` when another tab changed the ledger (the browser's `storage` event, which
   * the tab that wrote does not get); returns the unsubscribe.
   */
  watch(listener: () => void): () => void {
    if (typeof window === 'undefined' || !this.storage) {
      return () => undefined;
    }
    const onStorage = (event: StorageEvent) => {
      if (event.storageArea === this.storage && (event.key === this.key || event.key === null)) {
        listener();
      }
    };
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }
}
