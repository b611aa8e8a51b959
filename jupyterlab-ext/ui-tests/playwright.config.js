// Playwright for the end-to-end tests, on galata's base configuration. scripts/test-extension
// starts JupyterLab (jupyter_server_test_config.py) and passes where it is:
//   TARGET_URL              JupyterLab's base URL (galata's convention)
//   KAPTAIN_JUPYTER_TOKEN   its token
//   KAPTAIN_NAMESPACE, KUBECTL, KUBECONFIG   the cluster the cases check
//   KAPTAIN_ARTIFACTS       where screenshots, traces and the report go
// Browser: Debian's Chromium (no browser is ever downloaded). One worker: the cases share one
// JupyterLab and one namespace, and the sweep case must come last.
const path = require('path');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const artifacts =
  process.env.KAPTAIN_ARTIFACTS || path.resolve(__dirname, '..', '..', 'artifacts', 'ui-tests');

module.exports = {
  ...baseConfig,
  testDir: './tests',
  outputDir: path.join(artifacts, 'test-results'),
  timeout: 90_000,
  expect: { timeout: 20_000 },
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: [
    ['list'],
    ['html', { open: 'never', outputFolder: path.join(artifacts, 'report') }]
  ],
  use: {
    ...baseConfig.use,
    baseURL: process.env.TARGET_URL || 'http://127.0.0.1:8888',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    // Video needs Playwright's own ffmpeg, which is a download: off.
    video: 'off',
    // The notebooks the cases write stay in the server root (a folder of the run's own), so
    // that scripts/test-extension can check their saved outputs for secret values.
    serverFiles: 'on',
    launchOptions: {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }]
};
