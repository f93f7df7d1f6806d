import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { evaluateBackdoor, triggeredTestSet } from '../../src/attacks/backdoor/poison';
import { buildAttack } from '../../src/attacks/backdoor/registry';
import { balancedIndices, subset } from '../../src/data/dataset';
import { loadMnist } from '../../src/data/mnist';
import type { Model } from '../../src/models/model';
import { mnistModels } from '../analysis/fixtures';
import { badnetsMnist } from '../defenses/fixtures';
import { pipelineBackend, useBackend } from '../helpers/backend';

/**
 * The attacks work end to end: mnist-net trained on 1,000 real digits with 10% of them poisoned
 * (all-to-one, target 0, poisoning seed 2, model seed 3, 4 epochs) learns the backdoor and the
 * digits. Those are the infected models the defense (BadNets) and analysis (Blend) tests share,
 * so a test process trains each once; they are measured here on 50 held-out digits per class.
 */
describe('backdoored mnist-net on real digits (smoke)', function () {
  const mnist = loadMnist();
  const testSet = subset(mnist.test, balancedIndices(mnist.test, 50));
  useBackend(pipelineBackend());

  const infected: Record<'badnets' | 'blend', () => Promise<Model>> = {
    badnets: async () => (await badnetsMnist()).infected,
    blend: async () => (await mnistModels()).infected,
  };
  for (const name of ['badnets', 'blend'] as const) {
    it(`${name}: ASR ≥ 90% and clean accuracy ≥ 80%`, async () => {
      const model = await infected[name]();
      const tensors = tf.memory().numTensors;
      // The fixtures' trigger: the same attack, built from the same seed.
      const attack = buildAttack({ name, rule: { mode: 'all2one', target: 0, numClasses: 10 }, inputShape: [28, 28, 1], seed: 1 });
      const { acc, asr } = await evaluateBackdoor(model, testSet, triggeredTestSet(testSet, attack));
      attack.trigger.dispose();
      assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
      assert.ok(asr >= 0.9, `${name}: ASR ${asr}, ACC ${acc}`);
      assert.ok(acc >= 0.8, `${name}: ACC ${acc}, chance 0.1`);
    });
  }
});
