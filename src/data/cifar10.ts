import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tar from 'tar';
import { Cache } from '../cache';
import { balancedIndices, subset, validateDataset, type Dataset, type DatasetSplits } from './dataset';
import { checkLimitPerClass, envValue } from './common';
import { downloadVerified, md5File } from './download';
import type { DatasetDefinition } from './source';

export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
/** md5 of the official archive at CIFAR10_URL, as published on the CIFAR-10 page. */
export const CIFAR10_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

const SIDE = 32;
const PIXELS = SIDE * SIDE;
const CIFAR10_RECORD_BYTES = 1 + 3 * PIXELS;
const TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
const TEST_FILE = 'test_batch.bin';
const META_FILE = 'batches.meta.txt';
const BATCH_DIR = 'cifar-10-batches-bin';
const LAYOUT = `CIFAR-10 binary layout: ${BATCH_DIR}/ with ${TRAIN_FILES[0]} … ${TRAIN_FILES[4]}, ${TEST_FILE}`;

export interface Cifar10Options {
  /**
   * An extracted `cifar-10-batches-bin` folder (or its parent), or a `.tar.gz` of it, used
   * without a checksum. When absent, the official archive is downloaded (once) and verified.
   */
  path?: string;
  /** Download URL; default `PBE_CIFAR10_URL`, else the official one. */
  url?: string;
  /** md5 the download must have; default `PBE_CIFAR10_MD5`, else the official archive's. */
  expectedMd5?: string;
  cache?: Cache;
  /** Keep only the first n images of each class in each split. */
  limitPerClass?: number;
  /** Progress bar on stderr while downloading (default true). */
  progress?: boolean;
}

/** Throws, naming `file`, unless the batch is whole records with labels 0–9. */
function checkCifarBatch(bytes: Uint8Array, file: string): void {
  if (bytes.length % CIFAR10_RECORD_BYTES !== 0) {
    throw new Error(
      `${file}: ${bytes.length} bytes is not a multiple of the ${CIFAR10_RECORD_BYTES}-byte CIFAR-10 record ` +
        `(1 label byte + 3 × 1,024 pixel bytes); truncated or not a CIFAR-10 batch`,
    );
  }
  const n = bytes.length / CIFAR10_RECORD_BYTES;
  for (let i = 0; i < n; i++) {
    const label = bytes[i * CIFAR10_RECORD_BYTES];
    if (label > 9) throw new Error(`${file}: record ${i} has label byte ${label}, expected 0–9`);
  }
}

/** Append the records of one batch file (planar R, G, B planes) as NHWC pixels at `offset` images. */
function convertBatch(bytes: Uint8Array, images: Uint8Array, labels: Int32Array, offset: number): void {
  const n = bytes.length / CIFAR10_RECORD_BYTES;
  for (let i = 0; i < n; i++) {
    const rec = i * CIFAR10_RECORD_BYTES;
    labels[offset + i] = bytes[rec];
    const r = rec + 1;
    const g = r + PIXELS;
    const b = g + PIXELS;
    let o = (offset + i) * 3 * PIXELS;
    for (let p = 0; p < PIXELS; p++) {
      images[o++] = bytes[r + p];
      images[o++] = bytes[g + p];
      images[o++] = bytes[b + p];
    }
  }
}

function readSplit(dir: string, files: string[], split: Dataset['split'], classNames: string[], source: string): Dataset {
  const buffers = files.map((name) => {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) throw new Error(`${dir}: missing ${name} (${LAYOUT})`);
    const bytes = fs.readFileSync(file);
    checkCifarBatch(bytes, file);
    return bytes;
  });
  const n = buffers.reduce((sum, b) => sum + b.length / CIFAR10_RECORD_BYTES, 0);
  const images = new Uint8Array(n * 3 * PIXELS);
  const labels = new Int32Array(n);
  let offset = 0;
  for (const bytes of buffers) {
    convertBatch(bytes, images, labels, offset);
    offset += bytes.length / CIFAR10_RECORD_BYTES;
  }
  return validateDataset({ name: 'cifar10', split, images, shape: [n, SIDE, SIDE, 3], labels, classNames, source });
}

