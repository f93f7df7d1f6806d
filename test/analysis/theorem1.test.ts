import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { alongShare, theorem1Bound, theorem1Experiment, theorem1Spec } from '../../src/analysis/theorem1';
import { balancedIndices, subset } from '../../src/data/dataset';
import { loadMnist } from '../../src/data/mnist';
import { compileVegaLite, renderSvg } from '../../src/plots/vega';
import { Rng } from '../../src/rng';
import { useBackend } from '../helpers/backend';

describe('Theorem 1 on a linear softmax classifier', function () {
  useBackend('wasm');

  it('bound: hand values, 0 without a backdoor, and the limit (√2−1)/√((√2−1)²+1) = sin 22.5° for a strong trigger', () => {
    // a = (√2−1)·1, c = √2·10/(e⁰+10), a / √(a² + (1 + c)²)
    assert.ok(Math.abs(theorem1Bound(1, 1, 10, 0) - 0.1783191104) < 1e-9);
    assert.ok(Math.abs(theorem1Bound(2, 0.5, 10, 3) - 0.2087924986) < 1e-9);
    assert.ok(Math.abs(theorem1Bound(1e9, 1, 10, 0) - Math.sin(Math.PI / 8)) < 1e-8);
    assert.equal(theorem1Bound(0, 2, 10, 1), 0);
    assert.equal(theorem1Bound(-1, 2, 10, 1), 0);
  });

  it('alongShare is |cos| between r and the direction', () => {
    assert.equal(alongShare([3, 4], [6, 8]), 1);
    assert.equal(alongShare([3, 4], [-6, -8]), 1);
    assert.equal(alongShare([1, 0], [0, 5]), 0);
    assert.ok(Math.abs(alongShare([1, 1], [1, 0]) - Math.SQRT1_2) < 1e-15);
    assert.equal(alongShare([0, 0], [1, 0]), 0);
  });

  it('on real digits: the infected model’s adversarial perturbations point along P far more than chance and than the benign model’s', () => {
    const mnist = loadMnist();
    const train = subset(mnist.train, balancedIndices(mnist.train, 200));
    const test = subset(mnist.test, balancedIndices(mnist.test, 20));
    const before = tf.memory().numTensors;
    const result = theorem1Experiment(train, test, { strengths: [1, 2], pattern: 'noise', target: 0, rng: new Rng(7) });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.equal(result.measured, 180);
    const chance = Math.sqrt(2 / (Math.PI * result.dims));
    for (const r of result.rows) {
      const i = r.infected;
      console.log(
        `      |P| = ${r.strength}: |r∥|/|r| infected ${i.alongTrigger.toFixed(3)}, random direction ${i.alongRandom.toFixed(3)} ` +
          `(√(2/πd) = ${chance.toFixed(3)}), benign ${r.benign.alongTrigger.toFixed(3)}; ASR ${i.asr.toFixed(2)}, ACC ${i.acc.toFixed(2)} ` +
          `(benign ${r.benign.acc.toFixed(2)}); ℓ ${i.ell.toFixed(3)}, τ ${i.tau.toFixed(2)}, bound ${i.bound.toFixed(3)}, images at or above it ${i.aboveBound.toFixed(2)}`,
      );
      assert.ok(Math.abs(i.alongRandom / chance - 1) < 0.3, `random-direction share ${i.alongRandom} far from √(2/πd) = ${chance}`);
      assert.ok(i.alongTrigger >= 10 * i.alongRandom, `along P ${i.alongTrigger} vs random ${i.alongRandom}`);
      assert.ok(i.alongTrigger >= 3 * r.benign.alongTrigger, `infected ${i.alongTrigger} vs benign ${r.benign.alongTrigger}`);
      assert.ok(i.acc > 0.7, `clean accuracy ${i.acc}`);
      assert.ok(i.ell > 0, 'the trigger does not raise the target logit');
    }
    assert.ok(result.rows[1].infected.asr > 0.8, `ASR at |P| = 2: ${result.rows[1].infected.asr}`);
    compileVegaLite(theorem1Spec(result));
  });

  it('refuses a bad setting by name, and its figure renders', async () => {
    const mnist = loadMnist({ limitPerClass: 5 });
    const base = { strengths: [1], pattern: 'patch' as const, target: 0, rng: new Rng(1) };
    assert.throws(() => theorem1Experiment(mnist.train, mnist.test, { ...base, strengths: [] }), /theorem1\.strengths/);
    assert.throws(() => theorem1Experiment(mnist.train, mnist.test, { ...base, target: 10 }), /theorem1\.target: expected an integer in \[0, 9\], got 10/);
    assert.throws(() => theorem1Experiment(mnist.train, mnist.test, { ...base, patchSize: 40 }), /theorem1\.patchSize/);
    assert.throws(() => theorem1Experiment(mnist.train, mnist.test, { ...base, pattern: 'stripes' as 'noise' }), /theorem1\.pattern/);
    const result = theorem1Experiment(mnist.train, mnist.test, { ...base, train: { epochs: 3, batchSize: 10, lr: 0.1, weightDecay: 0 } });
    assert.match(await renderSvg(theorem1Spec(result)), /Theorem 1/);
  });
});
