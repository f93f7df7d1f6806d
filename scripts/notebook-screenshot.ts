/**
 * docs/notebook.png: an executed notebook as Jupyter shows it, through `jupyter nbconvert --to html`
 * (the lab template) and headless Chromium. nbconvert strips inline SVG and would load vega-embed
 * from a CDN the headless browser cannot reach, so each figure is shown as the PNG its Vega-Lite
 * spec renders to, which is what JupyterLab draws from the spec.
 *
 *   npx tsx scripts/notebook-screenshot.ts paper-repro/out/quick/executed/00-teaching.ipynb docs/notebook.png [width,height]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { screenshot } from '../paper-repro/check-report';
import { readNotebook } from '../paper-repro/nbformat';
import { renderPng, VEGA_LITE_MIME, type VegaLiteSpec } from '../src/plots/vega';

async function main(): Promise<void> {
  const [input, output, size = '1000,3900'] = process.argv.slice(2);
  if (!input || !output) throw new Error('usage: npx tsx scripts/notebook-screenshot.ts <executed.ipynb> <out.png> [width,height]');
  const nb = readNotebook(input);
  for (const cell of nb.cells) {
    for (const o of (cell.outputs ?? []) as { data?: Record<string, unknown> }[]) {
      const spec = o.data?.[VEGA_LITE_MIME] as VegaLiteSpec | undefined;
      if (!spec || !o.data) continue;
      o.data = { 'image/png': (await renderPng(spec, 1)).toString('base64'), 'text/plain': o.data['text/plain'] };
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-shot-'));
  try {
    fs.writeFileSync(path.join(dir, 'notebook.ipynb'), JSON.stringify(nb));
    const r = spawnSync('jupyter', ['nbconvert', '--to', 'html', path.join(dir, 'notebook.ipynb')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`jupyter nbconvert failed: ${r.error?.message ?? r.stderr.slice(-2000)}`);
    if (!screenshot(path.join(dir, 'notebook.html'), output, size)) throw new Error(`chromium wrote no screenshot to ${output}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${output}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`notebook-screenshot: ${e.message}\n`);
  process.exit(1);
});
