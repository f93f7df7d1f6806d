import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Cache } from '../../src/cache';
import { type CompareCell, cellsFrame, compare, compareMarkdown, paperTableFor } from '../../src/experiments/compare';
import { defend } from '../../src/experiments/defend';
import { defendOnPool } from '../../src/experiments/defend-job';
import { JobPool } from '../../src/jobs/pool';
import { silentSink } from '../../src/progress';
import { resolveProfile } from '../../src/train/profiles';
import { pipelineBackend } from '../helpers/backend';

const cell = (attack: string, column: CompareCell['column'], acc: number, asr: number, paper: CompareCell['paper']): CompareCell => ({
  attack,
  column,
  acc,
  asr,
  paper,
  seconds: 1,
  fromCache: false,
});

describe("pbe compare: the paper's table layout", () => {
  it("picks the paper's table by dataset and mode", () => {
    assert.equal(paperTableFor('cifar10', 'all2one')?.id, 'Table 1');
    assert.equal(paperTableFor('gtsrb', 'all2one')?.id, 'Table 2');
    assert.equal(paperTableFor('cifar10', 'all2all')?.id, 'Table 4');
    assert.equal(paperTableFor('mnist', 'all2one'), null);
  });

  it("writes a row of ours and a row of the paper's per attack, ACC/ASR in each defense column", () => {
    const t1 = paperTableFor('cifar10', 'all2one')!;
    const cells = [
      cell('badnets', 'before', 60.55, 100, t1.cells.badnets.before!),
      cell('badnets', 'ft', 55.1, 3.25, t1.cells.badnets.ft!),
      cell('blend', 'before', 61.85, 100, t1.cells.blend.before!),
      cell('blend', 'ft', 57, 12.5, t1.cells.blend.ft!),
    ];
    const md = compareMarkdown(cells, ['badnets', 'blend'], ['before', 'ft'], 'Table 1').split('\n');
    assert.equal(md[0], '|attack|before|FT|');
    assert.equal(md[2], '|BadNet (ours)|60.55/100.00|55.10/3.25|');
    assert.equal(md[3], '|BadNet (paper)|94.67/100.00|85.82/6.53|');
    assert.equal(md[5], '|Blend (paper)|94.63/100.00|87.53/11.31|');
    const noPaper = compareMarkdown([cell('badnets', 'before', 90, 100, null)], ['badnets'], ['before', 'nc'], null).split('\n');
    assert.equal(noPaper[2], '|BadNet (ours)|90.00/100.00|–|');
    assert.equal(noPaper.filter((l) => l.startsWith('|BadNet')).length, 1, 'no paper row without a paper table');
    const csv = cellsFrame(cells).toCSV().split('\n');
    assert.equal(csv[0], 'attack,defense,acc,asr,paper_acc,paper_asr,seconds,cached');
    assert.equal(csv[2], 'badnets,ft,55.1,3.25,85.82,6.53,1,false');
  });
});

describe('pbe compare end to end (mnist smoke, one worker)', function () {
  this.timeout(600_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-compare-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs every cell through the cache, writes the table, and recomputes nothing the second time', async () => {
    const cfg = { profile: resolveProfile('smoke', 'mnist'), mode: 'all2one' as const, attacks: ['badnets'], defenses: ['ft' as const], target: 0, seed: 0 };
    const opts = { cache: new Cache(dir), progress: silentSink, workers: 1, backend: pipelineBackend() };
    const first = await compare(cfg, opts);
    assert.deepEqual(
      first.cells.map((c) => `${c.attack}/${c.column}/${c.fromCache}`),
      ['badnets/before/false', 'badnets/ft/false'],
    );
    assert.equal(first.paperTable, null);
    for (const c of first.cells) assert.ok(c.acc > 50 && c.acc <= 100 && c.asr >= 0 && c.asr <= 100, JSON.stringify(c));
    assert.ok(fs.readFileSync(first.files.markdown, 'utf8').includes('|BadNet (ours)|'));
    assert.equal(fs.readFileSync(first.files.csv, 'utf8').trim().split('\n').length, 3);
    const second = await compare(cfg, opts);
    assert.deepEqual(
      second.cells.map((c) => c.fromCache),
      [true, true],
    );
    assert.deepEqual(
      second.cells.map((c) => [c.acc, c.asr]),
      first.cells.map((c) => [c.acc, c.asr]),
    );
  });
});

describe('pbe compare on a shared pool', function () {
  this.timeout(600_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-compare-pool-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('hands the pool its longest defense runs first, and leaves a pool it was given open for the next grid', async () => {
    const started: string[] = [];
    const pool = new JobPool({ workers: 1, backend: pipelineBackend(), onProgress: (job: string) => void (started.includes(job) || started.push(job)) });
    try {
      const cfg = {
        profile: resolveProfile('smoke', 'mnist'),
        mode: 'all2one' as const,
        attacks: ['badnets'],
        defenses: ['ft' as const, 'pbe-clean' as const],
        target: 0,
        seed: 0,
      };
      const opts = { cache: new Cache(dir), progress: silentSink, pool };
      const first = await compare(cfg, opts);
      // One worker runs jobs in the order they were handed over: PBE with clean data before fine-tuning, as the cost order says.
      assert.deepEqual(
        started.filter((j) => j.includes('×')),
        ['badnets × pbe-clean', 'badnets × ft'],
      );
      const second = await compare(cfg, opts);
      assert.deepEqual(
        second.cells.map((c) => [c.column, c.fromCache]),
        first.cells.map((c) => [c.column, true]),
      );
    } finally {
      await pool.close();
    }
  });
});

describe('defendOnPool: defenses side by side, then read back', function () {
  this.timeout(600_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-defendpool-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('computes the runs not yet cached on two workers, which defend then reads with the same numbers; a second call computes nothing', async () => {
    const cache = new Cache(dir);
    const base = { profile: resolveProfile('smoke', 'mnist'), attack: { name: 'badnets', mode: 'all2one' as const, target: 0 }, seed: 0 };
    const runs = [
      { cfg: { ...base, defense: 'ft', cleanData: true }, label: 'ft' },
      { cfg: { ...base, defense: 'pbe', cleanData: true }, label: 'pbe with clean data' },
    ];
    const jobs = new Set<string>();
    const opts = { cache, workers: 2, backend: pipelineBackend(), onProgress: (job: string) => void jobs.add(job) };
    assert.deepEqual(await defendOnPool(runs, opts), ['ft', 'pbe with clean data']);
    assert.ok(jobs.has('ft') && jobs.has('pbe with clean data'), [...jobs].join(', '));
    for (const r of runs) {
      const read = await defend(r.cfg, { cache, progress: silentSink });
      assert.equal(read.fromCache, true, r.label);
      assert.ok(read.after.acc > 0.5 && read.after.asr >= 0 && read.after.asr <= 1, JSON.stringify(read.after));
    }
    assert.deepEqual(await defendOnPool(runs, opts), []);
    // One more, next to the finished two: only it runs.
    const nc = { cfg: { ...base, defense: 'nc', cleanData: true }, label: 'nc' };
    assert.deepEqual(await defendOnPool([...runs, nc], { ...opts, workers: 1 }), ['nc']);
  });
});
