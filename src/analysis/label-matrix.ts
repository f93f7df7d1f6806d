import * as tf from '@tensorflow/tfjs-core';
import { pgd, type PgdConfig, validatePgd } from '../attacks/adversarial/pgd';
import { type Dataset, imageSize } from '../data/dataset';
import { heatmapSpec, type VegaLiteSpec } from '../plots/vega';
import type { ProgressSink } from '../progress';
import type { Rng } from '../rng';
import { type Classifier, forEachBatch, range, readPredictions } from './batches';

/** The paper's claim for Fig. 1b: every infected model sends at least 40% of its adversarial examples to its target. */
export const PAPER_MIN_TARGET_SHARE = 0.4;

/** Where the untargeted adversarial examples of a set of clean images land (Fig. 1, Fig. 4). */
export interface AdversarialLabelDistribution {
  classNames: string[];
  /** byTrueClass[y][c]: adversarial examples of true class y predicted as c */
  byTrueClass: number[][];
  /** predicted-label counts over all adversarial examples (column sums of byTrueClass) */
  overall: number[];
  total: number;
  /** clean images the model classified correctly */
  cleanCorrect: number;
  /** adversarial examples whose prediction differs from their clean image's: the attack's successes */
  changed: number;
  /** adversarial examples predicted as anything but their true label */
  misclassified: number;
}

/** Counts from per-image labels: true, clean prediction, adversarial prediction. */
export function tallyAdversarialLabels(
  classNames: string[],
  trueLabels: ArrayLike<number>,
  cleanPredictions: ArrayLike<number>,
  adversarialPredictions: ArrayLike<number>,
): AdversarialLabelDistribution {
  const n = trueLabels.length;
  if (cleanPredictions.length !== n || adversarialPredictions.length !== n) {
    throw new Error(`tallyAdversarialLabels: ${n} true labels, ${cleanPredictions.length} clean and ${adversarialPredictions.length} adversarial predictions`);
  }
  const k = classNames.length;
  const byTrueClass = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const overall = new Array<number>(k).fill(0);
  let cleanCorrect = 0;
  let changed = 0;
  let misclassified = 0;
  for (let i = 0; i < n; i++) {
    const y = trueLabels[i];
    const a = adversarialPredictions[i];
    if (!(y >= 0 && y < k && a >= 0 && a < k)) throw new Error(`tallyAdversarialLabels: image ${i} has label ${y} / prediction ${a} outside [0, ${k - 1}]`);
    byTrueClass[y][a]++;
    overall[a]++;
    if (cleanPredictions[i] === y) cleanCorrect++;
    if (a !== cleanPredictions[i]) changed++;
    if (a !== y) misclassified++;
  }
  return { classNames, byTrueClass, overall, total: n, cleanCorrect, changed, misclassified };
}

export interface LabelDistributionOptions {
  batchSize: number;
  /** needed when cfg.randomStart; batch b draws from rng.fork(`batch-${b}`) */
  rng?: Rng;
  progress?: ProgressSink;
}

/**
 * A model's untargeted adversarial examples of every image of a dataset, in the dataset's order,
 * so that later analyses of the same images and model can reuse them instead of rerunning PGD.
 */
export interface AdversarialSet {
  /** [0, 1] pixels, NHWC, row-major, length n·h·w·c */
  images: Float32Array;
  /** [n, h, w, c], that of the dataset */
  shape: [number, number, number, number];
  /** the model's eval-mode prediction on each clean image */
  cleanPredictions: Int32Array;
  /** the model's eval-mode prediction on each adversarial example */
  adversarialPredictions: Int32Array;
}

/**
 * Untargeted PGD against `model` on every image, batch by batch; `keep` sees each batch of
 * adversarial images before it is disposed. Errors name `caller`.
 */
