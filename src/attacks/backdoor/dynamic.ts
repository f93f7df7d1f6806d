import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { canonicalJson, sha256 } from '../../cache';
import { type AugmentConfig, makeBatch, NO_AUGMENT } from '../../data/augment';
import type { Dataset } from '../../data/dataset';
import { loadTensors, type Metadata, type NamedTensor, saveTensors } from '../../io/checkpoint';
import type { Model } from '../../models/model';
import { consoleSink, Progress, type ProgressSink } from '../../progress';
import { Rng, type Seed } from '../../rng';
import { createOptimizer, type Optimizer, type OptimizerConfig } from '../../train/optimizer';
import { learningRate, type ScheduleConfig } from '../../train/schedule';
import { accuracy } from '../../train/trainer';
import { DynamicGenerator, type GeneratorConfig, validateGeneratorConfig } from './dynamic-generator';
import { type LabelRule, targetLabel, type Trigger, validateLabelRule } from './trigger';

/**
 * The input-aware dynamic backdoor (Nguyen & Tran, NeurIPS 2020): a pattern generator G and a
 * mask generator M give every image its own trigger x' = x + m(x)·(g(x) − x).
 *
 * Stage 1 trains M alone: a diversity loss (different images → different masks) plus
 * λ_norm·mean(relu(m − density)), which keeps masks sparse. Stage 2 freezes M, as the reference
 * does, and trains the classifier f and G together on batches whose first p·B images carry
 * their own trigger and the target label, the next c·B carry the trigger of another image and
 * keep their true label (so a trigger only works on the image it was made for), and the rest
 * stay clean; loss = CE + λ_div · ‖x1 − x2‖ / ‖g(x1) − g(x2)‖.
 */
export interface DynamicAttackConfig {
  /** stage 1: epochs of mask-generator training (reference 25) */
  maskEpochs: number;
  /** stage 2: epochs of joint classifier + pattern-generator training */
  epochs: number;
  batchSize: number;
  /** p: fraction of each batch carrying its own trigger and the target label (reference 0.1) */
  poisonRate: number;
  /** c: fraction of each batch carrying another image's trigger and its true label (reference 0.1) */
  crossRate: number;
  /**
   * weight of the diversity loss, in both stages (reference 1). In stage 2 it pairs own-trigger
   * patterns with cross-trigger ones, so with crossRate 0 it has no pairs and is off.
   */
  lambdaDiv: number;
  /** weight of the mask-density penalty in stage 1 (reference 100) */
  lambdaNorm: number;
  /**
   * the penalty is mean(relu(m − maskDensity)) over pixels, as in the reference code (reference
   * 0.032): every mask value above it costs, so the density settles where the diversity loss
   * balances the penalty, at or below this value, not at it
   */
  maskDensity: number;
  /** generator size; the same for G and M */
  generator: { width: number; depth: number };
  classifierOptimizer: OptimizerConfig;
  classifierSchedule: ScheduleConfig;
  generatorOptimizer: OptimizerConfig;
  generatorSchedule: ScheduleConfig;
  maskOptimizer: OptimizerConfig;
  maskSchedule: ScheduleConfig;
  /** applied to clean images before any trigger, as the reference's data loaders do */
  augment: AugmentConfig;
}

/**
 * The reference's settings (VinAIResearch/input-aware-backdoor-attack-release) for a dataset:
 * 25 mask epochs, then 600 joint epochs with SGD(0.01, momentum 0.9, wd 5e-4) for f and
 * Adam(0.01, β 0.5/0.9) for G and M, step decays ×0.1; generator width 16 and depth 2 for
 * MNIST, 32 and 3 otherwise; random crops (padding 5) everywhere, rotations (±10°) except on
 * MNIST, flips on CIFAR-10 only. Our batch norm keeps PyTorch's default momentum 0.1 where the
 * reference's generator blocks use 0.05.
 */
