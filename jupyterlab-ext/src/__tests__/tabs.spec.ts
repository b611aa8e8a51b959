// Several tabs of one browser on the same runs (runs.ts with locks.ts): they share the ledger,
// the run locks and a channel (FakeBrowser); exactly one tab follows a run.
import { describe, expect, it, jest } from '@jest/globals';

import { Ledger, ledgerKey } from '../ledger';
import { lockName, ManagedRunLocks, PageLockManager, StorageLockManager } from '../locks';
import { RunsModel } from '../runs';
import { fakeCore, FakeApply, FakeBrowser, FakeTab, flush, MemoryStorage, record } from './fakes';

const RUN = 'r7k2m9q';
const NOTEBOOK = 'work/mnist.ipynb';

const summary = (runId = RUN) => ({
  step: 'train' as const,
  phases: ['build' as const, 'train' as const],
  modelId: 'dev/mnist',
  framework: 'tensorflow' as const,
  namespace: 'kaptain-demo',
  runId,
  selector: '',
  labels: {}
});

/** A tab's runs model (the plugin's, with the tab's ledger, locks and channel). */
function open(tab: FakeTab, wasm: any): RunsModel {
  return new RunsModel(fakeCore(wasm), {
    ledger: tab.ledger,
    locks: tab.locks,
    channel: tab.channel,
    now: () => 10_000,
    logInterval: 0,
    takeoverGrace: 0
  });
}

const cleanupReport = async () => ({ deleted: [{ kind: 'TFJob', name: 'dev-mnist-r7k2m9q' }], remaining: [], requests: 3 });

function stored(browser: FakeBrowser, runId = RUN) {
  return new Ledger(browser.storage).load().find(r => r.runId === runId);
}

/** Tab 1 starts the run; tab 2 opens the notebook while it lives. */
async function twoTabs(options: { channel?: boolean; storageEvents?: boolean } = {}) {
  const browser = new FakeBrowser();
  const tab1 = browser.tab({ channel: options.channel });
  const tab2 = browser.tab(options);
  const fake1 = new FakeApply();
  const fake2 = new FakeApply();
  const cleanup1 = jest.fn(cleanupReport);
  const cleanup2 = jest.fn(cleanupReport);
  const runs1 = open(tab1, { apply: fake1.apply, cleanup: cleanup1 });
  void runs1.resumeAll();
  const done1 = runs1.start({ cell: '%%kaptain train', summary: summary(), notebook: NOTEBOOK, cellId: 'cell-1' });
  await flush();
  fake1.calls[0].onEvent!({ event: 'created', kind: 'TFJob', name: 'dev-mnist-r7k2m9q' });
  fake1.calls[0].onEvent!({ event: 'status', kind: 'TFJob', name: 'dev-mnist-r7k2m9q', state: 'Running', message: '' });
  const runs2 = open(tab2, { apply: fake2.apply, cleanup: cleanup2 });
  await runs2.resumeAll(); // resolves: this tab follows nothing
  await flush();
  return { browser, tab1, tab2, fake1, fake2, cleanup1, cleanup2, runs1, runs2, done1 };
}

