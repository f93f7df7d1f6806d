import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { claimRun } from '../../src/io/run-lock';

describe('run lock (one trainer per checkpoint folder)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-lock-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses a second claim while the first holds, naming the folder, and frees it on release', () => {
    const run = path.join(dir, 'runs', 'abc');
    const first = claimRun(run);
    assert.throws(() => claimRun(run), (e: Error) => e.message.includes(`training into ${run}`) && e.message.includes(`${run}.lock`));
    first.release();
    assert.ok(!fs.existsSync(`${run}.lock`));
    claimRun(run).release();
  });

  it('refuses while another live process holds the lock, and takes over once it is gone', async () => {
    const run = path.join(dir, 'abc');
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      fs.writeFileSync(`${run}.lock`, `${child.pid}:0`);
      assert.throws(() => claimRun(run), new RegExp(`pid ${child.pid}`));
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill();
      await exited;
    }
    const taken = claimRun(run);
    assert.equal(fs.readFileSync(`${run}.lock`, 'utf8'), `${process.pid}:0`);
    taken.release();
  });
});
