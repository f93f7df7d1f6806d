import type * as tf from '@tensorflow/tfjs-core';
import type { Options } from '../../registry';

/** [height, width, channels] of the images a trigger is built for. */
export type InputShape = [number, number, number];

export function validateInputShape(shape: readonly number[], what: string): InputShape {
  if (shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${what}: input shape must be three positive integers [height, width, channels], got [${shape.join(', ')}]`);
  }
  return [shape[0], shape[1], shape[2]];
}

/**
 * A trigger's pattern or field is fixed for one image size; a batch of another size would be
 * broadcast silently or fail deep inside tfjs, so it is refused up front with both shapes named.
 */
export function checkBatch(trigger: string, shape: InputShape, x: tf.Tensor4D): void {
  const [, h, w, c] = x.shape;
  if (h !== shape[0] || w !== shape[1] || c !== shape[2]) {
    throw new Error(`${trigger} trigger: built for ${shape.join('×')} images, got a batch of ${h}×${w}×${c}`);
  }
}

/** A number option in a closed or half-open range, checked with the option named in the error. */
export function checkNumber(option: string, v: number, lo: number, hi: number, opts: { loOpen?: boolean; integer?: boolean } = {}): void {
  const inRange = typeof v === 'number' && Number.isFinite(v) && (opts.loOpen ? v > lo : v >= lo) && v <= hi;
  if (!inRange || (opts.integer && !Number.isInteger(v))) {
    const range = `${opts.loOpen ? '(' : '['}${lo}, ${hi === Infinity ? '∞)' : `${hi}]`}`;
    throw new Error(`${option}: expected ${opts.integer ? 'an integer' : 'a number'} in ${range}, got ${String(v)}`);
  }
}

/** A number option of a resolved attack config: the registry has checked its type against the default's. */
export const numberOption = (options: Readonly<Options>, key: string): number => options[key] as number;
