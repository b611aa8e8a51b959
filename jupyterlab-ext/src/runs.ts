// IKaptainRuns: the runs %%kaptain cells started in this browser. Live runs are followed by the
// wasm core's apply(); each has an AbortController whose abort is the interruption (the core
// then deletes everything of the run and resolves with outcome "interrupted"). The ledger
// (ledger.ts) keeps the records across reloads; a run that was live when the page went away is
// followed again with apply(..., { resume: true }).
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISignal, Signal } from '@lumino/signaling';

import type { ApplyOptions, CellSummary, RunEvent, RunReport } from 'kaptain-wasm';
import { installInterruptHooks } from './interrupts';
import { isLive, Ledger } from './ledger';
import { createRendererFactories, phaseProgress } from './output';
import { IKaptainCore, IKaptainRuns, RunObjectView, RunRecord } from './tokens';

/** How often pod logs are fetched while a run lives (ms). */
export const LOG_INTERVAL = 4000;
/** Lines per container the cell shows. */
export const LOG_TAIL_LINES = 30;

/** The message of anything thrown. */
export function errorMessage(reason: unknown): string {
  if (reason instanceof Error) {
    return reason.message;
  }
  if (typeof reason === 'string') {
    return reason;
  }
  try {
    return JSON.stringify(reason);
  } catch {
    return String(reason);
  }
}

function upsertObject(record: RunRecord, kind: string, name: string): RunObjectView {
  let object = record.objects.find(o => o.kind === kind && o.name === name);
  if (!object) {
    object = { kind, name, state: '', message: '' };
    record.objects.push(object);
  }
  return object;
}

/** A run event, applied to its record (pure; mutates the record). */
export function applyEvent(record: RunRecord, event: RunEvent): void {
  switch (event.event) {
    case 'validated':
      break;
    case 'created': {
      const object = upsertObject(record, event.kind, event.name);
      object.state = event.resumed ? 'Found' : 'Created';
      if (event.resumed && record.state === 'starting') {
        record.state = 'running';
      }
      break;
    }
    case 'status': {
      const object = upsertObject(record, event.kind, event.name);
      object.state = event.state;
      object.message = event.message;
      if (record.state === 'starting') {
        record.state = 'running';
      }
      break;
    }
    case 'phase-ended': {
      const phase = record.phases.find(p => p.phase === event.phase);
      if (phase) {
        phase.outcome = event.outcome;
        phase.message = event.message;
      } else {
        record.phases.push({ phase: event.phase, outcome: event.outcome, message: event.message });
      }
      break;
    }
    case 'deleted':
      upsertObject(record, event.kind, event.name).fate = { action: 'delete', reason: event.reason };
      break;
    case 'kept':
      upsertObject(record, event.kind, event.name).fate = { action: 'keep', reason: event.reason };
      break;
    case 'remains':
      upsertObject(record, event.kind, event.name).fate = { action: 'remains', reason: event.why };
      break;
    default:
      break;
  }
}

/** The run's report, applied to its record (pure; mutates the record). */
export function applyReport(record: RunRecord, report: RunReport, now: number, interruptedAt?: number): void {
  // An interruption ends the phase the run was in (the report names the cell's step).
  const current = phaseProgress(record).find(p => p.outcome === 'running')?.phase;
  const phase = report.outcome === 'interrupted' && current ? current : report.phase;
  record.state = report.outcome;
  record.message = report.message;
  record.endedAt = now;
  for (const created of report.created) {
    upsertObject(record, created.kind, created.name);
  }
  // The plan also names objects the run never got to create (a train run whose build
  // failed): only those that exist get a fate.
  for (const entry of report.plan) {
    const object = record.objects.find(o => o.kind === entry.kind && o.name === entry.name);
    if (object && !object.fate) {
      object.fate = { action: entry.action, reason: entry.reason };
    }
  }
  if (!record.phases.some(p => p.phase === phase)) {
    record.phases.push({ phase, outcome: report.outcome, message: report.message });
  }
  if (report.cleanup) {
    const gone = new Set(report.cleanup.deleted.map(o => `${o.kind}/${o.name}`));
    for (const object of record.objects) {
      if (gone.has(`${object.kind}/${object.name}`) && object.fate?.action !== 'delete') {
        object.fate = { action: 'delete', reason: 'the run was interrupted' };
      }
    }
    for (const [what, why] of report.cleanup.remaining) {
      upsertObject(record, what.kind, what.name).fate = { action: 'remains', reason: why };
    }
    record.cleanup = {
      deleted: report.cleanup.deleted,
      remaining: report.cleanup.remaining,
      millis: interruptedAt !== undefined ? Math.max(0, now - interruptedAt) : 0
    };
  }
}

