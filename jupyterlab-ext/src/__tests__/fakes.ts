// Test doubles shared by the specs: an in-memory Storage, a RunRecord, a fake wasm core, and
// a browser whose tabs share the ledger, the run locks and a channel.
import type { RunEvent, RunReport } from 'kaptain-wasm';
import { Ledger, ledgerKey } from '../ledger';
import { LockManagerLike, ManagedRunLocks, NO_CHANNEL, PageLockManager, RunLocks, TabChannel, TabMessage } from '../locks';
import type { IKaptainCore, KaptainBuildWasm, KaptainWasm, RunRecord } from '../tokens';

export class MemoryStorage implements Storage {
  private items = new Map<string, string>();
  get length(): number {
    return this.items.size;
  }
  clear(): void {
    this.items.clear();
  }
  getItem(key: string): string | null {
    return this.items.has(key) ? this.items.get(key)! : null;
  }
  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
  setItem(key: string, value: string): void {
    this.items.set(key, String(value));
  }
}

export function record(extra: Partial<RunRecord> = {}): RunRecord {
  return {
    runId: 'r7k2m9q',
    notebook: 'work/mnist.ipynb',
    cellId: 'cell-1',
    cell: '%%kaptain train\nmodel:\n  id: dev/mnist\n',
    step: 'train',
    modelId: 'dev/mnist',
    namespace: 'kaptain-demo',
    state: 'running',
    startedAt: 1_000,
    // What RunsModel.start seeds from the core's summary of a train cell.
    phases: [{ phase: 'build' }, { phase: 'train' }],
    objects: [],
    ...extra
  };
}

/** A wasm apply() the test drives: emits events, resolves when told or when aborted. */
export class FakeApply {
  calls: { cell: string; options: any; onEvent?: (e: RunEvent) => void }[] = [];
  aborts = 0;
  private resolvers: ((r: RunReport) => void)[] = [];

  apply = (cell: string, options: any, onEvent?: (e: RunEvent) => void): Promise<RunReport> => {
    const index = this.calls.length;
    this.calls.push({ cell, options, onEvent });
    return new Promise<RunReport>(resolve => {
      this.resolvers[index] = resolve;
      const signal: AbortSignal | undefined = options.signal;
      signal?.addEventListener('abort', () => {
        this.aborts++;
        onEvent?.({ event: 'deleted', kind: 'TFJob', name: 'dev-mnist-r7k2m9q', reason: 'interrupted' });
        resolve({
          run_id: options.runId,
          outcome: 'interrupted',
          phase: 'train',
          message: 'the run was interrupted; everything of it was deleted',
          created: [{ kind: 'TFJob', name: 'dev-mnist-r7k2m9q' }],
          plan: [],
          cleanup: {
            deleted: [
              { kind: 'TFJob', name: 'dev-mnist-r7k2m9q' },
              { kind: 'Secret', name: 'dev-mnist-r7k2m9q-registry' }
            ],
            restored: [],
            remaining: [],
            requests: 7
          }
        });
      });
    });
  };

  finish(index: number, report: Partial<RunReport>): void {
    this.resolvers[index]({
      run_id: this.calls[index].options.runId,
      outcome: 'succeeded',
      phase: 'train',
      message: 'done',
      created: [],
      plan: [],
      cleanup: null,
      ...report
    });
  }
}

/** A trainer the fake Contents API serves for every cell that builds. */
export const FAKE_TRAINER = Uint8Array.from([112, 114, 105, 110, 116, 40, 41, 10]); // print()\n

