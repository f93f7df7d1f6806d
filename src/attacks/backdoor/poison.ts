import * as tf from '@tensorflow/tfjs-core';
import { configKey } from '../../cache';
import { makeBatch } from '../../data/augment';
import { type Dataset, imageSize, subset } from '../../data/dataset';
import type { Model } from '../../models/model';
import type { Rng } from '../../rng';
import { predictLabels } from '../../train/trainer';
import type { PoisonedSet, TriggeredTestSet } from './attack';
import { toBytes } from './stamping';
import { type BackdoorAttack, type LabelRule, targetLabel } from './trigger';

export interface PoisonOptions {
  /** fraction of the training set to poison, in (0, 1); default 0.1 as in the paper */
  ratio?: number;
  rng: Rng;
  /** images per trigger call; memory only, never the result */
  batchSize?: number;
}

export const DEFAULT_POISON_RATIO = 0.1;

/**
 * Poisons round(ratio·N) training images in place of the originals.
 *
 * Which images: for a dirty-label all-to-one attack, images whose label is not the target (an
 * image already labelled with the target would carry the trigger without teaching anything);
 * all-to-all, any image; clean-label (SIG), target-class images only, as many as asked for but at
 * most the attack's target share of the class (by default all of it, and 10% of a balanced
 * 10-class set is about all of it). Triggered
 * pixels are rounded back to uint8, so the data is what a poisoned image file would hold; labels
 * become targetLabel(y), or stay for clean-label.
 *
 * WaNet's noise-mode images (crossRatio × as many) are drawn from the remaining images, any class,
 * warped with per-image noise and keep their labels. They are not poisoned: a defense should keep
 * them, so they are reported apart. An image that a trigger happened to leave pixel-identical
 * with its label unchanged is in neither list, since nothing about it differs from a clean one.
 */
export function poisonTrainingSet(train: Dataset, attack: BackdoorAttack, opts: PoisonOptions): PoisonedSet {
  const ratio = opts.ratio ?? DEFAULT_POISON_RATIO;
  if (!(typeof ratio === 'number' && ratio > 0 && ratio < 1)) {
    throw new Error(`poison ratio: expected a number in (0, 1), got ${String(ratio)}`);
  }
  checkCompatible(train, attack);
  const n = train.shape[0];
  const { rule } = attack;
  const cleanLabel = attack.cleanLabel ?? false;
  const crossRatio = attack.crossRatio ?? 0;
  const candidates = indicesWhere(train.labels, (y) => (cleanLabel ? y === rule.target : rule.mode === 'all2all' || y !== rule.target));
  const wanted = Math.round(ratio * n);
  const count = cleanLabel ? Math.min(wanted, Math.round((attack.targetShare ?? 1) * candidates.length)) : wanted;
  if (count === 0) {
    throw new Error(`poison ratio ${ratio}: selects no image of ${train.name}/${train.split} (${n} images, ${candidates.length} eligible for ${attack.name})`);
  }
  if (count > candidates.length) {
    throw new Error(`poison ratio ${ratio}: asks for ${count} images but only ${candidates.length} of ${n} are not of the target class ${rule.target}`);
  }
  const chosen = sorted(pick(candidates, count, opts.rng.fork('poison')));

  let cross: Int32Array = new Int32Array(0);
  if (crossRatio > 0) {
    const isChosen = new Uint8Array(n);
    for (const i of chosen) isChosen[i] = 1;
    const rest = indicesWhere(train.labels, (_, i) => !isChosen[i]);
    const crossCount = Math.round(crossRatio * count);
    if (crossCount > rest.length) {
      throw new Error(`${attack.name} cross ratio ${crossRatio}: asks for ${crossCount} noise-mode images but only ${rest.length} images are not poisoned`);
    }
    cross = sorted(pick(rest, crossCount, opts.rng.fork('cross')));
  }

  const images = train.images.slice();
  const labels = train.labels.slice();
  const size = imageSize(train);
  const batchSize = opts.batchSize ?? 256;

  writeTriggered(train, chosen, images, (x) => attack.trigger.apply(x), batchSize);
  if (!cleanLabel) for (const i of chosen) labels[i] = targetLabel(rule, train.labels[i]);
  if (cross.length > 0) {
    const noiseRng = opts.rng.fork('cross-noise');
    writeTriggered(train, cross, images, (x) => attack.applyCross!(x, noiseRng), batchSize);
  }

  const changed = (i: number) => labels[i] !== train.labels[i] || !sameImage(images, train.images, i, size);
  const key = configKey({ attack: attack.config, ratio, rng: String(opts.rng.seed) });
  return {
    data: {
      ...train,
      name: `${train.name}+${attack.name}`,
      images,
      labels,
      source: `${train.source}; poisoned by ${attack.name} (ratio ${ratio}, key ${key})`,
    },
    poisonedIndices: chosen.filter(changed),
    crossIndices: cross.filter(changed),
    stamped: { poison: chosen, cross },
  };
}

/**
 * The test images the ASR is measured on, triggered and labelled with their targets. All-to-one
 * (clean-label SIG included) leaves out images whose true label already is the target: the model
 * predicting it says nothing about the backdoor.
 */
