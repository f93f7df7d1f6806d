import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cache } from '../cache';
import { crop } from '../image/image';
import { parsePpm } from '../image/ppm';
import { resizeBilinear } from '../image/resize';
import { checkLimitPerClass, filesFingerprint, progressTicker } from './common';
import type { Dataset, DatasetSplits } from './dataset';
import type { DatasetDefinition } from './source';
import { splitsFromEntry, splitsToContents } from './stored';

/** The 43 GTSRB classes, by ClassId (the names of the widely used signnames.csv). */
export const GTSRB_CLASSES = [
  'Speed limit (20km/h)',
  'Speed limit (30km/h)',
  'Speed limit (50km/h)',
  'Speed limit (60km/h)',
  'Speed limit (70km/h)',
  'Speed limit (80km/h)',
  'End of speed limit (80km/h)',
  'Speed limit (100km/h)',
  'Speed limit (120km/h)',
  'No passing',
  'No passing for vehicles over 3.5 metric tons',
  'Right-of-way at the next intersection',
  'Priority road',
  'Yield',
  'Stop',
  'No vehicles',
  'Vehicles over 3.5 metric tons prohibited',
  'No entry',
  'General caution',
  'Dangerous curve to the left',
  'Dangerous curve to the right',
  'Double curve',
  'Bumpy road',
  'Slippery road',
  'Road narrows on the right',
  'Road work',
  'Traffic signals',
  'Pedestrians',
  'Children crossing',
  'Bicycles crossing',
  'Beware of ice/snow',
  'Wild animals crossing',
  'End of all speed and passing limits',
  'Turn right ahead',
  'Turn left ahead',
  'Ahead only',
  'Go straight or right',
  'Go straight or left',
  'Keep right',
  'Keep left',
  'Roundabout mandatory',
  'End of no passing',
  'End of no passing by vehicles over 3.5 metric tons',
];

const COLUMNS = ['Filename', 'Width', 'Height', 'Roi.X1', 'Roi.Y1', 'Roi.X2', 'Roi.Y2', 'ClassId'] as const;
const LAYOUT =
  'GTSRB: GT-*.csv files (Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId) beside their .ppm images, ' +
  'GT-final_test.csv for the test split, any folder names';
/** Bump when decoding changes, so cached arrays from older code are not reused. */
const DECODE_VERSION = 2;

export interface GtsrbOptions {
  /** A folder holding a GTSRB copy anywhere below it (official layout or renamed folders). */
  path: string;
  /** Side of the square output images (default 32). */
  size?: number;
  /** Crop each image to its annotated sign region before resizing (default false). */
  cropRoi?: boolean;
  /** Keep only the first n images of each class in each split (in CSV order). */
  limitPerClass?: number;
  cache?: Cache;
  /** Report decoding progress on stderr (default true). */
  progress?: boolean;
}

/** One annotated image: a row of a GT-*.csv file. */
export interface GtsrbRecord {
  file: string;
  /** `csvfile:line`, for error messages. */
  where: string;
  width: number;
  height: number;
  roi: [number, number, number, number];
  classId: number;
}

/**
 * Parse a GT-*.csv annotation file; image paths are resolved against `imageDir`. A bad header
 * throws; bad rows are collected in `invalid`, so that a copy is judged on all of them at once.
 */
