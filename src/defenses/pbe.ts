import * as tf from '@tensorflow/tfjs-core';
import { pgd, type PgdConfig } from '../attacks/adversarial/pgd';
import { makeBatch } from '../data/augment';
import { type Dataset, subset } from '../data/dataset';
import type { Model } from '../models/model';
import { Rng } from '../rng';
import type { Batch, BatchContext, TrainConfig } from '../train/trainer';
import { fineTuneStep } from './baseline-run';
import type { DefenseContext, DefenseDefinition, DefenseLogEntry } from './defense';
import { analyzePbe } from './pbe-analysis';
import type { AdversarialEpochSummary, PbeIntermediate, PbeIteration, PbeSetting } from './pbe-intermediate';
import { PGD_BUDGET_DEFAULT, PGD_BUDGET_PROVENANCE } from './pgd-budget';

export type { AdversarialEpochSummary, PbeIntermediate, PbeIteration, PbeSetting } from './pbe-intermediate';

/** PBE's settings, flat so that they key the cache; `paper` = the reference code's. */
export type PbeOptions = {
  /** share of the training set drawn at random as the first extra set (progressive setting) */
  extraRatio: number;
  /** share of the ranked training set kept as the next extra set, one per later iteration (so iterations = length + 1) */
  topShares: readonly number[];
  /** fine-tuning epochs of the first iteration and of each later one (progressive setting) */
  epochsFirst: number;
  epochsLater: number;
  /** epochs with adversarial batches in the first iteration, counted from its first epoch */
  adversarialEpochsFirst: number;
  /**
   * The first iteration's Step 2: 'reference-code' has none (every epoch adversarial, as the
   * authors' code runs step 0); 'algorithm-1' fine-tunes on the clean images of the extra set for
   * step2EpochsFirst epochs after Step 1, as Algorithm 1 does in every iteration
   */
  firstIteration: string;
  step2EpochsFirst: number;
  /** epochs with adversarial batches in each later iteration */
  adversarialEpochsLater: number;
  /** leading adversarial batches per adversarial epoch in later iterations; 0 = all */
  adversarialBatchesLater: number;
  /** fine-tuning epochs with the clean extra set (clean-data setting), and how many of them are adversarial */
  cleanEpochs: number;
  cleanAdversarialEpochs: number;
  /**
   * The clean-data setting's Step 1 as a number of adversarial updates (SGD steps on PGD batches), taken over
   * as many epochs of the clean extra set as they need and followed by its cleanEpochs −
   * cleanAdversarialEpochs clean epochs; 0 = every batch of cleanAdversarialEpochs epochs
   */
  cleanAdversarialSteps: number;
  /** false: the ablation without step 1 (plain progressive fine-tuning) */
  adversarial: boolean;
  lr: number;
  momentum: number;
  weightDecay: number;
  batchSize: number;
};

export const PBE_DEFAULTS: PbeOptions = {
  extraRatio: 0.05,
  topShares: [0.2, 0.5, 0.7],
  epochsFirst: 10,
  epochsLater: 10,
  adversarialEpochsFirst: 10,
  firstIteration: 'reference-code',
  step2EpochsFirst: 1,
  adversarialEpochsLater: 1,
  adversarialBatchesLater: 31,
  cleanEpochs: 20,
  cleanAdversarialEpochs: 3,
  cleanAdversarialSteps: 0,
  adversarial: true,
  lr: 0.001,
  momentum: 0.9,
  weightDecay: 5e-4,
  batchSize: 128,
};

const REF = 'reference code (pbe_main.py / aft_train.py)';

