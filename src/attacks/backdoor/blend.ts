import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { sha256 } from '../../cache';
import type { RawImage } from '../../image/image';
import { decodeJpeg } from '../../image/jpeg';
import { decodePng } from '../../image/png';
import { resizeBilinear } from '../../image/resize';
import type { Rng } from '../../rng';
import type { AttackDefinition } from './attack';
import { checkBatch, checkNumber, type InputShape, numberOption, validateInputShape } from './checks';
import { type Trigger, triggerRng } from './trigger';

/** The `pattern` value that asks for seeded uniform noise instead of an image file. */
export const NOISE_PATTERN = 'noise';

export interface BlendOptions {
  /** blend ratio α in x' = (1 − α)·x + α·pattern */
  alpha: number;
  /** 'noise' (uniform noise fixed by the seed) or the path of a PNG or JPEG image */
  pattern: string;
}

/**
 * Blend (Chen et al. 2017): x' = (1 − α)·x + α·pattern. The pattern is fixed when the trigger is
 * built: uniform noise in [0, 1] drawn from `rng`, or a user image resized to the input size.
 */
export function blendTrigger(inputShape: readonly number[], opts: BlendOptions, rng: Rng): Trigger {
  const shape = validateInputShape(inputShape, 'blend');
  checkNumber('blend.alpha', opts.alpha, 0, 1);
  const pattern = opts.pattern === NOISE_PATTERN ? noisePattern(shape, rng) : patternFromFile(opts.pattern, shape);
  const alpha = opts.alpha;
  return {
    name: 'blend',
    apply(x) {
      checkBatch('blend', shape, x);
      // The clip only absorbs float rounding: a convex combination of two [0, 1] images is in [0, 1].
      return tf.tidy(() => tf.clipByValue(tf.add(tf.mul(x, 1 - alpha), tf.mul(tf.tensor4d(pattern, [1, ...shape]), alpha)), 0, 1) as tf.Tensor4D);
    },
    // The pattern is a JS array, uploaded per call: nothing to free.
    dispose() {},
  };
}

/** The noise pattern: one uniform draw per pixel and channel, row-major HWC. */
export function noisePattern([h, w, c]: InputShape, rng: Rng): Float32Array {
  return rng.fork('blend-pattern').uniformArray(h * w * c);
}

/**
 * A PNG or JPEG (recognised by its first bytes, not its name) as a pattern in [0, 1]: resized
 * bilinearly to the input size, grey replicated to RGB or RGB averaged to grey as needed.
 */
export function patternFromFile(file: string, [h, w, c]: InputShape): Float32Array {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`blend.pattern: cannot read the pattern image '${file}': ${(e as Error).message}`, { cause: e });
  }
  let img: RawImage;
  try {
    img = decodeImage(bytes, file);
  } catch (e) {
    throw new Error(`blend.pattern: cannot use the pattern image '${file}': ${(e as Error).message}`, { cause: e });
  }
  if (c !== 1 && c !== 3) throw new Error(`blend.pattern: images with ${c} channels are not supported (expected 1 or 3)`);
  const resized = resizeBilinear(img, h, w);
  const out = new Float32Array(h * w * c);
  const src = resized.data;
  const sc = resized.channels;
  for (let p = 0; p < h * w; p++) {
    const grey = sc === 1 ? src[p] : (src[3 * p] + src[3 * p + 1] + src[3 * p + 2]) / 3;
    for (let k = 0; k < c; k++) out[p * c + k] = (sc === c ? src[p * c + k] : grey) / 255;
  }
  return out;
}

function decodeImage(bytes: Uint8Array, file: string): RawImage {
  const isPng = bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  if (isPng) return decodePng(bytes, file);
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8) return decodeJpeg(bytes, file);
  throw new Error('expected a PNG or JPEG file (neither signature found)');
}

/** The blend attack in the attack catalogue (registered as 'blend' by all.ts). */
export const blendAttack: AttackDefinition = {
  defaults: { alpha: 0.2, pattern: NOISE_PATTERN, patternSha256: '' },
  provenance: {
    alpha: 'BackdoorBench (the reference code blends with 0.1)',
    pattern: 'ours: seeded uniform noise (the reference code uses a cartoon image); or a PNG/JPEG path',
    patternSha256: 'filled in from the pattern file, so the cache key changes with its contents',
  },
  resolve(options) {
    const pattern = options.pattern as string;
    if (pattern === NOISE_PATTERN) return { ...options, patternSha256: '' };
    let digest: string;
    try {
      digest = sha256(fs.readFileSync(pattern));
    } catch (e) {
      throw new Error(`blend.pattern: cannot read the pattern image '${pattern}': ${(e as Error).message}`, { cause: e });
    }
    if (options.patternSha256 !== '' && options.patternSha256 !== digest) {
      throw new Error(`blend.pattern: '${pattern}' has sha256 ${digest}, but the config records ${String(options.patternSha256)} (the file changed)`);
    }
    return { ...options, patternSha256: digest };
  },
  build: ({ inputShape, seed, options }) => ({
    trigger: blendTrigger(inputShape, { alpha: numberOption(options, 'alpha'), pattern: options.pattern as string }, triggerRng(seed)),
    cleanLabel: false,
    crossRatio: 0,
  }),
};
