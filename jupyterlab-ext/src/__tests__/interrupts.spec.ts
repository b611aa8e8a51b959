import { describe, expect, it, jest } from '@jest/globals';

import { InterruptRouter, KERNEL_ACTIONS_SCHEMA, NotebookResolver } from '../interrupts';
import { Ledger } from '../ledger';
import { RunsModel } from '../runs';
import { fakeCore, FakeApply, flush, MemoryStorage } from './fakes';

const NB = 'work/mnist.ipynb';
const OTHER = 'work/other.ipynb';

function target(live = [{ notebook: NB }]) {
  return { interrupt: jest.fn(async (_n: string, _w: string, _o?: { before?: number }) => undefined), live: () => live };
}

const resolver: NotebookResolver = {
  forCommand: (_id, args) => (typeof args.widgetId === 'string' ? (args.widgetId === 'nb2' ? OTHER : null) : NB),
  forKernel: async id => (id === 'k-1' ? [NB] : id === 'k-2' ? [OTHER] : [])
};

describe('interrupt routing', () => {
  it('interrupts on the interrupt and shutdown commands of a notebook', () => {
    const t = target();
    const router = new InterruptRouter(t, resolver, () => 42);
    router.command('notebook:interrupt-kernel', { toolbar: true });
    router.command('kernelmenu:interrupt', {});
    router.command('notebook:shutdown-kernel', {});
    router.command('notebook:interrupt-kernel', { widgetId: 'nb2' });
    router.command('notebook:run-cell', {});
    router.command('notebook:interrupt-kernel', { widgetId: 'console' });
    expect(t.interrupt.mock.calls.map(c => c[0])).toEqual([NB, NB, NB, OTHER]);
    expect(t.interrupt.mock.calls[0][2]).toEqual({ before: 42 });
  });

  it('interrupts on a restart command only when the user confirmed', async () => {
    const t = target();
    const router = new InterruptRouter(t, resolver);
    router.command('notebook:restart-kernel', {}, Promise.resolve(false));
    router.command('kernelmenu:restart', {}, Promise.resolve(true));
    await flush();
    expect(t.interrupt.mock.calls.map(c => c[1])).toEqual(['kernelmenu:restart']);
  });

  it('maps the server event kernel_id to its notebook', async () => {
    const t = target();
    const router = new InterruptRouter(t, resolver);
    await router.serverEvent({ schema_id: KERNEL_ACTIONS_SCHEMA, action: 'interrupt', kernel_id: 'k-2', status: 'success', msg: '' });
    await router.serverEvent({ schema_id: KERNEL_ACTIONS_SCHEMA, action: 'restart', kernel_id: 'k-1', status: 'success', msg: '' });
    await router.serverEvent({ schema_id: KERNEL_ACTIONS_SCHEMA, action: 'start', kernel_id: 'k-1', status: 'success', msg: '' });
    await router.serverEvent({ schema_id: KERNEL_ACTIONS_SCHEMA, action: 'interrupt', kernel_id: 'k-1', status: 'error', msg: '' });
    await router.serverEvent({ schema_id: 'https://events.jupyter.org/jupyter_server/contents_service/v1', action: 'save', path: NB });
    await router.serverEvent({ schema_id: KERNEL_ACTIONS_SCHEMA, action: 'shutdown', kernel_id: 'unknown', status: 'success', msg: '' });
    expect(t.interrupt.mock.calls.map(c => [c[0], c[1]])).toEqual([
      [OTHER, 'kernel interrupt (server event)'],
      [NB, 'kernel restart (server event)']
    ]);
  });

  it('interrupts on kernel status restarting/dead and on losing the kernel', () => {
    const t = target();
    const router = new InterruptRouter(t, resolver);
    for (const status of ['busy', 'idle', 'unknown', 'starting', 'restarting', 'autorestarting', 'dead']) {
      router.kernelStatus(NB, status);
    }
    router.kernelLost(OTHER, 'kernel changed');
    expect(t.interrupt.mock.calls.map(c => [c[0], c[1]])).toEqual([
      [NB, 'kernel restarting'],
      [NB, 'kernel autorestarting'],
      [NB, 'kernel dead'],
      [OTHER, 'kernel changed']
    ]);
  });

  it('does nothing while no run lives', async () => {
    const t = target([]);
    const router = new InterruptRouter(t, resolver);
    router.command('notebook:interrupt-kernel', {});
    router.kernelStatus(NB, 'dead');
    await router.serverEvent({ schema_id: KERNEL_ACTIONS_SCHEMA, action: 'interrupt', kernel_id: 'k-1', status: 'success', msg: '' });
    expect(t.interrupt).not.toHaveBeenCalled();
  });

  it('cancels the run of that notebook exactly once, however many hooks fire', async () => {
    const fake = new FakeApply();
    let now = 1_000;
    const runs = new RunsModel(fakeCore({ apply: fake.apply }), {
      ledger: new Ledger(new MemoryStorage()),
      now: () => now,
      logInterval: 0
    });
    const base = { step: 'train' as const, phases: ['build' as const, 'train' as const], modelId: 'dev/mnist', framework: 'tensorflow' as const, namespace: 'ns', selector: '', labels: {} };
    const mine = runs.start({ cell: 'c', summary: { ...base, runId: 'rmine' }, notebook: NB, cellId: 'a' });
    const other = runs.start({ cell: 'c', summary: { ...base, runId: 'rother' }, notebook: OTHER, cellId: 'b' });
    await flush();
    now = 2_000;
    const router = new InterruptRouter(runs, resolver, () => now);
    router.command('notebook:interrupt-kernel', { toolbar: true });
    router.command('kernelmenu:interrupt', {});
    router.kernelStatus(NB, 'restarting');
    expect(runs.get('rmine')!.state).toBe('cleaning');
    now = 3_250;
    await router.serverEvent({ schema_id: KERNEL_ACTIONS_SCHEMA, action: 'interrupt', kernel_id: 'k-1', status: 'success', msg: '' });
    await runs.interrupt(NB, 'again');
    const ended = await mine;
    expect(fake.aborts).toBe(1);
    expect(ended.state).toBe('interrupted');
    expect(ended.message).toContain('notebook:interrupt-kernel');
    expect(ended.cleanup!.deleted).toHaveLength(2);
    expect(ended.cleanup!.millis).toBe(1_250);
    expect(runs.get('rother')!.state).toBe('starting');
    fake.finish(1, {});
    expect((await other).state).toBe('succeeded');
  });

  it('spares a run started after what interrupted (Restart and Run All)', async () => {
    const fake = new FakeApply();
    let now = 5_000;
    const runs = new RunsModel(fakeCore({ apply: fake.apply }), { ledger: new Ledger(new MemoryStorage()), now: () => now, logInterval: 0 });
    const base = { step: 'train' as const, phases: ['build' as const, 'train' as const], modelId: 'm', framework: 'tensorflow' as const, namespace: 'ns', selector: '', labels: {} };
    void runs.start({ cell: 'c', summary: { ...base, runId: 'rnew' }, notebook: NB, cellId: 'a' });
    await flush();
    await Promise.race([runs.interrupt(NB, 'kernel restart (server event)', { before: 4_000 }), flush()]);
    expect(fake.aborts).toBe(0);
    now = 6_000;
  });
});
