// Which tab follows a run. The tabs of one browser share the ledger (localStorage), so each of
// them sees every run; exactly one follows a live run (apply, logs, its cleanup on interrupt):
// the one that holds the run's Web Lock, `kaptain-run:<server>:<runId>`, for as long as it
// follows it (`<server>`: see ledger.ts's serverScope; other servers on the origin have their own).
// The browser releases a tab's locks when the tab goes away (closed, reloaded, crashed), so
// another tab, or the page after the reload, can take the lock and follow the run again.
//
// Two ports, so that jest can play several tabs: RunLocks (over a Web Locks LockManager) and
// TabChannel (over a BroadcastChannel), which carries an interrupt asked for in a tab that
// does not follow the run to the tab that does.

/** The part of the Web Locks API's LockManager (`navigator.locks`) used here. */
export interface LockManagerLike {
  request<T>(
    name: string,
    options: { ifAvailable?: boolean; mode?: 'exclusive' | 'shared' },
    callback: (lock: unknown | null) => T | Promise<T>
  ): Promise<T>;
}

/** A run's lock, held until released. */
export interface RunLease {
  release(): void;
}

export interface RunLocks {
  /**
   * Takes the run's lock. Without `wait`, resolves null at once when another holder has it;
   * with `wait`, resolves when the holder let go of it (released, or its tab went away).
   */
  acquire(runId: string, wait: boolean): Promise<RunLease | null>;
}

export const lockName = (runId: string, server = '/'): string => `kaptain-run:${server}:${runId}`;

/** RunLocks over a LockManager, for one notebook server's runs. */
export class ManagedRunLocks implements RunLocks {
  constructor(
    private manager: LockManagerLike,
    private server = '/'
  ) {}

  acquire(runId: string, wait: boolean): Promise<RunLease | null> {
    return new Promise<RunLease | null>((resolve, reject) => {
      let release!: () => void;
      const held = new Promise<void>(r => (release = r));
      this.manager
        .request(lockName(runId, this.server), wait ? { mode: 'exclusive' } : { mode: 'exclusive', ifAvailable: true }, lock => {
          if (!lock) {
            resolve(null);
            return undefined;
          }
          let released = false;
          resolve({
            release: () => {
              if (!released) {
                released = true;
                release();
              }
            }
          });
          return held;
        })
        .catch(reject);
    });
  }
}

/** A lease on a lock, as StorageLockManager keeps it in the browser's storage. */
interface Lease {
  owner: string;
  /** Milliseconds since the epoch; a holder renews it well before. */
  expires: number;
}

/**
 * A LockManager over the browser's storage, for pages without Web Locks: an insecure context
 * (plain http at a host name, as many internal hubs are served). Without it each tab would act
 * as the only one and apply the other tabs' runs again. A holder keeps a lease in storage
 * (`kaptain:lock:<name>`), renewed every `renew` ms, given up when its callback ends or its page
 * goes away; a lease not renewed for `ttl` ms (a tab that crashed) is free. Two tabs that take a
 * free lease at once both write it and read it back after `settle` ms: the last writer holds it.
 * Exclusive locks only; waiters poll every `retry` ms.
 */
export class StorageLockManager implements LockManagerLike {
  constructor(
    private storage: Storage,
    // A hidden tab's timers may fire once a minute (Chromium's intensive throttling): the lease
    // outlives that; a tab that closes or reloads gives it up at once (pagehide).
    private timing = { ttl: 90_000, renew: 20_000, retry: 1_000, settle: 150 },
    private now: () => number = Date.now
  ) {}

  async request<T>(
    name: string,
    options: { ifAvailable?: boolean },
    callback: (lock: unknown | null) => T | Promise<T>
  ): Promise<T> {
    while (!(await this.take(name))) {
      if (options.ifAvailable) {
        return callback(null);
      }
      await sleep(this.timing.retry);
    }
    const renewal = setInterval(() => this.write(name), this.timing.renew);
    const release = () => {
      clearInterval(renewal);
      if (this.read(name)?.owner === this.owner) {
        this.storage.removeItem(this.key(name));
      }
    };
    if (typeof window !== 'undefined') {
      window.addEventListener('pagehide', release, { once: true });
    }
    try {
      return await callback({ name });
    } finally {
      release();
      if (typeof window !== 'undefined') {
        window.removeEventListener('pagehide', release);
      }
    }
  }

