import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../helpers/backend';
import {
  anpObjective,
  clipMask,
  modulatedScale,
  modulatedShift,
  perturbationStep,
  resetNoise,
  selectPruned,
  type NeuronState,
} from '../../src/defenses/neuron-perturbation';
import { Rng } from '../../src/rng';

function state(mask: number[], scale: number[], shift: number[]): NeuronState {
  return { mask: tf.variable(tf.tensor1d(mask)), noiseScale: tf.variable(tf.tensor1d(scale)), noiseShift: tf.variable(tf.tensor1d(shift)) };
}

describe('ANP neuron perturbation and masks', () => {
  useBackend('wasm');

  it("modulates γ and β as the authors' NoisyBatchNorm2d does", () => {
    const s = state([1, 0.5, 0], [0.1, -0.2, 0.4], [0.3, 0, -0.4]);
    const gamma = tf.tensor1d([2, 2, 2]);
    const beta = tf.tensor1d([1, -1, 0.5]);
    const cleanScale = modulatedScale(gamma, s, false);
    const cleanShift = modulatedShift(beta, s, false);
    const scale = modulatedScale(gamma, s, true);
    const shift = modulatedShift(beta, s, true);
    assert.deepEqual(Array.from(cleanScale.dataSync()), [2, 1, 0]);
    assert.deepEqual(Array.from(cleanShift.dataSync()), [1, -1, 0.5]);
    const pg = scale.dataSync();
    [2.2, 0.6, 0.8].forEach((e, i) => assert.ok(Math.abs(pg[i] - e) < 1e-6));
    const pb = shift.dataSync();
    [1.3, -1, 0.3].forEach((e, i) => assert.ok(Math.abs(pb[i] - e) < 1e-6));
    tf.dispose([s.mask, s.noiseScale, s.noiseShift, gamma, beta, cleanScale, scale, shift]);
  });

  it('draws the random start in [−ε, ε] from the seed, and steps by ε/steps along the gradient sign within the budget', () => {
    const s = state([1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]);
    resetNoise(s, 0.4, new Rng('anp').fork('noise'));
    const a = Array.from(s.noiseScale.dataSync());
    assert.ok(a.every((v) => v >= -0.4 && v <= 0.4) && new Set(a).size === 4);
    resetNoise(s, 0.4, new Rng('anp').fork('noise'));
    assert.deepEqual(Array.from(s.noiseScale.dataSync()), a, 'same seed, same start');

    s.noiseScale.assign(tf.tensor1d([0, 0.3, -0.3, 0.1]));
    const grad = tf.tensor1d([2, 5, -1, 0]);
    perturbationStep(s.noiseScale, grad, 0.4, 2, true);
    const got = s.noiseScale.dataSync();
    [0.2, 0.4, -0.4, 0.1].forEach((e, i) => assert.ok(Math.abs(got[i] - e) < 1e-6, `${i}: ${got[i]} vs ${e}`));
    // Unprojected, as the authors' code: the step leaves the budget (0.3 + 0.2, −0.3 − 0.2).
    s.noiseScale.assign(tf.tensor1d([0, 0.3, -0.3, 0.1]));
    perturbationStep(s.noiseScale, grad, 0.4, 2, false);
    const free = s.noiseScale.dataSync();
    [0.2, 0.5, -0.5, 0.1].forEach((e, i) => assert.ok(Math.abs(free[i] - e) < 1e-6, `unprojected ${i}: ${free[i]} vs ${e}`));
    s.mask.assign(tf.tensor1d([-0.2, 0.5, 1.3, 1]));
    clipMask(s.mask);
    assert.deepEqual(Array.from(s.mask.dataSync()), [0, 0.5, 1, 1]);
    tf.dispose([s.mask, s.noiseScale, s.noiseShift, grad]);
  });

  it('weighs the natural and robust losses by α', () => {
    const v = anpObjective(tf.scalar(1), tf.scalar(3), 0.2);
    assert.ok(Math.abs(v.dataSync()[0] - 2.6) < 1e-6);
    v.dispose();
  });

  it('selects neurons to prune by threshold or by count, smallest mask first', () => {
    const scores = [
      { layer: 'bn1', channel: 0, mask: 0.9 },
      { layer: 'bn1', channel: 1, mask: 0.1 },
      { layer: 'bn2', channel: 0, mask: 0.2 },
      { layer: 'bn2', channel: 1, mask: 0 },
      { layer: 'bn2', channel: 2, mask: 0.2 },
    ];
    const byThreshold = selectPruned(scores, { by: 'threshold', threshold: 0.2 });
    assert.deepEqual(
      byThreshold.map((s) => `${s.layer}:${s.channel}`),
      ['bn2:1', 'bn1:1', 'bn2:0', 'bn2:2'],
    );
    assert.deepEqual(
      selectPruned(scores, { by: 'number', count: 2 }).map((s) => `${s.layer}:${s.channel}`),
      ['bn2:1', 'bn1:1'],
    );
    assert.throws(() => selectPruned(scores, { by: 'number', count: 6 }), /integer in \[0, 5\]/);
    assert.throws(() => selectPruned(scores, { by: 'threshold', threshold: 2 }), /\[0, 1\]/);
  });
});