export function triggeredTestSet(test: Dataset, attack: BackdoorAttack, batchSize = 256): TriggeredTestSet {
  checkCompatible(test, attack);
  const { rule } = attack;
  const sourceIndices = indicesWhere(test.labels, (y) => rule.mode === 'all2all' || y !== rule.target);
  const picked = subset(test, sourceIndices, `${test.name}+${attack.name}-triggered`);
  const all = Int32Array.from(sourceIndices.keys());
  writeTriggered(picked, all, picked.images, (x) => attack.trigger.apply(x), batchSize);
  const trueLabels = picked.labels.slice();
  for (let i = 0; i < picked.labels.length; i++) picked.labels[i] = targetLabel(rule, trueLabels[i]);
  const key = configKey({ attack: attack.config });
  return { data: { ...picked, source: `${test.source}; triggered by ${attack.name} (key ${key})` }, sourceIndices, trueLabels };
}

/** Fraction of triggered images predicted as their target label. */
export function attackSuccessRate(predicted: Int32Array, triggered: TriggeredTestSet): number {
  const targets = triggered.data.labels;
  if (predicted.length !== targets.length) {
    throw new Error(`attackSuccessRate: ${predicted.length} predictions for ${targets.length} triggered images`);
  }
  if (targets.length === 0) throw new Error('attackSuccessRate: the triggered test set is empty');
  let hits = 0;
  for (let i = 0; i < targets.length; i++) if (predicted[i] === targets[i]) hits++;
  return hits / targets.length;
}

/**
 * Clean accuracy (ACC) and attack success rate (ASR) of a model, both in [0, 1], and, given an
 * all-to-one rule, the clean accuracy on the target class's own test images (a clean-label attack
 * that poisons the whole class may leave the model no clean image of it to learn from); null
 * otherwise.
 */
export async function evaluateBackdoor(
  model: Model,
  cleanTest: Dataset,
  triggered: TriggeredTestSet,
  rule?: LabelRule,
): Promise<{ acc: number; asr: number; targetAcc: number | null }> {
  const clean = await predictLabels(model, cleanTest);
  let ok = 0;
  let targetOk = 0;
  let targetCount = 0;
  const target = rule?.mode === 'all2one' ? rule.target : null;
  for (let i = 0; i < clean.length; i++) {
    const right = clean[i] === cleanTest.labels[i];
    if (right) ok++;
    if (cleanTest.labels[i] === target) {
      targetCount++;
      if (right) targetOk++;
    }
  }
  return {
    acc: clean.length > 0 ? ok / clean.length : 0,
    asr: attackSuccessRate(await predictLabels(model, triggered.data), triggered),
    targetAcc: target !== null && targetCount > 0 ? targetOk / targetCount : null,
  };
}

function checkCompatible(ds: Dataset, attack: BackdoorAttack): void {
  const [, h, w, c] = ds.shape;
  const [eh, ew, ec] = attack.config.inputShape;
  if (h !== eh || w !== ew || c !== ec) {
    throw new Error(`${attack.name}: built for ${eh}×${ew}×${ec} images, but ${ds.name}/${ds.split} has ${h}×${w}×${c}`);
  }
  if (attack.rule.numClasses !== ds.classNames.length) {
    throw new Error(`${attack.name}: built for ${attack.rule.numClasses} classes, but ${ds.name}/${ds.split} has ${ds.classNames.length}`);
  }
}

/** Every image of `ds` with the trigger stamped, rounded to bytes as poisoned data stores them. */
export function stampedImages(ds: Dataset, trigger: Pick<BackdoorAttack['trigger'], 'apply'>, batchSize = 256): Uint8Array {
  const out = new Uint8Array(ds.images.length);
  writeTriggered(ds, Int32Array.from(ds.labels.keys()), out, (x) => trigger.apply(x), batchSize);
  return out;
}

/** Applies `fn` to the images at `indices` batch by batch and writes the results, rounded to bytes, into `out`. */
function writeTriggered(ds: Dataset, indices: Int32Array, out: Uint8Array, fn: (x: tf.Tensor4D) => tf.Tensor4D, batchSize: number): void {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new Error(`poisoning batchSize: expected a positive integer, got ${batchSize}`);
  const [, h, w, c] = ds.shape;
  const size = h * w * c;
  for (let start = 0; start < indices.length; start += batchSize) {
    const idx = indices.subarray(start, Math.min(indices.length, start + batchSize));
    const x = tf.tensor4d(makeBatch(ds, idx), [idx.length, h, w, c]);
    const y = tf.tidy(() => toBytes(fn(x)));
    const values = y.dataSync();
    tf.dispose([x, y]);
    for (let b = 0; b < idx.length; b++) out.set(values.subarray(b * size, (b + 1) * size), idx[b] * size);
  }
}

function indicesWhere(labels: Int32Array, keep: (y: number, i: number) => boolean): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < labels.length; i++) if (keep(labels[i], i)) out.push(i);
  return Int32Array.from(out);
}

function pick(from: Int32Array, k: number, rng: Rng): Int32Array {
  return rng.sample(from.length, k).map((j) => from[j]);
}

function sorted(a: Int32Array): Int32Array {
  return a.slice().sort();
}

function sameImage(a: Uint8Array, b: Uint8Array, i: number, size: number): boolean {
  for (let k = i * size; k < (i + 1) * size; k++) if (a[k] !== b[k]) return false;
  return true;
}
