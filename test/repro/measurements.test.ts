import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runtimeInfo } from '../../src/backend';
import {
  checkClaims,
  incompleteBecause,
  type MeasuredRecord,
  measurements,
  measurementsMarkdown,
  NOTEBOOK_NAMES,
  readMeasurements,
  writeMeasurements,
} from '../../src/repro';
import type { DefenseTablesValues } from '../../src/repro/measure/defense-tables';
import type { FeatureDistancesValues } from '../../src/repro/measure/feature-distances';
import type { ProgressiveDefenseValues } from '../../src/repro/measure/progressive-defense';

const record = (name: (typeof NOTEBOOK_NAMES)[number], metrics: Record<string, number | null>): MeasuredRecord =>
  ({ notebook: name, parameters: {}, values: { metrics }, runtime: runtimeInfo(), writtenAt: '2026-12-02T00:00:00.000Z' }) as unknown as MeasuredRecord;

describe('docs/measurements: the machine-readable record of a complete run', () => {
  const teaching = { targetShareInfected: 0.489, targetShareBenign: 0.1 };
  const claims = checkClaims('quick', { '00-teaching': teaching });

  it('is made only from a run where every notebook of the suite ran', () => {
    const one = { notebooks: [{ name: '00-teaching' as const, seconds: 10, record: record('00-teaching', teaching) }] };
    assert.match(incompleteBecause(one) ?? '', /missing: 01-label-matrices, 02-feature-distances, .*07-defense-tables/);
    assert.throws(() => measurements({ scale: 'quick', seed: 0, wallSeconds: 10, claims, ...one }), /^Error: measurements: not every notebook ran/);
  });

  it('records each claim with its value, threshold and verdict, is written atomically and renders as Markdown', () => {
    const notebooks = NOTEBOOK_NAMES.map((name) => ({ name, seconds: 1.5, record: record(name, name === '00-teaching' ? teaching : {}) }));
    assert.equal(incompleteBecause({ notebooks }), null);
    const m = measurements({ scale: 'quick', seed: 0, wallSeconds: 12, notebooks, claims }, new Date('2026-12-02T23:00:00Z'));
    const c = m.claims.find((x) => x.id === 'teaching-target-share')!;
    assert.deepEqual([c.value, c.verdict, c.comparison, c.mustHold], [0.489, 'holds', '>=', true]);
    assert.ok(Math.abs(c.threshold - (0.4 - 2 * Math.sqrt(0.24 / 180))) < 1e-12);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-measurements-'));
    try {
      const file = path.join(dir, 'quick.json');
      writeMeasurements(file, m);
      assert.deepEqual(fs.readdirSync(dir), ['quick.json']);
      const back = readMeasurements(file);
      assert.deepEqual(back, m);
      const md = measurementsMarkdown(back, 'docs/measurements/quick.json');
      assert.match(md, /\| teaching-target-share \| Fig\. 1b \| 00-teaching \| `targetShareInfected` \| 0\.489 \| >= 0\.327 \| holds \| yes \|/);
      assert.match(md, /Run of 2026-12-02, seed 0/);
      fs.writeFileSync(file, JSON.stringify({ ...m, claims: [{ ...m.claims[0], verdict: 'maybe' }] }));
      assert.throws(
        () => readMeasurements(file),
        /quick\.json: claims\[0\]\.verdict: expected one of holds, fails, known not to hold, not measured, got "maybe"/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renders the compute behind the results, per part and in all, when the run recorded it', () => {
    const notebooks = NOTEBOOK_NAMES.map((name) => ({ name, seconds: 2, record: record(name, name === '00-teaching' ? teaching : {}) }));
    const compute = {
      cache: '/tmp/cache',
      scope: { profile: 'cpu', dataset: 'cifar10' },
      rows: [
        { part: 'training' as const, what: 'blend', entries: 10, seconds: 9000 },
        { part: 'training' as const, what: 'benign', entries: 1, seconds: 900 },
        { part: 'defenses' as const, what: 'pbe with clean data', entries: 5, seconds: 5400 },
        { part: 'observations' as const, what: 'blend', entries: 1, seconds: 7190 },
      ],
      seconds: 22490,
      first: '2026-12-03T12:35:00.000Z',
      last: '2026-12-04T09:10:00.000Z',
      unverified: [],
    };
    const md = measurementsMarkdown(measurements({ scale: 'cpu', seed: 0, wallSeconds: 18, notebooks, claims, compute }), 'docs/measurements/cpu.json');
    assert.match(md, /the 17 entries made for the `cpu` profile on cifar10, between 2026-12-03 12:35 and 2026-12-04 09:10 UTC/);
    assert.match(md, /\| training \| blend \| 10 \| 9000 \| 2 h 30 min \|/);
    assert.match(md, /\| training \| benign \| 1 \| 900 \| 15 min 00 s \|/);
    assert.match(md, /\| \*\*training\*\* \| all \| 11 \| 9900 \| 2 h 45 min \|/);
    assert.match(md, /\| \*\*defenses\*\* \| all \| 5 \| 5400 \| 1 h 30 min \|/);
    // 7,190 s is 119.8 minutes: two hours, not one hour and 60 minutes
    assert.match(md, /\| observations \| blend \| 1 \| 7190 \| 2 h 00 min \|/);
    assert.match(md, /\| \*\*total\*\* \| \| 17 \| 22490 \| 6 h 15 min \|/);
    assert.doesNotMatch(measurementsMarkdown(measurements({ scale: 'cpu', seed: 0, wallSeconds: 18, notebooks, claims }), 'x'), /Compute behind/);
  });

  it("renders the observation, PBE per iteration and the defense tables from the committed quick run's values, beside the paper's", () => {
    const m = readMeasurements(path.resolve(__dirname, '..', '..', 'docs', 'measurements', 'quick.json'));
    const md = measurementsMarkdown(m, 'docs/measurements/quick.json');
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const pair = (x: { acc: number; asr: number }) => `${x.acc.toFixed(2)} / ${x.asr.toFixed(2)}`;
    const cells = (m.notebooks['07-defense-tables'].values as DefenseTablesValues).tables['Table 1']!.cells!;
    const blend = (column: string) => cells.find((c) => c.attack === 'blend' && c.column === column)!;
    assert.match(
      md,
      new RegExp(
        `\\| Blend \\| ${esc(pair(blend('before')))} \\| ${esc(pair(blend('ft')))} \\|.* \\| ${esc(pair(blend('pbeWithClean')))} \\|\n\\| \\*paper\\* \\| \\*94\\.63 / 100\\.00\\* \\|`,
      ),
    );
    const distances = (m.notebooks['02-feature-distances'].values as FeatureDistancesValues).attacks.blend;
    assert.match(
      md,
      new RegExp(`\\| Blend \\| ${esc((100 * distances.asr).toFixed(1))}% \\| ${esc((100 * distances.targetShareInfected).toFixed(1))}% \\| .* \\| 0\\.60 \\|`),
    );
    const pbe = (m.notebooks['06-progressive-defense'].values as ProgressiveDefenseValues).withoutClean;
    assert.match(
      md,
      new RegExp(
        `\\| ${pbe.stages[1].stage} \\| ${esc((100 * pbe.stages[1].acc).toFixed(1))}% \\| ${esc((100 * pbe.stages[1].asr).toFixed(1))}% \\| ${pbe.iterations[0].extraSize} \\|`,
      ),
    );
    assert.match(md, /\*\*Table 4\*\* \(mnist all2all\): not measured: not in the quick profile/);
  });

  for (const scale of ['quick', 'cpu'] as const)
    it(`the committed ${scale} run reads (its scale, every claim) and renders to the committed ${scale}.md`, () => {
      const dir = path.resolve(__dirname, '..', '..', 'docs', 'measurements');
      const m = readMeasurements(path.join(dir, `${scale}.json`));
      assert.equal(m.scale, scale);
      assert.equal(m.claims.length, 19);
      assert.equal(measurementsMarkdown(m, `docs/measurements/${scale}.json`), fs.readFileSync(path.join(dir, `${scale}.md`), 'utf8'));
    });
});
