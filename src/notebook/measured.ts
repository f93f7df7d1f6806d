import * as path from 'node:path';
import { runtimeInfo } from '../backend';
import { cacheRoot, writeFileAtomic } from '../cache';

/** What a notebook writes beside its executed copy: its parameters, its measured values, where it ran. */
export interface MeasuredRecord<V = Record<string, unknown>> {
  notebook: string;
  parameters: Record<string, unknown>;
  values: V;
  runtime: ReturnType<typeof runtimeInfo>;
  writtenAt: string;
}

/**
 * Writes a notebook's measured values as JSON (atomically) to `file`, or when it is '' (a notebook
 * opened by hand) to data-cache/results/notebooks/<notebook>.json; returns the path.
 */
export function writeMeasured<V extends Record<string, unknown>>(file: string, notebook: string, parameters: Record<string, unknown>, values: V): string {
  const target = file !== '' ? path.resolve(file) : path.join(cacheRoot(), 'results', 'notebooks', `${notebook}.json`);
  const record: MeasuredRecord<V> = { notebook, parameters, values, runtime: runtimeInfo(), writtenAt: new Date().toISOString() };
  writeFileAtomic(target, JSON.stringify(record, null, 2));
  return target;
}
