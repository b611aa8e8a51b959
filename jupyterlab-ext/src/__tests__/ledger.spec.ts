import { describe, expect, it } from '@jest/globals';

import { bound, isLive, Ledger, ledgerKey, MAX_ENDED, serverScope, toStored } from '../ledger';
import { MemoryStorage, record } from './fakes';

const LEDGER_KEY = ledgerKey('/');

describe('ledger', () => {
  it('round-trips a record through the storage', () => {
    const storage = new MemoryStorage();
    const ledger = new Ledger(storage);
    const run = record({
      state: 'interrupted',
      endedAt: 5_000,
      message: 'interrupted',
      phases: [{ phase: 'build', outcome: 'succeeded', message: 'built' }, { phase: 'train' }],
      objects: [
        { kind: 'TFJob', name: 'dev-mnist-r7k2m9q', state: 'Running', message: '', fate: { action: 'delete', reason: 'interrupted' } },
        { kind: 'Secret', name: 's', state: 'Created', message: '' }
      ],
      cleanup: { deleted: [{ kind: 'TFJob', name: 'dev-mnist-r7k2m9q' }], remaining: [[{ kind: 'Pod', name: 'p' }, 'timeout']], millis: 1234 }
    });
    ledger.save([run]);
    expect(storage.getItem(LEDGER_KEY)).toBeTruthy();
    expect(new Ledger(storage).load()).toEqual([run]);
  });

  it('keeps every live run and only the newest ended ones', () => {
    const runs = [];
    for (let i = 0; i < MAX_ENDED + 20; i++) {
      runs.push(record({ runId: `e${i}`, state: 'succeeded', startedAt: i, endedAt: i + 1 }));
    }
    runs.push(record({ runId: 'live-old', state: 'running', startedAt: -5 }));
    const kept = bound(runs);
    expect(kept.filter(r => !isLive(r))).toHaveLength(MAX_ENDED);
    expect(kept.map(r => r.runId)).toContain('live-old');
    expect(kept.map(r => r.runId)).toContain(`e${MAX_ENDED + 19}`);
    expect(kept.map(r => r.runId)).not.toContain('e0');

    const storage = new MemoryStorage();
    new Ledger(storage, LEDGER_KEY, 3).save(runs);
    expect(new Ledger(storage).load()).toHaveLength(4);
  });

  it('stores RunRecord fields only: nothing that rides along, no logs', () => {
    const storage = new MemoryStorage();
    const run: any = record({
      logs: [{ pod: 'p', lines: ['AWS_SECRET_ACCESS_KEY=hunter2'] }]
    });
    run.secret = { data: { password: 'c3VwZXJzZWNyZXQ=' } };
    run.token = 'Bearer eyJhbGciOi';
    run.headers = { Authorization: 'token abc123' };
    run.objects = [
      { kind: 'Secret', name: 'creds', state: 'Created', message: '', data: { '.dockerconfigjson': 'eyJhdXRocyI6' }, stringData: { password: 'pw' } }
    ];
    run.cleanup = { deleted: [{ kind: 'Secret', name: 'creds', data: 'xyz' }], remaining: [], millis: 5, requests: 3, token: 't' };
    run.phases = [{ phase: 'build', outcome: 'succeeded', credentials: 'pw' }];
    new Ledger(storage).save([run]);
    const text = storage.getItem(LEDGER_KEY)!;
    for (const leak of ['hunter2', 'c3VwZXJzZWNyZXQ=', 'eyJhbGciOi', 'abc123', 'eyJhdXRocyI6', '"pw"', 'xyz', '"t"', 'logs', 'password', 'Authorization', 'requests']) {
      expect(text).not.toContain(leak);
    }
    const [stored] = JSON.parse(text);
    expect(Object.keys(stored).sort()).toEqual(
      ['cell', 'cellId', 'cleanup', 'modelId', 'namespace', 'notebook', 'objects', 'phases', 'runId', 'startedAt', 'state', 'step'].sort()
    );
    expect(Object.keys(stored.objects[0]).sort()).toEqual(['kind', 'message', 'name', 'state']);
    expect(Object.keys(stored.cleanup).sort()).toEqual(['deleted', 'millis', 'remaining']);
  });

  it('ignores a broken or foreign ledger', () => {
    const storage = new MemoryStorage();
    storage.setItem(LEDGER_KEY, '{not json');
    expect(new Ledger(storage).load()).toEqual([]);
    storage.setItem(LEDGER_KEY, JSON.stringify([{ runId: 'x', state: 'bogus' }, { nope: 1 }, record()]));
    expect(new Ledger(storage).load().map(r => r.runId)).toEqual(['r7k2m9q']);
    expect(toStored(null)).toBeUndefined();
  });

  it("is one notebook server's: its base URL keys it", () => {
    expect(serverScope('http://hub.example.org/user/alice/')).toBe('/user/alice/');
    expect(serverScope('/notebook/team-a/mnist/')).toBe('/notebook/team-a/mnist/');
    const storage = new MemoryStorage();
    new Ledger(storage, ledgerKey('/user/alice/')).save([record()]);
    expect(new Ledger(storage, ledgerKey('/user/bob/')).load()).toEqual([]);
    expect(new Ledger(storage, ledgerKey('/user/alice/')).load()).toHaveLength(1);
  });
});
