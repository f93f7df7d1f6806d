import { type Dataset, subset } from '../data/dataset';
import type { Rng } from '../rng';

/** The paper gives every defense with clean data 5% of the training images. */
export const DEFAULT_CLEAN_RATIO = 0.05;

export interface CleanSetOptions {
  /** share of the whole training set, in (0, 1]; default 0.05 */
  ratio?: number;
  /** number of images instead of a share */
  size?: number;
  rng: Rng;
}

/**
 * The defender's clean extra set: a seeded draw of round(ratio · N) training positions (or
 * `size`), none of them poisoned and none of WaNet's noise-mode images (which the attack altered),
 * ascending. Every defense with clean data (PBE's clean-data setting and the baselines) uses the same one.
 */
export function selectCleanExtra(n: number, altered: { poisoned: ArrayLike<number>; cross?: ArrayLike<number> }, opts: CleanSetOptions): Int32Array {
  if (opts.ratio !== undefined && opts.size !== undefined) throw new Error('clean extra set: give a ratio or a size, not both');
  const ratio = opts.ratio ?? DEFAULT_CLEAN_RATIO;
  if (!(typeof ratio === 'number' && ratio > 0 && ratio <= 1)) throw new Error(`clean extra set ratio: expected a number in (0, 1], got ${String(ratio)}`);
  const size = opts.size ?? Math.round(ratio * n);
  if (!(Number.isInteger(size) && size >= 1)) {
    throw new Error(`clean extra set size: expected an integer ≥ 1, got ${size}${opts.size === undefined ? ` (ratio ${ratio} of ${n} images)` : ''}`);
  }
  const excluded = new Uint8Array(n);
  for (const list of [altered.poisoned, altered.cross ?? []]) for (let k = 0; k < list.length; k++) excluded[list[k]] = 1;
  const eligible: number[] = [];
  for (let i = 0; i < n; i++) if (!excluded[i]) eligible.push(i);
  if (size > eligible.length) throw new Error(`clean extra set size ${size}: only ${eligible.length} of ${n} training images are unaltered`);
  return opts.rng
    .sample(eligible.length, size)
    .map((j) => eligible[j])
    .sort();
}

/**
 * The clean extra set as a dataset: the images at `indices` of the clean training set. Refuses
 * indices the attack altered, since a "clean" set holding poison would measure nothing.
 */
export function cleanExtraSet(cleanTrain: Dataset, indices: Int32Array, altered: { poisoned: ArrayLike<number>; cross?: ArrayLike<number> }): Dataset {
  const bad = new Set<number>();
  for (const list of [altered.poisoned, altered.cross ?? []]) for (let k = 0; k < list.length; k++) bad.add(list[k]);
  const overlap = Array.from(indices).filter((i) => bad.has(i));
  if (overlap.length > 0) {
    throw new Error(
      `clean extra set: ${overlap.length} of its ${indices.length} indices are poisoned or altered by the attack (e.g. ${overlap.slice(0, 5).join(', ')})`,
    );
  }
  return subset(cleanTrain, indices, `${cleanTrain.name}-clean-extra`);
}
