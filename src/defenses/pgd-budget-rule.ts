import type { Norm } from '../attacks/adversarial/pgd';
import { budgetPgdConfig } from '../analysis/budget-sweep';
import { type AdversarialLabelDistribution, adversarialLabelDistribution } from '../analysis/label-matrix';
import type { Classifier } from '../analysis/batches';
import type { Dataset } from '../data/dataset';
import type { ProgressSink } from '../progress';

/**
 * A PGD budget a defender can choose without knowing the attack or its target (the paper sets
 * one per attack, §4.1, and gives no values): from a small grid of norms and radii, the budget
 * under which the model's untargeted adversarial examples of the defender's own images are most
 * concentrated on one label. A backdoor gives PGD a short path to its target (the paper's
 * observation); a benign model spreads its adversarial examples over the wrong classes.
 */
export interface BudgetCandidate {
  norm: Norm;
  eps: number;
}

/** The observe command's sweep grid (L∞ 2–16/255, L2 0.25–2), the range the observation was measured over. */
export const DEFAULT_BUDGET_GRID: readonly BudgetCandidate[] = [
  ...[2, 4, 6, 8, 12, 16].map((v) => ({ norm: 'linf' as const, eps: v / 255 })),
  ...[0.25, 0.5, 1, 2].map((eps) => ({ norm: 'l2' as const, eps })),
];

/**
 * Ours: a budget must mislead at least half the defender's images to be eligible, so that one
 * label's share of its adversarial examples rests on many of them, not on a few.
 */
export const DEFAULT_MIN_MISCLASSIFIED = 0.5;

export interface BudgetRuleOptions {
  grid?: readonly BudgetCandidate[];
  minMisclassified?: number;
  /** PGD iterations; the step is ε/5 (the reference code's rule, budgetPgdConfig) */
  iterations?: number;
  batchSize: number;
  progress?: ProgressSink;
}

/** How concentrated one budget's adversarial examples are. */
export interface BudgetScore extends BudgetCandidate {
  /** share of the images whose adversarial example is predicted as a label other than their own */
  misclassified: number;
  /** the label most of the misclassified adversarial examples go to */
  label: number;
  /** that label's share of the misclassified adversarial examples (1/(K−1) if they spread evenly) */
  concentration: number;
}

/** The label most misclassified adversarial examples land on, and its share of them (0 when none is misclassified). */
export function concentration(d: AdversarialLabelDistribution): { label: number; share: number; misclassified: number } {
  const k = d.classNames.length;
  // Off-diagonal counts only: an image of class c predicted as c was not misled.
  const into = Array.from({ length: k }, (_, c) => d.byTrueClass.reduce((sum, row, y) => sum + (y === c ? 0 : row[c]), 0));
  const total = into.reduce((a, b) => a + b, 0);
  let label = 0;
  for (let c = 1; c < k; c++) if (into[c] > into[label]) label = c;
  return { label, share: total > 0 ? into[label] / total : 0, misclassified: d.total > 0 ? total / d.total : 0 };
}

/**
 * Scores every budget of the grid on `images` (the defender's extra set) against `model`, and
 * chooses the most concentrated among those that mislead at least `minMisclassified` of the
 * images; ties go to the earlier candidate of the grid. Null when no budget is eligible.
 */
export function chooseBudget(model: Classifier, images: Dataset, opts: BudgetRuleOptions): { chosen: BudgetScore | null; scores: BudgetScore[] } {
  const grid = opts.grid ?? DEFAULT_BUDGET_GRID;
  const minMisclassified = opts.minMisclassified ?? DEFAULT_MIN_MISCLASSIFIED;
  if (grid.length === 0) throw new Error('budget rule grid: expected at least one {norm, eps}');
  for (const c of grid) {
    if (c.norm !== 'linf' && c.norm !== 'l2') throw new Error(`budget rule grid: norm expected 'linf' or 'l2', got '${c.norm as string}'`);
    if (!(Number.isFinite(c.eps) && c.eps > 0)) throw new Error(`budget rule grid: eps expected a number > 0, got ${c.eps}`);
  }
  if (!(minMisclassified >= 0 && minMisclassified <= 1)) throw new Error(`budget rule minMisclassified: expected a share in [0, 1], got ${minMisclassified}`);
  if (images.shape[0] === 0) throw new Error(`budget rule: ${images.name} has no image to attack`);
  const scores = grid.map(({ norm, eps }) => {
    const d = adversarialLabelDistribution(model, images, budgetPgdConfig(norm, eps, opts.iterations ?? 7), {
      batchSize: opts.batchSize,
      progress: opts.progress,
    });
    const c = concentration(d);
    return { norm, eps, misclassified: c.misclassified, label: c.label, concentration: c.share };
  });
  let chosen: BudgetScore | null = null;
  for (const s of scores) if (s.misclassified >= minMisclassified && (chosen === null || s.concentration > chosen.concentration)) chosen = s;
  return { chosen, scores };
}
