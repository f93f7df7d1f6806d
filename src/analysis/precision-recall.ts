export interface PrPoint {
  /** the score at or above which images are called positive */
  threshold: number;
  precision: number;
  recall: number;
}

export interface PrCurve {
  /** one point per distinct score, from the highest threshold down */
  points: PrPoint[];
  /** step-wise average precision: Σ (R_k − R_{k−1}) · P_k over the distinct thresholds */
  ap: number;
  positives: number;
  total: number;
}

/**
 * Precision and recall of "positive" when every image scoring at or above a threshold is called
 * positive, at each distinct score, and the standard step-wise average precision (as
 * scikit-learn's average_precision_score). Tied scores form one threshold: an order among equal
 * scores cannot be claimed, so they enter the curve together.
 */
export function precisionRecall(scores: ArrayLike<number>, positive: ArrayLike<boolean>): PrCurve {
  const n = scores.length;
  if (positive.length !== n) throw new Error(`precisionRecall: ${n} scores but ${positive.length} labels`);
  let positives = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) throw new Error(`precisionRecall: score ${i} is NaN`);
    if (positive[i]) positives++;
  }
  if (positives === 0) throw new Error('precisionRecall: no positive example, so recall is undefined');
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const points: PrPoint[] = [];
  let tp = 0;
  let fp = 0;
  let ap = 0;
  let lastRecall = 0;
  for (let k = 0; k < n;) {
    const threshold = scores[order[k]];
    while (k < n && scores[order[k]] === threshold) {
      if (positive[order[k]]) tp++;
      else fp++;
      k++;
    }
    const precision = tp / (tp + fp);
    const recall = tp / positives;
    ap += (recall - lastRecall) * precision;
    lastRecall = recall;
    points.push({ threshold, precision, recall });
  }
  return { points, ap, positives, total: n };
}

/** At most `max` points of a curve, evenly spaced in rank, always keeping the first and last: enough to draw it. */
export function thinCurve(points: readonly PrPoint[], max = 200): PrPoint[] {
  if (points.length <= max) return [...points];
  const out: PrPoint[] = [];
  for (let j = 0; j < max; j++) out.push(points[Math.round((j * (points.length - 1)) / (max - 1))]);
  return out;
}
