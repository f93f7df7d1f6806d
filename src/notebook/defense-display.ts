import * as aq from 'arquero';
import { compareColumns, compareTable } from '../experiments/compare';
import type { DefendResult } from '../experiments/defend';
import { vegaLite, type VegaLiteSpec } from '../plots/vega';
import { type DefenseTableRun, defenseTableReading } from '../repro/measure/defense-tables';
import { pbeIterations } from '../repro/measure/progressive-defense';
import { showFigure, showReading, showTable } from './display';

/** ACC/ASR at each stage beside the ranking's metrics of the iteration that ended there (Fig. 6 and 7 in one frame). */
export function iterationFrame(r: DefendResult): aq.ColumnTable {
  const rows = pbeIterations(r);
  return aq.from(
    r.stages.map((s, i) => {
      const it = rows.find((row) => row.iteration === i);
      return {
        stage: s.stage,
        ACC: s.acc,
        ASR: s.asr,
        'extra set': it?.extraSize ?? null,
        'its poison rate': it?.poisonRate ?? null,
        'adversarial on target': it?.adversarialTargetShare ?? null,
        'AP poisoned': it?.apPoisoned ?? null,
        'AP clean': it?.apClean ?? null,
      };
    }),
  );
}

/** Fig. 6 in numbers: the ranking's AP after each iteration, for poisoned and for clean images, with the paper's first and last AP. */
export function averagePrecisionSpec(r: DefendResult, paper: { first: number; last: number }): VegaLiteSpec {
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

/** The paper's layout of a measured table as a data frame (a row of ours and one of the paper's per attack). */
export function defenseTableFrame(run: DefenseTableRun): aq.ColumnTable {
  const cfg = run.result?.config;
  if (!cfg) throw new Error(`${run.table}: not measured (${run.notMeasured})`);
  return compareTable(run.cells, cfg.attacks, compareColumns(cfg.defenses), run.table);
}

/** Shows a table as measured (data frame, figure, reading), or the sentence saying why it was not. */
export async function showDefenseTable(run: DefenseTableRun): Promise<void> {
  if (run.result && run.spec) {
    showTable(defenseTableFrame(run), `${run.table}: ACC/ASR (%) after each defense, ours beside the paper's`);
    await showFigure(run.spec);
  }
  showReading(defenseTableReading(run));
}
