import * as aq from 'arquero';
import type { ColumnTable } from 'arquero';
import { renderSvg, VEGA_LITE_MIME, type VegaLiteSpec } from '../plots/vega';
import { pct } from '../repro/format';
import { escapeHtml, kernelDisplay, type MimeBundle } from './output';

export { escapeHtml, type MimeBundle } from './output';
export { pct } from '../repro/format';

/** Sends the bundle to the notebook; outside a kernel (a script, a test) prints its text/plain. */
export function displayBundle(bundle: MimeBundle): void {
  const write = kernelDisplay();
  if (write) write({ data: bundle, metadata: {}, transient: {} }, false);
  else process.stdout.write(`${String(bundle['text/plain'] ?? '')}\n`);
}

export function specTitle(spec: VegaLiteSpec): string {
  const title = (spec as { title?: unknown }).title;
  if (typeof title === 'string') return title;
  if (title && typeof title === 'object' && typeof (title as { text?: unknown }).text === 'string') return (title as { text: string }).text;
  return 'figure';
}

/** A figure's outputs: the Vega-Lite spec under its standard MIME type, its SVG rendering, its title as text. */
export async function figureBundle(spec: VegaLiteSpec): Promise<MimeBundle> {
  return { [VEGA_LITE_MIME]: spec, 'image/svg+xml': await renderSvg(spec), 'text/plain': `[figure] ${specTitle(spec)}` };
}

/** Displays a figure inline. */
export async function showFigure(spec: VegaLiteSpec): Promise<void> {
  displayBundle(await figureBundle(spec));
}

export interface TableFormat {
  /** columns of shares in [0, 1], shown as percentages (0.8778 → 87.8%) */
  percent?: readonly string[];
}

/** Where a value does not apply (null or undefined in the frame). */
export const NOT_APPLICABLE = '—';

/**
 * The frame as people read it: shares as percentages and an em dash where a value does not apply;
 * the columns that held numbers stay right-aligned.
 */
function readable(table: ColumnTable, format: TableFormat): { table: ColumnTable; align: Record<string, 'r'> } {
  const percent = new Set(format.percent ?? []);
  for (const name of percent)
    if (!table.columnNames().includes(name))
      throw new Error(`table format: no column '${name}' to show as a percentage (columns: ${table.columnNames().join(', ')})`);
  const columns: Record<string, unknown[]> = {};
  const align: Record<string, 'r'> = {};
  for (const name of table.columnNames()) {
    const values = Array.from(table.array(name) as ArrayLike<unknown>);
    if (values.some((v) => typeof v === 'number')) align[name] = 'r';
    columns[name] = values.map((v) => (v == null ? NOT_APPLICABLE : percent.has(name) && typeof v === 'number' ? pct(v) : v));
  }
  return { table: aq.table(columns), align };
}

/** A data frame's outputs: HTML for notebooks, Markdown and plain text for the rest. */
export function tableBundle(frame: ColumnTable, caption?: string, format: TableFormat = {}): MimeBundle {
  const { table, align } = readable(frame, format);
  const html = table.toHTML({ limit: Infinity, align });
  const markdown = table.toMarkdown({ limit: Infinity, align });
  return {
    'text/html': caption ? `<p><b>${escapeHtml(caption)}</b></p>${html}` : html,
    'text/markdown': caption ? `**${caption}**\n\n${markdown}` : markdown,
    'text/plain': caption ? `${caption}\n${markdown}` : markdown,
  };
}

/** Displays a data frame (arquero) as a table. */
export function showTable(table: ColumnTable, caption?: string, format: TableFormat = {}): void {
  displayBundle(tableBundle(table, caption, format));
}

/** Displays a paragraph of Markdown: the reading of a result under its figure or table. */
export function showReading(markdown: string): void {
  displayBundle({ 'text/markdown': markdown, 'text/plain': markdown });
}
