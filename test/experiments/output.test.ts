import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Cache, configKey } from '../../src/cache';
import { resultOutput } from '../../src/experiments/output';
import { type VegaLiteSpec } from '../../src/plots/vega';

describe('resultOutput (how every experiment writes)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-output-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('names a folder under the given cache by the key, and writes figures (SVG + spec) and the report there', async () => {
    const cache = new Cache(dir);
    const key = { kind: 'observe', cfg: { a: 1 } };
    const out = resultOutput(cache, { key, folder: 'observe', name: 'mnist-blend' });
    assert.equal(out.key, configKey(key));
    assert.equal(out.dir, path.join(dir, 'results', 'observe', `mnist-blend-${out.key}`));
    const spec: VegaLiteSpec = {
      data: { values: [{ x: 1, y: 2 }] },
      mark: 'point',
      encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
    };
    const figures = await out.writeFigures({ dots: spec });
    assert.equal(figures.dots, path.join(out.dir, 'dots.svg'));
    assert.match(fs.readFileSync(figures.dots, 'utf8'), /^<svg/);
    assert.equal(fs.readFileSync(path.join(out.dir, 'dots.vl.json'), 'utf8'), JSON.stringify(spec));
    const report = { key: out.key, figures };
    assert.equal(out.writeReport(report), report);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out.dir, 'report.json'), 'utf8')), report);
    assert.deepEqual(fs.readdirSync(out.dir).sort(), ['dots.svg', 'dots.vl.json', 'report.json'], 'no temporary file left');
  });

  it('a single-file result is <name>-<key>.json; outDir and reportFile override the places', () => {
    const cache = new Cache(dir);
    const single = resultOutput(cache, { key: { k: 2 }, folder: 'adversarial', name: 'mnist-fgsm', singleFile: true });
    assert.equal(single.reportFile, path.join(dir, 'results', 'adversarial', `mnist-fgsm-${single.key}.json`));
    const mine = path.join(dir, 'mine');
    assert.equal(resultOutput(cache, { key: 1, folder: 'x', name: 'y', outDir: mine }).reportFile, path.join(mine, 'report.json'));
    assert.equal(resultOutput(cache, { key: 1, folder: 'x', name: 'y', singleFile: true, reportFile: '/r.json' }).reportFile, '/r.json');
  });
});
