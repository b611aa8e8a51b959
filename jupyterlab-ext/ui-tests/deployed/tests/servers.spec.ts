// Each notebook server of the deployment, reached by its host name under its base URL (the
// page's side is checked in cells.spec.ts): its /kube/ acts as the server's own ServiceAccount,
// bound to the Role the project ships, not as the admin.
import { expect, NAMESPACE, test } from './fixtures';

test.describe('server side', () => {
  // No JupyterLab page needed.
  test.use({ autoGoto: false });

  test('/kaptain/config names the namespace the server was given, and the server by its base URL', async ({
    api,
    baseURL
  }) => {
    const response = await api.get('kaptain/config');
    expect(response.status()).toBe(200);
    const config = await response.json();
    expect(config.namespace).toBe(NAMESPACE);
    expect(config.namespaceFrom).toBe('KAPTAIN_NAMESPACE');
    // What each run of this server is labelled with: distinct for every server of the namespace.
    expect(config.notebookServer).toBe(new URL(baseURL!.replace(/\/?$/, '/')).pathname);
  });

  test('/kube/ acts as the server ServiceAccount with the shipped Role, not as the admin', async ({
    api,
    serviceAccount
  }) => {
    // Within the Role: the namespace's Jobs.
    const allowed = await api.get(`kube/apis/batch/v1/namespaces/${NAMESPACE}/jobs`);
    expect(allowed.status(), `listing Jobs through /kube/: ${await allowed.text()}`).toBe(200);
    expect((await allowed.json()).kind).toBe('JobList');
    // Outside it: the API server's /metrics, which the admin may read. The refusal names who
    // asked. (A path, not a resource: tests/cluster/rbac-check judges the Role by the resources
    // its accounts were refused, and this refusal is on purpose.)
    const refused = await api.get('kube/metrics');
    const body = await refused.text();
    expect(refused.status(), `reading /metrics through /kube/: ${body.slice(0, 200)}`).toBe(403);
    const status = JSON.parse(body);
    expect(status.kind).toBe('Status');
    expect(status.message).toContain(`"system:serviceaccount:${NAMESPACE}:${serviceAccount}" cannot get path "/metrics"`);
  });
});
