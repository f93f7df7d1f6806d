import * as path from 'node:path';
import { runtimeInfo } from '../backend';
import { Cache, type CacheEntry, configKey, type EntryContents, type PutOptions, writeFileAtomic } from '../cache';
import { renderSvg, type VegaLiteSpec } from '../plots/vega';
import { consoleSink, type ProgressSink } from '../progress';

/**
 * How every experiment (observe, defend, the budget rule, theorem1, the PGD evaluation, compare)
 * reads its surroundings and writes its results, so that keys, folders, figures and atomic writes
 * are one thing; a cached one goes through `cachedExperiment`. An experiment is `async function x(cfg: XConfig, ctx?: ExperimentOptions): Promise<XResult>`:
 *
 *   const { cache, progress } = experimentContext(ctx);
 *   const out = resultOutput(cache, { key: { kind: 'defend', cfg }, folder: 'defend', name: `${dataset}-${attack}`, outDir: ctx?.outDir });
 *   …compute, passing `cache` on (pool jobs get `cache.root`)…
 *   const figures = await out.writeFigures({ 'label-matrix': spec });   // <dir>/label-matrix.svg and .vl.json
 *   const report = out.writeReport({ config: cfg, key: out.key, runtime: runtimeInfo(), …, figures });
 *   return { ...report, specs };                                          // the specs for a notebook to display
 *
 * `key` must hold everything that identifies the result and nothing that does not (output
 * paths, the backend): results of equal keys are interchangeable.
 */
export interface ExperimentOptions {
  /** where models, datasets and results live; default: `new Cache()` (PBE_CACHE_DIR or data-cache/) */
  cache?: Cache;
  /** progress of the work done in this process; default: a console line on stderr */
  progress?: ProgressSink;
}

export interface ExperimentContext {
  cache: Cache;
  progress: ProgressSink;
}

export function experimentContext(opts: ExperimentOptions = {}): ExperimentContext {
  return { cache: opts.cache ?? new Cache(), progress: opts.progress ?? consoleSink() };
}

/** Figures by name: the Vega-Lite spec of each, for a notebook to display. */
export type FigureSpecs = Record<string, VegaLiteSpec>;

/** What every written report records about how it was made. */
export interface ReportHeader<C> {
  config: C;
  key: string;
  runtime: ReturnType<typeof runtimeInfo>;
}

export interface ResultOutput {
  /** configKey of the experiment's identity */
  key: string;
  /** folder of the figures */
  dir: string;
  /** where writeReport puts the report */
  reportFile: string;
  /** Renders each figure headlessly to `<dir>/<name>.svg` beside its spec `<name>.vl.json`; returns the SVG paths by name. */
  writeFigures(specs: FigureSpecs): Promise<Record<string, string>>;
  /** Writes the report as indented JSON, atomically; returns it unchanged. Call it last: a report on disk means its figures are there. */
  writeReport<R>(report: R): R;
}

export interface ResultOutputOptions {
  /** everything that identifies the result (hashed into the key) */
  key: unknown;
  /** results/<folder>/ under the cache */
  folder: string;
  /** readable prefix of the result's name, before the key */
  name: string;
  /** the folder instead of results/<folder>/<name>-<key>/ */
  outDir?: string;
  /** a report without figures may be one file, results/<folder>/<name>-<key>.json, instead of a folder */
  singleFile?: boolean;
  /** the report's path instead of the default */
  reportFile?: string;
}

export function resultOutput(cache: Cache, o: ResultOutputOptions): ResultOutput {
  const key = configKey(o.key);
  const base = path.join(cache.root, 'results', o.folder, `${o.name}-${key}`);
  const dir = o.outDir ?? (o.singleFile ? path.dirname(base) : base);
  const reportFile = o.reportFile ?? (o.singleFile && o.outDir === undefined ? `${base}.json` : path.join(dir, 'report.json'));
  return {
    key,
    dir,
    reportFile,
    async writeFigures(specs) {
      const figures: Record<string, string> = {};
      for (const [name, spec] of Object.entries(specs)) {
        figures[name] = path.join(dir, `${name}.svg`);
        writeFileAtomic(figures[name], await renderSvg(spec));
        writeFileAtomic(path.join(dir, `${name}.vl.json`), JSON.stringify(spec));
      }
      return figures;
    },
    writeReport(report) {
      writeFileAtomic(reportFile, JSON.stringify(report, null, 2));
      return report;
    },
  };
}

/** A finished result as a cache entry keeps it: the report with its figures' specs, one file. */
export function storedResult(report: object, specs: FigureSpecs): EntryContents {
  return { 'report.json': JSON.stringify({ ...report, specs }) };
}

/** A result kept by `storedResult`, with its figures written again where `out` points; the report's figure paths are those. */
export async function restoreResult<R extends { figures: Record<string, string> }>(
  entry: CacheEntry,
  out: ResultOutput,
): Promise<{ report: R; specs: FigureSpecs }> {
  const { specs, ...stored } = JSON.parse(entry.read('report.json').toString()) as R & { specs: FigureSpecs };
  return { report: { ...(stored as unknown as R), figures: await out.writeFigures(specs) }, specs };
}

/**
 * One cached experiment, in its stages: `key` identifies the result; the look-up finds a finished
 * entry and `restore` reads the result from it; otherwise `compute` works the result out and
 * hands what the cache keeps to `store` (when it chooses: before it releases what the entry's
 * files are written from), and the result is returned. An identical experiment running in another
 * process or pool worker is waited for and then read, not computed twice.
 *
 *   return cachedExperiment(cache, {
 *     kind: 'observations', key, what: 'the observation of blend on cifar10',
 *     restore: async (entry) => ({ ...(await restoreResult(entry, out)).report, fromCache: true }),
 *     compute: async (store) => { …; await store({ contents: storedResult(report, specs), meta }); return out.writeReport(report); },
 *   });
 */
export interface CachedExperiment<R> {
  /** the cache's kind of entry ('observations', 'defenses', 'budget-rules') */
  kind: string;
  /** everything that identifies the result and nothing that does not (see resultOutput) */
  key: unknown;
  /** the experiment in words, for the message while another process computes it */
  what: string;
  restore(entry: CacheEntry): R | Promise<R>;
  compute(store: (kept: KeptResult) => Promise<void>): Promise<R>;
}

/** What the cache keeps of a computed result. */
export interface KeptResult {
  /** the entry's files (a report with its figures' specs: `storedResult`) */
  contents: EntryContents;
  /** readable labels in the entry's manifest */
  meta: Record<string, unknown>;
  /** further files written into the entry before it appears (weights) */
  fill?: PutOptions['fill'];
}

export async function cachedExperiment<R>(cache: Cache, e: CachedExperiment<R>): Promise<R> {
  const lookUp = async (): Promise<R | null> => {
    const entry = cache.get(e.kind, e.key);
    return entry ? await e.restore(entry) : null;
  };
  const store = async (kept: KeptResult): Promise<void> => {
    await cache.put(e.kind, e.key, kept.contents, { meta: kept.meta, keepExisting: true, fill: kept.fill });
  };
  return (await lookUp()) ?? (await cache.exclusive(e.kind, e.key, e.what, async () => (await lookUp()) ?? (await e.compute(store))));
}
