import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
// Only the package entry, by the package's name, as a notebook or a user's script imports it.
import * as pbe from 'pbe-lab';

/**
 * The done-means: a script that imports only from the package entry runs `observe` on
 * MNIST `smoke` and gets its label-matrix Vega-Lite spec, without touching any global cache.
 */
describe('the package entry (pbe-lab)', function () {
  this.timeout(240000);
  let dir: string;
  before(() => pbe.initBackend('wasm'));
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-entry-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs observe on MNIST smoke into the given cache, returns the label matrices as Vega-Lite specs, and reads a finished observation back from the cache', async () => {
    const cache = new pbe.Cache(dir);
    const lines: string[] = [];
    const cfg = {
      profile: pbe.resolveProfile('smoke', 'mnist'),
      attack: { name: 'blend', mode: 'all2one' as const },
      targets: [0],
      seed: 0,
      pgd: pbe.PGD_DEFAULT,
      images: 100,
      tsnePoints: 60,
    };
    const r = await pbe.observe(cfg, { cache, progress: pbe.silentSink, poolProgress: (job: string) => void lines.push(job) });
    assert.equal(r.fromCache, false);
    const spec = r.specs['label-matrix-infected'];
    assert.equal(spec.$schema, 'https://vega.github.io/schema/vega-lite/v5.json');
    // The heatmap of Fig. 1b: a row per infected model (target 0), a cell per predicted label, valued by the row's share.
    const cells = (spec as { data: { values: { row: string; column: string; value: number }[] } }).data.values;
    assert.equal(cells.length, 10);
    assert.equal(cells.find((c) => c.row === '0' && c.column === '0')?.value, r.infected.rows[0].targetShare);
    assert.ok(r.models.infected[0].asr > 0.5, `ASR ${r.models.infected[0].asr}`);
    // Everything it made is under the given cache: models, the dataset, the results.
    assert.ok(r.figures['label-matrix-infected'].startsWith(path.join(dir, 'results', 'observe')));
    assert.ok(fs.readdirSync(path.join(dir, 'models')).length >= 2, 'benign and infected models in the given cache');
    assert.deepEqual(new Set(lines), new Set(['benign', 'blend → 0']), 'both models trained in the pool');
    assert.equal(JSON.parse(fs.readFileSync(path.join(path.dirname(r.figures.tsne), 'report.json'), 'utf8')).key, r.key);

    // Asked again, into another folder: read from the cache (no training), the same
    // measurements, and the figures and report written where asked.
    const again: string[] = [];
    const outDir = path.join(dir, 'again');
    const r2 = await pbe.observe({ ...cfg, outDir }, { cache, progress: pbe.silentSink, poolProgress: (job: string) => void again.push(job) });
    assert.equal(r2.fromCache, true);
    assert.deepEqual(again, []);
    assert.equal(r2.key, r.key);
    assert.deepEqual(
      { infected: r2.infected, benign: r2.benign, distances: r2.distances, models: r2.models },
      { infected: r.infected, benign: r.benign, distances: r.distances, models: r.models },
    );
    assert.deepEqual(r2.specs, r.specs);
    assert.equal(r2.figures['label-matrix-infected'], path.join(outDir, 'label-matrix-infected.svg'));
    assert.ok(fs.existsSync(r2.figures.tsne));
    assert.equal(JSON.parse(fs.readFileSync(path.join(outDir, 'report.json'), 'utf8')).key, r.key);
  });
});
