import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { injectParameters } from '../../paper-repro/execute';
import { type Notebook, nbformatErrors, readNotebook } from '../../paper-repro/nbformat';

const ROOT = path.resolve(__dirname, '..', '..');

const valid = (): Notebook => ({
  cells: [
    { id: 'a1', cell_type: 'markdown', metadata: {}, source: '# title' },
    { id: 'b2', cell_type: 'code', metadata: { tags: ['parameters'] }, source: "const scale: string = 'quick';", outputs: [], execution_count: null },
    {
      id: 'c3',
      cell_type: 'code',
      metadata: {},
      source: 'show()',
      outputs: [{ output_type: 'display_data', data: { 'text/plain': 'x' }, metadata: {} }],
      execution_count: 3,
    },
  ],
  metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
  nbformat: 4,
  nbformat_minor: 5,
});

describe("nbformat 4.5 (Jupyter's schema, without Python)", () => {
  it('accepts a valid notebook and every notebook of notebooks/', () => {
    assert.deepEqual(nbformatErrors(valid()), []);
    for (const f of fs.readdirSync(path.join(ROOT, 'notebooks')).filter((n) => n.endsWith('.ipynb')))
      assert.deepEqual(nbformatErrors(readNotebook(path.join(ROOT, 'notebooks', f))), [], f);
  });

  it('names what Jupyter would reject: a transient field in an output, a missing cell id, a cell id of bad characters', () => {
    const transient = valid();
    (transient.cells[2].outputs![0] as Record<string, unknown>).transient = { display_id: 'abc' };
    assert.ok(
      nbformatErrors(transient).some((e) => e.startsWith('/cells/2/outputs/0') && e.includes('transient')),
      nbformatErrors(transient).join('\n'),
    );
    const noId = valid();
    delete noId.cells[1].id;
    assert.ok(
      nbformatErrors(noId).some((e) => e.startsWith('/cells/1') && e.includes("must have required property 'id'")),
      nbformatErrors(noId).join('\n'),
    );
    const badId = valid();
    badId.cells[0].id = 'has spaces';
    assert.ok(nbformatErrors(badId).some((e) => e.startsWith('/cells/0/id')));
  });

  it('injects the parameters after the cell tagged parameters, replacing an earlier injection, and gives a 4.4 notebook its cell ids', () => {
    const old = valid();
    old.nbformat_minor = 4;
    for (const c of old.cells) delete c.id;
    const once = injectParameters(old, "const scale: string = 'cpu';", 'x.ipynb');
    const twice = injectParameters(once, "const scale: string = 'paper';", 'x.ipynb');
    assert.deepEqual(
      twice.cells.map((c) => c.metadata.tags ?? []),
      [[], ['parameters'], ['injected-parameters'], []],
    );
    assert.equal(twice.cells[2].source, "const scale: string = 'paper';");
    assert.deepEqual(twice.cells[3].outputs, [], 'outputs of an earlier run cleared');
    assert.equal(twice.nbformat_minor, 5);
    assert.deepEqual(nbformatErrors(twice), []);
    const untagged = valid();
    untagged.cells[1].metadata = {};
    assert.throws(() => injectParameters(untagged, '', 'x.ipynb'), /x\.ipynb: no cell is tagged 'parameters'/);
  });

  it('refuses a file that is not a notebook, naming it', () => {
    assert.throws(() => readNotebook(path.join(ROOT, 'package.json')), /package\.json: not an nbformat 4 notebook/);
    assert.throws(() => readNotebook(path.join(ROOT, 'nope.ipynb')), /nope\.ipynb: not a readable notebook/);
  });
});
