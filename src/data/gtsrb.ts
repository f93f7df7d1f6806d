import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cache } from '../cache';
import { crop } from '../image/image';
import { parsePpm } from '../image/ppm';
import { resizeBilinear } from '../image/resize';
import { checkLimitPerClass, filesFingerprint, progressTicker } from './common';
import type { Dataset, DatasetSplits } from './dataset';
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
  'GTSRB layout: Final_Training/Images/<5-digit class>/*.ppm with GT-<class>.csv, ' +
  'Final_Test/Images/*.ppm with GT-final_test.csv';
/** Bump when decoding changes, so cached arrays from older code are not reused. */
const DECODE_VERSION = 1;

export interface GtsrbOptions {
  /** The folder holding Final_Training/ and Final_Test/ (or its parent, holding GTSRB/). */
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
interface GtsrbRecord {
  file: string;
  /** `csvfile:line`, for error messages. */
  where: string;
  width: number;
  height: number;
  roi: [number, number, number, number];
  classId: number;
}

/** Parse a GT-*.csv annotation file; image paths are resolved against `imageDir`. */
function parseGtsrbCsv(csvFile: string, imageDir: string): GtsrbRecord[] {
  if (!fs.existsSync(csvFile)) throw new Error(`${csvFile}: missing annotation file (${LAYOUT})`);
  const lines = fs.readFileSync(csvFile, 'utf8').replace(/^\uFEFF/, '').split(/\r?\n/);
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
      throw new Error(`${where}: ${fields.length} ';'-separated fields, expected ${header.length} as in the header`);
    }
    const int = (col: (typeof COLUMNS)[number]): number => {
      const v = fields[index[col]];
      if (!/^\d+$/.test(v)) throw new Error(`${where}: ${col} is '${v}', expected a non-negative integer`);
      return Number(v);
    };
    const name = fields[index.Filename];
    if (name === '' || name.includes('/') || name.includes('\\')) throw new Error(`${where}: Filename '${name}' is not a plain file name`);
    const classId = int('ClassId');
    if (classId >= GTSRB_CLASSES.length) throw new Error(`${where}: ClassId ${classId} is outside 0–${GTSRB_CLASSES.length - 1}`);
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

function findRoot(p: string): string {
  for (const candidate of [p, path.join(p, 'GTSRB')]) {
    if (fs.existsSync(path.join(candidate, 'Final_Training', 'Images'))) return candidate;
  }
  throw new Error(`${p}: no Final_Training/Images folder here or in GTSRB/ (${LAYOUT})`);
}

function trainRecords(root: string): { records: GtsrbRecord[]; csvFiles: string[] } {
  const imagesDir = path.join(root, 'Final_Training', 'Images');
  const classDirs = fs.readdirSync(imagesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^\d{5}$/.test(d.name))
    .map((d) => d.name)
    .sort();
  if (classDirs.length === 0) throw new Error(`${imagesDir}: no 5-digit class folders (${LAYOUT})`);
  const records: GtsrbRecord[] = [];
  const csvFiles: string[] = [];
  for (const name of classDirs) {
    const dir = path.join(imagesDir, name);
    if (fs.readdirSync(dir).length === 0) throw new Error(`${dir}: empty class folder (no GT-${name}.csv, no images)`);
    const csv = path.join(dir, `GT-${name}.csv`);
    const rows = parseGtsrbCsv(csv, dir);
    if (rows.length === 0) throw new Error(`${dir}: empty class folder (${path.basename(csv)} lists no images)`);
    records.push(...rows);
    csvFiles.push(csv);
  }
  return { records, csvFiles };
}

function testRecords(root: string): { records: GtsrbRecord[]; csvFiles: string[] } {
  const imagesDir = path.join(root, 'Final_Test', 'Images');
  // The ground truth ships in a separate zip, so people unpack it next to the images or above them.
  const candidates = [imagesDir, path.join(root, 'Final_Test'), root].map((d) => path.join(d, 'GT-final_test.csv'));
  const csv = candidates.find((f) => fs.existsSync(f));
  if (!csv) {
    throw new Error(
      `${root}: missing the test ground truth GT-final_test.csv (looked in ${candidates.join(', ')}); ` +
        `it ships as GTSRB_Final_Test_GT.zip (${LAYOUT})`,
    );
  }
  const records = parseGtsrbCsv(csv, imagesDir);
  if (records.length === 0) throw new Error(`${csv}: lists no test images`);
  return { records, csvFiles: [csv] };
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

function decodeSplit(records: GtsrbRecord[], split: Dataset['split'], { size, cropRoi, progress, source }: DecodeSettings): Dataset {
  const pixels = size * size * 3;
  const images = new Uint8Array(records.length * pixels);
  const labels = new Int32Array(records.length);
  const tick = progressTicker(`gtsrb ${split}: decoding PPMs`, records.length, progress);
  records.forEach((r, i) => {
    let img = parsePpm(fs.readFileSync(r.file), r.file);
    if (img.width !== r.width || img.height !== r.height) {
      throw new Error(`${r.file}: PPM is ${img.width}×${img.height}, but ${r.where} says ${r.width}×${r.height}`);
    }
    // Roi.X2/Y2 are taken as exclusive bounds (the slice convention of most GTSRB pipelines);
    // an inclusive reading differs by one pixel, which resizing all but erases.
    if (cropRoi) img = crop(img, r.roi[0], r.roi[1], r.roi[2], r.roi[3], `${r.where} ROI`);
    images.set(resizeBilinear(img, size, size).data, i * pixels);
    labels[i] = r.classId;
    tick(i + 1);
  });
  return { name: 'gtsrb', split, images, shape: [records.length, size, size, 3], labels, classNames: GTSRB_CLASSES, source };
}

/**
 * GTSRB as size×size×3 uint8 NHWC (default 32×32). Labels come from the ClassId column of the
 * GT-*.csv files, never from folder names. Train order: class folders ascending, rows in CSV
 * order; test order: GT-final_test.csv order. Decoded arrays are cached, keyed by the
 * options and a fingerprint of the CSVs and image files (path, size, mtime).
 */
export async function loadGtsrb(opts: GtsrbOptions): Promise<DatasetSplits> {
  const size = opts.size ?? 32;
  if (!(Number.isInteger(size) && size > 0)) throw new Error(`gtsrb: size must be a positive integer, got ${size}`);
  checkLimitPerClass('gtsrb', opts.limitPerClass);
  const cropRoi = opts.cropRoi ?? false;
  const root = fs.realpathSync(findRoot(path.resolve(opts.path)));
  const train = trainRecords(root);
  const test = testRecords(root);
  const trainSel = firstPerClass(train.records, opts.limitPerClass);
  const testSel = firstPerClass(test.records, opts.limitPerClass);
  const csvText = [...train.csvFiles, ...test.csvFiles].map((f) => fs.readFileSync(f, 'utf8')).join('\n');
  const fingerprint = filesFingerprint([...trainSel, ...testSel], csvText);
  const config = { root, size, cropRoi, limitPerClass: opts.limitPerClass ?? null, fingerprint, version: DECODE_VERSION };
  const cache = opts.cache ?? new Cache();
  const source = `${root} (GTSRB, ${size}×${size}${cropRoi ? ', ROI-cropped' : ''})`;
  const settings: DecodeSettings = { size, cropRoi, progress: opts.progress ?? true, source };
  const entry = await cache.getOrCreate('gtsrb-decoded', config, () =>
    splitsToContents({ train: decodeSplit(trainSel, 'train', settings), test: decodeSplit(testSel, 'test', settings) }),
  );
  return splitsFromEntry(entry, source);
}
