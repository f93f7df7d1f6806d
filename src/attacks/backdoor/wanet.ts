import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../../rng';
import type { AttackDefinition } from './attack';
import { checkBatch, checkNumber, type InputShape, numberOption, validateInputShape } from './checks';
import { type Trigger, triggerRng } from './trigger';

export interface WanetOptions {
  /** side of the control grid of random displacements */
  k: number;
  /** warping strength */
  s: number;
}

/** The WaNet trigger, plus the noise-mode warp whose images keep their true labels. */
export interface WanetTrigger extends Trigger {
  /**
   * Warps each image with the trigger's grid plus its own uniform perturbation in ±1/H
   * (normalised units), drawn from `rng`: WaNet's "noise mode" (cross) images.
   */
  applyNoisy(x: tf.Tensor4D, rng: Rng): tf.Tensor4D;
  /** The sampling grid, [H, W, 2] row-major: (x, y) per output pixel in [−1, 1], −1 = first pixel centre. */
  readonly grid: Float64Array;
}

/**
 * WaNet (Nguyen & Tran 2021). The field: k×k×2 uniform(−1, 1) displacements divided by their mean
 * absolute value, upsampled to H×W×2; the grid: identity grid + s·field/H, clamped to [−1, 1];
 * images are resampled from it as torch's grid_sample(align_corners=True, bilinear) does.
 *
 * Where this differs from the reference code: the k×k field is upsampled bilinearly (align
 * corners), not bicubically, so the field is a little less smooth between control points and
 * never overshoots them. Displacements are divided by H for both axes, as in the reference (all
 * datasets here have square images).
 */
export function wanetTrigger(inputShape: readonly number[], opts: WanetOptions, rng: Rng): WanetTrigger {
  const shape = validateInputShape(inputShape, 'wanet');
  const [h, w] = shape;
  if (h < 2 || w < 2) throw new Error(`wanet: images must be at least 2×2 to warp, got ${h}×${w}`);
  checkNumber('wanet.k', opts.k, 1, Math.min(h, w), { integer: true });
  checkNumber('wanet.s', opts.s, 0, Infinity);
  const grid = warpingGrid(shape, opts, rng);
  const taps = bilinearTaps(grid, h, w);
  return {
    name: 'wanet',
    grid,
    apply(x) {
      checkBatch('wanet', shape, x);
      return sample(x, taps, false);
    },
    applyNoisy(x, noiseRng) {
      checkBatch('wanet', shape, x);
      const n = x.shape[0];
      const noisy = new Float64Array(n * grid.length);
      for (let b = 0; b < n; b++) {
        for (let i = 0; i < grid.length; i++) noisy[b * grid.length + i] = clamp(grid[i] + noiseRng.uniform(-1, 1) / h);
      }
      return sample(x, bilinearTaps(noisy, h, w), true);
    },
    // The grid and its sampling taps are JS arrays, uploaded per call: nothing to free.
    dispose() {},
  };
}

function clamp(v: number): number {
  return Math.min(1, Math.max(-1, v));
}

/** identity + s·field/H, clamped; the field is drawn from rng's 'wanet-field' stream. */
export function warpingGrid([h, w]: InputShape, opts: WanetOptions, rng: Rng): Float64Array {
  const { k, s } = opts;
  const ins = Float64Array.from(rng.fork('wanet-field').uniformArray(k * k * 2, -1, 1));
  let meanAbs = 0;
  for (const v of ins) meanAbs += Math.abs(v) / ins.length;
  for (let i = 0; i < ins.length; i++) ins[i] /= meanAbs;
  const field = upsampleAlignCorners(ins, k, h, w);
  const grid = new Float64Array(h * w * 2);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const p = 2 * (i * w + j);
      grid[p] = clamp(-1 + (2 * j) / (w - 1) + (s * field[p]) / h);
      grid[p + 1] = clamp(-1 + (2 * i) / (h - 1) + (s * field[p + 1]) / h);
    }
  }
  return grid;
}

/** Bilinear resize of a k×k×2 array to h×w×2 with corners aligned (output corner = input corner). */
function upsampleAlignCorners(src: Float64Array, k: number, h: number, w: number): Float64Array {
  const out = new Float64Array(h * w * 2);
  const axis = (i: number, n: number) => {
    const f = n > 1 ? (i * (k - 1)) / (n - 1) : 0;
    const lo = Math.min(Math.floor(f), k - 1);
    return { lo, hi: Math.min(lo + 1, k - 1), t: f - lo };
  };
  for (let i = 0; i < h; i++) {
    const y = axis(i, h);
    for (let j = 0; j < w; j++) {
      const x = axis(j, w);
      for (let c = 0; c < 2; c++) {
        const at = (r: number, q: number) => src[(r * k + q) * 2 + c];
        const top = at(y.lo, x.lo) * (1 - x.t) + at(y.lo, x.hi) * x.t;
        const bottom = at(y.hi, x.lo) * (1 - x.t) + at(y.hi, x.hi) * x.t;
        out[(i * w + j) * 2 + c] = top * (1 - y.t) + bottom * y.t;
      }
    }
  }
  return out;
}

