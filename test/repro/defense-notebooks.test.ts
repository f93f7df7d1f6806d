import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Cache } from '../../src/cache';
import { type CliCommand, defineCommand, toCommander } from '../../src/cli/command';
import { compareCommand, compareConfigFrom } from '../../src/cli/commands/compare';
import { defend as defendCommand, defendConfigs } from '../../src/cli/commands/defend';
import type { OptTable } from '../../src/cli/options';
import { cellConfig, type CompareCell, compareSpec } from '../../src/experiments/compare';
import { defendKey, type DefendResult } from '../../src/experiments/defend';
import { iterationFrame } from '../../src/notebook';
import {
  defenseTable,
  defenseTableConfig,
  defenseTableMetrics,
  defenseTableReading,
  defenseTableValues,
  lowestAsr,
  progressiveDefendConfig,
  progressiveSummary,
  reproSettings,
} from '../../src/repro';
import { PBE_DEFAULTS, PGD_BUDGET_DEFAULT, pgdConfigOf, resolveDefensePgd } from '../../src/defenses';
import { TABLE1 } from '../../src/paper/numbers';
import { silentSink } from '../../src/progress';

/** What a command's `run` would receive for this command line, handed to `build` instead of running. */
async function parsed<O extends OptTable, T>(command: CliCommand<O>, argv: string[], build: (o: Parameters<CliCommand<O>['run']>[0]) => T): Promise<T> {
  let out: T | undefined;
  const probe = defineCommand({ ...command, run: async (o) => ((out = build(o)), 0) });
  await toCommander(probe as unknown as CliCommand, () => {}).parseAsync(argv, { from: 'user' });
  return out!;
}

const defendCli = (argv: string) => parsed(defendCommand, argv.split(' '), defendConfigs);
const compareCli = (argv: string) => parsed(compareCommand, argv.split(' '), compareConfigFrom);

