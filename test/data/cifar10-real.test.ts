import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cache } from '../../src/cache';
import { loadCifar10 } from '../../src/data/cifar10';
import { classCounts } from '../../src/data/dataset';
import { makeTempDir } from './fixtures';

const ARCHIVE = path.resolve(__dirname, '..', '..', '..', 'shared', 'datasets', 'cifar-10-binary.tar.gz');

describe('data/cifar10 on the shared archive', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof makeTempDir>;
  before(function () {
    if (!fs.existsSync(ARCHIVE)) this.skip();
    tmp = makeTempDir('cifar-real');
  });
  after(() => tmp?.cleanup());

  it('has 50,000 train and 10,000 test images, 5,000 and 1,000 per class; the second load is a cache hit', async () => {
    const cache = new Cache(tmp.dir);
    const t0 = Date.now();
    const first = await loadCifar10({ path: ARCHIVE, cache });
    const t1 = Date.now();
    const [entry] = fs.readdirSync(path.join(tmp.dir, 'cifar10-extracted'));
    const manifest = path.join(tmp.dir, 'cifar10-extracted', entry, 'manifest.json');
    const stamp = fs.statSync(manifest).mtimeMs;
    const second = await loadCifar10({ path: ARCHIVE, cache });
    const t2 = Date.now();
    for (const { train, test } of [first, second]) {
      assert.deepEqual(train.shape, [50_000, 32, 32, 3]);
      assert.deepEqual(test.shape, [10_000, 32, 32, 3]);
      assert.deepEqual(classCounts(train), new Array(10).fill(5_000));
      assert.deepEqual(classCounts(test), new Array(10).fill(1_000));
    }
    assert.deepEqual(second.test.images, first.test.images);
    assert.equal(fs.statSync(manifest).mtimeMs, stamp, 'the second load must reuse the extracted entry');
    console.log(`      first load ${t1 - t0} ms (extract + checksum), cached load ${t2 - t1} ms`);
    assert.ok(t2 - t1 < 10_000, `cached load took ${t2 - t1} ms`);
  });
});
