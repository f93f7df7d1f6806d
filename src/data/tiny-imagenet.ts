import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cache } from '../cache';
import { decodeJpeg } from '../image/jpeg';
import { resizeBilinear } from '../image/resize';
import { checkLimitPerClass, filesFingerprint, naturalCompare, progressTicker } from './common';
import type { Dataset, DatasetSplits } from './dataset';
import type { DatasetDefinition } from './source';
import { splitsFromEntry, splitsToContents } from './stored';

const TOP_DIR = 'tiny-imagenet-200';
const LAYOUT =
  `Tiny-ImageNet layout: ${TOP_DIR}/{wnids.txt, words.txt (optional), train/<wnid>/images/*.JPEG, ` + 'val/images/*.JPEG, val/val_annotations.txt}';
/** Bump when decoding changes, so cached arrays from older code are not reused. */
const DECODE_VERSION = 1;

export interface TinyImageNetOptions {
  /** The tiny-imagenet-200 folder, or its parent. */
  path: string;
  /** Side of the square output images (default 64, the native size: no resizing). */
  size?: number;
  /** Keep only the first n images of each class in each split, for quick runs. */
  limitPerClass?: number;
  cache?: Cache;
  /** Report decoding progress on stderr (default true). */
  progress?: boolean;
}

interface Item {
  file: string;
  where: string;
  label: number;
}

function findRoot(p: string): string {
  for (const candidate of [p, path.join(p, TOP_DIR)]) {
    if (fs.existsSync(path.join(candidate, 'wnids.txt'))) return candidate;
  }
  throw new Error(`${p}: missing wnids.txt (here or in ${TOP_DIR}/; ${LAYOUT})`);
}

function readWnids(file: string): string[] {
  const wnids: string[] = [];
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
  lines.forEach((line, i) => {
    const wnid = line.trim();
    if (wnid === '') return;
    if (/\s/.test(wnid)) throw new Error(`${file}:${i + 1}: '${wnid}' is not a single wnid`);
    if (wnids.includes(wnid)) throw new Error(`${file}:${i + 1}: wnid ${wnid} is listed twice`);
    wnids.push(wnid);
  });
  if (wnids.length === 0) throw new Error(`${file}: lists no wnids`);
  return wnids;
}

/** Human-readable names: the first synonym in words.txt, or the wnid when it has none. */
function classNames(root: string, wnids: string[]): string[] {
  const file = path.join(root, 'words.txt');
  const words = new Map<string, string>();
  if (fs.existsSync(file)) {
    for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
      const tab = line.indexOf('\t');
      if (tab > 0)
        words.set(
          line.slice(0, tab).trim(),
          line
            .slice(tab + 1)
            .split(',')[0]
            .trim(),
        );
    }
  }
  return wnids.map((w) => words.get(w) || w);
}

function isJpegName(name: string): boolean {
  return /\.jpe?g$/i.test(name);
}

function trainItems(root: string, wnids: string[], limit: number): Item[] {
  const items: Item[] = [];
  wnids.forEach((wnid, label) => {
    const dir = path.join(root, 'train', wnid, 'images');
    if (!fs.existsSync(dir)) throw new Error(`${dir}: missing training folder for wnid ${wnid} (${LAYOUT})`);
    const names = fs.readdirSync(dir).filter(isJpegName).sort(naturalCompare);
    if (names.length === 0) throw new Error(`${dir}: empty class folder (no .JPEG images for wnid ${wnid})`);
    for (const name of names.slice(0, limit)) items.push({ file: path.join(dir, name), where: dir, label });
  });
  return items;
}

