import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
const DPDM = join(ROOT, 'node_modules/.bin/dpdm');

/** The import cycles dpdm finds among the files the globs name (type-only imports count: a circle of contracts too). */
function cycles(cwd: string, globs: string[]): string[][] {
  const out = join(mkdtempSync(join(tmpdir(), 'dpdm-')), 'graph.json');
  execFileSync(DPDM, ['--no-tree', '--no-warning', '--no-progress', '--no-circular', '-o', out, ...globs], {
    cwd,
    stdio: 'ignore',
  });
  return (JSON.parse(readFileSync(out, 'utf8')) as { circulars: string[][] }).circulars;
}

/** No module imports itself through others: contracts are a leaf (src/migration/contracts.ts), never a circle. */
describe('imports', () => {
  jest.setTimeout(60_000);

  it('form no cycle in the sources, the lab, the bench or the tests', () => {
    expect(cycles(ROOT, ['src/**/*.ts', 'lab/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'])).toEqual([]);
  });

  it('are checked: a cycle is found', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cycle-'));
    writeFileSync(join(dir, 'a.ts'), "import type { B } from './b';\nexport type A = B[];\n");
    writeFileSync(join(dir, 'b.ts'), "import type { A } from './a';\nexport interface B { a: A }\n");
    expect(cycles(dir, ['*.ts']).map((cycle) => [...cycle].sort())).toEqual([['a.ts', 'b.ts']]);
  });
});