describe('runs in two tabs', () => {
  it('are followed by the tab that started them; the other shows them and their progress', async () => {
    const { browser, fake1, fake2, runs1, runs2, done1 } = await twoTabs();
    expect(fake1.calls).toHaveLength(1);
    expect(fake2.calls).toHaveLength(0);
    expect(runs1.isFollowed(RUN)).toBe(true);
    expect(runs2.isFollowed(RUN)).toBe(false);
    expect(runs2.isFollowedElsewhere(RUN)).toBe(true);
    expect(runs2.get(RUN)).toMatchObject({ state: 'running', objects: [{ kind: 'TFJob', state: 'Running' }] });
    expect(runs2.live().map(r => r.runId)).toEqual([RUN]);

    const changed = jest.fn();
    runs2.changed.connect(changed);
    fake1.calls[0].onEvent!({ event: 'phase-ended', phase: 'build', outcome: 'succeeded', message: 'built' });
    await flush();
    expect(runs2.get(RUN)!.phases).toEqual([{ phase: 'build', outcome: 'succeeded', message: 'built' }, { phase: 'train' }]);
    expect(changed).toHaveBeenCalled();

    fake1.finish(0, { outcome: 'succeeded', message: 'done' });
    await done1;
    await flush(30);
    expect(runs2.get(RUN)).toMatchObject({ state: 'succeeded', message: 'done' });
    // Tab 1 let go of the ended run: tab 2 looked, and did not take it over.
    expect(fake2.calls).toHaveLength(0);
    expect(runs2.isFollowedElsewhere(RUN)).toBe(false);
    expect(browser.locks.held()).toEqual([]);
  });

  it("a stop in the other tab interrupts the run once, in the tab that follows it (the cell lists what was deleted)", async () => {
    const { browser, fake1, fake2, cleanup1, cleanup2, runs1, runs2, done1 } = await twoTabs();
    // Tab 2's stop button: its command hook; then the server's kernel_actions event in every tab.
    const stop = runs2.interrupt(NOTEBOOK, 'notebook:interrupt-kernel', { before: 20_000 });
    const event1 = runs1.interrupt(NOTEBOOK, 'kernel interrupt (server event)', { before: 20_000 });
    const event2 = runs2.interrupt(NOTEBOOK, 'kernel interrupt (server event)', { before: 20_000 });
    const ended = await done1;
    await Promise.all([stop, event1, event2]);
    await flush(30);

    expect(fake1.aborts).toBe(1);
    expect(fake2.calls).toHaveLength(0);
    expect(cleanup1).not.toHaveBeenCalled();
    expect(cleanup2).not.toHaveBeenCalled();
    expect(ended.state).toBe('interrupted');
    expect(ended.cleanup!.deleted).toHaveLength(2);
    // Tab 2 shows what tab 1 stored, and the ledger holds tab 1's word, never "deleted 0".
    expect(stored(browser)).toMatchObject({ state: 'interrupted', cleanup: { deleted: ended.cleanup!.deleted } });
    expect(runs2.get(RUN)).toEqual(stored(browser));
    expect(browser.locks.held()).toEqual([]);
  });

  it('the tab that follows the run is told of an interrupt only the other tab saw', async () => {
    const { tab2, fake1, cleanup2, runs2, done1 } = await twoTabs();
    const cleanup = runs2.cleanup(RUN); // e.g. the panel's "Clean up" in tab 2
    const ended = await done1;
    await cleanup;
    expect(tab2.posted).toEqual([{ type: 'interrupt', runId: RUN, why: 'cleanup asked for, in another tab' }]);
    expect(fake1.aborts).toBe(1);
    expect(cleanup2).not.toHaveBeenCalled();
    expect(ended.message).toContain('cleanup asked for, in another tab');
    expect(runs2.get(RUN)!.state).toBe('interrupted');
  });

  it('without a channel, the tab that follows the run cleans up on its own hook (the server event)', async () => {
    const { fake1, cleanup1, cleanup2, runs1, runs2, done1 } = await twoTabs({ channel: false });
    const stop = runs2.interrupt(NOTEBOOK, 'notebook:interrupt-kernel');
    await flush(30);
    expect(fake1.aborts).toBe(0); // tab 2 did nothing itself
    void runs1.interrupt(NOTEBOOK, 'kernel interrupt (server event)');
    await done1;
    await stop;
    expect(fake1.aborts).toBe(1);
    expect(cleanup1).not.toHaveBeenCalled();
    expect(cleanup2).not.toHaveBeenCalled();
    expect(runs2.get(RUN)!.cleanup!.deleted).toHaveLength(2);
  });

  it('a tab never writes its copy of a run another tab follows', async () => {
    // Tab 2 hears nothing from tab 1 (its copy stays as it loaded it).
    const { browser, fake1, fake2, runs2 } = await twoTabs({ storageEvents: false });
    fake1.calls[0].onEvent!({ event: 'phase-ended', phase: 'build', outcome: 'succeeded', message: 'built' });
    await flush();
    expect(runs2.get(RUN)!.phases).toEqual([{ phase: 'build' }, { phase: 'train' }]); // stale here
    // Tab 2 writes the ledger for a run of its own.
    void runs2.start({ cell: '%%kaptain train', summary: summary('second'), notebook: 'other.ipynb', cellId: 'c' });
    await flush();
    fake2.calls[0].onEvent!({ event: 'status', kind: 'TFJob', name: 'x', state: 'Running', message: '' });
    runs2.forget('nothing-such');
    expect(stored(browser)!.phases).toEqual([{ phase: 'build', outcome: 'succeeded', message: 'built' }, { phase: 'train' }]);
    expect(stored(browser, 'second')!.state).toBe('running');
  });

  it('when the tab that follows a run goes away, one other tab takes it over', async () => {
    const { browser, tab1, fake2 } = await twoTabs();
    const tab3 = browser.tab();
    const fake3 = new FakeApply();
    const runs3 = open(tab3, { apply: fake3.apply });
    await runs3.resumeAll();
    await flush();
    expect(fake2.calls.length + fake3.calls.length).toBe(0);

    tab1.close(); // the browser releases its locks
    await flush(50);
    const resumed = [...fake2.calls, ...fake3.calls];
    expect(resumed).toHaveLength(1);
    expect(resumed[0].options).toMatchObject({ runId: RUN, resume: true });

    // It ends there; the last tab looks and does not follow it again.
    const [fake] = fake2.calls.length ? [fake2] : [fake3];
    fake.finish(0, { outcome: 'succeeded' });
    await flush(50);
    expect(fake2.calls.length + fake3.calls.length).toBe(1);
    expect(runs3.get(RUN)!.state).toBe('succeeded');
    expect(browser.locks.held()).toEqual([]);
  });

  it('an interrupt the following tab did not act on before it went away is cleaned up by the tab that saw it', async () => {
    const { tab1, fake1, cleanup2, runs2 } = await twoTabs({ channel: false });
    const stop = runs2.interrupt(NOTEBOOK, 'notebook:interrupt-kernel');
    await flush();
    tab1.close();
    await stop;
    expect(fake1.aborts).toBe(0);
    expect(cleanup2).toHaveBeenCalledTimes(1);
    expect(runs2.get(RUN)).toMatchObject({ state: 'interrupted', message: 'Cleaned up: deleted 1 object' });
  });

  it('a run no tab follows is resumed by one of two tabs that load together', async () => {
    const browser = new FakeBrowser();
    new Ledger(browser.storage).save([record({ state: 'running' })]);
    const fakes = [new FakeApply(), new FakeApply()];
    const models = fakes.map(fake => open(browser.tab(), { apply: fake.apply }));
    void models[0].resumeAll();
    void models[1].resumeAll();
    await flush(30);
    expect(fakes[0].calls.length + fakes[1].calls.length).toBe(1);
  });

  it('a run no tab follows is cleaned up by the tab that interrupts it, once', async () => {
    const browser = new FakeBrowser();
    new Ledger(browser.storage).save([record({ state: 'running' })]);
    const cleanup = jest.fn(cleanupReport);
    const runs = open(browser.tab(), { cleanup });
    await Promise.all([
      runs.interrupt(NOTEBOOK, 'notebook:interrupt-kernel'),
      runs.interrupt(NOTEBOOK, 'kernel interrupt (server event)')
    ]);
    expect(cleanup).toHaveBeenCalledTimes(1);
    expect(runs.get(RUN)!.state).toBe('interrupted');
    expect(JSON.parse(browser.storage.getItem(ledgerKey('/'))!)[0].state).toBe('interrupted');
  });
});

