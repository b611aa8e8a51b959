// IKaptainRuns: the runs %%kaptain cells started in this browser. Live runs are followed by the
// wasm core's apply(); each has an AbortController whose abort is the interruption (the core
// then deletes everything of the run and resolves with outcome "interrupted"). The ledger
// (ledger.ts) keeps the records across reloads; a run that was live when the page went away is
// followed again with apply(..., { resume: true }). The tabs of the browser share the ledger;
// exactly one follows a run, the one holding the run's lock (locks.ts): the others show it from
// the ledger and hand their interrupts of it to that tab.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { PathExt } from '@jupyterlab/coreutils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISignal, Signal } from '@lumino/signaling';

import type { ApplyOptions, CellSummary, RunEvent, RunReport } from 'kaptain-wasm';
import { installInterruptHooks } from './interrupts';
import { isLive, Ledger, ledgerKey, serverScope, toStored } from './ledger';
import {
  browserRunLocks,
  browserTabChannel,
  channelName,
  ManagedRunLocks,
  NO_CHANNEL,
  PageLockManager,
  RunLease,
  RunLocks,
  TabChannel,
  TabMessage
} from './locks';
import { createRendererFactories, phaseProgress } from './output';
import { errorMessage } from './panel-model';
import { IKaptainCore, IKaptainRuns, KaptainBuildWasm, RunObjectView, RunRecord } from './tokens';