function valItems(root: string, wnids: string[], limit: number): Item[] {
  const file = path.join(root, 'val', 'val_annotations.txt');
  if (!fs.existsSync(file)) throw new Error(`${file}: missing validation annotations (${LAYOUT})`);
  const labelOf = new Map(wnids.map((w, i) => [w, i]));
  const taken = new Array<number>(wnids.length).fill(0);
  const items: Item[] = [];
  fs.readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .forEach((line, i) => {
      if (line.trim() === '') return;
      const where = `${file}:${i + 1}`;
      const [name, wnid] = line.split('\t').map((s) => s.trim());
      if (!name || !wnid) throw new Error(`${where}: expected tab-separated 'filename<TAB>wnid<TAB>x0<TAB>y0<TAB>x1<TAB>y1'`);
      if (name.includes('/') || name.includes('\\')) throw new Error(`${where}: '${name}' is not a plain file name`);
      const label = labelOf.get(wnid);
      if (label === undefined) throw new Error(`${where}: unknown wnid '${wnid}' (not in wnids.txt)`);
      if (taken[label]++ < limit) items.push({ file: path.join(root, 'val', 'images', name), where, label });
    });
  if (items.length === 0) throw new Error(`${file}: lists no validation images`);
  return items;
}

function decodeSplit(items: Item[], split: Dataset['split'], size: number, names: string[], source: string, progress: boolean): Dataset {
  const pixels = size * size * 3;
  const images = new Uint8Array(items.length * pixels);
  const labels = new Int32Array(items.length);
  const tick = progressTicker(`tiny-imagenet ${split}: decoding JPEGs`, items.length, progress);
  items.forEach((item, i) => {
    const img = decodeJpeg(fs.readFileSync(item.file), item.file);
    images.set(resizeBilinear(img, size, size).data, i * pixels);
    labels[i] = item.label;
    tick(i + 1);
  });
  return { name: 'tiny-imagenet', split, images, shape: [items.length, size, size, 3], labels, classNames: names, source };
}

/**
 * Tiny-ImageNet as size×size×3 uint8 NHWC (default 64×64, 200 classes). Labels follow
 * wnids.txt order; train = train/<wnid>/images in natural file-name order, class by class;
 * test = the labelled val split in val_annotations.txt order (the official test split has no
 * labels). Decoded arrays are cached, keyed by the options and a fingerprint of the files.
 */
export async function loadTinyImageNet(opts: TinyImageNetOptions): Promise<DatasetSplits> {
  const size = opts.size ?? 64;
  if (!(Number.isInteger(size) && size > 0)) throw new Error(`tiny-imagenet: size must be a positive integer, got ${size}`);
  checkLimitPerClass('tiny-imagenet', opts.limitPerClass);
  const limit = opts.limitPerClass ?? Infinity;
  const root = fs.realpathSync(findRoot(path.resolve(opts.path)));
  const wnidsFile = path.join(root, 'wnids.txt');
  const wnids = readWnids(wnidsFile);
  const names = classNames(root, wnids);
  const train = trainItems(root, wnids, limit);
  const test = valItems(root, wnids, limit);
  const annotations = path.join(root, 'val', 'val_annotations.txt');
  const listing = [wnidsFile, annotations].map((f) => fs.readFileSync(f, 'utf8')).join('\n') + JSON.stringify(names);
  const fingerprint = filesFingerprint([...train, ...test], listing);
  const config = { root, size, limitPerClass: opts.limitPerClass ?? null, fingerprint, version: DECODE_VERSION };
  const source = `${root} (Tiny-ImageNet, ${size}×${size})`;
  const progress = opts.progress ?? true;
  const entry = await (opts.cache ?? new Cache()).getOrCreate('tiny-imagenet-decoded', config, () =>
    splitsToContents({
      train: decodeSplit(train, 'train', size, names, source, progress),
      test: decodeSplit(test, 'test', size, names, source, progress),
    }),
  );
  return splitsFromEntry(entry, source);
}

const TINY_IMAGENET_LOCATION = { env: 'PBE_TINY_IMAGENET_PATH', hint: 'the tiny-imagenet-200 folder' };

/** Tiny-ImageNet in the dataset catalogue (registered as 'tiny-imagenet' by all.ts): needs a path. */
export const tinyImageNetDataset: DatasetDefinition = {
  classes: 200,
  shape: [64, 64, 3],
  location: TINY_IMAGENET_LOCATION,
  load: (p, opts) => {
    if (p === undefined) throw new Error(`tiny-imagenet: no path given; pass one or set ${TINY_IMAGENET_LOCATION.env} to ${TINY_IMAGENET_LOCATION.hint}`);
    return loadTinyImageNet({ cache: opts.cache, limitPerClass: opts.limitPerClass, progress: opts.progress, path: p, size: opts.size });
  },
};
