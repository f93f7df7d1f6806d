import * as fs from 'node:fs';
import * as path from 'node:path';
import { runtimeInfo } from '../backend';
import { cacheRoot, writeFileAtomic } from '../cache';
import { NOTEBOOK_NAMES, type NotebookName, type NotebookValues } from './values';

/** What a notebook writes beside its executed copy: its parameters, its measured values, where it ran. */
export interface MeasuredRecord<N extends NotebookName = NotebookName> {
  notebook: N;
  parameters: Record<string, unknown>;
  values: NotebookValues[N];
  runtime: ReturnType<typeof runtimeInfo>;
  writtenAt: string;
}

/**
 * Writes a notebook's measured values as JSON (atomically) to `file`, or when it is '' (a notebook
 * opened by hand) to data-cache/results/notebooks/<notebook>.json; returns the path.
 */
export function writeMeasured<N extends NotebookName>(file: string, notebook: N, parameters: Record<string, unknown>, values: NotebookValues[N]): string {
  const target = file !== '' ? path.resolve(file) : path.join(cacheRoot(), 'results', 'notebooks', `${notebook}.json`);
  const record: MeasuredRecord<N> = { notebook, parameters, values, runtime: runtimeInfo(), writtenAt: new Date().toISOString() };
  writeFileAtomic(target, JSON.stringify(record, null, 2));
  return target;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads a record writeMeasured wrote, checking the fields the suite relies on (the notebook's
 * name, its values, and the metrics the claims read: numbers or null); an error names the file
 * and the field.
 */
export function readMeasured(file: string): MeasuredRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not a readable JSON file of measured values (${(e as Error).message})`, { cause: e });
  }
  if (!isObject(raw)) throw new Error(`${file}: expected an object of measured values`);
  const notebook = raw.notebook;
  if (typeof notebook !== 'string' || !(NOTEBOOK_NAMES as readonly string[]).includes(notebook)) {
    throw new Error(`${file}: notebook: expected one of ${NOTEBOOK_NAMES.join(', ')}, got ${JSON.stringify(notebook)}`);
  }
  if (!isObject(raw.values)) throw new Error(`${file}: values: expected an object`);
  const metrics = raw.values.metrics;
  if (!isObject(metrics))
    throw new Error(`${file}: values.metrics: expected an object of the metrics the claims read (written before the typed contract? re-run ${notebook})`);
  for (const [k, v] of Object.entries(metrics)) {
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v)))
      throw new Error(`${file}: values.metrics.${k}: expected a finite number or null, got ${JSON.stringify(v)}`);
  }
  if (!isObject(raw.runtime)) throw new Error(`${file}: runtime: expected the runtime the notebook ran on`);
  return raw as unknown as MeasuredRecord;
}
