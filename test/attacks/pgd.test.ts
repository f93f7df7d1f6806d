import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { fgsmConfig, type Norm, pgd, pgdBudgetText, type PgdConfig } from '../../src/attacks/adversarial/pgd';
import { makeBatch } from '../../src/data/augment';
import { linearSoftmax } from '../../src/models/linear-softmax';
import type { Model } from '../../src/models/model';
import { Rng } from '../../src/rng';
import { mnistModels } from '../analysis/fixtures';

/** Mean softmax cross-entropy of `labels` at `x`. */
function meanLoss(model: Model, x: tf.Tensor4D, labels: tf.Tensor1D): number {
  return tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 10), model.predict(x)).dataSync()[0]);
}

/** Largest per-image ‖adv − x‖ in the norm, in float64 from the float32 images. */
function maxPerturbation(adv: Float32Array, x: Float32Array, n: number, norm: Norm): number {
  const size = x.length / n;
  let worst = 0;
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let j = i * size; j < (i + 1) * size; j++) {
      const d = adv[j] - x[j];
      acc = norm === 'linf' ? Math.max(acc, Math.abs(d)) : acc + d * d;
    }
    worst = Math.max(worst, norm === 'linf' ? acc : Math.sqrt(acc));
  }
  return worst;
}

describe('PGD and FGSM', function () {
  let model: Model;
  let x: tf.Tensor4D;
  let y: tf.Tensor1D;
  const n = 20;

  before(async () => {
    model = (await mnistModels()).benign;
    const test = (await mnistModels()).test;
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    x = tf.tensor4d(makeBatch(test, idx), [n, 28, 28, 1]);
    y = tf.tensor1d(
      Int32Array.from(idx, (i) => test.labels[i]),
      'int32',
    );
  });
  after(() => tf.dispose([x, y]));

  const budgets: Record<Norm, { eps: number; step: number }> = { linf: { eps: 0.1, step: 0.025 }, l2: { eps: 1.5, step: 0.375 } };
  for (const norm of ['linf', 'l2'] as const) {
    for (const targeted of [false, true]) {
      for (const randomStart of [false, true]) {
        const name = `${norm}, ${targeted ? 'targeted' : 'untargeted'}, ${randomStart ? 'random start' : 'clean start'}`;
        it(`${name}: images in [0, 1], ‖δ‖ ≤ ε, and the loss moves the right way on a trained mnist-net`, () => {
          const cfg: PgdConfig = { norm, ...budgets[norm], iterations: 5, randomStart, targeted };
          const labels = targeted
            ? tf.tensor1d(
                (y.dataSync() as Int32Array).map((v) => (v + 1) % 10),
                'int32',
              )
            : y;
          const before = tf.memory().numTensors;
          const adv = pgd(model, x, labels, cfg, randomStart ? new Rng(9) : undefined);
          assert.equal(tf.memory().numTensors, before + 1, 'only the result survives');
          const a = adv.dataSync() as Float32Array;
          const c = x.dataSync() as Float32Array;
          assert.ok(
            a.every((v) => v >= 0 && v <= 1),
            'adversarial pixels outside [0, 1]',
          );
          const worst = maxPerturbation(a, c, n, norm);
          assert.ok(worst <= cfg.eps + 1e-6, `‖δ‖ = ${worst} > ε = ${cfg.eps}`);
          assert.ok(worst > 0.5 * cfg.eps, `PGD barely moved: ‖δ‖ = ${worst}`);
          const lossBefore = meanLoss(model, x, labels);
          const lossAfter = meanLoss(model, adv, labels);
          if (targeted) assert.ok(lossAfter < lossBefore, `target-class loss ${lossBefore} → ${lossAfter}`);
          else assert.ok(lossAfter > lossBefore, `true-class loss ${lossBefore} → ${lossAfter}`);
          tf.dispose([adv, ...(targeted ? [labels] : [])]);
        });
      }
    }
  }

  it('random start is seeded: the same seed gives the same images, another seed others', () => {
    const cfg: PgdConfig = { norm: 'linf', eps: 0.1, step: 0.025, iterations: 2, randomStart: true, targeted: false };
    const [a, b, c] = [9, 9, 10].map((seed) => pgd(model, x, y, cfg, new Rng(seed)));
    assert.deepEqual(a.dataSync(), b.dataSync());
    assert.notDeepEqual(a.dataSync(), c.dataSync());
    tf.dispose([a, b, c]);
  });

  describe('on a linear softmax model, against the gradient computed by hand', () => {
    // logits = flatten(x)·W + b, so ∇x CE(y) = W (softmax − onehot(y)), computed here in float64.
    const shape: [number, number, number] = [4, 4, 2];
    const d = 32;
    const k = 4;
    const rng = new Rng('linear-pgd');
    const W = rng.normalArray(d * k, 0, 0.5);
    const b = rng.normalArray(k, 0, 0.5);
    // Away from the [0, 1] bounds by more than any step, so no clipping is involved.
    const images = rng.uniformArray(3 * d, 0.3, 0.7);
    const labels = Int32Array.from([0, 2, 3]);

    function gradient(i: number): Float64Array {
      const z = Array.from({ length: k }, (_, c) => b[c] + Array.from({ length: d }, (_, j) => images[i * d + j] * W[j * k + c]).reduce((s, v) => s + v, 0));
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const sum = e.reduce((s, v) => s + v, 0);
      const err = e.map((v, c) => v / sum - (c === labels[i] ? 1 : 0));
      return Float64Array.from({ length: d }, (_, j) => err.reduce((s, v, c) => s + W[j * k + c] * v, 0));
    }

    function check(cfg: PgdConfig, expected: (i: number, j: number, g: Float64Array) => number): void {
      const lin = linearSoftmax(W, b, shape);
      const xs = tf.tensor4d(images, [3, ...shape]);
      const ys = tf.tensor1d(labels, 'int32');
      const before = tf.memory().numTensors;
      const adv = pgd(lin, xs, ys, cfg);
      assert.equal(tf.memory().numTensors, before + 1);
      const got = adv.dataSync();
      for (let i = 0; i < 3; i++) {
        const g = gradient(i);
        // The signs must not hinge on rounding: every component is clearly non-zero.
        assert.ok(Math.min(...g.map(Math.abs)) > 1e-4, 'degenerate gradient component');
        for (let j = 0; j < d; j++) {
          const want = expected(i, j, g);
          assert.ok(Math.abs(got[i * d + j] - want) < 1e-6, `image ${i} pixel ${j}: ${got[i * d + j]} vs ${want}`);
        }
      }
      tf.dispose([adv, xs, ys]);
      lin.dispose();
    }

    it('one untargeted L∞ step from the clean image is x + step·sign(Wᵀ(softmax − onehot))', () => {
      const step = 0.02;
      check({ norm: 'linf', eps: 0.05, step, iterations: 1, randomStart: false, targeted: false }, (i, j, g) => images[i * d + j] + step * Math.sign(g[j]));
    });

    it('one untargeted L2 step is x + step·g/‖g‖', () => {
      const step = 0.1;
      check(
        { norm: 'l2', eps: 0.5, step, iterations: 1, randomStart: false, targeted: false },
        (i, j, g) => images[i * d + j] + (step * g[j]) / Math.hypot(...g),
      );
    });

    it('FGSM is one L∞ step of size ε: x + ε·sign(g)', () => {
      const eps = 0.08;
      assert.deepEqual(fgsmConfig(eps), { norm: 'linf', eps, step: eps, iterations: 1, randomStart: false, targeted: false });
      check(fgsmConfig(eps), (i, j, g) => images[i * d + j] + eps * Math.sign(g[j]));
    });
  });

  it('FGSM on mnist-net equals a single PGD step of size ε and reaches the ε-box corner where not clipped', () => {
    const eps = 0.1;
    const f = pgd(model, x, y, fgsmConfig(eps));
    const p = pgd(model, x, y, { norm: 'linf', eps, step: eps, iterations: 1, randomStart: false, targeted: false });
    assert.deepEqual(f.dataSync(), p.dataSync());
    const a = f.dataSync();
    const c = x.dataSync();
    for (let j = 0; j < a.length; j++) {
      const moved = Math.abs(a[j] - c[j]);
      const clipped = a[j] === 0 || a[j] === 1;
      assert.ok(clipped || Math.abs(moved - eps) < 1e-6 || moved === 0, `pixel ${j} moved ${moved}`);
    }
    tf.dispose([f, p]);
  });

  it('writes a budget as people do: L∞ in 255ths when it is a whole number of levels, else as it is; L2 as it is', () => {
    assert.equal(pgdBudgetText({ norm: 'linf', eps: 6 / 255, iterations: 7 }), 'L∞ 6/255 × 7');
    assert.equal(pgdBudgetText({ norm: 'linf', eps: 16 / 255 }), 'L∞ 16/255');
    // MNIST's 0.3 is 76.5 levels: not to be printed as 77/255
    assert.equal(pgdBudgetText({ norm: 'linf', eps: 0.3, iterations: 10 }), 'L∞ 0.3 × 10');
    // an L2 radius of 1 is not 255/255
    assert.equal(pgdBudgetText({ norm: 'l2', eps: 1 }), 'L2 1');
    assert.equal(pgdBudgetText({ norm: 'l2', eps: 0.25, iterations: 7 }), 'L2 0.25 × 7');
  });

  it('invalid configurations fail before any work, naming the option', () => {
    const ok: PgdConfig = { norm: 'linf', eps: 0.1, step: 0.02, iterations: 3, randomStart: false, targeted: false };
    const cases: [Partial<PgdConfig>, RegExp][] = [
      [{ norm: 'l1' as Norm }, /pgd\.norm: expected 'linf' or 'l2', got 'l1'/],
      [{ eps: -0.1 }, /pgd\.eps: expected a finite number ≥ 0, got -0\.1/],
      [{ eps: Number.NaN }, /pgd\.eps/],
      [{ step: Number.POSITIVE_INFINITY }, /pgd\.step/],
      [{ iterations: 1.5 }, /pgd\.iterations: expected an integer ≥ 0, got 1\.5/],
      [{ iterations: -1 }, /pgd\.iterations/],
      [{ randomStart: true }, /pgd: randomStart needs an Rng/],
    ];
    const before = tf.memory().numTensors;
    for (const [change, message] of cases) assert.throws(() => pgd(model, x, y, { ...ok, ...change }), message);
    const n = x.shape[0];
    const short = tf.tensor1d(new Int32Array(n - 1), 'int32');
    const outOfRange = tf.tensor1d(
      Int32Array.from({ length: n }, (_, i) => (i === 1 ? 10 : 0)),
      'int32',
    );
    const floats = tf.tensor1d(new Float32Array(n));
    assert.throws(() => pgd(model, x, short, ok), new RegExp(`labels must be int32 \\[${n}\\]`));
    assert.throws(() => pgd(model, x, outOfRange, ok), /label 10 of image 1 is outside \[0, 9\]/);
    assert.throws(() => pgd(model, x, floats, ok), /labels must be int32/);
    tf.dispose([short, outOfRange, floats]);
    assert.equal(tf.memory().numTensors, before, 'a failed call leaked tensors');
  });
});
