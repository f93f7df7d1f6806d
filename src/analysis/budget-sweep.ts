import type { Norm, PgdConfig } from '../attacks/adversarial/pgd';
import type { LabelRule, Trigger } from '../attacks/backdoor/trigger';
import type { Dataset } from '../data/dataset';
import { vegaLite, type VegaLiteSpec } from '../plots/vega';
import type { ProgressSink } from '../progress';
import type { Rng } from '../rng';
import type { Classifier } from './batches';
import { FEATURE_EXTRACTORS, type FeatureExtractorChoice, featureDistances } from './feature-distance';

/**
 * How the step follows the budget, with the iteration count fixed:
 * - 'ref': step = ε/5, the reference code's rule (7 iterations travel 1.4ε, so the ball's edge is
 *   reachable from any start);
 * - 'madry': step = 2.5ε/iterations (Madry et al.), 0.36ε for 7 iterations.
 */
export type StepRule = 'ref' | 'madry';

export function budgetPgdConfig(norm: Norm, eps: number, iterations = 7, rule: StepRule = 'ref', randomStart = false): PgdConfig {
  if (rule !== 'ref' && rule !== 'madry') throw new Error(`budget stepRule: expected 'ref' or 'madry', got '${rule as string}'`);
  return { norm, eps, step: rule === 'ref' ? eps / 5 : (2.5 * eps) / iterations, iterations, randomStart, targeted: false };
}

export interface SweepAttack {
  name: string;
  infected: Classifier;
  trigger: Pick<Trigger, 'apply'>;
  rule: LabelRule;
}

export interface BudgetSweepOptions {
  /** budgets per norm, e.g. { linf: [0.05, 0.1, 0.2], l2: [0.5, 1, 2] } */
  eps: Partial<Record<Norm, readonly number[]>>;
  iterations?: number;
  stepRule?: StepRule;
  randomStart?: boolean;
  /** which f the distances use (both are computed, one is reported); default 'infected' */
  extractor?: FeatureExtractorChoice;
  batchSize: number;
  rng?: Rng;
  progress?: ProgressSink;
}

/** One (attack, norm, ε) cell: tidy, one value per column. */
export interface BudgetRow {
  attack: string;
  norm: Norm;
  eps: number;
  step: number;
  iterations: number;
  /** images measured (the target class left out for all-to-one) */
  n: number;
  /** share of the infected model's adversarial examples predicted as each image's backdoor target */
  targetShareInfected: number;
  /** the same for the benign model: the chance level of the target */
  targetShareBenign: number;
  /** share of adversarial examples that changed the prediction */
  successInfected: number;
  successBenign: number;
  extractor: FeatureExtractorChoice;
  dBenign: number;
  dInfected: number;
  /** dInfected / dBenign */
  ratio: number;
  /** ‖f(x) − f(xᵗ)‖ in the space of D_infected */
  cleanToTrigger: number;
}

/**
 * The observation as a function of the perturbation budget: for each attack, norm and ε, the
 * target share of both models' untargeted adversarial examples and the feature distances of
 * Table 5, from one PGD run per model (`featureDistances` measures both).
 */
export function budgetSweep(benign: Classifier, attacks: readonly SweepAttack[], images: Dataset, opts: BudgetSweepOptions): BudgetRow[] {
  const extractor = opts.extractor ?? 'infected';
  if (!FEATURE_EXTRACTORS.includes(extractor))
    throw new Error(`budgetSweep.extractor: expected one of ${FEATURE_EXTRACTORS.join(', ')}, got '${extractor as string}'`);
  const norms = (Object.keys(opts.eps) as Norm[]).filter((norm) => (opts.eps[norm] ?? []).length > 0);
  if (norms.length === 0) throw new Error('budgetSweep.eps: give at least one budget, e.g. { linf: [0.1] }');
  if (attacks.length === 0) throw new Error('budgetSweep: give at least one infected model');
  const iterations = opts.iterations ?? 7;
  const rows: BudgetRow[] = [];
  for (const attack of attacks) {
    for (const norm of norms) {
      for (const eps of opts.eps[norm]!) {
        const cfg = budgetPgdConfig(norm, eps, iterations, opts.stepRule ?? 'ref', opts.randomStart ?? false);
        const fd = featureDistances({ benign, infected: attack.infected }, images, attack.trigger, cfg, {
          rule: attack.rule,
          batchSize: opts.batchSize,
          rng: opts.rng?.fork(`${attack.name}/${norm}/${eps}`),
          progress: opts.progress,
        });
        const s = fd[extractor];
        rows.push({
          attack: attack.name,
          norm,
          eps,
          step: cfg.step,
          iterations,
          n: fd.n,
          targetShareInfected: fd.targetShare.infected,
          targetShareBenign: fd.targetShare.benign,
          successInfected: fd.labels.infected.changed / fd.n,
          successBenign: fd.labels.benign.changed / fd.n,
          extractor,
          dBenign: s.dBenign,
          dInfected: s.dInfected,
          ratio: s.ratio,
          cleanToTrigger: s.cleanToTrigger.infectedTerm,
        });
      }
    }
  }
  return rows;
}

/** Target share (top) and feature distance to xᵗ (bottom) against ε, one column per norm. */
export function budgetSweepSpec(rows: readonly BudgetRow[]): VegaLiteSpec {
  const share = 'share of adversarial examples on the target';
  const distance = 'feature distance to the triggered image';
  const values = rows.flatMap((r) => [
    { attack: r.attack, norm: r.norm, eps: r.eps, panel: share, model: 'infected', value: r.targetShareInfected },
    { attack: r.attack, norm: r.norm, eps: r.eps, panel: share, model: 'benign', value: r.targetShareBenign },
    { attack: r.attack, norm: r.norm, eps: r.eps, panel: distance, model: 'infected', value: r.dInfected },
    { attack: r.attack, norm: r.norm, eps: r.eps, panel: distance, model: 'benign', value: r.dBenign },
  ]);
  const extractor = rows[0]?.extractor ?? 'infected';
  return vegaLite({
    title: {
      text: 'The observation against the perturbation budget',
      subtitle: `${rows[0]?.iterations ?? '?'} PGD iterations; distances with f = ${extractor === 'infected' ? 'the infected model' : "each model's own"}`,
    },
    data: { values },
    facet: {
      row: { field: 'panel', type: 'nominal', title: null, sort: [share, distance] },
      column: { field: 'norm', type: 'nominal', title: 'norm', sort: ['linf', 'l2'] },
    },
    spec: {
      width: 240,
      height: 170,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'eps', type: 'quantitative', title: 'ε' },
        y: { field: 'value', type: 'quantitative', title: null },
        color: { field: 'attack', type: 'nominal' },
        strokeDash: { field: 'model', type: 'nominal', sort: ['infected', 'benign'], title: 'PGD against' },
        tooltip: [{ field: 'attack' }, { field: 'model' }, { field: 'eps' }, { field: 'value', format: '.3f' }],
      },
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
  } as Omit<VegaLiteSpec, '$schema'>);
}
