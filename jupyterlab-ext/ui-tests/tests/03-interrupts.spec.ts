// (b), (c): a run interrupted while it is live, by every route a user has, leaves nothing of
// itself in the cluster. The simulator's delay keeps the run live long enough.
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { APIRequestContext } from '@playwright/test';
import {
  acceptDialogIfAny,
  expect,
  expectRunGone,
  kernelId,
  openNotebook,
  runIdOf,
  runObjects,
  runOutput,
  screenshot,
  startCell,
  test,
  trainCell,
  waitForObject,
  waitForState
} from './fixtures';

type Route = (page: IJupyterLabPageFixture, api: APIRequestContext) => Promise<void>;

const ROUTES: { name: string; delay: number; liveKind: string; interrupt: Route; states: RegExp }[] = [
  {
    // The TFJob is live when the interrupt comes (build 10 s, then the TFJob 10 s: room for a
    // slow page to click).
    name: '(b) the toolbar stop button',
    delay: 10,
    liveKind: 'TFJob',
    interrupt: async page => {
      expect(await page.notebook.clickToolbarItem('interrupt')).toBeTruthy();
    },
    states: /^interrupted$/
  },
  {
    name: '(c) Kernel > Interrupt Kernel',
    delay: 30,
    liveKind: 'Job',
    interrupt: async page => {
      await page.menu.clickMenuItem('Kernel>Interrupt Kernel');
    },
    states: /^interrupted$/
  },
  {
    // Another client: the REST API, from the test process, with the token.
    name: '(c) a REST interrupt from outside the page',
    delay: 30,
    liveKind: 'Job',
    interrupt: async (page, api) => {
      const id = await kernelId(page);
      const response = await api.post(`api/kernels/${id}/interrupt`);
      expect(response.status()).toBe(204);
    },
    states: /^interrupted$/
  },
  {
    name: '(c) Kernel > Restart Kernel…',
    delay: 30,
    liveKind: 'Job',
    interrupt: async page => {
      await page.menu.clickMenuItem('Kernel>Restart Kernel…');
      await acceptDialogIfAny(page, 10_000);
    },
    states: /^interrupted$/
  }
];

for (const route of ROUTES) {
  test(`${route.name}: zero objects of the run remain`, async ({ page, tmpPath, api }) => {
    await openNotebook(page, tmpPath, 'interrupt.ipynb', [trainCell({ delay: route.delay })]);
    await startCell(page, 0);
    const runId = await runIdOf(page, 0);
    await waitForObject(page, 0, route.liveKind);
    await waitForState(page, 0, /^running$/);
    expect(runObjects(runId).length, 'the run has objects in the cluster').toBeGreaterThan(0);

    await route.interrupt(page, api);

    await waitForState(page, 0, route.states, 60_000);
    const cleanup = runOutput(page, 0).locator('.kaptain-cleanup');
    await expect(cleanup).toContainText('deleted');
    if (route.name.startsWith('(b)')) {
      await screenshot(runOutput(page, 0), 'cell-output-interrupted');
    }
    await expectRunGone(runId);
  });
}