  private async take(name: string): Promise<boolean> {
    const lease = this.read(name);
    if (lease && lease.owner !== this.owner && lease.expires > this.now()) {
      return false;
    }
    this.write(name);
    await sleep(this.timing.settle);
    return this.read(name)?.owner === this.owner;
  }

  private key(name: string): string {
    return `kaptain:lock:${name}`;
  }

  private read(name: string): Lease | undefined {
    try {
      const lease = JSON.parse(this.storage.getItem(this.key(name)) ?? 'null') as Lease | null;
      return lease && typeof lease.owner === 'string' && typeof lease.expires === 'number' ? lease : undefined;
    } catch {
      return undefined;
    }
  }

  private write(name: string): void {
    const lease: Lease = { owner: this.owner, expires: this.now() + this.timing.ttl };
    try {
      this.storage.setItem(this.key(name), JSON.stringify(lease));
    } catch {
      // Storage full or denied: this tab then holds nothing others can see.
    }
  }

  /** This page's name on its leases. */
  private owner = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms));

/**
 * A LockManager of one page (FIFO, exclusive only), where there is neither Web Locks nor
 * storage (jest shares one between "tabs").
 */
export class PageLockManager implements LockManagerLike {
  request<T>(
    name: string,
    options: { ifAvailable?: boolean },
    callback: (lock: unknown | null) => T | Promise<T>
  ): Promise<T> {
    const queue = this._queues.get(name) ?? [];
    if (options.ifAvailable && queue.length) {
      return Promise.resolve().then(() => callback(null));
    }
    return new Promise<T>((resolve, reject) => {
      const grant = () => {
        Promise.resolve()
          .then(() => callback({ name }))
          .then(resolve, reject)
          .finally(() => {
            const q = this._queues.get(name)!;
            q.shift();
            if (q.length) {
              q[0]();
            } else {
              this._queues.delete(name);
            }
          });
      };
      queue.push(grant);
      this._queues.set(name, queue);
      if (queue.length === 1) {
        grant();
      }
    });
  }

  /** Names held (or asked for) right now. */
  held(): string[] {
    return [...this._queues.keys()];
  }

  private _queues = new Map<string, (() => void)[]>();
}

/**
 * The browser's Web Locks; in an insecure context (no Web Locks) leases in localStorage
 * (StorageLockManager); the page's own where there is neither.
 */
export function browserRunLocks(server = '/'): RunLocks {
  const manager = typeof navigator !== 'undefined' ? (navigator as { locks?: LockManagerLike }).locks : undefined;
  if (manager) {
    return new ManagedRunLocks(manager, server);
  }
  if (typeof localStorage !== 'undefined') {
    return new ManagedRunLocks(new StorageLockManager(localStorage), server);
  }
  console.warn('kaptain: this page has neither Web Locks nor storage: tabs on the same runs do not coordinate');
  return new ManagedRunLocks(new PageLockManager(), server);
}

/** What one tab tells the others. */
export type TabMessage = {
  type: 'interrupt';
  runId: string;
  why: string;
};

export interface TabChannel {
  post(message: TabMessage): void;
  /** Calls `handler` with what other tabs post; returns the unsubscribe. */
  listen(handler: (message: TabMessage) => void): () => void;
  close?(): void;
}

/** A channel that reaches no one (one tab, or jest). */
export const NO_CHANNEL: TabChannel = {
  post: () => undefined,
  listen: () => () => undefined
};

export const CHANNEL_NAME = 'kaptain-runs';

/** The channel of one notebook server's tabs (see ledger.ts's serverScope). */
export const channelName = (server: string): string => `${CHANNEL_NAME}:${server}`;

/** TabChannel over a BroadcastChannel (every same-origin tab of the browser), or none. */
export function browserTabChannel(name = channelName('/')): TabChannel {
  if (typeof BroadcastChannel === 'undefined') {
    return NO_CHANNEL;
  }
  const channel = new BroadcastChannel(name);
  return {
    post: message => channel.postMessage(message),
    listen: handler => {
      const onMessage = (event: MessageEvent) => {
        const data = event.data as Partial<TabMessage> | null;
        if (data && data.type === 'interrupt' && typeof data.runId === 'string') {
          handler({ type: 'interrupt', runId: data.runId, why: String(data.why ?? 'another tab') });
        }
      };
      channel.addEventListener('message', onMessage);
      return () => channel.removeEventListener('message', onMessage);
    },
    close: () => channel.close()
  };
}
