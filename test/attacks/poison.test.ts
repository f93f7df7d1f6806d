import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { attackSuccessRate, evaluateBackdoor, poisonTrainingSet, triggeredTestSet } from '../../src/attacks/backdoor/poison';
import type { AttackConfig, StaticAttack } from '../../src/attacks/backdoor/attack';
import { buildAttack } from '../../src/attacks/backdoor/registry';
import { makeBatch } from '../../src/data/augment';
import { type Dataset, imageSize } from '../../src/data/dataset';
import { loadMnist } from '../../src/data/mnist';
import type { Model } from '../../src/models/model';
import { Rng } from '../../src/rng';
import { useBackend } from '../helpers/backend';

const mnist = loadMnist({ limitPerClass: 30 });
const K = 10;

function attack(name: string, mode: 'all2one' | 'all2all' = 'all2one', options: AttackConfig['options'] = {}, target = 0): StaticAttack {
  return buildAttack({ name, rule: { mode, target, numClasses: K }, inputShape: [28, 28, 1], seed: 11, options });
}

/** Indices whose pixels differ between the two datasets, and those whose label differs. */
function differences(a: Dataset, b: Dataset): { pixels: number[]; labels: number[] } {
  const size = imageSize(a);
  const pixels: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < a.shape[0]; i++) {
    for (let k = i * size; k < (i + 1) * size; k++) {
      if (a.images[k] !== b.images[k]) {
        pixels.push(i);
        break;
      }
    }
    if (a.labels[i] !== b.labels[i]) labels.push(i);
  }
  return { pixels, labels };
}

const union = (...lists: ArrayLike<number>[]) => [...new Set(lists.flatMap((l) => Array.from(l)))].sort((x, y) => x - y);