/** Class names from batches.meta.txt when present and well formed, else the standard ten. */
function readClassNames(dir: string): string[] {
  const file = path.join(dir, META_FILE);
  if (!fs.existsSync(file)) return CIFAR10_CLASSES;
  const names = fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length !== 10) throw new Error(`${file}: ${names.length} class names, expected 10 (one per line)`);
  return names;
}

/** The folder holding the batch files: `p` itself or its `cifar-10-batches-bin` child. */
function findBatchDir(p: string): string {
  if (fs.existsSync(path.join(p, TRAIN_FILES[0])) || fs.existsSync(path.join(p, TEST_FILE))) return p;
  const child = path.join(p, BATCH_DIR);
  if (fs.existsSync(child) && fs.statSync(child).isDirectory()) return child;
  throw new Error(`${p}: no CIFAR-10 batch files here or in ${BATCH_DIR}/ (${LAYOUT})`);
}

/** Records in each batch file of the official dataset: five data batches and the test batch. */
const OFFICIAL_RECORDS = 10_000;

/**
 * Refuses a copy that has lost whole records, which every other check passes: a batch cut at a
 * record boundary is still whole records. Its data batches must hold equal counts, and the test
 * batch beside official data batches the official count. A copy whose batches all hold another
 * count (a subset made on purpose) is read, and said so once.
 */
function checkBatchSizes(dir: string): void {
  const records = (name: string) => {
    const file = path.join(dir, name);
    return fs.existsSync(file) ? fs.statSync(file).size / CIFAR10_RECORD_BYTES : NaN;
  };
  const train = TRAIN_FILES.map(records);
  const test = records(TEST_FILE);
  // Missing files and partial records are reported by readSplit, naming the file.
  if (![...train, test].every(Number.isInteger)) return;
  const official = OFFICIAL_RECORDS.toLocaleString('en');
  if (new Set(train).size > 1) {
    throw new Error(
      `${dir}: the data batches hold ${TRAIN_FILES.map((f, i) => `${train[i].toLocaleString('en')} (${f})`).join(', ')} records; ` +
        `the official ones hold ${official} each, so this copy has lost records (a batch cut at a record boundary)`,
    );
  }
  if (train[0] === OFFICIAL_RECORDS && test !== OFFICIAL_RECORDS) {
    throw new Error(`${dir}: ${TEST_FILE} holds ${test.toLocaleString('en')} records; the official one, like the data batches here, holds ${official}`);
  }
  if (train[0] !== OFFICIAL_RECORDS) {
    process.stderr.write(
      `cifar10: ${dir} holds ${train[0].toLocaleString('en')} records per data batch and ${test.toLocaleString('en')} in ${TEST_FILE}, not the official ${official}: read as a subset\n`,
    );
  }
}

function readFolder(dir: string, source: string): DatasetSplits {
  checkBatchSizes(dir);
  const classNames = readClassNames(dir);
  return {
    train: readSplit(dir, TRAIN_FILES, 'train', classNames, source),
    test: readSplit(dir, [TEST_FILE], 'test', classNames, source),
  };
}

function walkFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name));
}

/**
 * Extract the batch files of `archive` flat into `dest`, whatever folder they sit in inside
 * the archive, and check them, so that a bad archive never becomes a cache entry.
 */
async function extractBatches(archive: string, dest: string): Promise<void> {
  const wanted = new Set([...TRAIN_FILES, TEST_FILE, META_FILE]);
  const scratch = path.join(dest, 'extracting');
  fs.mkdirSync(scratch);
  try {
    await tar.x({ file: archive, cwd: scratch, strict: true, filter: (p) => wanted.has(path.posix.basename(p)) });
  } catch (e) {
    throw new Error(`${archive}: cannot extract (${(e as Error).message}); expected a complete .tar.gz in the ${LAYOUT}`, { cause: e });
  }
  const found = new Map<string, string>();
  for (const file of walkFiles(scratch)) {
    const name = path.basename(file);
    const other = found.get(name);
    if (other) throw new Error(`${archive}: holds ${name} twice (${path.relative(scratch, other)}, ${path.relative(scratch, file)})`);
    found.set(name, file);
  }
  for (const name of [...TRAIN_FILES, TEST_FILE]) {
    const file = found.get(name);
    if (!file) throw new Error(`${archive}: missing ${name} (${LAYOUT})`);
    checkCifarBatch(fs.readFileSync(file), `${archive}: ${path.relative(scratch, file)}`);
  }
  for (const [name, file] of found) fs.renameSync(file, path.join(dest, name));
  fs.rmSync(scratch, { recursive: true, force: true });
}