/** Sets environment variables for the length of `fn`, then puts back what was there. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (v: Record<string, string | undefined>) =>
    Object.entries(v).forEach(([k, x]) => (x === undefined ? delete process.env[k] : (process.env[k] = x)));
  set(vars);
  try {
    return await fn();
  } finally {
    set(saved);
  }
}

describe('the defense notebooks read what the commands cache', () => {
  let dir: string;
  let archive: string;
  let link: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-nbdef-'));
    // Keys never read the archive: an empty stand-in and a symlink to it are enough.
    archive = path.join(dir, 'cifar-10-binary.tar.gz');
    fs.writeFileSync(archive, '');
    link = path.join(dir, 'link.tar.gz');
    fs.symlinkSync(archive, link);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("06 at cpu builds the config of `pbe defend --defense pbe --attack blend --dataset cifar10 --profile cpu [--clean-data]`, whatever way the data's path is given", async () => {
    const s = reproSettings('cpu');
    await withEnv({ PBE_CIFAR10_PATH: link }, async () => {
      for (const clean of [false, true]) {
        const [cli] = await defendCli(`--defense pbe --attack blend --dataset cifar10 --profile cpu --path ${archive}${clean ? ' --clean-data' : ''}`);
        const notebook = progressiveDefendConfig(s, clean, 0);
        assert.equal(defendKey(notebook), defendKey(cli), `clean data ${clean}`);
        // and the same cell of Table 1 (`pbe compare` gives no attack options: {} is the same request)
        const t1 = defenseTableConfig(
          s.defense.tables.find((t) => t.table === 'Table 1')!,
          s,
          0,
        );
        assert.equal(defendKey(cellConfig(t1, 'blend', clean ? 'pbe-clean' : 'pbe')), defendKey(cli));
      }
      const [ft] = await defendCli(`--defense ft --attack blend --dataset cifar10 --profile cpu --path ${archive}`);
      const t1 = defenseTableConfig(
        s.defense.tables.find((t) => t.table === 'Table 1')!,
        s,
        0,
      );
      assert.equal(defendKey(cellConfig(t1, 'blend', 'ft')), defendKey(ft));
    });
    // Anything that changes the run changes the key: another seed, another budget, another data location.
    const base = progressiveDefendConfig(s, false, 0);
    assert.notEqual(defendKey({ ...base, seed: 1 }), defendKey(base));
    assert.notEqual(defendKey({ ...base, pgd: { eps: 8 / 255 } }), defendKey(base));
    assert.notEqual(defendKey({ ...base, dataPath: archive }), defendKey({ ...base, dataPath: path.join(dir, 'elsewhere.tar.gz') }));
    // Options and budget fields spelled out at their defaults are the defaults.
    assert.equal(defendKey({ ...base, options: { epochsFirst: PBE_DEFAULTS.epochsFirst }, pgd: { eps: PGD_BUDGET_DEFAULT.eps } }), defendKey(base));
  });

  it('07 at cpu builds the configs of `pbe compare --dataset cifar10 --mode all2one|all2all [--attacks blend] --profile cpu`', async () => {
    const s = reproSettings('cpu');
    const table = (id: string) =>
      defenseTableConfig(
        s.defense.tables.find((t) => t.table === id)!,
        s,
        0,
      );
    const strip = (c: object) => JSON.parse(JSON.stringify(c));
    assert.deepEqual(strip(table('Table 1')), strip(await compareCli('--dataset cifar10 --mode all2one --profile cpu')));
    assert.deepEqual(strip(table('Table 4')), strip(await compareCli('--dataset cifar10 --mode all2all --attacks blend --profile cpu')));
    assert.deepEqual(strip(table('Table 2')), strip(await compareCli('--dataset gtsrb --profile cpu')));
  });

  it("at quick, PBE's PGD is the scale's: the budget of the observation notebooks, with the reference's step ε/5 and 7 iterations", () => {
    const s = reproSettings('quick');
    const budget = resolveDefensePgd({ name: 'pbe', pgd: progressiveDefendConfig(s, false, 0).pgd })!;
    assert.equal(budget.eps, s.pgd.eps);
    assert.ok(Math.abs(s.pgd.step - pgdConfigOf(budget).step) < 1e-12);
    assert.equal(s.pgd.iterations, budget.iterations);
    assert.deepEqual(reproSettings('cpu').defense.options, {});
    assert.deepEqual(reproSettings('cpu').defense.pgd, {});
  });
});

/** A finished setting-B run as `defend` reports it, by hand: infected, then two iterations. */
function fakeRun(): DefendResult {
  return {
    config: { defense: 'pbe' },
    stages: [
      { stage: 'infected', acc: 0.8, asr: 0.9 },
      { stage: 'iteration 1', acc: 0.6, asr: 0.3 },
      { stage: 'iteration 2', acc: 0.7, asr: 0.2 },
    ],
    analysis: {
      rows: [
        { iteration: 1, extraSize: 10, poisonRate: 0.1, adversarialTargetShare: 0.4, apClean: 0.95, apPoisoned: 0.2 },
        { iteration: 2, extraSize: 20, poisonRate: 0.05, adversarialTargetShare: 0.1, apClean: 0.97, apPoisoned: 0.5 },
      ],
      details: { poisonedShare: 0.1, curves: [] },
    },
  } as unknown as DefendResult;
}

const cell = (attack: string, column: CompareCell['column'], acc: number, asr: number, paper: CompareCell['paper'] = null): CompareCell => ({
  attack,
  column,
  acc,
  asr,
  paper,
  seconds: 1,
  fromCache: true,
});

