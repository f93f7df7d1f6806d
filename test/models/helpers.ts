import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { ForwardOutput, Model } from '../../src/models/model';
import { Rng } from '../../src/rng';

/** Seeded images in [0, 1], [n, h, w, c]. */
export function images(seed: string, n: number, [h, w, c]: readonly number[]): tf.Tensor4D {
  return tf.tensor4d(new Rng(seed).uniformArray(n * h * w * c), [n, h, w, c]);
}

export function paramCount(model: Model): number {
  let n = 0;
  for (const v of model.params.values()) n += v.size;
  return n;
}

/** max |a − b| / max |b|: robust to tiny entries. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

export function disposeOutput(out: ForwardOutput): void {
  tf.dispose([out.logits, out.features, ...Object.values(out.activations)]);
}

export function values(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

/** Softmax cross-entropy of the training-mode logits against integer labels. */
export function trainingLoss(model: Model, x: tf.Tensor4D, labels: tf.Tensor1D): tf.Scalar {
  const logits = model.forward(x, { training: true }).logits;
  return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, model.config.numClasses), logits) as tf.Scalar;
}

/**
 * The forward contract: logits [N, K], features [N, F], `collect` returns exactly the named
 * activations with the given shapes, and nothing but the outputs outlives the call.
 */
export function checkForward(model: Model, x: tf.Tensor4D, featureDim: number, activationShapes: Record<string, number[]>): void {
  const n = x.shape[0];
  const names = Object.keys(activationShapes);
  assert.deepEqual(model.activationNames, names);
  const before = tf.memory().numTensors;
  for (const training of [false, true]) {
    const out = model.forward(x, { training, collect: 'all' });
    assert.deepEqual(out.logits.shape, [n, model.config.numClasses]);
    assert.deepEqual(out.features.shape, [n, featureDim]);
    assert.deepEqual(Object.keys(out.activations), names);
    for (const name of names) assert.deepEqual(out.activations[name].shape, [n, ...activationShapes[name]], name);
    assert.ok(values(out.logits).every(Number.isFinite), 'non-finite logits');
    disposeOutput(out);
  }
  model.discardState();
  const last = names[names.length - 1];
  const some = model.forward(x, { training: false, collect: [last] });
  assert.deepEqual(Object.keys(some.activations), [last]);
  disposeOutput(some);
  const none = model.forward(x, { training: false });
  assert.deepEqual(none.activations, {});
  disposeOutput(none);
  assert.equal(tf.memory().numTensors, before, 'forward leaked tensors');
}

/**
 * Eval mode has no batch coupling (each image's logits are the same alone or in a batch);
 * training mode does, through batch norm only: it differs from eval and depends on the batch.
 */
export function checkBatchCoupling(model: Model, x: tf.Tensor4D): void {
  const n = x.shape[0];
  tf.tidy(() => {
    const batch = values(model.predict(x));
    for (let i = 0; i < n; i++) {
      const alone = values(model.predict(tf.slice(x, [i], [1])));
      const inBatch = batch.subarray(i * alone.length, (i + 1) * alone.length);
      assert.ok(relError(alone, inBatch) < 1e-5, `eval logits of image ${i} depend on the batch: ${relError(alone, inBatch)}`);
    }
    const train = values(model.forward(x, { training: true }).logits);
    assert.ok(relError(train, batch) > 1e-3, 'training-mode logits equal eval-mode logits');
    const k = model.config.numClasses;
    const trainFirst = train.subarray(0, k);
    const trainFirstAgain = values(model.forward(x, { training: true }).logits).subarray(0, k);
    assert.deepEqual(trainFirstAgain, trainFirst, 'training mode is not deterministic');
    const otherCompany = tf.concat([tf.slice(x, [0], [1]), tf.mul(tf.slice(x, [1], [n - 1]), 0.5) as tf.Tensor4D]);
    const otherFirst = values(model.forward(otherCompany, { training: true }).logits).subarray(0, k);
    assert.ok(relError(otherFirst, trainFirst) > 1e-4, 'training-mode logits do not depend on the rest of the batch');
  });
  model.discardState();
}

/**
 * For nets where batch norm `bnK` directly follows `convK`, and `convK` names its post-ReLU
 * activation: loading the batch moments of a training pass as running statistics makes eval
 * mode reproduce training mode exactly, i.e. the two modes differ through batch norm only.
 * The moments are read back through commitState from zeroed running stats:
 * running = 0.1·batch mean, and 0.1·batch variance·n/(n−1).
 */
export function checkTrainEqualsEvalWithBatchStats(model: Model, x: tf.Tensor4D): void {
  const bnFor = (act: string) => act.replace(/^conv/, 'bn');
  const zeroed: Record<string, tf.Tensor> = {};
  for (const { name, tensor } of model.namedWeights()) {
    zeroed[name] = model.state.has(name) ? tf.zerosLike(tensor) : tensor;
  }
  model.loadWeights(zeroed);
  for (const name of model.state.keys()) zeroed[name].dispose();
  const train = model.forward(x, { training: true, collect: 'all' });
  model.commitState();
  const batchStats: Record<string, tf.Tensor> = {};
  for (const act of model.activationNames) {
    const [n, h, w] = train.activations[act].shape;
    const count = n * h * w;
    const bn = bnFor(act);
    batchStats[`${bn}.runningMean`] = tf.mul(model.state.get(`${bn}.runningMean`)!, 10);
    batchStats[`${bn}.runningVar`] = tf.mul(model.state.get(`${bn}.runningVar`)!, (10 * (count - 1)) / count);
  }
  assert.deepEqual(Object.keys(batchStats).sort(), [...model.state.keys()].sort(), 'every batch norm follows a named conv');
  const weights: Record<string, tf.Tensor> = {};
  for (const { name, tensor } of model.namedWeights()) weights[name] = batchStats[name] ?? tensor;
  model.loadWeights(weights);
  tf.dispose(Object.values(batchStats));
  const evalOut = model.forward(x, { training: false });
  const e1 = relError(values(evalOut.logits), values(train.logits));
  const e2 = relError(values(evalOut.features), values(train.features));
  assert.ok(e1 < 1e-4, `eval logits with batch statistics differ from training logits: ${e1}`);
  assert.ok(e2 < 1e-4, `eval features with batch statistics differ from training features: ${e2}`);
  disposeOutput(train);
  disposeOutput(evalOut);
}

/**
 * `steps` momentum-SGD steps on one fixed batch, committing batch-norm state after each:
 * returns the first and last training losses and checks the tensor count stays flat.
 */
export function fitBatch(model: Model, x: tf.Tensor4D, labels: tf.Tensor1D, steps: number, lr: number): { first: number; last: number } {
  const opt = tf.train.momentum(lr, 0.9);
  const vars = [...model.params.values()];
  const losses: number[] = [];
  let tensorsAfterFirst = 0;
  for (let i = 0; i < steps; i++) {
    const cost = opt.minimize(() => trainingLoss(model, x, labels), true, vars)!;
    model.commitState();
    losses.push(cost.dataSync()[0]);
    cost.dispose();
    if (i === 0) tensorsAfterFirst = tf.memory().numTensors;
  }
  assert.equal(tf.memory().numTensors, tensorsAfterFirst, 'tensor count grew across training steps');
  opt.dispose();
  return { first: losses[0], last: losses[losses.length - 1] };
}
