import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cache } from '../../src/cache';
import { classCounts, type Dataset } from '../../src/data/dataset';
import { GTSRB_CLASSES, loadGtsrb, scaledRoi, scanGtsrb } from '../../src/data/gtsrb';
import { encodePpm, parsePpm } from '../../src/image/ppm';
import { resizeBilinear } from '../../src/image/resize';
import { BORDER, GTSRB_TEST, GTSRB_TRAIN, classColor, gtsrbCsv, gtsrbPpm, makeTempDir, writeGtsrb } from './fixtures';

/** What `fn` writes to stderr. */
async function stderrOf(fn: () => Promise<void>): Promise<string> {
  const saved = process.stderr.write;
  let text = '';
  process.stderr.write = ((chunk: string) => ((text += chunk), true)) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = saved;
  }
  return text;
}

function pixel(ds: Dataset, n: number, x: number, y: number): number[] {
  const [, h, w, c] = ds.shape;
  const o = ((n * h + y) * w + x) * c;
  return Array.from(ds.images.subarray(o, o + c));
}

describe('data/gtsrb', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let root: string;
  let cache: Cache;
  const load = (extra: Partial<Parameters<typeof loadGtsrb>[0]> = {}) => loadGtsrb({ path: root, cache, progress: false, ...extra });

  beforeEach(() => {
    tmp = makeTempDir('gtsrb');
    root = path.join(tmp.dir, 'GTSRB');
    writeGtsrb(root);
    cache = new Cache(path.join(tmp.dir, 'cache'));
  });
  afterEach(() => tmp.cleanup());

  it('takes class ids from the CSVs, not folder names, and resizes to 32×32', async () => {
    const { train, test } = await load();
    const expectTrain = Object.values(GTSRB_TRAIN)
      .flat()
      .map((s) => s.classId);
    assert.deepEqual(Array.from(train.labels), expectTrain);
    assert.deepEqual(
      Array.from(test.labels),
      GTSRB_TEST.map((s) => s.classId),
    );
    assert.deepEqual(train.shape, [expectTrain.length, 32, 32, 3]);
    assert.equal(train.classNames.length, 43);
    assert.equal(train.classNames[14], 'Stop');
    assert.equal(classCounts(train)[14], 3);
    // The centre of every image is inside the ROI, so it has the class colour; the corner is border.
    for (let n = 0; n < train.shape[0]; n++) {
      assert.deepEqual(pixel(train, n, 16, 16), classColor(train.labels[n]));
      assert.deepEqual(pixel(train, n, 0, 0), BORDER);
    }
  });

  it('finds the layout from the parent folder too', async () => {
    const { test } = await loadGtsrb({ path: tmp.dir, cache, progress: false });
    assert.equal(test.shape[0], GTSRB_TEST.length);
  });

  it('cropRoi keeps only the sign region; size sets the output side', async () => {
    const { train } = await load({ cropRoi: true, size: 20 });
    assert.deepEqual(train.shape.slice(1), [20, 20, 3]);
    for (let n = 0; n < train.shape[0]; n++) {
      for (const [x, y] of [
        [0, 0],
        [19, 19],
        [10, 3],
      ])
        assert.deepEqual(pixel(train, n, x, y), classColor(train.labels[n]));
    }
  });

  it('limitPerClass keeps the first rows of each class', async () => {
    const { train, test } = await load({ limitPerClass: 1 });
    assert.deepEqual(Array.from(train.labels), [14, 3, 42]);
    assert.equal(test.shape[0], 3);
  });

  it('caches decoded arrays and notices changed files', async () => {
    const ppm = path.join(root, 'Final_Training', 'Images', '00001', '00000_00000.ppm');
    const stamp = 1_700_000_000; // whole seconds, so that setting it again reproduces it exactly
    fs.utimesSync(ppm, stamp, stamp);
    const first = await load();
    // Same size and mtime: the fingerprint cannot tell, so this proves the decode was cached.
    fs.writeFileSync(ppm, Buffer.alloc(fs.statSync(ppm).size, 0x20));
    fs.utimesSync(ppm, stamp, stamp);
    const second = await load();
    assert.deepEqual(second.train.images, first.train.images);
    fs.utimesSync(ppm, stamp, stamp + 5);
    await assert.rejects(load(), new RegExp(`${ppm.replace(/[.]/g, '\\.')}: broken PPM header`));
  });

  describe('errors name the file and what was expected', () => {
    const classDir = (c: string) => path.join(root, 'Final_Training', 'Images', c);

    it('missing CSV: its images are named as listed in no CSV', async () => {
      fs.rmSync(path.join(classDir('00001'), 'GT-00001.csv'));
      await assert.rejects(load(), /could not be matched: 2 image\(s\) listed in no GT-\*\.csv.*00001[/\\]00000_00000\.ppm; .*00001[/\\]00000_00001\.ppm/);
    });

    it('missing test ground truth', async () => {
      fs.rmSync(path.join(root, 'Final_Test', 'Images', 'GT-final_test.csv'));
      await assert.rejects(load(), /missing the test ground truth GT-final_test\.csv/);
      // The official test zip's unlabelled listing is not ground truth.
      fs.writeFileSync(path.join(root, 'Final_Test', 'Images', 'GT-final_test.test.csv'), 'Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2\n');
      await assert.rejects(load(), /missing the test ground truth GT-final_test\.csv/);
    });

    it('malformed CSV rows', async () => {
      const csv = path.join(classDir('00000'), 'GT-00000.csv');
      const lines = gtsrbCsv(GTSRB_TRAIN['00000']).split('\r\n');
      fs.writeFileSync(csv, [lines[0], lines[1], '00000_00001.ppm;31;30;5;5', lines[3]].join('\n'));
      await assert.rejects(load(), /GT-00000\.csv:3: 5 ';'-separated fields, expected 8/);
      fs.writeFileSync(csv, [lines[0], lines[1].replace(/;14$/, ';stop')].join('\n'));
      await assert.rejects(load(), /GT-00000\.csv:2: ClassId is 'stop', expected a non-negative integer/);
    });

    it('missing column', async () => {
      const csv = path.join(classDir('00000'), 'GT-00000.csv');
      fs.writeFileSync(csv, gtsrbCsv(GTSRB_TRAIN['00000']).replace('ClassId', 'Class'));
      await assert.rejects(load(), /GT-00000\.csv:1: header lacks column 'ClassId'/);
    });

    it('ClassId out of range', async () => {
      const csv = path.join(classDir('00002'), 'GT-00002.csv');
      fs.writeFileSync(csv, gtsrbCsv(GTSRB_TRAIN['00002'].map((s) => ({ ...s, classId: 43 }))));
      await assert.rejects(load(), /GT-00002\.csv:2: ClassId 43 is outside 0–42/);
    });

    it('broken PPM header', async () => {
      const ppm = path.join(classDir('00001'), '00000_00001.ppm');
      fs.writeFileSync(ppm, 'P6\n45 forty\n255\n');
      await assert.rejects(load(), /00000_00001\.ppm: broken PPM header: height is 'forty'/);
    });

    it('every bad row, missing image and unlisted image at once: counts and the first few', async () => {
      const csv = path.join(classDir('00000'), 'GT-00000.csv');
      const rows = GTSRB_TRAIN['00000'].map((sp, k) => ({ ...sp, classId: 43 + k }));
      fs.writeFileSync(csv, gtsrbCsv(rows));
      fs.rmSync(path.join(classDir('00001'), '00000_00001.ppm'));
      fs.writeFileSync(path.join(classDir('00002'), 'stray.ppm'), gtsrbPpm(GTSRB_TRAIN['00002'][0]));
      await assert.rejects(load(), (e: Error) => {
        assert.match(
          e.message,
          /3 CSV row\(s\) that cannot be read: .*GT-00000\.csv:2: ClassId 43 is outside 0–42; .*GT-00000\.csv:3: ClassId 44 .*GT-00000\.csv:4: ClassId 45/,
        );
        assert.match(e.message, /1 CSV row\(s\) without their image: .*GT-00001\.csv:3/);
        assert.match(e.message, /1 image\(s\) listed in no GT-\*\.csv .*stray\.ppm/);
        return true;
      });
    });

    it('broken images are counted and the first few named, after all were tried', async () => {
      for (const c of ['00000', '00001']) fs.writeFileSync(path.join(classDir(c), '00000_00000.ppm'), 'P6\n45 forty\n255\n');
      await assert.rejects(
        load(),
        /gtsrb train: 2 of 6 image\(s\) could not be decoded: .*00000[/\\]00000_00000\.ppm: broken PPM header.*00001[/\\]00000_00000\.ppm: broken PPM header/,
      );
    });

    it('image listed but absent', async () => {
      fs.rmSync(path.join(classDir('00001'), '00000_00001.ppm'));
      await assert.rejects(load(), /1 CSV row\(s\) without their image: .*GT-00001\.csv:3: image 00000_00001\.ppm not found beside the CSV or below it/);
    });

    it('a CSV listing no images', async () => {
      fs.mkdirSync(classDir('00003'));
      fs.writeFileSync(path.join(classDir('00003'), 'GT-00003.csv'), gtsrbCsv([]));
      await assert.rejects(load(), /00003[/\\]GT-00003\.csv: lists no images/);
    });

    it('the same file name twice below a CSV', async () => {
      const images = path.join(root, 'Final_Test', 'Images');
      fs.renameSync(path.join(images, 'GT-final_test.csv'), path.join(root, 'Final_Test', 'GT-final_test.csv'));
      fs.mkdirSync(path.join(images, 'copy'));
      fs.copyFileSync(path.join(images, '00001.ppm'), path.join(images, 'copy', '00001.ppm'));
      await assert.rejects(load(), /GT-final_test\.csv:3: image 00001\.ppm found 2 times below/);
    });

    it('no GTSRB layout at all', async () => {
      fs.mkdirSync(path.join(tmp.dir, 'empty'));
      await assert.rejects(loadGtsrb({ path: path.join(tmp.dir, 'empty'), cache }), /no GT-\*\.csv training annotations found/);
      await assert.rejects(loadGtsrb({ path: path.join(tmp.dir, 'nowhere'), cache }), /nowhere does not exist/);
    });
  });

  it('reads a copy with renamed class folders and the test images sorted into class folders', async () => {
    const renamed = path.join(tmp.dir, 'renamed');
    fs.renameSync(path.join(root, 'Final_Training'), path.join(tmp.dir, 'train-part'));
    // Class folders named after the sign, not the 5-digit ClassId; the training part moved elsewhere.
    fs.mkdirSync(path.join(renamed, 'Training'), { recursive: true });
    for (const [folder, name] of [
      ['00000', 'stop'],
      ['00001', 'speed limit 60'],
      ['00002', 'misc'],
    ]) {
      fs.renameSync(path.join(tmp.dir, 'train-part', 'Images', folder), path.join(renamed, 'Training', name));
    }
    // Test images sorted into class folders below the test CSV.
    const testDir = path.join(renamed, 'Test');
    fs.mkdirSync(testDir);
    fs.renameSync(path.join(root, 'Final_Test', 'Images', 'GT-final_test.csv'), path.join(testDir, 'GT-final_test.csv'));
    for (const s of GTSRB_TEST) {
      fs.mkdirSync(path.join(testDir, `class ${s.classId}`), { recursive: true });
      fs.renameSync(path.join(root, 'Final_Test', 'Images', s.name), path.join(testDir, `class ${s.classId}`, s.name));
    }
    const { train, test } = await loadGtsrb({ path: renamed, cache, progress: false });
    // CSVs in path order: misc (00002), speed limit 60 (00001), stop (00000)
    assert.deepEqual(
      Array.from(train.labels),
      [...GTSRB_TRAIN['00002'], ...GTSRB_TRAIN['00001'], ...GTSRB_TRAIN['00000']].map((s) => s.classId),
    );
    assert.deepEqual(
      Array.from(test.labels),
      GTSRB_TEST.map((s) => s.classId),
    );
    for (let n = 0; n < test.shape[0]; n++) assert.deepEqual(pixel(test, n, 16, 16), classColor(test.labels[n]));
    const scan = scanGtsrb(renamed);
    assert.deepEqual([scan.missing, scan.unlisted], [[], []]);
  });

  describe('a resized copy: every image 32×32, the CSVs keeping the original Width, Height and ROI', () => {
    /** Replaces every image of the official-layout fixture by a bilinear 32×32 resize of it, as such copies are made. */
    function resizeCopy(side: number): number {
      let n = 0;
      for (const file of fs.readdirSync(root, { recursive: true }) as string[]) {
        if (!file.endsWith('.ppm')) continue;
        const full = path.join(root, file);
        fs.writeFileSync(full, encodePpm(resizeBilinear(parsePpm(fs.readFileSync(full), full), side, side)));
        n++;
      }
      return n;
    }
    const borderShare = (ds: Dataset) => {
      let near = 0;
      for (let i = 0; i < ds.images.length; i += 3) if (BORDER.every((v, c) => Math.abs(ds.images[i + c] - v) <= 30)) near++;
      return near / (ds.images.length / 3);
    };

    it('loads with the right class counts, ROI cropping off and on, and says once that it is resized', async () => {
      const original = await load({ cache: new Cache(path.join(tmp.dir, 'cache-original')) });
      assert.equal(resizeCopy(32), 9);
      const trainIds = Object.values(GTSRB_TRAIN)
        .flat()
        .map((sp) => sp.classId);
      for (const cropRoi of [false, true]) {
        const said = await stderrOf(async () => {
          const { train, test } = await load({ cropRoi });
          assert.deepEqual(Array.from(train.labels), trainIds);
          assert.deepEqual(
            Array.from(test.labels),
            GTSRB_TEST.map((sp) => sp.classId),
          );
          assert.deepEqual(classCounts(train), classCounts(original.train));
          assert.equal(classCounts(train)[14], 3);
          assert.deepEqual(train.shape, [6, 32, 32, 3]);
          // The ROI scaled to each 32×32 image leaves (almost) no border; without cropping about half the pixels are border.
          if (cropRoi) assert.ok(borderShare(train) < 0.05, `border share ${borderShare(train)}`);
          else assert.ok(borderShare(train) > 0.3, `border share ${borderShare(train)}`);
          for (let n = 0; n < train.shape[0]; n++) assert.deepEqual(pixel(train, n, 16, 16), classColor(train.labels[n]));
        });
        const lines = said.split('\n').filter((l) => l.includes('resized'));
        assert.equal(lines.length, 1, said);
        assert.match(
          lines[0],
          /^gtsrb: .* is a resized copy: 9 of 9 images differ from the Width and Height of their GT-\*\.csv row \(e\.g\. 32×32 for 40×36 at .*GT-00000\.csv:2\)/,
        );
        assert.match(lines[0], cropRoi ? /each ROI is scaled to its image/ : /the stored size does not matter without ROI cropping/);
      }
    });

    it('scales an ROI to the image size, keeping it at least one pixel', () => {
      assert.deepEqual(scaledRoi({ width: 40, height: 36, roi: [5, 5, 35, 31] }, 32, 32), [4, 4, 28, 28]);
      assert.deepEqual(scaledRoi({ width: 40, height: 36, roi: [5, 5, 35, 31] }, 40, 36), [5, 5, 35, 31]);
      assert.deepEqual(scaledRoi({ width: 100, height: 100, roi: [50, 50, 51, 51] }, 10, 10), [5, 5, 6, 6]);
    });
  });

  it('has the 43 standard class names', () => {
    assert.equal(GTSRB_CLASSES.length, 43);
    assert.equal(new Set(GTSRB_CLASSES).size, 43);
  });
});