describe('notebook servers on one origin', () => {
  it("do not show, follow, interrupt or clean up each other's runs", async () => {
    // A hub's users, or a Kubeflow profile's notebooks: one origin, so one localStorage, one
    // lock manager and one BroadcastChannel namespace in the browser.
    const browser = new FakeBrowser();
    const alice = browser.tab({ server: '/user/alice/' });
    const bob = browser.tab({ server: '/user/bob/' });
    const fakeAlice = new FakeApply();
    const fakeBob = new FakeApply();
    const cleanupBob = jest.fn(cleanupReport);
    const runsAlice = open(alice, { apply: fakeAlice.apply });
    void runsAlice.resumeAll();
    void runsAlice.start({ cell: '%%kaptain train', summary: summary(), notebook: NOTEBOOK, cellId: 'cell-1' });
    await flush();
    const runsBob = open(bob, { apply: fakeBob.apply, cleanup: cleanupBob });
    await runsBob.resumeAll();
    await flush(30);
    expect(runsAlice.get(RUN)!.state).toBe('starting');
    expect(runsBob.runs).toEqual([]);
    // Bob has a notebook of the same path; interrupting its kernel is not alice's interrupt.
    await runsBob.interrupt(NOTEBOOK, 'notebook:interrupt-kernel');
    await flush(30);
    expect(fakeAlice.aborts).toBe(0);
    expect(cleanupBob).not.toHaveBeenCalled();
    expect(fakeBob.calls).toHaveLength(0);
    // Alice's tab going away does not hand her run to bob's tab.
    alice.close();
    await flush(50);
    expect(fakeBob.calls).toHaveLength(0);
    expect(new Ledger(browser.storage, ledgerKey('/user/bob/')).load()).toEqual([]);
    expect(new Ledger(browser.storage, ledgerKey('/user/alice/')).load().map(r => r.runId)).toEqual([RUN]);
  });
});

