import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as jpeg from 'jpeg-js';
import { badnetsTrigger } from '../../src/attacks/backdoor/badnets';
import { blendTrigger, noisePattern } from '../../src/attacks/backdoor/blend';
import { sigTrigger } from '../../src/attacks/backdoor/sig';
import type { Trigger } from '../../src/attacks/backdoor/trigger';
import { wanetTrigger } from '../../src/attacks/backdoor/wanet';
import { useBackend } from '../helpers/backend';
import { makeBatch } from '../../src/data/augment';
import { loadMnist } from '../../src/data/mnist';
import { encodePng } from '../../src/image/png';
import { Rng } from '../../src/rng';

const mnist = loadMnist({ limitPerClass: 5 });

/** The first n MNIST training digits as a float batch. */
function digits(n = 20): tf.Tensor4D {
  return tf.tensor4d(
    makeBatch(
      mnist.train,
      Int32Array.from({ length: n }, (_, i) => i),
    ),
    [n, 28, 28, 1],
  );
}

/** Runs the trigger and returns input and output values, checking that nothing else stays allocated. */
function run(trigger: Trigger, x: tf.Tensor4D): { before: Float32Array; after: Float32Array } {
  const tensors = tf.memory().numTensors;
  const y = trigger.apply(x);
  assert.deepEqual(y.shape, x.shape);
  const after = y.dataSync() as Float32Array;
  y.dispose();
  assert.equal(tf.memory().numTensors, tensors, `${trigger.name} leaked tensors`);
  return { before: x.dataSync() as Float32Array, after };
}

