import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend';
import { useBackend } from '../helpers/backend';
import { batchNormTrain } from '../../src/kernels/batch-norm';
import { Rng } from '../../src/rng';

/** Batch norm and its gradients in float64 plain JS, straight from the definition. */
function reference(x: Float32Array, m: number, c: number, gamma: Float32Array, beta: Float32Array, dy: Float32Array, eps: number) {
  const y = new Float64Array(m * c);
  const dx = new Float64Array(m * c);
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += x[i * c + j];
    const mu = s / m;
    let v = 0;
    for (let i = 0; i < m; i++) v += (x[i * c + j] - mu) ** 2;
    v /= m;
    mean[j] = mu;
    variance[j] = v;
    const inv = 1 / Math.sqrt(v + eps);
    let sdy = 0;
    let sdyx = 0;
    for (let i = 0; i < m; i++) {
      const xh = (x[i * c + j] - mu) * inv;
      y[i * c + j] = gamma[j] * xh + beta[j];
      sdy += dy[i * c + j];
      sdyx += dy[i * c + j] * xh;
    }
    dgamma[j] = sdyx;
    dbeta[j] = sdy;
    for (let i = 0; i < m; i++) {
      const xh = (x[i * c + j] - mu) * inv;
      dx[i * c + j] = gamma[j] * inv * (dy[i * c + j] - sdy / m - xh * (sdyx / m));
    }
  }
  return { y, dx, dgamma, dbeta, mean, variance };
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / s;
}

describe('batchNormTrain (fast batch norm with a closed-form gradient)', () => {
  // Its tests switch backends; the helper puts back the one the file found.
  useBackend('wasm');
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`matches a float64 reference for values and gradients on ${backend}`, async () => {
      await initBackend(backend);
      const rng = new Rng('bn');
      const shape: [number, number, number, number] = [4, 3, 5, 6];
      const m = 4 * 3 * 5;
      const c = 6;
      const xs = rng.normalArray(m * c, 2, 3);
      const g = rng.normalArray(c);
      const b = rng.normalArray(c);
      const dys = rng.normalArray(m * c);
      const ref = reference(xs, m, c, g, b, dys, 1e-5);
      const before = tf.memory().numTensors;
      const out = tf.tidy(() => {
        const x = tf.tensor4d(xs, shape);
        const gamma = tf.tensor1d(g);
        const beta = tf.tensor1d(b);
        const dy = tf.tensor4d(dys, shape);
        let stats: tf.Tensor[] = [];
        const f = (xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => {
          const r = batchNormTrain(xi, gi as tf.Tensor1D, bi as tf.Tensor1D, 1e-5);
          stats = [r.mean, r.variance];
          return tf.sum(tf.mul(r.y, dy));
        };
        const y = batchNormTrain(x, gamma, beta, 1e-5);
        const grads = tf.grads(f)([x, gamma, beta]);
        const result = {
          y: y.y.dataSync(),
          mean: y.mean.dataSync(),
          variance: y.variance.dataSync(),
          dx: grads[0].dataSync(),
          dgamma: grads[1].dataSync(),
          dbeta: grads[2].dataSync(),
        };
        tf.dispose([y.mean, y.variance, ...stats]);
        return result;
      });
      assert.equal(tf.memory().numTensors, before, 'batchNormTrain leaked tensors');
      for (const k of ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'] as const) {
        const e = maxRel(out[k], ref[k]);
        assert.ok(e < 1e-5, `${k}: relative error ${e}`);
      }
    });
  }
});
