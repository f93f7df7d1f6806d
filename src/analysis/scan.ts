import { type PgdConfig, validatePgd } from '../attacks/adversarial/pgd';
import type { Dataset } from '../data/dataset';
import { inMads, robustDeviations } from '../defenses/anomaly-index';
import { type VegaLiteSpec, vegaLite } from '../plots/vega';
import type { ProgressSink } from '../progress';
import type { Rng } from '../rng';
import { type Classifier, forEachBatch, range, readPredictions } from './batches';
import { adversarialExamples, type AdversarialLabelDistribution, tallyAdversarialLabels } from './label-matrix';

/**
 * The library's verdict threshold on the robust z-score (in MADs) when none is given: Neural
 * Cleanse's 2. The commands take the dataset's own (SCAN_THRESHOLDS in experiments/scan), chosen
 * on benign models the evaluation does not score (docs/measurements.md, "The adversarial scan").
 */
export const SCAN_THRESHOLD = 2;

export type ScanVerdict = 'benign' | 'all2one' | 'all2all';

/** One label's share of the adversarial examples of the other classes, and its robust z-score among the labels. */
export interface LabelScore {
  label: number;
  name: string;
  /** adversarial examples of images predicted as another class that land on this label, over those images */
  excessShare: number;
  /** (excessShare − median) / (1.4826 · MAD) over the labels */
  score: number;
}

/**
 * One cyclic relabelling y → y + shift: its mean share per source class, its excess over the
 * reverse relabelling y → y − shift, and that excess in units of the shifts' own spread.
 */
export interface ShiftScore {
  shift: number;
  meanShare: number;
  /** meanShare − the mean share of y → y − shift */
  directedExcess: number;
  /** directedExcess / (√2 · the scaled MAD of the shifts' mean shares) */
  score: number;
}

/** What the scoring reads: the adversarial predictions tallied per clean prediction. */
export interface ScanScores {
  labels: LabelScore[];
  /** median and scaled MAD of the labels' excess shares */
  median: number;
  mad: number;
  /** the shifts 1 … K − 1, and the one with the highest score */
  shifts: ShiftScore[];
  /** the scaled MAD of the shifts' mean shares: the yardstick of a directed excess */
  shiftMad: number;
  bestShift: ShiftScore;
  /** the larger of the top label's and the best shift's score: what a ROC sweeps */
  score: number;
  verdict: ScanVerdict;
  /** the top label when the verdict is all2one; null otherwise */
  suspectedTarget: number | null;
  threshold: number;
}

export interface ScanOptions {
  pgd: PgdConfig;
  /** default 128 */
  batchSize?: number;
  /** default SCAN_THRESHOLD */
  threshold?: number;
  /** needed when pgd.randomStart */
  rng?: Rng;
  progress?: ProgressSink;
}

export interface ScanResult extends ScanScores {
  images: number;
  /** per clean prediction (rows) where the adversarial examples land (columns): what is scored */
  byPrediction: AdversarialLabelDistribution;
  /** the same per true class, from the images' labels; reported, never scored */
  byTrueClass: AdversarialLabelDistribution;
  /** wall time of the clean predictions and PGD */
  seconds: number;
}

/** A share with no denominator is 0: a class the model never predicts sends nothing anywhere. */
const share = (num: number, den: number) => (den > 0 ? num / den : 0);

/**
 * The scores of a transition matrix `byPrediction[y][c]` (adversarial examples of images the model
 * predicts as y that it then predicts as c). Each label's excess share is what the other classes
 * send it; an all-to-one target stands out of the median by many MADs. Each cyclic shift's mean
 * row share, beyond its reverse's, reads an all-to-all backdoor, which spreads over every label
 * and so hides from the first test. The two verdicts are exclusive: the stronger outlier names the kind.
 */
export function scoreTransitions(byPrediction: readonly (readonly number[])[], classNames: readonly string[], threshold = SCAN_THRESHOLD): ScanScores {
  const k = classNames.length;
  if (k < 3) throw new Error(`scan: needs at least 3 classes to compare, got ${k}`);
  if (byPrediction.length !== k || byPrediction.some((row) => row.length !== k)) throw new Error(`scan: expected a ${k}×${k} transition matrix`);
  if (!(threshold > 0 && Number.isFinite(threshold))) throw new Error(`scan threshold: expected a finite number > 0, got ${threshold}`);
  const rowTotals = byPrediction.map((row) => row.reduce((a, b) => a + b, 0));
  const total = rowTotals.reduce((a, b) => a + b, 0);
  if (total === 0) throw new Error('scan: no adversarial examples to score');

  const excess = classNames.map((_, c) => {
    let landed = 0;
    let from = 0;
    for (let y = 0; y < k; y++) {
      if (y === c) continue;
      landed += byPrediction[y][c];
      from += rowTotals[y];
    }
    return share(landed, from);
  });
  const labelDev = robustDeviations(excess);
  const labels = excess.map((e, c) => ({ label: c, name: classNames[c], excessShare: e, score: labelDev.deviations[c] }));

  // Natural confusions are mutual (MNIST's 3 ↔ 8 and 4 ↔ 9 both lie on y → y + 5; CIFAR-10's
  // automobile ↔ truck and airplane ↔ ship on ±2): an all-to-all backdoor's relabelling runs one
  // way. So a shift is scored by what it carries beyond its reverse. The yardstick is the spread of
  // the shifts' mean shares (√2 of it, the spread of a difference of two), not the spread of the
  // directed excesses themselves: those come in ± pairs whose MAD rests on four magnitudes and can
  // be near 0 on a benign model (docs/measurements.md, "The shift test rescaled").
  const rows = Array.from(range(k)).filter((y) => rowTotals[y] > 0);
  const meanShare = (d: number) => rows.reduce((sum, y) => sum + share(byPrediction[y][(y + d) % k], rowTotals[y]), 0) / rows.length;
  const shares = Array.from({ length: k }, (_, d) => (d === 0 ? 0 : meanShare(d)));
  const shiftMad = robustDeviations(shares.slice(1)).mad;
  const shifts = Array.from({ length: k - 1 }, (_, i) => {
    const directedExcess = shares[i + 1] - shares[k - i - 1];
    return { shift: i + 1, meanShare: shares[i + 1], directedExcess, score: inMads(directedExcess, Math.SQRT2 * shiftMad) };
  });

  const top = labels.reduce((a, b) => (b.score > a.score ? b : a));
  const bestShift = shifts.reduce((a, b) => (b.score > a.score ? b : a));
  const score = Math.max(top.score, bestShift.score);
  const verdict: ScanVerdict = score <= threshold ? 'benign' : top.score >= bestShift.score ? 'all2one' : 'all2all';
  return {
    labels,
    median: labelDev.median,
    mad: labelDev.mad,
    shifts,
    shiftMad,
    bestShift,
    score,
    verdict,
    suspectedTarget: verdict === 'all2one' ? top.label : null,
    threshold,
  };
}

