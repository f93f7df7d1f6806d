import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { BACKEND_ORDER, initBackend, parseBackendName } from '../../src/backend';
import { defaultWorkerCount, JobPool, runJobs, type Job } from '../../src/jobs/pool';
import { consoleSink, poolProgressSink, type ProgressUpdate } from '../../src/progress';
import { burn, matMulSum, spinJobType, type SpinResult } from './fixtures/busy';

const FIXTURE = path.join(__dirname, 'fixtures', 'busy.ts');
const ROOT = path.join(__dirname, '..', '..');
// What a terminal line holds besides its text: escape sequences and carriage returns.
// eslint-disable-next-line no-control-regex -- the escape character is what it matches
const TERMINAL_CONTROL = /\x1b\[[0-9;]*[A-Za-z]|\r/g;

const spin = (iterations: number, label?: string): Job => ({ module: FIXTURE, fn: 'spin', args: { iterations }, label });

/** Iterations of `burn` that take about `ms` milliseconds on this machine right now. */
function calibrate(ms: number): number {
  let n = 1e6;
  for (;;) {
    const t0 = performance.now();
    burn(n);
    const dt = performance.now() - t0;
    if (dt > 100) return Math.round((n * ms) / dt);
    n *= 4;
  }
}

/** A fake output stream that records what is written to it. */
function recorder(isTTY: boolean, columns = 80): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = { isTTY, columns, write: (s: string) => chunks.push(s) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, text: () => chunks.join('') };
}

function update(label: string, done: number, total: number): ProgressUpdate {
  return { label, done, total, unit: 'it', elapsedSec: 1, etaSec: null, rate: done, detail: undefined };
}