const PBE_PROVENANCE: Record<keyof PbeOptions, string> = {
  extraRatio: `paper and ${REF}: a random 5% of the training set`,
  topShares: `${REF}: top rates 20%, 50%, 70% for progressive steps 1–3`,
  epochsFirst: `${REF}: 10 epochs per progressive step`,
  epochsLater: `${REF}: 10 epochs per progressive step`,
  adversarialEpochsFirst: `${REF}: step 0 uses adversarial batches in every epoch`,
  firstIteration: `${REF}: step 0 has no clean fine-tuning after the adversarial one ('reference-code'); 'algorithm-1' is the paper's Algorithm 1 (§3.3), Step 2 in every iteration`,
  step2EpochsFirst: "ours, for 'algorithm-1' only: one pass over the extra set's clean images (the paper gives no length for Step 2)",
  adversarialEpochsLater: `${REF}: later steps use adversarial batches in their first epoch only`,
  adversarialBatchesLater: `${REF}: partial adversarial epochs perturb batches 0–30`,
  cleanEpochs: 'reference code aft_main.py: 20 epochs (there on the whole clean training set; here on the 5% clean extra set, as the paper describes)',
  cleanAdversarialEpochs: 'reference code aft_main.py: adversarial batches in epochs 0–2',
  cleanAdversarialSteps:
    'reference code aft_main.py counts epochs (0 here: every batch of cleanAdversarialEpochs); its 3 epochs over the whole 50,000-image clean training set at batch 128 are 1,173 updates, where 3 epochs over the 5% extra set are 60',
  adversarial: 'paper (step 1); false is our ablation: progressive fine-tuning without adversarial examples',
  lr: `${REF}: SGD lr 0.001, never decayed (the scheduler is not stepped)`,
  momentum: `${REF}: SGD momentum 0.9`,
  weightDecay: `${REF}: weight decay 5e-4`,
  batchSize: `${REF}: batch 128`,
};

function validatePbe(o: PbeOptions): void {
  const share = (name: string, v: number) => {
    if (!(v > 0 && v <= 1)) throw new Error(`pbe.${name}: expected a ratio in (0, 1], got ${v}`);
  };
  share('extraRatio', o.extraRatio);
  o.topShares.forEach((v, i) => share(`topShares[${i}]`, v));
  const int = (name: keyof PbeOptions, min: number) => {
    const v = o[name] as number;
    if (!(Number.isInteger(v) && v >= min)) throw new Error(`pbe.${name}: expected an integer ≥ ${min}, got ${v}`);
  };
  int('epochsFirst', 1);
  int('epochsLater', 1);
  int('cleanEpochs', 1);
  int('batchSize', 1);
  int('step2EpochsFirst', 1);
  for (const k of ['adversarialEpochsFirst', 'adversarialEpochsLater', 'adversarialBatchesLater', 'cleanAdversarialEpochs', 'cleanAdversarialSteps'] as const)
    int(k, 0);
  if (!FIRST_ITERATIONS.includes(o.firstIteration))
    throw new Error(`pbe.firstIteration: expected one of ${FIRST_ITERATIONS.join(', ')}, got '${o.firstIteration}'`);
  if (o.adversarialEpochsFirst > o.epochsFirst)
    throw new Error(`pbe.adversarialEpochsFirst: at most epochsFirst (${o.epochsFirst}), got ${o.adversarialEpochsFirst}`);
  if (o.adversarialEpochsLater > o.epochsLater)
    throw new Error(`pbe.adversarialEpochsLater: at most epochsLater (${o.epochsLater}), got ${o.adversarialEpochsLater}`);
  if (o.cleanAdversarialEpochs > o.cleanEpochs)
    throw new Error(`pbe.cleanAdversarialEpochs: at most cleanEpochs (${o.cleanEpochs}), got ${o.cleanAdversarialEpochs}`);
  for (const k of ['lr', 'momentum', 'weightDecay'] as const) {
    if (!(Number.isFinite(o[k]) && o[k] >= 0)) throw new Error(`pbe.${k}: expected a finite number ≥ 0, got ${o[k]}`);
  }
}

const FIRST_ITERATIONS = ['reference-code', 'algorithm-1'];

