import { resizeBilinear } from '../image/resize';

/**
 * One shape for every dataset: uint8 NHWC pixels, int32 labels, class names, provenance.
 * Images stay uint8 in memory (CIFAR-10 train is 150 MB as bytes, 600 MB as float32) and
 * become float tensors in [0, 1] one batch at a time.
 */
export interface Dataset {
  /** e.g. 'mnist', 'cifar10', 'gtsrb', 'tiny-imagenet', or a derived name. */
  name: string;
  split: 'train' | 'test';
  /** Pixels, NHWC, row-major, length n*h*w*c. */
  images: Uint8Array;
  /** [n, h, w, c] */
  shape: [number, number, number, number];
  labels: Int32Array;
  classNames: string[];
  /** Where the data came from: a file, folder, URL or package, plus anything that identifies it. */
  source: string;
}

/**
 * A dataset whose pixels are float32 in [0, 1], same layout: for images a stage computed
 * (adversarial examples, reconstructed triggers) that storing as uint8 would round.
 */
export interface FloatDataset extends Omit<Dataset, 'images'> {
  images: Float32Array;
}

/** Either kind: what training, batching and prediction accept. */
export type ImageSet = Dataset | FloatDataset;

/** The divisor that maps stored pixel values to [0, 1]: 255 for bytes, 1 for floats. */
export function pixelScale(ds: Pick<ImageSet, 'images'>): number {
  return ds.images instanceof Float32Array ? 1 : 255;
}

export interface DatasetSplits {
  train: Dataset;
  test: Dataset;
}

export function imageSize(ds: Pick<Dataset, 'shape'>): number {
  const [, h, w, c] = ds.shape;
  return h * w * c;
}

export function count(ds: Pick<Dataset, 'shape'>): number {
  return ds.shape[0];
}

/** Throws, naming the dataset, if the arrays disagree with the shape or a label is out of range. */
export function validateDataset(ds: Dataset): Dataset {
  const [n, h, w, c] = ds.shape;
  const where = `${ds.name}/${ds.split} (${ds.source})`;
  if (![n, h, w, c].every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`${where}: invalid shape [${ds.shape.join(', ')}]`);
  }
  if (ds.images.length !== n * h * w * c) {
    throw new Error(`${where}: ${ds.images.length} pixel bytes, expected ${n}×${h}×${w}×${c} = ${n * h * w * c}`);
  }
  if (ds.labels.length !== n) throw new Error(`${where}: ${ds.labels.length} labels for ${n} images`);
  const k = ds.classNames.length;
  for (let i = 0; i < n; i++) {
    const y = ds.labels[i];
    if (!(y >= 0 && y < k)) throw new Error(`${where}: label ${y} of image ${i} is outside [0, ${k - 1}]`);
  }
  return ds;
}

export function classCounts(ds: Pick<Dataset, 'labels' | 'classNames'>): number[] {
  const counts = new Array<number>(ds.classNames.length).fill(0);
  for (let i = 0; i < ds.labels.length; i++) counts[ds.labels[i]]++;
  return counts;
}

/** A new dataset holding the given images, in the given order (pixels copied, of the same kind). */
export function subset<D extends ImageSet>(ds: D, indices: ArrayLike<number>, name = ds.name): D {
  const size = imageSize(ds);
  const n = indices.length;
  const images = ds.images instanceof Float32Array ? new Float32Array(n * size) : new Uint8Array(n * size);
  const labels = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const i = indices[j];
    if (!(i >= 0 && i < ds.shape[0])) throw new Error(`subset of ${ds.name}: index ${i} out of range [0, ${ds.shape[0]})`);
    images.set(ds.images.subarray(i * size, (i + 1) * size) as never, j * size);
    labels[j] = ds.labels[i];
  }
  return { ...ds, name, images, labels, shape: [n, ds.shape[1], ds.shape[2], ds.shape[3]] };
}

/** The first `perClass` images of each class, in dataset order: a balanced, deterministic subset. */
export function balancedIndices(ds: Pick<Dataset, 'labels' | 'classNames'>, perClass: number): Int32Array {
  const taken = new Array<number>(ds.classNames.length).fill(0);
  const out: number[] = [];
  for (let i = 0; i < ds.labels.length; i++) {
    const y = ds.labels[i];
    if (taken[y] < perClass) {
      taken[y]++;
      out.push(i);
    }
  }
  return Int32Array.from(out);
}

/**
 * The dataset at another resolution and channel count (bilinear resize; grey replicated to RGB,
 * or RGB averaged to grey), e.g. MNIST digits for a network built for 32×32×3 inputs.
 */
export function reshapeImages(ds: Dataset, size: number, channels: 1 | 3): Dataset {
  const [n, h, w, c] = ds.shape;
  if (c !== 1 && c !== 3) throw new Error(`reshapeImages: ${ds.name} has ${c} channels; expected 1 or 3`);
  const out = new Uint8Array(n * size * size * channels);
  const per = h * w * c;
  for (let i = 0; i < n; i++) {
    const img = resizeBilinear({ width: w, height: h, channels: c, data: ds.images.subarray(i * per, (i + 1) * per) }, size, size);
    const base = i * size * size * channels;
    for (let p = 0; p < size * size; p++) {
      const grey = c === 1 ? img.data[p] : Math.round((img.data[3 * p] + img.data[3 * p + 1] + img.data[3 * p + 2]) / 3);
      for (let k = 0; k < channels; k++) out[base + p * channels + k] = c === channels ? img.data[p * c + k] : grey;
    }
  }
  return { ...ds, name: `${ds.name}@${size}x${size}x${channels}`, images: out, shape: [n, size, size, channels] };
}
