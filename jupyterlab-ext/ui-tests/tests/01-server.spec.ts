// The parts under the cases: JupyterLab runs the extension from the installed wheel, the
// server extension answers /kaptain/config, jupyter-server-proxy runs `kubectl proxy` under
// /kube/ (a watch streams when the browser asks for text/event-stream), and the extension's
// plugins activate in the browser without errors.
import * as http from 'http';
import { expect, kubectl, NAMESPACE, test, TOKEN } from './fixtures';

const PLUGINS = [
  'kaptain-jupyterlab:plugin',
  'kaptain-jupyterlab:runs',
  'kaptain-jupyterlab:executor',
  'kaptain-jupyterlab:panel'
];

test.describe('server side', () => {
  test.use({ autoGoto: false });

  test('/kaptain/config answers with the namespace and no other environment', async ({ api }) => {
    const response = await api.get('kaptain/config');
    expect(response.status()).toBe(200);
    const config = await response.json();
    expect(config.namespace).toBe(NAMESPACE);
    expect(config.namespaceFrom).toBe('KAPTAIN_NAMESPACE');
    expect(config.proxyPath).toBe('kube');
    for (const name of Object.keys(config.env)) {
      expect(name).toMatch(/^KAPTAIN_SDK_/);
    }
  });

  test('/kaptain/config wants the token', async ({ playwright, baseURL }) => {
    const anonymous = await playwright.request.newContext({ baseURL });
    const response = await anonymous.get('kaptain/config', { maxRedirects: 0 });
    expect([401, 403]).toContain(response.status());
    await anonymous.dispose();
  });

  test('/kube/ proxies to the API server, and only with the token', async ({ api, playwright, baseURL }) => {
    // As the namespace's ServiceAccount, with what deploy/rbac.yaml grants it.
    const response = await api.get(`kube/api/v1/namespaces/${NAMESPACE}/serviceaccounts/default`);
    expect(response.status()).toBe(200);
    expect((await response.json()).metadata.namespace).toBe(NAMESPACE);
    // Discovery, which the core uses to tell the serving API group.
    const groups = await (await api.get('kube/apis')).json();
    expect(groups.groups.map((g: any) => g.name)).toContain('serving.kubeflow.org');

    const anonymous = await playwright.request.newContext({ baseURL });
    const refused = await anonymous.get(`kube/api/v1/namespaces/${NAMESPACE}/serviceaccounts/default`, { maxRedirects: 0 });
    expect([302, 401, 403]).toContain(refused.status());
    await anonymous.dispose();
  });

  test('a watch through /kube/ streams events while the connection stays open', async ({ baseURL }) => {
    const name = `kaptain-e2e-watch-${Date.now().toString(36)}`;
    const url = new URL(
      `kube/apis/batch/v1/namespaces/${NAMESPACE}/jobs?watch=true&timeoutSeconds=30&fieldSelector=metadata.name%3D${name}`,
      baseURL!.replace(/\/?$/, '/')
    );
    // Node's http, not fetch: the body is read chunk by chunk as the proxy flushes it.
    const firstEvent = new Promise<{ status: number; contentType: string; event: any }>((resolve, reject) => {
      const request = http.get(
        url,
        { headers: { Accept: 'text/event-stream', Authorization: `token ${TOKEN}` } },
        response => {
          let buffer = '';
          response.setEncoding('utf8');
          response.on('data', chunk => {
            buffer += chunk;
            const newline = buffer.indexOf('\n');
            if (newline >= 0) {
              resolve({
                status: response.statusCode ?? 0,
                contentType: String(response.headers['content-type'] ?? ''),
                event: JSON.parse(buffer.slice(0, newline))
              });
              request.destroy();
            }
          });
          response.on('end', () => reject(new Error(`the watch ended without an event (status ${response.statusCode}): ${buffer}`)));
        }
      );
      request.on('error', error => {
        if (!(error as any).code?.startsWith?.('ECONNRESET')) {
          reject(error);
        }
      });
    });
    // The object appears after the watch started: its event can only come through a stream.
    await new Promise(resolve => setTimeout(resolve, 1_500));
    kubectl(['create', 'job', name, '-n', NAMESPACE, '--image=busybox', '--', 'true']);
    try {
      const { status, event } = await Promise.race([
        firstEvent,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('no watch event within 15 s: the proxy buffers the stream')), 15_000)
        )
      ]);
      expect(status).toBe(200);
      expect(event.type).toBe('ADDED');
      expect(event.object.metadata.name).toBe(name);
    } finally {
      kubectl(['delete', 'job', name, '-n', NAMESPACE, '--wait=false']);
    }
  });
});

