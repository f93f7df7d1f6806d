import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as jpeg from 'jpeg-js';
import * as tar from 'tar';
import { encodePpm } from '../../src/image/ppm';

/** A fresh temporary folder, removed by the returned cleanup. */
export function makeTempDir(label: string): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pbe-${label}-`));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Every file under `dir`, relative to it. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)))
    .sort();
}

// ---- CIFAR-10 ----

/** The known pixel of a fixture record: plane k (0 = R, 1 = G, 2 = B), position p (row-major). */
export function cifarPixel(batch: number, record: number, plane: number, p: number): number {
  return (batch * 31 + record * 17 + plane * 101 + p * 7) % 256;
}

export function cifarLabel(batch: number, record: number): number {
  return (batch * 3 + record) % 10;
}

/** A batch file in the official layout; batch 0 is the test batch, 1–5 the data batches. */
export function cifarBatch(batch: number, records: number): Buffer {
  const buf = Buffer.alloc(records * 3073);
  for (let i = 0; i < records; i++) {
    const rec = i * 3073;
    buf[rec] = cifarLabel(batch, i);
    for (let plane = 0; plane < 3; plane++) {
      for (let p = 0; p < 1024; p++) buf[rec + 1 + plane * 1024 + p] = cifarPixel(batch, i, plane, p);
    }
  }
  return buf;
}

export const CIFAR_RECORDS = { train: 4, test: 5 };

/** `<parent>/cifar-10-batches-bin/` with 4 records per data batch and 5 in the test batch. */
export function writeCifarFolder(parent: string): string {
  const dir = path.join(parent, 'cifar-10-batches-bin');
  fs.mkdirSync(dir, { recursive: true });
  for (let b = 1; b <= 5; b++) fs.writeFileSync(path.join(dir, `data_batch_${b}.bin`), cifarBatch(b, CIFAR_RECORDS.train));
  fs.writeFileSync(path.join(dir, 'test_batch.bin'), cifarBatch(0, CIFAR_RECORDS.test));
  const names = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
  fs.writeFileSync(path.join(dir, 'batches.meta.txt'), `${names.join('\n')}\n\n`);
  return dir;
}

/** A .tar.gz of a fixture folder, laid out like the official archive. */
export async function writeCifarArchive(parent: string): Promise<string> {
  const src = path.join(parent, 'archive-src');
  writeCifarFolder(src);
  const file = path.join(parent, 'cifar-10-binary.tar.gz');
  await tar.c({ gzip: true, file, cwd: src, portable: true }, ['cifar-10-batches-bin']);
  fs.rmSync(src, { recursive: true });
  return file;
}

// ---- GTSRB ----

export interface GtsrbImageSpec {
  name: string;
  width: number;
  height: number;
  roi: [number, number, number, number];
  classId: number;
  /** Colour inside the ROI; the border around it is `BORDER`. */
  color: [number, number, number];
}

export const BORDER: [number, number, number] = [10, 200, 30];

export function gtsrbPpm(spec: GtsrbImageSpec): Buffer {
  const { width, height, roi, color } = spec;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = x >= roi[0] && x < roi[2] && y >= roi[1] && y < roi[3];
      data.set(inside ? color : BORDER, (y * width + x) * 3);
    }
  }
  return encodePpm({ width, height, channels: 3, data });
}

export function gtsrbCsv(specs: GtsrbImageSpec[]): string {
  const rows = specs.map((s) => [s.name, s.width, s.height, ...s.roi, s.classId].join(';'));
  return ['Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId', ...rows].join('\r\n') + '\r\n';
}

/** The colour of fixture images of a class. */
export function classColor(classId: number): [number, number, number] {
  return [(classId * 40) % 256, 255 - ((classId * 40) % 256), 128];
}

function spec(name: string, classId: number, w: number, h: number): GtsrbImageSpec {
  return { name, width: w, height: h, roi: [5, 5, w - 5, h - 5], classId, color: classColor(classId) };
}

/**
 * A GTSRB tree under `root`. The folder names deliberately disagree with the CSV ClassIds
 * (folder 00000 holds ClassId 14, 00001 holds 3, 00002 holds 42) to prove the CSV wins.
 */
export const GTSRB_TRAIN: Record<string, GtsrbImageSpec[]> = {
  '00000': [spec('00000_00000.ppm', 14, 40, 36), spec('00000_00001.ppm', 14, 31, 30), spec('00000_00002.ppm', 14, 50, 52)],
  '00001': [spec('00000_00000.ppm', 3, 33, 33), spec('00000_00001.ppm', 3, 45, 40)],
  '00002': [spec('00000_00000.ppm', 42, 29, 30)],
};
export const GTSRB_TEST: GtsrbImageSpec[] = [spec('00000.ppm', 3, 35, 35), spec('00001.ppm', 42, 30, 32), spec('00002.ppm', 14, 40, 40)];

export function writeGtsrb(root: string): void {
  for (const [folder, specs] of Object.entries(GTSRB_TRAIN)) {
    const dir = path.join(root, 'Final_Training', 'Images', folder);
    fs.mkdirSync(dir, { recursive: true });
    for (const s of specs) fs.writeFileSync(path.join(dir, s.name), gtsrbPpm(s));
    fs.writeFileSync(path.join(dir, `GT-${folder}.csv`), gtsrbCsv(specs));
  }
  const testDir = path.join(root, 'Final_Test', 'Images');
  fs.mkdirSync(testDir, { recursive: true });
  for (const s of GTSRB_TEST) fs.writeFileSync(path.join(testDir, s.name), gtsrbPpm(s));
  fs.writeFileSync(path.join(testDir, 'GT-final_test.csv'), gtsrbCsv(GTSRB_TEST));
}

// ---- Tiny-ImageNet ----

export const TINY_WNIDS = ['n01443537', 'n01629819', 'n01641577'];
export const TINY_WORDS = ['goldfish, Carassius auratus', 'European fire salamander, Salamandra salamandra', 'bullfrog, Rana catesbeiana'];
export const TINY_TRAIN_PER_CLASS = 12;
/** val_annotations rows: file name and class index, in file order. */
export const TINY_VAL: Array<[string, number]> = [
  ['val_0.JPEG', 2],
  ['val_1.JPEG', 0],
  ['val_2.JPEG', 1],
  ['val_3.JPEG', 0],
];

// jpeg-js rebuilds its encoder tables on every call (~30 ms), so each fixture image is encoded once.
const jpegMemo = new Map<string, Buffer>();

/** A solid-colour 64×64 JPEG; `shade` varies it within a class. */
export function tinyJpeg(classIndex: number, shade = 0): Buffer {
  const key = `${classIndex}/${shade}`;
  let bytes = jpegMemo.get(key);
  if (!bytes) {
    const [r, g, b] = classColor(classIndex * 2);
    const data = Buffer.alloc(64 * 64 * 4);
    for (let i = 0; i < 64 * 64; i++) data.set([r, g, (b + shade * 20) % 256, 255], i * 4);
    bytes = jpeg.encode({ data, width: 64, height: 64 }, 95).data;
    jpegMemo.set(key, bytes);
  }
  return bytes;
}

export function writeTinyImageNet(parent: string): string {
  const root = path.join(parent, 'tiny-imagenet-200');
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'wnids.txt'), `${TINY_WNIDS.join('\n')}\n`);
  fs.writeFileSync(path.join(root, 'words.txt'), TINY_WNIDS.map((w, i) => `${w}\t${TINY_WORDS[i]}`).join('\n') + '\nn99999999\tunused\n');
  TINY_WNIDS.forEach((wnid, k) => {
    const dir = path.join(root, 'train', wnid, 'images');
    fs.mkdirSync(dir, { recursive: true });
    // Written in reverse, and past _9, so only a natural sort yields _0, _1, _2, … _11.
    for (let j = TINY_TRAIN_PER_CLASS - 1; j >= 0; j--) fs.writeFileSync(path.join(dir, `${wnid}_${j}.JPEG`), tinyJpeg(k, j));
    fs.writeFileSync(path.join(root, 'train', wnid, `${wnid}_boxes.txt`), '');
  });
  fs.mkdirSync(path.join(root, 'val', 'images'), { recursive: true });
  for (const [name, k] of TINY_VAL) fs.writeFileSync(path.join(root, 'val', 'images', name), tinyJpeg(k, 4));
  fs.writeFileSync(path.join(root, 'val', 'val_annotations.txt'), TINY_VAL.map(([name, k]) => `${name}\t${TINY_WNIDS[k]}\t0\t0\t63\t63`).join('\n') + '\n');
  return root;
}