/** One fine-tuning stage: how many epochs, and which batches are replaced by their PGD examples. */
interface Stage {
  epochs: number;
  adversarialEpochs: number;
  /** leading adversarial batches per adversarial epoch; null = all */
  adversarialBatches: number | null;
  /** when present, only the first adversarialSteps batches of the stage, counted across epochs, are adversarial */
  adversarialSteps?: number;
}

/** The first iteration of the progressive setting: Step 1 over all of its epochs, then Step 2 only under Algorithm 1. */
function firstStage(o: PbeOptions): Stage {
  const step2 = o.firstIteration === 'algorithm-1' ? o.step2EpochsFirst : 0;
  return { epochs: o.epochsFirst + step2, adversarialEpochs: o.adversarialEpochsFirst, adversarialBatches: null };
}

/**
 * The clean-data setting: Step 1 as cleanAdversarialEpochs adversarial epochs, or as exactly
 * cleanAdversarialSteps adversarial updates over the epochs they need; then the clean epochs.
 */
function cleanDataStage(o: PbeOptions, extraSize: number): Stage {
  const cleanEpochs = o.cleanEpochs - o.cleanAdversarialEpochs;
  if (o.cleanAdversarialSteps === 0) return { epochs: o.cleanEpochs, adversarialEpochs: o.cleanAdversarialEpochs, adversarialBatches: null };
  const adversarialEpochs = Math.ceil(o.cleanAdversarialSteps / Math.ceil(extraSize / o.batchSize));
  return { epochs: adversarialEpochs + cleanEpochs, adversarialEpochs, adversarialBatches: null, adversarialSteps: o.cleanAdversarialSteps };
}

/** Eval-mode logits of every image, [n × K] row-major. */
export function logitsOf(model: Pick<Model, 'predict' | 'config'>, ds: Dataset, batchSize = 256): Float32Array {
  const n = ds.shape[0];
  const k = model.config.numClasses;
  const [, h, w, c] = ds.shape;
  const out = new Float32Array(n * k);
  for (let start = 0; start < n; start += batchSize) {
    const idx = Int32Array.from({ length: Math.min(batchSize, n - start) }, (_, i) => start + i);
    const logits = tf.tidy(() => model.predict(tf.tensor4d(makeBatch(ds, idx), [idx.length, h, w, c])));
    out.set(logits.dataSync(), start * k);
    logits.dispose();
  }
  return out;
}

/** Row-wise cosine similarity of two [n × K] matrices (0 where a row is all zero). */
export function cosineRows(a: Float32Array, b: Float32Array, k: number): Float32Array {
  if (a.length !== b.length || a.length % k !== 0) throw new Error(`cosineRows: shapes ${a.length} and ${b.length} are not both n × ${k}`);
  const n = a.length / k;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let j = i * k; j < (i + 1) * k; j++) {
      dot += a[j] * b[j];
      na += a[j] * a[j];
      nb += b[j] * b[j];
    }
    out[i] = na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
  }
  return out;
}

/** The top `share` of positions by score, descending; ties by position, so the choice is reproducible. */
export function topByScore(scores: Float32Array, share: number): Int32Array {
  const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
  return Int32Array.from(order.slice(0, Math.round(share * scores.length)));
}

/**
 * Fine-tunes `from` on `extra` through the cache: in the stage's adversarial epochs, the leading
 * batches are replaced by their untargeted PGD examples against the current weights, with the
 * labels the defender has (step 1); the other batches are the clean images (step 2).
 */
