import * as tf from '@tensorflow/tfjs-core';
import { canonicalJson, sha256 } from '../../../cache';
import { type AugmentConfig, makeBatch } from '../../../data/augment';
import type { Dataset } from '../../../data/dataset';
import type { Model } from '../../../models/model';
import { consoleSink, Progress, type ProgressSink } from '../../../progress';
import { Rng, type Seed } from '../../../rng';
import { RunCheckpoint } from '../../../train/checkpoint';
import { createOptimizer, type Optimizer } from '../../../train/optimizer';
import { learningRate } from '../../../train/schedule';
import { type LabelRule, targetLabel, validateLabelRule } from '../trigger';
import { type DynamicAttackConfig, validateConfig } from './config';
import { type DynamicEvaluation, evaluateDynamic } from './evaluate';
import { DynamicGenerator, validateGeneratorConfig } from './generator';
import { type DynamicTrigger, dynamicTrigger, EPSILON, paste, threshold } from './trigger';

/**
 * The training of the input-aware dynamic attack (the config's comment says what it is): stage 1
 * trains the mask generator, stage 2 the classifier with the pattern generator, on pairs of
 * independently shuffled batches.
 */

/** Per-image RMS distance; the tiny offset keeps sqrt's gradient finite for identical maps. */
function rms(a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor1D {
  return tf.sqrt(tf.add<tf.Tensor1D>(tf.mean(tf.squaredDifference(a, b), [1, 2, 3]), 1e-12));
}

/** mean_i ‖x1_i − x2_i‖ / (‖g1_i − g2_i‖ + ε): small when different images get different outputs. */
function diversityLoss(x1: tf.Tensor4D, x2: tf.Tensor4D, g1: tf.Tensor4D, g2: tf.Tensor4D): tf.Scalar {
  return tf.mean(tf.div(rms(x1, x2), tf.add(rms(g1, g2), EPSILON)));
}

export type DynamicStage = 'mask' | 'joint';

/** Everything a run trains, with its optimisers. */
interface Parts {
  classifier: Model;
  pattern: DynamicGenerator;
  mask: DynamicGenerator;
  optimizers: { mask: Optimizer; classifier: Optimizer; generator: Optimizer };
}

/** What the checkpoint records beside the networks and optimisers. */
interface DynamicProgress {
  /** the stage of the last finished epoch; 'joint' means every mask epoch is done */
  stage: DynamicStage;
  /** finished epochs of that stage */
  epochsDone: number;
  history: DynamicAttackResult['history'];
}

export interface MaskEpochRecord {
  epoch: number;
  /** λ_norm·density penalty + λ_div·diversity, mean over batches */
  loss: number;
  densityPenalty: number;
  diversity: number;
  /** mean thresholded mask value on the training batches */
  density: number;
  lr: number;
  seconds: number;
}

export interface JointEpochRecord {
  epoch: number;
  /** cross-entropy over whole batches, mean over batches */
  loss: number;
  diversity: number;
  /** training-batch accuracies of the clean, own-trigger (vs target) and cross-trigger (vs true label) parts */
  cleanAcc: number;
  backdoorAcc: number;
  /** null when crossRate leaves no cross-triggered image per batch */
  crossAcc: number | null;
  /** on `test`, when given */
  test: DynamicEvaluation | null;
  lr: number;
  seconds: number;
}

export interface DynamicAttackOptions {
  /** trained in place, jointly with the pattern generator */
  classifier: Model;
  train: Dataset;
  /** evaluated after every joint epoch when given */
  test?: Dataset;
  rule: LabelRule;
  config: DynamicAttackConfig;
  seed: Seed;
  progress?: ProgressSink;
  /**
   * Folder for a checkpoint written after every finished epoch of either stage; a run started
   * again with the same folder and settings continues from it with the numbers an uninterrupted
   * run would have drawn.
   */
  checkpointDir?: string;
  /** Checked after every finished epoch while work remains: returning true stops the run there, as an interruption would. */
  shouldStop?: (stage: DynamicStage, finishedEpochs: number) => boolean;
}

export interface DynamicAttackResult {
  trigger: DynamicTrigger;
  history: { mask: MaskEpochRecord[]; joint: JointEpochRecord[] };
  /** false when shouldStop ended the run early */
  complete: boolean;
  /** epochs of each stage restored from the checkpoint, 0 and 0 when the run started afresh */
  resumedFrom: { mask: number; joint: number };
}

/** Two independent shuffles of the training set per epoch, like the reference's two data loaders. */
class BatchPairs {
  readonly batches: number;
  private readonly order1: Int32Array;
  private readonly order2: Int32Array;
  private readonly aug1: Rng;
  private readonly aug2: Rng;

  constructor(
    private readonly data: Dataset,
    private readonly batchSize: number,
    private readonly augment: AugmentConfig,
    rng: Rng,
  ) {
    const n = data.shape[0];
    // Whole batches only (the shuffle changes which images are left out): every batch then
    // splits into the same numbers of triggered, cross-triggered and clean images.
    this.batches = Math.floor(n / batchSize);
    this.order1 = rng.fork('shuffle-1').permutation(n);
    this.order2 = rng.fork('shuffle-2').permutation(n);
    this.aug1 = rng.fork('augment-1');
    this.aug2 = rng.fork('augment-2');
  }

  get(b: number): { x1: tf.Tensor4D; y1: Int32Array; x2: tf.Tensor4D } {
    const [, h, w, c] = this.data.shape;
    const shape: [number, number, number, number] = [this.batchSize, h, w, c];
    const idx1 = this.order1.subarray(b * this.batchSize, (b + 1) * this.batchSize);
    const idx2 = this.order2.subarray(b * this.batchSize, (b + 1) * this.batchSize);
    return {
      x1: tf.tensor4d(makeBatch(this.data, idx1, this.augment, this.aug1), shape),
      y1: Int32Array.from(idx1, (i) => this.data.labels[i]),
      x2: tf.tensor4d(makeBatch(this.data, idx2, this.augment, this.aug2), shape),
    };
  }
}

/** `count` images of `x` from `start` */
function rows(x: tf.Tensor4D, start: number, count: number): tf.Tensor4D {
  return tf.slice(x, [start, 0, 0, 0], [count, -1, -1, -1]);
}

function gradsByName(params: ReadonlyMap<string, tf.Variable>, grads: tf.NamedTensorMap): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, v] of params) out[name] = grads[v.name];
  return out;
}

