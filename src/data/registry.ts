import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cache } from '../cache';
import { Registry } from '../registry';
import { registerAllDatasets } from './all';
import { envValue } from './common';
import { classCounts, type DatasetSplits } from './dataset';
import type { Availability, DatasetDefinition, DatasetName, LoadOptions } from './source';

export type { DatasetName, LoadOptions } from './source';
export { SHARED_CIFAR10_ARCHIVE } from './cifar10';

/** The dataset catalogue; its entries (all.ts) are registered on first use. */
const DATASETS = new Registry<DatasetDefinition>('dataset', () => registerAllDatasets(registerDataset));

export function registerDataset(name: string, definition: DatasetDefinition): void {
  DATASETS.register(name, definition);
}

/** The datasets the library ships, in the order the CLI lists them. */
export const DATASET_NAMES: readonly DatasetName[] = DATASETS.names() as DatasetName[];

/** Class count and image shape (height, width, channels) of each dataset as loaded by default, known before loading it. */
export const DATASET_INFO = Object.fromEntries(
  DATASET_NAMES.map((name) => {
    const { classes, shape } = DATASETS.get(name);
    return [name, { classes, shape }];
  }),
) as Record<DatasetName, { classes: number; shape: [number, number, number] }>;

export function isDatasetName(name: string): name is DatasetName {
  return DATASETS.has(name);
}

/**
 * The path a dataset loads from when none is given: its PBE_*_PATH variable, else the entry's
 * fallback (for cifar10 the shared archive beside the checkout, unless a download URL is
 * configured, which asks for a download instead).
 */
function defaultPath(def: DatasetDefinition, opts: Pick<LoadOptions, 'url'> = {}): { path: string; via: string } | null {
  if (!def.location) return null;
  const env = envValue(def.location.env);
  if (env !== undefined) return { path: env, via: def.location.env };
  return def.location.fallback?.(opts) ?? null;
}

/**
 * Load a dataset by name. cifar10 without a path downloads the official archive once into
 * the cache; gtsrb and tiny-imagenet need a path (option or environment variable).
 */
export async function loadDataset(name: string, opts: LoadOptions = {}): Promise<DatasetSplits> {
  const def = DATASETS.get(name);
  return def.load(opts.path ?? defaultPath(def, opts)?.path, opts);
}

/**
 * A dataset's location as it identifies a result: the given path, else the default one, resolved
 * through symlinks, so that `--path X`, PBE_CIFAR10_PATH=X and the shared folder beside the
 * checkout (a symlink to X) name the same data alike. Undefined where no local copy is named
 * (mnist, which is embedded; CIFAR-10 to be downloaded).
 */
export function datasetLocation(name: DatasetName, given?: string): string | undefined {
  const def = DATASETS.get(name);
  if (!def.location) return given;
  const p = given ?? defaultPath(def)?.path;
  if (p === undefined) return undefined;
  return fs.existsSync(p) ? fs.realpathSync(p) : path.resolve(p);
}

export interface LocalDataset extends Availability {
  name: DatasetName;
}

/** Which datasets load without downloading or passing a path. Cheap: checks existence, reads nothing. */
export function findLocalDatasets(cache: Cache = new Cache()): LocalDataset[] {
  return DATASET_NAMES.map((name): LocalDataset => {
    const def = DATASETS.get(name);
    if (!def.location) return { name, available: true, where: def.embedded ?? 'embedded' };
    const found = defaultPath(def);
    if (found) {
      const exists = fs.existsSync(found.path);
      return { name, available: exists, where: `${found.path} (${found.via})${exists ? '' : ': does not exist'}` };
    }
    return { name, ...(def.location.otherwise?.(cache) ?? { available: false, where: `set ${def.location.env} to ${def.location.hint}` }) };
  });
}

/** A printable summary: source, shape, and per-class counts of both splits. */
export function describeDataset(splits: DatasetSplits): string {
  const { train, test } = splits;
  const [, h, w, c] = train.shape;
  const trainCounts = classCounts(train);
  const testCounts = classCounts(test);
  const nameWidth = Math.max(5, ...train.classNames.map((s) => s.length));
  const idWidth = String(train.classNames.length - 1).length;
  const lines = [
    `${train.name}: ${train.classNames.length} classes, images ${h}×${w}×${c} uint8`,
    `source: ${train.source}`,
    `train: ${train.shape[0]} images, test: ${test.shape[0]} images`,
    `${' '.repeat(idWidth)} ${'class'.padEnd(nameWidth)} ${'train'.padStart(7)} ${'test'.padStart(7)}`,
    ...train.classNames.map(
      (cls, i) => `${String(i).padStart(idWidth)} ${cls.padEnd(nameWidth)} ${String(trainCounts[i]).padStart(7)} ${String(testCounts[i]).padStart(7)}`,
    ),
  ];
  return lines.join('\n');
}
