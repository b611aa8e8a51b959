// Each notebook server of the deployment is what a user reaches: its page on the host name
// under its base URL (not localhost), its /kube/ acting as the server's own ServiceAccount,
// bound to the Role the project ships, not as the admin.
import { expect, NAMESPACE, test } from './fixtures';

test('the page is served on the host name, under the server base URL', async ({ page, baseURL }) => {
  const expected = new URL(baseURL!.replace(/\/?$/, '/'));
  expect(expected.hostname).not.toMatch(/^(localhost|127\.|\[::1\])/);
  const { host, pageBase } = await page.evaluate(() => ({
    host: location.host,
    pageBase: (window as any).jupyterapp.serviceManager.serverSettings.baseUrl as string
  }));
  expect(host).toBe(expected.host);
  expect(new URL(pageBase, expected).pathname).toBe(expected.pathname);
});

test.describe('server side', () => {
  test.use({ autoGoto: false });

  test('/kaptain/config names the namespace the server was given', async ({ api }) => {
    const response = await api.get('kaptain/config');
    expect(response.status()).toBe(200);
    const config = await response.json();
    expect(config.namespace).toBe(NAMESPACE);
    expect(config.namespaceFrom).toBe('KAPTAIN_NAMESPACE');
  });

  test('/kube/ acts as the server ServiceAccount with the shipped Role, not as the admin', async ({
    api,
    serviceAccount
  }) => {
    // Within the Role: the namespace's Jobs.
    const allowed = await api.get(`kube/apis/batch/v1/namespaces/${NAMESPACE}/jobs`);
    expect(allowed.status(), `listing Jobs through /kube/: ${await allowed.text()}`).toBe(200);
    expect((await allowed.json()).kind).toBe('JobList');
    // Outside it: the cluster's namespaces, which the admin may list. The API server's refusal
    // names who asked.
    const refused = await api.get('kube/api/v1/namespaces');
    const body = await refused.text();
    expect(refused.status(), `listing namespaces through /kube/: ${body}`).toBe(403);
    const status = JSON.parse(body);
    expect(status.kind).toBe('Status');
    expect(status.message).toContain(`"system:serviceaccount:${NAMESPACE}:${serviceAccount}" cannot list resource "namespaces"`);
  });
});