function readScalars(...ts: tf.Tensor[]): number[] {
  const values = ts.map((t) => t.dataSync()[0]);
  tf.dispose(ts);
  return values;
}

function checkFinite(where: string, value: number, lr: number): void {
  if (!Number.isFinite(value)) throw new Error(`${where}: loss became ${value} (learning rate ${lr}); lower the learning rate`);
}

function maskEpoch(
  epoch: number,
  mask: DynamicGenerator,
  optimizer: Optimizer,
  data: Dataset,
  cfg: DynamicAttackConfig,
  rng: Rng,
  bar: Progress,
): MaskEpochRecord {
  const vars = [...mask.params.values()];
  const pairs = new BatchPairs(data, cfg.batchSize, cfg.augment, rng.fork(`mask-epoch-${epoch}`));
  const t0 = Date.now();
  const sums = { loss: 0, densityPenalty: 0, diversity: 0, density: 0 };
  let lr = 0;
  for (let b = 0; b < pairs.batches; b++) {
    lr = learningRate(cfg.maskSchedule, cfg.maskOptimizer.lr, epoch + b / pairs.batches, cfg.maskEpochs);
    const { x1, x2 } = pairs.get(b);
    const kept: tf.Scalar[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const m1 = threshold(mask.forward(x1, true));
      const m2 = threshold(mask.forward(x2, true));
      const penalty = tf.mean(tf.relu(tf.sub(m1, cfg.maskDensity))) as tf.Scalar;
      const diversity = diversityLoss(x1, x2, m1, m2);
      kept.push(tf.keep(penalty), tf.keep(diversity), tf.keep(tf.mean(m1) as tf.Scalar));
      return tf.add(tf.mul(penalty, cfg.lambdaNorm), tf.mul(diversity, cfg.lambdaDiv)) as tf.Scalar;
    }, vars);
    optimizer.step(mask.params, gradsByName(mask.params, grads), lr);
    mask.commitState();
    tf.dispose([x1, x2, ...Object.values(grads)]);
    const [loss, penalty, diversity, density] = readScalars(value, ...kept);
    checkFinite(`dynamic mask stage, epoch ${epoch + 1}, batch ${b + 1}`, loss, lr);
    sums.loss += loss;
    sums.densityPenalty += penalty;
    sums.diversity += diversity;
    sums.density += density;
    bar.tick(1, `mask epoch ${epoch + 1}/${cfg.maskEpochs} density ${(sums.density / (b + 1)).toFixed(3)}`);
  }
  const k = pairs.batches;
  return {
    epoch: epoch + 1,
    loss: sums.loss / k,
    densityPenalty: sums.densityPenalty / k,
    diversity: sums.diversity / k,
    density: sums.density / k,
    lr,
    seconds: (Date.now() - t0) / 1000,
  };
}

