import * as fs from 'node:fs';
import type { RuntimeInfo } from '../backend';
import { writeFileAtomic } from '../cache';
import type { Comparison } from './claims';
import { type ComputeLedger, LEDGER_PARTS } from './ledger';
import { resultsMarkdown } from './results-markdown';
import type { MeasuredRecord } from './measured';
import type { ReproScale } from './settings';
import { NOTEBOOK_NAMES, type NotebookName } from './values';
import { type ClaimResult, type Verdict, VERDICTS } from './verdict';

/**
 * The suite's measured values and claim verdicts of one complete run, as one machine-readable
 * file (docs/measurements/<scale>.json); the docs' tables are rendered from it.
 */
export interface Measurements {
  scale: ReproScale;
  seed: number;
  /** the backend the notebooks ran on, and the package versions (those of the first notebook; every notebook's own is under `notebooks`) */
  backend: RuntimeInfo['backend'];
  versions: RuntimeInfo['versions'];
  machine: RuntimeInfo['machine'];
  /** when the suite finished */
  date: string;
  wallSeconds: number;
  notebooks: Record<string, { seconds: number; backend: RuntimeInfo['backend']; values: unknown }>;
  /** the compute behind the results, across every sitting that filled the cache (absent from files written before it was recorded) */
  compute?: ComputeLedger;
  claims: {
    id: string;
    source: string;
    notebook: string;
    metric: string;
    statement: string;
    value: number | null;
    comparison: Comparison;
    threshold: number;
    verdict: Verdict;
    mustHold: boolean;
    paper: number | null;
    knownNotToHold: string | null;
  }[];
}

export interface SuiteRun {
  scale: ReproScale;
  seed: number;
  wallSeconds: number;
  /** every notebook of the suite, run in this invocation, with its record and time */
  notebooks: { name: NotebookName; seconds: number; record: MeasuredRecord }[];
  claims: readonly ClaimResult[];
  compute?: ComputeLedger;
}

/**
 * A run is complete when every notebook of the suite ran in it and wrote its values: only such a
 * run describes one state of the code, so only it may replace the committed file. Returns why
 * not, or null.
 */
export function incompleteBecause(run: Pick<SuiteRun, 'notebooks'>): string | null {
  const ran = new Set(run.notebooks.map((n) => n.name));
  const missing = NOTEBOOK_NAMES.filter((n) => !ran.has(n));
  return missing.length ? `not every notebook ran and wrote its values in this run (missing: ${missing.join(', ')})` : null;
}

export function measurements(run: SuiteRun, date = new Date()): Measurements {
  const why = incompleteBecause(run);
  if (why) throw new Error(`measurements: ${why}`);
  const first = run.notebooks[0].record.runtime;
  return {
    scale: run.scale,
    seed: run.seed,
    backend: first.backend,
    versions: first.versions,
    machine: first.machine,
    date: date.toISOString(),
    wallSeconds: run.wallSeconds,
    notebooks: Object.fromEntries(run.notebooks.map((n) => [n.name, { seconds: n.seconds, backend: n.record.runtime.backend, values: n.record.values }])),
    ...(run.compute ? { compute: run.compute } : {}),
    claims: run.claims.map((r) => ({
      id: r.claim.id,
      source: r.claim.source,
      notebook: r.claim.notebook,
      metric: r.claim.metric,
      statement: r.claim.statement,
      value: r.measured,
      comparison: r.claim.comparison,
      threshold: r.threshold,
      verdict: r.verdict,
      mustHold: r.rule.mustHold,
      paper: r.claim.paper.value,
      knownNotToHold: r.rule.knownNotToHold ?? null,
    })),
  };
}

/** Writes the file atomically, so that a reader never sees half of it. */
export function writeMeasurements(file: string, m: Measurements): void {
  writeFileAtomic(file, `${JSON.stringify(m, null, 2)}\n`);
}

export function readMeasurements(file: string): Measurements {
  let m: Measurements;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as Measurements;
  } catch (e) {
    throw new Error(`${file}: not a readable measurements file (${(e as Error).message})`, { cause: e });
  }
  for (const field of ['scale', 'seed', 'date', 'notebooks', 'claims'] as const) if (m[field] === undefined) throw new Error(`${file}: ${field}: missing`);
  if (!Array.isArray(m.claims)) throw new Error(`${file}: claims: expected a list`);
  m.claims.forEach((c, i) => {
    if (typeof c.id !== 'string') throw new Error(`${file}: claims[${i}].id: expected a string`);
    if (!VERDICTS.includes(c.verdict))
      throw new Error(`${file}: claims[${i}].verdict: expected one of ${VERDICTS.join(', ')}, got ${JSON.stringify(c.verdict)}`);
    if (c.value !== null && typeof c.value !== 'number') throw new Error(`${file}: claims[${i}].value: expected a number or null`);
  });
  return m;
}

