// What the deployed suite adds to the standalone suite's fixtures (../../tests/fixtures.ts, all
// re-exported): the browser logs in as a hub user does, and each project says which
// ServiceAccount its server acts as. Everything else (the cluster listed by label with kubectl,
// notebooks, the cell output's and the panel's DOM contract) is the standalone suite's.
import type { BrowserContext, Page } from '@playwright/test';
import { expect, test as base } from '../../tests/fixtures';

export * from '../../tests/fixtures';

type DeploymentOptions = {
  /** The JupyterHub user whose server the project's baseURL is; '' when there is no hub. */
  hubUser: string;
  /** The ServiceAccount the server acts as in the cluster. */
  serviceAccount: string;
};

/** Logs `user` in through the hub's login form, as a user does, until their server's OAuth is done. */
async function hubLogIn(context: BrowserContext, baseURL: string, user: string): Promise<void> {
  const password = process.env.KAPTAIN_HUB_PASSWORD;
  if (!password) {
    throw new Error('KAPTAIN_HUB_PASSWORD is not set: run the deployed suite with scripts/test-hub');
  }
  const server = new URL(baseURL.replace(/\/?$/, '/'));
  const page = await context.newPage();
  try {
    await page.goto(new URL(`/hub/login?next=${encodeURIComponent(`${server.pathname}lab`)}`, server).href);
    await page.locator('#username_input').fill(user);
    await page.locator('#password_input').fill(password);
    await page.locator('#login_submit').click();
    // The hub sends the browser on to the user's server, which sends it through the hub's OAuth
    // and sets its own cookie; the case's page loads JupyterLab afterwards.
    await expect
      .poll(async () => (await context.cookies()).map(cookie => cookie.name), { timeout: 30_000 })
      .toContain(`jupyterhub-user-${user}`);
    await page.goto('about:blank');
  } finally {
    await page.close();
  }
}

export const test = base.extend<DeploymentOptions>({
  hubUser: ['', { option: true }],
  serviceAccount: ['', { option: true }],
  context: async ({ context, baseURL, hubUser }, use) => {
    if (hubUser) {
      await hubLogIn(context, baseURL!, hubUser);
    }
    await use(context);
  }
});

/**
 * How long a Contents API call of the page takes (ms), sent by the page with its own
 * credentials, as JupyterLab's file browser sends it.
 */
export async function contentsCallMs(page: Page, serverPath = ''): Promise<number> {
  const { ms, status } = await page.evaluate(async serverPath => {
    const settings = (window as any).jupyterapp.serviceManager.serverSettings;
    const headers: Record<string, string> = settings.token ? { Authorization: `token ${settings.token}` } : {};
    const started = performance.now();
    const response = await fetch(`${settings.baseUrl}api/contents/${serverPath}?content=0`, {
      headers,
      credentials: 'same-origin',
      cache: 'no-store'
    });
    await response.text();
    return { ms: performance.now() - started, status: response.status };
  }, serverPath);
  expect(status, 'the Contents API answers the page').toBe(200);
  return Math.round(ms);
}
