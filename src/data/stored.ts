import type { CacheEntry, EntryContents } from '../cache';
import { validateDataset, type Dataset, type DatasetSplits } from './dataset';

/*
 * Decoded splits as cache files: raw pixels, little-endian int32 labels, and a small JSON
 * header with shapes and class names. Pixels are stored undecorated so that reading an
 * entry back is a file read, with no decoding.
 */

const SPLITS = ['train', 'test'] as const;

interface StoredHeader {
  name: string;
  classNames: string[];
  shapes: Record<'train' | 'test', Dataset['shape']>;
}

export function splitsToContents(splits: DatasetSplits): EntryContents {
  const header: StoredHeader = {
    name: splits.train.name,
    classNames: splits.train.classNames,
    shapes: { train: splits.train.shape, test: splits.test.shape },
  };
  const contents: EntryContents = { 'splits.json': JSON.stringify(header) };
  for (const split of SPLITS) {
    const ds = splits[split];
    const labels = Buffer.alloc(4 * ds.labels.length);
    for (let i = 0; i < ds.labels.length; i++) labels.writeInt32LE(ds.labels[i], 4 * i);
    contents[`${split}-images.u8`] = ds.images;
    contents[`${split}-labels.i32le`] = labels;
  }
  return contents;
}

export function splitsFromEntry(entry: CacheEntry, source: string): DatasetSplits {
  const header = JSON.parse(entry.read('splits.json').toString('utf8')) as StoredHeader;
  const load = (split: 'train' | 'test'): Dataset => {
    const pixels = entry.read(`${split}-images.u8`);
    const rawLabels = entry.read(`${split}-labels.i32le`);
    const labels = new Int32Array(rawLabels.length / 4);
    for (let i = 0; i < labels.length; i++) labels[i] = rawLabels.readInt32LE(4 * i);
    return validateDataset({
      name: header.name,
      split,
      // A plain view, not the Buffer itself: Buffer#slice shares memory, Uint8Array#slice copies.
      images: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length),
      shape: header.shapes[split],
      labels,
      classNames: header.classNames,
      source,
    });
  };
  return { train: load('train'), test: load('test') };
}
