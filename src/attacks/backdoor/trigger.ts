import type * as tf from '@tensorflow/tfjs-core';
import { Rng, type Seed } from '../../rng';

/** Where a poisoned image's label goes. */
export type AttackMode = 'all2one' | 'all2all';

export interface LabelRule {
  mode: AttackMode;
  /** the target label l for all-to-one (ignored for all-to-all) */
  target: number;
  numClasses: number;
}

/** all-to-one: l; all-to-all: y + 1 mod K. */
export function targetLabel(rule: LabelRule, y: number): number {
  return rule.mode === 'all2one' ? rule.target : (y + 1) % rule.numClasses;
}

export function validateLabelRule(rule: LabelRule): void {
  if (rule.mode !== 'all2one' && rule.mode !== 'all2all') {
    throw new Error(`attack mode: expected 'all2one' or 'all2all', got '${rule.mode as string}'`);
  }
  if (!Number.isInteger(rule.numClasses) || rule.numClasses < 2) throw new Error(`attack: numClasses must be an integer ≥ 2, got ${rule.numClasses}`);
  if (!Number.isInteger(rule.target) || rule.target < 0 || rule.target >= rule.numClasses) {
    throw new Error(`attack target label: expected an integer in [0, ${rule.numClasses - 1}], got ${rule.target}`);
  }
}

/**
 * A trigger: a pure function from a batch of images (float32 NHWC in [0, 1]) to triggered images
 * in [0, 1]. Whatever is random about it (a blend pattern, a warping field, a generator's
 * weights) is fixed when it is built from a seed, so applying it twice gives the same images.
 */
export interface Trigger {
  readonly name: string;
  apply(x: tf.Tensor4D): tf.Tensor4D;
  /** Releases tensors the trigger holds (patterns, fields, generator weights). */
  dispose(): void;
}

/**
 * What every attack offers once built, static or trained (the input-aware dynamic one): its
 * trigger, how it labels, and the JSON configuration that identifies it in cache keys. Poisoning
 * a training set also reads how a static attack picks its images and its noise-mode images; an
 * attack without them (the dynamic one) poisons as a dirty-label attack without noise mode.
 */
export interface BackdoorAttack {
  readonly name: string;
  readonly trigger: Trigger;
  readonly rule: LabelRule;
  readonly config: { readonly name: string; readonly rule: LabelRule; readonly inputShape: readonly [number, number, number] };
  /** poisoned images are taken from the target class and keep their labels (SIG); absent: false */
  readonly cleanLabel?: boolean;
  /** a clean-label attack's largest poisoned share of the target class, in (0, 1]; absent: 1 */
  readonly targetShare?: number;
  /** noise-mode images per poisoned image (WaNet's cross ratio); absent: 0 */
  readonly crossRatio?: number;
  /** the noise-mode warp; present exactly when crossRatio > 0 */
  readonly applyCross?: (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;
}

/** The trigger's own stream, so the poisoning draws (made elsewhere) never shift it. */
export function triggerRng(seed: Seed): Rng {
  return new Rng(seed).fork('trigger');
}
