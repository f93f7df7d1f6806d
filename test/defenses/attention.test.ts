import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../helpers/backend';
import { attentionDistillation, attentionLoss, attentionMap } from '../../src/defenses/attention';
import { Rng } from '../../src/rng';

/** float64 reference: maps [n][h*w], then the MSE, written out loop by loop. */
function referenceMaps(a: Float32Array, [n, h, w, c]: number[], p: number): Float64Array {
  const out = new Float64Array(n * h * w);
  for (let i = 0; i < n; i++) {
    let sq = 0;
    for (let q = 0; q < h * w; q++) {
      let s = 0;
      for (let k = 0; k < c; k++) s += Math.abs(a[(i * h * w + q) * c + k]) ** p;
      out[i * h * w + q] = s;
      sq += s * s;
    }
    const norm = Math.sqrt(sq) + 1e-6;
    for (let q = 0; q < h * w; q++) out[i * h * w + q] /= norm;
  }
  return out;
}

describe('NAD attention maps and loss', () => {
  useBackend('wasm');
  const shape = [3, 4, 5, 6];
  const rng = new Rng('attention-test');
  const s = rng.fork('s').normalArray(3 * 4 * 5 * 6);
  const t = rng.fork('t').normalArray(3 * 4 * 5 * 6);

  for (const p of [1, 2, 3.5]) {
    it(`matches a float64 computation for p = ${p}`, () => {
      const before = tf.memory().numTensors;
      const st = tf.tensor4d(s, shape as [number, number, number, number]);
      const tt = tf.tensor4d(t, shape as [number, number, number, number]);
      const map = attentionMap(st, p);
      const ref = referenceMaps(s, shape, p);
      const got = map.dataSync();
      assert.deepEqual(map.shape, [3, 4, 5]);
      for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(got[i] - ref[i]) < 1e-5, `map[${i}] ${got[i]} vs ${ref[i]}`);
      const refT = referenceMaps(t, shape, p);
      let mse = 0;
      for (let i = 0; i < ref.length; i++) mse += (ref[i] - refT[i]) ** 2;
      mse /= ref.length;
      const loss = attentionLoss(st, tt, p);
      assert.ok(Math.abs(loss.dataSync()[0] - mse) < 1e-6 * Math.max(1, mse), `loss ${loss.dataSync()[0]} vs ${mse}`);
      tf.dispose([st, tt, map, loss]);
      assert.equal(tf.memory().numTensors, before);
    });
  }

  it('is zero for identical activations, sums β-weighted layers, and names a missing layer', () => {
    const a = tf.tensor4d(s, shape as [number, number, number, number]);
    const b = tf.tensor4d(t, shape as [number, number, number, number]);
    assert.equal(attentionLoss(a, a, 2).dataSync()[0], 0);
    const one = attentionLoss(a, b, 2).dataSync()[0];
    const total = attentionDistillation(
      [
        { layer: 'x', p: 2, beta: 500 },
        { layer: 'y', p: 2, beta: 1000 },
      ],
      { x: a, y: a },
      { x: b, y: a },
    ).dataSync()[0];
    assert.ok(Math.abs(total - 500 * one) < 1e-3 * total);
    assert.throws(() => attentionDistillation([{ layer: 'z', p: 2, beta: 1 }], { x: a }, { x: b }), /no activation 'z'/);
    assert.throws(() => attentionLoss(a, tf.zeros([3, 4, 5, 2]) as tf.Tensor4D, 2), /differ in shape/);
    assert.throws(() => attentionMap(a, 0), /p must be > 0/);
    tf.dispose([a, b]);
  });

  it('pulls the student map toward the teacher under gradient descent', () => {
    const teacher = tf.tensor4d(t, shape as [number, number, number, number]);
    const student = tf.variable(tf.tensor4d(s, shape as [number, number, number, number]));
    const f = () => attentionLoss(student as unknown as tf.Tensor4D, teacher, 2);
    const value = () => tf.tidy(() => f().dataSync()[0]);
    const first = value();
    for (let i = 0; i < 50; i++) {
      const { grads } = tf.variableGrads(f, [student]);
      tf.tidy(() => student.assign(tf.sub(student, tf.mul(grads[student.name], 20))));
      tf.dispose(Object.values(grads));
    }
    const last = value();
    assert.ok(last < first * 0.5, `loss ${first} → ${last}`);
    tf.dispose([teacher, student]);
  });
});
