// The JupyterLab versions the extension loads in: module federation takes the range a shared
// package is asked for from package.json's jupyterlab.sharedPackages (else from the JupyterLab
// that built it, which would shut out every older one). The two places that say a range must
// agree, and each range must admit the oldest supported JupyterLab's package
// (tests/api-oldest/package.json, which the sources are type-checked against).
import * as fs from 'fs';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');
const read = (file: string) => JSON.parse(fs.readFileSync(path.join(root, file), 'utf8'));
const pkg = read('package.json');
const oldest = read('tests/api-oldest/package.json').devDependencies as Record<string, string>;

const shared = (name: string) => name.startsWith('@jupyterlab/') || name.startsWith('@lumino/');
const numbers = (version: string) => version.split('.').map(Number);

/** Whether a caret range `^a.b.c` (a > 0) admits `version`. */
function caretAdmits(range: string, version: string): boolean {
  const [major, minor, patch] = numbers(range.replace(/^\^/, ''));
  const [m, n, p] = numbers(version);
  return m === major && (n > minor || (n === minor && p >= patch));
}

describe('package.json', () => {
  const dependencies = Object.entries(pkg.dependencies as Record<string, string>).filter(([name]) =>
    shared(name)
  );
  const sharedPackages = pkg.jupyterlab.sharedPackages as Record<string, { requiredVersion: string }>;

  it('asks for every shared package by the range it depends on', () => {
    expect(Object.fromEntries(Object.entries(sharedPackages).map(([name, s]) => [name, s.requiredVersion]))).toEqual(
      Object.fromEntries(dependencies)
    );
  });

  it.each(dependencies)('admits the oldest supported JupyterLab: %s %s', (name, range) => {
    expect(range).toMatch(/^\^[1-9]\d*\.\d+\.\d+$/);
    expect(oldest[name]).toBeDefined();
    expect(caretAdmits(range, oldest[name])).toBe(true);
  });
});
