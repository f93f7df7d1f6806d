import * as tf from '@tensorflow/tfjs-core';
import type { Model } from './model';
import type { Rng } from '../rng';

/**
 * The linear softmax classifier of the paper's Theorem 1: logits = flatten(x)·W + b. Its input
 * gradient is known in closed form, so it is where PGD and the theorem can be checked by hand.
 * `features` are the flattened inputs: a linear model has no hidden layer.
 */
export interface LinearSoftmax extends Pick<Model, 'predict' | 'forward'> {
  readonly config: { inputShape: [number, number, number]; numClasses: number };
  /** [d, K] row-major, d = h·w·c, as given (float64 when trained here) */
  readonly weights: Float64Array;
  readonly bias: Float64Array;
  dispose(): void;
}

/** Wraps weights (d×K row-major) and biases (K) as a model; the tensors hold float32 copies. */
export function linearSoftmax(weights: ArrayLike<number>, bias: ArrayLike<number>, inputShape: [number, number, number]): LinearSoftmax {
  const d = inputShape[0] * inputShape[1] * inputShape[2];
  const k = bias.length;
  if (!(k >= 2)) throw new Error(`linearSoftmax: need at least 2 classes (biases), got ${k}`);
  if (weights.length !== d * k) throw new Error(`linearSoftmax: weights hold ${weights.length} values, expected d×K = ${d}×${k} = ${d * k}`);
  const w = tf.tensor2d(Float32Array.from(weights), [d, k]);
  const b = tf.tensor1d(Float32Array.from(bias));
  const forward: Model['forward'] = (x) =>
    tf.tidy(() => {
      const features = tf.reshape(x, [x.shape[0], d]) as tf.Tensor2D;
      return { logits: tf.add(tf.matMul(features, w), b) as tf.Tensor2D, features, activations: {} };
    });
  return {
    config: { inputShape, numClasses: k },
    weights: Float64Array.from(weights),
    bias: Float64Array.from(bias),
    forward,
    predict: (x) => forward(x, { training: false }).logits,
    dispose: () => tf.dispose([w, b]),
  };
}

export interface LinearTrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  /** L2 penalty λ·|W|²/2 on the weights (not the biases) */
  weightDecay: number;
}

/**
 * Multinomial logistic regression by mini-batch SGD in float64 JavaScript: exact, identical on
 * every backend, and fast enough for MNIST-sized inputs (d = 784). `x` is n×d row-major.
 * Weights start at zero, so the result depends on the seed only through the batch order.
 */
export function trainLinearSoftmax(
  x: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses: number,
  cfg: LinearTrainConfig,
  rng: Rng,
): { weights: Float64Array; bias: Float64Array } {
  const n = labels.length;
  const k = numClasses;
  if (n === 0 || x.length % n !== 0) throw new Error(`trainLinearSoftmax: ${x.length} input values do not split into ${n} rows`);
  if (!(Number.isInteger(cfg.epochs) && cfg.epochs >= 0)) throw new Error(`linear.epochs: expected an integer ≥ 0, got ${cfg.epochs}`);
  if (!(Number.isInteger(cfg.batchSize) && cfg.batchSize >= 1)) throw new Error(`linear.batchSize: expected an integer ≥ 1, got ${cfg.batchSize}`);
  if (!(cfg.lr > 0)) throw new Error(`linear.lr: expected a positive number, got ${cfg.lr}`);
  if (!(cfg.weightDecay >= 0)) throw new Error(`linear.weightDecay: expected a number ≥ 0, got ${cfg.weightDecay}`);
  const d = x.length / n;
  const w = new Float64Array(d * k);
  const b = new Float64Array(k);
  const gw = new Float64Array(d * k);
  const gb = new Float64Array(k);
  const p = new Float64Array(k);
  for (let epoch = 0; epoch < cfg.epochs; epoch++) {
    const order = rng.fork(`epoch-${epoch}`).permutation(n);
    for (let start = 0; start < n; start += cfg.batchSize) {
      const end = Math.min(n, start + cfg.batchSize);
      gw.fill(0);
      gb.fill(0);
      for (let t = start; t < end; t++) {
        const i = order[t];
        const row = i * d;
        softmaxOf(x, row, d, w, b, p);
        p[labels[i]] -= 1;
        for (let c = 0; c < k; c++) gb[c] += p[c];
        for (let j = 0; j < d; j++) {
          const v = x[row + j];
          if (v === 0) continue;
          const o = j * k;
          for (let c = 0; c < k; c++) gw[o + c] += v * p[c];
        }
      }
      const scale = cfg.lr / (end - start);
      for (let q = 0; q < w.length; q++) w[q] -= scale * gw[q] + cfg.lr * cfg.weightDecay * w[q];
      for (let c = 0; c < k; c++) b[c] -= scale * gb[c];
    }
  }
  return { weights: w, bias: b };
}

/** Logits of row `row` of x (n×d row-major) under (w, b), written into `out`, in float64. */
export function linearLogits(x: ArrayLike<number>, row: number, d: number, w: Float64Array, b: Float64Array, out: Float64Array): Float64Array {
  const k = b.length;
  for (let c = 0; c < k; c++) out[c] = b[c];
  for (let j = 0; j < d; j++) {
    const v = x[row + j];
    if (v === 0) continue;
    const o = j * k;
    for (let c = 0; c < k; c++) out[c] += v * w[o + c];
  }
  return out;
}

/** Softmax of row `row` of x under (w, b), written into `out`, computed stably in float64. */
export function softmaxOf(x: ArrayLike<number>, row: number, d: number, w: Float64Array, b: Float64Array, out: Float64Array): Float64Array {
  linearLogits(x, row, d, w, b, out);
  const k = b.length;
  let max = -Infinity;
  for (let c = 0; c < k; c++) max = Math.max(max, out[c]);
  let sum = 0;
  for (let c = 0; c < k; c++) sum += out[c] = Math.exp(out[c] - max);
  for (let c = 0; c < k; c++) out[c] /= sum;
  return out;
}
