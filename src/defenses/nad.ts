import * as tf from '@tensorflow/tfjs-core';
import { makeBatch } from '../data/augment';
import type { Dataset } from '../data/dataset';
import type { Model } from '../models/model';
import { weightsHash } from '../models/weights';
import type { BatchLoss, TrainConfig } from '../train/trainer';
import { attentionDistillation, type AttentionTerm } from './attention';
import { checkFineTune, cosineFineTune, FINE_TUNE_DEFAULTS, type FineTuneLog, fineTuneStep, requireClean } from './baseline-run';
import type { DefenseDefinition } from './defense';

export type NadOptions = {
  /** the teacher: the infected model fine-tuned on the clean data (cosine, momentum 0.9, weight decay 5e-4) */
  teacherEpochs: number;
  teacherLr: number;
  /** the student */
  epochs: number;
  batchSize: number;
  lr: number;
  /** the learning rate is multiplied by lrDropFactor from this epoch on */
  lrDropEpoch: number;
  lrDropFactor: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  /** attention power */
  p: number;
  /** β of the deepest named activation when `layers` is empty */
  beta: number;
  /** explicit terms, 'name:β,…' (e.g. BackdoorBench's 'layer2:500,layer3:1000,layer4:1000'); empty = the deepest activation with β */
  layers: string;
  /**
   * 'β,…': one term per value on the model's last named activations, deepest last, whatever the
   * architecture calls them ('500,1000,1000': PreAct-ResNet18's layer2–4, smallcnn's conv3–5);
   * empty = `layers`, or `beta` on the deepest
   */
  betas: string;
};

export interface NadLog {
  terms: AttentionTerm[];
  teacher: FineTuneLog;
  student: FineTuneLog;
  /**
   * Σ AT(student, teacher) over the distilled layers, unweighted by β, on the clean extra set
   * (eval mode): before distillation, then after each student epoch
   */
  attentionLoss: number[];
}

function parseBetas(betas: string): number[] {
  const values = betas.split(',').map((v) => (v.trim() === '' ? NaN : Number(v)));
  if (values.some((b) => !Number.isFinite(b))) throw new Error(`nad.betas: expected 'β,…' (numbers), got '${betas}'`);
  return values;
}

/** The distilled layers: explicit ones, the last few with their βs, or NAD's default of the deepest named activation. */
export function nadTerms(model: Model, o: Pick<NadOptions, 'p' | 'beta' | 'layers' | 'betas'>): AttentionTerm[] {
  const names = model.activationNames;
  if (o.layers.trim() && o.betas.trim()) throw new Error(`nad: give layers ('${o.layers}') or betas ('${o.betas}'), not both`);
  if (o.betas.trim()) {
    const betas = parseBetas(o.betas);
    if (betas.length > names.length)
      throw new Error(`nad.betas: ${betas.length} values, but ${model.config.arch} has ${names.length} named activations (${names.join(', ')})`);
    const last = names.slice(names.length - betas.length);
    return last.map((layer, i) => {
      if (!(betas[i] >= 0)) throw new Error(`nad: β of '${layer}' must be ≥ 0, got ${betas[i]}`);
      return { layer, p: o.p, beta: betas[i] };
    });
  }
  const terms = o.layers.trim()
    ? o.layers.split(',').map((part) => {
        const [layer, beta, ...rest] = part.split(':').map((v) => v.trim());
        if (!layer || beta === undefined || rest.length > 0 || !Number.isFinite(Number(beta))) {
          throw new Error(`nad.layers: expected 'name:β,…', got '${o.layers}'`);
        }
        return { layer, p: o.p, beta: Number(beta) };
      })
    : [{ layer: names[names.length - 1], p: o.p, beta: o.beta }];
  for (const t of terms) {
    if (!names.includes(t.layer)) throw new Error(`nad.layers: ${model.config.arch} has no activation '${t.layer}'; valid: ${names.join(', ')}`);
    if (!(t.beta >= 0)) throw new Error(`nad: β of '${t.layer}' must be ≥ 0, got ${t.beta}`);
  }
  return terms;
}