describe('defense notebook helpers', () => {
  it('reads Fig. 6 and 7 from a defend run: before, first and last iteration, AP first and last', () => {
    const r = progressiveSummary(fakeRun());
    assert.deepEqual(r, {
      iterations: 2,
      before: { acc: 0.8, asr: 0.9 },
      first: { acc: 0.6, asr: 0.3 },
      last: { acc: 0.7, asr: 0.2 },
      apPoisoned: { first: 0.2, last: 0.5 },
      apClean: { first: 0.95, last: 0.97 },
      poisonedShare: 0.1,
    });
    const frame = iterationFrame(fakeRun()).objects() as Record<string, unknown>[];
    assert.deepEqual(
      frame.map((f) => [f.stage, f.ASR, f['extra set'], f['AP poisoned']]),
      [
        ['infected', 0.9, null, null],
        ['iteration 1', 0.3, 10, 0.2],
        ['iteration 2', 0.2, 20, 0.5],
      ],
    );
    assert.throws(() => progressiveSummary({ ...fakeRun(), stages: fakeRun().stages.slice(0, 1) }), /pbe: no iteration was measured/);
  });

  it("finds the defense that leaves the lowest ASR, ours and the paper's, and says so beside PBE with clean data", () => {
    const t1 = TABLE1.cells.blend;
    const cells = [
      cell('blend', 'before', 84, 88.9, t1.before!),
      cell('blend', 'ft', 84, 90, t1.ft!),
      cell('blend', 'nc', 83, 35.6, t1.nc!),
      cell('blend', 'pbeWithClean', 79.5, 16.1, t1.pbeWithClean!),
    ];
    assert.deepEqual(lowestAsr(cells, 'blend'), { ours: { column: 'pbeWithClean', asr: 16.1 }, paper: { column: 'nc', asr: 0.63 } });
    const reading = defenseTableReading({
      table: 'Table 1',
      dataset: 'mnist',
      mode: 'all2one',
      notMeasured: null,
      result: { config: { attacks: ['blend'] }, cells, seconds: 3 } as never,
      cells,
      paperNote: "mnist stands in for cifar10: the paper's numbers are Table 1's",
      spec: null,
    });
    assert.match(
      reading,
      /Blend: ASR 88\.9% before; lowest after PBE w\/ clean \(16\.1%\), the paper's lowest after NC \(0\.63%\); PBE with clean data 16\.1% \(paper 0\.93%\), ACC 79\.5% \(paper 93\.98%\)/,
    );
    assert.match(reading, /mnist stands in for cifar10/);
  });

  it("draws ours beside the paper's: one bar per cell, metric and source", () => {
    const spec = compareSpec(
      [cell('blend', 'before', 84, 88.9, { acc: 94.63, asr: 100 }), cell('blend', 'ft', 84, 90)],
      ['blend'],
      ['before', 'ft'],
      't',
    ) as unknown as { data: { values: { source: string; metric: string; defense: string; value: number }[] } };
    const v = spec.data.values;
    assert.equal(v.length, 6);
    assert.deepEqual(
      v.filter((x) => x.source === 'paper').map((x) => `${x.defense} ${x.metric} ${x.value}`),
      ['before ACC 94.63', 'before ASR 100'],
    );
  });
});

describe('07: a table measured, skipped, or without its dataset (mnist smoke, one worker)', function () {
  this.timeout(600_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-table-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("measures a table through compare with the paper's numbers of the table it stands for, and records what it could not measure", async () => {
    const s = reproSettings('quick');
    const opts = { cache: new Cache(dir), progress: silentSink, workers: 1, backend: 'wasm' };
    const small = { ...s.defense.tables[0], attacks: ['badnets'], defenses: ['ft' as const] };
    const run = await defenseTable(small, s, 0, opts);
    assert.equal(run.notMeasured, null);
    assert.deepEqual(
      run.cells.map((c) => [c.column, c.paper]),
      [
        ['before', TABLE1.cells.badnets.before],
        ['ft', TABLE1.cells.badnets.ft],
      ],
    );
    assert.equal(run.result?.paperTable, null, 'compare itself has no paper table for mnist');
    assert.match(run.paperNote ?? '', /mnist stands in for cifar10/);
    assert.ok(fs.existsSync(run.result!.figures['defense-table']));
    // what 07 writes for the claims, from this real run: fractions of the measured cells; null where a column did not run
    const metrics = defenseTableMetrics([defenseTableValues(run)]);
    assert.equal(metrics['table1.badnets.pbeCleanAsr'], null);
    assert.equal(metrics['table1.badnets.pbeCleanMinusFtAsr'], null);
    const skipped = await defenseTable(
      s.defense.tables.find((t) => t.table === 'Table 4')!,
      s,
      0,
      opts,
    );
    assert.match(skipped.notMeasured ?? '', /^not in the quick profile: the all-to-all Blend backdoor is not learned/);
    const cpu = reproSettings('cpu');
    const gtsrb = await withEnv({ PBE_GTSRB_PATH: undefined }, () =>
      defenseTable(
        cpu.defense.tables.find((t) => t.table === 'Table 2')!,
        cpu,
        0,
        opts,
      ),
    );
    assert.match(gtsrb.notMeasured ?? '', /^gtsrb is not on this machine \(set PBE_GTSRB_PATH/);
    assert.match(defenseTableReading(gtsrb), /^\*\*Table 2\*\* \(gtsrb, all2one\): not measured: gtsrb is not on this machine/);
  });
});
