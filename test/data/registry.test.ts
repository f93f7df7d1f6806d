import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cache } from '../../src/cache';
import { DATASET_NAMES, describeDataset, findLocalDatasets, loadDataset, SHARED_CIFAR10_ARCHIVE } from '../../src/data/registry';
import { CIFAR_RECORDS, makeTempDir, writeCifarFolder, writeGtsrb, writeTinyImageNet } from './fixtures';

const ENV = ['PBE_CIFAR10_PATH', 'PBE_GTSRB_PATH', 'PBE_TINY_IMAGENET_PATH', 'PBE_CIFAR10_URL', 'PBE_CIFAR10_MD5'];

describe('data/registry', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let cache: Cache;
  let saved: Record<string, string | undefined>;

  beforeEach(() => {
    tmp = makeTempDir('registry');
    cache = new Cache(path.join(tmp.dir, 'cache'));
    saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
    for (const k of ENV) delete process.env[k];
  });
  afterEach(() => {
    for (const k of ENV) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    tmp.cleanup();
  });

  it('lists the four datasets and rejects unknown names with the valid ones', async () => {
    assert.deepEqual([...DATASET_NAMES], ['mnist', 'cifar10', 'gtsrb', 'tiny-imagenet']);
    await assert.rejects(loadDataset('imagenet'), /unknown dataset 'imagenet'; expected one of mnist, cifar10, gtsrb, tiny-imagenet/);
    await assert.rejects(loadDataset('mnist', { path: '/x' }), /mnist: is embedded/);
  });

  it('uses the PBE_*_PATH variables as default paths', async () => {
    process.env.PBE_CIFAR10_PATH = writeCifarFolder(path.join(tmp.dir, 'c'));
    process.env.PBE_GTSRB_PATH = path.join(tmp.dir, 'g');
    writeGtsrb(process.env.PBE_GTSRB_PATH);
    process.env.PBE_TINY_IMAGENET_PATH = writeTinyImageNet(path.join(tmp.dir, 't'));
    const cifar = await loadDataset('cifar10', { cache });
    assert.equal(cifar.test.shape[0], CIFAR_RECORDS.test);
    const gtsrb = await loadDataset('gtsrb', { cache, progress: false, limitPerClass: 1 });
    assert.equal(gtsrb.train.shape[0], 3);
    const tiny = await loadDataset('tiny-imagenet', { cache, progress: false, size: 16, limitPerClass: 1 });
    assert.deepEqual(tiny.train.shape, [3, 16, 16, 3]);
    const found = findLocalDatasets(cache);
    assert.deepEqual(
      found.map((d) => [d.name, d.available]),
      DATASET_NAMES.map((n) => [n, true]),
    );
    assert.match(found[2].where, /\(PBE_GTSRB_PATH\)$/);
  });

  it('explains how to provide gtsrb and tiny-imagenet when no path is set', async () => {
    await assert.rejects(loadDataset('gtsrb', { cache }), /gtsrb: no path given; pass one or set PBE_GTSRB_PATH/);
    await assert.rejects(loadDataset('tiny-imagenet', { cache }), /set PBE_TINY_IMAGENET_PATH/);
    const found = Object.fromEntries(findLocalDatasets(cache).map((d) => [d.name, d]));
    assert.equal(found.mnist.available, true);
    assert.equal(found.gtsrb.available, false);
    assert.match(found.gtsrb.where, /set PBE_GTSRB_PATH/);
    assert.equal(found.cifar10.available, fs.existsSync(SHARED_CIFAR10_ARCHIVE));
    process.env.PBE_GTSRB_PATH = path.join(tmp.dir, 'missing');
    const missing = findLocalDatasets(cache).find((d) => d.name === 'gtsrb');
    assert.equal(missing?.available, false);
    assert.match(missing?.where ?? '', /does not exist/);
  });

  it('describes splits: source, shape and per-class counts', async () => {
    const splits = await loadDataset('cifar10', { path: writeCifarFolder(tmp.dir), cache });
    const text = describeDataset(splits);
    assert.match(text, /^cifar10: 10 classes, images 32×32×3 uint8$/m);
    assert.match(text, /^train: 20 images, test: 5 images$/m);
    assert.match(text, /^source: .*cifar-10-batches-bin$/m);
    const rows = text.split('\n').filter((l) => /^\s*\d+ \S/.test(l));
    assert.equal(rows.length, 10);
    const counts = rows.map((r) => r.trim().split(/\s+/).slice(-2).map(Number));
    assert.equal(
      counts.reduce((s, [a]) => s + a, 0),
      20,
    );
    assert.equal(
      counts.reduce((s, [, b]) => s + b, 0),
      5,
    );
  });
});
