import * as path from 'node:path';
import * as aq from 'arquero';
import { runtimeInfo } from '../backend';
import { type InfectedSummary, trainInfectedJobType } from '../attacks/backdoor/jobs';
import type { AttackMode } from '../attacks/backdoor/trigger';
import { writeFileAtomic } from '../cache';
import { JobPool } from '../jobs/pool';
import { type AccAsr, DEFENSE_TABLES, type DefenseTable, PAPER_ATTACK_LABELS, PAPER_DEFENSE_LABELS, type PaperDefense } from '../paper/numbers';
import { type PoolProgressSink, Progress } from '../progress';
import type { ResolvedProfile } from '../train/profiles';
import type { DefenseOptionValue } from '../defenses/defense';
import type { PgdBudget } from '../defenses/pgd-budget';
import { defenseDefinition } from '../defenses/registry';
import { vegaLite, type VegaLiteSpec } from '../plots/vega';
import type { DefendConfig } from './defend';
import { defendJobType } from './defend-job';
import { experimentContext, type ExperimentOptions, type FigureSpecs, type ReportHeader, resultOutput } from './output';

/**
 * The paper's comparison tables (Tables 1, 2 and 4): every attack × defense pair on the profile's
 * infected models, ACC/ASR measured by `defend` outside each defense, the paper's numbers beside
 * ours. Infected models are trained (or loaded) first, one job per attack, then every cell runs as
 * its own job on the pool; each cell is a cached `defend` run, so nothing finished is recomputed.
 */

/** Columns by their command-line names; `pbe` is PBE's progressive setting, `pbe-clean` its clean-data setting. */
export const COMPARE_DEFENSES = ['ft', 'fp', 'nad', 'nc', 'anp', 'pbe', 'pbe-clean'] as const;
export type CompareDefense = (typeof COMPARE_DEFENSES)[number];

const COLUMN: Record<CompareDefense, PaperDefense> = {
  ft: 'ft',
  fp: 'fp',
  nad: 'nad',
  nc: 'nc',
  anp: 'anp',
  pbe: 'pbeWithoutClean',
  'pbe-clean': 'pbeWithClean',
};

/**
 * The order the grid hands its defense runs to the pool: the longest first, so that no worker is
 * left with one long run at the end while the others sit idle. By each defense's cost per cell at
 * `cpu` (docs/measurements.md: "PBE's `cpu` schedule", "Baseline defenses: cost per cell at `cpu`"
 * and, for PBE with clean data, its number of adversarial updates).
 */
const LONGEST_FIRST: readonly CompareDefense[] = ['pbe', 'pbe-clean', 'nad', 'fp', 'nc', 'ft', 'anp'];

export interface CompareConfig {
  profile: ResolvedProfile;
  mode: AttackMode;
  attacks: string[];
  defenses: CompareDefense[];
  /** all-to-one target label */
  target: number;
  seed: number;
  dataPath?: string;
  /** option overrides per defense (registry name, e.g. `pbe`) for every cell of it; the command line sets none */
  options?: Record<string, Record<string, DefenseOptionValue>>;
  /** the PGD budget's fields, for every cell of a defense with a PGD step (PBE); the command line sets none */
  pgd?: Partial<PgdBudget>;
  /** the table's folder instead of results/compare/<name>-<key>/ */
  outDir?: string;
}

export interface CompareCell {
  attack: string;
  /** the paper's column key: before, ft, fp, nad, nc, anp, pbeWithoutClean, pbeWithClean */
  column: PaperDefense;
  /** ours, in percent as the paper prints them */
  acc: number;
  asr: number;
  paper: AccAsr | null;
  /** wall time of the defense (0 for `before`), as recorded when it ran */
  seconds: number;
  fromCache: boolean;
}