describe('poisoning, triggered test sets and ASR', function () {
  useBackend('wasm');

  for (const [name, mode] of [
    ['badnets', 'all2one'],
    ['blend', 'all2one'],
    ['badnets', 'all2all'],
    ['wanet', 'all2one'],
  ] as const) {
    it(`${name} ${mode}: poisoned indices are exactly the images whose pixels or labels changed`, () => {
      const a = attack(name, mode);
      const tensors = tf.memory().numTensors;
      const { data, poisonedIndices, crossIndices } = poisonTrainingSet(mnist.train, a, { ratio: 0.1, rng: new Rng(1) });
      assert.equal(tf.memory().numTensors, tensors, 'poisoning leaked tensors');
      const n = mnist.train.shape[0];
      assert.equal(poisonedIndices.length, Math.round(0.1 * n));
      const diff = differences(mnist.train, data);
      assert.deepEqual(diff.labels, Array.from(poisonedIndices), 'label changes ≠ poisoned indices');
      assert.deepEqual(diff.pixels, union(poisonedIndices, crossIndices), 'pixel changes ≠ poisoned ∪ cross');
      for (const i of poisonedIndices) {
        const y = mnist.train.labels[i];
        if (mode === 'all2one') {
          assert.notEqual(y, 0, `image ${i} of the target class was poisoned`);
          assert.equal(data.labels[i], 0);
        } else {
          assert.equal(data.labels[i], (y + 1) % K, `all-to-all label of image ${i}`);
        }
      }
      if (name === 'wanet') {
        assert.equal(crossIndices.length, 2 * poisonedIndices.length, 'cross ratio 2');
        assert.ok(
          crossIndices.every((i) => !poisonedIndices.includes(i)),
          'cross and poisoned overlap',
        );
      } else {
        assert.equal(crossIndices.length, 0);
      }
      assert.deepEqual(data.shape, mnist.train.shape);
      assert.notEqual(data.source, mnist.train.source, 'a poisoned set must not look like the clean one to caches');
      a.trigger.dispose();
    });
  }

  it('stores each poisoned image as its trigger output rounded to uint8', () => {
    const a = attack('blend');
    const { data, poisonedIndices } = poisonTrainingSet(mnist.train, a, { ratio: 0.1, rng: new Rng(1), batchSize: 7 });
    const x = tf.tensor4d(makeBatch(mnist.train, poisonedIndices), [poisonedIndices.length, 28, 28, 1]);
    const y = a.trigger.apply(x);
    const expected = y.dataSync();
    tf.dispose([x, y]);
    poisonedIndices.forEach((i, b) => {
      for (let k = 0; k < 784; k++) assert.equal(data.images[i * 784 + k], Math.round(expected[b * 784 + k] * 255));
    });
  });

  it('SIG is clean-label: only target-class images, no label changes, capped by the class size', () => {
    const a = attack('sig', 'all2one', {}, 3);
    const { data, poisonedIndices } = poisonTrainingSet(mnist.train, a, { ratio: 0.05, rng: new Rng(1) });
    assert.equal(poisonedIndices.length, 15);
    assert.ok(poisonedIndices.every((i) => mnist.train.labels[i] === 3));
    const diff = differences(mnist.train, data);
    assert.deepEqual(diff.labels, []);
    assert.deepEqual(diff.pixels, Array.from(poisonedIndices));
    // 30 images of class 3: a 50% ratio (150 images) poisons all of them and no more.
    const capped = poisonTrainingSet(mnist.train, a, { ratio: 0.5, rng: new Rng(1) });
    assert.equal(capped.poisonedIndices.length, 30);
  });

  it('SIG targetShare caps the poisoned share of the target class, leaving the rest of the class clean', () => {
    // 30 images of class 3; a 10% ratio asks for 30, half the class is 15.
    const { data, poisonedIndices } = poisonTrainingSet(mnist.train, attack('sig', 'all2one', { targetShare: 0.5 }, 3), { ratio: 0.1, rng: new Rng(1) });
    assert.equal(poisonedIndices.length, 15);
    assert.ok(poisonedIndices.every((i) => mnist.train.labels[i] === 3));
    const cleanOfClass = Array.from(mnist.train.labels.keys()).filter((i) => mnist.train.labels[i] === 3 && !poisonedIndices.includes(i));
    assert.equal(cleanOfClass.length, 15);
    assert.deepEqual(differences(mnist.train, data).pixels, Array.from(poisonedIndices));
    // A ratio smaller than the share still decides: 2% of 300 is 6 images.
    assert.equal(poisonTrainingSet(mnist.train, attack('sig', 'all2one', { targetShare: 0.5 }, 3), { ratio: 0.02, rng: new Rng(1) }).poisonedIndices.length, 6);
  });

  it('SIG with cleanLabel false relabels like a dirty-label attack', () => {
    const { data, poisonedIndices } = poisonTrainingSet(mnist.train, attack('sig', 'all2one', { cleanLabel: false }), { ratio: 0.1, rng: new Rng(1) });
    assert.ok(poisonedIndices.every((i) => mnist.train.labels[i] !== 0 && data.labels[i] === 0));
  });

  it('is deterministic for an rng seed and differs for another', () => {
    const a = attack('wanet');
    const p1 = poisonTrainingSet(mnist.train, a, { rng: new Rng('p') });
    const p2 = poisonTrainingSet(mnist.train, a, { rng: new Rng('p') });
    const p3 = poisonTrainingSet(mnist.train, a, { rng: new Rng('q') });
    assert.deepEqual(p2.poisonedIndices, p1.poisonedIndices);
    assert.deepEqual(p2.crossIndices, p1.crossIndices);
    assert.deepEqual(p2.data.images, p1.data.images);
    assert.notDeepEqual(p3.poisonedIndices, p1.poisonedIndices);
  });

  it('rejects ratios outside (0, 1) and a dataset of another shape or class count', () => {
    const a = attack('badnets');
    for (const ratio of [0, 1, 1.5, -0.1, Number.NaN]) {
      assert.throws(() => poisonTrainingSet(mnist.train, a, { ratio, rng: new Rng(0) }), /poison ratio: expected a number in \(0, 1\), got/);
    }
    assert.throws(
      () => poisonTrainingSet(mnist.train, a, { ratio: 0.95, rng: new Rng(0) }),
      /asks for 285 images but only 270 of 300 are not of the target class 0/,
    );
    const colour = buildAttack({ name: 'badnets', rule: { mode: 'all2one', target: 0, numClasses: K }, inputShape: [32, 32, 3], seed: 0 });
    assert.throws(() => poisonTrainingSet(mnist.train, colour, { rng: new Rng(0) }), /badnets: built for 32×32×3 images, but mnist\/train has 28×28×1/);
    const k43 = buildAttack({ name: 'badnets', rule: { mode: 'all2one', target: 0, numClasses: 43 }, inputShape: [28, 28, 1], seed: 0 });
    assert.throws(() => triggeredTestSet(mnist.test, k43), /built for 43 classes, but mnist\/test has 10/);
  });

  it('triggered test set: all-to-one leaves out the target class and labels the rest with the target', () => {
    const a = attack('badnets', 'all2one', {}, 4);
    const t = triggeredTestSet(mnist.test, a);
    const n = mnist.test.shape[0];
    const targets = mnist.test.labels.filter((y) => y === 4).length;
    assert.equal(t.data.shape[0], n - targets);
    assert.ok(t.trueLabels.every((y) => y !== 4));
    assert.ok(t.data.labels.every((y) => y === 4));
    t.sourceIndices.forEach((i, j) => assert.equal(t.trueLabels[j], mnist.test.labels[i]));
    // The patch is there: the bottom-right pixel is 1 in every image.
    for (let j = 0; j < t.data.shape[0]; j++) assert.equal(t.data.images[j * 784 + 783], 255);
  });

  it('triggered test set: all-to-all keeps every image, labelled y + 1 mod K', () => {
    const t = triggeredTestSet(mnist.test, attack('blend', 'all2all'));
    assert.equal(t.data.shape[0], mnist.test.shape[0]);
    t.trueLabels.forEach((y, j) => assert.equal(t.data.labels[j], (y + 1) % K));
  });

  it('ASR counts predictions equal to the target label', () => {
    const t = triggeredTestSet(mnist.test, attack('badnets'));
    const predicted = Int32Array.from(t.data.labels);
    assert.equal(attackSuccessRate(predicted, t), 1);
    for (let i = 0; i < predicted.length; i += 4) predicted[i] = 1;
    assert.equal(attackSuccessRate(predicted, t), (predicted.length - Math.ceil(predicted.length / 4)) / predicted.length);
    assert.throws(() => attackSuccessRate(predicted.subarray(1), t), /predictions for \d+ triggered images/);
  });

  it('evaluateBackdoor: the target class accuracy counts the target class only, all-to-one only', async () => {
    // A model that says "1" for every image: right on class 1's images only.
    const alwaysOne = {
      predict: (x: tf.Tensor4D) => tf.tidy(() => tf.cast(tf.oneHot(tf.fill([x.shape[0]], 1, 'int32') as tf.Tensor1D, K), 'float32') as tf.Tensor2D),
    } as unknown as Model;
    const ones = mnist.test.labels.filter((y) => y === 1).length;
    for (const [target, targetAcc] of [
      [1, 1],
      [4, 0],
    ] as const) {
      const a = attack('badnets', 'all2one', {}, target);
      const r = await evaluateBackdoor(alwaysOne, mnist.test, triggeredTestSet(mnist.test, a), a.rule);
      assert.equal(r.acc, ones / mnist.test.labels.length);
      assert.equal(r.targetAcc, targetAcc);
      assert.equal(r.asr, target === 1 ? 1 : 0);
    }
    const all2all = attack('badnets', 'all2all');
    assert.equal((await evaluateBackdoor(alwaysOne, mnist.test, triggeredTestSet(mnist.test, all2all), all2all.rule)).targetAcc, null);
    assert.equal((await evaluateBackdoor(alwaysOne, mnist.test, triggeredTestSet(mnist.test, all2all))).targetAcc, null);
  });
});
