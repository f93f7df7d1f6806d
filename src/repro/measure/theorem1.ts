import type { Cache } from '../../cache';
import { theorem1Report, type Theorem1ReportResult } from '../../experiments/theorem1';
import { THEOREM1 } from '../../paper/numbers';
import { pct } from '../format';
import type { ReproSettings } from '../settings';

/** The strongest trigger's measurement: what Theorem 1's claims read. */
export interface Theorem1Strongest {
  strength: number;
  alongTrigger: number;
  alongRandom: number;
  benignAlongTrigger: number;
  bound: number;
  aboveBound: number;
}

/** 04-theorem1: linear softmax models, one per trigger norm |P| (target 0, a noise trigger). */
export interface Theorem1Values {
  rows: Theorem1ReportResult['result']['rows'];
  strongest: Theorem1Strongest;
  seconds: number;
  metrics: {
    /** share of |r| along P ÷ share along a random direction, strongest trigger */
    alongTriggerOverRandom: number;
    /** share of |r| along P, infected ÷ benign, strongest trigger */
    alongTriggerOverBenign: number;
  };
}

export async function measureTheorem1(
  s: ReproSettings,
  seed: number,
  opts: { cache?: Cache } = {},
): Promise<{ values: Theorem1Values; report: Theorem1ReportResult }> {
  const t = s.theorem1;
  const report = await theorem1Report(
    {
      dataset: t.dataset,
      pattern: 'noise',
      strengths: t.strengths,
      target: 0,
      trainPerClass: t.trainPerClass,
      testPerClass: t.testPerClass,
      seed,
      train: t.train,
    },
    opts,
  );
  const last = report.result.rows[report.result.rows.length - 1];
  const strongest: Theorem1Strongest = {
    strength: last.strength,
    alongTrigger: last.infected.alongTrigger,
    alongRandom: last.infected.alongRandom,
    benignAlongTrigger: last.benign.alongTrigger,
    bound: last.infected.bound,
    aboveBound: last.infected.aboveBound,
  };
  return {
    values: {
      rows: report.result.rows,
      strongest,
      seconds: report.seconds,
      metrics: {
        alongTriggerOverRandom: strongest.alongTrigger / strongest.alongRandom,
        alongTriggerOverBenign: strongest.alongTrigger / strongest.benignAlongTrigger,
      },
    },
    report,
  };
}

export function theorem1Reading(v: Theorem1Values): string {
  const st = v.strongest;
  return `The paper: ${THEOREM1.statement}, bounded by ${THEOREM1.form}. Measured at |P| = ${st.strength}: ${st.alongTrigger.toFixed(3)} of |r| along P for the infected model, against ${st.alongRandom.toFixed(3)} along a random direction (${v.metrics.alongTriggerOverRandom.toFixed(0)}×) and ${st.benignAlongTrigger.toFixed(3)} for the benign model; under our reading of ℓ the bound is ${st.bound.toFixed(3)} and ${pct(st.aboveBound)} of the images reach it.`;
}
