// Playwright for the deployed suite (scripts/test-hub starts the servers and passes where they
// are): the standalone suite's configuration (../playwright.config.js: Debian's Chromium, one
// worker, artifacts), with the suite's host names mapped to 127.0.0.1 (hosts.js: in Chromium
// with --host-resolver-rules, in the test process by its DNS lookup), and one project per
// notebook server:
//   jupyterhub-alice, jupyterhub-bob   http://hub.kaptain.test:PORT/user/<name>/ (KAPTAIN_HUB_URL),
//                                      logged in through the hub's form (KAPTAIN_HUB_PASSWORD);
//                                      the test process's requests carry the hub API token of a
//                                      service (KAPTAIN_HUB_SERVICE_TOKEN)
//   kubeflow-a, kubeflow-b             https://kubeflow.kaptain.test:PORT/notebook/<ns>/<a|b>/
//                                      (KAPTAIN_KUBEFLOW_URL), one origin, no token, the
//                                      ingress's certificate made by the script (not trusted)
// The first server of each deployment runs every spec; the second the ones that prove it is a
// server of its own (servers, cells).
const path = require('path');
const { hostResolverRules } = require('./hosts');
const base = require('../playwright.config.js');

const namespace = process.env.KAPTAIN_NAMESPACE ?? 'kaptain-hub';
const hub = process.env.KAPTAIN_HUB_URL ?? 'http://hub.kaptain.test:8000';
const kubeflow = process.env.KAPTAIN_KUBEFLOW_URL ?? 'https://kubeflow.kaptain.test:8443';
const hubToken = process.env.KAPTAIN_HUB_SERVICE_TOKEN ?? '';
const secondServerSpecs = ['**/servers.spec.ts', '**/cells.spec.ts'];

const hubUser = name => ({
  baseURL: `${hub}/user/${name}`,
  hubUser: name,
  jupyterToken: hubToken,
  tokenLogIn: false,
  // What the server's ServiceAccount is called (tests/cluster/service-account made it).
  serviceAccount: `jupyter-${name}`
});
const kubeflowServer = name => ({
  baseURL: `${kubeflow}/notebook/${namespace}/${name}`,
  jupyterToken: '',
  ignoreHTTPSErrors: true,
  serviceAccount: 'default-editor'
});

module.exports = {
  ...base,
  testDir: './tests',
  timeout: 120_000,
  use: {
    ...base.use,
    launchOptions: {
      ...base.use.launchOptions,
      args: [...base.use.launchOptions.args, `--host-resolver-rules=${hostResolverRules}`]
    }
  },
  projects: [
    { name: 'jupyterhub-alice', use: { browserName: 'chromium', ...hubUser('alice') } },
    { name: 'jupyterhub-bob', testMatch: secondServerSpecs, use: { browserName: 'chromium', ...hubUser('bob') } },
    { name: 'kubeflow-a', use: { browserName: 'chromium', ...kubeflowServer('a') } },
    { name: 'kubeflow-b', testMatch: secondServerSpecs, use: { browserName: 'chromium', ...kubeflowServer('b') } }
  ]
};