export interface CompareReport extends ReportHeader<CompareConfig> {
  /** the paper's table these cells are compared with, if it has one for this dataset and mode */
  paperTable: string | null;
  cells: CompareCell[];
  markdown: string;
  files: { markdown: string; csv: string };
  /** `defense-table`: ours beside the paper's, ACC and ASR per attack and defense (SVG beside its spec) */
  figures: Record<string, string>;
  /** wall time of this command; cached cells cost almost nothing */
  seconds: number;
}

const PAPER_TABLES = Object.values(DEFENSE_TABLES) as DefenseTable<string, string>[];

/** The paper's table for a dataset and mode (Table 1: CIFAR-10 all-to-one, 2: GTSRB, 3: Tiny-ImageNet, 4: CIFAR-10 all-to-all). */
export function paperTableFor(dataset: string, mode: AttackMode): DefenseTable<string, string> | null {
  return PAPER_TABLES.find((t) => t.dataset === dataset && t.mode === mode) ?? null;
}

/** The paper's table by its id ('Table 1', …). */
export function paperTableById(id: string): DefenseTable<string, string> {
  const t = PAPER_TABLES.find((x) => x.id === id);
  if (!t) throw new Error(`no paper table '${id}' (have ${PAPER_TABLES.map((x) => x.id).join(', ')})`);
  return t;
}

/** The paper's ACC/ASR for an attack and column of its table, or null where it prints none. */
export function paperValue(table: DefenseTable<string, string> | null, attack: string, column: PaperDefense): AccAsr | null {
  return table?.cells[attack]?.[column] ?? null;
}

/** The `defend` run behind one cell: PBE's two columns are one defense with and without the clean extra set. */
export function cellConfig(cfg: CompareConfig, attack: string, defense: CompareDefense): DefendConfig {
  const name = defense === 'pbe-clean' ? 'pbe' : defense;
  return {
    defense: name,
    ...(cfg.options?.[name] ? { options: cfg.options[name] } : {}),
    ...(cfg.pgd && defenseDefinition(name).pgd ? { pgd: cfg.pgd } : {}),
    cleanData: defense !== 'pbe',
    profile: cfg.profile,
    attack: { name: attack, mode: cfg.mode, target: cfg.target },
    seed: cfg.seed,
    dataPath: cfg.dataPath,
  };
}

const pct = (v: number) => Math.round(v * 10000) / 100;
const fmt = (c: AccAsr | null) => (c ? `${c.acc.toFixed(2)}/${c.asr.toFixed(2)}` : '–');

/** The long data frame: one row per cell, ours and the paper's. */
export function cellsFrame(cells: readonly CompareCell[]): aq.ColumnTable {
  return aq.from(
    cells.map((c) => ({
      attack: c.attack,
      defense: c.column,
      acc: c.acc,
      asr: c.asr,
      paper_acc: c.paper?.acc ?? null,
      paper_asr: c.paper?.asr ?? null,
      seconds: c.seconds,
      cached: c.fromCache,
    })),
  );
}

/** The table's columns: the infected model, then each defense under the paper's key. */
export function compareColumns(defenses: readonly CompareDefense[]): PaperDefense[] {
  return ['before', ...defenses.map((d) => COLUMN[d])];
}

/** The attack's name as the paper prints it (BadNet, Blend, …), else its registry name. */
export const attackLabel = (attack: string): string => (PAPER_ATTACK_LABELS as Record<string, string>)[attack] ?? attack;

/** The paper's layout as a data frame: a row per attack for ours and one for the paper, a column per defense, ACC/ASR (%) in each cell. */
export function compareTable(
  cells: readonly CompareCell[],
  attacks: readonly string[],
  columns: readonly PaperDefense[],
  paperTable: string | null,
): aq.ColumnTable {
  const rows = attacks.flatMap((attack) => {
    const label = attackLabel(attack);
    const at = (col: PaperDefense) => cells.find((c) => c.attack === attack && c.column === col);
    const ours: Record<string, string> = { attack: `${label} (ours)` };
    const paper: Record<string, string> = { attack: `${label} (paper)` };
    for (const col of columns) {
      const cell = at(col);
      ours[PAPER_DEFENSE_LABELS[col]] = cell ? fmt(cell) : '–';
      paper[PAPER_DEFENSE_LABELS[col]] = fmt(cell?.paper ?? null);
    }
    return paperTable ? [ours, paper] : [ours];
  });
  return aq.from(rows);
}

