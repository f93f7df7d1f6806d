import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = process.env.PBE_CHROMIUM ?? '/usr/bin/chromium';

/** What the report page recorded once every figure had rendered (or failed to). */
export interface PageStatus {
  figures: number;
  rendered: number;
  /** rendered marks (rects, symbols, lines, text …) per figure */
  marks: number[];
  /** the notebook each figure belongs to */
  notebooks: string[];
  errors: string[];
  /** with #hover: whether hovering a t-SNE point showed its image; null when no figure carries images */
  tooltipImage: boolean | null;
}

export interface ReportCheck {
  status: PageStatus;
  /** console errors Chromium logged that the page could not catch itself (e.g. a script that failed to load) */
  consoleErrors: string[];
  /** the top of the report, and the page scrolled to the t-SNE with a point hovered */
  screenshot: string;
  hoverScreenshot: string;
  problems: string[];
}

/**
 * Debian's chromium, headless, with the flags that keep it off the (closed) network, and a fresh
 * profile folder per run.
 */
function chromium(args: string[]): { stdout: string; stderr: string } {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-chromium-'));
  try {
    const r = spawnSync(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        `--user-data-dir=${profile}`,
        '--enable-logging=stderr',
        '--v=0',
        '--virtual-time-budget=30000',
        ...args,
      ],
      { encoding: 'utf8', timeout: 180_000, maxBuffer: 256 * 2 ** 20 },
    );
    if (r.error) throw new Error(`${CHROMIUM}: ${r.error.message} (apt-get install chromium)`);
    return { stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** A screenshot of a page, `size` as 'width,height'; whether it was written. */
export function screenshot(page: string, file: string, size: string): boolean {
  fs.rmSync(file, { force: true });
  chromium([`--screenshot=${path.resolve(file)}`, `--window-size=${size}`, '--hide-scrollbars', page]);
  return fs.existsSync(file);
}

export function chromiumMissing(): string | null {
  return fs.existsSync(CHROMIUM) ? null : `${CHROMIUM} not found (apt-get install chromium)`;
}

/** Loads the report headless: no console error, every figure rendered with marks, the t-SNE tooltip shows an image; takes a screenshot. */
export function checkReport(html: string, shot = html.replace(/\.html$/, '.png'), size = '1280,2400'): ReportCheck {
  const url = `${pathToFileURL(path.resolve(html)).href}#hover`;
  const dom = chromium(['--dump-dom', url]);
  const m = /<pre id="pbe-status"[^>]*>([^<]*)<\/pre>/.exec(dom.stdout);
  const problems: string[] = [];
  let status: PageStatus = { figures: 0, rendered: 0, marks: [], notebooks: [], errors: [], tooltipImage: null };
  if (!m || m[1].trim() === '') problems.push('the page never finished rendering (no status): a script failed to load or threw');
  // A report written before figures named their notebook has no `notebooks`.
  else
    status = {
      ...status,
      ...JSON.parse(
        m[1]
          .replace(/&quot;/g, '"')
          .replace(/&amp;/g, '&')
          .replace(/&lt;/g, '<')
          .replace(/&gt;/g, '>'),
      ),
    } as PageStatus;
  const consoleErrors = dom.stderr.split('\n').filter((l) => /CONSOLE/.test(l) && /error/i.test(l));
  if (status.errors.length) problems.push(`page errors: ${status.errors.join('; ')}`);
  if (consoleErrors.length) problems.push(`console errors: ${consoleErrors.join('; ')}`);
  if (status.rendered !== status.figures) problems.push(`${status.rendered} of ${status.figures} figures rendered`);
  status.marks.forEach((n, i) => n > 0 || problems.push(`figure ${i} (${status.notebooks[i]}) rendered no marks`));
  if (status.tooltipImage === false) problems.push('hovering a t-SNE point showed no image');
  const hoverScreenshot = shot.replace(/\.png$/, '-hover.png');
  for (const [file, page] of [
    [shot, url.replace(/#hover$/, '')],
    [hoverScreenshot, url],
  ])
    if (!screenshot(page, file, size)) problems.push(`no screenshot written to ${file}`);
  return { status, consoleErrors, screenshot: shot, hoverScreenshot, problems };
}

/** Rendered marks per figure, grouped by the notebook each figure belongs to (in the report's order). */
export function marksByNotebook(status: Pick<PageStatus, 'marks' | 'notebooks'>): Map<string, number[]> {
  const by = new Map<string, number[]>();
  status.notebooks.forEach((n, i) => by.set(n, [...(by.get(n) ?? []), status.marks[i] ?? 0]));
  return by;
}

if (require.main === module) {
  const html = process.argv[2];
  if (!html || !fs.existsSync(html)) {
    process.stderr.write('usage: npm run repro:check -- <report.html> [screenshot.png]\n');
    process.exit(2);
  }
  const r = checkReport(html, process.argv[3]);
  const marks = r.status.marks.reduce((a, b) => a + b, 0);
  process.stdout.write(
    `${r.status.rendered}/${r.status.figures} figures rendered, ${marks} marks; t-SNE image tooltip: ${r.status.tooltipImage}; screenshots ${r.screenshot}, ${r.hoverScreenshot}\n`,
  );
  for (const [notebook, counts] of marksByNotebook(r.status)) process.stdout.write(`  ${notebook}: ${counts.length} figure(s), marks ${counts.join(', ')}\n`);
  for (const p of r.problems) process.stderr.write(`problem: ${p}\n`);
  process.exit(r.problems.length ? 1 : 0);
}
