import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend';
import { useBackend } from '../helpers/backend';
import type { ModelConfig } from '../../src/models/model';
import { createModel } from '../../src/models/registry';
import { checkBatchCoupling, checkForward, checkTrainEqualsEvalWithBatchStats, fitBatch, images, paramCount } from './helpers';

const MNIST: ModelConfig = { arch: 'mnist-net', inputShape: [28, 28, 1], numClasses: 10 };

describe('models/mnist-net', function () {
  // Its tests switch backends; the helper puts back the one the file found.
  useBackend('wasm');
  describe('on cpu', () => {
    before(async () => {
      await initBackend('cpu');
    });

    it('has the hand-counted parameters and FLOPs', () => {
      const model = createModel(MNIST, 1);
      const expected = 3 * 3 * 1 * 16 + 2 * 16 + 3 * 3 * 16 * 32 + 2 * 32 + (7 * 7 * 32 * 128 + 128) + (128 * 10 + 10);
      assert.equal(paramCount(model), expected);
      const flops = 2 * (28 * 28 * 9 * 1 * 16 + 14 * 14 * 9 * 16 * 32 + 7 * 7 * 32 * 128 + 128 * 10);
      assert.equal(model.forwardFlops(), flops);
      model.dispose();
    });

    it('returns logits, pooled 32-d features and conv1, conv2 activations', () => {
      const model = createModel(MNIST, 2);
      const x = images('mnist-shapes', 3, MNIST.inputShape);
      checkForward(model, x, 32, { conv1: [28, 28, 16], conv2: [14, 14, 32] });
      assert.deepEqual(model.lastConv, { weight: 'conv2.weight', activation: 'conv2', batchNorm: 'bn2' });
      x.dispose();
      model.dispose();
    });

    it('differs between eval and training mode only through batch norm', () => {
      const model = createModel(MNIST, 3);
      const x = images('mnist-bn', 4, MNIST.inputShape);
      checkBatchCoupling(model, x);
      checkTrainEqualsEvalWithBatchStats(model, x);
      x.dispose();
      model.dispose();
    });
  });

  describe('on wasm', () => {
    before(async () => {
      await initBackend('wasm');
    });

    it('30 momentum-SGD steps on a fixed batch of 16 lower the loss, without leaking', () => {
      const model = createModel(MNIST, 5);
      const x = images('mnist-fit', 16, MNIST.inputShape);
      const labels = tf.tensor1d(
        Int32Array.from({ length: 16 }, (_, i) => i % 10),
        'int32',
      );
      const { first, last } = fitBatch(model, x, labels, 30, 0.05);
      assert.ok(last < 0.5 * first, `loss ${first} → ${last}`);
      tf.dispose([x, labels]);
      model.dispose();
    });
  });
});
