import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../../src/backend';
import { useBackend } from '../helpers/backend';
import { Rng } from '../../src/rng';
import { relError, values } from '../models/helpers';
import { CONV_CASES } from './conv-cases';

async function onBackend<T>(name: 'cpu' | 'wasm', fn: () => T): Promise<T> {
  await initBackend(name);
  return fn();
}

describe('wasm training kernels', function () {
  // Its tests switch backends; the helper puts back the one the file found.
  useBackend('wasm');
  after(async () => {
    await initBackend('wasm');
  });

  for (const cc of CONV_CASES) {
    it(`conv2d gradients match cpu: x ${cc.x.join('×')}, w ${cc.w.join('×')}, stride ${cc.stride}, ${cc.pad}`, async () => {
      const rng = new Rng(`conv-${cc.x.join()}-${cc.w.join()}-${cc.stride}-${cc.pad}`);
      const xs = rng.normalArray(cc.x.reduce((a, b) => a * b));
      const ws = rng.normalArray(cc.w.reduce((a, b) => a * b));
      const grads = (name: 'cpu' | 'wasm') =>
        onBackend(name, () =>
          tf.tidy(() => {
            const x = tf.tensor4d(xs, cc.x);
            const w = tf.tensor4d(ws, cc.w);
            const y = tf.conv2d(x, w, cc.stride, cc.pad);
            const r = tf.tensor(new Rng('weights').normalArray(y.size), y.shape);
            const f = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.sum(tf.mul(tf.conv2d(a, b, cc.stride, cc.pad), r));
            const [gx, gw] = tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)([x, w]);
            return [values(gx), values(gw)];
          }),
        );
      const [cx, cw] = await grads('cpu');
      const [wx, ww] = await grads('wasm');
      assert.ok(relError(wx, cx) < 1e-5, `dx relative error ${relError(wx, cx)}`);
      assert.ok(relError(ww, cw) < 1e-5, `dW relative error ${relError(ww, cw)}`);
    });
  }

  for (const [ta, tb] of [
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`matMul with transposeA=${ta}, transposeB=${tb} matches cpu`, async () => {
      const rng = new Rng(`matmul-${ta}-${tb}`);
      const a = rng.normalArray(6 * 5);
      const b = rng.normalArray(5 * 4);
      const run = (name: 'cpu' | 'wasm') =>
        onBackend(name, () => tf.tidy(() => values(tf.matMul(tf.tensor2d(a, ta ? [5, 6] : [6, 5]), tf.tensor2d(b, tb ? [4, 5] : [5, 4]), ta, tb))));
      const c = await run('cpu');
      const w = await run('wasm');
      assert.ok(relError(w, c) < 1e-5, `relative error ${relError(w, c)}`);
    });
  }
});

/** A small conv net written with raw ops: conv, batch norm (batch statistics), ReLU, max-pool, dense. */
function smallNet(rng: Rng) {
  const shapes: Record<string, number[]> = {
    w1: [3, 3, 3, 8],
    gamma: [8],
    beta: [8],
    w2: [3, 3, 8, 6],
    dense: [4 * 4 * 6, 5],
    bias: [5],
  };
  const init: Record<string, Float32Array> = {};
  for (const [k, s] of Object.entries(shapes)) {
    const n = s.reduce((a, b) => a * b);
    init[k] = k === 'gamma' ? new Float32Array(n).fill(1) : rng.normalArray(n, 0, k === 'beta' || k === 'bias' ? 0.1 : 0.3);
  }
  const forward = (x: tf.Tensor4D, p: Record<string, tf.Tensor>): tf.Tensor2D => {
    let h: tf.Tensor4D = tf.conv2d(x, p.w1 as tf.Tensor4D, 1, 'same');
    const { mean, variance } = tf.moments(h, [0, 1, 2]);
    h = tf.batchNorm4d(h, mean as tf.Tensor1D, variance as tf.Tensor1D, p.beta as tf.Tensor1D, p.gamma as tf.Tensor1D, 1e-5);
    h = tf.maxPool(tf.relu(h), 2, 2, 'same');
    h = tf.relu(tf.conv2d(h, p.w2 as tf.Tensor4D, 2, 'same'));
    const flat = tf.reshape(h, [x.shape[0], -1]);
    return tf.add(tf.matMul(flat, p.dense as tf.Tensor2D), p.bias) as tf.Tensor2D;
  };
  return { shapes, init, forward };
}

