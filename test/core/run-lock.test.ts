import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { claimRun } from '../../src/io/run-lock';

describe('run lock (one process computes a result; the others wait for it)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-lock-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('makes a second claim wait, saying so once, until the first is released', async () => {
    const run = path.join(dir, 'runs', 'abc');
    const first = await claimRun(run);
    const told: string[] = [];
    let got = false;
    const second = claimRun(run, { what: 'the benign model', pollMs: 10, onWait: (m) => told.push(m) }).then((c) => ((got = true), c));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(got, false);
    assert.equal(told.length, 1);
    assert.match(told[0], new RegExp(`^waiting for pid ${process.pid}, thread 0, which is computing the benign model; the result is then read from the cache`));
    first.release();
    (await second).release();
    assert.ok(!fs.existsSync(`${run}.lock`));
  });

  it('gives up after the wait it was given, naming the holder, the lock and PBE_LOCK_WAIT', async () => {
    const run = path.join(dir, 'abc');
    const first = await claimRun(run);
    await assert.rejects(claimRun(run, { waitSeconds: 0.05, pollMs: 10, onWait: () => {} }), (e: Error) => {
      assert.match(e.message, new RegExp(`^gave up after 0 s waiting for pid ${process.pid}`));
      assert.ok(e.message.includes(`${run}.lock`) && e.message.includes('PBE_LOCK_WAIT'));
      return true;
    });
    first.release();
  });

  it('waits for another live process, and takes over its lock once it is gone', async () => {
    const run = path.join(dir, 'abc');
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      fs.writeFileSync(`${run}.lock`, `${child.pid}:0`);
      await assert.rejects(claimRun(run, { waitSeconds: 0.05, pollMs: 10, onWait: () => {} }), new RegExp(`waiting for pid ${child.pid},`));
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill();
      await exited;
    }
    const taken = await claimRun(run, { waitSeconds: 0 });
    assert.equal(fs.readFileSync(`${run}.lock`, 'utf8'), `${process.pid}:0`);
    taken.release();
  });

  it('removes the locks of dead processes beside the one it claims, and keeps live ones', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    fs.writeFileSync(path.join(dir, 'old.lock'), `${dead}:0`);
    fs.writeFileSync(path.join(dir, 'live.lock'), `${process.pid}:5`);
    const run = await claimRun(path.join(dir, 'new'));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['live.lock', 'new.lock']);
    run.release();
  });
});
