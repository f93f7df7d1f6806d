import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { pgd, type PgdConfig } from '../../src/attacks/adversarial/pgd';
import { featureDistanceHistogramSpec, featureDistances, featureDistanceSpec } from '../../src/analysis/feature-distance';
import { adversarialExamples } from '../../src/analysis/label-matrix';
import { makeBatch } from '../../src/data/augment';
import { subset } from '../../src/data/dataset';
import type { Model } from '../../src/models/model';
import { compileVegaLite, renderSvg } from '../../src/plots/vega';
import { mnistModels, TARGET } from './fixtures';

const CFG: PgdConfig = { norm: 'linf', eps: 0.1, step: 0.02, iterations: 7, randomStart: false, targeted: false };

/** Rows of the eval-mode features, as float64 arrays. */
function features(model: Model, x: tf.Tensor4D): Float64Array[] {
  const out = model.forward(x, { training: false });
  const [n, f] = out.features.shape;
  const data = out.features.dataSync();
  tf.dispose([out.logits, out.features]);
  return Array.from({ length: n }, (_, i) => Float64Array.from(data.subarray(i * f, (i + 1) * f)));
}

const l2 = (a: Float64Array, b: Float64Array) => Math.sqrt(a.reduce((s, v, j) => s + (v - b[j]) ** 2, 0));
const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;