async function fineTuneStage(
  ctx: DefenseContext<PbeOptions>,
  budget: PgdConfig,
  from: Model,
  extra: Dataset,
  stage: Stage,
  name: { setting: PbeSetting; stage: string; seed: string },
) {
  const o = ctx.options;
  const k = from.config.numClasses;
  const train: TrainConfig = {
    epochs: stage.epochs,
    batchSize: o.batchSize,
    optimizer: { kind: 'sgd', lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay },
    schedule: { kind: 'constant' },
    augment: ctx.augment,
  };
  const batchesPerEpoch = Math.ceil(extra.shape[0] / o.batchSize);
  const adversarialBatch = (c: BatchContext) =>
    o.adversarial &&
    c.epoch < stage.adversarialEpochs &&
    (stage.adversarialBatches === null || c.batch < stage.adversarialBatches) &&
    (stage.adversarialSteps === undefined || c.epoch * batchesPerEpoch + c.batch < stage.adversarialSteps);
  let tally: AdversarialEpochSummary | null = null;
  const prepareBatch = (model: Model, { x, y }: Batch, c: BatchContext): Batch | void => {
    if (!adversarialBatch(c)) return;
    const adv = pgd(model, x, y, budget, c.rng);
    const predicted = tf.tidy(() => tf.argMax(model.predict(adv), 1));
    const p = predicted.dataSync();
    const given = y.dataSync();
    predicted.dispose();
    tally ??= { adversarial: 0, counts: Array.from({ length: k }, () => new Array<number>(k).fill(0)) };
    for (let i = 0; i < p.length; i++) tally.counts[given[i]][p[i]]++;
    tally.adversarial += p.length;
    return { x: adv, y };
  };
  return fineTuneStep(ctx, {
    defense: 'pbe',
    stage: name.stage,
    from,
    trainSet: extra,
    train,
    hooks: {
      prepareBatch,
      summarizeEpoch: () => {
        const s = tally;
        tally = null;
        return s;
      },
    },
    // Only what changes this stage's weights: a finished stage is reused across settings of the
    // others (schedule of later iterations, ranking shares).
    identity: { spec: { purpose: 'pbe', setting: name.setting, stage, adversarial: o.adversarial, pgd: budget }, seed: name.seed },
  });
}

function iterationOf(t: number, extra: Int32Array, scores: Float32Array | null, r: Awaited<ReturnType<typeof fineTuneStage>>): PbeIteration {
  return {
    iteration: t + 1,
    extra,
    scores,
    adversarial: r.record.history.map((e) => (e.summary ?? null) as AdversarialEpochSummary | null),
    fromCache: r.fromCache,
    trainSeconds: r.record.trainSeconds,
  };
}

/** The clean-data setting: adversarial fine-tuning, then clean fine-tuning, on the clean extra set; once. */
async function runCleanData(ctx: DefenseContext<PbeOptions>, budget: PgdConfig) {
  const o = ctx.options;
  const clean = ctx.data.clean!;
  const t0 = Date.now();
  const r = await fineTuneStage(ctx, budget, ctx.model, clean, cleanDataStage(o, clean.shape[0]), {
    setting: 'clean-data',
    stage: 'clean data',
    seed: `${ctx.seed}/pbe-clean`,
  });
  await ctx.measure('iteration 1', r.model);
  const all = Int32Array.from(clean.labels.keys());
  const log: DefenseLogEntry[] = [
    {
      stage: 'iteration 1',
      message: `fine-tuned on the clean extra set (${clean.shape[0]} images)${r.fromCache ? ' [cached]' : ''}`,
      seconds: (Date.now() - t0) / 1000,
    },
  ];
  return { model: r.model, log, intermediate: { setting: 'clean-data' as const, iterations: [iterationOf(0, all, null, r)] } };
}

/**
 * The progressive setting (Algorithm 1): extra set from a random share, then from the ranking, each iteration
 * fine-tuned with steps 1 and 2, except the first under the reference code's schedule (firstStage).
 */