function limit(splits: DatasetSplits, perClass: number | undefined): DatasetSplits {
  if (perClass === undefined) return splits;
  return {
    train: subset(splits.train, balancedIndices(splits.train, perClass)),
    test: subset(splits.test, balancedIndices(splits.test, perClass)),
  };
}

/**
 * CIFAR-10 as 32×32×3 uint8 NHWC: train = data_batch_1…5 in file order (50,000 images),
 * test = test_batch (10,000). Archives are extracted once into the cache, keyed by their md5,
 * so a local copy of the official archive and a download share one entry.
 */
export async function loadCifar10(opts: Cifar10Options = {}): Promise<DatasetSplits> {
  checkLimitPerClass('cifar10', opts.limitPerClass);
  const cache = opts.cache ?? new Cache();
  if (opts.path !== undefined) {
    const p = path.resolve(opts.path);
    if (!fs.existsSync(p)) throw new Error(`cifar10: ${p} does not exist (expected a ${BATCH_DIR} folder or a .tar.gz of it)`);
    if (fs.statSync(p).isDirectory()) {
      const dir = findBatchDir(p);
      return limit(readFolder(dir, dir), opts.limitPerClass);
    }
    const md5 = md5File(p);
    const entry = await cache.getOrCreate('cifar10-extracted', { archiveMd5: md5 }, (staging) => extractBatches(p, staging), {
      archive: p,
    });
    return limit(readFolder(entry.dir, `${p} (md5 ${md5})`), opts.limitPerClass);
  }

  const url = opts.url ?? envValue('PBE_CIFAR10_URL') ?? CIFAR10_URL;
  const md5 = (opts.expectedMd5 ?? envValue('PBE_CIFAR10_MD5') ?? CIFAR10_MD5).toLowerCase();
  const entry = await cache.getOrCreate(
    'cifar10-extracted',
    { archiveMd5: md5 },
    async (staging) => {
      // The archive is downloaded inside the staging folder, so a refused or interrupted
      // download never becomes visible as a cache entry.
      const archive = path.join(staging, 'download.tar.gz');
      await downloadVerified(url, archive, { expectedMd5: md5, progress: opts.progress });
      await extractBatches(archive, staging);
      fs.rmSync(archive);
    },
    { url },
  );
  return limit(readFolder(entry.dir, `${url} (md5 ${md5})`), opts.limitPerClass);
}

/** The CIFAR-10 archive of the shared datasets folder that sits beside the project checkout. */
export const SHARED_CIFAR10_ARCHIVE = path.resolve(__dirname, '..', '..', '..', 'shared', 'datasets', 'cifar-10-binary.tar.gz');

/**
 * CIFAR-10 in the dataset catalogue (registered as 'cifar10' by all.ts): from PBE_CIFAR10_PATH,
 * else the shared archive beside the checkout (unless a download URL is configured, which asks
 * for a download instead), else downloaded once into the cache.
 */
export const cifar10Dataset: DatasetDefinition = {
  classes: 10,
  shape: [32, 32, 3],
  location: {
    env: 'PBE_CIFAR10_PATH',
    hint: 'a cifar-10-batches-bin folder or its .tar.gz',
    fallback: (opts) => {
      const downloadRequested = opts.url !== undefined || envValue('PBE_CIFAR10_URL') !== undefined;
      return !downloadRequested && fs.existsSync(SHARED_CIFAR10_ARCHIVE) ? { path: SHARED_CIFAR10_ARCHIVE, via: 'shared datasets folder' } : null;
    },
    otherwise: (cache) => {
      const dir = cache.entryDir('cifar10-extracted', { archiveMd5: CIFAR10_MD5 });
      if (fs.existsSync(path.join(dir, 'manifest.json'))) return { available: true, where: `${dir} (downloaded)` };
      return { available: false, where: `set PBE_CIFAR10_PATH, or it is downloaded from ${CIFAR10_URL} on first use` };
    },
  },
  load: (p, opts) =>
    loadCifar10({ cache: opts.cache, limitPerClass: opts.limitPerClass, progress: opts.progress, path: p, url: opts.url, expectedMd5: opts.expectedMd5 }),
};
