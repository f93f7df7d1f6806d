import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../helpers/backend';
import { makeBatch } from '../../src/data/augment';
import { balancedIndices, subset } from '../../src/data/dataset';
import { loadMnist } from '../../src/data/mnist';
import { applyChannelMask, keepMask, lastConvTargets, meanChannelActivation, pruningOrder } from '../../src/defenses/channel-pruning';
import { createModel } from '../../src/models/registry';

describe('fine-pruning channel ranking and masks (mnist-net, real digits)', () => {
  useBackend('wasm');
  const { test } = loadMnist({ limitPerClass: 30 });
  const data = subset(test, balancedIndices(test, 7));
  const config = { arch: 'mnist-net' as const, inputShape: [28, 28, 1] as [number, number, number], numClasses: 10 };

  function activations(model: ReturnType<typeof createModel>, training: boolean): { values: Float32Array; shape: number[] } {
    return tf.tidy(() => {
      const x = tf.tensor4d(
        makeBatch(
          data,
          Int32Array.from({ length: data.shape[0] }, (_, i) => i),
        ),
        data.shape,
      );
      const a = model.forward(x, { training, collect: ['conv2'] }).activations.conv2;
      return { values: a.dataSync() as Float32Array, shape: a.shape };
    });
  }

  it('ranks channels by their mean activation over every image and position (float64 reference)', () => {
    const model = createModel(config, 4);
    const before = tf.memory().numTensors;
    const mean = meanChannelActivation(model, data, 'conv2', 16);
    assert.equal(tf.memory().numTensors, before);
    const { values, shape } = activations(model, false);
    const c = shape[3];
    const ref = new Float64Array(c);
    for (let i = 0; i < values.length; i++) ref[i % c] += values[i];
    for (let k = 0; k < c; k++) ref[k] /= values.length / c;
    for (let k = 0; k < c; k++) assert.ok(Math.abs(mean[k] - ref[k]) < 1e-5 * Math.max(1, ref[k]), `channel ${k}: ${mean[k]} vs ${ref[k]}`);
    const order = pruningOrder(mean);
    for (let i = 1; i < c; i++) assert.ok(mean[order[i - 1]] <= mean[order[i]]);
    assert.deepEqual(Array.from(pruningOrder([3, 1, 1, 0])), [3, 1, 2, 0]);
    model.dispose();
  });

  it('zeroes pruned channels of the activation exactly, in eval and training mode', () => {
    const model = createModel(config, 4);
    const targets = lastConvTargets(model);
    assert.deepEqual(
      targets.map((t) => t.param),
      ['conv2.weight', 'bn2.gamma', 'bn2.beta'],
    );
    const pruned = Array.from(pruningOrder(meanChannelActivation(model, data, 'conv2')).slice(0, 5));
    applyChannelMask(model, targets, keepMask(32, pruned));
    for (const training of [false, true]) {
      const { values } = activations(model, training);
      for (let i = 0; i < values.length; i++) if (pruned.includes(i % 32)) assert.equal(values[i], 0);
      const alive = values.filter((v, i) => !pruned.includes(i % 32) && v !== 0).length;
      assert.ok(alive > 0, 'the other channels still fire');
    }
    model.discardState();
    model.dispose();
  });

  it('also masks the classifier rows of a residual network, whose shortcut bypasses the last convolution', () => {
    const model = createModel({ arch: 'preact-resnet18', inputShape: [8, 8, 3], numClasses: 10 }, 1);
    assert.deepEqual(
      lastConvTargets(model).map((t) => `${t.param}@${t.axis}`),
      ['layer4.1.conv2.weight@3', 'linear.weight@0'],
    );
    model.dispose();
    assert.throws(() => keepMask(4, [4]), /channel 4 is outside \[0, 4\)/);
  });
});
