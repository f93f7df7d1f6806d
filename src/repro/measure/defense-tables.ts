import { findLocalDatasets } from '../../data/registry';
import {
  attackLabel,
  type CompareCell,
  type CompareConfig,
  type CompareResult,
  compare,
  compareColumns,
  compareSpec,
  paperTableById,
  paperValue,
} from '../../experiments/compare';
import type { ExperimentOptions } from '../../experiments/output';
import { PAPER_ATTACKS, PAPER_DEFENSE_LABELS, type PaperAttack, type PaperDefense } from '../../paper/numbers';
import type { VegaLiteSpec } from '../../plots/vega';
import { JobPool } from '../../jobs/pool';
import type { PoolProgressSink } from '../../progress';
import type { DefenseTableSettings, ReproSettings } from '../settings';

/** A table's comparison at a scale: the config `pbe compare` builds for it (with the scale's option overrides, none at `cpu`). */
export function defenseTableConfig(t: DefenseTableSettings, s: ReproSettings, seed: number): CompareConfig {
  return {
    profile: t.training,
    mode: t.mode,
    attacks: t.attacks,
    defenses: t.defenses,
    target: 0,
    seed,
    ...(Object.keys(s.defense.options).length > 0 ? { options: s.defense.options } : {}),
    ...(Object.keys(s.defense.pgd).length > 0 ? { pgd: s.defense.pgd } : {}),
  };
}

/** One of the paper's tables as measured here (the paper's numbers beside ours), or why it was not. */
export interface DefenseTableRun {
  table: DefenseTableSettings['table'];
  dataset: string;
  mode: string;
  /** null when measured */
  notMeasured: string | null;
  result: CompareResult | null;
  /** the measured cells, each with the paper's number of the same attack and column in the table it stands for */
  cells: CompareCell[];
  /** set when the paper's numbers come from another dataset than ours (a stand-in at a small scale) */
  paperNote: string | null;
  /** ACC and ASR after each defense, ours beside the paper's; null when not measured */
  spec: VegaLiteSpec | null;
}

/**
 * Runs (or reads from the cache) one of the paper's tables through `compare`; a table the scale
 * skips, or whose dataset is not on this machine, comes back not measured with the reason. Where
 * ours runs on another dataset than the paper's table (MNIST at `quick`), the paper's numbers of
 * that table are set beside ours, and said so.
 */
export async function defenseTable(
  t: DefenseTableSettings,
  s: ReproSettings,
  seed: number,
  opts: ExperimentOptions & { onProgress?: PoolProgressSink; backend?: string; pool?: JobPool } = {},
): Promise<DefenseTableRun> {
  const base = { table: t.table, dataset: t.training.dataset, mode: t.mode, cells: [] as CompareCell[], paperNote: null, spec: null };
  // The wording of the measurements already recorded (docs/measurements/quick.json).
  if (t.skip) return { ...base, notMeasured: `not in the ${s.scale} profile: ${t.skip}`, result: null };
  const local = findLocalDatasets(opts.cache).find((d) => d.name === t.training.dataset);
  if (local && !local.available) return { ...base, notMeasured: `${t.training.dataset} is not on this machine (${local.where})`, result: null };
  const result = await compare(defenseTableConfig(t, s, seed), opts);
  const paper = paperTableById(t.table);
  const standIn = result.paperTable === null;
  const cells = standIn ? result.cells.map((c) => ({ ...c, paper: paperValue(paper, c.attack, c.column) })) : result.cells;
  const paperNote = standIn
    ? `${t.training.dataset} stands in for ${paper.dataset}: the paper's numbers are ${paper.id}'s (${paper.dataset}, ${paper.model})`
    : null;
  const columns = compareColumns(t.defenses);
  const title = `${t.table}: ${t.training.dataset} ${t.mode}, profile ${t.training.profile} (${t.training.arch}) beside the paper's ${paper.dataset} (${paper.model})`;
  return { ...base, notMeasured: null, result, cells, paperNote, spec: compareSpec(cells, t.attacks, columns, title) };
}

/** The defense column that leaves an attack the lowest ASR, ours and the paper's (over the defenses measured). */
export function lowestAsr(
  cells: readonly CompareCell[],
  attack: string,
): { ours: { column: PaperDefense; asr: number } | null; paper: { column: PaperDefense; asr: number } | null } {
  const defended = cells.filter((c) => c.attack === attack && c.column !== 'before');
  const min = (xs: { column: PaperDefense; asr: number }[]) => (xs.length === 0 ? null : xs.reduce((a, b) => (b.asr < a.asr ? b : a)));
  return {
    ours: min(defended.map((c) => ({ column: c.column, asr: c.asr }))),
    paper: min(defended.flatMap((c) => (c.paper ? [{ column: c.column, asr: c.paper.asr }] : []))),
  };
}

const label = (c: PaperDefense) => PAPER_DEFENSE_LABELS[c];

