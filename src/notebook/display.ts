import type { ColumnTable } from 'arquero';
import { renderSvg, VEGA_LITE_MIME, type VegaLiteSpec } from '../plots/vega';

/** One rich output: MIME type → content, as Jupyter's display_data carries it. */
export type MimeBundle = Record<string, unknown>;

type WriteDisplayData = (msg: { data: MimeBundle; metadata: object; transient: object }, update: boolean) => void;

/**
 * tslab's public `display` sends one MIME type per output; a figure needs several (Vega-Lite for
 * JupyterLab, SVG for viewers without Vega, text for terminals) in one output, which only tslab's
 * internal writer can send. Null outside a running tslab kernel.
 */
function tslabWriter(): WriteDisplayData | null {
  try {
    return (require('tslab/dist/jupyter') as { lastWriteDisplayData: WriteDisplayData | null }).lastWriteDisplayData;
  } catch {
    return null;
  }
}

/** Sends the bundle to the notebook; outside a kernel (a script, a test) prints its text/plain. */
export function displayBundle(bundle: MimeBundle): void {
  const write = tslabWriter();
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

/** A data frame's outputs: HTML for notebooks, Markdown and plain text for the rest. */
export function tableBundle(table: ColumnTable, caption?: string): MimeBundle {
  const html = table.toHTML({ limit: Infinity });
  const markdown = table.toMarkdown({ limit: Infinity });
  return {
    'text/html': caption ? `<p><b>${escapeHtml(caption)}</b></p>${html}` : html,
    'text/markdown': caption ? `**${caption}**\n\n${markdown}` : markdown,
    'text/plain': caption ? `${caption}\n${markdown}` : markdown,
  };
}

/** Displays a data frame (arquero) as a table. */
export function showTable(table: ColumnTable, caption?: string): void {
  displayBundle(tableBundle(table, caption));
}

/** Displays a paragraph of Markdown: the reading of a result under its figure or table. */
export function showReading(markdown: string): void {
  displayBundle({ 'text/markdown': markdown, 'text/plain': markdown });
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

/** A share as a percentage with one decimal, e.g. 0.4123 → "41.2%". */
export function pct(share: number, digits = 1): string {
  return `${(100 * share).toFixed(digits)}%`;
}
