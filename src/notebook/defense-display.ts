import * as aq from 'arquero';
import { compareColumns, compareTable } from '../experiments/compare';
import type { DefendResult } from '../experiments/defend';
import { pbeIterations } from '../analysis/pbe-ranking';
import { type DefenseTableRun, defenseTableReading } from '../repro/measure/defense-tables';
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
