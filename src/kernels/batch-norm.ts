import * as tf from '@tensorflow/tfjs-core';
import { nativeBatchNormTrain, nativeKernelsActive } from './native';

/**
 * Training-mode batch normalisation over the N, H, W axes with a hand-written gradient.
 *
 * tfjs's own path (moments + batchNorm, differentiated op by op) costs several times a 3×3
 * convolution of the same tensor on wasm: the reductions over non-innermost axes transpose the
 * activation, and the backward pass broadcasts and tiles repeatedly. Here every reduction over
 * the M = N·H·W rows is a MatMul with a row of ones (XNNPACK's fastest kernel), and the
 * backward pass is the closed form
 *   dx = γ·σ⁻¹ · (dy − mean(dy) − x̂ · mean(dy · x̂)),  dγ = Σ dy·x̂,  dβ = Σ dy.
 */
export interface BatchNormResult {
  y: tf.Tensor;
  /** Batch mean and biased variance, kept outside any tidy: the caller disposes them. */
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

function rowMean(x2: tf.Tensor2D, onesOverM: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(onesOverM, x2);
}

export function batchNormTrain(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon = 1e-5): BatchNormResult {
  const shape = x.shape;
  const c = shape[shape.length - 1];
  if (gamma.shape[0] !== c || beta.shape[0] !== c) {
    throw new Error(`batchNormTrain: ${c} channels but gamma ${gamma.shape} and beta ${beta.shape}`);
  }
  if (nativeKernelsActive() && tf.getBackend() === 'wasm' && x.dtype === 'float32') return nativeBatchNormTrain(x, gamma, beta, epsilon);
  const m = x.size / c;
  let stats: [tf.Tensor1D, tf.Tensor1D] | null = null;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const onesOverM = tf.fill([1, m], 1 / m) as tf.Tensor2D;
    const x2 = tf.reshape(xIn, [m, c]) as tf.Tensor2D;
    const mean = rowMean(x2, onesOverM);
    const centered = tf.sub(x2, mean);
    const variance = rowMean(tf.square(centered) as tf.Tensor2D, onesOverM);
    const invStd = tf.rsqrt(tf.add(variance, epsilon));
    const xhat = tf.mul(centered, invStd) as tf.Tensor2D;
    const y = tf.add(tf.mul(xhat, g), b);
    stats = [tf.keep(tf.reshape(mean, [c])), tf.keep(tf.reshape(variance, [c]))];
    save([xhat, invStd, g, onesOverM]);
    return {
      value: tf.reshape(y, shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, inv, gam, ones] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D];
        const dy2 = tf.reshape(dy, [m, c]) as tf.Tensor2D;
        const meanDy = rowMean(dy2, ones);
        const meanDyXhat = rowMean(tf.mul(dy2, xh) as tf.Tensor2D, ones);
        const scale = tf.mul(inv, gam);
        const dx = tf.mul(tf.sub(tf.sub(dy2, meanDy), tf.mul(xh, meanDyXhat)), scale);
        return [tf.reshape(dx, shape), tf.reshape(tf.mul(meanDyXhat, m), [c]), tf.reshape(tf.mul(meanDy, m), [c])];
      },
    };
  });
  const y = op(x, gamma, beta);
  const [mean, variance] = stats!;
  return { y, mean, variance };
}
