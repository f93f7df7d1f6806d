import type { BudgetSweepValues } from './measure/budget-sweep';
import type { DefenseTablesValues } from './measure/defense-tables';
import type { FeatureDistancesValues } from './measure/feature-distances';
import type { LabelMatricesValues } from './measure/label-matrices';
import type { ProgressiveDefenseValues } from './measure/progressive-defense';
import type { ScanNotebookValues } from './measure/scan';
import type { TeachingValues } from './measure/teaching';
import type { Theorem1Values } from './measure/theorem1';
import type { TsneValues } from './measure/tsne';

/**
 * What each notebook of the suite measures and writes: its `measure…` function's values. The
 * claims read only `metrics`, each a number (a share or a ratio, never a percentage) or null
 * where the scale does not measure it.
 */
export interface NotebookValues {
  '00-teaching': TeachingValues;
  '01-label-matrices': LabelMatricesValues;
  '02-feature-distances': FeatureDistancesValues;
  '03-tsne': TsneValues;
  '04-theorem1': Theorem1Values;
  '05-budget-sweep': BudgetSweepValues;
  '06-progressive-defense': ProgressiveDefenseValues;
  '07-defense-tables': DefenseTablesValues;
  '08-scan': ScanNotebookValues;
}

export type NotebookName = keyof NotebookValues;

export const NOTEBOOK_NAMES = [
  '00-teaching',
  '01-label-matrices',
  '02-feature-distances',
  '03-tsne',
  '04-theorem1',
  '05-budget-sweep',
  '06-progressive-defense',
  '07-defense-tables',
  '08-scan',
] as const satisfies readonly NotebookName[];

/** The metrics a notebook writes, by name. */
export type MetricName<N extends NotebookName> = keyof NotebookValues[N]['metrics'] & string;