/** Σ β·AT between two models' eval-mode activations, averaged over `data` (batch-weighted). */
export function measureAttentionLoss(student: Model, teacher: Model, data: Dataset, terms: readonly AttentionTerm[], batchSize = 256): number {
  const layers = terms.map((t) => t.layer);
  const [n, h, w, c] = data.shape;
  let sum = 0;
  for (let start = 0; start < n; start += batchSize) {
    const idx = Int32Array.from({ length: Math.min(batchSize, n - start) }, (_, i) => start + i);
    const v = tf.tidy(() => {
      const x = tf.tensor4d(makeBatch(data, idx), [idx.length, h, w, c]);
      const s = student.forward(x, { training: false, collect: layers }).activations;
      const t = teacher.forward(x, { training: false, collect: layers }).activations;
      return attentionDistillation(terms, s, t).dataSync()[0];
    });
    sum += v * idx.length;
  }
  return sum / n;
}

/**
 * Neural Attention Distillation (Li et al., ICLR 2021): a teacher is the infected model fine-tuned
 * on the clean extra data; the student, also starting from the infected model, is trained on the
 * same data with cross-entropy plus Σ β·AT(student, teacher) over the chosen layers, the teacher
 * in eval mode and fixed (the authors' main.py).
 */
export const NAD: DefenseDefinition<NadOptions, NadLog> = {
  description: 'neural attention distillation from a fine-tuned teacher',
  data: 'clean',
  gradientBatches: ['batchSize'],
  defaults: {
    teacherEpochs: 10,
    teacherLr: FINE_TUNE_DEFAULTS.lr,
    epochs: 20,
    batchSize: 64,
    lr: 0.1,
    lrDropEpoch: 2,
    lrDropFactor: 0.1,
    momentum: 0.9,
    weightDecay: 1e-4,
    nesterov: true,
    p: 2,
    beta: 5000,
    layers: '',
    betas: '',
  },
  provenance: {
    teacherEpochs: 'NAD README: the teacher is the backdoored model fine-tuned on the 5% clean data "for 5~10 epochs"; BackdoorBench te_epochs 10',
    teacherLr: 'BackdoorBench nad: the teacher fine-tune uses its lr 0.01 with cosine annealing',
    epochs: 'NAD config.py: 20 epochs',
    batchSize: 'NAD config.py: batch 64',
    lr: 'NAD config.py: lr 0.1',
    lrDropEpoch: 'NAD utils.adjust_learning_rate: 0.1 for epochs 0–1, then 0.01',
    lrDropFactor: 'NAD utils.adjust_learning_rate: 0.1 → 0.01',
    momentum: 'NAD main.py: SGD momentum 0.9',
    weightDecay: 'NAD config.py: weight decay 1e-4',
    nesterov: 'NAD main.py: Nesterov momentum',
    p: 'NAD config.py: p = 2 (at.py, attention transfer)',
    beta: 'NAD config.py: beta3 = 5000 on the last group, beta1 = beta2 = 0',
    layers: "NAD config.py: the last group only; BackdoorBench uses 'layer2:500,layer3:1000,layer4:1000' on PreAct-ResNet18",
    betas: "NAD config.py: unused (β on the last group only); BackdoorBench config/defense/nad: '500,1000,1000' on the last three groups",
  },
  schedules: {
    cpu: {
      options: { lr: 0.01, betas: '500,1000,1000' },
      provenance:
        "BackdoorBench config/defense/nad: student lr 0.01 and β 500/1000/1000 on the last three layer groups (smallcnn's conv3–conv5); the rest is the authors' schedule (teacher 10, student 20 epochs). The authors' lr 0.1 with β 5000 on the last stage collapsed smallcnn to one class on every attack, and again on BadNets stamped after augmentation (docs/measurements.md, 'The baselines against their budgets')",
    },
    smoke: { options: { teacherEpochs: 2, epochs: 3, batchSize: 50 }, provenance: 'seconds, for the tests' },
  },
  validate(o) {
    checkFineTune({ epochs: o.teacherEpochs, batchSize: o.batchSize, lr: o.teacherLr, momentum: o.momentum, weightDecay: o.weightDecay }, 'nad.teacher');
    checkFineTune(o, 'nad');
    if (!(o.p > 0)) throw new Error(`nad.p: expected a number > 0, got ${o.p}`);
    if (!(o.beta >= 0)) throw new Error(`nad.beta: expected a number ≥ 0, got ${o.beta}`);
    if (!(o.lrDropFactor > 0)) throw new Error(`nad.lrDropFactor: expected a number > 0, got ${o.lrDropFactor}`);
    if (o.betas.trim()) parseBetas(o.betas);
  },
  async run(ctx) {
    const clean = requireClean(ctx, 'NAD');
    const o = ctx.options;
    const terms = nadTerms(ctx.model, o);
    const layers = terms.map((t) => t.layer);
    const teacher = await fineTuneStep(ctx, {
      defense: 'nad',
      stage: 'teacher',
      from: ctx.model,
      spec: {},
      trainSet: clean,
      train: cosineFineTune({ ...o, epochs: o.teacherEpochs, lr: o.teacherLr, weightDecay: FINE_TUNE_DEFAULTS.weightDecay }, ctx.augment),
    });
    try {
      const t = teacher.model;
      await ctx.measure('teacher', t);
      // The fine-tune trains its own copy; the loss sees it first, so the epoch summary can measure it.
      let student: Model | null = null;
      const loss: BatchLoss = (m, x, y) => {
        student = m;
        const out = m.forward(x, { training: true, collect: layers });
        const target = t.forward(x, { training: false, collect: layers });
        const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(y, out.logits.shape[1]), out.logits) as tf.Scalar;
        return { loss: tf.add(ce, attentionDistillation(terms, out.activations, target.activations)) as tf.Scalar, logits: out.logits };
      };
      const train: TrainConfig = {
        epochs: o.epochs,
        batchSize: o.batchSize,
        optimizer: { kind: 'sgd', lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay, nesterov: o.nesterov },
        schedule: { kind: 'multistep', milestones: [o.lrDropEpoch], gamma: o.lrDropFactor },
        augment: ctx.augment,
      };
      // The gap itself, without β, so that runs with other weights (β = 0: plain fine-tuning) compare.
      const unweighted = terms.map((x) => ({ ...x, beta: 1 }));
      const before = measureAttentionLoss(ctx.model, t, clean, unweighted);
      const trained = await fineTuneStep(ctx, {
        defense: 'nad',
        stage: 'student',
        from: ctx.model,
        spec: { teacher: weightsHash(t), terms },
        trainSet: clean,
        train,
        hooks: { loss, summarizeEpoch: () => ({ attentionLoss: measureAttentionLoss(student!, t, clean, unweighted) }) },
      });
      const attentionLoss = [before, ...trained.log.history.map((h) => (h.summary as { attentionLoss: number }).attentionLoss)];
      return {
        model: trained.model,
        log: [
          { stage: 'teacher', message: `${o.teacherEpochs} epochs of fine-tuning${teacher.fromCache ? ' (cached)' : ''}`, seconds: teacher.log.seconds },
          {
            stage: 'student',
            message: `${o.epochs} epochs, CE + ${terms.map((x) => `${x.beta}·AT_p=${x.p}(${x.layer})`).join(' + ')}; attention loss ${attentionLoss[0].toExponential(2)} → ${attentionLoss[attentionLoss.length - 1].toExponential(2)}${trained.fromCache ? ' (cached)' : ''}`,
            seconds: trained.log.seconds,
          },
        ],
        intermediate: { terms, teacher: teacher.log, student: trained.log, attentionLoss },
      };
    } finally {
      teacher.model.dispose();
    }
  },
};
