// (g) The interrupt routes 03 does not take (DESIGN §1 "by any route", §5): the command
// palette, the I,I shortcut, the stop button of ANOTHER browser tab on the same notebook, and a
// kernel shutdown (Kernel menu, REST DELETE) while the run is live. Each leaves zero objects of
// the run in the cluster and says so in the cell, and the cleanup happens exactly once: one
// summary, as many objects deleted as the run had created, and one DELETE by the run's label
// selector per kind sent by the browser (all its tabs), however many hooks fired.
//
// To keep the suite short the routes share one page and one notebook, one cell per route (one
// page load and one kernel start instead of five); each route is a step of its own.
// Runs after 04: its sweep does not see these runs.
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { APIRequestContext, Page } from '@playwright/test';
import {
  cleanupDeleted,
  countByPath,
  expect,
  expectRunGone,
  kernelId,
  kernelStatus,
  NAMESPACE,
  openNotebook,
  outputObjects,
  recordCollectionDeletes,
  runIdOf,
  runObjectRefs,
  runOutput,
  screenshot,
  startCell,
  test,
  trainCell,
  waitForObject,
  waitForState
} from './fixtures';

interface RouteContext {
  page: IJupyterLabPageFixture;
  api: APIRequestContext;
  baseURL: string;
  /** The notebook's path in the server root. */
  file: string;
  /** The cell whose run is interrupted. */
  index: number;
}

interface Route {
  name: string;
  interrupt: (context: RouteContext) => Promise<void>;
  /** Whether the kernel is gone afterwards (the next route starts one). */
  killsKernel?: boolean;
}

/** The notebook panel's toolbar stop button in `page`. */
const stopButton = (page: Page) =>
  page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar-item[data-jp-item-name="interrupt"]').first();

/** Opens the notebook in a second tab of the same browser (same context: same login, same storage). */
async function secondTab(page: Page, baseURL: string, file: string): Promise<Page> {
  const second = await page.context().newPage();
  await second.goto(`${baseURL.replace(/\/?$/, '/')}lab/tree/${file}`);
  await expect(second.locator('.jp-NotebookPanel:not(.lm-mod-hidden)')).toBeVisible({ timeout: 60_000 });
  await expect
    .poll(() => kernelStatus(second), { timeout: 60_000, message: 'the second tab connects to the kernel' })
    .toBe('idle');
  expect(await kernelId(second), 'the second tab is on the same kernel').toBe(await kernelId(page));
  return second;
}

const PALETTE: Route = {
  name: 'the command palette (Ctrl+Shift+C, "Interrupt", Enter)',
  interrupt: async ({ page }) => {
    await page.keyboard.press('Control+Shift+C');
    const input = page.locator('.lm-CommandPalette-input');
    await expect(input).toBeFocused();
    await input.pressSequentially('Interrupt');
    // Enter runs the active (first enabled) item: it must be the kernel interrupt.
    await expect(page.locator('.lm-CommandPalette-item.lm-mod-active')).toContainText('Interrupt Kernel');
    await page.keyboard.press('Enter');
  }
};