function attackAll(
  caller: string,
  model: Classifier,
  images: Dataset,
  cfg: PgdConfig,
  opts: LabelDistributionOptions,
  keep?: (adv: tf.Tensor4D, start: number) => void,
): { clean: Int32Array; adversarial: Int32Array } {
  validatePgd(cfg);
  if (cfg.targeted) throw new Error(`${caller}: the observation is about untargeted PGD; got pgd.targeted = true`);
  if (model.config.numClasses !== images.classNames.length) {
    throw new Error(`${caller}: the model has ${model.config.numClasses} classes, ${images.name} has ${images.classNames.length}`);
  }
  const n = images.shape[0];
  const clean = new Int32Array(n);
  const adversarial = new Int32Array(n);
  forEachBatch(images, range(n), { ...opts, label: 'adversarial labels' }, (x, y, { start }) => {
    clean.set(readPredictions(model, x), start);
    const adv = pgd(model, x, y, cfg, opts.rng?.fork(`batch-${start / opts.batchSize}`));
    try {
      adversarial.set(readPredictions(model, adv), start);
      keep?.(adv, start);
    } finally {
      tf.dispose(adv);
    }
  });
  return { clean, adversarial };
}

/** Runs untargeted PGD against `model` on every image of `images` and keeps the adversarial examples. */
export function adversarialExamples(model: Classifier, images: Dataset, cfg: PgdConfig, opts: LabelDistributionOptions): AdversarialSet {
  const size = imageSize(images);
  const pixels = new Float32Array(images.shape[0] * size);
  const { clean, adversarial } = attackAll('adversarialExamples', model, images, cfg, opts, (adv, start) => pixels.set(adv.dataSync(), start * size));
  return { images: pixels, shape: [...images.shape], cleanPredictions: clean, adversarialPredictions: adversarial };
}

/** Throws, naming `option`, unless `set` holds one adversarial example per image of `images`, of the same shape. */
export function checkAdversarialSet(set: AdversarialSet, images: Dataset, option: string): void {
  const [n, h, w, c] = images.shape;
  const [sn, sh, sw, sc] = set.shape;
  if (sn !== n || sh !== h || sw !== w || sc !== c) {
    throw new Error(
      `${option}: expected the adversarial examples of the ${n} images of ${images.name}, each ${h}×${w}×${c}; got ${sn} images of ${sh}×${sw}×${sc}`,
    );
  }
  if (set.images.length !== n * h * w * c || set.cleanPredictions.length !== n || set.adversarialPredictions.length !== n) {
    throw new Error(
      `${option}: shape [${set.shape}] but ${set.images.length} pixels, ${set.cleanPredictions.length} clean and ${set.adversarialPredictions.length} adversarial predictions`,
    );
  }
}

/** The adversarial examples of the images at `indices` of the set's dataset, as a batch; the caller owns it. */
export function adversarialBatch(set: AdversarialSet, indices: ArrayLike<number>): tf.Tensor4D {
  const [, h, w, c] = set.shape;
  const size = h * w * c;
  const out = new Float32Array(indices.length * size);
  for (let b = 0; b < indices.length; b++) out.set(set.images.subarray(indices[b] * size, (indices[b] + 1) * size), b * size);
  return tf.tensor4d(out, [indices.length, h, w, c]);
}

/** Where the adversarial examples of a set land, per true class of `images` (the dataset the set was made from). */
export function labelDistributionOf(images: Dataset, set: AdversarialSet): AdversarialLabelDistribution {
  checkAdversarialSet(set, images, 'labelDistributionOf');
  return tallyAdversarialLabels(images.classNames, images.labels, set.cleanPredictions, set.adversarialPredictions);
}

/**
 * Runs untargeted PGD against `model` on every image of `images` (a clean test subset) and counts
 * the adversarial examples' predicted labels per true class. Same attack as `adversarialExamples`,
 * without holding every adversarial image in memory.
 */
export function adversarialLabelDistribution(model: Classifier, images: Dataset, cfg: PgdConfig, opts: LabelDistributionOptions): AdversarialLabelDistribution {
  const { clean, adversarial } = attackAll('adversarialLabelDistribution', model, images, cfg, opts);
  return tallyAdversarialLabels(images.classNames, images.labels, clean, adversarial);
}

