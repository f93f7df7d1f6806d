import { vegaLite, type VegaLiteSpec } from '../plots/vega';
import type { PrPoint } from './precision-recall';

/**
 * Fig. 6: how PBE's ranking of the training set by logit similarity tells clean images from
 * poisoned ones after each iteration. The rows and curves are what `analyzePbe`
 * (src/defenses/pbe-analysis.ts) measures against the ground truth and a `defend` report keeps.
 */

/** One iteration of PBE, measured against the ground truth. */
export type PbeIterationMetrics = {
  iteration: number;
  extraSize: number;
  /** share of the extra set that is poisoned (progressive setting; 0 by construction in the clean-data one) */
  poisonRate: number;
  /** in the iteration's first adversarial epoch; null without adversarial batches */
  adversarialTargetShare: number | null;
  /** ranking after the iteration: AP of calling clean images clean (Fig. 6) and poisoned ones poisoned; progressive setting only */
  apClean: number | null;
  apPoisoned: number | null;
};

export interface PbeAnalysisDetails {
  /** chance level of apPoisoned: the poisoned share of the training set */
  poisonedShare: number;
  curves: { iteration: number; identifying: 'clean' | 'poisoned'; points: PrPoint[] }[];
}

/** What a defend report keeps of a defense's analysis, as far as these figures read it. */
export interface AnalysedRun {
  config: { defense: string };
  analysis: { rows: readonly Record<string, number | string | null>[]; details?: unknown } | null;
}

const isNumberOrNull = (v: unknown) => v === null || typeof v === 'number';

function isPbeIterationMetrics(row: Record<string, unknown>): row is PbeIterationMetrics {
  return (
    typeof row.iteration === 'number' &&
    typeof row.extraSize === 'number' &&
    typeof row.poisonRate === 'number' &&
    isNumberOrNull(row.adversarialTargetShare) &&
    isNumberOrNull(row.apClean) &&
    isNumberOrNull(row.apPoisoned)
  );
}

/** PBE's per-iteration metrics of a defend run (its analysis rows, checked); none for another defense or a run without analysis. */
export function pbeIterations(r: AnalysedRun): PbeIterationMetrics[] {
  if (r.config.defense !== 'pbe' || !r.analysis) return [];
  return r.analysis.rows.map((row, i) => {
    if (!isPbeIterationMetrics(row)) throw new Error(`pbe: analysis row ${i} is not an iteration's metrics: ${JSON.stringify(row)}`);
    return row;
  });
}

/** PBE's ranking curves and the poisoned share of a defend run (its analysis details, checked); null for another defense or a run without analysis. */
export function pbeDetails(r: AnalysedRun): PbeAnalysisDetails | null {
  if (r.config.defense !== 'pbe' || !r.analysis) return null;
  const d = r.analysis.details as Partial<PbeAnalysisDetails> | undefined;
  if (typeof d?.poisonedShare !== 'number' || !Array.isArray(d.curves))
    throw new Error(`pbe: analysis details are not the ranking's: ${JSON.stringify(d)?.slice(0, 200)}`);
  return d as PbeAnalysisDetails;
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

/** Fig. 6 in numbers: the ranking's AP after each iteration, for poisoned and for clean images, with the paper's first and last AP. */
export function averagePrecisionSpec(r: AnalysedRun, paper: { first: number; last: number }): VegaLiteSpec {
  const rows = pbeIterations(r);
  const last = rows.length > 0 ? rows[rows.length - 1].iteration : 1;
  const values = [
    ...rows.flatMap((row) => [
      { iteration: row.iteration, series: 'ours: poisoned images', ap: row.apPoisoned },
      { iteration: row.iteration, series: 'ours: clean images', ap: row.apClean },
    ]),
    { iteration: 1, series: 'paper (Fig. 6)', ap: paper.first },
    { iteration: last, series: 'paper (Fig. 6)', ap: paper.last },
  ].filter((v) => v.ap !== null);
  const series = ['ours: poisoned images', 'ours: clean images', 'paper (Fig. 6)'];
  return vegaLite({
    title: {
      text: 'Average precision of the ranking after each iteration (Fig. 6)',
      subtitle: 'finding poisoned images (chance = their share) and clean ones; the paper: first and last iteration',
    },
    data: { values },
    width: 320,
    height: 200,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'iteration', type: 'ordinal', axis: { labelAngle: 0 } },
      y: { field: 'ap', type: 'quantitative', scale: { domain: [0, 1] }, title: 'average precision' },
      color: {
        field: 'series',
        type: 'nominal',
        sort: series,
        title: null,
        scale: { domain: series, range: ['#e45756', '#4c78a8', '#bab0ac'] },
        legend: { labelLimit: 300 },
      },
      tooltip: [{ field: 'series' }, { field: 'iteration' }, { field: 'ap', format: '.3f' }],
    },
  } as Omit<VegaLiteSpec, '$schema'>);
}