const SHORTCUT: Route = {
  name: 'the I,I shortcut in command mode',
  interrupt: async ({ page }) => {
    await page.keyboard.press('Escape');
    await expect(page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook')).toHaveClass(/jp-mod-commandMode/);
    await page.keyboard.press('i');
    await page.keyboard.press('i');
  }
};

// Another tab of the same browser on the same notebook (same session, same kernel): its page
// loaded the ledger (localStorage) and shows the run, which the first tab follows (it holds the
// run's lock); its stop button is the interrupt, which the first tab carries out.
const OTHER_TAB: Route = {
  name: 'the stop button of another browser tab on the same notebook',
  interrupt: async ({ page, baseURL, file, index }) => {
    const second = await secondTab(page, baseURL, file);
    try {
      await stopButton(second).click();
      // The first tab hears of it from the second tab and through the server's kernel_actions
      // event; the second stays open until then.
      await waitForState(page, index, /^interrupted$/, 60_000);
    } finally {
      await second.close();
    }
  }
};

const MENU_SHUTDOWN: Route = {
  name: 'Kernel > Shut Down Kernel',
  killsKernel: true,
  interrupt: async ({ page }) => {
    await page.menu.clickMenuItem('Kernel>Shut Down Kernel');
  }
};

const REST_SHUTDOWN: Route = {
  name: 'a REST DELETE /api/kernels/<id> from outside the page',
  killsKernel: true,
  interrupt: async ({ page, api }) => {
    const id = await kernelId(page);
    const response = await api.delete(`api/kernels/${id}`);
    expect(response.status()).toBe(204);
  }
};

/** Starts a kernel for the current notebook again (after a route shut it down). */
async function startKernel(page: Page): Promise<void> {
  await page.evaluate(() =>
    (window as any).jupyterapp.shell.currentWidget.sessionContext.changeKernel({ name: 'python3' })
  );
  await expect.poll(() => kernelStatus(page), { timeout: 60_000, message: 'a new kernel starts' }).toBe('idle');
}

interface Interrupted {
  runId: string;
  /** "Kind/name" of what the run had created when it was interrupted (pods aside). */
  created: string[];
}

/**
 * Runs cell `index` (a train cell whose build stays live), interrupts it by `route`, and checks
 * what every route must do: the cell says interrupted, nothing of the run is left.
 */
async function interruptCell(context: RouteContext, route: Route): Promise<Interrupted> {
  const { page, index } = context;
  await startCell(page, index);
  const runId = await runIdOf(page, index);
  // Mid-build: the build's Secrets and Job exist and the build waits on the Job (nothing else
  // is created until it ends), so this is everything the run created.
  await waitForObject(page, index, 'Job');
  await waitForState(page, index, /^running$/);
  const created = runObjectRefs(runId);
  expect(
    created.some(o => o.startsWith('Job/')) && created.some(o => o.startsWith('Secret/')),
    `run ${runId} created: ${created.join(', ')}`
  ).toBe(true);

  await route.interrupt(context);

  await waitForState(page, index, /^interrupted$/, 60_000);
  await expectRunGone(runId);
  const cleanup = runOutput(page, index).locator('.kaptain-cleanup');
  await expect(cleanup).toHaveCount(1);
  await expect(cleanup).toContainText('deleted');
  return { runId, created };
}

/** One summary, listing exactly what the run created (and what its object rows list). */
async function expectSummaryOnce(page: Page, index: number, { created }: Interrupted): Promise<void> {
  const cleanup = runOutput(page, index).locator('.kaptain-cleanup');
  await expect(cleanup).toHaveCount(1);
  await expect(cleanup.locator('.kaptain-cleanup-headline')).toContainText(
    `deleted ${created.length} object${created.length === 1 ? '' : 's'}`
  );
  expect(await cleanupDeleted(page, index), 'what the cleanup summary lists as deleted').toEqual(created);
  expect(await outputObjects(page, index), "the cell's object rows").toEqual(created);
}

/** One DELETE by the run's label selector per kind, from all tabs of the browser together. */
function expectDeletesOnce(deletes: ReturnType<typeof recordCollectionDeletes>, { runId }: Interrupted): void {
  const counts = countByPath(deletes.of(runId));
  const paths = Object.keys(counts);
  expect(paths, `run ${runId}: DELETEs by its label selector`).toEqual(
    expect.arrayContaining([`/api/v1/namespaces/${NAMESPACE}/secrets`, `/apis/batch/v1/namespaces/${NAMESPACE}/jobs`])
  );
  expect(counts, `run ${runId}: DELETE requests by its label selector, per kind`).toEqual(
    Object.fromEntries(paths.map(p => [p, 1]))
  );
}

test('(g) route: the palette, I,I, another tab, Kernel > Shut Down Kernel, REST DELETE: zero objects remain, cleaned up once', async ({
  page,
  tmpPath,
  api,
  baseURL
}) => {
  test.setTimeout(180_000);
  const deletes = recordCollectionDeletes(page.context());
  const routes = [PALETTE, SHORTCUT, OTHER_TAB, MENU_SHUTDOWN, REST_SHUTDOWN];
  const file = await openNotebook(
    page,
    tmpPath,
    'routes.ipynb',
    routes.map(() => trainCell({ delay: 30 }))
  );
  const done: { route: Route; index: number; run: Interrupted }[] = [];
  let kernelGone = false;
  for (const [index, route] of routes.entries()) {
    await test.step(route.name, async () => {
      if (kernelGone) {
        await startKernel(page);
      }
      const run = await interruptCell({ page, api, baseURL: baseURL!, file, index }, route);
      kernelGone = Boolean(route.killsKernel);
      if (route === PALETTE) {
        await screenshot(runOutput(page, index), 'cell-output-interrupted-palette');
      }
      await expectSummaryOnce(page, index, run);
      done.push({ route, index, run });
    });
  }
  // Hooks that fire late (the server's event, the kernel's status) must not clean up again:
  // checked once every route had its turn (the last one gets a moment more).
  await page.waitForTimeout(1_000);
  for (const { route, index, run } of done) {
    await test.step(`${route.name}: cleaned up once`, async () => {
      await expectSummaryOnce(page, index, run);
      expectDeletesOnce(deletes, run);
    });
  }
});

// Regression (was a fixme): both tabs followed the run (the second resumed it from the shared
// ledger) and both cleaned it up, so every collection got two DELETEs and the first tab showed
// "deleted 0 objects". One tab follows a run now, the one holding its lock (src/locks.ts).
test('(g) route: another tab\'s stop button cleans up once, and the cell lists what was deleted', async ({
  page,
  tmpPath,
  api,
  baseURL
}) => {
  const deletes = recordCollectionDeletes(page.context());
  const file = await openNotebook(page, tmpPath, 'other-tab.ipynb', [trainCell({ delay: 30 })]);
  const run = await interruptCell({ page, api, baseURL: baseURL!, file, index: 0 }, OTHER_TAB);
  await page.waitForTimeout(1_000);
  await expectSummaryOnce(page, 0, run);
  expectDeletesOnce(deletes, run);
});