test.describe('in the browser', () => {
  test('the extension is installed from the wheel and its plugins activate without errors', async ({
    page,
    api
  }) => {
    const errors: string[] = [];
    page.on('pageerror', error => errors.push(`page error: ${error.message}`));
    page.on('console', message => {
      // Module federation warns when a shared package's version is outside what the extension
      // asks for ("Unsatisfied version ... of shared singleton module"): the extension must
      // load without it on every supported JupyterLab.
      if (
        (message.type() === 'error' && /kaptain/i.test(message.text())) ||
        /unsatisfied version|shared singleton/i.test(message.text())
      ) {
        errors.push(`console ${message.type()}: ${message.text()}`);
      }
    });
    await page.reload();

    // The JupyterLab scripts/test-extension started (the newest or, with --oldest, the oldest
    // supported).
    const version = await page.evaluate(() => (window as any).jupyterapp.version);
    expect(version).toBe(process.env.KAPTAIN_JUPYTERLAB_VERSION ?? version);

    // The federated extension the server lists is ours, from the installed wheel.
    const listed = await page.evaluate(() => {
      const data = document.getElementById('jupyter-config-data');
      const config = JSON.parse(data?.textContent ?? '{}');
      return (config.federated_extensions ?? []).map((e: any) => e.name);
    });
    expect(listed).toContain('kaptain-jupyterlab');

    const activated = () =>
      page.evaluate(
        ids => Object.fromEntries(ids.map(id => [id, (window as any).jupyterapp.isPluginActivated(id)])),
        PLUGINS
      );
    // Lazily activated plugins may take a moment; the errors say why one never does.
    await expect.poll(async () => Object.values(await activated()).every(Boolean), { timeout: 15_000 }).toBe(true).catch(() => undefined);
    expect({ activated: await activated(), errors }).toEqual({
      activated: Object.fromEntries(PLUGINS.map(id => [id, true])),
      errors: []
    });
    // The settings schema is served (the core plugin loads it).
    const settings = await api.get('lab/api/settings/kaptain-jupyterlab:plugin');
    expect(settings.status()).toBe(200);

    // The page reaches the cluster the way the extension does: same origin, the login cookie
    // and the XSRF header, no token of its own.
    const status = await page.evaluate(async namespace => {
      const xsrf = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
      const base = (window as any).jupyterapp.serviceManager.serverSettings.baseUrl;
      const response = await fetch(`${base}kube/api/v1/namespaces/${namespace}/secrets?limit=1`, {
        headers: xsrf ? { 'X-XSRFToken': decodeURIComponent(xsrf[1]) } : {}
      });
      return response.status;
    }, NAMESPACE);
    expect(status).toBe(200);

    expect(errors).toEqual([]);
  });

  test('the wasm reaches the page gzip-compressed, and a reload takes it from the cache', async ({ browser, baseURL }) => {
    // A browser context of its own: galata routes its page's requests, and Playwright turns the
    // HTTP cache off wherever it routes.
    const context = await browser.newContext();
    const page = await context.newPage();
    // Chromium's own network records (DevTools protocol): bytes on the wire, encoding, cache.
    type Fetch = { url: string; encoding: string; cached: boolean; wire?: number };
    const fetches = new Map<string, Fetch>();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.responseReceived', event => {
      if (new URL(event.response.url).pathname.endsWith('.wasm')) {
        const headers = Object.fromEntries(
          Object.entries(event.response.headers).map(([name, value]) => [name.toLowerCase(), String(value)])
        );
        fetches.set(event.requestId, {
          url: event.response.url,
          encoding: headers['content-encoding'] ?? '',
          cached: Boolean(event.response.fromDiskCache || event.response.fromMemoryCache)
        });
      }
    });
    cdp.on('Network.loadingFinished', event => {
      const fetch = fetches.get(event.requestId);
      if (fetch) {
        fetch.wire = event.encodedDataLength;
      }
    });
    // The panel loads the page's wasm (a build cell alone fetches the build package's).
    const wasmOf = async (load: () => Promise<unknown>): Promise<Fetch[]> => {
      fetches.clear();
      await load();
      // Activated by id until it shows: the layout JupyterLab restores may come after a click.
      await expect
        .poll(async () => {
          await page.evaluate(() => (window as any).jupyterapp?.shell.activateById('kaptain-runs-panel'));
          return page.locator('#kaptain-runs-panel').isVisible();
        })
        .toBe(true);
      await expect.poll(() => [...fetches.values()].filter(f => f.wire !== undefined).length).toBeGreaterThan(0);
      return [...fetches.values()];
    };

    const lab = new URL(`lab?token=${TOKEN}`, baseURL!.replace(/\/?$/, '/')).href;
    const first = await wasmOf(() => page.goto(lab));
    expect(first.map(f => ({ encoding: f.encoding, cached: f.cached }))).toEqual([{ encoding: 'gzip', cached: false }]);
    // At most 260 KB on the wire: scripts/build-wasm's budget (260,000 B at gzip -9) and the
    // response's headers.
    expect(first[0].wire!).toBeLessThanOrEqual(260 * 1024);

    const again = await wasmOf(() => page.reload());
    expect(again.map(f => f.url)).toEqual(first.map(f => f.url));
    expect(again.map(f => ({ cached: f.cached, wire: f.wire }))).toEqual([{ cached: true, wire: 0 }]);
    await context.close();
  });
});