export function checkScanImages(images: Dataset): void {
  if (images.shape[0] === 0) throw new Error(`scan: the sample ${images.name} is empty; give at least one clean image`);
}

/**
 * Is `model` backdoored, and toward which label? Untargeted PGD from each clean image, with the
 * model's own prediction as the label to move away from (no ground truth needed); where the
 * adversarial examples land, per clean prediction, is scored by scoreTransitions. The images'
 * labels only fill the report's per-true-class table.
 */
export function scan(model: Classifier, images: Dataset, opts: ScanOptions): ScanResult {
  checkScanImages(images);
  validatePgd(opts.pgd);
  if (!(opts.pgd.eps > 0)) throw new Error(`scan: pgd.eps must be > 0, got ${opts.pgd.eps}: a budget of 0 moves no image`);
  if (!(opts.pgd.iterations > 0)) throw new Error(`scan: pgd.iterations must be ≥ 1, got ${opts.pgd.iterations}`);
  if (opts.pgd.targeted) throw new Error('scan: the scan runs untargeted PGD; got pgd.targeted = true');
  if (model.config.numClasses !== images.classNames.length)
    throw new Error(`scan: the model has ${model.config.numClasses} classes, ${images.name} has ${images.classNames.length}`);
  if (opts.threshold !== undefined && !(opts.threshold > 0 && Number.isFinite(opts.threshold)))
    throw new Error(`scan threshold: expected a finite number > 0, got ${opts.threshold}`);
  const batchSize = opts.batchSize ?? 128;
  const t0 = Date.now();
  const n = images.shape[0];
  const predicted = new Int32Array(n);
  forEachBatch(images, range(n), { batchSize, label: 'scan: clean predictions' }, (x, _y, { start }) => predicted.set(readPredictions(model, x), start));
  const asPredicted: Dataset = { ...images, labels: predicted, name: `${images.name}-as-predicted` };
  const adv = adversarialExamples(model, asPredicted, opts.pgd, { batchSize, rng: opts.rng, progress: opts.progress });
  const seconds = (Date.now() - t0) / 1000;
  const byPrediction = tallyAdversarialLabels(images.classNames, predicted, predicted, adv.adversarialPredictions);
  const byTrueClass = tallyAdversarialLabels(images.classNames, images.labels, predicted, adv.adversarialPredictions);
  return scoreScan({ images: n, byPrediction, byTrueClass, seconds }, opts.threshold);
}

/** What a scan measured, before scoring: what a cache keeps, so that a change of threshold rescores it. */
export type ScanMeasurement = Pick<ScanResult, 'images' | 'byPrediction' | 'byTrueClass' | 'seconds'>;

export function scoreScan(m: ScanMeasurement, threshold = SCAN_THRESHOLD): ScanResult {
  const { images, byPrediction, byTrueClass, seconds } = m;
  return { ...scoreTransitions(byPrediction.byTrueClass, byPrediction.classNames, threshold), images, byPrediction, byTrueClass, seconds };
}

/** Each label's score as bars, the threshold as a rule: the per-label figure of notebook 08. */
export function scanScoresSpec(scores: Pick<ScanScores, 'labels' | 'threshold'>, title: string): VegaLiteSpec {
  // An infinite score (MAD 0) is drawn at the top of the finite ones.
  const finite = scores.labels.map((l) => l.score).filter(Number.isFinite);
  const cap = Math.max(scores.threshold, ...finite) + 1;
  const values = scores.labels.map((l) => ({
    label: l.name,
    score: Number.isFinite(l.score) ? l.score : Math.sign(l.score) * cap,
    excessShare: l.excessShare,
  }));
  return vegaLite({
    title,
    width: 300,
    height: 180,
    layer: [
      {
        data: { values },
        mark: 'bar',
        encoding: {
          x: { field: 'label', type: 'nominal', sort: null, title: 'label' },
          y: { field: 'score', type: 'quantitative', title: 'robust z-score of the excess share' },
          tooltip: [{ field: 'label' }, { field: 'score', format: '.2f' }, { field: 'excessShare', format: '.3f' }],
        },
      },
      {
        data: { values: [{ threshold: scores.threshold }] },
        mark: { type: 'rule', color: 'firebrick', strokeDash: [4, 3] },
        encoding: { y: { field: 'threshold', type: 'quantitative' } },
      },
    ],
  } as Omit<VegaLiteSpec, '$schema'>);
}