/** A sentence per attack: ASR before, the defense that leaves the lowest ASR (ours and the paper's), and PBE with clean data beside the paper's. */
export function defenseTableReading(run: DefenseTableRun): string {
  const r = run.result;
  if (!r) return `**${run.table}** (${run.dataset}, ${run.mode}): not measured: ${run.notMeasured}.`;
  const parts = r.config.attacks.map((a) => {
    const at = (col: PaperDefense) => run.cells.find((c) => c.attack === a && c.column === col);
    const low = lowestAsr(run.cells, a);
    const before = at('before');
    const withClean = at('pbeWithClean');
    const said = [`${attackLabel(a)}: ASR ${before ? before.asr.toFixed(1) : '–'}% before`];
    if (low.ours)
      said.push(
        `lowest after ${label(low.ours.column)} (${low.ours.asr.toFixed(1)}%)${low.paper ? `, the paper's lowest after ${label(low.paper.column)} (${low.paper.asr.toFixed(2)}%)` : ''}`,
      );
    if (withClean)
      said.push(
        `PBE with clean data ${withClean.asr.toFixed(1)}%${withClean.paper ? ` (paper ${withClean.paper.asr.toFixed(2)}%)` : ''}, ACC ${withClean.acc.toFixed(1)}%${withClean.paper ? ` (paper ${withClean.paper.acc.toFixed(2)}%)` : ''}`,
      );
    return said.join('; ');
  });
  return `**${run.table}** (${run.dataset} ${run.mode}, ${r.cells.length} cells, ${r.cells.filter((c) => !c.fromCache).length} computed now, ${r.seconds.toFixed(0)} s)${run.paperNote ? `; ${run.paperNote}` : ''}. ${parts.join('. ')}.`;
}

/** What the notebook records of a table: where it ran and every cell beside the paper's, or why it was not measured. Cells stay in percent, as the paper prints them. */
export interface DefenseTableValues {
  table: DefenseTableRun['table'];
  dataset: string;
  mode: string;
  measured: boolean;
  notMeasured: string | null;
  paperNote: string | null;
  profile?: string;
  arch?: string;
  seconds?: number;
  cells?: Pick<CompareCell, 'attack' | 'column' | 'acc' | 'asr' | 'paper' | 'fromCache'>[];
}

export function defenseTableValues(run: DefenseTableRun): DefenseTableValues {
  const r = run.result;
  return {
    table: run.table,
    dataset: run.dataset,
    mode: run.mode,
    measured: r !== null,
    notMeasured: run.notMeasured,
    paperNote: run.paperNote,
    ...(r
      ? {
          profile: r.config.profile.profile,
          arch: r.config.profile.arch,
          seconds: r.seconds,
          cells: run.cells.map(({ attack, column, acc, asr, paper, fromCache }) => ({ attack, column, acc, asr, paper, fromCache })),
        }
      : {}),
  };
}

const TABLE_KEYS = { 'Table 1': 'table1', 'Table 2': 'table2', 'Table 4': 'table4' } as const;
type TableKey = (typeof TABLE_KEYS)[keyof typeof TABLE_KEYS];

/**
 * Per table and attack of the paper, as fractions (the cells are percent): the ASR PBE with clean
 * data leaves, and that ASR minus fine-tuning's on the same clean images; null where not measured.
 */
export type DefenseTableMetrics = Record<`${TableKey}.${PaperAttack}.pbeCleanAsr` | `${TableKey}.${PaperAttack}.pbeCleanMinusFtAsr`, number | null>;

export function defenseTableMetrics(tables: readonly DefenseTableValues[]): DefenseTableMetrics {
  const metrics: Record<string, number | null> = {};
  for (const [table, key] of Object.entries(TABLE_KEYS)) {
    const cells = tables.find((t) => t.table === table)?.cells ?? [];
    for (const attack of PAPER_ATTACKS) {
      const at = (column: PaperDefense) => cells.find((c) => c.attack === attack && c.column === column) ?? null;
      const [pbe, ft] = [at('pbeWithClean'), at('ft')];
      metrics[`${key}.${attack}.pbeCleanAsr`] = pbe ? pbe.asr / 100 : null;
      metrics[`${key}.${attack}.pbeCleanMinusFtAsr`] = pbe && ft ? (pbe.asr - ft.asr) / 100 : null;
    }
  }
  return metrics as DefenseTableMetrics;
}

/** 07-defense-tables: Tables 1, 4 and 2 as the scale runs them. */
export interface DefenseTablesValues {
  options: ReproSettings['defense']['options'];
  pgd: ReproSettings['defense']['pgd'];
  tables: Partial<Record<DefenseTableRun['table'], DefenseTableValues>>;
  metrics: DefenseTableMetrics;
}

/** Measures (or reads from the cache) the scale's tables, in the paper's order of interest: Table 1, Table 4, Table 2. */
export async function measureDefenseTables(s: ReproSettings, seed: number): Promise<{ values: DefenseTablesValues; runs: DefenseTableRun[] }> {
  const tables = (['Table 1', 'Table 4', 'Table 2'] as const).map((name) => {
    const t = s.defense.tables.find((x) => x.table === name);
    if (!t) throw new Error(`reproSettings('${s.scale}').defense.tables: no ${name}`);
    return t;
  });
  // One pool for the three tables, so that Table 4's runs start while Table 1's last ones finish, not after.
  const pool = new JobPool();
  let runs: DefenseTableRun[];
  try {
    runs = await Promise.all(tables.map((t) => defenseTable(t, s, seed, { pool })));
  } finally {
    await pool.close();
  }
  const values = runs.map(defenseTableValues);
  return {
    values: {
      options: s.defense.options,
      pgd: s.defense.pgd,
      tables: Object.fromEntries(values.map((t) => [t.table, t])),
      metrics: defenseTableMetrics(values),
    },
    runs,
  };
}
