import * as aq from 'arquero';
import { findLocalDatasets } from '../data/registry';
import type { PbeIterationMetrics } from '../defenses/pbe-analysis';
import { attackLabel, type CompareCell, type CompareConfig, type CompareResult, compare, compareColumns, compareSpec, compareTable, paperTableById, paperValue } from '../experiments/compare';
import type { DefendConfig, DefendResult } from '../experiments/defend';
import type { ExperimentOptions } from '../experiments/output';
import { PAPER_DEFENSE_LABELS, type PaperDefense } from '../paper/numbers';
import { vegaLite, type VegaLiteSpec } from '../plots/vega';
import type { PoolProgressSink } from '../progress';
import { showFigure, showReading, showTable } from './display';
import type { DefenseTableSettings, ReproSettings } from './settings';

/**
 * Fig. 6/7's run at a profile: the config `pbe defend --defense pbe --attack <attack> --dataset
 * <dataset> --profile <profile> [--clean-data]` builds (with the profile's option overrides, none
 * at `cpu`), so that the notebook and the command read one cache entry.
 */
export function progressiveDefendConfig(s: ReproSettings, cleanData: boolean, seed: number): DefendConfig {
  return {
    defense: 'pbe',
    options: s.defense.options.pbe ?? {},
    cleanData,
    profile: s.training,
    attack: { name: s.defense.progressiveAttack.name, mode: 'all2one', target: 0, options: {} },
    seed,
  };
}

/** PBE's per-iteration metrics of a defend run (its analysis rows; none for other defenses). */
function pbeIterations(r: DefendResult): PbeIterationMetrics[] {
  return (r.analysis?.rows ?? []) as unknown as PbeIterationMetrics[];
}

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

/** What Fig. 6 and 7 are read by: ASR and ACC before, after the first and after the last iteration; AP of the ranking after the first and the last. */
export interface ProgressiveSummary {
  iterations: number;
  before: { acc: number; asr: number };
  first: { acc: number; asr: number };
  last: { acc: number; asr: number };
  /** null with clean data (setting A ranks nothing) */
  apPoisoned: { first: number; last: number } | null;
  apClean: { first: number; last: number } | null;
  /** the chance level of apPoisoned */
  poisonedShare: number | null;
}

export function progressiveSummary(r: DefendResult): ProgressiveSummary {
  const rows = pbeIterations(r);
  if (r.stages.length < 2) throw new Error(`${r.config.defense}: no iteration was measured (stages: ${r.stages.map((s) => s.stage).join(', ')})`);
  const at = ({ acc, asr }: { acc: number; asr: number }) => ({ acc, asr });
  const ap = (k: 'apPoisoned' | 'apClean') => {
    const v = rows.map((row) => row[k]).filter((x): x is number => x !== null);
    return v.length > 0 ? { first: v[0], last: v[v.length - 1] } : null;
  };
  const details = r.analysis?.details as { poisonedShare?: number } | undefined;
  return {
    iterations: r.stages.length - 1,
    before: at(r.stages[0]),
    first: at(r.stages[1]),
    last: at(r.stages[r.stages.length - 1]),
    apPoisoned: ap('apPoisoned'),
    apClean: ap('apClean'),
    poisonedShare: details?.poisonedShare ?? null,
  };
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
    title: { text: 'Average precision of the ranking after each iteration (Fig. 6)', subtitle: 'finding poisoned images (chance = their share) and clean ones; the paper: first and last iteration' },
    data: { values },
    width: 320,
    height: 200,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'iteration', type: 'ordinal', axis: { labelAngle: 0 } },
      y: { field: 'ap', type: 'quantitative', scale: { domain: [0, 1] }, title: 'average precision' },
      color: { field: 'series', type: 'nominal', sort: series, title: null, scale: { domain: series, range: ['#e45756', '#4c78a8', '#bab0ac'] }, legend: { labelLimit: 300 } },
      tooltip: [{ field: 'series' }, { field: 'iteration' }, { field: 'ap', format: '.3f' }],
    },
  } as Omit<VegaLiteSpec, '$schema'>);
}

