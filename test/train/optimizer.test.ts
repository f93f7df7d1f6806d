import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { makeBatch } from '../../src/data/augment';
import type { Dataset } from '../../src/data/dataset';
import { Rng } from '../../src/rng';
import { createOptimizer } from '../../src/train/optimizer';
import { learningRate } from '../../src/train/schedule';
import { useBackend } from '../helpers/backend';

function close(a: ArrayLike<number>, b: number[], tol = 1e-6): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol * Math.max(1, Math.abs(b[i])), `[${i}] ${a[i]} vs ${b[i]}`);
}

describe('optimisers (PyTorch update rules, worked by hand)', () => {
  useBackend('cpu');

  it('SGD with momentum and weight decay', () => {
    const p = tf.variable(tf.tensor1d([1, -2]));
    const params = new Map([['p', p]]);
    const opt = createOptimizer({ kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0.5 });
    // step 1: d = g + 0.5·p = [0.5+0.5, 1−1] = [1, 0]; buf = d; p = p − 0.1·buf = [0.9, −2]
    opt.step(params, { p: tf.tensor1d([0.5, 1]) }, 0.1);
    close(p.dataSync(), [0.9, -2]);
    // step 2: d = [0.5+0.45, 1−1] = [0.95, 0]; buf = 0.9·[1,0] + d = [1.85, 0]; p = [0.9−0.185, −2]
    opt.step(params, { p: tf.tensor1d([0.5, 1]) }, 0.1);
    close(p.dataSync(), [0.715, -2]);
    const slots = opt.slots();
    assert.deepEqual(
      slots.map((s) => s.name),
      ['p.momentum'],
    );
    close(slots[0].tensor.dataSync(), [1.85, 0]);
    opt.dispose();
    p.dispose();
  });

  it('Adam with bias correction', () => {
    const p = tf.variable(tf.tensor1d([1]));
    const params = new Map([['p', p]]);
    const opt = createOptimizer({ kind: 'adam', lr: 0.01, weightDecay: 0 });
    // step 1: m̂ = g, v̂ = g², update = lr·g/(|g|+ε) ≈ lr·sign(g)
    opt.step(params, { p: tf.tensor1d([3]) }, 0.01);
    close(p.dataSync(), [0.99], 1e-6);
    // step 2 with g = 1: m = 0.9·0.3 + 0.1 = 0.37, v = 0.999·0.009 + 0.001 = 0.009991
    const m = 0.37 / (1 - 0.81);
    const v = 0.009991 / (1 - 0.998001);
    opt.step(params, { p: tf.tensor1d([1]) }, 0.01);
    close(p.dataSync(), [0.99 - (0.01 * m) / (Math.sqrt(v) + 1e-8)], 1e-6);
    opt.dispose();
    p.dispose();
  });
});

describe('learning-rate schedules', () => {
  it('multistep, cosine and warm-up give the hand-computed values', () => {
    const ms = { kind: 'multistep' as const, milestones: [2, 4], gamma: 0.1 };
    assert.equal(learningRate(ms, 1, 1.9, 6), 1);
    assert.ok(Math.abs(learningRate(ms, 1, 2, 6) - 0.1) < 1e-12);
    assert.ok(Math.abs(learningRate(ms, 1, 5, 6) - 0.01) < 1e-12);
    assert.equal(learningRate({ kind: 'cosine' }, 2, 0, 10), 2);
    assert.ok(Math.abs(learningRate({ kind: 'cosine' }, 2, 5, 10) - 1) < 1e-12);
    assert.ok(Math.abs(learningRate({ kind: 'cosine' }, 2, 10, 10)) < 1e-12);
    assert.ok(Math.abs(learningRate({ kind: 'constant', warmupEpochs: 2 }, 1, 1, 10) - 0.5) < 1e-6);
  });
});

describe('makeBatch augmentation', () => {
  const ds: Dataset = {
    name: 'toy',
    split: 'train',
    images: Uint8Array.from({ length: 2 * 3 * 4 * 1 }, (_, i) => i * 10),
    shape: [2, 3, 4, 1],
    labels: Int32Array.from([0, 1]),
    classNames: ['a', 'b'],
    source: 'test',
  };

  it('without augmentation scales pixels to [0, 1] in the requested order', () => {
    const b = makeBatch(ds, [1, 0]);
    close(
      b.subarray(0, 12),
      Array.from({ length: 12 }, (_, i) => ((12 + i) * 10) / 255),
    );
    close(
      b.subarray(12),
      Array.from({ length: 12 }, (_, i) => (i * 10) / 255),
    );
  });

  it('flips mirror each row exactly and crops shift with zero fill; the same seed gives the same batch', () => {
    const flipped = makeBatch(ds, new Array(32).fill(0), { cropPadding: 0, flip: true, rotation: 0 }, new Rng(1));
    const plain = Array.from({ length: 12 }, (_, i) => (i * 10) / 255);
    const mirror = [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8].map((i) => (i * 10) / 255);
    let sawFlip = false;
    let sawPlain = false;
    for (let k = 0; k < 32; k++) {
      const img = Array.from(flipped.subarray(k * 12, (k + 1) * 12));
      const isFlip = img.every((v, i) => Math.abs(v - mirror[i]) < 1e-7);
      const isPlain = img.every((v, i) => Math.abs(v - plain[i]) < 1e-7);
      assert.ok(isFlip || isPlain, `image ${k} is neither the original nor its mirror`);
      sawFlip ||= isFlip;
      sawPlain ||= isPlain;
    }
    assert.ok(sawFlip && sawPlain, `flip seen ${sawFlip}, plain seen ${sawPlain}`);
    const cropped = makeBatch(ds, [0, 1, 0, 1], { cropPadding: 1, flip: false, rotation: 10 }, new Rng(7));
    assert.deepEqual(cropped, makeBatch(ds, [0, 1, 0, 1], { cropPadding: 1, flip: false, rotation: 10 }, new Rng(7)));
    for (const v of cropped) assert.ok(v >= 0 && v <= 1, `pixel ${v} outside [0, 1]`);
    assert.throws(() => makeBatch(ds, [0], { cropPadding: 1, flip: false, rotation: 0 }), /needs an Rng/);
  });
});

describe('optimiser slots round-trip', () => {
  useBackend('cpu');

  it('Adam resumes its bias correction from saved slots, and slots() allocates nothing', () => {
    const run = (steps: number, resumeAfter?: number) => {
      const p = tf.variable(tf.tensor1d([1, 2]));
      const params = new Map([['p', p]]);
      let opt = createOptimizer({ kind: 'adam', lr: 0.1, weightDecay: 0.01 });
      for (let i = 0; i < steps; i++) {
        if (i === resumeAfter) {
          const before = tf.memory().numTensors;
          const saved = opt.slots();
          assert.equal(tf.memory().numTensors, before, 'slots() created tensors');
          const copies = Object.fromEntries(saved.map(({ name, tensor }) => [name, tensor.clone()]));
          opt.dispose();
          opt = createOptimizer({ kind: 'adam', lr: 0.1, weightDecay: 0.01 });
          opt.loadSlots(copies);
        }
        opt.step(params, { p: tf.tensor1d([0.5 - i, 1 + i]) }, 0.1);
      }
      const out = Array.from(p.dataSync());
      opt.dispose();
      p.dispose();
      return out;
    };
    assert.deepEqual(run(5, 3), run(5));
  });
});