async function jointEpoch(
  epoch: number,
  parts: Parts,
  trigger: DynamicTrigger,
  opts: DynamicAttackOptions,
  rng: Rng,
  bar: Progress,
): Promise<JointEpochRecord> {
  const { classifier, pattern, mask } = parts;
  const { classifier: classifierOpt, generator: generatorOpt } = parts.optimizers;
  const cfg = opts.config;
  const B = cfg.batchSize;
  const nBd = Math.floor(cfg.poisonRate * B);
  const nCross = Math.floor(cfg.crossRate * B);
  // The diversity term pairs own-trigger patterns with cross-trigger ones (equal counts in the reference).
  const nDiv = Math.min(nBd, nCross);
  const k = classifier.config.numClasses;
  const vars = [...classifier.params.values(), ...pattern.params.values()];
  const pairs = new BatchPairs(opts.train, B, cfg.augment, rng.fork(`joint-epoch-${epoch}`));
  const t0 = Date.now();
  const sums = { loss: 0, diversity: 0, clean: 0, backdoor: 0, cross: 0 };
  let lr = 0;
  for (let b = 0; b < pairs.batches; b++) {
    const at = epoch + b / pairs.batches;
    lr = learningRate(cfg.classifierSchedule, cfg.classifierOptimizer.lr, at, cfg.epochs);
    const lrG = learningRate(cfg.generatorSchedule, cfg.generatorOptimizer.lr, at, cfg.epochs);
    const { x1, y1, x2 } = pairs.get(b);
    const labels = Int32Array.from(y1, (y, i) => (i < nBd ? targetLabel(opts.rule, y) : y));
    const y = tf.tensor1d(labels, 'int32');
    const ownX = rows(x1, 0, nBd);
    const crossX = rows(x1, nBd, nCross);
    const donors = rows(x2, nBd, nCross);
    const cleanX = rows(x1, nBd + nCross, B - nBd - nCross);
    // M is frozen: its masks are inputs here, outside the gradient computation.
    const ownMask = tf.tidy(() => threshold(mask.forward(ownX, false)));
    const crossMask = tf.tidy(() => threshold(mask.forward(donors, false)));
    const kept: tf.Tensor[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const ownPattern = pattern.forward(ownX, true);
      const parts4d = [paste(ownX, ownMask, ownPattern)];
      let diversity: tf.Scalar = tf.scalar(0);
      if (nCross > 0) {
        const donorPattern = pattern.forward(donors, true);
        parts4d.push(paste(crossX, crossMask, donorPattern));
        if (nDiv > 0) {
          const first = (t: tf.Tensor4D) => rows(t, 0, nDiv);
          diversity = diversityLoss(first(ownX), first(donors), first(ownPattern), first(donorPattern));
        }
      }
      parts4d.push(cleanX);
      const logits = classifier.forward(tf.concat(parts4d, 0), { training: true }).logits;
      const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(y, k), logits) as tf.Scalar;
      kept.push(tf.keep(ce), tf.keep(diversity), tf.keep(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32')));
      return tf.add(ce, tf.mul(diversity, cfg.lambdaDiv)) as tf.Scalar;
    }, vars);
    classifierOpt.step(classifier.params, gradsByName(classifier.params, grads), lr);
    generatorOpt.step(pattern.params, gradsByName(pattern.params, grads), lrG);
    classifier.commitState();
    pattern.commitState();
    tf.dispose([x1, x2, y, ownX, crossX, donors, cleanX, ownMask, crossMask, ...Object.values(grads)]);
    const hitsTensor = kept.pop()!;
    const hits = hitsTensor.dataSync() as Float32Array;
    hitsTensor.dispose();
    const [total, ce, diversity] = readScalars(value, ...kept);
    checkFinite(`dynamic joint stage, epoch ${epoch + 1}, batch ${b + 1}`, total, lr);
    sums.loss += ce;
    sums.diversity += diversity;
    const count = (from: number, to: number) => hits.subarray(from, to).reduce((a, v) => a + v, 0);
    sums.backdoor += count(0, nBd);
    sums.cross += count(nBd, nBd + nCross);
    sums.clean += count(nBd + nCross, B);
    bar.tick(1, `joint epoch ${epoch + 1}/${cfg.epochs} ce ${(sums.loss / (b + 1)).toFixed(3)} bd ${(sums.backdoor / ((b + 1) * nBd)).toFixed(2)}`);
  }
  const n = pairs.batches;
  // Training time only, as the trainer counts it: the evaluation is bookkeeping.
  const seconds = (Date.now() - t0) / 1000;
  return {
    epoch: epoch + 1,
    loss: sums.loss / n,
    diversity: sums.diversity / n,
    cleanAcc: sums.clean / (n * (B - nBd - nCross)),
    backdoorAcc: sums.backdoor / (n * nBd),
    crossAcc: nCross > 0 ? sums.cross / (n * nCross) : null,
    test: opts.test ? await evaluateDynamic(classifier, trigger, opts.test, opts.rule, rng.fork('eval').seed) : null,
    lr,
    seconds,
  };
}

