import { describe, expect, it } from '@jest/globals';

import { CellQueue, isKaptainCell } from '../executor';
import { flush } from './fakes';

describe('kaptain cell detection', () => {
  it('takes cells whose source starts with %%kaptain', () => {
    expect(isKaptainCell('%%kaptain train\nmodel:\n  id: dev/mnist')).toBe(true);
    expect(isKaptainCell('%%kaptain')).toBe(true);
    expect(isKaptainCell('\n  %%kaptain deploy --name x')).toBe(true);
    expect(isKaptainCell('%%kaptain\ttrain')).toBe(true);
  });
  it('leaves every other cell to the kernel', () => {
    expect(isKaptainCell('print(1)')).toBe(false);
    expect(isKaptainCell('%%kaptainx train')).toBe(false);
    expect(isKaptainCell('# %%kaptain train')).toBe(false);
    expect(isKaptainCell('%kaptain train')).toBe(false);
    expect(isKaptainCell('x = 1\n%%kaptain train')).toBe(false);
    expect(isKaptainCell('')).toBe(false);
  });
});

function deferred() {
  let resolve!: (v: boolean) => void;
  const promise = new Promise<boolean>(r => (resolve = r));
  return { promise, resolve };
}

describe('cell order around kaptain cells (Run All)', () => {
  it('runs a kaptain cell in its turn and holds the cells after it', async () => {
    const queue = new CellQueue();
    const nb = {};
    const log: string[] = [];
    const k1 = deferred();
    const kaptain = deferred();
    const k3 = deferred();
    const r1 = queue.schedule(nb, 'kernel', () => (log.push('k1'), k1.promise));
    const r2 = queue.schedule(nb, 'kaptain', () => (log.push('kaptain'), kaptain.promise));
    const r3 = queue.schedule(nb, 'kernel', () => (log.push('k3'), k3.promise), undefined, () => log.push('k3 waits'));
    await flush();
    expect(log).toEqual(['k1', 'k3 waits']);
    k1.resolve(true);
    await flush();
    expect(log).toEqual(['k1', 'k3 waits', 'kaptain']);
    kaptain.resolve(true);
    await flush();
    expect(log).toEqual(['k1', 'k3 waits', 'kaptain', 'k3']);
    k3.resolve(true);
    expect(await Promise.all([r1, r2, r3])).toEqual([true, true, true]);
  });

  it('stops after a failing kaptain cell, like a failing kernel cell', async () => {
    const queue = new CellQueue();
    const nb = {};
    const log: string[] = [];
    const r1 = queue.schedule(nb, 'kaptain', async () => (log.push('kaptain'), false));
    const r2 = queue.schedule(nb, 'kernel', async () => (log.push('k2'), true), () => log.push('k2 skipped'));
    const r3 = queue.schedule(nb, 'kaptain', async () => (log.push('kaptain2'), true), () => log.push('kaptain2 skipped'));
    expect(await Promise.all([r1, r2, r3])).toEqual([false, false, false]);
    expect(log).toEqual(['kaptain', 'k2 skipped', 'kaptain2 skipped']);
    // A later, separate run starts afresh.
    expect(await queue.schedule(nb, 'kaptain', async () => true)).toBe(true);
  });

  it('does not start a kaptain cell after a failed kernel cell', async () => {
    const queue = new CellQueue();
    const nb = {};
    const r1 = queue.schedule(nb, 'kernel', () => Promise.reject(new Error('KernelReplyNotOK')));
    const ran: string[] = [];
    const r2 = queue.schedule(nb, 'kaptain', async () => (ran.push('kaptain'), true));
    await expect(r1).rejects.toThrow('KernelReplyNotOK');
    expect(await r2).toBe(false);
    expect(ran).toEqual([]);
  });

  it('keeps notebooks apart and sends kernel cells straight on when no kaptain cell is ahead', async () => {
    const queue = new CellQueue();
    const a = {};
    const b = {};
    const log: string[] = [];
    const blocker = deferred();
    void queue.schedule(a, 'kaptain', () => blocker.promise);
    void queue.schedule(b, 'kernel', async () => (log.push('b1'), true));
    void queue.schedule(b, 'kernel', async () => (log.push('b2'), true));
    await flush();
    expect(log).toEqual(['b1', 'b2']);
    blocker.resolve(true);
  });
});
