import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { evaluateBackdoor, poisonTrainingSet, triggeredTestSet } from '../../src/attacks/backdoor/poison';
import { buildAttack } from '../../src/attacks/backdoor/registry';
import { balancedIndices, subset } from '../../src/data/dataset';
import { loadMnist } from '../../src/data/mnist';
import { createModel } from '../../src/models/model';
import { silentSink } from '../../src/progress';
import { Rng } from '../../src/rng';
import { train } from '../../src/train/trainer';
import { useBackend } from '../helpers/backend';

/**
 * The attacks work end to end: mnist-net trained on 1,000 real digits with 10% of them poisoned
 * (all-to-one, target 0) learns the backdoor and the digits. About 7 s per attack on wasm.
 */
describe('backdoored mnist-net on real digits (smoke)', function () {
  const mnist = loadMnist();
  const trainSet = subset(mnist.train, balancedIndices(mnist.train, 100));
  const testSet = subset(mnist.test, balancedIndices(mnist.test, 50));
  useBackend('wasm');

  for (const [name, options] of [
    ['badnets', {}],
    ['blend', { alpha: 0.2 }],
  ] as const) {
    it(`${name}: ASR ≥ 90% and clean accuracy ≥ 80%`, async () => {
      const t0 = Date.now();
      const tensors = tf.memory().numTensors;
      const attack = buildAttack({ name, rule: { mode: 'all2one', target: 0, numClasses: 10 }, inputShape: [28, 28, 1], seed: 1, options });
      const { data } = poisonTrainingSet(trainSet, attack, { ratio: 0.1, rng: new Rng(2) });
      const model = createModel({ arch: 'mnist-net', inputShape: [28, 28, 1], numClasses: 10 }, 3);
      await train(
        model,
        data,
        {
          epochs: 4,
          batchSize: 50,
          optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
          schedule: { kind: 'cosine' },
          augment: { cropPadding: 0, flip: false, rotation: 0 },
        },
        { seed: 4, progress: silentSink },
      );
      const { acc, asr } = evaluateBackdoor(model, testSet, triggeredTestSet(testSet, attack));
      model.dispose();
      attack.trigger.dispose();
      const seconds = (Date.now() - t0) / 1000;
      assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
      assert.ok(asr >= 0.9, `${name}: ASR ${asr}, ACC ${acc} (${seconds} s)`);
      assert.ok(acc >= 0.8, `${name}: ACC ${acc}, chance 0.1 (${seconds} s)`);
    });
  }
});
