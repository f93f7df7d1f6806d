import * as tf from '@tensorflow/tfjs-core';
import { makeBatch } from '../data/augment';
import type { Dataset, FloatDataset } from '../data/dataset';
import type { Model } from '../models/model';
import { weightsHash } from '../models/weights';
import { Progress } from '../progress';
import { Rng } from '../rng';
import { createOptimizer } from '../train/optimizer';
import { dataHash } from '../train/trainer';
import { type AnomalyReport, anomalyIndices } from './anomaly-index';
import {
  checkFineTune,
  cosineFineTune,
  FINE_TUNE_DEFAULTS,
  FINE_TUNE_PROVENANCE,
  type FineTuneLog,
  type FineTuneOptions,
  fineTuneStep,
  requireClean,
} from './baseline-run';
import type { DefenseContext, DefenseDefinition } from './defense';
import { type CostScheduleConfig, CostSchedule, fromTanh, NC_COST_DEFAULTS, reverseLoss, stampTrigger, toTanh, type Trigger } from './reverse-trigger';

/** One class's reversed trigger: the smallest-mask trigger that reached the success threshold (else the last). */
export interface ReversedTrigger {
  target: number;
  /** |m|₁ of the mask */
  norm: number;
  /** success rate toward the target on the stamped clean images of its best step */
  successRate: number;
  /** steps run (early stopping may end before the schedule's maximum) */
  steps: number;
  /** whether any step reached the success threshold */
  reached: boolean;
  /** [H, W] mask and [H, W, C] pattern in [0, 1], row-major */
  mask: number[];
  pattern: number[];
}

export interface NeuralCleanseLog {
  /** the MAD test over the reversed triggers' norms, always reported */
  anomaly: AnomalyReport;
  /** flagged classes whose reversed triggers were unlearnt (empty: the model is returned unchanged) */
  unlearned: number[];
  /** images of the clean set stamped with each flagged trigger for unlearning */
  stampedPerTrigger: number;
  fineTune: FineTuneLog | null;
}

/** How one class's trigger is reverse-engineered. */
export interface ReverseSettings {
  /** optimisation steps at most (each a pass over `samplesPerStep` images); early stopping may end sooner */
  steps: number;
  samplesPerStep: number;
  batchSize: number;
  /** Adam, β1 0.5, β2 0.9 */
  lr: number;
  cost: CostScheduleConfig;
}

/** The unlearning fine-tune, the reverse-engineering (its cost controller's settings by their own names), the test. */
export type NeuralCleanseOptions = FineTuneOptions &
  CostScheduleConfig & {
    reverseSteps: number;
    samplesPerStep: number;
    reverseBatchSize: number;
    reverseLr: number;
    anomalyThreshold: number;
    /** share of the clean extra set stamped with a flagged class's reversed trigger (true labels kept) */
    unlearnRatio: number;
  };

export function reverseSettings(o: NeuralCleanseOptions): ReverseSettings {
  return {
    steps: o.reverseSteps,
    samplesPerStep: o.samplesPerStep,
    batchSize: o.reverseBatchSize,
    lr: o.reverseLr,
    cost: Object.fromEntries(Object.keys(NC_COST_DEFAULTS).map((k) => [k, o[k as keyof CostScheduleConfig]])) as CostScheduleConfig,
  };
}

/**
 * Reverse-engineers the smallest trigger that sends the clean images to `target` (Neural Cleanse
 * §IV-B, the authors' visualizer.py): mask and pattern start uniformly random (seeded), Adam (lr,
 * β1 0.5, β2 0.9) minimises CE + cost·|m|₁ over mini-batches drawn in shuffled passes over the
 * data, and the cost follows CostSchedule. The model stays in eval mode and is not changed.
 */
