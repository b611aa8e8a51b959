// A live run interrupted on the deployed server leaves nothing of itself in the cluster: the
// toolbar's stop button, a kernel restart and a kernel shutdown, each while a train cell runs.
// One page and one notebook, a cell per route (the shutdown last: no kernel after it).
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import {
  acceptDialogIfAny,
  expect,
  expectRunGone,
  kernelStatus,
  openNotebook,
  runIdOf,
  runObjects,
  runOutput,
  startCell,
  test,
  trainCell,
  waitForObject,
  waitForState
} from './fixtures';

const ROUTES: { name: string; interrupt: (page: IJupyterLabPageFixture) => Promise<void> }[] = [
  {
    name: 'the toolbar stop button',
    interrupt: async page => {
      expect(await page.notebook.clickToolbarItem('interrupt')).toBeTruthy();
    }
  },
  {
    name: 'Kernel > Restart Kernel…',
    interrupt: async page => {
      await page.menu.clickMenuItem('Kernel>Restart Kernel…');
      await acceptDialogIfAny(page, 10_000);
    }
  },
  {
    name: 'Kernel > Shut Down Kernel',
    interrupt: async page => {
      await page.menu.clickMenuItem('Kernel>Shut Down Kernel');
      await acceptDialogIfAny(page, 3_000);
    }
  }
];

test('interrupt, restart and shutdown while a cell runs: zero objects of the run remain', async ({ page, tmpPath }) => {
  test.setTimeout(240_000);
  // The build stays live for 30 s (the simulator's delay): long enough for every route.
  await openNotebook(
    page,
    tmpPath,
    'interrupts.ipynb',
    ROUTES.map(() => trainCell({ delay: 30 }))
  );
  for (const [index, route] of ROUTES.entries()) {
    await test.step(route.name, async () => {
      await startCell(page, index);
      const runId = await runIdOf(page, index);
      await waitForObject(page, index, 'Job');
      await waitForState(page, index, /^running$/);
      expect(runObjects(runId).length, `run ${runId} has objects in the cluster`).toBeGreaterThan(0);

      await route.interrupt(page);

      await waitForState(page, index, /^interrupted$/, 60_000);
      await expect(runOutput(page, index).locator('.kaptain-cleanup')).toContainText('deleted');
      await expectRunGone(runId);
      if (index < ROUTES.length - 1) {
        // The next cell needs the kernel idle (after a restart, the new one).
        await expect.poll(() => kernelStatus(page), { timeout: 60_000, message: 'the kernel is idle' }).toBe('idle');
      }
    });
  }
});
