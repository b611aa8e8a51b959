// Test doubles shared by the specs: an in-memory Storage, a RunRecord, a fake wasm core.
import type { RunEvent, RunReport } from 'kaptain-wasm';
import type { IKaptainCore, KaptainWasm, RunRecord } from '../tokens';

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
    phases: [],
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

export function fakeCore(wasm: Partial<KaptainWasm>): IKaptainCore {
  return {
    wasm: async () => wasm as KaptainWasm,
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
