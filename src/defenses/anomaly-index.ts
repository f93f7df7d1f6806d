/**
 * Neural Cleanse's outlier test (Wang et al., S&P 2019, §IV-C; `mad_outlier_detection.py` of
 * bolunwang/backdoor): the L1 norms of the reversed triggers, one per class, are compared with
 * their median through the median absolute deviation scaled by 1.4826 (the consistency constant
 * that makes it estimate σ for normal data). A class whose norm lies *below* the median by more
 * than `threshold` such deviations (2 in the paper) is flagged as a backdoor target: only small
 * triggers are suspicious, so large outliers are never flagged.
 */
export const MAD_CONSISTENCY = 1.4826;
export const DEFAULT_ANOMALY_THRESHOLD = 2;

export interface AnomalyReport {
  /** the reversed-trigger L1 norm of each class, as given */
  norms: number[];
  median: number;
  /** 1.4826 × median(|norm − median|) */
  mad: number;
  /** |norm − median| / mad per class; 0 at the median, Infinity off it when mad is 0 */
  indices: number[];
  /** the paper's single "anomaly index": the index of the smallest norm */
  anomalyIndex: number;
  /** flagged classes (norm below the median, index above the threshold), smallest norm first */
  flagged: number[];
  threshold: number;
}

/** numpy's median: the middle value, or the mean of the two middle values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median: no values');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The median, the MAD scaled by MAD_CONSISTENCY, and each value's signed distance from the median in such MADs. */
export interface RobustDeviations {
  median: number;
  mad: number;
  /** (value − median) / mad; 0 at the median, ±Infinity off it when mad is 0 */
  deviations: number[];
}

/**
 * The robust z-score both detectors use: Neural Cleanse on its reversed-trigger norms, the
 * adversarial scan (analysis/scan.ts) on its labels' excess shares.
 */
export function robustDeviations(values: readonly number[]): RobustDeviations {
  const med = median(values);
  const mad = MAD_CONSISTENCY * median(values.map((v) => Math.abs(v - med)));
  return { median: med, mad, deviations: values.map((v) => inMads(v - med, mad)) };
}

/** A deviation in units of a (scaled) MAD; with a MAD of 0 (more than half the values equal) any nonzero deviation is an infinitely strong outlier. */
export function inMads(deviation: number, mad: number): number {
  return deviation === 0 ? 0 : mad === 0 ? Math.sign(deviation) * Infinity : deviation / mad;
}

export function anomalyIndices(norms: readonly number[], threshold = DEFAULT_ANOMALY_THRESHOLD): AnomalyReport {
  if (norms.length < 3) throw new Error(`anomaly index: needs the norms of at least 3 classes, got ${norms.length}`);
  const bad = norms.findIndex((v) => !Number.isFinite(v) || v < 0);
  if (bad >= 0) throw new Error(`anomaly index: norm of class ${bad} is ${norms[bad]}; expected a finite number ≥ 0`);
  if (!(threshold > 0)) throw new Error(`anomaly index: threshold must be > 0, got ${threshold}`);
  const { median: med, mad, deviations } = robustDeviations(norms);
  const indices = deviations.map(Math.abs);
  const smallest = norms.indexOf(Math.min(...norms));
  const flagged = norms
    .map((v, k) => ({ v, k }))
    .filter(({ v, k }) => v < med && indices[k] > threshold)
    .sort((a, b) => a.v - b.v || a.k - b.k)
    .map(({ k }) => k);
  return { norms: [...norms], median: med, mad, indices, anomalyIndex: indices[smallest], flagged, threshold };
}
