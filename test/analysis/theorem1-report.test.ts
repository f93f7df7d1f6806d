import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { theorem1Experiment } from '../../src/analysis/theorem1';
import { balancedIndices, subset } from '../../src/data/dataset';
import { loadMnist } from '../../src/data/mnist';
import { Cache } from '../../src/cache';
import { Rng } from '../../src/rng';
import { theorem1Report } from '../../src/experiments/theorem1';
import { useBackend } from '../helpers/backend';

describe('Theorem 1 report (pbe theorem1)', function () {
  this.timeout(60000);
  useBackend('wasm');

  it('writes the experiment it ran, with its config and runtime, and the figure', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-theorem1-'));
    try {
      const cfg = { dataset: 'mnist' as const, pattern: 'noise' as const, strengths: [2], target: 3, trainPerClass: 60, testPerClass: 10, seed: 5 };
      const cache = new Cache(path.join(dir, 'cache'));
      const first = await theorem1Report(cfg, { outDir: dir, cache });
      assert.equal(first.fromCache, false);
      const saved = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as Awaited<ReturnType<typeof theorem1Report>>;
      assert.deepEqual(saved.config, cfg);
      assert.equal(saved.runtime.backend, 'wasm');
      assert.equal(saved.result.measured, 90);
      assert.match(fs.readFileSync(path.join(dir, 'theorem1.svg'), 'utf8'), /^<svg/);

      const mnist = loadMnist();
      const direct = theorem1Experiment(subset(mnist.train, balancedIndices(mnist.train, 60)), subset(mnist.test, balancedIndices(mnist.test, 10)), {
        strengths: [2],
        pattern: 'noise',
        target: 3,
        rng: new Rng(5).fork('theorem1'),
      });
      assert.equal(saved.result.rows[0].infected.alongTrigger, direct.rows[0].infected.alongTrigger);
      assert.equal(saved.result.rows[0].benign.alongTrigger, direct.rows[0].benign.alongTrigger);
      assert.ok(!('perImage' in saved.result.rows[0].infected));

      // A second call reads the kept result, and writes the same report and figure again.
      fs.rmSync(path.join(dir, 'theorem1.svg'));
      const again = await theorem1Report(cfg, { outDir: dir, cache });
      assert.equal(again.fromCache, true);
      assert.deepEqual(again.result, first.result);
      assert.deepEqual(again.specs, first.specs);
      assert.match(fs.readFileSync(path.join(dir, 'theorem1.svg'), 'utf8'), /^<svg/);
      assert.equal(again.seconds, first.seconds);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