export function reverseEngineer(model: Model, data: Dataset, target: number, s: ReverseSettings, rng: Rng, progress?: Progress): ReversedTrigger {
  const [n, h, w, c] = data.shape;
  const batch = Math.min(s.batchSize, n);
  const perStep = Math.max(1, Math.floor(s.samplesPerStep / batch));
  const initRng = rng.fork('init');
  const maskRaw = tf.variable(tf.tidy(() => toTanh(tf.tensor3d(initRng.fork('mask').uniformArray(h * w), [h, w, 1]))));
  const patternRaw = tf.variable(tf.tidy(() => toTanh(tf.tensor3d(initRng.fork('pattern').uniformArray(h * w * c), [h, w, c]))));
  const vars = new Map<string, tf.Variable>([
    ['mask', maskRaw],
    ['pattern', patternRaw],
  ]);
  const adam = createOptimizer({ kind: 'adam', lr: s.lr, beta1: 0.5, beta2: 0.9, weightDecay: 0 });
  const schedule = new CostSchedule(s.cost);
  const current = (): Trigger => ({ mask: fromTanh(maskRaw) as tf.Tensor3D, pattern: fromTanh(patternRaw) as tf.Tensor3D });
  const snapshot = (): { mask: number[]; pattern: number[] } =>
    tf.tidy(() => {
      const t = current();
      return { mask: Array.from(t.mask.dataSync()), pattern: Array.from(t.pattern.dataSync()) };
    });
  let best: { mask: number[]; pattern: number[]; norm: number; successRate: number } | null = null;
  let last = { norm: Infinity, successRate: 0 };
  let order: Int32Array = new Int32Array(0);
  let cursor = 0;
  let pass = 0;
  let steps = 0;
  try {
    for (let step = 0; step < s.steps && !schedule.stopped; step++) {
      let hits = 0;
      let seen = 0;
      let regSum = 0;
      for (let b = 0; b < perStep; b++) {
        if (cursor + batch > order.length) {
          order = rng.fork(`pass-${pass++}`).permutation(n);
          cursor = 0;
        }
        const idx = order.subarray(cursor, cursor + batch);
        cursor += batch;
        const x = tf.tensor4d(makeBatch(data, idx), [idx.length, h, w, c]);
        let stats: tf.Tensor[] = [];
        const { grads, value } = tf.variableGrads(() => {
          const trigger = current();
          const logits = model.forward(stampTrigger(x, trigger), { training: false }).logits;
          const { loss, reg } = reverseLoss(logits, target, trigger.mask, schedule.cost);
          stats = [tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), target), 'int32'))), tf.keep(reg)];
          return loss;
        }, [maskRaw, patternRaw]);
        adam.step(vars, { mask: grads[maskRaw.name], pattern: grads[patternRaw.name] }, s.lr);
        hits += stats[0].dataSync()[0];
        regSum += stats[1].dataSync()[0] * idx.length;
        seen += idx.length;
        tf.dispose([x, value, ...stats, ...Object.values(grads)]);
      }
      const successRate = hits / seen;
      const reg = regSum / seen;
      last = { norm: reg, successRate };
      steps = step + 1;
      if (schedule.update(successRate, reg).best) best = { ...snapshot(), norm: reg, successRate };
      progress?.tick(
        1,
        `class ${target}: step ${steps}, success ${(100 * successRate).toFixed(0)}%, |m|₁ ${reg.toFixed(1)}, cost ${schedule.cost.toExponential(1)}`,
      );
    }
    const chosen = best ?? { ...snapshot(), ...last };
    return { target, norm: chosen.norm, successRate: chosen.successRate, steps, reached: best !== null, mask: chosen.mask, pattern: chosen.pattern };
  } finally {
    adam.dispose();
    tf.dispose([maskRaw, patternRaw]);
  }
}

/** One class's reversed trigger from the cache, or reverse-engineered and stored (so an interrupted scan resumes per class). */
async function reverseOrLoad(
  ctx: DefenseContext<NeuralCleanseOptions>,
  clean: Dataset,
  target: number,
  s: ReverseSettings,
  bar: Progress,
): Promise<ReversedTrigger> {
  const key = {
    kind: 'nc-reversed-trigger',
    model: weightsHash(ctx.model),
    data: dataHash(clean),
    target,
    settings: { steps: s.steps, samplesPerStep: s.samplesPerStep, batchSize: s.batchSize, lr: s.lr, cost: s.cost },
    seed: ctx.seed,
  };
  const cached = ctx.cache.get('defenses', key);
  if (cached) {
    const t = JSON.parse(cached.read('trigger.json').toString()) as ReversedTrigger;
    bar.tick(s.steps, `class ${target}: from the cache`);
    return t;
  }
  const started = Date.now();
  const t = reverseEngineer(ctx.model, clean, target, s, new Rng(ctx.seed).fork(`nc/class-${target}`), bar);
  // Early stopping leaves steps unrun; the bar counts the schedule's maximum per class.
  bar.tick(s.steps - t.steps);
  await ctx.cache.put('defenses', key, { 'trigger.json': JSON.stringify(t) }, { meta: { seconds: (Date.now() - started) / 1000 }, keepExisting: true });
  return t;
}