/** What the executor passes to start a run. */
export interface StartOptions {
  cell: string;
  summary: CellSummary;
  notebook: string;
  cellId: string;
}

interface Follower {
  controller: AbortController;
  /** When the interruption was asked for (ms since the epoch), once. */
  interruptedAt?: number;
  why?: string;
  done: Promise<RunRecord>;
}

export class RunsModel implements IKaptainRuns {
  constructor(
    private core: IKaptainCore,
    options: { ledger?: Ledger; now?: () => number; logInterval?: number } = {}
  ) {
    this._ledger = options.ledger ?? new Ledger();
    this._now = options.now ?? Date.now;
    this._logInterval = options.logInterval ?? LOG_INTERVAL;
    for (const record of this._ledger.load()) {
      this._records.set(record.runId, record);
    }
  }

  get changed(): ISignal<IKaptainRuns, RunRecord> {
    return this._changed;
  }

  get runs(): readonly RunRecord[] {
    return [...this._records.values()].sort((a, b) => b.startedAt - a.startedAt);
  }

  get(runId: string): RunRecord | undefined {
    return this._records.get(runId);
  }

  live(): RunRecord[] {
    return this.runs.filter(isLive);
  }

  /** Whether this page follows the run (a cell or a resume is waiting for its end). */
  isFollowed(runId: string): boolean {
    return this._followers.has(runId);
  }

  /**
   * Starts a run and follows it to its end: resolves with the ended record (also when it was
   * interrupted or failed), never rejects.
   */
  start(options: StartOptions): Promise<RunRecord> {
    const { summary } = options;
    const record: RunRecord = {
      runId: summary.runId,
      notebook: options.notebook,
      cellId: options.cellId,
      cell: options.cell,
      step: summary.step,
      modelId: summary.modelId,
      namespace: summary.namespace,
      state: 'starting',
      startedAt: this._now(),
      phases: [],
      objects: []
    };
    this._records.set(record.runId, record);
    this.emit(record);
    return this.follow(record, false);
  }

  /** Follows again, after a reload, every run the ledger holds as live. */
  resumeAll(): Promise<RunRecord[]> {
    return Promise.all(
      this.live()
        .filter(record => !this._followers.has(record.runId))
        .map(record => this.follow(record, true))
    );
  }

  interrupt(notebook: string, why: string, options: { before?: number } = {}): Promise<void> {
    const waits: Promise<unknown>[] = [];
    for (const record of this.live()) {
      if (record.notebook !== notebook) {
        continue;
      }
      if (options.before !== undefined && record.startedAt > options.before) {
        continue; // started after what interrupted (e.g. Restart and Run All's new run)
      }
      const follower = this._followers.get(record.runId);
      if (follower) {
        if (follower.interruptedAt === undefined) {
          follower.interruptedAt = this._now();
          follower.why = why;
          record.state = 'cleaning';
          record.message = `Interrupted (${why}): deleting everything of the run…`;
          this.emit(record);
          follower.controller.abort(new DOMException(why, 'AbortError'));
        }
        waits.push(follower.done);
      } else {
        waits.push(this.cleanup(record.runId));
      }
    }
    return Promise.all(waits).then(() => undefined);
  }

