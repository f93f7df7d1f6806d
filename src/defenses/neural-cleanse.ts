import * as tf from '@tensorflow/tfjs-core';
import { makeBatch } from '../data/augment';
import type { Dataset, FloatDataset } from '../data/dataset';
import { type Model, weightsHash } from '../models/model';
import { consoleSink, Progress, type ProgressSink } from '../progress';
import { Rng } from '../rng';
import { createOptimizer } from '../train/optimizer';
import { fineTuneOrLoad } from '../train/run';
import { dataHash } from '../train/trainer';
import { type AnomalyReport, anomalyIndices } from './anomaly-index';
import type { NeuralCleanseSchedule } from './baseline-schedules';
import { type BaselineRun, type FineTuneLog, requireClean } from './baseline-run';
import { CostSchedule, fromTanh, reverseLoss, stampTrigger, toTanh, type Trigger } from './reverse-trigger';

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
  triggers: Omit<ReversedTrigger, 'mask' | 'pattern'>[];
  /** the MAD test over the reversed triggers' norms, always reported */
  anomaly: AnomalyReport;
  /** flagged classes whose reversed triggers were unlearnt (empty: the model is returned unchanged) */
  unlearned: number[];
  /** images of the clean set stamped with each flagged trigger for unlearning */
  stampedPerTrigger: number;
  fineTune: FineTuneLog | null;
}

type ReverseSettings = Pick<NeuralCleanseSchedule, 'steps' | 'samplesPerStep' | 'batchSize' | 'lr' | 'cost'>;

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
      progress?.tick(1, `class ${target}: step ${steps}, success ${(100 * successRate).toFixed(0)}%, |m|₁ ${reg.toFixed(1)}, cost ${schedule.cost.toExponential(1)}`);
    }
    const chosen = best ?? { ...snapshot(), ...last };
    return { target, norm: chosen.norm, successRate: chosen.successRate, steps, reached: best !== null, mask: chosen.mask, pattern: chosen.pattern };
  } finally {
    adam.dispose();
    tf.dispose([maskRaw, patternRaw]);
  }
}

/** One class's reversed trigger from the cache, or reverse-engineered and stored (so an interrupted scan resumes per class). */
async function reverseOrLoad(run: BaselineRun, clean: Dataset, target: number, s: ReverseSettings, bar: Progress): Promise<ReversedTrigger> {
  const key = {
    kind: 'nc-reversed-trigger',
    model: weightsHash(run.infected),
    data: dataHash(clean),
    target,
    settings: { steps: s.steps, samplesPerStep: s.samplesPerStep, batchSize: s.batchSize, lr: s.lr, cost: s.cost },
    seed: run.seed,
  };
  const cached = run.cache?.get('defenses', key);
  if (cached) {
    const t = JSON.parse(cached.read('trigger.json').toString()) as ReversedTrigger;
    bar.tick(s.steps, `class ${target}: from the cache`);
    return t;
  }
  const started = Date.now();
  const t = reverseEngineer(run.infected, clean, target, s, new Rng(run.seed).fork(`neural-cleanse/class-${target}`), bar);
  // Early stopping leaves steps unrun; the bar counts the schedule's maximum per class.
  bar.tick(s.steps - t.steps);
  await run.cache?.put('defenses', key, { 'trigger.json': JSON.stringify(t) }, { meta: { seconds: (Date.now() - started) / 1000 }, keepExisting: true });
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
export async function neuralCleanse(run: BaselineRun, s: NeuralCleanseSchedule): Promise<{ model: Model; log: NeuralCleanseLog; triggers: ReversedTrigger[] }> {
  const clean = requireClean(run, 'Neural Cleanse');
  const classes = run.infected.config.numClasses;
  const sink: ProgressSink = run.progress ?? consoleSink();
  const bar = new Progress('neural cleanse: reversing triggers', classes * s.steps, sink, 'step');
  const triggers: ReversedTrigger[] = [];
  for (let k = 0; k < classes; k++) triggers.push(await reverseOrLoad(run, clean, k, s, bar));
  const anomaly = anomalyIndices(
    triggers.map((t) => t.norm),
    s.anomalyThreshold,
  );
  const summary = triggers.map(({ mask: _m, pattern: _p, ...rest }) => rest);
  if (anomaly.flagged.length === 0) {
    return { model: run.infected.clone(), log: { triggers: summary, anomaly, unlearned: [], stampedPerTrigger: 0, fineTune: null }, triggers };
  }
  const flagged = anomaly.flagged.map((k) => triggers[k]);
  const { data, stamped } = unlearningSet(clean, flagged, s.unlearnRatio, new Rng(run.seed).fork('neural-cleanse/unlearn'));
  const r = await fineTuneOrLoad({
    from: run.infected,
    spec: { defense: 'neural-cleanse-unlearning', flagged: anomaly.flagged, unlearnRatio: s.unlearnRatio },
    trainSet: data,
    train: s.unlearn,
    seed: `${String(run.seed)}/neural-cleanse`,
    label: `neural cleanse: unlearning class ${anomaly.flagged.join(', ')}`,
    progress: run.progress,
    cache: run.cache,
  });
  return {
    model: r.model,
    log: { triggers: summary, anomaly, unlearned: anomaly.flagged, stampedPerTrigger: stamped, fineTune: { history: r.record.history, fromCache: r.fromCache } },
    triggers,
  };
}