/** A table's comparison at a profile: the config `pbe compare` builds for it (with the profile's option overrides, none at `cpu`). */
export function defenseTableConfig(t: DefenseTableSettings, s: ReproSettings, seed: number): CompareConfig {
  return {
    profile: t.training,
    mode: t.mode,
    attacks: t.attacks,
    defenses: t.defenses,
    target: 0,
    seed,
    ...(Object.keys(s.defense.options).length > 0 ? { options: s.defense.options } : {}),
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
  /** set when the paper's numbers come from another dataset than ours (a stand-in at a small profile) */
  paperNote: string | null;
  /** ACC and ASR after each defense, ours beside the paper's; null when not measured */
  spec: VegaLiteSpec | null;
}

/**
 * Runs (or reads from the cache) one of the paper's tables through `compare`; a table the profile
 * skips, or whose dataset is not on this machine, comes back not measured with the reason. Where
 * ours runs on another dataset than the paper's table (MNIST at `quick`), the paper's numbers of
 * that table are set beside ours, and said so.
 */
export async function defenseTable(
  t: DefenseTableSettings,
  s: ReproSettings,
  seed: number,
  opts: ExperimentOptions & { onProgress?: PoolProgressSink; backend?: string } = {},
): Promise<DefenseTableRun> {
  const base = { table: t.table, dataset: t.training.dataset, mode: t.mode, cells: [] as CompareCell[], paperNote: null, spec: null };
  if (t.skip) return { ...base, notMeasured: `not in the ${s.profile} profile: ${t.skip}`, result: null };
  const local = findLocalDatasets(opts.cache).find((d) => d.name === t.training.dataset);
  if (local && !local.available) return { ...base, notMeasured: `${t.training.dataset} is not on this machine (${local.where})`, result: null };
  const result = await compare(defenseTableConfig(t, s, seed), opts);
  const paper = paperTableById(t.table);
  const standIn = result.paperTable === null;
  const cells = standIn ? result.cells.map((c) => ({ ...c, paper: paperValue(paper, c.attack, c.column) })) : result.cells;
  const paperNote = standIn ? `${t.training.dataset} stands in for ${paper.dataset}: the paper's numbers are ${paper.id}'s (${paper.dataset}, ${paper.model})` : null;
  const columns = compareColumns(t.defenses);
  const title = `${t.table}: ${t.training.dataset} ${t.mode}, profile ${t.training.profile} (${t.training.arch}) beside the paper's ${paper.dataset} (${paper.model})`;
  return { ...base, notMeasured: null, result, cells, paperNote, spec: compareSpec(cells, t.attacks, columns, title) };
}

/** The paper's layout of a measured table as a data frame (a row of ours and one of the paper's per attack). */
export function defenseTableFrame(run: DefenseTableRun): aq.ColumnTable {
  const cfg = run.result?.config;
  if (!cfg) throw new Error(`${run.table}: not measured (${run.notMeasured})`);
  return compareTable(run.cells, cfg.attacks, compareColumns(cfg.defenses), run.table);
}

/** The defense column that leaves an attack the lowest ASR, ours and the paper's (over the defenses measured). */
export function lowestAsr(cells: readonly CompareCell[], attack: string): { ours: { column: PaperDefense; asr: number } | null; paper: { column: PaperDefense; asr: number } | null } {
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
    if (low.ours) said.push(`lowest after ${label(low.ours.column)} (${low.ours.asr.toFixed(1)}%)${low.paper ? `, the paper's lowest after ${label(low.paper.column)} (${low.paper.asr.toFixed(2)}%)` : ''}`);
    if (withClean) said.push(`PBE with clean data ${withClean.asr.toFixed(1)}%${withClean.paper ? ` (paper ${withClean.paper.asr.toFixed(2)}%)` : ''}, ACC ${withClean.acc.toFixed(1)}%${withClean.paper ? ` (paper ${withClean.paper.acc.toFixed(2)}%)` : ''}`);
    return said.join('; ');
  });
  return `**${run.table}** (${run.dataset} ${run.mode}, ${r.cells.length} cells, ${r.cells.filter((c) => !c.fromCache).length} computed now, ${r.seconds.toFixed(0)} s)${run.paperNote ? `; ${run.paperNote}` : ''}. ${parts.join('. ')}.`;
}

/** Shows a table as measured (data frame, figure, reading), or the sentence saying why it was not. */
export async function showDefenseTable(run: DefenseTableRun): Promise<void> {
  if (run.result && run.spec) {
    showTable(defenseTableFrame(run), `${run.table}: ACC/ASR (%) after each defense, ours beside the paper's`);
    await showFigure(run.spec);
  }
  showReading(defenseTableReading(run));
}

/** What the notebook records of a table: where it ran and every cell beside the paper's, or why it was not measured. */
export function defenseTableValues(run: DefenseTableRun): Record<string, unknown> {
  const r = run.result;
  return {
    table: run.table,
    dataset: run.dataset,
    mode: run.mode,
    measured: r !== null,
    notMeasured: run.notMeasured,
    paperNote: run.paperNote,
    ...(r ? { profile: r.config.profile.profile, arch: r.config.profile.arch, seconds: r.seconds, cells: run.cells.map(({ attack, column, acc, asr, paper, fromCache }) => ({ attack, column, acc, asr, paper, fromCache })) } : {}),
  };
}