export function referenceDynamicConfig(dataset: string): DynamicAttackConfig {
  const mnist = dataset === 'mnist';
  const adam: OptimizerConfig = { kind: 'adam', lr: 0.01, beta1: 0.5, beta2: 0.9, weightDecay: 0 };
  return {
    maskEpochs: 25,
    epochs: 600,
    batchSize: 128,
    poisonRate: 0.1,
    crossRate: 0.1,
    lambdaDiv: 1,
    lambdaNorm: 100,
    maskDensity: 0.032,
    generator: mnist ? { width: 16, depth: 2 } : { width: 32, depth: 3 },
    classifierOptimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
    classifierSchedule: { kind: 'multistep', milestones: [100, 200, 300, 400], gamma: 0.1 },
    generatorOptimizer: adam,
    generatorSchedule: { kind: 'multistep', milestones: [200, 300, 400, 500], gamma: 0.1 },
    maskOptimizer: adam,
    maskSchedule: { kind: 'multistep', milestones: [10, 20], gamma: 0.1 },
    augment: { cropPadding: 5, flip: dataset === 'cifar10', rotation: mnist ? 0 : 10 },
  };
}

// The reference's ε for the diversity ratio and the tanh rescaling.
const EPSILON = 1e-7;

/** Sharpens M's output towards {0, 1} around ½: tanh(20m − 10)/(2+ε) + ½, as in the reference. */
function threshold(m: tf.Tensor4D): tf.Tensor4D {
  return tf.add<tf.Tensor4D>(tf.div(tf.tanh(tf.sub(tf.mul(m, 20), 10)), 2 + EPSILON), 0.5);
}

/** x + m·(g − x): a convex combination, so it stays in [0, 1] up to rounding, which the clip removes. */
function paste(x: tf.Tensor4D, mask: tf.Tensor4D, pattern: tf.Tensor4D): tf.Tensor4D {
  return tf.clipByValue(tf.add<tf.Tensor4D>(x, tf.mul(mask, tf.sub(pattern, x))), 0, 1);
}