/** The unlearning set: the clean images, a seeded share of them replaced by stamped copies for each flagged trigger (true labels kept). */
export function unlearningSet(clean: Dataset, triggers: readonly ReversedTrigger[], ratio: number, rng: Rng): { data: FloatDataset; stamped: number } {
  if (!(ratio > 0 && ratio < 1)) throw new Error(`neural cleanse unlearnRatio: expected a number in (0, 1), got ${ratio}`);
  const [n, h, w, c] = clean.shape;
  const size = h * w * c;
  const order = rng.permutation(n);
  const stamped = Math.round(ratio * n);
  const kept = order.subarray(stamped);
  const chosen = order.subarray(0, stamped);
  const total = kept.length + stamped * triggers.length;
  const images = new Float32Array(total * size);
  const labels = new Int32Array(total);
  images.set(makeBatch(clean, kept));
  kept.forEach((i, j) => (labels[j] = clean.labels[i]));
  let at = kept.length;
  for (const t of triggers) {
    const out = tf.tidy(() =>
      stampTrigger(tf.tensor4d(makeBatch(clean, chosen), [stamped, h, w, c]), {
        mask: tf.tensor3d(t.mask, [h, w, 1]),
        pattern: tf.tensor3d(t.pattern, [h, w, c]),
      }),
    );
    images.set(out.dataSync(), at * size);
    out.dispose();
    chosen.forEach((i, j) => (labels[at + j] = clean.labels[i]));
    at += stamped;
  }
  return { data: { ...clean, name: `${clean.name}+nc-unlearn`, images, labels, shape: [total, h, w, c] }, stamped };
}

/**
 * Neural Cleanse (Wang et al., S&P 2019): a trigger is reverse-engineered for every class on the
 * clean extra data, the MAD anomaly index of their norms is computed (threshold 2), and when a
 * class is flagged the model unlearns its trigger by fine-tuning on the clean data with a share of
 * it stamped with the reversed trigger at the true labels. The indices and flagged classes are
 * reported whether or not anything is flagged; with nothing flagged the model is returned as it was.
 */
