import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Cache } from '../../src/cache';
import * as tf from '@tensorflow/tfjs-core';
import { buildAttack } from '../../src/attacks/backdoor/registry';
import { tsneSpec } from '../../src/analysis/tsne';
import { tsneImageSpec } from '../../src/notebook/figures';
import { measureBudgetSweep, measureTeaching, measureTsne, reproSettings, shareOnTarget } from '../../src/repro';
import { resolveProfile } from '../../src/train/profiles';
import { useBackend } from '../helpers/backend';

describe('measure functions: the numbers the claims read', () => {
  it("00's share on the target leaves the target class's own images out (hand-worked)", () => {
    // rows: true class; columns: predicted label of the adversarial example; target 0
    const byTrueClass = [
      [50, 0, 0], // the target's own images: not counted
      [3, 1, 6], // 3 of 10 on the target
      [7, 3, 0], // 7 of 10
    ];
    assert.equal(shareOnTarget({ byTrueClass }, 0), 10 / 20);
    // target 2: rows 0 and 1 count, 6 of 60
    assert.equal(shareOnTarget({ byTrueClass }, 2), 6 / 60);
  });

  describe("00's teaching observation", function () {
    this.timeout(120_000);
    useBackend('wasm');

    it('is kept in the cache: a later sitting reads it without loading or training the models', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-teaching-'));
      try {
        const cache = new Cache(dir);
        const s = { ...reproSettings('quick'), training: resolveProfile('smoke', 'mnist', { epochs: 1, trainPerClass: 20, testPerClass: 10 }), images: 30 };
        const first = await measureTeaching(s, 0, undefined, { cache });
        assert.equal(first.values.images, 30);
        assert.equal(first.distributions.infected.total, 30);
        assert.equal(first.values.targetShare.infected, shareOnTarget(first.distributions.infected, 0));

        // Without the models, only the kept result can answer; another PGD budget is another result.
        fs.rmSync(path.join(dir, 'models'), { recursive: true });
        assert.deepEqual(await measureTeaching(s, 0, undefined, { cache }), first);
        assert.equal(fs.existsSync(path.join(dir, 'models')), false);
        await measureTeaching({ ...s, pgd: { ...s.pgd, iterations: 2 } }, 0, undefined, { cache });
        assert.equal(fs.existsSync(path.join(dir, 'models')), true);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("03's t-SNE", function () {
    this.timeout(120_000);
    useBackend('wasm');

    it('is kept in the cache with the images its figure shows, triggered as the attack stamps them', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-tsne-'));
      try {
        const cache = new Cache(dir);
        const s = { ...reproSettings('quick'), training: resolveProfile('smoke', 'mnist', { epochs: 1, trainPerClass: 20, testPerClass: 10 }), tsnePoints: 60 };
        const first = await measureTsne(s, 0, { cache });
        const [n, h, w, c] = first.images.shape;
        assert.equal(n, 20);
        assert.equal(first.embedding.points.length, 3 * n);

        // The triggered bytes, from the trigger the run's seed builds (as poisonAndTrain does).
        const attack = buildAttack({
          name: s.matrixAttack.name,
          rule: { mode: 'all2one', target: 0, numClasses: 10 },
          inputShape: [h, w, c],
          seed: '0/attack',
          options: {},
        });
        const expected = tf.tidy(() =>
          tf.round(tf.mul(attack.trigger.apply(tf.div(tf.tensor4d(first.images.images, [n, h, w, c], 'float32'), 255)), 255)).dataSync(),
        );
        attack.trigger.dispose();
        assert.deepEqual(Array.from(first.triggered), Array.from(expected));
        assert.ok(
          first.triggered.some((v, i) => v !== first.images.images[i]),
          'the trigger changes the images',
        );

        // Without the models, only the kept result can answer, and its figure is the same.
        fs.rmSync(path.join(dir, 'models'), { recursive: true });
        const again = await measureTsne(s, 0, { cache });
        assert.equal(fs.existsSync(path.join(dir, 'models')), false);
        assert.deepEqual(again, first);
        const figure = (t: typeof first) => tsneImageSpec(tsneSpec(t.embedding), t.embedding, t.images, t.adversarial, t.triggered);
        assert.deepEqual(figure(again), figure(first));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("05's budget sweep", function () {
    this.timeout(120_000);
    useBackend('wasm');

    it('is kept in the cache: a later sitting reads it without loading or training the models', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-sweep-'));
      try {
        const cache = new Cache(dir);
        const quick = reproSettings('quick');
        const s = {
          ...quick,
          training: resolveProfile('smoke', 'mnist', { epochs: 1, trainPerClass: 20, testPerClass: 10 }),
          sweep: { linf: [0.05, 0.2], l2: [1], images: 30 },
        };
        const { values } = await measureBudgetSweep(s, 0, { cache });
        assert.deepEqual(
          values.rows.map((r) => `${r.norm} ${r.eps}`),
          ['linf 0.05', 'linf 0.2', 'l2 1'],
        );
        assert.equal(values.metrics.targetShareLinfHigh, values.rows[1].targetShareInfected);

        // Without the models, only the kept sweep can answer; another seed is another sweep.
        fs.rmSync(path.join(dir, 'models'), { recursive: true });
        const again = await measureBudgetSweep(s, 0, { cache });
        assert.deepEqual(again.values, values);
        assert.equal(fs.existsSync(path.join(dir, 'models')), false);
        await measureBudgetSweep(s, 1, { cache });
        assert.equal(fs.existsSync(path.join(dir, 'models')), true);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