export function compareMarkdown(
  cells: readonly CompareCell[],
  attacks: readonly string[],
  columns: readonly PaperDefense[],
  paperTable: string | null,
): string {
  const align = Object.fromEntries(columns.map((c) => [PAPER_DEFENSE_LABELS[c], 'r' as const]));
  return compareTable(cells, attacks, columns, paperTable).toMarkdown({ align: { attack: 'l', ...align } });
}

/** Tables 1, 2 and 4 as a figure: ACC and ASR after each defense, ours beside the paper's, one panel per attack. */
export function compareSpec(cells: readonly CompareCell[], attacks: readonly string[], columns: readonly PaperDefense[], title: string): VegaLiteSpec {
  const series = ['ours', 'paper'];
  const defenses = columns.map((c) => PAPER_DEFENSE_LABELS[c]);
  const values = cells.flatMap((c) => {
    const base = { attack: attackLabel(c.attack), defense: PAPER_DEFENSE_LABELS[c.column] };
    const of = (source: string, v: AccAsr) => [
      { ...base, source, metric: 'ACC', value: v.acc },
      { ...base, source, metric: 'ASR', value: v.asr },
    ];
    return [...of('ours', c), ...(c.paper ? of('paper', c.paper) : [])];
  });
  return vegaLite({
    title: { text: title, subtitle: 'after each defense (before = the infected model); grey: the paper' },
    data: { values },
    facet: {
      row: { field: 'metric', type: 'nominal', title: null, sort: ['ASR', 'ACC'] },
      column: { field: 'attack', type: 'nominal', title: null, sort: attacks.map(attackLabel) },
    },
    spec: {
      width: { step: 9 },
      height: 130,
      mark: 'bar',
      encoding: {
        x: { field: 'defense', type: 'nominal', sort: defenses, title: null, axis: { labelAngle: -45 } },
        xOffset: { field: 'source', type: 'nominal', sort: series },
        y: { field: 'value', type: 'quantitative', scale: { domain: [0, 100] }, title: '%' },
        color: { field: 'source', type: 'nominal', sort: series, title: null, scale: { domain: series, range: ['#4c78a8', '#bab0ac'] } },
        tooltip: [{ field: 'attack' }, { field: 'defense' }, { field: 'source' }, { field: 'metric' }, { field: 'value', format: '.2f' }],
      },
    },
  } as Omit<VegaLiteSpec, '$schema'>);
}

/**
 * Runs (or reads) every cell of the comparison and writes the table as Markdown and CSV beside
 * the JSON report. `onProgress` shows each job's own progress; the grid's progress and ETA go to
 * the experiment's progress sink.
 */
export type CompareResult = CompareReport & { specs: FigureSpecs };

