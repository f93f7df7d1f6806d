import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Cache, canonicalJson, configKey } from '../../src/cache';

describe('Cache', () => {
  let root: string;
  let cache: Cache;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-cache-'));
    cache = new Cache(root);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('keys configurations independently of key order', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 1, e: 0 }] } }), '{"a":{"c":[3,{"e":0,"f":1}],"d":2},"b":1}');
    assert.equal(configKey({ a: 1, b: 2 }), configKey({ b: 2, a: 1 }));
    assert.notEqual(configKey({ a: 1 }), configKey({ a: 2 }));
  });

  it('builds once, then serves the verified entry without rebuilding', async () => {
    let builds = 0;
    const build = () => {
      builds++;
      return { 'data.bin': Buffer.from('hello'), 'extra.txt': 'x' };
    };
    const e1 = await cache.getOrCreate('thing', { n: 1 }, build, { note: 'meta' });
    const e2 = await cache.getOrCreate('thing', { n: 1 }, build);
    assert.equal(builds, 1);
    assert.equal(e2.read('data.bin').toString(), 'hello');
    assert.equal(e1.dir, e2.dir);
    assert.deepEqual(e2.manifest.meta, { note: 'meta' });
    assert.deepEqual(e2.manifest.config, { n: 1 });
  });

  it('lists the finished entries of a kind, verified; a damaged one is named and left in place, half-written ones are not entries', async () => {
    assert.deepEqual(cache.list('thing'), { entries: [], unverified: [] });
    const a = await cache.put('thing', { n: 1 }, { 'data.bin': Buffer.from('one') });
    const b = await cache.put('thing', { n: 2 }, { 'data.bin': Buffer.from('two') });
    fs.mkdirSync(path.join(root, 'thing', `.staging-${path.basename(a.dir)}-1-0123abcd`));
    fs.writeFileSync(b.file('data.bin'), 'TWO');
    const { entries, unverified } = cache.list('thing');
    assert.deepEqual(
      entries.map((e) => e.manifest.config),
      [{ n: 1 }],
    );
    assert.deepEqual(
      unverified.map((u) => u.dir),
      [b.dir],
    );
    assert.match(unverified[0].problem, /^data\.bin checksum [0-9a-f]{12}… does not match [0-9a-f]{12}…$/);
    assert.ok(fs.existsSync(b.dir));
  });

  it('detects a corrupted file, discards the entry and rebuilds it', async () => {
    let builds = 0;
    const build = () => {
      builds++;
      return { 'data.bin': Buffer.alloc(1000, 7) };
    };
    const entry = await cache.getOrCreate('thing', { n: 2 }, build);
    const file = entry.file('data.bin');
    const bytes = fs.readFileSync(file);
    bytes[500] ^= 0xff;
    fs.writeFileSync(file, bytes);
    assert.match(cache.verify(entry.dir) ?? '', /checksum/);
    const again = await cache.getOrCreate('thing', { n: 2 }, build);
    assert.equal(builds, 2);
    assert.deepEqual(again.read('data.bin'), Buffer.alloc(1000, 7));
  });

  it('treats a truncated file or a missing manifest as a partial entry', async () => {
    const entry = await cache.put('thing', { n: 3 }, { 'a.bin': Buffer.alloc(64, 1) });
    fs.truncateSync(entry.file('a.bin'), 10);
    assert.match(cache.verify(entry.dir) ?? '', /has 10 bytes, manifest says 64/);
    assert.equal(cache.get('thing', { n: 3 }), null);
    assert.equal(fs.existsSync(entry.dir), false);
    const e2 = await cache.put('thing', { n: 3 }, { 'a.bin': Buffer.alloc(64, 1) });
    fs.rmSync(path.join(e2.dir, 'manifest.json'));
    assert.equal(cache.get('thing', { n: 3 }), null);
  });

  it('keeps an existing valid entry when asked to (a concurrent worker computed it first)', async () => {
    await cache.put('thing', { n: 5 }, { 'a.txt': 'first' });
    const kept = await cache.put('thing', { n: 5 }, { 'a.txt': 'second' }, { keepExisting: true });
    assert.equal(kept.read('a.txt').toString(), 'first');
    const replaced = await cache.put('thing', { n: 5 }, { 'a.txt': 'third' });
    assert.equal(replaced.read('a.txt').toString(), 'third');
    assert.deepEqual(
      fs.readdirSync(path.join(root, 'thing')).filter((f) => f.startsWith('.')),
      [],
      'no staging or trash left',
    );
  });

  it('leaves nothing behind when a build fails', async () => {
    await assert.rejects(
      cache.getOrCreate('thing', { n: 4 }, () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(fs.readdirSync(path.join(root, 'thing')), []);
    assert.equal(cache.get('thing', { n: 4 }), null);
  });

  it('refuses unsafe names', async () => {
    await assert.rejects(cache.put('thing', {}, { '../evil': 'x' }), /invalid entry file name/);
    assert.throws(() => cache.entryDir('../up', {}), /invalid kind/);
  });

  it('treats an entry whose manifest records another configuration than its key as corrupt', async () => {
    const a = await cache.put('thing', { n: 5 }, { 'a.txt': 'five' });
    const b = cache.entryDir('thing', { n: 6 });
    fs.cpSync(a.dir, b, { recursive: true });
    const said = captureStderr(() => assert.equal(cache.get('thing', { n: 6 }), null));
    assert.match(said, /discarding .*manifest\.json records a configuration whose key is \w+, not the folder's \w+/);
    assert.ok(!fs.existsSync(b));
    assert.equal(cache.get('thing', { n: 5 })?.read('a.txt').toString(), 'five');
  });

  it("removes the staging and trash folders of dead processes on the next write, and keeps a live process's", async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const parent = path.join(root, 'thing');
    const orphan = path.join(parent, `.staging-abc-${dead}-0123abcd`);
    const trash = path.join(parent, `.trash-abc-${dead}-4567cdef`);
    const live = path.join(parent, `.staging-abc-${process.pid}-89abcdef`);
    for (const d of [orphan, trash, live]) fs.mkdirSync(path.join(d, 'sub'), { recursive: true });
    await cache.put('thing', { n: 7 }, { 'a.txt': 'x' });
    assert.ok(!fs.existsSync(orphan) && !fs.existsSync(trash));
    assert.ok(fs.existsSync(live));
  });

  it("runs identical exclusive work one at a time, the second finding the first one's entry", async () => {
    const order: string[] = [];
    const work = (who: string) => async () => {
      const hit = cache.get('thing', { n: 8 });
      order.push(`${who} ${hit ? 'read' : 'computed'}`);
      if (!hit) {
        await new Promise((r) => setTimeout(r, 50));
        await cache.put('thing', { n: 8 }, { 'a.txt': who });
      }
    };
    const saved = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      await Promise.all([cache.exclusive('thing', { n: 8 }, 'n 8', work('first')), cache.exclusive('thing', { n: 8 }, 'n 8', work('second'))]);
    } finally {
      process.stderr.write = saved;
    }
    assert.deepEqual(order, ['first computed', 'second read']);
    assert.deepEqual(fs.readdirSync(path.join(root, 'locks')), []);
  });
});

function captureStderr(f: () => void): string {
  const saved = process.stderr.write;
  let text = '';
  process.stderr.write = ((chunk: string) => ((text += chunk), true)) as typeof process.stderr.write;
  try {
    f();
  } finally {
    process.stderr.write = saved;
  }
  return text;
}