function parseGtsrbCsv(csvFile: string, imageDir: string, invalid: string[], invalidImages: string[]): GtsrbRecord[] {
  const lines = fs
    .readFileSync(csvFile, 'utf8')
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/);
  const header = lines[0].split(';').map((s) => s.trim());
  const index = {} as Record<(typeof COLUMNS)[number], number>;
  for (const col of COLUMNS) {
    const i = header.indexOf(col);
    if (i < 0) throw new Error(`${csvFile}:1: header lacks column '${col}' (expected ${COLUMNS.join(';')}, got '${lines[0]}')`);
    index[col] = i;
  }
  const records: GtsrbRecord[] = [];
  for (let ln = 1; ln < lines.length; ln++) {
    if (lines[ln].trim() === '') continue;
    const where = `${csvFile}:${ln + 1}`;
    const fields = lines[ln].split(';').map((s) => s.trim());
    if (fields.length !== header.length) {
      invalid.push(`${where}: ${fields.length} ';'-separated fields, expected ${header.length} as in the header`);
      continue;
    }
    const problems: string[] = [];
    const int = (col: (typeof COLUMNS)[number]): number => {
      const v = fields[index[col]];
      if (!/^\d+$/.test(v)) problems.push(`${col} is '${v}', expected a non-negative integer`);
      return Number(v);
    };
    const name = fields[index.Filename];
    if (name === '' || name.includes('/') || name.includes('\\')) problems.push(`Filename '${name}' is not a plain file name`);
    const classId = int('ClassId');
    if (classId >= GTSRB_CLASSES.length) problems.push(`ClassId ${classId} is outside 0–${GTSRB_CLASSES.length - 1}`);
    if (problems.length > 0) {
      invalid.push(`${where}: ${problems.join(', ')}`);
      // Its image is listed, if badly: it is not reported again as listed in no CSV.
      if (!problems.some((m) => m.startsWith('Filename'))) invalidImages.push(name);
      continue;
    }
    records.push({
      file: path.join(imageDir, name),
      where,
      width: int('Width'),
      height: int('Height'),
      roi: [int('Roi.X1'), int('Roi.Y1'), int('Roi.X2'), int('Roi.Y2')],
      classId,
    });
  }
  return records;
}