  async cleanup(runId: string): Promise<void> {
    const follower = this._followers.get(runId);
    if (follower) {
      const record = this._records.get(runId);
      if (record) {
        await this.interrupt(record.notebook, 'cleanup asked for');
      }
      await follower.done;
      return;
    }
    const running = this._cleanups.get(runId);
    if (running) {
      return running;
    }
    const cleaning = this.cleanupNow(runId).finally(() => this._cleanups.delete(runId));
    this._cleanups.set(runId, cleaning);
    return cleaning;
  }

  forget(runId: string): void {
    const record = this._records.get(runId);
    if (!record) {
      return;
    }
    this._followers.get(runId)?.controller.abort(new DOMException('forgotten', 'AbortError'));
    this._records.delete(runId);
    this._forgotten.add(runId);
    this.save();
    this._changed.emit(record);
  }

  dispose(): void {
    for (const timer of this._logTimers.values()) {
      clearInterval(timer);
    }
    this._logTimers.clear();
  }

  private async cleanupNow(runId: string): Promise<void> {
    const record = this._records.get(runId);
    const before = record?.state;
    const startedAt = this._now();
    if (record) {
      record.state = 'cleaning';
      record.message = 'Deleting everything of the run…';
      this.emit(record);
    }
    try {
      const wasm = await this.core.wasm();
      const cluster = await this.core.cluster();
      const report = await wasm.cleanup(runId, {
        ...cluster,
        namespace: record?.namespace || cluster.namespace
      });
      if (record) {
        const gone = new Set(report.deleted.map(o => `${o.kind}/${o.name}`));
        for (const object of record.objects) {
          if (gone.has(`${object.kind}/${object.name}`)) {
            object.fate = { action: 'delete', reason: 'cleaned up' };
          }
        }
        for (const [what, why] of report.remaining) {
          upsertObject(record, what.kind, what.name).fate = { action: 'remains', reason: why };
        }
        for (const what of report.deleted) {
          upsertObject(record, what.kind, what.name).fate ??= { action: 'delete', reason: 'cleaned up' };
        }
        record.cleanup = {
          deleted: report.deleted,
          remaining: report.remaining,
          millis: this._now() - startedAt
        };
        // A live run nobody followed counts as interrupted; an ended one keeps its outcome.
        record.state = !before || isLive({ state: before }) ? 'interrupted' : before;
        record.endedAt ??= this._now();
        record.message =
          `Cleaned up: deleted ${report.deleted.length} object${report.deleted.length === 1 ? '' : 's'}` +
          (report.remaining.length ? `; ${report.remaining.length} could not be confirmed gone` : '');
        this.emit(record);
      }
    } catch (reason) {
      if (record) {
        record.state = 'error';
        record.endedAt ??= this._now();
        record.message = `Cleanup failed: ${errorMessage(reason)}`;
        this.emit(record);
      }
      throw reason;
    }
  }

  private follow(record: RunRecord, resume: boolean): Promise<RunRecord> {
    const controller = new AbortController();
    const follower: Follower = { controller, done: Promise.resolve(record) };
    this._followers.set(record.runId, follower);
    follower.done = (async () => {
      try {
        const wasm = await this.core.wasm();
        const [cluster, env, settings] = await Promise.all([
          this.core.cluster(),
          this.core.env(),
          this.core.settings()
        ]);
        const options: ApplyOptions = {
          ...cluster,
          namespace: record.namespace || cluster.namespace,
          env,
          settings,
          runId: record.runId,
          notebook: record.notebook,
          cellId: record.cellId,
          signal: controller.signal
        };
        if (resume) {
          options.resume = true;
        }
        this.startLogs(record);
        const report = await wasm.apply(record.cell, options, event => {
          applyEvent(record, event);
          this.emit(record);
        });
        applyReport(record, report, this._now(), follower.interruptedAt);
        if (report.outcome === 'interrupted' && follower.why) {
          record.message = `Interrupted (${follower.why}). ${report.message}`.trim();
        }
      } catch (reason) {
        record.state = 'error';
        record.endedAt = this._now();
        record.message = resume
          ? `Could not follow the run after the reload: ${errorMessage(reason)}`
          : errorMessage(reason);
        if (follower.interruptedAt !== undefined) {
          record.message = `Interrupted (${follower.why}), but: ${record.message}`;
        }
      } finally {
        this._followers.delete(record.runId);
        this.stopLogs(record);
      }
      if (this._records.has(record.runId)) {
        this.emit(record);
      }
      return record;
    })();
    return follower.done;
  }