export const NEURAL_CLEANSE: DefenseDefinition<NeuralCleanseOptions, NeuralCleanseLog & { triggers: ReversedTrigger[] }> = {
  description: 'neural cleanse: reverse-engineer a trigger per class, flag outliers by MAD, unlearn them',
  data: 'clean',
  gradientBatches: ['reverseBatchSize', 'batchSize'],
  defaults: {
    ...FINE_TUNE_DEFAULTS,
    reverseSteps: 1000,
    samplesPerStep: 1000,
    reverseBatchSize: 32,
    reverseLr: 0.1,
    ...NC_COST_DEFAULTS,
    anomalyThreshold: 2,
    unlearnRatio: 0.2,
  },
  provenance: {
    ...FINE_TUNE_PROVENANCE,
    epochs: 'BackdoorBench nc: unlearning fine-tunes with its ft schedule (100 epochs, lr 0.01, cosine)',
    reverseSteps: 'NC gtsrb_visualize_example.py: STEPS = 1000',
    samplesPerStep: 'NC gtsrb_visualize_example.py: NB_SAMPLE = 1000 images per step',
    reverseBatchSize: 'NC gtsrb_visualize_example.py: BATCH_SIZE = 32',
    reverseLr: 'NC gtsrb_visualize_example.py: Adam lr 0.1 (β1 0.5, β2 0.9 in visualizer.py)',
    initCost: 'NC gtsrb_visualize_example.py: INIT_COST = 1e-3',
    attackSuccThreshold: 'NC gtsrb_visualize_example.py: ATTACK_SUCC_THRESHOLD = 0.99',
    patience: 'NC gtsrb_visualize_example.py: PATIENCE = 5',
    costMultiplier: 'NC gtsrb_visualize_example.py: COST_MULTIPLIER = 2 (down by 2^1.5)',
    earlyStop: 'NC gtsrb_visualize_example.py: EARLY_STOP = True',
    earlyStopThreshold: 'NC gtsrb_visualize_example.py: EARLY_STOP_THRESHOLD = 1.0',
    earlyStopPatience: 'NC gtsrb_visualize_example.py: EARLY_STOP_PATIENCE = 5 × PATIENCE',
    anomalyThreshold: 'NC paper §IV-C and mad_outlier_detection.py: anomaly index > 2',
    unlearnRatio: 'NC paper §VI-C: 20% of the clean sample carries the reversed trigger, labels kept (BackdoorBench unlearning_ratio 0.2)',
  },
  schedules: {
    cpu: {
      options: { reverseSteps: 15, samplesPerStep: 256, epochs: 20 },
      provenance:
        '15 steps of 256 images per class and 20 unlearning epochs: on BadNets the early reversal flags the target, while 100 and 300 steps (every class early-stopped) flag nothing (docs/measurements.md, "The baselines against their budgets")',
    },
    smoke: {
      options: { reverseSteps: 30, samplesPerStep: 100, reverseBatchSize: 50, patience: 2, earlyStopPatience: 6, epochs: 3, batchSize: 50 },
      provenance: 'seconds, for the tests',
    },
  },
  validate(o) {
    checkFineTune(o, 'nc');
    for (const k of ['reverseSteps', 'samplesPerStep', 'reverseBatchSize', 'patience', 'earlyStopPatience'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`nc.${k}: expected an integer ≥ 1, got ${o[k]}`);
    }
    if (!(o.reverseLr > 0)) throw new Error(`nc.reverseLr: expected a number > 0, got ${o.reverseLr}`);
    if (!(o.initCost > 0)) throw new Error(`nc.initCost: expected a number > 0, got ${o.initCost}`);
    if (!(o.anomalyThreshold > 0)) throw new Error(`nc.anomalyThreshold: expected a number > 0, got ${o.anomalyThreshold}`);
    if (!(o.unlearnRatio > 0 && o.unlearnRatio < 1)) throw new Error(`nc.unlearnRatio: expected a number in (0, 1), got ${o.unlearnRatio}`);
    new CostSchedule(reverseSettings(o).cost);
  },
  /** One row per class: its reversed trigger's norm, anomaly index, whether flagged, and whether it is the attack's target. */
  analyze(intermediate, truth) {
    const { anomaly } = intermediate;
    const rows = intermediate.triggers.map((t) => ({
      class: t.target,
      norm: t.norm,
      anomalyIndex: Number.isFinite(anomaly.indices[t.target]) ? anomaly.indices[t.target] : null,
      flagged: anomaly.flagged.includes(t.target) ? 'yes' : 'no',
      attackTarget: truth.rule.mode === 'all2one' && truth.rule.target === t.target ? 'yes' : 'no',
      reached: t.reached ? 'yes' : 'no',
    }));
    return { rows, details: { median: anomaly.median, mad: anomaly.mad, anomalyIndex: anomaly.anomalyIndex, flagged: anomaly.flagged }, specs: {} };
  },
  async run(ctx) {
    const clean = requireClean(ctx, 'Neural Cleanse');
    const o = ctx.options;
    const settings = reverseSettings(o);
    const classes = ctx.model.config.numClasses;
    const started = Date.now();
    const bar = new Progress('nc: reversing triggers', classes * settings.steps, ctx.progress, 'step');
    const triggers: ReversedTrigger[] = [];
    for (let k = 0; k < classes; k++) triggers.push(await reverseOrLoad(ctx, clean, k, settings, bar));
    const anomaly = anomalyIndices(
      triggers.map((t) => t.norm),
      o.anomalyThreshold,
    );
    const summary = triggers.map(({ mask: _m, pattern: _p, ...rest }) => rest);
    const detection = {
      stage: 'detection',
      message: `reversed-trigger norms ${summary.map((t) => t.norm.toFixed(1)).join(', ')}; anomaly index ${anomaly.anomalyIndex.toFixed(2)}; flagged: ${anomaly.flagged.length > 0 ? anomaly.flagged.join(', ') : 'none'}`,
      seconds: (Date.now() - started) / 1000,
    };
    if (anomaly.flagged.length === 0) {
      return {
        model: ctx.model.clone(),
        log: [detection, { stage: 'unlearning', message: 'nothing flagged: the model is returned unchanged' }],
        intermediate: { triggers, anomaly, unlearned: [], stampedPerTrigger: 0, fineTune: null },
      };
    }
    const flagged = anomaly.flagged.map((k) => triggers[k]);
    const { data, stamped } = unlearningSet(clean, flagged, o.unlearnRatio, new Rng(ctx.seed).fork('nc/unlearn'));
    const r = await fineTuneStep(ctx, {
      defense: 'nc',
      stage: 'unlearning',
      from: ctx.model,
      spec: { flagged: anomaly.flagged, unlearnRatio: o.unlearnRatio },
      trainSet: data,
      train: cosineFineTune(o, ctx.augment),
    });
    return {
      model: r.model,
      log: [
        detection,
        {
          stage: 'unlearning',
          message: `${o.epochs} epochs, ${stamped} of ${clean.shape[0]} images stamped per flagged trigger${r.fromCache ? ' (cached)' : ''}`,
          seconds: r.log.seconds,
        },
      ],
      intermediate: { triggers, anomaly, unlearned: anomaly.flagged, stampedPerTrigger: stamped, fineTune: r.log },
    };
  },
};