/** How often pod logs are fetched while a run lives (ms). */
export const LOG_INTERVAL = 4000;
/** Lines per container the cell shows. */
export const LOG_TAIL_LINES = 30;


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
    case 'build-skipped':
      record.build = { skippedImage: event.image, builtBy: event.built_by };
      break;
    case 'context-uploaded':
      record.build = { uploaded: event.uri, bytes: event.bytes };
      break;
    case 'log': {
      record.logs ??= [];
      let log = record.logs.find(l => l.pod === event.pod && l.streamed);
      if (!log) {
        log = { pod: event.pod, lines: [], streamed: true };
        record.logs = [log, ...record.logs.filter(l => l.pod !== event.pod)];
      }
      log.lines.push(event.line);
      log.lines.splice(0, Math.max(0, log.lines.length - LOG_TAIL_LINES));
      break;
    }
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
    case 'restored':
      upsertObject(record, event.kind, event.name).fate = { action: 'restore', reason: event.reason };
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
  const caveats = report.plan.flatMap(entry => (entry.caveat ? [entry.caveat] : []));
  if (caveats.length > 0) {
    record.caveats = caveats;
  }
  const ended = record.phases.find(p => p.phase === phase);
  if (!ended) {
    record.phases.push({ phase, outcome: report.outcome, message: report.message });
  } else if (!ended.outcome) {
    Object.assign(ended, { outcome: report.outcome, message: report.message });
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

/**
 * How long a tab that waited for another tab's run lock gives that tab's last ledger write to
 * arrive before it reads the ledger (ms): the write precedes the release, but the storage event
 * and the lock grant travel separately.
 */
export const TAKEOVER_GRACE = 500;

interface Follower {
  controller: AbortController;
  /** When the interruption was asked for (ms since the epoch), once. */
  interruptedAt?: number;
  why?: string;
  done: Promise<RunRecord>;
}

/**
 * A run of the ledger this tab neither follows nor cleans up, whose lock it asked for: granted
 * at once (nobody follows it: this tab resumes it, or cleans it up when that was asked for), or
 * held by another tab, which follows it (this tab waits for that tab to let go: the run ended
 * there, or the tab went away and this one takes over).
 */
interface Claim {
  /** An interrupt or a cleanup was asked for: clean up instead of following. */
  why?: string;
  /** Another tab holds the run's lock; this tab waits for it. */
  elsewhere: boolean;
  /** Resolves when this tab followed the run to its end, or as soon as another tab has it. */
  settled: Promise<RunRecord | undefined>;
  /** Resolves when this tab is done with the run (followed or cleaned up here, or ended elsewhere). */
  done: Promise<void>;
}

const delay = (ms: number): Promise<void> =>
  ms > 0 ? new Promise(resolve => setTimeout(resolve, ms)) : Promise.resolve();

const sameRecord = (a: RunRecord, b: RunRecord): boolean =>
  JSON.stringify(toStored(a)) === JSON.stringify(toStored(b));

export interface RunsModelOptions {
  ledger?: Ledger;
  now?: () => number;
  logInterval?: number;
  /** Which tab follows a run (the browser's Web Locks in the plugin; one page's by default). */
  locks?: RunLocks;
  /** Reaches the other tabs (a BroadcastChannel in the plugin; none by default). */
  channel?: TabChannel;
  /** See TAKEOVER_GRACE. */
  takeoverGrace?: number;
}

/**
 * The runs of the ledger, shared by the tabs of the browser. A run is followed by exactly one
 * tab, the one holding its lock (locks.ts): the tab where its cell ran, or after that tab went
 * away the first one to take the lock (a reload, another tab). Every tab shows every run; one
 * that does not follow a run takes its record from the ledger (the `storage` event), never
 * writes it, and hands an interrupt of it to the tab that follows it.
 */
export class RunsModel implements IKaptainRuns {
  constructor(
    private core: IKaptainCore,
    options: RunsModelOptions = {}
  ) {
    this._ledger = options.ledger ?? new Ledger();
    this._now = options.now ?? Date.now;
    this._logInterval = options.logInterval ?? LOG_INTERVAL;
    this._locks = options.locks ?? new ManagedRunLocks(new PageLockManager());
    this._channel = options.channel ?? NO_CHANNEL;
    this._grace = options.takeoverGrace ?? TAKEOVER_GRACE;
    for (const record of this._ledger.load()) {
      this._records.set(record.runId, record);
    }
    this._unwatch = this._ledger.watch(() => this.sync());
    this._unlisten = this._channel.listen(message => this.onMessage(message));
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

  /** Whether another tab of the browser holds the run (follows it, or cleans it up). */
  isFollowedElsewhere(runId: string): boolean {
    return this._claims.get(runId)?.elsewhere ?? false;
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
      // The phases the core says the run goes through; each gets its outcome as it ends.
      phases: summary.phases.map(phase => ({ phase })),
      objects: []
    };
    this._records.set(record.runId, record);
    // The ledger gets the run once this tab holds its lock (follow): a tab that then sees it
    // there finds it held.
    const done = this.follow(record, false, this._locks.acquire(record.runId, true));
    this._changed.emit(record);
    return done;
  }

  /**
   * Follows again every run the ledger holds as live that no tab follows (their tab went away:
   * a reload, a closed tab). Runs another tab follows are shown, not followed: this tab takes
   * them over if that tab goes away first. From now on the same holds for the runs other tabs
   * start. Resolves when the runs followed here ended.
   */
  resumeAll(): Promise<RunRecord[]> {
    this._watching = true;
    return Promise.all(this.unclaimed().map(record => this.claim(record.runId).settled)).then(records =>
      records.filter((r): r is RunRecord => !!r)
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
      waits.push(this.interruptRun(record.runId, why));
    }
    return Promise.all(waits).then(() => undefined);
  }

  async cleanup(runId: string): Promise<void> {
    const follower = this._followers.get(runId);
    if (follower) {
      await this.interruptRun(runId, 'cleanup asked for');
      await follower.done;
      return;
    }
    const running = this._cleanups.get(runId);
    if (running) {
      return running;
    }
    return this.claim(runId, 'cleanup asked for').done;
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

  /**
   * Takes what other tabs stored: the runs this tab neither follows nor cleans up, as the
   * ledger holds them (added, changed, removed). Called on the ledger's `storage` event.
   */
  sync(): void {
    const stored = this._ledger.load();
    const seen = new Set<string>();
    const changed: RunRecord[] = [];
    for (const theirs of stored) {
      const id = theirs.runId;
      seen.add(id);
      if (this._forgotten.has(id) || this.writes(id)) {
        continue;
      }
      const mine = this._records.get(id);
      if (mine && sameRecord(mine, theirs)) {
        continue;
      }
      this._records.set(id, theirs);
      changed.push(theirs);
    }
    for (const [id, mine] of [...this._records]) {
      if (!seen.has(id) && !this.writes(id)) {
        this._records.delete(id);
        changed.push(mine);
      }
    }
    for (const record of changed) {
      this._changed.emit(record);
    }
    if (this._watching) {
      // Runs another tab started: shown, and taken over if that tab goes away.
      for (const record of this.unclaimed()) {
        this.claim(record.runId);
      }
    }
  }

  dispose(): void {
    for (const timer of this._logTimers.values()) {
      clearInterval(timer);
    }
    this._logTimers.clear();
    this._unwatch();
    this._unlisten();
    this._channel.close?.();
  }

  /** Live runs this tab neither follows, cleans up, nor asked the lock of. */
  private unclaimed(): RunRecord[] {
    return this.live().filter(
      r => !this.writes(r.runId) && !this._claims.has(r.runId) && !this._forgotten.has(r.runId)
    );
  }

  /** Whether this tab writes the run's record: it follows it or cleans it up. */
  private writes(runId: string): boolean {
    return this._followers.has(runId) || this._cleanups.has(runId);
  }

  /** Interrupts one run, once, wherever it is followed. */
  private interruptRun(runId: string, why: string): Promise<unknown> {
    const follower = this._followers.get(runId);
    if (follower) {
      const record = this._records.get(runId);
      if (follower.interruptedAt === undefined) {
        follower.interruptedAt = this._now();
        follower.why = why;
        if (record) {
          record.state = 'cleaning';
          record.message = `Interrupted (${why}): deleting everything of the run…`;
          this.emit(record);
        }
        follower.controller.abort(new DOMException(why, 'AbortError'));
      }
      return follower.done;
    }
    const cleaning = this._cleanups.get(runId);
    if (cleaning) {
      return cleaning;
    }
    // Followed by another tab (which hears of the interrupt too, and is asked to), or by none.
    return this.claim(runId, why).done;
  }

  /** Asks the tab that follows the run to interrupt it (see Claim). */
  private askOwner(runId: string, why: string): void {
    this._channel.post({ type: 'interrupt', runId, why: `${why}, in another tab` });
  }

  private onMessage(message: TabMessage): void {
    if (message.type === 'interrupt' && this._followers.has(message.runId)) {
      void this.interruptRun(message.runId, message.why).catch(() => undefined);
    }
  }

  /** Asks for the run's lock (once per run at a time; see Claim). */
  private claim(runId: string, why?: string): Claim {
    const existing = this._claims.get(runId);
    if (existing) {
      if (why !== undefined && existing.why === undefined) {
        existing.why = why;
        if (existing.elsewhere) {
          this.askOwner(runId, why);
        }
      }
      return existing;
    }
    let settle!: (value: RunRecord | undefined | Promise<RunRecord | undefined>) => void;
    const claim: Claim = {
      why,
      elsewhere: false,
      settled: new Promise(resolve => (settle = resolve)),
      done: Promise.resolve()
    };
    this._claims.set(runId, claim);
    claim.done = (async () => {
      let lease: RunLease | null = null;
      try {
        lease = await this._locks.acquire(runId, false);
        if (!lease) {
          claim.elsewhere = true;
          if (claim.why !== undefined) {
            this.askOwner(runId, claim.why);
          }
          settle(this._records.get(runId));
          lease = await this._locks.acquire(runId, true);
          claim.elsewhere = false;
          if (!lease) {
            return; // a waiting request is granted or fails, never refused
          }
          // That tab let go: the run ended there (its last state is on its way to the ledger),
          // or the tab went away and the run is this tab's now.
          await delay(this._grace);
          this.sync();
          const ended = this._records.get(runId);
          if (!ended || !isLive(ended)) {
            return;
          }
        }
        const record = this._records.get(runId);
        if (!record || this._forgotten.has(runId)) {
          return;
        }
        this._claims.delete(runId);
        const held = lease;
        lease = null; // the follower or the cleanup releases it
        if (claim.why !== undefined || record.state === 'cleaning') {
          const cleaning = this.cleanupHere(runId, held);
          settle(cleaning.then(() => record, () => record));
          await cleaning;
        } else if (isLive(record)) {
          const followed = this.follow(record, true, held);
          settle(followed);
          await followed;
        } else {
          held.release();
        }
      } finally {
        lease?.release();
        if (this._claims.get(runId) === claim) {
          this._claims.delete(runId);
        }
        settle(this._records.get(runId));
      }
    })();
    claim.done.catch(() => undefined); // reported to whoever waits for it
    return claim;
  }

  /** Cleans the run up in this tab, which holds its lock (released when done). */
  private cleanupHere(runId: string, lease: RunLease): Promise<void> {
    const cleaning = this.cleanupNow(runId).finally(() => {
      this._cleanups.delete(runId);
      lease.release();
    });
    this._cleanups.set(runId, cleaning);
    return cleaning;
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

  private follow(
    record: RunRecord,
    resume: boolean,
    leased: RunLease | Promise<RunLease | null>
  ): Promise<RunRecord> {
    const controller = new AbortController();
    const follower: Follower = { controller, done: Promise.resolve(record) };
    this._followers.set(record.runId, follower);
    follower.done = (async () => {
      // Without the lock (a failing lock manager) the run is still followed, uncoordinated.
      const lease = await Promise.resolve(leased).catch(() => null);
      try {
        if (!resume && this._records.has(record.runId)) {
          this.save(record);
        }
        // A cell that builds runs with the build package: it packs the notebook's files.
        const builds = !resume && record.phases.some(p => p.phase === 'build');
        const wasm = builds ? await this.core.buildWasm() : await this.core.wasm();
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
          notebookServer: await this.core.notebookServer(),
          secretCopy: this.core.secretCopyRoute(),
          signal: controller.signal
        };
        if (resume) {
          options.resume = true;
        }
        if (builds) {
          const build = wasm as KaptainBuildWasm;
          const paths = build.contextFiles(record.cell, { namespace: options.namespace, env, settings });
          options.files = await this.core.readFiles(record.notebook, paths, build.maxContextBytes());
          options.filesLocation = `the notebook's directory /${PathExt.dirname(record.notebook)}`;
          options.s3 = await this.core.s3Route();
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
      // Only now (the end is in the ledger) may another tab take the run.
      lease?.release();
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
        // Pods whose log the core streams keep it; the others get their tails.
        const streamed = (record.logs ?? []).filter(l => l.streamed);
        record.logs = [
          ...streamed,
          ...logs
            .filter(log => !streamed.some(s => s.pod === log.pod))
            .map(log => ({
              pod: multi.has(log.pod) ? `${log.pod}/${log.container}` : log.pod,
              lines: log.lines,
              ...(log.error ? { error: log.error } : {})
            }))
        ];
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
      this.save(record);
    }
    this._changed.emit(record);
  }

  /**
   * Writes the ledger: the runs this tab follows or cleans up, and `changed`, as this tab has
   * them; every other run as the ledger holds it (another tab's word, never a stale copy of it).
   */
  private save(changed?: RunRecord): void {
    const mine = (id: string) => this.writes(id) || changed?.runId === id;
    const stored = this._ledger.load().filter(r => !this._forgotten.has(r.runId));
    const ids = new Set(stored.map(r => r.runId));
    const records = stored.map(r => (mine(r.runId) && this._records.get(r.runId)) || r);
    for (const [id, record] of this._records) {
      if (!ids.has(id) && mine(id)) {
        records.push(record);
      }
    }
    this._ledger.save(records);
  }

  private _ledger: Ledger;
  private _now: () => number;
  private _logInterval: number;
  private _locks: RunLocks;
  private _channel: TabChannel;
  private _grace: number;
  private _unwatch: () => void;
  private _unlisten: () => void;
  /** Set by resumeAll: runs other tabs start are claimed (taken over if their tab goes away). */
  private _watching = false;
  private _records = new Map<string, RunRecord>();
  private _followers = new Map<string, Follower>();
  private _cleanups = new Map<string, Promise<void>>();
  private _claims = new Map<string, Claim>();
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
    // One tab follows a run: the browser's Web Locks say which, a BroadcastChannel carries
    // interrupts to it (locks.ts). Ledger, locks and channel are this server's: other notebook
    // servers on the same origin (a hub's users, a Kubeflow profile's notebooks) have their own.
    const server = serverScope(app.serviceManager.serverSettings.baseUrl);
    const runs = new RunsModel(core, {
      ledger: new Ledger(undefined, ledgerKey(server)),
      locks: browserRunLocks(server),
      channel: browserTabChannel(channelName(server))
    });
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
        // Runs that were live when their page went away: follow them again (those another
        // tab follows: show them, and take them over if that tab goes away).
        return runs.resumeAll();
      })
      .catch(reason => console.error('kaptain: could not follow the runs of the ledger', reason));
    return runs;
  }
};