// Three significant digits below 0.1, so that a bound such as Table 4's 0.0184 keeps its digits.
const num = (v: number | null) => (v === null ? '–' : Math.abs(v) >= 100 ? v.toFixed(1) : v !== 0 && Math.abs(v) < 0.1 ? v.toPrecision(3) : v.toFixed(3));
const cellText = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The claims and verdicts of a measurements file as Markdown (docs/measurements/<scale>.md). */
export function measurementsMarkdown(m: Measurements, source: string): string {
  const counts = VERDICTS.map((v) => `${m.claims.filter((c) => c.verdict === v).length} ${v}`).join(', ');
  const lines = [
    `# Measurements: the \`${m.scale}\` scale`,
    '',
    `Generated from \`${source}\` by \`npm run measurements:tables\`; do not edit by hand. Run of ${m.date.slice(0, 10)}, seed ${m.seed}, backend ${m.backend ?? 'unknown'}, pbe-lab ${m.versions['pbe-lab'] ?? '?'}, Node ${m.versions.node ?? '?'}, tfjs ${m.versions['@tensorflow/tfjs-core'] ?? '?'}, on ${m.machine.cpu} (${m.machine.cores} cores); suite wall time ${m.wallSeconds.toFixed(0)} s.`,
    '',
    ...resultsMarkdown(m.notebooks),
    `## Claims`,
    '',
    `Claims: ${counts}. Values are fractions (shares, differences of shares) or ratios; a claim holds when its value meets the threshold (the paper's bound moved by the scale's tolerance).`,
    '',
    '| claim | source | notebook | metric | value | check | verdict | must hold |',
    '|:-|:-|:-|:-|-:|:-|:-|:-|',
    ...m.claims.map(
      (c) =>
        `| ${c.id} | ${c.source} | ${c.notebook} | \`${c.metric}\` | ${num(c.value)} | ${c.comparison} ${num(c.threshold)} | ${c.verdict} | ${c.mustHold ? 'yes' : ''} |`,
    ),
    '',
    '## Notebooks',
    '',
    '| notebook | seconds | backend |',
    '|:-|-:|:-|',
    ...Object.entries(m.notebooks).map(([name, n]) => `| ${name} | ${n.seconds.toFixed(1)} | ${n.backend ?? 'unknown'} |`),
    '',
    ...(m.compute ? computeMarkdown(m.compute) : []),
    '## Known not to hold at this scale',
    '',
    ...m.claims.filter((c) => c.verdict === 'known not to hold').map((c) => `- **${c.id}** (${num(c.value)}): ${cellText(c.knownNotToHold ?? '')}`),
    '',
  ];
  return lines.join('\n');
}

function computeMarkdown(c: ComputeLedger): string[] {
  // As people say a duration: 9 s, 4 min 05 s, 2 h 30 min.
  const time = (s: number) => {
    const r = Math.round(s);
    if (r < 60) return `${r} s`;
    if (r < 3600) return `${Math.floor(r / 60)} min ${String(r % 60).padStart(2, '0')} s`;
    const minutes = Math.round(r / 60);
    return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
  };
  const entries = c.rows.reduce((n, r) => n + r.entries, 0);
  return [
    '## Compute behind the results',
    '',
    `Read back from the suite's cache: the ${entries} entries made for the \`${c.scope.profile}\` profile on ${c.scope.dataset}` +
      (c.first && c.last ? `, between ${c.first.slice(0, 16).replace('T', ' ')} and ${c.last.slice(0, 16).replace('T', ' ')} UTC` : '') +
      ". Each model and defense run records its own seconds when it is cached, so these add up every sitting the work took; the notebooks above took only what was left. Training is the models' epochs; a defense run is counted from the infected model to the purified one, over every attempt; an observation counts its PGD." +
      (c.unverified.length ? ` ${c.unverified.length} entries failed their checksums and are left out.` : ''),
    '',
    '| part | what | entries | seconds | time |',
    '|:-|:-|-:|-:|-:|',
    ...c.rows.map((r) => `| ${r.part} | ${cellText(r.what)} | ${r.entries} | ${r.seconds.toFixed(0)} | ${time(r.seconds)} |`),
    ...LEDGER_PARTS.flatMap((part) => {
      const rows = c.rows.filter((r) => r.part === part);
      const s = rows.reduce((t, r) => t + r.seconds, 0);
      return rows.length ? [`| **${part}** | all | ${rows.reduce((n, r) => n + r.entries, 0)} | ${s.toFixed(0)} | ${time(s)} |`] : [];
    }),
    `| **total** | | ${entries} | ${c.seconds.toFixed(0)} | ${time(c.seconds)} |`,
    '',
  ];
}
