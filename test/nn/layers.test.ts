import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../helpers/backend';
import { BatchNorm2d, Conv2d, Dense, MaxPool } from '../../src/nn/layers';
import { ParameterStore } from '../../src/nn/parameters';
import { Rng } from '../../src/rng';

function disposeAll(reg: ParameterStore): void {
  for (const v of [...reg.params.values(), ...reg.state.values()]) v.dispose();
}

function stats(a: Float32Array): { mean: number; std: number } {
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
  return { mean, std: Math.sqrt(variance) };
}

describe('nn toolkit', function () {
  useBackend('cpu');

  describe('ParameterStore', () => {
    it('gives a parameter the same values for the same seed and name, whatever the build order', () => {
      const a = new ParameterStore(new Rng(7));
      const b = new ParameterStore(new Rng(7));
      const init = (rng: Rng, n: number) => rng.normalArray(n);
      const a1 = a.addParam('first', [5], init);
      const a2 = a.addParam('second', [5], init);
      const b2 = b.addParam('second', [5], init);
      const b1 = b.addParam('first', [5], init);
      assert.deepEqual(a1.dataSync(), b1.dataSync());
      assert.deepEqual(a2.dataSync(), b2.dataSync());
      assert.notDeepEqual(a1.dataSync(), a2.dataSync());
      assert.equal(a1.trainable, true);
      disposeAll(a);
      disposeAll(b);
    });

    it('registers state as non-trainable and rejects duplicate names', () => {
      const reg = new ParameterStore(new Rng(1));
      const s = reg.addState('bn.runningVar', [3], 1);
      assert.equal(s.trainable, false);
      assert.deepEqual(Array.from(s.dataSync()), [1, 1, 1]);
      assert.throws(() => reg.addParam('bn.runningVar', [3], (_r, n) => new Float32Array(n)), /duplicate tensor name 'bn.runningVar'/);
      disposeAll(reg);
    });
  });

  describe('Conv2d', () => {
    it('has [kh, kw, in, out] He-normal weights and counts its FLOPs', () => {
      const reg = new ParameterStore(new Rng('conv'));
      const conv = new Conv2d(reg, 'c', [10, 10, 16], { filters: 32, kernel: 3 });
      assert.deepEqual(conv.weight.shape, [3, 3, 16, 32]);
      assert.equal(conv.bias, null);
      assert.deepEqual(conv.outShape, [10, 10, 32]);
      assert.equal(reg.flops, 2 * 10 * 10 * 32 * 3 * 3 * 16);
      const { mean, std } = stats(conv.weight.dataSync() as Float32Array);
      const expected = Math.sqrt(2 / (3 * 3 * 16));
      assert.ok(Math.abs(mean) < 0.05 * expected, `mean ${mean}`);
      assert.ok(Math.abs(std / expected - 1) < 0.05, `std ${std}, expected ${expected}`);
      disposeAll(reg);
    });

    it('pads symmetrically at stride 2, as PyTorch does, unlike tfjs "same"', () => {
      const reg = new ParameterStore(new Rng('conv2'));
      const conv = new Conv2d(reg, 'c', [8, 8, 2], { filters: 3, kernel: 3, stride: 2 });
      assert.deepEqual(conv.outShape, [4, 4, 3]);
      tf.tidy(() => {
        const x = tf.tensor4d(new Rng('x').normalArray(8 * 8 * 2), [1, 8, 8, 2]);
        const y = conv.apply(x);
        const explicit = tf.conv2d(x, conv.weight, 2, [
          [0, 0],
          [1, 1],
          [1, 1],
          [0, 0],
        ]);
        const same = tf.conv2d(x, conv.weight, 2, 'same');
        assert.deepEqual(y.shape, [1, 4, 4, 3]);
        assert.deepEqual(y.dataSync(), explicit.dataSync());
        assert.ok(tf.max(tf.abs(tf.sub(y, same))).dataSync()[0] > 1e-3, "tfjs 'same' would sample a shifted grid");
      });
      disposeAll(reg);
    });

    it('adds a zero-initialised bias when asked', () => {
      const reg = new ParameterStore(new Rng('bias'));
      const conv = new Conv2d(reg, 'c', [4, 4, 1], { filters: 2, kernel: 1, padding: 0, bias: true });
      assert.deepEqual([...reg.params.keys()], ['c.weight', 'c.bias']);
      assert.deepEqual(Array.from(conv.bias!.dataSync()), [0, 0]);
      conv.bias!.assign(tf.tensor1d([1, -2]));
      tf.tidy(() => {
        const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
        const w = conv.weight.dataSync();
        const y = conv.apply(x).dataSync();
        assert.ok(Math.abs(y[0] - (w[0] + 1)) < 1e-6 && Math.abs(y[1] - (w[1] - 2)) < 1e-6);
      });
      disposeAll(reg);
    });

    it('rejects an input too small for the kernel, naming the layer', () => {
      const reg = new ParameterStore(new Rng(0));
      assert.throws(() => new Conv2d(reg, 'stem', [2, 2, 3], { filters: 4, kernel: 7, stride: 2, padding: 0 }), /stem: a 2×2×3 input is too small/);
      disposeAll(reg);
    });
  });

  describe('BatchNorm2d', () => {
    // Two channels over a 2×1×2 batch: channel 0 holds 1, 2, 3, 6; channel 1 holds 0, 0, 4, 4.
    const x = () => tf.tensor4d([1, 0, 2, 0, 3, 4, 6, 4], [2, 1, 2, 2]);
    const mean = [3, 2];
    const biasedVar = [3.5, 4];
    const unbiasedVar = [14 / 3, 16 / 3];

    it('normalises with batch moments in training and queues them; commit applies PyTorch momentum with unbiased variance', () => {
      const reg = new ParameterStore(new Rng(0));
      const bn = new BatchNorm2d(reg, 'bn', 2);
      assert.deepEqual([...reg.params.keys()], ['bn.gamma', 'bn.beta']);
      assert.deepEqual([...reg.state.keys()], ['bn.runningMean', 'bn.runningVar']);
      const before = tf.memory().numTensors;
      const y = tf.tidy(() => bn.apply(x(), true));
      const expected = [1, 0, 2, 0, 3, 4, 6, 4].map((v, i) => (v - mean[i % 2]) / Math.sqrt(biasedVar[i % 2] + 1e-5));
      const got = y.dataSync();
      expected.forEach((e, i) => assert.ok(Math.abs(got[i] - e) < 1e-5, `y[${i}] = ${got[i]}, expected ${e}`));
      y.dispose();
      assert.deepEqual(Array.from(bn.runningMean.dataSync()), [0, 0], 'running stats must not change before commit');
      assert.equal(tf.memory().numTensors, before + 2, 'the queued batch moments');

      bn.commit();
      assert.equal(tf.memory().numTensors, before, 'commit leaks');
      const rm = bn.runningMean.dataSync();
      const rv = bn.runningVar.dataSync();
      for (let c = 0; c < 2; c++) {
        assert.ok(Math.abs(rm[c] - 0.1 * mean[c]) < 1e-6, `runningMean[${c}] = ${rm[c]}`);
        assert.ok(Math.abs(rv[c] - (0.9 * 1 + 0.1 * unbiasedVar[c])) < 1e-6, `runningVar[${c}] = ${rv[c]}`);
      }
      disposeAll(reg);
    });

    it('applies queued batches in order, and discard drops them', () => {
      const reg = new ParameterStore(new Rng(0));
      const bn = new BatchNorm2d(reg, 'bn', 2);
      tf.tidy(() => {
        bn.apply(x(), true);
        bn.apply(tf.mul(x(), 2), true);
      });
      bn.commit();
      const m1 = mean.map((m) => 0.1 * m);
      const v1 = unbiasedVar.map((v) => 0.9 + 0.1 * v);
      const m2 = m1.map((m, c) => 0.9 * m + 0.1 * 2 * mean[c]);
      const v2 = v1.map((v, c) => 0.9 * v + 0.1 * 4 * unbiasedVar[c]);
      const rm = bn.runningMean.dataSync();
      const rv = bn.runningVar.dataSync();
      for (let c = 0; c < 2; c++) {
        assert.ok(Math.abs(rm[c] - m2[c]) < 1e-5, `runningMean[${c}] = ${rm[c]}, expected ${m2[c]}`);
        assert.ok(Math.abs(rv[c] - v2[c]) < 1e-5, `runningVar[${c}] = ${rv[c]}, expected ${v2[c]}`);
      }
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        bn.apply(x(), true);
      });
      bn.discard();
      bn.commit();
      assert.equal(tf.memory().numTensors, before);
      assert.deepEqual(bn.runningMean.dataSync(), rm, 'a discarded batch must not reach the running stats');
      disposeAll(reg);
    });

    it('uses the running statistics in eval mode', () => {
      const reg = new ParameterStore(new Rng(0));
      const bn = new BatchNorm2d(reg, 'bn', 2);
      bn.runningMean.assign(tf.tensor1d([1, -1]));
      bn.runningVar.assign(tf.tensor1d([4, 9]));
      bn.gamma.assign(tf.tensor1d([2, 1]));
      bn.beta.assign(tf.tensor1d([0.5, 0]));
      const y = tf.tidy(() => bn.apply(x(), false));
      const got = y.dataSync();
      const expected = [1, 0, 2, 0, 3, 4, 6, 4].map((v, i) => (i % 2 === 0 ? (2 * (v - 1)) / Math.sqrt(4 + 1e-5) + 0.5 : (v + 1) / Math.sqrt(9 + 1e-5)));
      expected.forEach((e, i) => assert.ok(Math.abs(got[i] - e) < 1e-5, `y[${i}] = ${got[i]}, expected ${e}`));
      y.dispose();
      disposeAll(reg);
    });

    it('refuses training mode with one value per channel', () => {
      const reg = new ParameterStore(new Rng(0));
      const bn = new BatchNorm2d(reg, 'layer4.1.bn2', 3);
      assert.throws(() => tf.tidy(() => bn.apply(tf.ones([1, 1, 1, 3]) as tf.Tensor4D, true)), /layer4\.1\.bn2: .*more than one value per channel/);
      disposeAll(reg);
    });
  });

  describe('Dense and MaxPool', () => {
    it('initialises dense layers He-style or PyTorch-style', () => {
      const reg = new ParameterStore(new Rng('dense'));
      const he = new Dense(reg, 'fc1', 400, 300, 'he');
      const torch = new Dense(reg, 'fc2', 400, 10, 'torch');
      assert.deepEqual(he.weight.shape, [400, 300]);
      assert.deepEqual(Array.from(new Set(he.bias.dataSync())), [0]);
      const { std } = stats(he.weight.dataSync() as Float32Array);
      assert.ok(Math.abs(std / Math.sqrt(2 / 400) - 1) < 0.02, `He std ${std}`);
      const bound = 1 / Math.sqrt(400);
      for (const t of [torch.weight, torch.bias]) {
        const v = t.dataSync() as Float32Array;
        assert.ok(
          v.every((e) => Math.abs(e) <= bound),
          'outside the PyTorch bound',
        );
        assert.ok(Math.max(...v) > 0.9 * bound, 'does not fill the PyTorch range');
      }
      assert.equal(reg.flops, 2 * 400 * 300 + 2 * 400 * 10);
      disposeAll(reg);
    });

    it('pools with floor rounding, and padding never wins the max', () => {
      assert.deepEqual(new MaxPool('p', [7, 7, 4], 2).outShape, [3, 3, 4]);
      const padded = new MaxPool('p', [4, 4, 1], 3, 2, 1);
      assert.deepEqual(padded.outShape, [2, 2, 1]);
      tf.tidy(() => {
        const y = padded.apply(tf.neg(tf.reshape(tf.range(1, 17), [1, 4, 4, 1])) as tf.Tensor4D);
        assert.deepEqual(Array.from(y.dataSync()), [-1, -2, -5, -6]);
      });
    });
  });
});
