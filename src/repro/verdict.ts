import { type AnyClaim, CLAIMS, type Comparison, type ScaleRule } from './claims';
import type { ReproScale } from './settings';
import type { NotebookName } from './values';

export type Verdict = 'holds' | 'fails' | 'known not to hold' | 'not measured';
export const VERDICTS: readonly Verdict[] = ['holds', 'fails', 'known not to hold', 'not measured'];

export interface ClaimResult {
  claim: AnyClaim;
  rule: ScaleRule;
  measured: number | null;
  threshold: number;
  verdict: Verdict;
  /** the verdict makes the suite fail */
  blocking: boolean;
}

/** The metrics each notebook that ran wrote (`values.metrics`); a notebook that did not run is absent. */
export type MeasuredMetrics = Partial<Record<NotebookName, Readonly<Record<string, number | null>>>>;

/** The bound moved by the tolerance in the claim's disfavour. */
export function threshold(c: AnyClaim, rule: ScaleRule): number {
  return c.comparison === '>=' || c.comparison === '>' ? c.bound - rule.tolerance : c.bound + rule.tolerance;
}

export function compare(value: number, comparison: Comparison, t: number): boolean {
  switch (comparison) {
    case '>=':
      return value >= t;
    case '>':
      return value > t;
    case '<=':
      return value <= t;
    case '<':
      return value < t;
  }
}

/** Every claim on `notebook` whose metric is not among those it wrote, as a sentence each; none when the contract holds. */
export function contractViolations(notebook: NotebookName, written: Readonly<Record<string, unknown>>, claims: readonly AnyClaim[] = CLAIMS): string[] {
  return claims
    .filter((c) => c.notebook === notebook && !Object.prototype.hasOwnProperty.call(written, c.metric))
    .map((c) => `claim ${c.id} reads metric '${c.metric}', which ${notebook} did not write`);
}

/**
 * Checks every claim of the notebooks that ran at a scale. A notebook that ran but did not
 * write a claimed metric breaks the contract between the notebooks and the claims: an error
 * naming both, not a silent "not measured".
 */
export function checkClaims(scale: ReproScale, metrics: MeasuredMetrics, claims: readonly AnyClaim[] = CLAIMS): ClaimResult[] {
  const broken = (Object.keys(metrics) as NotebookName[]).flatMap((n) => contractViolations(n, metrics[n]!, claims));
  if (broken.length) throw new Error(`${broken.join('; ')} (values.metrics of each notebook)`);
  return claims.map((claim) => {
    const rule = claim.scales[scale];
    const t = threshold(claim, rule);
    const written = metrics[claim.notebook];
    const measured = written?.[claim.metric] ?? null;
    const ok = measured !== null && Number.isFinite(measured) && compare(measured, claim.comparison, t);
    const verdict: Verdict = measured === null ? 'not measured' : ok ? 'holds' : rule.knownNotToHold ? 'known not to hold' : 'fails';
    return { claim, rule, measured, threshold: t, verdict, blocking: rule.mustHold && written !== undefined && !ok };
  });
}