describe('run locks', () => {
  it('are exclusive, granted in order, and tell at once when taken', async () => {
    const manager = new PageLockManager();
    const a = new ManagedRunLocks(manager);
    const b = new ManagedRunLocks(manager);
    const first = await a.acquire(RUN, false);
    expect(first).not.toBeNull();
    expect(manager.held()).toEqual([lockName(RUN)]);
    // Another server's run of the same id is another lock.
    expect(await new ManagedRunLocks(manager, '/user/bob/').acquire(RUN, false)).not.toBeNull();
    expect(await b.acquire(RUN, false)).toBeNull();
    expect(await b.acquire('other', false)).not.toBeNull();
    let second: unknown;
    void b.acquire(RUN, true).then(lease => (second = lease));
    await flush();
    expect(second).toBeUndefined();
    first!.release();
    first!.release();
    await flush();
    expect(second).toBeTruthy();
  });
});

describe('run locks without Web Locks (an insecure context): leases in storage', () => {
  const timing = { ttl: 300, renew: 100, retry: 20, settle: 10 };
  const wait = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

  it('one tab holds a run at a time; the other takes it once it is let go', async () => {
    const storage = new MemoryStorage();
    const tab1 = new ManagedRunLocks(new StorageLockManager(storage, timing));
    const tab2 = new ManagedRunLocks(new StorageLockManager(storage, timing));
    const lease = await tab1.acquire(RUN, false);
    expect(lease).not.toBeNull();
    expect(await tab2.acquire(RUN, false)).toBeNull();
    // Held past its ttl: renewed while the holder lives.
    await wait(timing.ttl * 2);
    expect(await tab2.acquire(RUN, false)).toBeNull();
    let taken: unknown;
    void tab2.acquire(RUN, true).then(l => (taken = l));
    await wait(100);
    expect(taken).toBeUndefined();
    lease!.release();
    await wait(100);
    expect(taken).toBeTruthy();
  });

  it('two tabs that ask at once: exactly one gets it', async () => {
    const storage = new MemoryStorage();
    const tabs = [0, 1, 2].map(() => new ManagedRunLocks(new StorageLockManager(storage, timing)));
    const leases = await Promise.all(tabs.map(tab => tab.acquire(RUN, false)));
    expect(leases.filter(Boolean)).toHaveLength(1);
  });

  it("a lease nobody renews (the tab crashed) is free after its ttl", async () => {
    const storage = new MemoryStorage();
    storage.setItem(`kaptain:lock:${lockName(RUN)}`, JSON.stringify({ owner: 'crashed-tab', expires: Date.now() + 200 }));
    const tab = new ManagedRunLocks(new StorageLockManager(storage, timing));
    expect(await tab.acquire(RUN, false)).toBeNull();
    await wait(250);
    expect(await tab.acquire(RUN, false)).not.toBeNull();
  });
});