async function runProgressive(ctx: DefenseContext<PbeOptions>, budget: PgdConfig) {
  const o = ctx.options;
  const train = ctx.data.train!;
  const n = train.shape[0];
  const k = ctx.model.config.numClasses;
  const original = logitsOf(ctx.model, train);
  const first = new Rng(ctx.seed)
    .fork('pbe-extra')
    .sample(n, Math.round(o.extraRatio * n))
    .sort();
  let extra = first;
  let current: Model = ctx.model;
  const iterations: PbeIteration[] = [];
  const log: DefenseLogEntry[] = [];
  try {
    for (let t = 0; t <= o.topShares.length; t++) {
      if (extra.length === 0) {
        throw new Error(
          `pbe: the extra set of iteration ${t + 1} is empty (${t === 0 ? `extraRatio ${o.extraRatio}` : `top share ${o.topShares[t - 1]}`} of ${n} images)`,
        );
      }
      const t0 = Date.now();
      const stage: Stage =
        t === 0
          ? firstStage(o)
          : {
              epochs: o.epochsLater,
              adversarialEpochs: o.adversarialEpochsLater,
              adversarialBatches: o.adversarialBatchesLater === 0 ? null : o.adversarialBatchesLater,
            };
      const r = await fineTuneStage(ctx, budget, current, subset(train, extra, `${train.name}-pbe-extra-${t + 1}`), stage, {
        setting: 'progressive',
        stage: `iteration ${t + 1}`,
        seed: `${ctx.seed}/pbe-${t}`,
      });
      if (current !== ctx.model) current.dispose();
      current = r.model;
      await ctx.measure(`iteration ${t + 1}`, current);
      // Step 3: an image whose logits the purification left pointing the same way is likely clean.
      const scores = cosineRows(original, logitsOf(current, train), k);
      iterations.push(iterationOf(t, extra, scores, r));
      log.push({
        stage: `iteration ${t + 1}`,
        message: `fine-tuned on ${extra.length} images${r.fromCache ? ' [cached]' : ''}; ranked ${n}`,
        seconds: (Date.now() - t0) / 1000,
      });
      if (t < o.topShares.length) extra = topByScore(scores, o.topShares[t]).sort();
    }
  } catch (e) {
    if (current !== ctx.model) current.dispose();
    throw e;
  }
  return { model: current, log, intermediate: { setting: 'progressive' as const, iterations } };
}

/** PBE in the defense catalogue (registered as 'pbe' by all.ts). */
export const PBE: DefenseDefinition<PbeOptions, PbeIntermediate> = {
  description:
    'Progressive Backdoor Erasing (Mu et al., CVPR 2023): fine-tune on PGD examples of an extra set with their labels, then on the set itself; ' +
    'with a clean extra set once (the clean-data setting), else progressively from a ranking of the training set (the progressive setting)',
  data: 'either',
  gradientBatches: ['batchSize'],
  defaults: PBE_DEFAULTS,
  provenance: PBE_PROVENANCE,
  schedules: {
    cpu: {
      options: { epochsLater: 1, cleanAdversarialSteps: 600 },
      provenance:
        'our choice for the 2-hour budget on two cores: the first iteration keeps the reference 10 adversarial epochs; each later one gets one epoch (its first 31 batches adversarial), where the reference 10 took longer on WaNet and ended at a higher ASR (docs/measurements.md, "PBE\'s cpu schedule"). ' +
        'The clean-data setting\'s number of adversarial updates is the fewest on its curve at which Blend, BadNets, SIG and the dynamic attack all lose the backdoor (docs/measurements.md, "Clean-data PBE against its number of adversarial updates")',
    },
    smoke: {
      options: {
        epochsFirst: 2,
        adversarialEpochsFirst: 2,
        epochsLater: 2,
        cleanEpochs: 3,
        cleanAdversarialEpochs: 2,
        batchSize: 50,
        lr: 0.01,
        extraRatio: 0.1,
      },
      provenance: 'seconds on MNIST smoke, for tests; larger lr and extra set so that 2 epochs move the weights',
    },
  },
  pgd: { defaults: PGD_BUDGET_DEFAULT, provenance: PGD_BUDGET_PROVENANCE },
  validate: validatePbe,
  run: (ctx) => {
    if (!ctx.pgd) throw new Error('pbe: the runner gave no PGD budget');
    return ctx.data.clean ? runCleanData(ctx, ctx.pgd) : runProgressive(ctx, ctx.pgd);
  },
  analyze: analyzePbe,
};
