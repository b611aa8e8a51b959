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

/**
 * A LockManager of one page (FIFO, exclusive only): the fallback where the browser has no
 * Web Locks (an insecure context: plain http on another host than localhost), where tabs
 * cannot coordinate and each behaves as the only one. Jest shares one between "tabs".
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

/** The browser's Web Locks, or the page's own where it has none (see PageLockManager). */
export function browserRunLocks(server = '/'): RunLocks {
  const manager = typeof navigator !== 'undefined' ? (navigator as { locks?: LockManagerLike }).locks : undefined;
  if (!manager) {
    console.warn(
      'kaptain: this page has no Web Locks (not a secure context?): tabs on the same runs do not coordinate'
    );
  }
  return new ManagedRunLocks(manager ?? new PageLockManager(), server);
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
