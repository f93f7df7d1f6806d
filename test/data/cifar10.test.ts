import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Cache } from '../../src/cache';
import { CIFAR10_CLASSES, loadCifar10 } from '../../src/data/cifar10';
import { classCounts, type Dataset } from '../../src/data/dataset';
import { CIFAR_RECORDS, cifarBatch, cifarLabel, cifarPixel, listFiles, makeTempDir, writeCifarArchive, writeCifarFolder } from './fixtures';

/** Every pixel and label of a loaded split against the fixture's formula (planar → NHWC). */
function checkSplit(ds: Dataset, batches: number[], perBatch: number): void {
  assert.deepEqual(ds.shape, [batches.length * perBatch, 32, 32, 3]);
  let n = 0;
  for (const b of batches) {
    for (let i = 0; i < perBatch; i++, n++) {
      assert.equal(ds.labels[n], cifarLabel(b, i), `label of image ${n}`);
      for (const p of [0, 1, 31, 32, 500, 1023]) {
        for (let k = 0; k < 3; k++) {
          assert.equal(ds.images[(n * 1024 + p) * 3 + k], cifarPixel(b, i, k, p), `image ${n} pixel ${p} channel ${k}`);
        }
      }
    }
  }
}

function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/** Serves `body` at /cifar-10-binary.tar.gz on 127.0.0.1 until closed; closing twice is harmless. */
async function serve(body: Buffer): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/cifar-10-binary.tar.gz') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-gzip', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/cifar-10-binary.tar.gz`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('data/cifar10', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let cache: Cache;
  beforeEach(() => {
    tmp = makeTempDir('cifar');
    cache = new Cache(path.join(tmp.dir, 'cache'));
  });
  afterEach(() => tmp.cleanup());

  it('reads an extracted folder (itself or its parent) into NHWC with the right labels', async () => {
    const dir = writeCifarFolder(path.join(tmp.dir, 'data'));
    for (const p of [dir, path.dirname(dir)]) {
      const { train, test } = await loadCifar10({ path: p, cache });
      checkSplit(train, [1, 2, 3, 4, 5], CIFAR_RECORDS.train);
      checkSplit(test, [0], CIFAR_RECORDS.test);
      assert.deepEqual(train.classNames, CIFAR10_CLASSES);
      assert.equal(train.source, dir);
    }
    assert.deepEqual(listFiles(cache.root), [], 'a folder is read in place, not cached');
  });

  it('extracts a .tar.gz once into the cache and reuses it', async () => {
    const archive = await writeCifarArchive(tmp.dir);
    const first = await loadCifar10({ path: archive, cache });
    checkSplit(first.train, [1, 2, 3, 4, 5], CIFAR_RECORDS.train);
    checkSplit(first.test, [0], CIFAR_RECORDS.test);
    assert.match(first.train.source, new RegExp(`md5 ${md5(fs.readFileSync(archive))}`));
    const entries = fs.readdirSync(path.join(cache.root, 'cifar10-extracted'));
    assert.equal(entries.length, 1);
    const manifest = path.join(cache.root, 'cifar10-extracted', entries[0], 'manifest.json');
    const stamp = fs.statSync(manifest).mtimeMs;
    const second = await loadCifar10({ path: archive, cache });
    assert.deepEqual(second.train.images, first.train.images);
    assert.equal(fs.statSync(manifest).mtimeMs, stamp, 'second load must hit the cache');
  });

  it('limitPerClass keeps the first n images of each class', async () => {
    const dir = writeCifarFolder(tmp.dir);
    const full = await loadCifar10({ path: dir, cache });
    const { train } = await loadCifar10({ path: dir, cache, limitPerClass: 1 });
    assert.ok(classCounts(train).every((c) => c <= 1));
    assert.equal(train.shape[0], new Set(full.train.labels).size);
    for (let j = 0; j < train.shape[0]; j++) {
      const first = full.train.labels.indexOf(train.labels[j]);
      assert.deepEqual(train.images.subarray(j * 3072, (j + 1) * 3072), full.train.images.subarray(first * 3072, (first + 1) * 3072));
    }
    await assert.rejects(loadCifar10({ path: dir, cache, limitPerClass: 0 }), /limitPerClass must be a positive integer/);
  });

  it('refuses a copy that lost whole records: a data batch cut at a record boundary, a short test batch beside official data batches', async () => {
    const dir = writeCifarFolder(tmp.dir);
    fs.writeFileSync(path.join(dir, 'data_batch_5.bin'), cifarBatch(5, CIFAR_RECORDS.train - 1));
    await assert.rejects(loadCifar10({ path: dir, cache }), (e: Error) => {
      assert.match(
        e.message,
        /the data batches hold 4 \(data_batch_1\.bin\), 4 \(data_batch_2\.bin\), 4 \(data_batch_3\.bin\), 4 \(data_batch_4\.bin\), 3 \(data_batch_5\.bin\) records; the official ones hold 10,000 each/,
      );
      return true;
    });
    // Official-sized data batches, as sparse files: the sizes are refused before any byte is read.
    for (let b = 1; b <= 5; b++) fs.truncateSync(path.join(dir, `data_batch_${b}.bin`), 10_000 * 3073);
    fs.truncateSync(path.join(dir, 'test_batch.bin'), 9_000 * 3073);
    await assert.rejects(loadCifar10({ path: dir, cache }), /test_batch\.bin holds 9,000 records; the official one, like the data batches here, holds 10,000/);
  });

  it('names the file when a batch has a bad size, a bad label, or is missing', async () => {
    const dir = writeCifarFolder(tmp.dir);
    const batch3 = path.join(dir, 'data_batch_3.bin');
    fs.writeFileSync(batch3, cifarBatch(3, 2).subarray(0, 3073 + 100));
    await assert.rejects(loadCifar10({ path: dir, cache }), (e: Error) => {
      assert.match(e.message, /data_batch_3\.bin: 3173 bytes is not a multiple of the 3073-byte CIFAR-10 record/);
      return true;
    });
    const bad = cifarBatch(3, CIFAR_RECORDS.train);
    bad[3073] = 10;
    fs.writeFileSync(batch3, bad);
    await assert.rejects(loadCifar10({ path: dir, cache }), /data_batch_3\.bin: record 1 has label byte 10, expected 0–9/);
    fs.rmSync(batch3);
    await assert.rejects(loadCifar10({ path: dir, cache }), /cifar-10-batches-bin: missing data_batch_3\.bin/);
    await assert.rejects(loadCifar10({ path: path.join(tmp.dir, 'nowhere'), cache }), /nowhere does not exist/);
    await assert.rejects(loadCifar10({ path: fs.mkdtempSync(path.join(tmp.dir, 'empty-')), cache }), /no CIFAR-10 batch files here or in cifar-10-batches-bin/);
  });

  it('gives a clear error for a truncated or non-gzip archive and caches nothing', async () => {
    const archive = await writeCifarArchive(tmp.dir);
    const bytes = fs.readFileSync(archive);
    const truncated = path.join(tmp.dir, 'truncated.tar.gz');
    fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assert.rejects(loadCifar10({ path: truncated, cache }), /truncated\.tar\.gz: cannot extract \(.*unexpected end of file\)/);
    const junk = path.join(tmp.dir, 'junk.tar.gz');
    fs.writeFileSync(junk, 'this is not an archive');
    await assert.rejects(loadCifar10({ path: junk, cache }), /junk\.tar\.gz: cannot extract/);
    assert.deepEqual(listFiles(cache.root), []);
  });

  it('refuses an archive without all batch files', async () => {
    const src = path.join(tmp.dir, 'src');
    const dir = writeCifarFolder(src);
    fs.rmSync(path.join(dir, 'test_batch.bin'));
    const archive = path.join(tmp.dir, 'partial.tar.gz');
    const tar = await import('tar');
    await tar.c({ gzip: true, file: archive, cwd: src }, ['cifar-10-batches-bin']);
    await assert.rejects(loadCifar10({ path: archive, cache }), /partial\.tar\.gz: missing test_batch\.bin/);
    assert.deepEqual(listFiles(cache.root), []);
  });

  describe('download', () => {
    it('downloads, verifies the md5, extracts once, then serves from the cache', async () => {
      const archive = fs.readFileSync(await writeCifarArchive(tmp.dir));
      const server = await serve(archive);
      try {
        const opts = { url: server.url, expectedMd5: md5(archive), cache, progress: false };
        const { train, test } = await loadCifar10(opts);
        checkSplit(train, [1, 2, 3, 4, 5], CIFAR_RECORDS.train);
        checkSplit(test, [0], CIFAR_RECORDS.test);
        assert.match(train.source, new RegExp(`^${server.url} \\(md5 ${md5(archive)}\\)$`));
        assert.ok(!listFiles(cache.root).some((f) => f.endsWith('.tar.gz')), 'the archive is not kept');
        await server.close();
        const again = await loadCifar10(opts);
        assert.deepEqual(again.test.images, test.images);
      } finally {
        await server.close();
      }
    });

    it('refuses a download whose md5 differs and leaves nothing in the cache', async () => {
      const archive = fs.readFileSync(await writeCifarArchive(tmp.dir));
      const corrupted = Buffer.from(archive);
      corrupted[corrupted.length >> 1] ^= 0xff;
      const server = await serve(corrupted);
      try {
        await assert.rejects(
          loadCifar10({ url: server.url, expectedMd5: md5(archive), cache, progress: false }),
          new RegExp(`md5 ${md5(corrupted)} does not match the expected ${md5(archive)}; refusing the file`),
        );
      } finally {
        await server.close();
      }
      assert.deepEqual(listFiles(cache.root), []);
      const kindDir = path.join(cache.root, 'cifar10-extracted');
      assert.deepEqual(fs.existsSync(kindDir) ? fs.readdirSync(kindDir) : [], [], 'no entry, staging or temp folder left');
    });

    it('reports HTTP errors and takes the URL and md5 from the environment', async () => {
      const archive = fs.readFileSync(await writeCifarArchive(tmp.dir));
      const server = await serve(archive);
      const saved = { url: process.env.PBE_CIFAR10_URL, md5: process.env.PBE_CIFAR10_MD5 };
      try {
        await assert.rejects(
          loadCifar10({ url: server.url.replace('cifar-10-binary', 'missing'), expectedMd5: md5(archive), cache, progress: false }),
          /missing\.tar\.gz failed: HTTP 404/,
        );
        process.env.PBE_CIFAR10_URL = server.url;
        process.env.PBE_CIFAR10_MD5 = md5(archive);
        const { test } = await loadCifar10({ cache, progress: false });
        assert.equal(test.shape[0], CIFAR_RECORDS.test);
      } finally {
        for (const [k, v] of [
          ['PBE_CIFAR10_URL', saved.url],
          ['PBE_CIFAR10_MD5', saved.md5],
        ] as const) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
        await server.close();
      }
    });
  });
});
