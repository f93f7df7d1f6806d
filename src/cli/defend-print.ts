import type { DefendReport } from '../experiments/defend';

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '-' : (100 * v).toFixed(2));

function cell(v: number | string | null): string {
  if (v === null) return '-';
  if (typeof v === 'string') return v;
  return Number.isInteger(v) ? String(v) : v.toFixed(3);
}

/** The before/after table, ACC/ASR at each stage, the defense's own per-stage rows, and where the report went. */
export function printDefendReport(r: DefendReport & { fromCache: boolean }, wallSeconds: number): void {
  const c = r.config;
  const setting = r.data.clean !== null ? `with a clean extra set of ${r.data.clean} images` : `on the training set (${r.data.train} images)`;
  console.log(`\n${c.defense} ${setting}: ${c.attack.name} ${c.attack.mode}${c.attack.mode === 'all2one' ? ` → ${c.attack.target}` : ''} on ${c.profile.dataset}, profile ${c.profile.profile} (${c.profile.arch}), seed ${c.seed}${r.fromCache ? '  [from cache]' : ''}`);
  console.log(`            ACC %    ASR %`);
  console.log(`before    ${pct(r.before.acc).padStart(7)}  ${pct(r.before.asr).padStart(7)}`);
  console.log(`after     ${pct(r.after.acc).padStart(7)}  ${pct(r.after.asr).padStart(7)}`);
  console.log(`per stage: ${r.stages.map((s) => `${s.stage} ${pct(s.acc)}/${pct(s.asr)}`).join(', ')}`);
  const rows = r.analysis?.rows ?? [];
  if (rows.length > 0) {
    const cols = Object.keys(rows[0]);
    const table = [cols, ...rows.map((row) => cols.map((k) => cell(row[k])))];
    const widths = cols.map((_, j) => Math.max(...table.map((t) => t[j].length)));
    for (const t of table) console.log(t.map((v, j) => v.padStart(widths[j])).join('  '));
  }
  for (const e of r.log) console.log(`  ${e.stage}: ${e.message}${e.seconds !== undefined ? ` (${e.seconds.toFixed(0)} s)` : ''}`);
  console.log(`defense ${r.seconds.toFixed(0)} s, wall time ${wallSeconds.toFixed(0)} s`);
  console.log(`report: ${r.reportFile}\nfigures: ${Object.values(r.figures).join(', ')}`);
}
