// Jest for the extension's unit tests (src/__tests__/*.spec.ts) in jsdom. TypeScript and the
// ES-module packages of JupyterLab (and their ES-module dependencies) go through ts-jest,
// transpile-only; CSS imports are stubbed; the wasm package is mapped to a stub that tests
// replace with their own fakes (the real one needs a browser fetch of its .wasm).
const esModules = [
  '@jupyterlab/',
  '@jupyter/',
  '@codemirror/',
  '@lezer/',
  '@microsoft/fast-',
  'exenv-es6',
  'lib0',
  'marked',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
].join('|');

module.exports = {
  testEnvironment: 'jsdom',
  testMatch: ['<rootDir>/src/__tests__/*.spec.ts', '<rootDir>/src/__tests__/*.spec.tsx'],
  moduleFileExtensions: ['ts', 'tsx', 'js', 'mjs', 'cjs', 'json'],
  transform: {
    '^.+\\.(ts|tsx|js|mjs)$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }]
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esModules}))`],
  moduleNameMapper: {
    '\\.(css|less|svg)$': '<rootDir>/src/__tests__/stubs/style.js',
    '^kaptain-wasm$': '<rootDir>/src/__tests__/stubs/kaptain-wasm.js'
  },
  modulePathIgnorePatterns: ['<rootDir>/kaptain_jupyterlab/', '<rootDir>/lib/'],
  setupFiles: ['<rootDir>/src/__tests__/stubs/setup.js']
};