describe('feature distances (Table 5)', function () {
  it('match a direct computation on a few digits, for both choices of f, leaving the target class out', async () => {
    const { benign, infected, attack, test } = await mnistModels();
    // The first 12 test digits hold two of the target class (interleaved classes).
    const few = subset(
      test,
      Int32Array.from({ length: 12 }, (_, i) => i),
    );
    const before = tf.memory().numTensors;
    const fd = featureDistances({ benign, infected }, few, attack.trigger, CFG, { rule: attack.rule, batchSize: 12 });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');

    const kept = Array.from({ length: 12 }, (_, i) => i).filter((i) => few.labels[i] !== TARGET);
    assert.deepEqual(Array.from(fd.sourceIndices), kept);
    assert.equal(fd.n, kept.length);

    // The same single batch, attacked and embedded here, distances in float64.
    const x = tf.tensor4d(makeBatch(few, Int32Array.from(kept)), [kept.length, 28, 28, 1]);
    const y = tf.tensor1d(
      Int32Array.from(kept, (i) => few.labels[i]),
      'int32',
    );
    const xt = attack.trigger.apply(x);
    const advB = pgd(benign, x, y, CFG);
    const advI = pgd(infected, x, y, CFG);
    const [bAdv, bTrig, bClean] = [advB, xt, x].map((t) => features(benign, t));
    const [iAdvB, iAdvI, iTrig, iClean] = [advB, advI, xt, x].map((t) => features(infected, t));
    tf.dispose([x, y, xt, advB, advI]);

    const close = (got: ArrayLike<number>, want: number[], what: string) =>
      want.forEach((w, q) => assert.ok(Math.abs(got[q] - w) <= 1e-4 * Math.max(1, w), `${what} image ${q}: ${got[q]} vs ${w}`));
    const expected = {
      infectedDBenign: kept.map((_, q) => l2(iAdvB[q], iTrig[q])),
      ownDBenign: kept.map((_, q) => l2(bAdv[q], bTrig[q])),
      dInfected: kept.map((_, q) => l2(iAdvI[q], iTrig[q])),
      cleanB: kept.map((_, q) => l2(bClean[q], bTrig[q])),
      cleanI: kept.map((_, q) => l2(iClean[q], iTrig[q])),
    };
    close(fd.infected.perImage.dBenign, expected.infectedDBenign, 'f = infected: ‖fI(x̃) − fI(xᵗ)‖');
    close(fd.own.perImage.dBenign, expected.ownDBenign, 'f = own: ‖fB(x̃) − fB(xᵗ)‖');
    close(fd.infected.perImage.dInfected, expected.dInfected, "‖fI(x̃') − fI(xᵗ)‖");
    close(fd.own.perImage.dInfected, expected.dInfected, "f = own: ‖fI(x̃') − fI(xᵗ)‖");
    close(fd.own.perImage.cleanToTriggerBenignTerm, expected.cleanB, 'clean, benign f');
    close(fd.infected.perImage.cleanToTriggerBenignTerm, expected.cleanI, 'clean, infected f');

    assert.ok(Math.abs(fd.infected.dBenign - mean(expected.infectedDBenign)) < 1e-4);
    assert.ok(Math.abs(fd.own.dBenign - mean(expected.ownDBenign)) < 1e-4);
    assert.ok(Math.abs(fd.infected.ratio - fd.infected.dInfected / fd.infected.dBenign) < 1e-12);
    assert.equal(fd.infected.cleanToTrigger.benignTerm, fd.infected.cleanToTrigger.infectedTerm);
    assert.equal(fd.labels.infected.total, kept.length);
    assert.equal(fd.targetShare.infected, fd.labels.infected.overall[TARGET] / kept.length);
  });

  it('with precomputed adversarial examples gives exactly what it gives running PGD itself', async () => {
    const { benign, infected, attack, test } = await mnistModels();
    const few = subset(
      test,
      Int32Array.from({ length: 12 }, (_, i) => i),
    );
    const opts = { rule: attack.rule, batchSize: 4 };
    const direct = featureDistances({ benign, infected }, few, attack.trigger, CFG, opts);
    const before = tf.memory().numTensors;
    // Batched differently from featureDistances, which also skips the target-class images.
    const adversarial = {
      benign: adversarialExamples(benign, few, CFG, { batchSize: 5 }),
      infected: adversarialExamples(infected, few, CFG, { batchSize: 5 }),
    };
    const reused = featureDistances({ benign, infected }, few, attack.trigger, CFG, { ...opts, adversarial });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.deepEqual(reused, direct);
    const swapped = featureDistances({ benign, infected }, few, attack.trigger, CFG, {
      ...opts,
      adversarial: { benign: adversarial.infected, infected: adversarial.benign },
    });
    assert.notDeepEqual(swapped.infected.perImage.dBenign, direct.infected.perImage.dBenign, 'the precomputed sets were not used');

    const fewer = subset(
      few,
      Int32Array.from({ length: 11 }, (_, i) => i),
    );
    assert.throws(
      () => featureDistances({ benign, infected }, fewer, attack.trigger, CFG, { ...opts, adversarial }),
      /featureDistances\.adversarial\.benign: expected the adversarial examples of the 11 images of mnist, each 28×28×1; got 12 images of 28×28×1/,
    );
    const misshapen = { ...adversarial.infected, shape: [12, 14, 56, 1] as [number, number, number, number] };
    assert.throws(
      () => featureDistances({ benign, infected }, few, attack.trigger, CFG, { ...opts, adversarial: { ...adversarial, infected: misshapen } }),
      /featureDistances\.adversarial\.infected: expected .* each 28×28×1; got 12 images of 14×56×1/,
    );
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  });

  it('on real digits with f = infected, the infected model’s adversarial examples sit nearer the triggered images', async () => {
    const { benign, infected, attack, test } = await mnistModels();
    const fd = featureDistances({ benign, infected }, test, attack.trigger, CFG, { rule: attack.rule, batchSize: 100 });
    const f = (v: number) => v.toFixed(3);
    console.log(
      `      MNIST Blend, ${fd.n} digits, L∞ ε 0.1: f = infected: D_benign ${f(fd.infected.dBenign)}, D_infected ${f(fd.infected.dInfected)} ` +
        `(ratio ${f(fd.infected.ratio)}), clean→trigger ${f(fd.infected.cleanToTrigger.infectedTerm)}; f = own: D_benign ${f(fd.own.dBenign)} ` +
        `(clean→trigger ${f(fd.own.cleanToTrigger.benignTerm)}), D_infected ${f(fd.own.dInfected)}; target share ${f(fd.targetShare.infected)} vs ${f(fd.targetShare.benign)}`,
    );
    assert.ok(fd.infected.dInfected < fd.infected.dBenign, `D_infected ${fd.infected.dInfected} ≥ D_benign ${fd.infected.dBenign}`);
    assert.ok(fd.infected.dInfected < fd.infected.cleanToTrigger.infectedTerm, 'the adversarial examples are no nearer the trigger than the clean images');

    for (const extractor of ['infected', 'own'] as const) {
      const bars = featureDistanceSpec([{ attack: 'blend', distances: fd }], extractor);
      compileVegaLite(bars);
      assert.equal((bars.data as { values: unknown[] }).values.length, 3);
      compileVegaLite(featureDistanceHistogramSpec(fd, extractor, 'blend'));
    }
    assert.match(await renderSvg(featureDistanceSpec([{ attack: 'blend', distances: fd }], 'infected')), /Table 5/);
  });

  it('refuses what it cannot measure', async () => {
    const { benign, infected, attack, test } = await mnistModels();
    const targetOnly = subset(test, Int32Array.from([0]));
    assert.equal(targetOnly.labels[0], TARGET);
    assert.throws(
      () => featureDistances({ benign, infected }, targetOnly, attack.trigger, CFG, { rule: attack.rule, batchSize: 4 }),
      /no image outside the target class 0/,
    );
    assert.throws(
      () => featureDistances({ benign, infected }, test, attack.trigger, { ...CFG, targeted: true }, { rule: attack.rule, batchSize: 4 }),
      /untargeted/,
    );
    assert.throws(
      () => featureDistances({ benign, infected }, test, attack.trigger, CFG, { rule: { ...attack.rule, target: 12 }, batchSize: 4 }),
      /target label: expected an integer in \[0, 9\], got 12/,
    );
  });
});