export async function compare(
  cfg: CompareConfig,
  /** `pool`: a pool to share with other work (it stays open); else one of `workers` for this grid */
  opts: ExperimentOptions & { workers?: number; backend?: string; onProgress?: PoolProgressSink; pool?: JobPool } = {},
): Promise<CompareResult> {
  const { cache, progress } = experimentContext(opts);
  const unknown = cfg.defenses.filter((d) => !COMPARE_DEFENSES.includes(d));
  if (unknown.length > 0) throw new Error(`compare --defenses: unknown ${unknown.join(', ')}; expected some of ${COMPARE_DEFENSES.join(', ')}`);
  if (cfg.attacks.length === 0) throw new Error('compare --attacks: no attack given');
  const started = Date.now();
  const table = paperTableFor(cfg.profile.dataset, cfg.mode);
  const out = resultOutput(cache, {
    key: { kind: 'compare', cfg: { ...cfg, outDir: undefined } },
    folder: 'compare',
    name: `${cfg.profile.dataset}-${cfg.mode}-${cfg.profile.profile}`,
    outDir: cfg.outDir,
  });
  const pool = opts.pool ?? new JobPool({ workers: opts.workers, backend: opts.backend, onProgress: opts.onProgress });
  const cells: CompareCell[] = [];
  try {
    const common = { profile: cfg.profile, seed: cfg.seed, dataPath: cfg.dataPath, cacheRoot: cache.root };
    const total = cfg.attacks.length * (1 + cfg.defenses.length);
    // With a pool sink the grid is one more bar of its block (worker ids start at 1), so the two never garble each other.
    const gridSink = opts.onProgress ? (u: Parameters<typeof progress>[0]) => opts.onProgress!('grid', u, 0) : progress;
    const grid = new Progress(`compare ${cfg.profile.dataset} ${cfg.mode}`, total, gridSink, 'cell');
    // Every infected model first: a defense run waits for none, and two never train one model.
    await Promise.all(
      cfg.attacks.map(async (attack) => {
        const r: InfectedSummary = await pool.run(
          trainInfectedJobType.job({ ...common, request: { name: attack, mode: cfg.mode, target: cfg.target } }, `infected ${attack}`),
        );
        cells.push({
          attack,
          column: 'before',
          acc: pct(r.acc),
          asr: pct(r.asr),
          paper: paperValue(table, attack, 'before'),
          seconds: 0,
          fromCache: r.fromCache,
        });
        grid.tick(1, `${attack}: infected ACC ${pct(r.acc)}% ASR ${pct(r.asr)}%`);
      }),
    );
    const byCost = [...cfg.defenses].sort((a, b) => LONGEST_FIRST.indexOf(a) - LONGEST_FIRST.indexOf(b));
    await Promise.all(
      byCost.flatMap((defense) =>
        cfg.attacks.map(async (attack) => {
          const r = await pool.run(defendJobType.job({ cfg: cellConfig(cfg, attack, defense), cacheRoot: cache.root }, `${attack} × ${defense}`));
          const column = COLUMN[defense];
          const { acc, asr } = r.after;
          cells.push({ attack, column, acc: pct(acc), asr: pct(asr), paper: paperValue(table, attack, column), seconds: r.seconds, fromCache: r.fromCache });
          grid.tick(1, `${attack} × ${defense}: ACC ${pct(acc)}% ASR ${pct(asr)}%${r.fromCache ? ' (cached)' : ''}`);
        }),
      ),
    );
  } finally {
    if (!opts.pool) await pool.close();
  }
  const columns = compareColumns(cfg.defenses);
  const order = (c: CompareCell) => cfg.attacks.indexOf(c.attack) * columns.length + columns.indexOf(c.column);
  cells.sort((a, b) => order(a) - order(b));
  const markdown = compareMarkdown(cells, cfg.attacks, columns, table?.id ?? null);
  const files = { markdown: path.join(out.dir, 'table.md'), csv: path.join(out.dir, 'table.csv') };
  const caption = `${cfg.profile.dataset} ${cfg.mode}, profile ${cfg.profile.profile} (${cfg.profile.arch}): ACC/ASR (%)${table ? `; paper: ${table.id}, ${table.model}` : '; the paper has no table for this setting'}`;
  writeFileAtomic(files.markdown, `${caption}\n\n${markdown}\n`);
  writeFileAtomic(files.csv, cellsFrame(cells).toCSV());
  const specs: FigureSpecs = { 'defense-table': compareSpec(cells, cfg.attacks, columns, caption) };
  const figures = await out.writeFigures(specs);
  const report = out.writeReport({
    config: cfg,
    key: out.key,
    runtime: runtimeInfo(),
    paperTable: table?.id ?? null,
    cells,
    markdown,
    files,
    figures,
    seconds: (Date.now() - started) / 1000,
  });
  return { ...report, specs };
}
