import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  Cache,
  checkClaims,
  computeLedger,
  incompleteBecause,
  type MeasuredMetrics,
  type MeasuredRecord,
  measurements,
  measurementsMarkdown,
  type NotebookName,
  readMeasured,
  readMeasurements,
  REPRO_SCALES,
  type ReproScale,
  reproSettings,
  unwritable,
  VERDICTS,
  writeFileAtomic,
  writeMeasurements,
} from 'pbe-lab';
import { executeNotebook } from './execute';
import { tslabKernelSpec } from './kernel';
import { type NotebookRun, writeReport } from './report';

const ROOT = path.resolve(__dirname, '..');
const USAGE =
  'npm run repro -- [--scale quick|cpu|paper] [--only <notebook>[,<notebook>…]] [--out DIR] [--backend B] [--seed S]\n' +
  '  (--profile is an older name for --scale)';

export function listNotebooks(dir = path.join(ROOT, 'notebooks')): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb'))
    .sort()
    .map((f) => f.replace(/\.ipynb$/, ''));
}

/** The injected cell: the same names as the `parameters` cell, annotated so that each keeps a widened type. */
export function injectedParameters(p: Record<string, string | number>): string {
  return Object.entries(p)
    .map(([k, v]) => `const ${k}: ${typeof v === 'number' ? 'number' : 'string'} = ${JSON.stringify(v)};`)
    .join('\n');
}

function buildDeclarations(): void {
  const r = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.notebook.json')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('tsc -p tsconfig.notebook.json failed: the notebooks cannot see the library types');
}

function clock(s: number): string {
  // Rounded first, so that 239.6 s reads 4m00s, not 3m60s.
  const t = Math.round(s);
  const m = Math.floor(t / 60);
  return m > 0 ? `${m}m${String(t % 60).padStart(2, '0')}s` : `${t}s`;
}

interface RunOptions {
  scale: ReproScale;
  only: string[] | null;
  out: string;
  backend: string;
  seed: number;
  /** the folder of the notebooks; default notebooks/ */
  notebooks?: string;
  /** environment variables for the kernels beside this process's (e.g. PBE_CACHE_DIR) */
  env?: Record<string, string>;
  /** where progress and the summary go; default stderr (the report's paths: stdout) */
  log?: (text: string) => void;
  /**
   * where a complete run writes its measurements (<dir>/<scale>.json); null writes none. A run
   * of some notebooks only, or one where a notebook failed, leaves the file as it was.
   */
  measurementsDir?: string | null;
}

const toStderr = (text: string) => void process.stderr.write(text);

/** Runs one notebook in a kernel of its own; resolves with its record, never rejects on a notebook failure. */
async function runNotebook(name: string, o: RunOptions, onCell: (cell: number, cells: number) => void): Promise<NotebookRun> {
  const input = path.join(o.notebooks ?? path.join(ROOT, 'notebooks'), `${name}.ipynb`);
  const executed = path.join(o.out, 'executed', `${name}.ipynb`);
  const measured = path.join(o.out, 'executed', `${name}.json`);
  fs.mkdirSync(path.dirname(executed), { recursive: true });
  fs.rmSync(measured, { force: true });
  const started = Date.now();
  const r = await executeNotebook({
    input,
    output: executed,
    // The declarations are built once per run (buildDeclarations), not by each kernel.
    kernel: tslabKernelSpec({ PBE_KERNEL_TYPES_FRESH: '1' }),
    cwd: ROOT,
    env: { ...process.env, ...o.env },
    parameters: injectedParameters({ scale: o.scale, seed: o.seed, backend: o.backend, measuredFile: measured }),
    timeoutSec: o.scale === 'quick' ? 900 : null,
    onCell,
  });
  let error: string | null = null;
  if (r.failure) {
    error = r.failure.message;
    (o.log ?? toStderr)(
      `${input}: code cell ${r.failure.cell} of ${r.failure.cells} failed (${r.failure.status}):\n${r.failure.message}\nexecuted copy (up to the failure): ${executed}\n`,
    );
  } else if (!fs.existsSync(measured)) error = `the notebook ran but wrote no measured values (${measured})`;
  return {
    name,
    ok: error === null,
    seconds: (Date.now() - started) / 1000,
    executed,
    measured: error === null ? measured : null,
    error,
    scale: o.scale,
    finishedAt: new Date().toISOString(),
  };
}

