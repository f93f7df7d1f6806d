import { type PbeAnalysisDetails, type PbeIterationMetrics, prCurvesSpec } from '../analysis/pbe-ranking';
import { precisionRecall, thinCurve } from '../analysis/precision-recall';
import { type LabelRule, targetLabel } from '../attacks/backdoor/trigger';
import type { DefenseAnalysis, GroundTruth } from './defense';
import type { AdversarialEpochSummary, PbeIntermediate } from './pbe-intermediate';

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

/** Per iteration: extra-set size and true poison rate, the observation's share, and the ranking's PR curves and AP. */
export function analyzePbe(r: PbeIntermediate, truth: GroundTruth): DefenseAnalysis<PbeIterationMetrics, PbeAnalysisDetails> & { details: PbeAnalysisDetails } {
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
  return { rows, details, specs: curves.length > 0 ? { 'pbe-precision-recall': prCurvesSpec(details) } : {} };
}
