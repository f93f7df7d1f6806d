import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend';
import { useBackend } from '../helpers/backend';
import type { Model, ModelConfig } from '../../src/models/model';
import { createModel } from '../../src/models/registry';
import { disposeOutput, images, values } from './helpers';

const SMALL: ModelConfig = { arch: 'smallcnn', inputShape: [16, 16, 3], numClasses: 10 };

function snapshot(model: Model): Map<string, Float32Array> {
  return new Map(model.namedWeights().map(({ name, tensor }) => [name, Float32Array.from(values(tensor))]));
}

/** One training-mode pass, committed: running statistics move away from their initial 0 and 1. */
function moveState(model: Model, x: tf.Tensor4D): void {
  disposeOutput(model.forward(x, { training: true }));
  model.commitState();
}

describe('models: shared behaviour', function () {
  // Its tests switch backends; the helper puts back the one the file found.
  useBackend('wasm');
  before(async () => {
    await initBackend('cpu');
  });

  describe('createModel', () => {
    it('rejects an unknown architecture, listing the valid ones', () => {
      const config = { ...SMALL, arch: 'vgg16' } as unknown as ModelConfig;
      assert.throws(() => createModel(config, 0), /unknown model architecture 'vgg16'; expected one of smallcnn, preact-resnet18, resnet18, mnist-net/);
    });

    it('rejects bad shapes, class counts and normalisation, and leaks nothing when a build fails', () => {
      const before = tf.memory().numTensors;
      assert.throws(() => createModel({ ...SMALL, inputShape: [16, 16] as never }, 0), /inputShape must be \[height, width, channels\]/);
      assert.throws(() => createModel({ ...SMALL, numClasses: 1 }, 0), /numClasses must be an integer ≥ 2/);
      assert.throws(() => createModel({ ...SMALL, normalization: { mean: [0.5], std: [0.5] } }, 0), /normalization needs 3 means and stds, got 1 and 1/);
      // 4×4 shrinks to 1×1 by the third pool, which then has nothing to pool.
      assert.throws(() => createModel({ ...SMALL, inputShape: [4, 4, 3] }, 0), /pool5: a 1×1×128 input is too small/);
      assert.equal(tf.memory().numTensors, before);
    });
  });

  describe('seeds', () => {
    it('the same seed gives identical weights; another seed different random weights', () => {
      const a = createModel(SMALL, 'seed-a');
      const b = createModel(SMALL, 'seed-a');
      const c = createModel(SMALL, 'seed-b');
      const [wa, wb, wc] = [a, b, c].map(snapshot);
      assert.deepEqual([...wa.keys()], [...a.params.keys(), ...a.state.keys()]);
      for (const [name, v] of wa) {
        assert.deepEqual(wb.get(name), v, `${name} differs for the same seed`);
        const random = name.endsWith('.weight') || name.startsWith('fc2.');
        if (random) assert.notDeepEqual(wc.get(name), v, `${name} is the same for another seed`);
        else assert.deepEqual(wc.get(name), v, `${name} should be a constant initialisation`);
      }
      [a, b, c].forEach((m) => m.dispose());
    });

    it('the same seed gives identical weights on cpu and wasm', async () => {
      const cpu = createModel(SMALL, 11);
      const onCpu = snapshot(cpu);
      cpu.dispose();
      await initBackend('wasm');
      try {
        const wasm = createModel(SMALL, 11);
        assert.deepEqual(snapshot(wasm), onCpu);
        wasm.dispose();
      } finally {
        await initBackend('cpu');
      }
    });
  });

  describe('state', () => {
    it('commitState folds the batch moments of bn1 into the running stats (momentum 0.1, unbiased) and leaks nothing', () => {
      const model = createModel(SMALL, 3);
      const x = images('state', 3, SMALL.inputShape);
      // bn1 sees conv1's output: its moments, by hand, per channel over N·H·W values.
      const conv1 = tf.tidy(() => values(tf.conv2d(x, model.params.get('conv1.weight') as tf.Tensor4D, 1, 1)));
      const channels = 32;
      const count = conv1.length / channels;
      const mean = new Float64Array(channels);
      const unbiased = new Float64Array(channels);
      for (let i = 0; i < conv1.length; i++) mean[i % channels] += conv1[i] / count;
      for (let i = 0; i < conv1.length; i++) unbiased[i % channels] += (conv1[i] - mean[i % channels]) ** 2 / (count - 1);

      const before = tf.memory().numTensors;
      disposeOutput(model.forward(x, { training: true, collect: 'all' }));
      assert.deepEqual(Array.from(values(model.state.get('bn1.runningMean')!)), new Array(channels).fill(0), 'updated before commit');
      model.commitState();
      assert.equal(tf.memory().numTensors, before, 'forward + commitState leaked tensors');
      const rm = values(model.state.get('bn1.runningMean')!);
      const rv = values(model.state.get('bn1.runningVar')!);
      for (let c = 0; c < channels; c++) {
        assert.ok(Math.abs(rm[c] - 0.1 * mean[c]) < 1e-5 * (1 + Math.abs(mean[c])), `runningMean[${c}] ${rm[c]} vs ${0.1 * mean[c]}`);
        const want = 0.9 + 0.1 * unbiased[c];
        assert.ok(Math.abs(rv[c] - want) < 1e-5 * want, `runningVar[${c}] ${rv[c]} vs ${want}`);
      }
      model.commitState();
      assert.deepEqual(values(model.state.get('bn1.runningMean')!), rm, 'a second commit applied the batch again');
      x.dispose();
      model.dispose();
    });

    it('discardState drops queued updates; eval-mode passes queue nothing', () => {
      const model = createModel(SMALL, 4);
      const x = images('discard', 2, SMALL.inputShape);
      const initial = snapshot(model);
      const before = tf.memory().numTensors;
      disposeOutput(model.forward(x, { training: true }));
      model.discardState();
      tf.dispose(model.predict(x));
      model.commitState();
      assert.equal(tf.memory().numTensors, before);
      assert.deepEqual(snapshot(model), initial);
      x.dispose();
      model.dispose();
    });
  });

  describe('checkpoints', () => {
    it('namedWeights → loadWeights reproduces predictions exactly, state included', () => {
      const a = createModel(SMALL, 'a');
      const b = createModel(SMALL, 'b');
      const x = images('round-trip', 4, SMALL.inputShape);
      moveState(a, x);
      const want = values(a.predict(x));
      assert.notDeepEqual(values(b.predict(x)), want);
      const copies = Object.fromEntries(a.namedWeights().map(({ name, tensor }) => [name, tf.clone(tensor)]));
      b.loadWeights(copies);
      tf.dispose(Object.values(copies));
      a.dispose();
      assert.deepEqual(values(b.predict(x)), want);
      assert.deepEqual(
        values(b.state.get('bn3.runningVar')!).some((v) => v !== 1),
        true,
        'running statistics were not carried over',
      );
      const before = tf.memory().numTensors;
      b.loadWeights(Object.fromEntries(b.namedWeights().map(({ name, tensor }) => [name, tensor])));
      assert.equal(tf.memory().numTensors, before, 'reloading its own weights changed the tensor count');
      assert.deepEqual(values(b.predict(x)), want, 'reloading its own weights changed the model');
      x.dispose();
      b.dispose();
    });

    it('names the mismatching, missing or unknown tensor and changes nothing', () => {
      const ten = createModel(SMALL, 1);
      const nine = createModel({ ...SMALL, numClasses: 9 }, 2);
      const x = images('mismatch', 2, SMALL.inputShape);
      const initial = snapshot(nine);
      const weights: Record<string, tf.Tensor> = Object.fromEntries(ten.namedWeights().map(({ name, tensor }) => [name, tensor]));
      assert.throws(() => nine.loadWeights(weights), /tensor 'fc2\.weight' has shape \[256,10\], expected \[256,9\]/);
      const { ['bn3.runningVar']: dropped, ...missing } = weights;
      assert.ok(dropped);
      assert.throws(() => ten.loadWeights(missing), /missing tensor\(s\) 'bn3\.runningVar'/);
      assert.throws(() => ten.loadWeights({ ...weights, 'conv9.weight': dropped }), /unknown tensor\(s\) 'conv9\.weight'/);
      assert.deepEqual(snapshot(nine), initial, 'a failed load changed the model');
      assert.equal(values(nine.predict(x)).length, 2 * 9);
      x.dispose();
      ten.dispose();
      nine.dispose();
    });
  });

  describe('inputs', () => {
    it('normalises per channel inside forward when configured', () => {
      const mean = [0.5, 0.4, 0.3];
      const std = [0.2, 0.25, 0.3];
      const normalising = createModel({ ...SMALL, normalization: { mean, std } }, 5);
      const plain = createModel(SMALL, 5);
      const x = images('normalise', 2, SMALL.inputShape);
      tf.tidy(() => {
        const got = values(normalising.predict(x));
        const want = values(plain.predict(tf.div(tf.sub(x, mean), std) as tf.Tensor4D));
        got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-4 * (1 + Math.abs(want[i])), `logit ${i}: ${v} vs ${want[i]}`));
      });
      x.dispose();
      normalising.dispose();
      plain.dispose();
    });

    it('rejects inputs of the wrong shape or dtype and unknown activation names', () => {
      const model = createModel(SMALL, 6);
      tf.tidy(() => {
        assert.throws(() => model.predict(tf.zeros([2, 32, 32, 3])), /smallcnn: expected input \[N, 16, 16, 3\], got \[2,32,32,3\]/);
        assert.throws(() => model.predict(tf.zeros([2, 16, 16, 3], 'int32')), /expected float32 input, got int32/);
        assert.throws(
          () => model.forward(tf.zeros([1, 16, 16, 3]), { training: false, collect: ['conv2', 'layer3'] }),
          /unknown activation\(s\) 'layer3'; valid: conv1, conv2, conv3, conv4, conv5/,
        );
      });
      model.dispose();
    });
  });
});
