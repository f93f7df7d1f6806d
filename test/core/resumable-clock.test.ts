import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ResumableClock } from '../../src/io/resumable-clock';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ResumableClock: the time of work that resumes across processes', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-clock-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('carries an unfinished attempt’s seconds into the next, counts both, and forgets them when the work finishes', async () => {
    const file = path.join(dir, 'runs', 'work.seconds.json');
    const first = new ResumableClock(file);
    assert.equal(first.earlier, 0);
    await sleep(120);
    first.stop(false);
    const kept = (JSON.parse(fs.readFileSync(file, 'utf8')) as { seconds: number }).seconds;
    assert.ok(kept >= 0.1 && kept < 5, `kept ${kept}`);
    const second = new ResumableClock(file);
    assert.equal(second.earlier, kept);
    await sleep(60);
    const total = second.seconds();
    assert.ok(total >= kept + 0.05 && total < kept + 5, `total ${total}`);
    second.stop(true);
    assert.equal(fs.existsSync(file), false);
    assert.equal(new ResumableClock(file).earlier, 0);
  });

  it('keeps the count on disk at a tick once the interval has passed, so a process killed mid-work loses at most that', async () => {
    const file = path.join(dir, 'work.seconds.json');
    const clock = new ResumableClock(file, 50);
    clock.tick();
    assert.equal(fs.existsSync(file), false, 'kept before the interval passed');
    await sleep(80);
    clock.tick();
    // No stop: as if the process died here.
    const saved = (JSON.parse(fs.readFileSync(file, 'utf8')) as { seconds: number }).seconds;
    assert.ok(saved >= 0.05 && saved <= clock.seconds(), `saved ${saved}`);
    assert.equal(new ResumableClock(file).earlier, saved);
    clock.stop(true);
  });

  it('counts from 0, saying so, when the record is not one', () => {
    const file = path.join(dir, 'work.seconds.json');
    fs.writeFileSync(file, '{"seconds": "many"');
    const said: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (said.push(s), true)) as typeof process.stderr.write;
    try {
      const clock = new ResumableClock(file);
      assert.equal(clock.earlier, 0);
      clock.stop(true);
    } finally {
      process.stderr.write = write;
    }
    assert.match(said.join(''), /work\.seconds\.json: not a record of earlier attempts' seconds; counting this work's time from 0/);
  });
});