/** Everything a checkpoint must match to be resumed; datasets by content, since subsets keep their parent's name and source. */
function runHash(opts: DynamicAttackOptions): string {
  const identity = (ds: Dataset) => ({
    name: ds.name,
    split: ds.split,
    shape: ds.shape,
    source: ds.source,
    images: sha256(ds.images),
    labels: sha256(new Uint8Array(ds.labels.buffer, ds.labels.byteOffset, ds.labels.byteLength)),
  });
  return sha256(
    canonicalJson({
      config: opts.config,
      seed: opts.seed,
      train: identity(opts.train),
      // The joint history holds evaluations on it.
      test: opts.test ? identity(opts.test) : null,
      rule: opts.rule,
      classifier: opts.classifier.config,
    }),
  );
}

/**
 * Trains the mask generator (stage 1), then `classifier` — in place — together with the pattern
 * generator (stage 2), and returns the trigger backed by both generators. Every shuffle,
 * augmentation and initial weight comes from `seed`, epoch by epoch (streams `mask-epoch-e`,
 * `joint-epoch-e`), so a run resumed from `checkpointDir` draws what an uninterrupted one would.
 */
export async function trainDynamicAttack(opts: DynamicAttackOptions): Promise<DynamicAttackResult> {
  const { classifier, train: data, rule, config: cfg } = opts;
  validateLabelRule(rule);
  validateConfig(cfg, data);
  const [, h, w, c] = data.shape;
  const [mh, mw, mc] = classifier.config.inputShape;
  if (h !== mh || w !== mw || c !== mc) {
    throw new Error(`dynamic attack: ${data.name} images are ${h}×${w}×${c} but the classifier takes ${mh}×${mw}×${mc}`);
  }
  if (rule.numClasses !== classifier.config.numClasses) {
    throw new Error(`dynamic attack: the label rule has ${rule.numClasses} classes, the classifier ${classifier.config.numClasses}`);
  }
  const rng = new Rng(opts.seed);
  const base = { inputShape: [h, w, c] as [number, number, number], ...cfg.generator };
  validateGeneratorConfig({ ...base, outChannels: c });
  // Created up front so that a bad optimiser setting fails before any training is done.
  const optimizers = {
    mask: createOptimizer(cfg.maskOptimizer),
    classifier: createOptimizer(cfg.classifierOptimizer),
    generator: createOptimizer(cfg.generatorOptimizer),
  };
  const pattern = new DynamicGenerator({ ...base, outChannels: c }, rng.fork('pattern-init'));
  const mask = new DynamicGenerator({ ...base, outChannels: 1 }, rng.fork('mask-init'));
  const trigger = dynamicTrigger({ pattern, mask });
  const parts: Parts = { classifier, pattern, mask, optimizers };
  try {
    // Every optimiser is saved in both stages, M's too while it is frozen: a fresh one has no slots, and M's are small.
    const state = { classifier, pattern, mask, ...Object.fromEntries(Object.entries(optimizers).map(([role, o]) => [`optimizer/${role}`, o])) };
    const checkpoint = opts.checkpointDir ? new RunCheckpoint<DynamicProgress>(opts.checkpointDir, runHash(opts), state, 'dynamic attack') : null;
    const resumed = await checkpoint?.resume();
    const history: DynamicAttackResult['history'] = resumed?.history ?? { mask: [], joint: [] };
    const maskFrom = !resumed ? 0 : resumed.stage === 'mask' ? resumed.epochsDone : cfg.maskEpochs;
    const jointFrom = resumed?.stage === 'joint' ? resumed.epochsDone : 0;
    const batches = Math.floor(data.shape[0] / cfg.batchSize);
    const remaining = cfg.maskEpochs - maskFrom + cfg.epochs - jointFrom;
    const bar = new Progress('dynamic attack', remaining * batches, opts.progress ?? consoleSink(), 'batch');
    /** Checkpoints a finished epoch; true when the run should stop there. */
    const finishEpoch = async (stage: DynamicStage, epochsDone: number): Promise<boolean> => {
      await checkpoint?.save({ stage, epochsDone, history });
      const epochsLeft = stage === 'mask' ? cfg.maskEpochs - epochsDone + cfg.epochs : cfg.epochs - epochsDone;
      return epochsLeft > 0 && (opts.shouldStop?.(stage, epochsDone) ?? false);
    };
    let stopped = false;
    for (let epoch = maskFrom; epoch < cfg.maskEpochs && !stopped; epoch++) {
      history.mask.push(maskEpoch(epoch, mask, optimizers.mask, data, cfg, rng, bar));
      stopped = await finishEpoch('mask', epoch + 1);
    }
    for (let epoch = jointFrom; epoch < cfg.epochs && !stopped; epoch++) {
      history.joint.push(await jointEpoch(epoch, parts, trigger, opts, rng, bar));
      stopped = await finishEpoch('joint', epoch + 1);
    }
    return { trigger, history, complete: !stopped, resumedFrom: { mask: maskFrom, joint: jointFrom } };
  } catch (e) {
    classifier.discardState();
    trigger.dispose();
    throw e;
  } finally {
    for (const o of Object.values(optimizers)) o.dispose();
  }
}
