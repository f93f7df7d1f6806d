import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  type ClaimResult,
  escapeHtml,
  type MeasuredRecord,
  PAPER_CITATION,
  PROGRESS_METADATA,
  type ReproScale,
  VEGA_LITE_MIME,
  writeFileAtomic,
} from 'pbe-lab';

export interface NotebookRun {
  name: string;
  ok: boolean;
  seconds: number;
  executed: string;
  measured: string | null;
  error: string | null;
  scale: ReproScale;
  finishedAt: string;
}

/** What a notebook showed, in order. */
export type Shown =
  | { kind: 'figure'; spec: object; svg: string | null; title: string }
  | { kind: 'table'; html: string; markdown: string }
  | { kind: 'reading'; markdown: string }
  | { kind: 'image'; png: string; title: string };

interface Output {
  output_type: string;
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
}

const text = (v: unknown) => (Array.isArray(v) ? v.join('') : String(v ?? ''));

/** The title (first heading) and the rich outputs of an executed notebook. */
export function readExecuted(file: string): { title: string; shown: Shown[] } {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: Cell[] };
  const heading = nb.cells.find((c) => c.cell_type === 'markdown' && /^#\s/.test(text(c.source)));
  const title = heading ? text(heading.source).split('\n')[0].replace(/^#\s*/, '') : path.basename(file, '.ipynb');
  const shown: Shown[] = [];
  for (const cell of nb.cells) {
    for (const o of cell.outputs ?? []) {
      const d = o.data;
      // Progress bars belong to the notebook, not to the report.
      if (!d || o.metadata?.['pbe-lab'] === PROGRESS_METADATA['pbe-lab']) continue;
      const plain = text(d['text/plain']);
      if (d[VEGA_LITE_MIME])
        shown.push({
          kind: 'figure',
          spec: d[VEGA_LITE_MIME] as object,
          svg: d['image/svg+xml'] ? text(d['image/svg+xml']) : null,
          title: plain.replace(/^\[figure\]\s*/, ''),
        });
      else if (d['text/html']) shown.push({ kind: 'table', html: text(d['text/html']), markdown: text(d['text/markdown'] ?? plain) });
      else if (d['image/png']) shown.push({ kind: 'image', png: text(d['image/png']), title: plain });
      else if (d['text/markdown']) shown.push({ kind: 'reading', markdown: text(d['text/markdown']) });
    }
  }
  return { title, shown };
}

/** Enough Markdown for the readings: `code`, **bold**, paragraphs. */
function inlineMarkdown(md: string): string {
  return escapeHtml(md)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<b>$1</b>');
}

const fmt = (v: number | null) => (v === null ? '–' : Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(3));

const VERDICT_CLASS: Record<string, string> = { holds: 'ok', fails: 'bad', 'known not to hold': 'known', 'not measured': 'none' };

function claimRows(results: readonly ClaimResult[]): { head: string[]; rows: string[][] } {
  return {
    head: ['claim', 'source', 'statement', 'metric', 'paper', 'ours', 'check', 'verdict', 'must hold', 'tolerance: reason'],
    rows: results.map((r) => [
      r.claim.id,
      r.claim.source,
      r.claim.statement,
      r.claim.description,
      r.claim.paper.text,
      fmt(r.measured),
      `${r.claim.comparison} ${fmt(r.threshold)}`,
      r.verdict + (r.verdict === 'known not to hold' && r.rule.knownNotToHold ? ` (${r.rule.knownNotToHold})` : ''),
      r.rule.mustHold ? 'yes' : 'no',
      `${fmt(r.rule.tolerance)}: ${r.rule.reason}`,
    ]),
  };
}

function runtimeLine(record: MeasuredRecord | null, run: NotebookRun): string {
  if (!record) return `${run.ok ? 'ok' : 'FAILED'} · ${run.seconds.toFixed(1)} s`;
  const v = record.runtime.versions;
  return [
    `${run.ok ? 'ok' : 'FAILED'} · ${run.seconds.toFixed(1)} s wall`,
    `backend ${record.runtime.backend}`,
    `seed ${String(record.parameters.seed)}`,
    `dataset ${String(record.parameters.dataset)}`,
    `pbe-lab ${v['pbe-lab']}, tfjs-core ${v['@tensorflow/tfjs-core']}, node ${v.node}`,
    `${record.runtime.machine.cores}× ${record.runtime.machine.cpu}`,
  ].join(' · ');
}

const ASSETS = [
  ['vega', 'build/vega.min.js'],
  ['vega-lite', 'build/vega-lite.min.js'],
  ['vega-embed', 'build/vega-embed.min.js'],
] as const;

/** A package's folder (its `exports` hide build files from require.resolve). */
function packageDir(pkg: string): string {
  const dir = (require.resolve.paths(pkg) ?? []).map((d) => path.join(d, pkg)).find((d) => fs.existsSync(path.join(d, 'package.json')));
  if (!dir) throw new Error(`report: the package ${pkg} is not installed (npm ci)`);
  return dir;
}

/** The page's own script: renders every figure, then records what rendered (for the headless check). */
const BOOT = `
const status = { figures: 0, rendered: 0, marks: [], notebooks: [], errors: [], tooltipImage: null, tooltip: null };
window.addEventListener('error', (e) => status.errors.push(String(e.message)));
const origError = console.error;
console.error = (...a) => { status.errors.push(a.map(String).join(' ')); origError(...a); };
const specs = JSON.parse(document.getElementById('pbe-specs').textContent);
status.figures = specs.length;
status.notebooks = specs.map((_, i) => document.getElementById('fig-' + i).closest('section').id);
const MARKS = ['rect', 'symbol', 'line', 'text', 'rule', 'area'].map((m) => 'svg .mark-' + m + ' > *').join(', ');
const hasImages = (spec) => ((spec.data && spec.data.values) || []).some((v) => typeof v.image === 'string');
// With #hover, move the mouse over the first point of a figure whose points carry images, so that
// a headless browser can check (and photograph) the image tooltip.
const hover = (i) => new Promise((resolve) => {
  const el = document.querySelector('#fig-' + i + ' svg .mark-symbol > path');
  if (!el) return resolve(false);
  // Headless screenshots of a scrolled page come out blank: bring the figure's section to the top instead.
  document.body.prepend(el.closest('section'));
  const b = el.getBoundingClientRect();
  const at = { bubbles: true, clientX: b.x + b.width / 2, clientY: b.y + b.height / 2 };
  for (const type of ['pointerover', 'pointermove']) el.dispatchEvent(new PointerEvent(type, at));
  for (const type of ['mouseover', 'mousemove']) el.dispatchEvent(new MouseEvent(type, at));
  setTimeout(() => {
    const tip = document.querySelector('#vg-tooltip-element');
    status.tooltip = tip ? tip.outerHTML.slice(0, 200) : null;
    resolve(!!(tip && tip.querySelector('img')));
  }, 300);
});
Promise.all(specs.map((spec, i) => vegaEmbed('#fig-' + i, spec, { actions: false, renderer: 'svg' })
  .then(() => { status.rendered++; status.marks[i] = document.querySelectorAll(MARKS.split(', ').map((m) => '#fig-' + i + ' ' + m).join(', ')).length; })
  .catch((e) => status.errors.push('figure ' + i + ': ' + e.message))))
  .then(async () => {
    const i = specs.findIndex(hasImages);
    if (location.hash === '#hover' && i >= 0) status.tooltipImage = await hover(i);
  })
  .finally(() => { const el = document.getElementById('pbe-status'); el.textContent = JSON.stringify(status); el.dataset.done = '1'; });
`;

const CSS = `body{font:14px/1.45 system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.6em 0;font-size:12.5px}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}th{background:#f3f3f3}
.ok{background:#e3f4e1}.bad{background:#fbe0de}.known{background:#fff4d6}.none{color:#888}.meta{color:#555;font-size:12px}
.reading{border-left:3px solid #4c78a8;padding:.2em .8em;background:#f7f9fc}.vega-embed{margin:.5em 0}
#vg-tooltip-element img{max-width:120px;image-rendering:pixelated}#pbe-status{display:none}section{border-top:1px solid #ddd;margin-top:2em}`;

export interface ReportInput {
  out: string;
  scale: ReproScale;
  runs: NotebookRun[];
  claims: ClaimResult[];
  wallSeconds: number;
}

/** report.html (interactive, offline: the Vega libraries are copied beside it) and report.md (SVG figures). */
export async function writeReport(input: ReportInput): Promise<{ html: string; markdown: string }> {
  const { out, runs, claims } = input;
  fs.mkdirSync(path.join(out, 'assets'), { recursive: true });
  fs.mkdirSync(path.join(out, 'figures'), { recursive: true });
  for (const [pkg, file] of ASSETS) fs.copyFileSync(path.join(packageDir(pkg), file), path.join(out, 'assets', path.basename(file)));

  const counts = ['holds', 'fails', 'known not to hold', 'not measured'].map((v) => `${claims.filter((r) => r.verdict === v).length} ${v}`).join(', ');
  const total = runs.reduce((a, r) => a + r.seconds, 0);
  const table = claimRows(claims);
  const specs: object[] = [];
  const html: string[] = [];
  const md: string[] = [];
  html.push(`<h1>pbe-lab: reproduction report, scale <code>${input.scale}</code></h1>`);
  html.push(
    `<p>${escapeHtml(PAPER_CITATION)}. Generated ${new Date().toISOString()}; notebooks ${runs.length}, ${runs.filter((r) => r.ok).length} ok; notebook wall time ${total.toFixed(0)} s (this run ${input.wallSeconds.toFixed(0)} s). Claims: ${counts}.</p>`,
  );
  md.push(
    `# pbe-lab: reproduction report, scale \`${input.scale}\``,
    '',
    `${PAPER_CITATION}. Notebooks ${runs.length}, ${runs.filter((r) => r.ok).length} ok; notebook wall time ${total.toFixed(0)} s. Claims: ${counts}.`,
    '',
  );
  html.push('<h2>Claims</h2><table><tr>' + table.head.map((h) => `<th>${h}</th>`).join('') + '</tr>');
  claims.forEach((r, i) => html.push(`<tr class="${VERDICT_CLASS[r.verdict]}">` + table.rows[i].map((c) => `<td>${escapeHtml(c)}</td>`).join('') + '</tr>'));
  html.push('</table>');
  md.push(
    '## Claims',
    '',
    `| ${table.head.join(' | ')} |`,
    `|${table.head.map(() => '---').join('|')}|`,
    ...table.rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
    '',
  );
  html.push('<h2>Notebooks</h2><table><tr><th>notebook</th><th>status</th><th>wall s</th><th>backend</th><th>seed</th></tr>');
  const records = new Map<string, MeasuredRecord | null>(
    runs.map((r) => [r.name, r.measured && fs.existsSync(r.measured) ? (JSON.parse(fs.readFileSync(r.measured, 'utf8')) as MeasuredRecord) : null]),
  );
  for (const r of runs) {
    const rec = records.get(r.name);
    html.push(
      `<tr class="${r.ok ? 'ok' : 'bad'}"><td><a href="#${r.name}">${r.name}</a></td><td>${r.ok ? 'ok' : 'FAILED'}</td><td>${r.seconds.toFixed(1)}</td><td>${rec?.runtime.backend ?? '–'}</td><td>${String(rec?.parameters.seed ?? '–')}</td></tr>`,
    );
  }
  html.push('</table>');
  md.push(
    '## Notebooks',
    '',
    '| notebook | status | wall s | backend | seed |',
    '|---|---|---|---|---|',
    ...runs.map(
      (r) =>
        `| ${r.name} | ${r.ok ? 'ok' : 'FAILED'} | ${r.seconds.toFixed(1)} | ${records.get(r.name)?.runtime.backend ?? '–'} | ${String(records.get(r.name)?.parameters.seed ?? '–')} |`,
    ),
    '',
  );

  for (const run of runs) {
    const { title, shown } = fs.existsSync(run.executed) ? readExecuted(run.executed) : { title: run.name, shown: [] as Shown[] };
    const meta = runtimeLine(records.get(run.name) ?? null, run);
    html.push(
      `<section id="${run.name}"><h2>${escapeHtml(title)}</h2><p class="meta"><code>notebooks/${run.name}.ipynb</code> · ${escapeHtml(meta)} · <a href="${escapeHtml(path.relative(out, run.executed))}">executed copy</a></p>`,
    );
    md.push(`## ${title}`, '', `\`notebooks/${run.name}.ipynb\` · ${meta} · [executed copy](${path.relative(out, run.executed)})`, '');
    if (run.error) {
      html.push(`<pre class="bad">${escapeHtml(run.error)}</pre>`);
      md.push('```', run.error, '```', '');
    }
    shown.forEach((s, k) => {
      if (s.kind === 'figure') {
        html.push(`<div id="fig-${specs.length}" class="figure"></div>`);
        specs.push(s.spec);
        if (s.svg) {
          const file = `figures/${run.name}-${k}.svg`;
          writeFileAtomic(path.join(out, file), s.svg);
          md.push(`![${s.title}](${file})`, '');
        }
      } else if (s.kind === 'image') {
        const file = `figures/${run.name}-${k}.png`;
        writeFileAtomic(path.join(out, file), Buffer.from(s.png, 'base64'));
        html.push(`<p><img alt="${escapeHtml(s.title)}" src="${file}"></p>`);
        md.push(`![${s.title}](${file})`, '');
      } else if (s.kind === 'table') {
        html.push(s.html);
        md.push(s.markdown, '');
      } else {
        html.push(`<p class="reading">${inlineMarkdown(s.markdown)}</p>`);
        md.push(`> ${s.markdown}`, '');
      }
    });
    const own = claims.filter((r) => r.claim.notebook === run.name);
    if (own.length) {
      html.push(
        '<p><b>Claims of this notebook:</b> ' +
          own.map((r) => `<span class="${VERDICT_CLASS[r.verdict]}">${escapeHtml(r.claim.id)}: ${r.verdict}</span>`).join(' · ') +
          '</p>',
      );
      md.push(`Claims: ${own.map((r) => `${r.claim.id}: **${r.verdict}**`).join(' · ')}`, '');
    }
    html.push('</section>');
  }
  const scripts = ASSETS.map(([, file]) => `<script src="assets/${path.basename(file)}"></script>`).join('\n');
  // '</' inside the JSON would end the script element early.
  const specJson = JSON.stringify(specs).replace(/<\//g, '<\\/');
  const page = `<!doctype html><html><head><meta charset="utf-8"><title>pbe-lab reproduction report (${input.scale})</title><style>${CSS}</style>\n${scripts}</head><body>\n${html.join('\n')}\n<pre id="pbe-status"></pre><script type="application/json" id="pbe-specs">${specJson}</script><script>${BOOT}</script></body></html>\n`;
  const htmlFile = path.join(out, 'report.html');
  const mdFile = path.join(out, 'report.md');
  writeFileAtomic(htmlFile, page);
  writeFileAtomic(mdFile, md.join('\n'));
  return { html: htmlFile, markdown: mdFile };
}