export async function repro(o: RunOptions): Promise<number> {
  const all = listNotebooks(o.notebooks);
  for (const n of o.only ?? []) if (!all.includes(n)) throw new Error(`--only: no notebook '${n}' in notebooks/ (have ${all.join(', ')})`);
  const names = o.only ?? all;
  const log = o.log ?? toStderr;
  fs.mkdirSync(o.out, { recursive: true });
  buildDeclarations();
  // Earlier runs' times (same scale; else those measured here) drive the ETA; the runs of
  // notebooks not re-run stay in the report.
  const runsFile = path.join(o.out, 'runs.json');
  const previous: Record<string, NotebookRun> = fs.existsSync(runsFile) ? JSON.parse(fs.readFileSync(runsFile, 'utf8')) : {};
  const runs: Record<string, NotebookRun> = { ...previous };
  const t0 = Date.now();
  const measuredHere =
    (JSON.parse(fs.readFileSync(path.join(__dirname, 'expected-seconds.json'), 'utf8')) as Record<string, Record<string, number>>)[o.scale] ?? {};
  const expected = (n: string) => previous[n]?.seconds ?? measuredHere[n] ?? null;
  for (const [k, name] of names.entries()) {
    const nbStart = Date.now();
    const rest = names.slice(k + 1).map(expected);
    const line = (cell: number, cells: number) => {
      const spent = (Date.now() - nbStart) / 1000;
      const own = expected(name);
      const left = rest.every((s) => s !== null) && own !== null ? Math.max(0, own - spent) + rest.reduce((a, s) => a + s!, 0) : null;
      log(
        `[repro ${o.scale}] ${k + 1}/${names.length} ${name}: cell ${cell}/${cells} · ${clock(spent)} · suite ${clock((Date.now() - t0) / 1000)}${left === null ? '' : ` · ETA ${clock(left)}`}\n`,
      );
    };
    const run = await runNotebook(name, o, line);
    runs[name] = run;
    writeFileAtomic(runsFile, JSON.stringify(runs, null, 2));
    log(`[repro ${o.scale}] ${name}: ${run.ok ? 'ok' : 'FAILED'} in ${clock(run.seconds)}${run.ok ? '' : ` — ${run.error}`}\n`);
  }
  const records = new Map<string, MeasuredRecord>();
  for (const run of Object.values(runs)) if (run.ok && run.measured && fs.existsSync(run.measured)) records.set(run.name, readMeasured(run.measured));
  const metrics: MeasuredMetrics = Object.fromEntries([...records].map(([name, r]) => [name, r.values.metrics]));
  const results = checkClaims(o.scale, metrics);
  const report = await writeReport({
    out: o.out,
    scale: o.scale,
    runs: Object.values(runs).sort((a, b) => a.name.localeCompare(b.name)),
    claims: results,
    wallSeconds: (Date.now() - t0) / 1000,
  });
  const failedNotebooks = names.filter((n) => !runs[n].ok);
  const blocking = results.filter((r) => r.blocking);
  log(
    `\n[repro ${o.scale}] ${names.length} notebook(s) in ${clock((Date.now() - t0) / 1000)}; claims: ${VERDICTS.map((v) => `${results.filter((r) => r.verdict === v).length} ${v}`).join(', ')}\n`,
  );
  for (const r of results)
    log(
      `  ${r.verdict.padEnd(18)} ${r.rule.mustHold ? 'must hold ' : '          '} ${r.claim.id}: ${r.measured === null ? '–' : r.measured.toFixed(3)} ${r.claim.comparison} ${r.threshold.toFixed(3)}\n`,
    );
  (o.log ?? ((text: string) => void process.stdout.write(text)))(`report: ${report.html}\n        ${report.markdown}\n`);
  if (o.measurementsDir) {
    // Only the notebooks run now count: a previous run's values (runs.json) describe other code.
    const thisRun = names.flatMap((n) =>
      runs[n].ok && records.has(n) ? [{ name: n as NotebookName, seconds: runs[n].seconds, record: records.get(n)! }] : [],
    );
    const why = incompleteBecause({ notebooks: thisRun });
    const file = path.join(o.measurementsDir, `${o.scale}.json`);
    if (why) log(`measurements: ${file} left as it was: ${why}\n`);
    else {
      const { training } = reproSettings(o.scale);
      const compute = computeLedger(new Cache(), { profile: training.profile, dataset: training.dataset });
      writeMeasurements(
        file,
        measurements({ scale: o.scale, seed: o.seed, wallSeconds: (Date.now() - t0) / 1000, notebooks: thisRun, claims: results, compute }),
      );
      // The tables beside it, rendered from the file as `npm run measurements:tables` does: a committed pair that disagrees fails the tests.
      const tables = path.join(o.measurementsDir, `${o.scale}.md`);
      writeFileAtomic(tables, measurementsMarkdown(readMeasurements(file), path.relative(ROOT, file)));
      log(`measurements: ${file}\n              ${tables}\n`);
    }
  }
  if (failedNotebooks.length) log(`failed notebooks: ${failedNotebooks.join(', ')}\n`);
  if (blocking.length) log(`must-hold claims failing: ${blocking.map((r) => r.claim.id).join(', ')}\n`);
  return failedNotebooks.length || blocking.length ? 1 : 0;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string' },
      profile: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      backend: { type: 'string', default: '' },
      seed: { type: 'string', default: '0' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // --profile was this option's name before "profile" came to mean the training profile alone.
  if (values.profile !== undefined && values.scale !== undefined) throw new Error('--profile: is the older name for --scale; give one of them');
  if (values.profile !== undefined) process.stderr.write('repro: --profile is now --scale (the suite scale); reading it as --scale\n');
  const given = values.scale ?? values.profile ?? 'quick';
  const scale = given as ReproScale;
  if (!REPRO_SCALES.includes(scale)) throw new Error(`--scale: expected one of ${REPRO_SCALES.join(', ')}, got '${given}'`);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed: expected an integer, got '${values.seed}'`);
  // An empty list is a mistake (an unset shell variable), not "every notebook": that would overwrite the last report.
  const only = values.only === undefined ? null : values.only.split(',').map((s) => s.trim().replace(/\.ipynb$/, ''));
  if (only && (only.length === 0 || only.some((n) => n === '')))
    throw new Error(`--only: expected notebook names separated by commas, got '${values.only}'; leave --only out to run them all`);
  const out = path.resolve(values.out ?? path.join(ROOT, 'paper-repro', 'out', scale));
  const unwritableOut = unwritable(out, 'dir');
  if (unwritableOut) throw new Error(`--out: ${unwritableOut}`);
  return repro({
    scale,
    only,
    out,
    backend: values.backend ?? '',
    seed,
    measurementsDir: path.join(ROOT, 'docs', 'measurements'),
  });
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`repro: ${e.message}\n${USAGE}\n`);
      process.exit(2);
    },
  );
}