function assertInRange(values: Float32Array, what: string): void {
  for (let i = 0; i < values.length; i++) assert.ok(values[i] >= 0 && values[i] <= 1, `${what}: value ${values[i]} at ${i} outside [0, 1]`);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('backdoor triggers', function () {
  let tmp: string;
  useBackend('wasm');
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-triggers-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe('BadNets', () => {
    it('writes the 1-0-1 checkerboard into the bottom-right 3×3 of every channel and nothing else (hand check, 5×6×3)', () => {
      const [h, w, c] = [5, 6, 3];
      const x = tf.tensor4d(new Rng('badnets-hand').uniformArray(2 * h * w * c), [2, h, w, c]);
      const { before, after } = run(badnetsTrigger([h, w, c], { patchSize: 3 }), x);
      const expected = [
        [1, 0, 1],
        [0, 1, 0],
        [1, 0, 1],
      ];
      for (let b = 0; b < 2; b++) {
        for (let i = 0; i < h; i++) {
          for (let j = 0; j < w; j++) {
            for (let k = 0; k < c; k++) {
              const o = ((b * h + i) * w + j) * c + k;
              if (i >= h - 3 && j >= w - 3) assert.equal(after[o], expected[i - (h - 3)][j - (w - 3)], `patch pixel (${i}, ${j}, ${k})`);
              else assert.equal(after[o], before[o], `pixel (${i}, ${j}, ${k}) outside the patch changed`);
            }
          }
        }
      }
      x.dispose();
    });

    it('changes MNIST digits only inside the patch', () => {
      const x = digits();
      const { before, after } = run(badnetsTrigger([28, 28, 1], { patchSize: 3 }), x);
      let changed = 0;
      for (let o = 0; o < before.length; o++) {
        if (before[o] === after[o]) continue;
        const p = o % 784;
        assert.ok(Math.floor(p / 28) >= 25 && p % 28 >= 25, `pixel ${p} outside the patch changed`);
        changed++;
      }
      // MNIST's corners are black: the five 1s of the patch are the changes.
      assert.equal(changed, 20 * 5);
      x.dispose();
    });

    it('rejects a patch larger than the image and a batch of another size', () => {
      assert.throws(() => badnetsTrigger([2, 2, 1], { patchSize: 3 }), /badnets\.patchSize: expected an integer in \[1, 2\], got 3/);
      const t = badnetsTrigger([28, 28, 1], { patchSize: 3 });
      const x = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
      assert.throws(() => t.apply(x), /badnets trigger: built for 28×28×1 images, got a batch of 32×32×3/);
      x.dispose();
    });
  });

  describe('Blend', () => {
    it('α = 0 is the identity and α = 1 gives the seeded noise pattern', () => {
      const x = digits();
      const id = run(blendTrigger([28, 28, 1], { alpha: 0, pattern: 'noise' }, new Rng(3)), x);
      assert.deepEqual(id.after, id.before);
      const full = run(blendTrigger([28, 28, 1], { alpha: 1, pattern: 'noise' }, new Rng(3)), x);
      const pattern = noisePattern([28, 28, 1], new Rng(3));
      for (let b = 0; b < 20; b++) assert.ok(maxAbsDiff(full.after.subarray(b * 784, (b + 1) * 784), pattern) < 1e-6);
      x.dispose();
    });

    it('is (1 − α)x + α·pattern, fixed by the seed, in range', () => {
      const x = digits();
      const a = run(blendTrigger([28, 28, 1], { alpha: 0.2, pattern: 'noise' }, new Rng(3)), x);
      const again = run(blendTrigger([28, 28, 1], { alpha: 0.2, pattern: 'noise' }, new Rng(3)), x);
      const other = run(blendTrigger([28, 28, 1], { alpha: 0.2, pattern: 'noise' }, new Rng(4)), x);
      assert.deepEqual(again.after, a.after);
      assert.ok(maxAbsDiff(other.after, a.after) > 0.1, 'another seed gives the same pattern');
      const p = noisePattern([28, 28, 1], new Rng(3));
      for (let o = 0; o < a.before.length; o++) assert.ok(Math.abs(a.after[o] - (0.8 * a.before[o] + 0.2 * p[o % 784])) < 1e-6);
      assertInRange(a.after, 'blend');
      x.dispose();
    });

    it('uses a PNG pattern as it is when it already has the input size', () => {
      const [h, w] = [28, 28];
      const data = Uint8Array.from(new Rng('png-pattern').uniformArray(h * w * 3), (v) => Math.floor(v * 256));
      const file = path.join(tmp, 'pattern.png');
      fs.writeFileSync(file, encodePng({ width: w, height: h, channels: 3, data }));
      const x = tf.zeros([2, h, w, 3]) as tf.Tensor4D;
      const { after } = run(blendTrigger([h, w, 3], { alpha: 1, pattern: file }, new Rng(0)), x);
      for (let o = 0; o < after.length; o++) assert.ok(Math.abs(after[o] - data[o % data.length] / 255) < 1e-6, `value ${o}`);
      x.dispose();
    });

    it('resizes patterns and converts channels: RGB PNG → grey input (channel mean), grey PNG → RGB, JPEG → RGB', () => {
      const png = path.join(tmp, 'flat.png');
      const rgb = new Uint8Array(7 * 5 * 3);
      for (let p = 0; p < 35; p++) rgb.set([30, 60, 90], 3 * p);
      fs.writeFileSync(png, encodePng({ width: 7, height: 5, channels: 3, data: rgb }));
      const grey = tf.zeros([1, 28, 28, 1]) as tf.Tensor4D;
      const g = run(blendTrigger([28, 28, 1], { alpha: 1, pattern: png }, new Rng(0)), grey);
      for (const v of g.after) assert.ok(Math.abs(v - 60 / 255) < 1e-6);
      grey.dispose();

      const greyPng = path.join(tmp, 'grey.png');
      fs.writeFileSync(greyPng, encodePng({ width: 9, height: 9, channels: 1, data: new Uint8Array(81).fill(77) }));
      const rgbInput = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
      const r = run(blendTrigger([32, 32, 3], { alpha: 1, pattern: greyPng }, new Rng(0)), rgbInput);
      for (const v of r.after) assert.ok(Math.abs(v - 77 / 255) < 1e-6);
      rgbInput.dispose();

      const jpg = path.join(tmp, 'flat.jpg');
      const rgba = new Uint8Array(16 * 16 * 4);
      for (let p = 0; p < 256; p++) rgba.set([200, 100, 50, 255], 4 * p);
      fs.writeFileSync(jpg, jpeg.encode({ width: 16, height: 16, data: rgba }, 95).data);
      const colour = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
      const j = run(blendTrigger([32, 32, 3], { alpha: 1, pattern: jpg }, new Rng(0)), colour);
      for (let o = 0; o < j.after.length; o++) assert.ok(Math.abs(j.after[o] * 255 - [200, 100, 50][o % 3]) <= 4, `JPEG value ${j.after[o] * 255}`);
      colour.dispose();
    });

    it('names the file when a pattern image is missing or unreadable', () => {
      const missing = path.join(tmp, 'no-such-pattern.png');
      assert.throws(
        () => blendTrigger([28, 28, 1], { alpha: 0.2, pattern: missing }, new Rng(0)),
        (e: Error) => {
          assert.match(e.message, /^blend\.pattern: cannot read the pattern image '/);
          assert.ok(e.message.includes(missing), e.message);
          return true;
        },
      );
      const garbage = path.join(tmp, 'garbage.png');
      fs.writeFileSync(garbage, 'not an image at all');
      assert.throws(
        () => blendTrigger([28, 28, 1], { alpha: 0.2, pattern: garbage }, new Rng(0)),
        (e: Error) => {
          assert.ok(e.message.includes(garbage) && /PNG or JPEG/.test(e.message), e.message);
          return true;
        },
      );
      assert.throws(() => blendTrigger([28, 28, 1], { alpha: 1.5, pattern: 'noise' }, new Rng(0)), /blend\.alpha: expected a number in \[0, 1\], got 1\.5/);
    });
  });

  describe('SIG', () => {
    it('adds Δ·sin(2π j f / m) along the columns, the same in every row and channel (hand check)', () => {
      const [h, w, c] = [4, 12, 3];
      const x = tf.fill([1, h, w, c], 0.5) as tf.Tensor4D;
      const { after } = run(sigTrigger([h, w, c], { delta: 20 / 255, frequency: 3 }), x);
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          for (let k = 0; k < c; k++) {
            const expected = 0.5 + (20 / 255) * Math.sin((2 * Math.PI * j * 3) / w);
            assert.ok(Math.abs(after[(i * w + j) * c + k] - expected) < 1e-6, `(${i}, ${j}, ${k})`);
          }
        }
      }
      x.dispose();
    });

    it('clips to [0, 1] on real digits and is deterministic', () => {
      const x = digits();
      const a = run(sigTrigger([28, 28, 1], { delta: 40 / 255, frequency: 6 }), x);
      const b = run(sigTrigger([28, 28, 1], { delta: 40 / 255, frequency: 6 }), x);
      assert.deepEqual(a.after, b.after);
      assertInRange(a.after, 'sig');
      assert.ok(maxAbsDiff(a.after, a.before) > 0.1);
      x.dispose();
    });
  });

  describe('WaNet', () => {
    it('with s = 0 returns the input (within 1e-5)', () => {
      const x = digits();
      const { before, after } = run(wanetTrigger([28, 28, 1], { k: 4, s: 0 }, new Rng(1)), x);
      assert.ok(maxAbsDiff(after, before) < 1e-5, `max difference ${maxAbsDiff(after, before)}`);
      x.dispose();
    });

    it('with s = 0.5 warps the digits, stays in range, and is fixed by the seed', () => {
      const x = digits();
      const a = run(wanetTrigger([28, 28, 1], { k: 4, s: 0.5 }, new Rng(1)), x);
      const again = run(wanetTrigger([28, 28, 1], { k: 4, s: 0.5 }, new Rng(1)), x);
      const other = run(wanetTrigger([28, 28, 1], { k: 4, s: 0.5 }, new Rng(2)), x);
      assert.deepEqual(again.after, a.after);
      assert.ok(maxAbsDiff(other.after, a.after) > 0.05, 'another seed gives the same warp');
      assert.ok(maxAbsDiff(a.after, a.before) > 0.1, `s = 0.5 changed at most ${maxAbsDiff(a.after, a.before)}`);
      assertInRange(a.after, 'wanet');
      x.dispose();
    });

    it('has a grid in [−1, 1] whose field has mean |displacement| s/H (k = H: no upsampling)', () => {
      const [h, s] = [8, 0.5];
      const t = wanetTrigger([h, h, 1], { k: h, s }, new Rng(5));
      let sum = 0;
      let unclamped = 0;
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < h; j++) {
          for (const [axis, id] of [
            [0, -1 + (2 * j) / (h - 1)],
            [1, -1 + (2 * i) / (h - 1)],
          ] as const) {
            const g = t.grid[2 * (i * h + j) + axis];
            assert.ok(g >= -1 && g <= 1);
            if (Math.abs(g) < 1) {
              sum += Math.abs(g - id);
              unclamped++;
            }
          }
        }
      }
      // Clamping at the border only shortens displacements, so the unclamped mean is close to s/H.
      assert.ok(unclamped > h * h, `${unclamped} unclamped coordinates`);
      assert.ok(Math.abs(sum / unclamped - s / h) < 0.25 * (s / h), `mean displacement ${sum / unclamped}, expected about ${s / h}`);
    });

    it('samples bilinearly with align_corners (hand check: a constant shift of a linear ramp)', () => {
      // k = 1 makes the field constant, a pure shift; bilinear sampling reproduces a linear ramp exactly.
      const [h, w] = [6, 6];
      const ramp = Float32Array.from({ length: h * w }, (_, p) => (Math.floor(p / w) * w + (p % w)) / (h * w - 1));
      const t = wanetTrigger([h, w, 1], { k: 1, s: 2 }, new Rng(7));
      const x = tf.tensor4d(ramp, [1, h, w, 1]);
      const { after } = run(t, x);
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const p = i * w + j;
          const sx = ((t.grid[2 * p] + 1) / 2) * (w - 1);
          const sy = ((t.grid[2 * p + 1] + 1) / 2) * (h - 1);
          const expected = (sy * w + sx) / (h * w - 1);
          assert.ok(Math.abs(after[p] - expected) < 1e-5, `(${i}, ${j}): ${after[p]} vs ${expected}`);
        }
      }
      // The displacement is the same at every pixel the clamp leaves alone.
      const dx = t.grid[2 * (2 * w + 2)] - (-1 + 4 / (w - 1));
      assert.ok(Math.abs(dx) > 0.01 && Math.abs(t.grid[2 * (3 * w + 3)] - (-1 + 6 / (w - 1)) - dx) < 1e-12);
      x.dispose();
    });

    it('noise mode: per-image perturbation, fixed by its rng, in range', () => {
      const x = digits(4);
      const t = wanetTrigger([28, 28, 1], { k: 4, s: 0.5 }, new Rng(1));
      const tensors = tf.memory().numTensors;
      const noisy = [1, 1, 2].map((seed) => {
        const y = t.applyNoisy(x, new Rng(seed));
        const v = y.dataSync() as Float32Array;
        y.dispose();
        return v;
      });
      assert.equal(tf.memory().numTensors, tensors, 'applyNoisy leaked tensors');
      assert.deepEqual(noisy[1], noisy[0]);
      assert.ok(maxAbsDiff(noisy[2], noisy[0]) > 0.01);
      const plain = run(t, x).after;
      assert.ok(maxAbsDiff(noisy[0], plain) > 0.01, 'noise mode equals the plain warp');
      assertInRange(noisy[0], 'wanet noise mode');
      x.dispose();
    });

    it('rejects bad k and s', () => {
      assert.throws(() => wanetTrigger([28, 28, 1], { k: 0, s: 0.5 }, new Rng(0)), /wanet\.k: expected an integer in \[1, 28\], got 0/);
      assert.throws(() => wanetTrigger([28, 28, 1], { k: 4, s: -1 }, new Rng(0)), /wanet\.s: expected a number in \[0, ∞\), got -1/);
    });
  });
});