/** Every file below `dir` (hidden folders skipped), in sorted order. */
function walk(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** What a copy holds, as its CSVs say, and what could not be matched. */
export interface GtsrbScan {
  train: GtsrbRecord[];
  test: GtsrbRecord[];
  trainCsvs: string[];
  testCsvs: string[];
  /** CSV rows that cannot be read: wrong field count, a non-integer, a ClassId out of range */
  invalid: string[];
  /** CSV rows whose image was found nowhere (or more than once) beside or below their CSV */
  missing: string[];
  /** .ppm images no CSV lists */
  unlisted: string[];
}

const isTestCsv = (file: string) => /^GT-final_test\.csv$/i.test(path.basename(file));
/** The official test image zip ships an unlabelled listing, GT-final_test.test.csv: not ground truth. */
const isAnnotationCsv = (file: string) => /^GT-.*\.csv$/i.test(path.basename(file)) && !/\.test\.csv$/i.test(file);

/**
 * Reads any GTSRB copy whose GT-*.csv files sit beside their images, whatever the folders are
 * called: the CSVs are the authority for class ids. A row's image is the file of that name beside
 * its CSV, else the only file of that name in the folders below it (test images sorted into class
 * folders under the test CSV). GT-final_test.csv holds the test split; every other GT-*.csv the
 * training split, in path order.
 */
export function scanGtsrb(root: string): GtsrbScan {
  const files = walk(root);
  const csvs = files.filter(isAnnotationCsv);
  const images = files.filter((f) => /\.ppm$/i.test(f));
  const byName = new Map<string, string[]>();
  for (const f of images) byName.set(path.basename(f), [...(byName.get(path.basename(f)) ?? []), f]);
  const used = new Set<string>();
  const missing: string[] = [];
  const invalid: string[] = [];
  const resolve = (csv: string) => {
    const dir = path.dirname(csv);
    const before = invalid.length;
    const invalidImages: string[] = [];
    const rows = parseGtsrbCsv(csv, dir, invalid, invalidImages);
    for (const name of invalidImages) for (const f of byName.get(name) ?? []) if (f.startsWith(dir + path.sep)) used.add(f);
    if (rows.length === 0 && invalid.length === before) throw new Error(`${csv}: lists no images (${LAYOUT})`);
    for (const r of rows) {
      const name = path.basename(r.file);
      if (!fs.existsSync(r.file)) {
        const below = (byName.get(name) ?? []).filter((f) => f.startsWith(dir + path.sep));
        if (below.length === 1) r.file = below[0];
        else
          missing.push(
            `${r.where}: image ${name} ${below.length === 0 ? 'not found beside the CSV or below it' : `found ${below.length} times below ${dir} (${below.slice(0, 3).join(', ')})`}`,
          );
      }
      used.add(r.file);
    }
    return rows;
  };
  const trainCsvs = csvs.filter((f) => !isTestCsv(f));
  const testCsvs = csvs.filter(isTestCsv);
  const train = trainCsvs.flatMap(resolve);
  const test = testCsvs.flatMap(resolve);
  return { train, test, trainCsvs, testCsvs, invalid, missing, unlisted: images.filter((f) => !used.has(f)) };
}

function listSome(items: string[], n = 5): string {
  return items.slice(0, n).join('; ') + (items.length > n ? `; … (${items.length - n} more)` : '');
}

/** The scan, or an error naming everything that could not be matched. */
function scanOrThrow(root: string): GtsrbScan {
  const scan = scanGtsrb(root);
  if (scan.trainCsvs.length === 0) throw new Error(`${root}: no GT-*.csv training annotations found in it or below it (${LAYOUT})`);
  if (scan.testCsvs.length === 0) {
    throw new Error(
      `${root}: missing the test ground truth GT-final_test.csv below it; it ships as GTSRB_Final_Test_GT.zip, unpack it beside the test images (${LAYOUT})`,
    );
  }
  if (scan.testCsvs.length > 1) throw new Error(`${root}: ${scan.testCsvs.length} test ground truths (${scan.testCsvs.join(', ')}); keep one`);
  const problems: string[] = [];
  if (scan.invalid.length) problems.push(`${scan.invalid.length} CSV row(s) that cannot be read: ${listSome(scan.invalid)}`);
  if (scan.missing.length) problems.push(`${scan.missing.length} CSV row(s) without their image: ${listSome(scan.missing)}`);
  if (scan.unlisted.length) problems.push(`${scan.unlisted.length} image(s) listed in no GT-*.csv (a CSV missing beside them?): ${listSome(scan.unlisted)}`);
  if (problems.length) throw new Error(`${root}: GTSRB copy could not be matched: ${problems.join('. ')}`);
  return scan;
}

function firstPerClass(records: GtsrbRecord[], limit: number | undefined): GtsrbRecord[] {
  if (limit === undefined) return records;
  const taken = new Array<number>(GTSRB_CLASSES.length).fill(0);
  return records.filter((r) => taken[r.classId]++ < limit);
}

interface DecodeSettings {
  size: number;
  cropRoi: boolean;
  progress: boolean;
  source: string;
}

/** A split decoded, with the images stored at another size than their CSV row says (a resized copy). */
interface DecodedSplit {
  dataset: Dataset;
  resized: { count: number; example: string | null };
}

/**
 * The ROI of a record in an image of the size it really has: copies in the wild are often
 * resized (every image 32×32, say) while the CSVs keep the original Width, Height and ROI.
 */
export function scaledRoi(r: Pick<GtsrbRecord, 'width' | 'height' | 'roi'>, width: number, height: number): [number, number, number, number] {
  if (width === r.width && height === r.height) return r.roi;
  const sx = width / r.width;
  const sy = height / r.height;
  const [x1, y1, x2, y2] = r.roi;
  return [
    Math.round(x1 * sx),
    Math.round(y1 * sy),
    Math.max(Math.round(x2 * sx), Math.round(x1 * sx) + 1),
    Math.max(Math.round(y2 * sy), Math.round(y1 * sy) + 1),
  ];
}

function decodeSplit(records: GtsrbRecord[], split: Dataset['split'], { size, cropRoi, progress, source }: DecodeSettings): DecodedSplit {
  const pixels = size * size * 3;
  const images = new Uint8Array(records.length * pixels);
  const labels = new Int32Array(records.length);
  const tick = progressTicker(`gtsrb ${split}: decoding PPMs`, records.length, progress);
  const resized = { count: 0, example: null as string | null };
  const broken: string[] = [];
  records.forEach((r, i) => {
    try {
      let img = parsePpm(fs.readFileSync(r.file), r.file);
      if (img.width !== r.width || img.height !== r.height) {
        resized.count++;
        resized.example ??= `${img.width}×${img.height} for ${r.width}×${r.height} at ${r.where}`;
      }
      // Roi.X2/Y2 are taken as exclusive bounds (the slice convention of most GTSRB pipelines);
      // an inclusive reading differs by one pixel, which resizing all but erases.
      if (cropRoi) img = crop(img, ...scaledRoi(r, img.width, img.height), `${r.where} ROI`);
      images.set(resizeBilinear(img, size, size).data, i * pixels);
      labels[i] = r.classId;
    } catch (e) {
      broken.push((e as Error).message);
    }
    tick(i + 1);
  });
  if (broken.length > 0) throw new Error(`gtsrb ${split}: ${broken.length} of ${records.length} image(s) could not be decoded: ${listSome(broken)}`);
  return { dataset: { name: 'gtsrb', split, images, shape: [records.length, size, size, 3], labels, classNames: GTSRB_CLASSES, source }, resized };
}

/** The one line that says a copy is resized, or null when every image has its CSV size. */
function resizedNote(root: string, splits: DecodedSplit[], cropRoi: boolean): string | null {
  const count = splits.reduce((n, s) => n + s.resized.count, 0);
  if (count === 0) return null;
  const total = splits.reduce((n, s) => n + s.dataset.shape[0], 0);
  const example = splits.find((s) => s.resized.example)?.resized.example;
  const roi = cropRoi ? 'each ROI is scaled to its image' : 'the stored size does not matter without ROI cropping';
  return `gtsrb: ${root} is a resized copy: ${count} of ${total} images differ from the Width and Height of their GT-*.csv row (e.g. ${example}); ${roi}`;
}

/**
 * GTSRB as size×size×3 uint8 NHWC (default 32×32). Labels come from the ClassId column of the
 * GT-*.csv files, never from folder names (see scanGtsrb). Train order: CSVs by path, rows in CSV
 * order; test order: GT-final_test.csv order. Decoded arrays are cached, keyed by the
 * options and a fingerprint of the CSVs and image files (path, size, mtime).
 */
export async function loadGtsrb(opts: GtsrbOptions): Promise<DatasetSplits> {
  const size = opts.size ?? 32;
  if (!(Number.isInteger(size) && size > 0)) throw new Error(`gtsrb: size must be a positive integer, got ${size}`);
  checkLimitPerClass('gtsrb', opts.limitPerClass);
  const cropRoi = opts.cropRoi ?? false;
  if (!fs.existsSync(opts.path)) throw new Error(`gtsrb: ${opts.path} does not exist (${LAYOUT})`);
  const root = fs.realpathSync(path.resolve(opts.path));
  const scan = scanOrThrow(root);
  const trainSel = firstPerClass(scan.train, opts.limitPerClass);
  const testSel = firstPerClass(scan.test, opts.limitPerClass);
  const csvText = [...scan.trainCsvs, ...scan.testCsvs].map((f) => `${f}\n${fs.readFileSync(f, 'utf8')}`).join('\n');
  const fingerprint = filesFingerprint([...trainSel, ...testSel], csvText);
  const config = { root, size, cropRoi, limitPerClass: opts.limitPerClass ?? null, fingerprint, version: DECODE_VERSION };
  const cache = opts.cache ?? new Cache();
  const source = `${root} (GTSRB, ${size}×${size}${cropRoi ? ', ROI-cropped' : ''})`;
  const settings: DecodeSettings = { size, cropRoi, progress: opts.progress ?? true, source };
  const entry = await cache.getOrCreate('gtsrb-decoded', config, () => {
    const [train, test] = [decodeSplit(trainSel, 'train', settings), decodeSplit(testSel, 'test', settings)];
    const note = resizedNote(root, [train, test], cropRoi);
    if (note) process.stderr.write(`${note}\n`);
    return splitsToContents({ train: train.dataset, test: test.dataset });
  });
  return splitsFromEntry(entry, source);
}

const GTSRB_LOCATION = { env: 'PBE_GTSRB_PATH', hint: 'a folder holding a GTSRB copy (GT-*.csv files beside their images, any folder names)' };

/** GTSRB in the dataset catalogue (registered as 'gtsrb' by all.ts): needs a path. */
export const gtsrbDataset: DatasetDefinition = {
  classes: 43,
  shape: [32, 32, 3],
  location: GTSRB_LOCATION,
  load: (p, opts) => {
    if (p === undefined) throw new Error(`gtsrb: no path given; pass one or set ${GTSRB_LOCATION.env} to ${GTSRB_LOCATION.hint}`);
    return loadGtsrb({ cache: opts.cache, limitPerClass: opts.limitPerClass, progress: opts.progress, path: p, size: opts.size, cropRoi: opts.cropRoi });
  },
};