export function fakeCore(wasm: Partial<KaptainWasm>): IKaptainCore {
  // The build package: the same stub, plus the file list a build context is packed from.
  const build = {
    contextFiles: (_cell: string, options: Record<string, unknown> = {}) => {
      // The core refuses keys its Options do not have (the cluster's among them).
      const unknown = Object.keys(options).filter(k => !['namespace', 'env', 'settings', 'runId', 'notebook', 'cellId'].includes(k));
      if (unknown.length) {
        throw new Error(`options: unknown field \`${unknown[0]}\``);
      }
      return ['trainer.py'];
    },
    maxContextBytes: () => 100 * 1024 * 1024,
    ...wasm
  };
  return {
    wasm: async () => wasm as KaptainWasm,
    buildWasm: async () => build as unknown as KaptainBuildWasm,
    s3Route: async () => ({ route: '/kaptain/s3', endpoint: 'http://minio.test:9000' }),
    secretCopyRoute: () => '/kaptain/secret-copy',
    readFiles: async (_notebook: string, paths: string[], _maxBytes: number) =>
      Object.fromEntries(paths.filter(p => p === 'trainer.py').map(p => [p, FAKE_TRAINER])),
    notebookServer: async () => '/user/alice/',
    cluster: async () => ({ server: '/kube', namespace: 'kaptain-demo' }),
    env: async () => ({}),
    settings: async () => undefined
  };
}

/** Lets pending promise callbacks run. */
export async function flush(times = 10): Promise<void> {
  for (let i = 0; i < times; i++) {
    await Promise.resolve();
  }
}

/**
 * The tabs of one browser: one localStorage (the ledger), one lock manager, one broadcast
 * channel. A tab's ledger writes reach the others as the `storage` event does (later, not in
 * the tab that wrote); closing a tab releases its locks as the browser does.
 */
export class FakeBrowser {
  storage = new MemoryStorage();
  locks = new PageLockManager();
  tabs: FakeTab[] = [];

  /** A tab of the notebook server at `server` (its base URL; servers can share an origin). */
  tab(options: { storageEvents?: boolean; channel?: boolean; server?: string } = {}): FakeTab {
    const tab = new FakeTab(this, options.storageEvents ?? true, options.channel ?? true, options.server ?? '/');
    this.tabs.push(tab);
    return tab;
  }

  /** Delivers what `from` wrote or posted to the other open tabs, a moment later. */
  deliver(from: FakeTab, each: (tab: FakeTab) => void): void {
    for (const tab of this.tabs) {
      if (tab !== from && !tab.closed) {
        void Promise.resolve().then(() => {
          if (!tab.closed) {
            each(tab);
          }
        });
      }
    }
  }
}

export class FakeTab {
  closed = false;
  storageListeners = new Set<() => void>();
  messageHandlers = new Set<(message: TabMessage) => void>();
  posted: TabMessage[] = [];
  readonly ledger: Ledger;
  readonly locks: RunLocks;
  readonly channel: TabChannel;
  private closing!: () => void;
  private closedPromise = new Promise<void>(resolve => (this.closing = resolve));

  constructor(
    browser: FakeBrowser,
    storageEvents: boolean,
    channel: boolean,
    readonly server: string
  ) {
    const tab = this;
    this.ledger = new (class extends Ledger {
      save(records: RunRecord[]): RunRecord[] {
        const stored = super.save(records);
        browser.deliver(tab, other => other.storageListeners.forEach(listener => listener()));
        return stored;
      }
      watch(listener: () => void): () => void {
        if (!storageEvents) {
          return () => undefined;
        }
        tab.storageListeners.add(listener);
        return () => tab.storageListeners.delete(listener);
      }
    })(browser.storage, ledgerKey(server));
    // The browser lets go of every lock of a tab that closes.
    const manager: LockManagerLike = {
      request: (name, options, callback) =>
        browser.locks.request(name, options, lock => {
          if (this.closed) {
            return undefined as any;
          }
          const result = callback(lock);
          return lock ? (Promise.race([result, this.closedPromise]) as any) : result;
        })
    };
    this.locks = new ManagedRunLocks(manager, server);
    this.channel = channel
      ? {
          post: message => {
            this.posted.push(message);
            // A BroadcastChannel reaches the tabs that opened one of the same name: this server's.
            browser.deliver(tab, other => other.server === server && other.messageHandlers.forEach(handler => handler(message)));
          },
          listen: handler => {
            this.messageHandlers.add(handler);
            return () => this.messageHandlers.delete(handler);
          }
        }
      : NO_CHANNEL;
  }

  close(): void {
    this.closed = true;
    this.closing();
  }
}