/** Per-image RMS distance; the tiny offset keeps sqrt's gradient finite for identical maps. */
function rms(a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor1D {
  return tf.sqrt(tf.add<tf.Tensor1D>(tf.mean(tf.squaredDifference(a, b), [1, 2, 3]), 1e-12));
}

/** mean_i ‖x1_i − x2_i‖ / (‖g1_i − g2_i‖ + ε): small when different images get different outputs. */
function diversityLoss(x1: tf.Tensor4D, x2: tf.Tensor4D, g1: tf.Tensor4D, g2: tf.Tensor4D): tf.Scalar {
  return tf.mean(tf.div(rms(x1, x2), tf.add(rms(g1, g2), EPSILON)));
}

export interface DynamicGenerators {
  /** G: pattern in image space, the image's channels */
  pattern: DynamicGenerator;
  /** M: one-channel mask before thresholding */
  mask: DynamicGenerator;
}

/** A trigger whose pattern and mask are computed from each image by the trained generators. */
export interface DynamicTrigger extends Trigger {
  readonly generators: DynamicGenerators;
  /** pattern [N, H, W, C] and thresholded mask [N, H, W, 1] of each image, eval mode */
  components(x: tf.Tensor4D): { pattern: tf.Tensor4D; mask: tf.Tensor4D };
  /** x + m(donor)·(g(donor) − x): each image gets the trigger made for the matching donor image */
  applyFrom(x: tf.Tensor4D, donor: tf.Tensor4D): tf.Tensor4D;
}

/** The trigger backed by `generators`, which it owns: dispose() releases them. Runs them in eval mode. */
export function dynamicTrigger(generators: DynamicGenerators): DynamicTrigger {
  const components = (x: tf.Tensor4D) =>
    tf.tidy(() => ({ pattern: generators.pattern.forward(x, false), mask: threshold(generators.mask.forward(x, false)) }));
  const applyFrom = (x: tf.Tensor4D, donor: tf.Tensor4D) => {
    if (!tf.util.arraysEqual(x.shape, donor.shape)) {
      throw new Error(`dynamic trigger: images [${x.shape}] and donors [${donor.shape}] differ in shape`);
    }
    return tf.tidy(() => {
      const { pattern, mask } = components(donor);
      return paste(x, mask, pattern);
    });
  };
  return {
    name: 'dynamic',
    generators,
    components,
    applyFrom,
    apply: (x) => applyFrom(x, x),
    dispose() {
      generators.pattern.dispose();
      generators.mask.dispose();
    },
  };
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

export interface DynamicEvaluation {
  /** clean test accuracy */
  acc: number;
  /** triggered test images (true label ≠ target, for all-to-one) predicted as their target */
  asr: number;
  /** images carrying another image's trigger, predicted as their true label */
  crossAcc: number;
  /** the same cross-triggered images (true label ≠ target, for all-to-one) predicted as the target */
  crossAsr: number;
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

export type DynamicStage = 'mask' | 'joint';

export interface DynamicAttackResult {
  trigger: DynamicTrigger;
  history: { mask: MaskEpochRecord[]; joint: JointEpochRecord[] };
  /** false when shouldStop ended the run early */
  complete: boolean;
  /** epochs of each stage restored from the checkpoint, 0 and 0 when the run started afresh */
  resumedFrom: { mask: number; joint: number };
}

function validateConfig(cfg: DynamicAttackConfig, data: Dataset): void {
  const intAtLeast = (field: keyof DynamicAttackConfig, min: number) => {
    const v = cfg[field] as number;
    if (!Number.isInteger(v) || v < min) throw new Error(`dynamic.${field}: expected an integer ≥ ${min}, got ${v}`);
  };
  intAtLeast('maskEpochs', 0);
  intAtLeast('epochs', 0);
  intAtLeast('batchSize', 2);
  const rate = (field: 'poisonRate' | 'crossRate') => {
    const v = cfg[field];
    if (!(v >= 0 && v < 1)) throw new Error(`dynamic.${field}: expected a number in [0, 1), got ${v}`);
  };
  rate('poisonRate');
  rate('crossRate');
  if (cfg.poisonRate + cfg.crossRate >= 1) {
    throw new Error(`dynamic.poisonRate + dynamic.crossRate: must be below 1 to leave clean images, got ${cfg.poisonRate} + ${cfg.crossRate}`);
  }
  if (Math.floor(cfg.poisonRate * cfg.batchSize) < 1) {
    throw new Error(
      `dynamic.poisonRate: ${cfg.poisonRate} × batchSize ${cfg.batchSize} leaves no triggered image per batch; raise poisonRate or batchSize`,
    );
  }
  for (const field of ['lambdaDiv', 'lambdaNorm', 'maskDensity'] as const) {
    const v = cfg[field];
    if (!(Number.isFinite(v) && v >= 0)) throw new Error(`dynamic.${field}: expected a finite number ≥ 0, got ${v}`);
  }
  if (data.shape[0] < cfg.batchSize) {
    throw new Error(`dynamic.batchSize: ${cfg.batchSize} exceeds the ${data.shape[0]} training images of ${data.name}/${data.split}`);
  }
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

type OptimizerRole = 'mask' | 'classifier' | 'generator';

interface Parts {
  classifier: Model;
  pattern: DynamicGenerator;
  mask: DynamicGenerator;
  optimizers: Record<OptimizerRole, Optimizer>;
}

function jointEpoch(epoch: number, parts: Parts, trigger: DynamicTrigger, opts: DynamicAttackOptions, rng: Rng, bar: Progress): JointEpochRecord {
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
    test: opts.test ? evaluateDynamic(classifier, trigger, opts.test, opts.rule, rng.fork('eval').seed) : null,
    lr,
    seconds,
  };
}

interface CheckpointMeta {
  configHash: string;
  /** the stage of the last finished epoch; 'joint' means every mask epoch is done */
  stage: DynamicStage;
  /** finished epochs of that stage */
  epochsDone: number;
  history: DynamicAttackResult['history'];
}

// The optimisers with state worth keeping after an epoch of each stage: M is frozen in stage 2.
const STAGE_OPTIMIZERS: Record<DynamicStage, OptimizerRole[]> = { mask: ['mask'], joint: ['classifier', 'generator'] };

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

function prefixed(prefix: string, tensors: NamedTensor[]): NamedTensor[] {
  return tensors.map(({ name, tensor }) => ({ name: prefix + name, tensor }));
}

async function saveCheckpoint(dir: string, parts: Parts, meta: CheckpointMeta): Promise<void> {
  await saveTensors(
    dir,
    [
      ...prefixed('classifier/', parts.classifier.namedWeights()),
      ...prefixed('pattern/', parts.pattern.namedWeights()),
      ...prefixed('mask/', parts.mask.namedWeights()),
      ...STAGE_OPTIMIZERS[meta.stage].flatMap((role) => prefixed(`optimizer/${role}/`, parts.optimizers[role].slots())),
    ],
    meta as unknown as Metadata,
  );
}

/**
 * Loads the checkpoint in `dir` into `parts` when it was written by a run with the same hash;
 * otherwise, or when it cannot be read, says so on stderr and returns null, leaving `parts` as they are.
 */
async function tryResume(dir: string, configHash: string, parts: Parts): Promise<CheckpointMeta | null> {
  let loaded;
  try {
    loaded = await loadTensors(dir);
  } catch (e) {
    process.stderr.write(`dynamic attack: ignoring the checkpoint in ${dir}: ${(e as Error).message}\n`);
    return null;
  }
  const { tensors } = loaded;
  const meta = loaded.metadata as unknown as CheckpointMeta;
  try {
    if (meta.configHash !== configHash) {
      process.stderr.write(`dynamic attack: the checkpoint in ${dir} belongs to another configuration; starting afresh\n`);
      return null;
    }
    const group = (prefix: string) =>
      Object.fromEntries(Object.entries(tensors).filter(([name]) => name.startsWith(prefix)).map(([name, t]) => [name.slice(prefix.length), t]));
    try {
      parts.classifier.loadWeights(group('classifier/'));
      parts.pattern.loadWeights(group('pattern/'));
      parts.mask.loadWeights(group('mask/'));
      for (const role of STAGE_OPTIMIZERS[meta.stage]) parts.optimizers[role].loadSlots(group(`optimizer/${role}/`));
    } catch (e) {
      // Its settings match but its tensors do not (e.g. written by an older version): part may be loaded already, so no fresh start.
      throw new Error(`dynamic attack: cannot resume from the checkpoint in ${dir} (delete it to start afresh): ${(e as Error).message}`);
    }
    return meta;
  } finally {
    // loadWeights copies; loadSlots keeps its tensors' data and disposes them itself, and disposing twice is harmless.
    tf.dispose(Object.values(tensors));
  }
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
    const checkpoint = opts.checkpointDir ? { dir: opts.checkpointDir, configHash: runHash(opts) } : null;
    const resumed = checkpoint && fs.existsSync(checkpoint.dir) ? await tryResume(checkpoint.dir, checkpoint.configHash, parts) : null;
    const history: DynamicAttackResult['history'] = resumed?.history ?? { mask: [], joint: [] };
    const maskFrom = !resumed ? 0 : resumed.stage === 'mask' ? resumed.epochsDone : cfg.maskEpochs;
    const jointFrom = resumed?.stage === 'joint' ? resumed.epochsDone : 0;
    const batches = Math.floor(data.shape[0] / cfg.batchSize);
    const remaining = cfg.maskEpochs - maskFrom + cfg.epochs - jointFrom;
    const bar = new Progress('dynamic attack', remaining * batches, opts.progress ?? consoleSink(), 'batch');
    /** Checkpoints a finished epoch; true when the run should stop there. */
    const finishEpoch = async (stage: DynamicStage, epochsDone: number): Promise<boolean> => {
      if (checkpoint) await saveCheckpoint(checkpoint.dir, parts, { configHash: checkpoint.configHash, stage, epochsDone, history });
      const epochsLeft = stage === 'mask' ? cfg.maskEpochs - epochsDone + cfg.epochs : cfg.epochs - epochsDone;
      return epochsLeft > 0 && (opts.shouldStop?.(stage, epochsDone) ?? false);
    };
    let stopped = false;
    for (let epoch = maskFrom; epoch < cfg.maskEpochs && !stopped; epoch++) {
      history.mask.push(maskEpoch(epoch, mask, optimizers.mask, data, cfg, rng, bar));
      stopped = await finishEpoch('mask', epoch + 1);
    }
    // M is frozen from here on: its optimiser's slots are not needed again.
    optimizers.mask.dispose();
    for (let epoch = jointFrom; epoch < cfg.epochs && !stopped; epoch++) {
      history.joint.push(jointEpoch(epoch, parts, trigger, opts, rng, bar));
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

/**
 * Clean accuracy, attack success rate and the cross-trigger test on `test`. Each image's donor
 * (for the cross trigger) is its successor in a permutation drawn from `seed`, never itself.
 */
export function evaluateDynamic(model: Model, trigger: DynamicTrigger, test: Dataset, rule: LabelRule, seed: Seed, batchSize = 256): DynamicEvaluation {
  const n = test.shape[0];
  const [, h, w, c] = test.shape;
  const order = new Rng(seed).fork('cross-donors').permutation(n);
  const donorOf = new Int32Array(n);
  for (let j = 0; j < n; j++) donorOf[order[j]] = order[(j + 1) % n];
  let attacked = 0;
  let asrHits = 0;
  let crossHits = 0;
  let crossAsrHits = 0;
  for (let start = 0; start < n; start += batchSize) {
    const idx = Int32Array.from({ length: Math.min(batchSize, n - start) }, (_, i) => start + i);
    const shape: [number, number, number, number] = [idx.length, h, w, c];
    const [own, cross] = tf.tidy(() => {
      const x = tf.tensor4d(makeBatch(test, idx, NO_AUGMENT), shape);
      const donors = tf.tensor4d(makeBatch(test, Array.from(idx, (i) => donorOf[i]), NO_AUGMENT), shape);
      return [tf.argMax(model.predict(trigger.apply(x)), 1), tf.argMax(model.predict(trigger.applyFrom(x, donors)), 1)];
    });
    const ownPred = own.dataSync();
    const crossPred = cross.dataSync();
    tf.dispose([own, cross]);
    idx.forEach((i, j) => {
      const y = test.labels[i];
      const t = targetLabel(rule, y);
      if (crossPred[j] === y) crossHits++;
      if (t === y) return;
      attacked++;
      if (ownPred[j] === t) asrHits++;
      if (crossPred[j] === t) crossAsrHits++;
    });
  }
  return {
    acc: accuracy(model, test, batchSize),
    asr: attacked > 0 ? asrHits / attacked : 0,
    crossAcc: n > 0 ? crossHits / n : 0,
    crossAsr: attacked > 0 ? crossAsrHits / attacked : 0,
  };
}

const FORMAT = 'pbe-dynamic-trigger';

/** Saves both generators (weights and batch-norm state) and their configs to a checkpoint folder. */
export async function saveDynamic(dir: string, trigger: DynamicTrigger, metadata: Metadata = {}): Promise<void> {
  const { pattern, mask } = trigger.generators;
  await saveTensors(
    dir,
    [
      ...pattern.namedWeights().map(({ name, tensor }) => ({ name: `pattern/${name}`, tensor })),
      ...mask.namedWeights().map(({ name, tensor }) => ({ name: `mask/${name}`, tensor })),
    ],
    { ...metadata, format: FORMAT, pattern: pattern.config as unknown as {}, mask: mask.config as unknown as {} },
  );
}

/** Rebuilds the trigger saved by saveDynamic. */
export async function loadDynamic(dir: string): Promise<DynamicTrigger> {
  const { tensors, metadata } = await loadTensors(dir);
  try {
    if (metadata.format !== FORMAT) throw new Error(`loadDynamic ${dir}: not a dynamic-trigger checkpoint (format '${String(metadata.format)}')`);
    const split = (prefix: string) =>
      Object.fromEntries(Object.entries(tensors).filter(([name]) => name.startsWith(prefix)).map(([name, t]) => [name.slice(prefix.length), t]));
    // Initial values are overwritten by the loaded weights; the seed only has to be fixed.
    const build = (key: 'pattern' | 'mask') => {
      let g: DynamicGenerator | null = null;
      try {
        g = new DynamicGenerator(metadata[key] as unknown as GeneratorConfig, new Rng(`load:${key}`));
        g.loadWeights(split(`${key}/`));
        return g;
      } catch (e) {
        g?.dispose();
        throw new Error(`loadDynamic ${dir} (${key} generator): ${(e as Error).message}`);
      }
    };
    const pattern = build('pattern');
    try {
      return dynamicTrigger({ pattern, mask: build('mask') });
    } catch (e) {
      pattern.dispose();
      throw e;
    }
  } finally {
    tf.dispose(Object.values(tensors));
  }
}
