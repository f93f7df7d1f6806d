import assert from 'node:assert/strict';
import { injectedParameters } from '../../paper-repro/run';
import { type AnyClaim, CLAIMS, checkClaims, REPRO_SCALES, threshold } from '../../src/repro';
import { FIG1_MIN_TARGET_SHARE, FIG6_AVERAGE_PRECISION, paperCell, TABLE1, TABLE4, table5Cell } from '../../src/paper/numbers';
import { defenseTableMetrics } from '../../src/repro';

const cell = (attack: string, column: 'ft' | 'pbeWithClean', acc: number, asr: number) => ({ attack, column, acc, asr, paper: null, fromCache: true });

describe('the claims and the verdict engine', () => {
  const claim = (id: string): AnyClaim => CLAIMS.find((c) => c.id === id)!;

  it('every claim has a rule with a reason for every scale, and a unique id', () => {
    assert.equal(new Set(CLAIMS.map((c) => c.id)).size, CLAIMS.length);
    for (const c of CLAIMS) {
      for (const p of REPRO_SCALES) {
        const r = c.scales[p];
        assert.ok(r.reason.length > 10, `${c.id}/${p}: a one-line reason`);
        assert.ok(r.tolerance >= 0, `${c.id}/${p}: tolerance ≥ 0`);
        // A claim known not to hold at a scale cannot also be required there.
        assert.ok(!(r.mustHold && r.knownNotToHold), `${c.id}/${p}: must hold and known not to hold`);
      }
    }
  });

  it("reads the paper's numbers from src/paper/numbers.ts", () => {
    assert.equal(claim('fig1b-min-target-share').bound, FIG1_MIN_TARGET_SHARE.value);
    assert.equal(claim('table5-ratio-blend').paper.value, table5Cell('blend').ratio);
  });

  it('moves the bound by the tolerance against the claim, and decides the verdicts', () => {
    const min = claim('fig1b-min-target-share');
    // quick: 2 standard errors of a share of 0.4 over 200 images = 2·√(0.24/200) = 0.0693
    assert.ok(Math.abs(threshold(min, min.scales.quick) - (0.4 - 2 * Math.sqrt(0.24 / 200))) < 1e-12);
    const matrices = (minTargetShare: number) => ({
      '01-label-matrices': { benignWrongClassEntropy: 0.9, minTargetShare, meanTargetShare: 0.5, allToAllMeanTargetShare: 0.2 },
    });
    const at = (minTargetShare: number) => checkClaims('quick', matrices(minTargetShare)).find((r) => r.claim.id === min.id)!;
    assert.equal(at(0.34).verdict, 'holds');
    assert.equal(at(0.33).verdict, 'fails');
    assert.equal(at(0.33).blocking, true);
    // cpu: measured not to hold (docs/measurements.md): reported as such, never blocking
    const cpu = checkClaims('cpu', matrices(0.241)).find((r) => r.claim.id === min.id)!;
    assert.deepEqual([cpu.verdict, cpu.blocking], ['known not to hold', false]);
    // a notebook that did not run measures nothing and blocks nothing
    const none = checkClaims('quick', {}).find((r) => r.claim.id === min.id)!;
    assert.deepEqual([none.verdict, none.blocking], ['not measured', false]);
    // strict comparisons: a ratio of exactly 1 is not "nearer"
    const distances = {
      'ratioInfectedF.badnets': 1.1,
      'ratioInfectedF.blend': 1,
      'ratioInfectedF.sig': null,
      'ratioInfectedF.dynamic': null,
      'ratioInfectedF.wanet': null,
    };
    const ratio = checkClaims('quick', { '02-feature-distances': distances }).filter((r) => r.claim.notebook === '02-feature-distances');
    assert.equal(ratio.find((r) => r.claim.id === 'table5-ratio-blend')!.verdict, 'fails');
    // an attack the scale does not measure: null, not measured
    assert.equal(ratio.find((r) => r.claim.id === 'table5-ratio-wanet')!.verdict, 'not measured');
    // a notebook that ran without writing a claimed metric breaks the contract: an error naming both
    assert.throws(
      () => checkClaims('quick', { '01-label-matrices': { minTargetShare: 0.5 } }),
      /claim fig1b-mean-target-share reads metric 'meanTargetShare', which 01-label-matrices did not write/,
    );
  });

  it("checks the defense notebooks' claims against the paper's numbers, from the values the notebooks write", () => {
    const blend = paperCell(TABLE1, 'blend', 'pbeWithClean');
    assert.equal(claim('table1-blend-pbe-clean-asr').bound, blend.asr / 100);
    // one unit: the paper's percentages as fractions
    assert.equal(claim('table1-blend-pbe-clean-below-ft').paper.value, (blend.asr - paperCell(TABLE1, 'blend', 'ft').asr) / 100);
    assert.equal(claim('table4-blend-pbe-clean-asr').bound, paperCell(TABLE4, 'blend', 'pbeWithClean').asr / 100);
    assert.equal(claim('fig6-ap-poisoned-rises').paper.value, FIG6_AVERAGE_PRECISION.last - FIG6_AVERAGE_PRECISION.first);
    const progressive = (first: number, apLast: number) => ({
      asrFirstOverBefore: first / 0.8,
      accLastMinusFirst: 0.75 - 0.77,
      apPoisonedLastMinusFirst: apLast - 0.11,
      withCleanAsr: 0.16,
    });
    const verdicts = (v: Record<string, number | null>) =>
      Object.fromEntries(
        checkClaims('quick', { '06-progressive-defense': v })
          .filter((r) => r.claim.notebook === '06-progressive-defense')
          .map((r) => [r.claim.id, [r.verdict, r.blocking]]),
      );
    assert.deepEqual(verdicts(progressive(0.4, 0.09)), {
      'fig7-asr-falls-first-iteration': ['holds', false],
      'fig7-acc-recovers': ['known not to hold', false],
      'fig6-ap-poisoned-rises': ['known not to hold', false],
      'table1-blend-pbe-clean-asr': ['known not to hold', false],
    });
    // ASR not lower after the first iteration: the quick scale's must-hold claim blocks
    assert.deepEqual(verdicts(progressive(0.8, 0.2))['fig7-asr-falls-first-iteration'], ['fails', true]);
    assert.deepEqual(verdicts(progressive(0.8, 0.2))['fig6-ap-poisoned-rises'], ['holds', false]);
    // 07: cells in percent, metrics in fractions; a table not measured leaves its claims not measured
    const cells = [cell('blend', 'ft', 83, 88.9), cell('blend', 'pbeWithClean', 79.5, 16.1)];
    const table = (name: 'Table 1' | 'Table 2' | 'Table 4', measured: boolean) => ({
      table: name,
      dataset: 'mnist',
      mode: 'all2one',
      measured,
      notMeasured: measured ? null : 'skipped',
      paperNote: null,
      ...(measured ? { cells } : {}),
    });
    const metrics = defenseTableMetrics([table('Table 1', true), table('Table 2', false), table('Table 4', false)]);
    assert.ok(Math.abs(metrics['table1.blend.pbeCleanAsr']! - 0.161) < 1e-12);
    assert.equal(metrics['table1.badnets.pbeCleanMinusFtAsr'], null);
    const tables = checkClaims('quick', { '07-defense-tables': metrics });
    const at = (id: string) => tables.find((r) => r.claim.id === id)!;
    assert.ok(Math.abs(at('table1-blend-pbe-clean-below-ft').measured! - (16.1 - 88.9) / 100) < 1e-12);
    assert.equal(at('table1-blend-pbe-clean-below-ft').verdict, 'holds');
    assert.equal(at('table2-blend-pbe-clean-below-ft').verdict, 'not measured');
    assert.equal(at('table4-blend-pbe-clean-asr').verdict, 'not measured');
  });

  it('injects parameters with widened types (an injected const would otherwise get a literal type)', () => {
    assert.equal(
      injectedParameters({ scale: 'cpu', seed: 3, measuredFile: '/tmp/a "b".json' }),
      'const scale: string = "cpu";\nconst seed: number = 3;\nconst measuredFile: string = "/tmp/a \\"b\\".json";',
    );
  });
});
