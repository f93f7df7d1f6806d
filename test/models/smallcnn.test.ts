import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend';
import { useBackend } from '../helpers/backend';
import type { ModelConfig } from '../../src/models/model';
import { createModel } from '../../src/models/registry';
import { checkBatchCoupling, checkForward, checkTrainEqualsEvalWithBatchStats, fitBatch, images, paramCount, trainingLoss, values } from './helpers';

const CIFAR: ModelConfig = { arch: 'smallcnn', inputShape: [32, 32, 3], numClasses: 10 };

describe('models/smallcnn', function () {
  // Its tests switch backends; the helper puts back the one the file found.
  useBackend('wasm');
  describe('on cpu', () => {
    before(async () => {
      await initBackend('cpu');
    });

    it('has the hand-counted parameters: conv3×3 32-32-64-64-128 with BN, dense 2048→256→10', () => {
      const model = createModel(CIFAR, 1);
      const conv = (cin: number, cout: number) => 3 * 3 * cin * cout + 2 * cout;
      const dense = (fin: number, fout: number) => fin * fout + fout;
      const expected = conv(3, 32) + conv(32, 32) + conv(32, 64) + conv(64, 64) + conv(64, 128) + dense(4 * 4 * 128, 256) + dense(256, 10);
      assert.equal(expected, 666_858);
      assert.equal(paramCount(model), expected);
      assert.deepEqual(
        [...model.state.keys()],
        [1, 2, 3, 4, 5].flatMap((i) => [`bn${i}.runningMean`, `bn${i}.runningVar`]),
      );
      model.dispose();
    });

    it('counts the FLOPs of a 32×32×3 forward pass by hand', () => {
      const model = createModel(CIFAR, 1);
      const conv = (hw: number, cin: number, cout: number) => 2 * hw * hw * 9 * cin * cout;
      const expected = conv(32, 3, 32) + conv(32, 32, 32) + conv(16, 32, 64) + conv(16, 64, 64) + conv(8, 64, 128) + 2 * 2048 * 256 + 2 * 256 * 10;
      assert.equal(expected, 59_446_272);
      assert.equal(model.forwardFlops(), expected);
      model.dispose();
    });

    it('returns logits, pooled 128-d features and post-ReLU conv1..conv5 activations', () => {
      const model = createModel(CIFAR, 2);
      const x = images('smallcnn-shapes', 3, CIFAR.inputShape);
      checkForward(model, x, 128, {
        conv1: [32, 32, 32],
        conv2: [32, 32, 32],
        conv3: [16, 16, 64],
        conv4: [16, 16, 64],
        conv5: [8, 8, 128],
      });
      tf.tidy(() => {
        const out = model.forward(x, { training: false, collect: ['conv5'] });
        assert.ok(tf.min(out.activations.conv5).dataSync()[0] >= 0, 'conv5 is not post-ReLU');
        // features = global average of conv5 after its 2×2 max-pool
        const pooled = tf.mean(tf.maxPool(out.activations.conv5, 2, 2, 'valid'), [1, 2]);
        assert.ok(tf.max(tf.abs(tf.sub(pooled, out.features))).dataSync()[0] < 1e-6);
      });
      assert.deepEqual(model.lastConv, { weight: 'conv5.weight', activation: 'conv5', batchNorm: 'bn5' });
      assert.deepEqual(model.params.get('conv5.weight')!.shape, [3, 3, 64, 128]);
      assert.ok(model.params.has('bn5.gamma') && model.params.has('bn5.beta'));
      x.dispose();
      model.dispose();
    });

    it('differs between eval and training mode only through batch norm', () => {
      const model = createModel({ ...CIFAR, inputShape: [16, 16, 3] }, 3);
      const x = images('smallcnn-bn', 4, [16, 16, 3]);
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

    it('gets a finite, non-zero gradient for every parameter and none for the state', () => {
      const model = createModel(CIFAR, 4);
      const x = images('smallcnn-grad', 4, CIFAR.inputShape);
      const labels = tf.tensor1d([0, 3, 7, 9], 'int32');
      const { value, grads } = tf.variableGrads(() => trainingLoss(model, x, labels));
      model.discardState();
      const nameOf = new Map([...model.params, ...model.state].map(([name, v]) => [v.name, name]));
      const got = new Set(Object.keys(grads).map((id) => nameOf.get(id)));
      assert.deepEqual([...got].sort(), [...model.params.keys()].sort());
      for (const [id, g] of Object.entries(grads)) {
        const v = values(g);
        assert.ok(v.every(Number.isFinite), `${nameOf.get(id)}: non-finite gradient`);
        assert.ok(
          v.some((e) => e !== 0),
          `${nameOf.get(id)}: zero gradient`,
        );
      }
      tf.dispose([value, x, labels, ...Object.values(grads)]);
      model.dispose();
    });

    it('30 momentum-SGD steps on a fixed batch of 16 lower the loss, without leaking', () => {
      const model = createModel({ ...CIFAR, inputShape: [16, 16, 3] }, 5);
      const x = images('smallcnn-fit', 16, [16, 16, 3]);
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
