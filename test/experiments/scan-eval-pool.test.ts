import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/backend';
import { Cache } from '../../src/cache';
import { SCAN_PGD } from '../../src/experiments/scan';
import { evaluateScan, type ScanEvalRow } from '../../src/experiments/scan-eval';
import { resolveProfile } from '../../src/train/profiles';
import { pipelineBackend } from '../helpers/backend';

/** A row without its timings, which differ between any two runs. */
const measured = (r: ScanEvalRow) => ({ ...r, scan: { ...r.scan, seconds: 0 }, nc: r.nc && { ...r.nc, seconds: 0 } });

describe('pbe scan-eval on the job pool', function () {
  this.timeout(600_000);
  let dir: string;
  before(() => initBackend(pipelineBackend()));
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-scaneval-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('scores a population model by model on two workers exactly as in one process, in the population’s order', async () => {
    const cache = new Cache(dir);
    const cfg = {
      models: { profile: resolveProfile('smoke', 'mnist'), seeds: [100], attacks: [{ name: 'blend', mode: 'all2one' as const, target: 0 }] },
      pgd: SCAN_PGD.mnist,
      // Few images: NC's ten reversals per model dominate the test's time, and equality needs no more.
      images: 40,
      sampleSeed: 0,
      nc: 'smoke' as const,
    };
    const logged: string[] = [];
    const pooled = await evaluateScan(cfg, { cache, workers: 2, backend: pipelineBackend(), log: (l) => void logged.push(l) });
    assert.deepEqual(
      pooled.rows.map((r) => r.truth.kind),
      ['benign', 'infected'],
    );
    assert.equal(logged.length, 2);
    // The models stay cached; the scans and NC's reversals are done again, here, in this process.
    fs.rmSync(path.join(dir, 'scans'), { recursive: true });
    const inline = await evaluateScan(cfg, { cache });
    assert.deepEqual(pooled.rows.map(measured), inline.rows.map(measured));
    assert.ok(pooled.rows.every((r) => r.scan.seconds > 0 && r.nc!.seconds > 0));
  });
});