/** For each output pixel: the four source pixels around its sampling point and their weights. */
interface Taps {
  index: [Int32Array, Int32Array, Int32Array, Int32Array];
  weight: [Float32Array, Float32Array, Float32Array, Float32Array];
}

/**
 * grid_sample's bilinear taps with align_corners=True: normalised −1 is the centre of the first
 * pixel, +1 of the last. `grid` holds one or more images' grids back to back; indices are into
 * the flattened batch, so image b's taps point into image b. A grid inside [−1, 1] never samples
 * outside the image, so the zero padding of grid_sample never contributes.
 */
function bilinearTaps(grid: Float64Array, h: number, w: number): Taps {
  const n = grid.length / 2;
  const index = [0, 1, 2, 3].map(() => new Int32Array(n)) as Taps['index'];
  const weight = [0, 1, 2, 3].map(() => new Float32Array(n)) as Taps['weight'];
  for (let p = 0; p < n; p++) {
    const base = p - (p % (h * w));
    const px = ((grid[2 * p] + 1) / 2) * (w - 1);
    const py = ((grid[2 * p + 1] + 1) / 2) * (h - 1);
    const x0 = Math.min(Math.max(Math.floor(px), 0), w - 1);
    const y0 = Math.min(Math.max(Math.floor(py), 0), h - 1);
    const x1 = Math.min(x0 + 1, w - 1);
    const y1 = Math.min(y0 + 1, h - 1);
    const tx = px - x0;
    const ty = py - y0;
    index[0][p] = base + y0 * w + x0;
    index[1][p] = base + y0 * w + x1;
    index[2][p] = base + y1 * w + x0;
    index[3][p] = base + y1 * w + x1;
    weight[0][p] = (1 - ty) * (1 - tx);
    weight[1][p] = (1 - ty) * tx;
    weight[2][p] = ty * (1 - tx);
    weight[3][p] = ty * tx;
  }
  return { index, weight };
}

/**
 * Resamples a batch: with one shared grid the taps index pixels within an image; with per-image
 * grids they index the whole flattened batch.
 */
function sample(x: tf.Tensor4D, taps: Taps, perImage: boolean): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  return tf.tidy(() => {
    const flat = perImage ? tf.reshape(x, [n * h * w, c]) : tf.reshape(x, [n, h * w, c]);
    const weightShape = perImage ? [n * h * w, 1] : [1, h * w, 1];
    let out: tf.Tensor | null = null;
    for (let t = 0; t < 4; t++) {
      const picked = tf.gather(flat, tf.tensor1d(taps.index[t], 'int32'), perImage ? 0 : 1);
      const term = tf.mul(picked, tf.tensor(taps.weight[t], weightShape));
      out = out ? tf.add(out, term) : term;
    }
    // The weights sum to 1 up to float rounding; the clip keeps the result inside [0, 1] exactly.
    return tf.clipByValue(tf.reshape(out!, [n, h, w, c]), 0, 1) as tf.Tensor4D;
  });
}

/** WaNet in the attack catalogue (registered as 'wanet' by all.ts). */
export const wanetAttack: AttackDefinition = {
  defaults: { k: 4, s: 0.5, crossRatio: 2 },
  provenance: {
    k: 'WaNet paper, reference code and BackdoorBench',
    s: 'WaNet paper, reference code and BackdoorBench',
    crossRatio: 'WaNet paper and BackdoorBench: noise-mode images = 2 × poisoned images',
  },
  build: ({ inputShape, seed, options }) => {
    const crossRatio = numberOption(options, 'crossRatio');
    if (!(Number.isFinite(crossRatio) && crossRatio >= 0)) throw new Error(`wanet.crossRatio: expected a number ≥ 0, got ${crossRatio}`);
    const trigger = wanetTrigger(inputShape, { k: numberOption(options, 'k'), s: numberOption(options, 's') }, triggerRng(seed));
    return {
      trigger,
      cleanLabel: false,
      crossRatio,
      applyCross: crossRatio > 0 ? (x, rng) => trigger.applyNoisy(x, rng) : undefined,
    };
  },
};
