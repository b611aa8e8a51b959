// The extension's benchmarks (scripts/bench-extension): the end-to-end set-up, other tests.
const base = require('./playwright.config');

module.exports = {
  ...base,
  testDir: './bench',
  testMatch: '*.bench.ts',
  timeout: 600_000,
  reporter: [['list']]
};
