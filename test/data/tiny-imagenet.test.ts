import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cache } from '../../src/cache';
import { classCounts } from '../../src/data/dataset';
import { loadTinyImageNet } from '../../src/data/tiny-imagenet';
import { TINY_TRAIN_PER_CLASS, TINY_VAL, TINY_WNIDS, classColor, makeTempDir, tinyJpeg, writeTinyImageNet } from './fixtures';

const near = (a: number, b: number): boolean => Math.abs(a - b) <= 4;

describe('data/tiny-imagenet', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let root: string;
  let cache: Cache;
  const load = (extra: Partial<Parameters<typeof loadTinyImageNet>[0]> = {}) => loadTinyImageNet({ path: root, cache, progress: false, ...extra });

  beforeEach(() => {
    tmp = makeTempDir('tiny');
    root = writeTinyImageNet(tmp.dir);
    cache = new Cache(path.join(tmp.dir, 'cache'));
  });
  afterEach(() => tmp.cleanup());

  it('loads train/<wnid>/images and the labelled val split, labels in wnids.txt order', async () => {
    const { train, test } = await load();
    assert.deepEqual(train.shape, [TINY_WNIDS.length * TINY_TRAIN_PER_CLASS, 64, 64, 3]);
    assert.deepEqual(classCounts(train), new Array(TINY_WNIDS.length).fill(TINY_TRAIN_PER_CLASS));
    assert.deepEqual(
      Array.from(test.labels),
      TINY_VAL.map(([, k]) => k),
    );
    assert.deepEqual(train.classNames, ['goldfish', 'European fire salamander', 'bullfrog']);
    // Solid-colour JPEGs: the red channel identifies the class, blue the image within it (natural order).
    for (let n = 0; n < train.shape[0]; n++) {
      const k = train.labels[n];
      const j = n % TINY_TRAIN_PER_CLASS;
      const o = n * 64 * 64 * 3 + (32 * 64 + 32) * 3;
      assert.ok(near(train.images[o], classColor(2 * k)[0]), `image ${n} red`);
      assert.ok(near(train.images[o + 2], (classColor(2 * k)[2] + 20 * j) % 256), `image ${n} is ${TINY_WNIDS[k]}_${j}`);
    }
  });

  it('accepts the parent folder, resizes with size, limits per class, and names classes by wnid without words.txt', async () => {
    fs.rmSync(path.join(root, 'words.txt'));
    const { train, test } = await loadTinyImageNet({ path: tmp.dir, cache, progress: false, size: 32, limitPerClass: 2 });
    assert.deepEqual(train.shape, [TINY_WNIDS.length * 2, 32, 32, 3]);
    assert.deepEqual(train.classNames, TINY_WNIDS);
    assert.deepEqual(Array.from(test.labels), [2, 0, 1, 0]);
    const { test: one } = await load({ limitPerClass: 1 });
    assert.deepEqual(Array.from(one.labels), [2, 0, 1]);
  });

  it('serves the second load from the cache', async () => {
    const first = await load();
    const kind = path.join(cache.root, 'tiny-imagenet-decoded');
    const [entry] = fs.readdirSync(kind);
    const stamp = fs.statSync(path.join(kind, entry, 'manifest.json')).mtimeMs;
    const second = await load();
    assert.deepEqual(second.train.images, first.train.images);
    assert.equal(fs.statSync(path.join(kind, entry, 'manifest.json')).mtimeMs, stamp);
  });

  describe('errors name the file and what was expected', () => {
    it('missing wnids.txt', async () => {
      fs.rmSync(path.join(root, 'wnids.txt'));
      await assert.rejects(load(), /missing wnids\.txt/);
    });

    it('unknown wnid in the annotations', async () => {
      const file = path.join(root, 'val', 'val_annotations.txt');
      fs.appendFileSync(file, 'val_9.JPEG\tn00000000\t0\t0\t10\t10\n');
      await assert.rejects(load(), /val_annotations\.txt:5: unknown wnid 'n00000000' \(not in wnids\.txt\)/);
    });

    it('broken JPEG', async () => {
      const file = path.join(root, 'train', TINY_WNIDS[1], 'images', `${TINY_WNIDS[1]}_4.JPEG`);
      fs.writeFileSync(file, tinyJpeg(1).subarray(0, 20));
      await assert.rejects(load(), new RegExp(`${TINY_WNIDS[1]}_4\\.JPEG: broken JPEG`));
      fs.writeFileSync(file, 'GIF89a');
      await assert.rejects(load(), new RegExp(`${TINY_WNIDS[1]}_4\\.JPEG: not a JPEG`));
    });

    it('empty class folder', async () => {
      const dir = path.join(root, 'train', TINY_WNIDS[2], 'images');
      for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
      await assert.rejects(load(), new RegExp(`${TINY_WNIDS[2]}[/\\\\]images: empty class folder`));
    });

    it('missing val image', async () => {
      fs.rmSync(path.join(root, 'val', 'images', 'val_2.JPEG'));
      await assert.rejects(load(), /val_annotations\.txt:3: image .*val_2\.JPEG does not exist/);
    });
  });
});
