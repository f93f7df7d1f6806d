import * as tf from '@tensorflow/tfjs-core';
import { makeBatch } from '../data/augment';
import type { Dataset } from '../data/dataset';
import { type Model, weightsHash } from '../models/model';
import { fineTuneOrLoad } from '../train/run';
import type { BatchLoss } from '../train/trainer';
import { attentionDistillation, type AttentionTerm } from './attention';
import type { NadSchedule } from './baseline-schedules';
import { type BaselineRun, type FineTuneLog, requireClean } from './baseline-run';

export interface NadLog {
  terms: AttentionTerm[];
  teacher: FineTuneLog;
  student: FineTuneLog;
  /** Σ β·AT(student, teacher) on the clean extra set (eval mode): before distillation, then after each student epoch */
  attentionLoss: number[];
}

/** The distilled layers: explicit ones, or NAD's default of the deepest named activation. */
export function nadTerms(model: Model, s: NadSchedule): AttentionTerm[] {
  const terms = s.layers
    ? Object.entries(s.layers).map(([layer, beta]) => ({ layer, p: s.p, beta }))
    : [{ layer: model.activationNames[model.activationNames.length - 1], p: s.p, beta: s.beta }];
  if (terms.length === 0) throw new Error('NAD: no layer to distil');
  for (const t of terms) {
    if (!model.activationNames.includes(t.layer)) {
      throw new Error(`NAD layer '${t.layer}': ${model.config.arch} has activations ${model.activationNames.join(', ')}`);
    }
    if (!(t.beta >= 0)) throw new Error(`NAD β of '${t.layer}': expected a number ≥ 0, got ${t.beta}`);
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
export async function nad(run: BaselineRun, s: NadSchedule): Promise<{ model: Model; log: NadLog }> {
  const clean = requireClean(run, 'NAD');
  const terms = nadTerms(run.infected, s);
  const layers = terms.map((t) => t.layer);
  const teacher = await fineTuneOrLoad({
    from: run.infected,
    spec: { defense: 'nad-teacher' },
    trainSet: clean,
    train: s.teacher,
    seed: `${String(run.seed)}/nad-teacher`,
    label: 'NAD: teacher',
    progress: run.progress,
    cache: run.cache,
  });
  try {
    const t = teacher.model;
    // The fine-tune trains its own copy; the loss sees it first, so the epoch summary can measure it.
    let student: Model | null = null;
    const loss: BatchLoss = (m, x, y) => {
      student = m;
      const out = m.forward(x, { training: true, collect: layers });
      const target = t.forward(x, { training: false, collect: layers });
      const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(y, out.logits.shape[1]), out.logits) as tf.Scalar;
      return { loss: tf.add(ce, attentionDistillation(terms, out.activations, target.activations)) as tf.Scalar, logits: out.logits };
    };
    const trained = await fineTuneOrLoad({
      from: run.infected,
      spec: { defense: 'nad-student', teacher: weightsHash(t), terms },
      trainSet: clean,
      train: s.student,
      seed: `${String(run.seed)}/nad-student`,
      hooks: { loss, summarizeEpoch: () => ({ attentionLoss: measureAttentionLoss(student!, t, clean, terms) }) },
      label: 'NAD: student',
      progress: run.progress,
      cache: run.cache,
    });
    const attentionLoss = [
      measureAttentionLoss(run.infected, t, clean, terms),
      ...trained.record.history.map((h) => (h.summary as { attentionLoss: number }).attentionLoss),
    ];
    return {
      model: trained.model,
      log: {
        terms,
        teacher: { history: teacher.record.history, fromCache: teacher.fromCache },
        student: { history: trained.record.history, fromCache: trained.fromCache },
        attentionLoss,
      },
    };
  } finally {
    teacher.model.dispose();
  }
}