  /** Polls the tail of the run's pod logs while it lives. */
  private startLogs(record: RunRecord): void {
    if (this._logInterval <= 0 || this._logTimers.has(record.runId)) {
      return;
    }
    let busy = false;
    const poll = async () => {
      if (busy || !record.objects.length) {
        return;
      }
      busy = true;
      try {
        const wasm = await this.core.wasm();
        const cluster = await this.core.cluster();
        const logs = await wasm.logs(record.runId, {
          ...cluster,
          namespace: record.namespace || cluster.namespace,
          tailLines: LOG_TAIL_LINES
        });
        const multi = new Set<string>();
        const seen = new Set<string>();
        for (const log of logs) {
          (seen.has(log.pod) ? multi : seen).add(log.pod);
        }
        record.logs = logs.map(log => ({
          pod: multi.has(log.pod) ? `${log.pod}/${log.container}` : log.pod,
          lines: log.lines,
          ...(log.error ? { error: log.error } : {})
        }));
      } catch (reason) {
        record.logs = [{ pod: '', lines: [], error: `logs unavailable: ${errorMessage(reason)}` }];
      } finally {
        busy = false;
      }
      if (this._records.has(record.runId)) {
        this.emit(record, false);
      }
    };
    this._logTimers.set(
      record.runId,
      setInterval(() => void poll(), this._logInterval)
    );
  }

  private stopLogs(record: RunRecord): void {
    const timer = this._logTimers.get(record.runId);
    if (timer !== undefined) {
      clearInterval(timer);
      this._logTimers.delete(record.runId);
    }
  }

  private emit(record: RunRecord, save = true): void {
    if (save) {
      this.save();
    }
    this._changed.emit(record);
  }

  /** Writes the ledger, keeping what other tabs stored (runs this page does not hold). */
  private save(): void {
    const mine = new Set(this._records.keys());
    const others = this._ledger
      .load()
      .filter(r => !mine.has(r.runId) && !this._forgotten.has(r.runId));
    this._ledger.save([...this._records.values(), ...others]);
  }

  private _ledger: Ledger;
  private _now: () => number;
  private _logInterval: number;
  private _records = new Map<string, RunRecord>();
  private _followers = new Map<string, Follower>();
  private _cleanups = new Map<string, Promise<void>>();
  private _forgotten = new Set<string>();
  private _logTimers = new Map<string, ReturnType<typeof setInterval>>();
  private _changed = new Signal<IKaptainRuns, RunRecord>(this);
}

export const runsPlugin: JupyterFrontEndPlugin<IKaptainRuns> = {
  id: 'kaptain-jupyterlab:runs',
  description: 'The runs of %%kaptain cells, their ledger, their cell output and the interrupt hooks.',
  autoStart: true,
  // No INotebookTracker here: the tracker requires INotebookCellExecutor, which the executor
  // plugin provides and which requires IKaptainRuns (a cycle). The tracker is resolved once
  // the application started.
  requires: [IKaptainCore],
  optional: [IRenderMimeRegistry],
  provides: IKaptainRuns,
  activate: (app: JupyterFrontEnd, core: IKaptainCore, rendermime: IRenderMimeRegistry | null): IKaptainRuns => {
    const runs = new RunsModel(core);
    if (rendermime) {
      for (const factory of createRendererFactories(runs)) {
        rendermime.addFactory(factory, 0);
      }
    }
    void app.started
      .then(() => app.resolveOptionalService(INotebookTracker))
      .catch(() => null)
      .then(tracker => {
        installInterruptHooks(app, tracker ?? null, runs);
        // Runs that were live when the page went away: follow them again.
        return runs.resumeAll();
      })
      .catch(reason => console.error('kaptain: could not follow the runs of the ledger', reason));
    return runs;
  }
};
