import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLAIMS } from '../../src/repro';
import { injectedParameters, listNotebooks } from '../../paper-repro/run';

const ROOT = path.resolve(__dirname, '..', '..');

interface Cell {
  cell_type: string;
  metadata: { tags?: string[] };
  source: string[] | string;
}

const source = (c: Cell) => (Array.isArray(c.source) ? c.source.join('') : c.source);

/**
 * Every notebook the suite runs, read as files: the shape the suite relies on (a parameters cell
 * declaring what it injects, the package entry only, its values written under its own name), and
 * the suite's data about it (its claims, its expected time, its row in the README).
 */
describe('notebooks/ as the suite runs them', () => {
  const names = listNotebooks();
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const expected = JSON.parse(fs.readFileSync(path.join(ROOT, 'paper-repro', 'expected-seconds.json'), 'utf8')) as { quick: Record<string, number> };

  it('has the notebooks of every figure and table, 00 to 07, and the extension 08', () => {
    assert.deepEqual(
      names.map((n) => n.slice(0, 2)),
      ['00', '01', '02', '03', '04', '05', '06', '07', '08'],
    );
  });

  for (const name of names) {
    it(`${name}: parameters cell, package entry only, values written under its name, a README row and an expected time`, () => {
      const nb = JSON.parse(fs.readFileSync(path.join(ROOT, 'notebooks', `${name}.ipynb`), 'utf8')) as {
        cells: Cell[];
        metadata: { kernelspec: { name: string } };
      };
      assert.equal(nb.metadata.kernelspec.name, 'tslab');
      const params = nb.cells.filter((c) => c.metadata.tags?.includes('parameters'));
      assert.equal(params.length, 1, 'one cell tagged parameters');
      // What run.ts injects must redeclare names the parameters cell declares, with the same types.
      for (const line of injectedParameters({ scale: 'quick', seed: 0, backend: '', measuredFile: '' }).split('\n')) {
        assert.ok(source(params[0]).includes(line.replace(/ = .*/, ' = ')), `${name}: parameters cell declares ${line.replace(/ = .*/, '')}`);
      }
      const code = nb.cells
        .filter((c) => c.cell_type === 'code')
        .map(source)
        .join('\n');
      const imports = [...code.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
      assert.deepEqual(
        [...new Set(imports)].filter((m) => m !== 'pbe-lab' && m !== 'arquero'),
        [],
        `${name}: imports only the package entry (and arquero)`,
      );
      assert.match(code, new RegExp(`writeMeasured\\(measuredFile, '${name}'`), `${name}: writes its values under its own name`);
      assert.ok(readme.includes(`| \`${name}\` |`), `${name}: a row in the README's notebook table`);
      assert.ok(expected.quick[name] > 0, `${name}: an expected time at quick (paper-repro/expected-seconds.json)`);
    });
  }

  it('every claim belongs to a notebook of the suite', () => {
    for (const c of CLAIMS) assert.ok(names.includes(c.notebook), `${c.id}: no notebook ${c.notebook}`);
    for (const n of ['06-progressive-defense', '07-defense-tables'])
      assert.ok(
        CLAIMS.some((c) => c.notebook === n),
        `${n} has claims`,
      );
  });
});
