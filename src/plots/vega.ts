import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

/**
 * Figures are Vega-Lite v5 specs: plain JSON that JupyterLab renders natively under this MIME
 * type, that a file can hold next to the numbers, and that renders headless here to SVG or PNG.
 */
export type VegaLiteSpec = TopLevelSpec;

export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
export const VEGA_LITE_MIME = 'application/vnd.vegalite.v5+json';

/** The spec with the v5 schema set, so a viewer never guesses the version. */
export function vegaLite(spec: Omit<VegaLiteSpec, '$schema'>): VegaLiteSpec {
  return { $schema: VEGA_LITE_SCHEMA, ...spec } as VegaLiteSpec;
}

/** Compiles to a Vega spec; throws with vega-lite's message (and the title) when the spec is invalid. */
export function compileVegaLite(spec: VegaLiteSpec): vega.Spec {
  try {
    // vega tags the data objects it ingests (Symbol(vega_id)), and the compiled spec holds the
    // caller's objects: compile a copy, so a spec a notebook displays after rendering is untouched.
    return vl.compile(structuredClone(spec)).spec;
  } catch (e) {
    throw new Error(`vega-lite spec ${describeTitle(spec)}does not compile: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Renders headless to an SVG string. Vega's `toSVG` is asynchronous (data loading and scenegraph
 * evaluation run in its dataflow), so this returns a promise.
 */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const view = new vega.View(vega.parse(compileVegaLite(spec)), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Renders to PNG through resvg (a prebuilt native binary from an npm platform package: no canvas,
 * no browser). `scale` multiplies the spec's pixel size; text uses the system fonts, preferring
 * DejaVu Sans where installed, so labels render the same on every machine that has it.
 */
export async function renderPng(spec: VegaLiteSpec, scale = 2): Promise<Buffer> {
  if (!(Number.isFinite(scale) && scale > 0)) throw new Error(`renderPng: scale must be a positive number, got ${scale}`);
  const svg = await renderSvg(spec);
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}

function describeTitle(spec: VegaLiteSpec): string {
  const title = (spec as { title?: unknown }).title;
  if (typeof title === 'string') return `'${title}' `;
  if (title && typeof title === 'object' && typeof (title as { text?: unknown }).text === 'string') return `'${(title as { text: string }).text}' `;
  return '';
}

export interface HeatmapCell {
  row: string;
  column: string;
  /** drives the colour, e.g. a share in [0, 1] */
  value: number;
  /** the annotation written in the cell */
  text: string;
}

export interface HeatmapOptions {
  title: string;
  subtitle?: string;
  rowTitle: string;
  columnTitle: string;
  /** orders of the axes (data order otherwise sorts them as strings) */
  rows: readonly string[];
  columns: readonly string[];
  valueTitle: string;
  /** d3 format of the values in the legend and tooltip, e.g. '.0%' for shares */
  valueFormat?: string;
  /** fixed colour domain, e.g. [0, 1] for shares, so that several heatmaps compare */
  domain?: [number, number];
  cellSize?: number;
}

/** Rows × columns, colour = value, each cell annotated; text turns white on dark cells. */
export function heatmapSpec(cells: readonly HeatmapCell[], o: HeatmapOptions): VegaLiteSpec {
  const size = o.cellSize ?? 28;
  const domain = o.domain ?? [Math.min(...cells.map((c) => c.value)), Math.max(...cells.map((c) => c.value))];
  const mid = (domain[0] + domain[1]) / 2;
  // Column names wider than a cell (about 6 px a character) overlap unless slanted.
  const slant = Math.max(...o.columns.map((c) => c.length)) * 6 > size;
  const x = {
    field: 'column',
    type: 'nominal',
    sort: [...o.columns],
    title: o.columnTitle,
    axis: slant ? { labelAngle: -40, labelAlign: 'right' } : { labelAngle: 0 },
  };
  const y = { field: 'row', type: 'nominal', sort: [...o.rows], title: o.rowTitle };
  return vegaLite({
    title: o.subtitle ? { text: o.title, subtitle: o.subtitle } : o.title,
    data: { values: cells.map((c) => ({ ...c })) },
    width: size * o.columns.length,
    height: size * o.rows.length,
    layer: [
      {
        mark: 'rect',
        encoding: {
          x,
          y,
          color: {
            field: 'value',
            type: 'quantitative',
            title: o.valueTitle,
            scale: { scheme: 'blues', domain },
            ...(o.valueFormat ? { legend: { format: o.valueFormat } } : {}),
          },
          tooltip: [
            { field: 'row' },
            { field: 'column' },
            { field: 'value', type: 'quantitative', title: o.valueTitle, ...(o.valueFormat ? { format: o.valueFormat } : {}) },
          ],
        },
      },
      {
        mark: { type: 'text', fontSize: Math.max(7, Math.round(size / 3.2)) },
        encoding: {
          x,
          y,
          text: { field: 'text', type: 'nominal' },
          color: { condition: { test: `datum.value > ${mid}`, value: 'white' }, value: 'black' },
        },
      },
    ],
  } as Omit<VegaLiteSpec, '$schema'>);
}
