/** What PBE records on the way (its intermediate results), for `analyzePbe` to read against the ground truth. */

/** Per epoch with adversarial batches: counts[given label][prediction on its adversarial example]. */
export interface AdversarialEpochSummary {
  adversarial: number;
  counts: number[][];
}

export interface PbeIteration {
  /** 1-based */
  iteration: number;
  /** positions in the defender's training set (progressive) or in the clean extra set (clean-data) */
  extra: Int32Array;
  /** per training image, cosine similarity of the infected and the purified model's logits after this iteration; progressive only */
  scores: Float32Array | null;
  /** per fine-tuning epoch, the adversarial examples' labels against their predictions (null for clean epochs) */
  adversarial: (AdversarialEpochSummary | null)[];
  fromCache: boolean;
  trainSeconds: number;
}

/**
 * PBE's two settings (docs/paper-map.md): 'clean-data', the paper's setting A, where the defender
 * has a clean extra set (`--clean-data`, the tables' "PBE w/ clean"), fine-tuned on once; and
 * 'progressive', setting B, Algorithm 1 on the poisoned training set alone ("PBE w/o clean").
 */
export type PbeSetting = 'clean-data' | 'progressive';

export interface PbeIntermediate {
  setting: PbeSetting;
  iterations: PbeIteration[];
}