export type LabelMatrixKind = 'benign' | 'infected' | 'all2all';

/** A figure's matrix: one row per row label, one column per predicted class. */
export interface LabelMatrix {
  kind: LabelMatrixKind;
  title: string;
  rowTitle: string;
  rowLabels: string[];
  classNames: string[];
  counts: number[][];
  /** counts divided by the row total; each row sums to 1 (or is all 0 for an empty row) */
  shares: number[][];
  /** the column each row's target share is read from; null for benign rows */
  targets: (number | null)[];
  /** the true class a row is conditioned on; null for infected rows, which mix all classes */
  trueClasses: (number | null)[];
  /** adversarial examples that changed the prediction, and all adversarial examples, over all rows */
  changed: number;
  total: number;
}

function rowShares(counts: number[][]): number[][] {
  return counts.map((row) => {
    const sum = row.reduce((a, b) => a + b, 0);
    return row.map((v) => (sum > 0 ? v / sum : 0));
  });
}

/** Fig. 1a: a benign model, rows = true class. */
export function benignMatrix(dist: AdversarialLabelDistribution, title = 'Benign model: predicted labels of adversarial examples'): LabelMatrix {
  const k = dist.classNames.length;
  return {
    kind: 'benign',
    title,
    rowTitle: 'true label',
    rowLabels: [...dist.classNames],
    classNames: dist.classNames,
    counts: dist.byTrueClass.map((r) => [...r]),
    shares: rowShares(dist.byTrueClass),
    targets: new Array<number | null>(k).fill(null),
    trueClasses: Array.from({ length: k }, (_, y) => y),
    changed: dist.changed,
    total: dist.total,
  };
}

/**
 * Fig. 1b / Fig. 4 (all-to-one): one infected model per target label l; row l is the
 * distribution of the predicted labels of all of that model's adversarial examples.
 */
export function infectedMatrix(
  models: readonly { target: number; distribution: AdversarialLabelDistribution }[],
  title = 'Infected models: predicted labels of adversarial examples',
): LabelMatrix {
  if (models.length === 0) throw new Error('infectedMatrix: needs at least one infected model');
  const classNames = models[0].distribution.classNames;
  for (const m of models) {
    if (m.distribution.classNames.length !== classNames.length) throw new Error('infectedMatrix: the models disagree on the number of classes');
    if (!(Number.isInteger(m.target) && m.target >= 0 && m.target < classNames.length)) {
      throw new Error(`infectedMatrix: target label ${m.target} outside [0, ${classNames.length - 1}]`);
    }
  }
  const rowLabels = models.map((m) => classNames[m.target]);
  if (new Set(rowLabels).size !== rowLabels.length)
    throw new Error(`infectedMatrix: one model per target label, got targets ${models.map((m) => m.target).join(', ')}`);
  const counts = models.map((m) => [...m.distribution.overall]);
  return {
    kind: 'infected',
    title,
    rowTitle: 'target label of the infected model',
    rowLabels,
    classNames,
    counts,
    shares: rowShares(counts),
    targets: models.map((m) => m.target),
    trueClasses: models.map(() => null),
    changed: models.reduce((a, m) => a + m.distribution.changed, 0),
    total: models.reduce((a, m) => a + m.distribution.total, 0),
  };
}

/** Fig. 4 (all-to-all): one infected model, rows = true class y; its target is y + 1 mod K. */
export function allToAllMatrix(dist: AdversarialLabelDistribution, title = 'All-to-all infected model: predicted labels of adversarial examples'): LabelMatrix {
  const k = dist.classNames.length;
  return { ...benignMatrix(dist, title), kind: 'all2all', targets: Array.from({ length: k }, (_, y) => (y + 1) % k) };
}

