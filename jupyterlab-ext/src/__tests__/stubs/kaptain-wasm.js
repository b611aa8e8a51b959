// Stands in for the wasm package in unit tests: each test passes its own fake through
// IKaptainCore.wasm(); calling this one is a test bug.
const missing = name => () => {
  throw new Error(`kaptain-wasm.${name} is not available in unit tests; fake IKaptainCore.wasm()`);
};
module.exports = {
  __esModule: true,
  default: async () => undefined,
  apply: missing('apply'),
  cleanup: missing('cleanup'),
  logs: missing('logs'),
  parse: missing('parse'),
  runs: missing('runs')
};
