import { precisionRecall, type PrPoint, thinCurve } from '../analysis/precision-recall';
import { type LabelRule, targetLabel } from '../attacks/backdoor/trigger';
import { vegaLite, type VegaLiteSpec } from '../plots/vega';
import type { DefenseAnalysis, GroundTruth } from './defense';
import type { AdversarialEpochSummary, PbeIntermediate } from './pbe';

/**
 * Share of adversarial examples predicted as the attack's target for their given label:
 * all-to-one over the images not labelled with the target, all-to-all over all. This is the
 * paper's observation at work inside PBE: those examples, relabelled, unlearn the trigger.
 */
export function adversarialTargetShare(s: AdversarialEpochSummary, rule: LabelRule): number | null {
  let hits = 0;
  let total = 0;
  s.counts.forEach((row, given) => {
    if (rule.mode === 'all2one' && given === rule.target) return;
    const t = targetLabel(rule, given);
    for (const c of row) total += c;
    hits += row[t];
  });
  return total > 0 ? hits / total : null;
}

export interface PbeIterationMetrics {
  iteration: number;
  extraSize: number;
  /** share of the extra set that is poisoned (progressive setting; 0 by construction in the clean-data one) */
  poisonRate: number;
  /** in the iteration's first adversarial epoch; null without adversarial batches */
  adversarialTargetShare: number | null;
  /** ranking after the iteration: AP of calling clean images clean (Fig. 6) and poisoned ones poisoned; progressive setting only */
  apClean: number | null;
  apPoisoned: number | null;
}

export interface PbeAnalysisDetails {
  /** chance level of apPoisoned: the poisoned share of the training set */
  poisonedShare: number;
  curves: { iteration: number; identifying: 'clean' | 'poisoned'; points: PrPoint[] }[];
}

/** Per iteration: extra-set size and true poison rate, the observation's share, and the ranking's PR curves and AP. */
export function analyzePbe(r: PbeIntermediate, truth: GroundTruth): DefenseAnalysis & { details: PbeAnalysisDetails } {
  const isPoisoned = new Array<boolean>(truth.trainSize).fill(false);
  for (const i of truth.poisoned) isPoisoned[i] = true;
  const curves: PbeAnalysisDetails['curves'] = [];
  const rows: PbeIterationMetrics[] = r.iterations.map((it) => {
    const poisonedInExtra = r.setting === 'progressive' ? Array.from(it.extra).filter((i) => isPoisoned[i]).length : 0;
    const firstAdversarial = it.adversarial.find((s) => s !== null) ?? null;
    let apClean: number | null = null;
    let apPoisoned: number | null = null;
    if (it.scores && truth.poisoned.length > 0) {
      const clean = precisionRecall(
        it.scores,
        isPoisoned.map((p) => !p),
      );
      const poisoned = precisionRecall(
        Array.from(it.scores, (s) => -s),
        isPoisoned,
      );
      apClean = clean.ap;
      apPoisoned = poisoned.ap;
      curves.push({ iteration: it.iteration, identifying: 'clean', points: thinCurve(clean.points) });
      curves.push({ iteration: it.iteration, identifying: 'poisoned', points: thinCurve(poisoned.points) });
    }
    return {
      iteration: it.iteration,
      extraSize: it.extra.length,
      poisonRate: it.extra.length > 0 ? poisonedInExtra / it.extra.length : 0,
      adversarialTargetShare: firstAdversarial ? adversarialTargetShare(firstAdversarial, truth.rule) : null,
      apClean,
      apPoisoned,
    };
  });
  const details = { poisonedShare: truth.poisoned.length / truth.trainSize, curves };
  return { rows: rows as unknown as DefenseAnalysis['rows'], details, specs: curves.length > 0 ? { 'pbe-precision-recall': prCurvesSpec(details) } : {} };
}

/** Fig. 6: the ranking's precision–recall curve after each iteration, for finding clean images and for finding poisoned ones. */
export function prCurvesSpec(d: PbeAnalysisDetails): VegaLiteSpec {
  const values = d.curves.flatMap((c) =>
    c.points.map((p) => ({ iteration: `iteration ${c.iteration}`, identifying: `${c.identifying} images`, recall: p.recall, precision: p.precision })),
  );
  return vegaLite({
    title: {
      text: 'Ranking the training set by logit similarity (Fig. 6)',
      subtitle: `poisoned share ${(100 * d.poisonedShare).toFixed(1)}%: the chance precision for poisoned images`,
    },
    data: { values },
    facet: { column: { field: 'identifying', type: 'nominal', title: null, sort: ['clean images', 'poisoned images'] } },
    spec: {
      width: 260,
      height: 220,
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: { field: 'recall', type: 'quantitative', scale: { domain: [0, 1] } },
        y: { field: 'precision', type: 'quantitative', scale: { domain: [0, 1] } },
        color: { field: 'iteration', type: 'nominal' },
        tooltip: [{ field: 'iteration' }, { field: 'recall', format: '.3f' }, { field: 'precision', format: '.3f' }],
      },
    },
  } as Omit<VegaLiteSpec, '$schema'>);
}