export interface MatrixRowSummary {
  label: string;
  total: number;
  /** share predicted as the row's target (null: benign row) */
  targetShare: number | null;
  /** share still predicted as the true class (null: infected row) */
  trueClassShare: number | null;
  /**
   * Entropy of the wrong-class predictions (renormalised over the K − 1 wrong classes) divided by
   * log(K − 1): 1 = spread uniformly, 0 = all on one class. Null without a true class or without
   * a wrong prediction.
   */
  wrongClassEntropy: number | null;
  /** the largest wrong class's share of the wrong predictions; 1/(K − 1) when uniform */
  maxWrongClassShare: number | null;
}

export interface MatrixSummary {
  kind: LabelMatrixKind;
  rows: MatrixRowSummary[];
  minTargetShare: number | null;
  meanTargetShare: number | null;
  /** every row's target share ≥ 40% (the paper's claim); null for a benign matrix */
  meetsPaperClaim: boolean | null;
  meanWrongClassEntropy: number | null;
  maxWrongClassShare: number | null;
  /** fraction of adversarial examples whose prediction changed */
  attackSuccessRate: number;
}

export function summarizeMatrix(m: LabelMatrix): MatrixSummary {
  const k = m.classNames.length;
  const rows = m.counts.map((counts, r): MatrixRowSummary => {
    const total = counts.reduce((a, b) => a + b, 0);
    const target = m.targets[r];
    const y = m.trueClasses[r];
    let wrongClassEntropy: number | null = null;
    let maxWrongClassShare: number | null = null;
    if (y !== null) {
      const wrong = counts.filter((_, c) => c !== y);
      const wrongTotal = wrong.reduce((a, b) => a + b, 0);
      if (wrongTotal > 0) {
        const h = wrong.reduce((a, v) => (v > 0 ? a - (v / wrongTotal) * Math.log(v / wrongTotal) : a), 0);
        wrongClassEntropy = k > 2 ? h / Math.log(k - 1) : 0;
        maxWrongClassShare = Math.max(...wrong) / wrongTotal;
      }
    }
    return {
      label: m.rowLabels[r],
      total,
      targetShare: target === null || total === 0 ? null : counts[target] / total,
      trueClassShare: y === null || total === 0 ? null : counts[y] / total,
      wrongClassEntropy,
      maxWrongClassShare,
    };
  });
  const present = (xs: (number | null)[]) => xs.filter((v): v is number => v !== null);
  const targetShares = present(rows.map((r) => r.targetShare));
  const entropies = present(rows.map((r) => r.wrongClassEntropy));
  const maxWrong = present(rows.map((r) => r.maxWrongClassShare));
  const mean = (xs: number[]) => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const minTargetShare = targetShares.length > 0 ? Math.min(...targetShares) : null;
  return {
    kind: m.kind,
    rows,
    minTargetShare,
    meanTargetShare: mean(targetShares),
    meetsPaperClaim: minTargetShare === null ? null : minTargetShare >= PAPER_MIN_TARGET_SHARE,
    meanWrongClassEntropy: mean(entropies),
    maxWrongClassShare: maxWrong.length > 0 ? Math.max(...maxWrong) : null,
    attackSuccessRate: m.total > 0 ? m.changed / m.total : 0,
  };
}

/** The matrix as an annotated heatmap: colour = row share, text = share in percent. */
export function labelMatrixSpec(m: LabelMatrix): VegaLiteSpec {
  const cells = m.shares.flatMap((row, r) =>
    row.map((share, c) => ({ row: m.rowLabels[r], column: m.classNames[c], value: share, text: (100 * share).toFixed(0) })),
  );
  return heatmapSpec(cells, {
    title: m.title,
    subtitle: `${m.total} adversarial examples, ${((100 * m.changed) / Math.max(1, m.total)).toFixed(1)}% changed the prediction; cells: % of row`,
    rowTitle: m.rowTitle,
    columnTitle: 'predicted label of the adversarial example',
    rows: m.rowLabels,
    columns: m.classNames,
    valueTitle: 'share of row',
    valueFormat: '.0%',
    domain: [0, 1],
  });
}