describe('JobPool', function () {
  const progress: Array<[string, ProgressUpdate]> = [];
  let pool: JobPool;

  before(() => {
    pool = new JobPool({ workers: 2, onProgress: (label, u) => progress.push([label, u]) });
  });

  after(() => pool.close());

  it('returns results in the order of the jobs and forwards progress with the job label', async () => {
    progress.length = 0;
    const unit = calibrate(20);
    const sizes = [6 * unit, unit, 3 * unit];
    const results = await pool.runAll<SpinResult>(sizes.map((n, i) => spin(n, `job-${i}`)));
    assert.deepEqual(
      results.map((r) => r.iterations),
      sizes,
    );
    for (const [i, r] of results.entries()) assert.equal(r.checksum, (4 * burn(Math.ceil(sizes[i] / 4))) | 0);
    for (const label of ['job-0', 'job-1', 'job-2']) {
      const mine = progress.filter(([l]) => l === label).map(([, u]) => u);
      assert.deepEqual(
        mine.map((u) => u.done),
        [1, 2, 3, 4],
        label,
      );
      assert.ok(mine.every((u) => u.label === 'spin' && u.total === 4 && u.unit === 'chunk'));
    }
  });

  it('rejects a failing job with its label, message and worker stack, and keeps working', async () => {
    await assert.rejects(pool.run({ module: FIXTURE, fn: 'fail', args: { message: 'no luck today' }, label: 'doomed' }), (e: Error) => {
      assert.match(e.message, /^job 'doomed' failed in worker \d+: no luck today\n/);
      assert.match(e.message, /worker stack: Error: no luck today\n\s+at fail .*busy\.ts/);
      return true;
    });
    await assert.rejects(pool.run({ module: FIXTURE, fn: 'nope' }), /job 'busy\.ts#nope' failed in worker \d+: .*busy\.ts exports no function 'nope'/);
    await assert.rejects(pool.run({ module: 'fixtures/busy.ts', fn: 'spin' }), /must be an absolute path/);
    assert.equal((await pool.run<SpinResult>(spin(1000))).iterations, 1000);
  });

  it('fails the job of a worker that exits or crashes, and replaces the worker', async () => {
    const before = await pool.runAll<SpinResult>([spin(1e5), spin(1e5)]);
    await assert.rejects(
      pool.run({ module: FIXTURE, fn: 'crash', args: { how: 'exit' }, label: 'quitter' }),
      /^Error: job 'quitter' failed: worker \d+ exited with code 3$/,
    );
    await assert.rejects(
      pool.run({ module: FIXTURE, fn: 'crash', args: { how: 'throw' }, label: 'thrower' }),
      /^Error: job 'thrower' failed: worker \d+ crashed with an uncaught exception: Error: async boom/,
    );
    const after = await pool.runAll<SpinResult>([spin(1e5), spin(1e5)]);
    const oldIds = new Set(before.map((r) => r.workerId));
    assert.ok(
      after.some((r) => !oldIds.has(r.workerId)),
      'a replacement worker ran a job',
    );
  });

  it('runs tfjs work on the default backend inside a worker, with the result of the parent', async () => {
    // Without PBE_BACKEND the worker takes the fastest backend that loads (wasm here, where
    // neither tfjs-node package installs; tfjs-node on a machine where it does).
    const env = process.env.PBE_BACKEND;
    const r = await pool.run<{ backend: string; sum: number }>({ module: FIXTURE, fn: 'tfWork', args: { n: 64 } });
    if (env && env.trim() !== '') assert.equal(r.backend, parseBackendName(env));
    else assert.ok((BACKEND_ORDER as readonly string[]).includes(r.backend), `unexpected backend ${r.backend}`);
    await initBackend(r.backend);
    assert.equal(r.sum, matMulSum(64));
  });

  it('runs two CPU-bound jobs at once on two workers', async () => {
    await pool.runAll([spin(1e5), spin(1e5)]); // both workers started and warm
    const n = calibrate(1500);
    let t0 = performance.now();
    await pool.run(spin(n));
    const one = performance.now() - t0;
    t0 = performance.now();
    const [a, b] = await pool.runAll<SpinResult>([spin(n), spin(n)]);
    const two = performance.now() - t0;
    // Timing is reported, not asserted: other processes share the cores.
    console.log(`      one job ${(one / 1000).toFixed(2)} s, two jobs ${(two / 1000).toFixed(2)} s: ratio ${(two / one).toFixed(2)}`);
    assert.notEqual(a.workerId, b.workerId);
    assert.ok(a.startedAt < b.endedAt && b.startedAt < a.endedAt, 'the two jobs overlapped in time');
  });

  it('cancels queued and running jobs on close, and refuses new ones', async () => {
    const small = new JobPool({ workers: 1 });
    const running = small.run(spin(calibrate(5000), 'long'));
    const queued = small.run(spin(1000, 'waiting'));
    // Handlers first: with the wasm backend loaded, an unhandled rejection kills the process.
    const checks = [
      assert.rejects(running, /job 'long' cancelled: the pool was closed/),
      assert.rejects(queued, /job 'waiting' cancelled: the pool was closed/),
    ];
    await new Promise((r) => setTimeout(r, 200));
    await small.close();
    await Promise.all(checks);
    await assert.rejects(small.run(spin(1)), /the pool is closed/);
  });

  it('works in a process that registered tsx as bin/pbe.js does, and lets it exit', async () => {
    const script = `
      require('tsx/cjs');
      const { runJobs } = require('./src/jobs/pool.ts');
      runJobs([{ module: ${JSON.stringify(FIXTURE)}, fn: 'spin', args: { iterations: 1000 } }], { workers: 1 })
        .then((r) => console.log(JSON.stringify(r.map((x) => x.iterations))));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: ROOT, timeout: 60000 });
    assert.equal(stdout.trim(), '[1000]');
  });
});

describe('runJobs and pool settings', () => {
  it('runJobs returns every result in order', async () => {
    const results = await runJobs<SpinResult>([spin(3000), spin(1000), spin(2000)], { workers: 2 });
    assert.deepEqual(
      results.map((r) => r.iterations),
      [3000, 1000, 2000],
    );
  });

  it('a job type names the exported function and types its arguments and result', async () => {
    const job = spinJobType.job({ iterations: 500 }, 'typed');
    assert.deepEqual([job.module, job.fn, job.label], [FIXTURE, 'spin', 'typed']);
    const [r] = await runJobs([job], { workers: 1 });
    const iterations: number = r.iterations; // typed as SpinResult without a cast
    assert.equal(iterations, 500);
  });

  it('takes the worker count from PBE_WORKERS, else one per core', () => {
    const saved = process.env.PBE_WORKERS;
    try {
      process.env.PBE_WORKERS = '3';
      assert.equal(defaultWorkerCount(), 3);
      assert.equal(new JobPool().size, 3);
      assert.equal(new JobPool({ workers: 1 }).size, 1);
      process.env.PBE_WORKERS = 'many';
      assert.throws(() => defaultWorkerCount(), /PBE_WORKERS must be a positive integer, got 'many'/);
      delete process.env.PBE_WORKERS;
      assert.equal(defaultWorkerCount(), os.availableParallelism());
    } finally {
      if (saved === undefined) delete process.env.PBE_WORKERS;
      else process.env.PBE_WORKERS = saved;
    }
    assert.throws(() => new JobPool({ workers: 0 }), /JobPool workers must be a positive integer/);
    assert.throws(() => new JobPool({ backend: 'tpu' }), /unknown backend 'tpu'/);
  });
});

describe('poolProgressSink', () => {
  it('off a terminal, prints whole lines per job at most every few seconds, and when a job finishes', () => {
    const out = recorder(false);
    const sink = poolProgressSink(out.stream, 60);
    sink('a', update('train', 1, 3), 1);
    sink('b', update('attack', 1, 2), 1);
    sink('a', update('train', 2, 3), 1);
    sink('b', update('attack', 2, 2), 1);
    const lines = out
      .text()
      .split('\n')
      .filter((l) => l !== '');
    assert.equal(lines.length, 3);
    assert.match(lines[0], /^\[a\] train .* 1\/3 it/);
    assert.match(lines[1], /^\[b\] attack .* 1\/2 it/);
    assert.match(lines[2], /^\[b\] attack .*100% 2\/2 it/);
  });

  it('on a terminal, draws one bar per worker (cli-progress), relabelled with its job, cut to the terminal width; finished stages stay above', () => {
    const out = recorder(true, 40);
    const sink = poolProgressSink(out.stream);
    sink('a', update('train', 1, 3), 1);
    sink('b', update('attack', 1, 2), 2);
    sink('a', update('train', 3, 3), 1);
    sink('c', update('scan', 1, 4), 1);
    sink.close!();
    // Nothing is drawn before the first redraw tick, so close() draws the one frame: the finished
    // line of job a, then the two worker bars, where c has taken worker 1.
    const lines = out
      .text()
      .split('\n')
      .map((l) => l.replace(TERMINAL_CONTROL, ''))
      .filter((l) => l.trim() !== '');
    assert.deepEqual(
      lines.map((l) => l.split(' ')[0]),
      ['[a]', '[c]', '[b]'],
      lines.join('\n'),
    );
    assert.match(lines[0], /\[a\] train .*100% 3\/3 it/);
    for (const l of lines.slice(1)) assert.ok(l.length <= 40, `'${l}' is wider than the terminal`);
  });
});

describe('consoleSink', () => {
  it('off a terminal, prints a plain line every few seconds and when the work finishes', () => {
    const out = recorder(false);
    const sink = consoleSink(out.stream, 60);
    sink(update('pgd', 1, 4));
    sink(update('pgd', 2, 4));
    sink(update('pgd', 4, 4));
    const lines = out
      .text()
      .split('\n')
      .filter((l) => l !== '');
    assert.equal(lines.length, 2);
    assert.match(lines[0], /^pgd █{6}░{18} {2}25% 1\/4 it {2}1\.0 it\/s {2}ETA \?$/);
    assert.match(lines[1], /^pgd █{24} 100% 4\/4 it/);
  });

  it('on a terminal, draws the bar with cli-progress and ends each finished bar with a newline', () => {
    const out = recorder(true, 80);
    const sink = consoleSink(out.stream);
    sink(update('pgd', 1, 2));
    sink(update('pgd', 2, 2));
    sink(update('tsne', 1, 1));
    const lines = out
      .text()
      .split('\n')
      .map((l) => l.replace(TERMINAL_CONTROL, ''));
    assert.match(lines[0], /pgd █+ 100% 2\/2 it/);
    assert.match(lines[1], /tsne █+ 100% 1\/1 it/);
  });
});