describe('a full training step on wasm', function () {
  // Its tests switch backends; the helper puts back the one the file found.
  useBackend('wasm');
  const rng = new Rng('small-net');
  const net = smallNet(rng);
  const xs = rng.uniformArray(6 * 16 * 16 * 3);
  const labels = Int32Array.from({ length: 6 }, (_, i) => i % 5);

  function lossFn(x: tf.Tensor4D, params: Record<string, tf.Tensor>): tf.Scalar {
    const logits = net.forward(x, params);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), 5), logits) as tf.Scalar;
  }

  async function gradients(name: 'cpu' | 'wasm'): Promise<Record<string, Float32Array>> {
    return onBackend(name, () =>
      tf.tidy(() => {
        const keys = Object.keys(net.shapes);
        const x = tf.tensor4d(xs, [6, 16, 16, 3]);
        const params = keys.map((k) => tf.tensor(net.init[k], net.shapes[k]));
        const f = (...args: tf.Tensor[]) => lossFn(args[0] as tf.Tensor4D, Object.fromEntries(keys.map((k, i) => [k, args[i + 1]])));
        const g = tf.grads(f)([x, ...params]);
        return Object.fromEntries([['input', values(g[0])], ...keys.map((k, i) => [k, values(g[i + 1])])]);
      }),
    );
  }

  it('gradients of every parameter and of the input match cpu to 1e-4', async () => {
    const cpu = await gradients('cpu');
    const wasm = await gradients('wasm');
    for (const k of Object.keys(cpu)) {
      const e = relError(wasm[k], cpu[k]);
      assert.ok(e < 1e-4, `${k}: relative error ${e}`);
    }
  });

  it('the input gradient on wasm passes a finite-difference check', async () => {
    const g = (await gradients('wasm')).input;
    await initBackend('wasm');
    const params = Object.fromEntries(Object.keys(net.shapes).map((k) => [k, tf.tensor(net.init[k], net.shapes[k])]));
    const lossAt = (dir: Float32Array, step: number) =>
      tf.tidy(() => {
        const shifted = Float32Array.from(xs, (v, i) => v + step * dir[i]);
        return lossFn(tf.tensor4d(shifted, [6, 16, 16, 3]), params).dataSync()[0];
      });
    // float32 rounding in the forward pass is ~1e-6 of the loss, so the step must move the loss
    // well beyond that, yet stay small enough not to cross many ReLU / max-pool kinks.
    const checkDirection = (name: string, dir: Float32Array, h: number, tol: number) => {
      const norm = Math.hypot(...dir);
      const unit = dir.map((v) => v / norm);
      const numeric = (lossAt(unit, h) - lossAt(unit, -h)) / (2 * h);
      const analytic = g.reduce((s, v, i) => s + v * unit[i], 0);
      assert.ok(Math.abs(numeric - analytic) <= tol * Math.abs(analytic), `${name}: numeric ${numeric} vs analytic ${analytic}`);
    };
    checkDirection('along the gradient', Float32Array.from(g), 1e-2, 0.01);
    checkDirection('random direction', new Rng('direction').normalArray(xs.length), 1e-2, 0.05);
    const largest = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]))[0];
    const basis = new Float32Array(xs.length);
    basis[largest] = 1;
    checkDirection(`coordinate ${largest}`, basis, 1e-2, 0.05);
    tf.dispose(Object.values(params));
  });

  it('an optimiser step leaks no tensors and no wasm buffers, and lowers the loss', async () => {
    await initBackend('wasm');
    const vars = Object.fromEntries(Object.keys(net.shapes).map((k) => [k, tf.variable(tf.tensor(net.init[k], net.shapes[k]), true, `leak-${k}`)]));
    const x = tf.tensor4d(xs, [6, 16, 16, 3]);
    const opt = tf.train.momentum(0.05, 0.9);
    const step = () => {
      const cost = opt.minimize(() => lossFn(x, vars), true) as tf.Scalar;
      const v = cost.dataSync()[0];
      cost.dispose();
      return v;
    };
    const first = step();
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const before = { tensors: tf.memory().numTensors, ids: backend.numDataIds() };
    let last = first;
    for (let i = 0; i < 5; i++) last = step();
    assert.equal(tf.memory().numTensors, before.tensors, 'tensor count changed across steps');
    assert.equal(backend.numDataIds(), before.ids, 'wasm data ids changed across steps');
    assert.ok(last < first, `loss did not decrease: ${first} → ${last}`);
    opt.dispose();
    x.dispose();
    tf.dispose(Object.values(vars));
  });
});
