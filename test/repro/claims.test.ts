import assert from 'node:assert/strict';
import { CLAIMS, checkClaims, type Claim, threshold } from '../../paper-repro/claims';
import { injectedParameters } from '../../paper-repro/run';
import { REPRO_PROFILES } from '../../src/notebook/settings';
import { FIG1_MIN_TARGET_SHARE, FIG6_AVERAGE_PRECISION, paperCell, TABLE1, table5Cell } from '../../src/paper/numbers';

describe('paper-repro/claims', () => {
  const claim = (id: string): Claim => CLAIMS.find((c) => c.id === id)!;

  it('every claim has a rule with a reason for every profile, and a unique id', () => {
    assert.equal(new Set(CLAIMS.map((c) => c.id)).size, CLAIMS.length);
    for (const c of CLAIMS) {
      for (const p of REPRO_PROFILES) {
        const r = c.profiles[p];
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
    assert.ok(Math.abs(threshold(min, min.profiles.quick) - (0.4 - 2 * Math.sqrt(0.24 / 200))) < 1e-12);
    const at = (minTargetShare: number) => checkClaims('quick', { '01-label-matrices': { infected: { minTargetShare } } }).find((r) => r.claim.id === min.id)!;
    assert.equal(at(0.34).verdict, 'holds');
    assert.equal(at(0.33).verdict, 'fails');
    assert.equal(at(0.33).blocking, true);
    // cpu: measured not to hold (docs/measurements.md): reported as such, never blocking
    const cpu = checkClaims('cpu', { '01-label-matrices': { infected: { minTargetShare: 0.241 } } }).find((r) => r.claim.id === min.id)!;
    assert.deepEqual([cpu.verdict, cpu.blocking], ['known not to hold', false]);
    // a notebook that did not run measures nothing and blocks nothing
    const none = checkClaims('quick', {}).find((r) => r.claim.id === min.id)!;
    assert.deepEqual([none.verdict, none.blocking], ['not measured', false]);
    // strict comparisons: a ratio of exactly 1 is not "nearer"
    const ratio = checkClaims('quick', { '02-feature-distances': { attacks: { blend: { ratioInfectedF: 1 } } } }).find((r) => r.claim.id === 'table5-ratio-blend')!;
    assert.equal(ratio.verdict, 'fails');
  });

  it("checks the defense notebooks' claims against the paper's numbers, from the values the notebooks write", () => {
    const blend = paperCell(TABLE1, 'blend', 'pbeWithClean');
    assert.equal(claim('table1-blend-pbe-clean-asr').bound, blend.asr / 100);
    assert.equal(claim('table1-blend-pbe-clean-below-ft').paper.value, blend.asr - paperCell(TABLE1, 'blend', 'ft').asr);
    assert.equal(claim('fig6-ap-poisoned-rises').paper.value, FIG6_AVERAGE_PRECISION.last - FIG6_AVERAGE_PRECISION.first);
    const progressive = (first: number, apLast: number) => ({
      withoutClean: { before: { acc: 0.83, asr: 0.8 }, first: { acc: 0.77, asr: first }, last: { acc: 0.75, asr: 0.3 }, apPoisoned: { first: 0.11, last: apLast } },
      withClean: { last: { acc: 0.8, asr: 0.16 } },
    });
    const verdicts = (v: object) => Object.fromEntries(checkClaims('quick', { '06-progressive-defense': v }).filter((r) => r.claim.notebook === '06-progressive-defense').map((r) => [r.claim.id, [r.verdict, r.blocking]]));
    assert.deepEqual(verdicts(progressive(0.4, 0.09)), {
      'fig7-asr-falls-first-iteration': ['holds', false],
      'fig7-acc-recovers': ['known not to hold', false],
      'fig6-ap-poisoned-rises': ['known not to hold', false],
      'table1-blend-pbe-clean-asr': ['known not to hold', false],
    });
    // ASR not lower after the first iteration: the quick profile's must-hold claim blocks
    assert.deepEqual(verdicts(progressive(0.8, 0.2))['fig7-asr-falls-first-iteration'], ['fails', true]);
    assert.deepEqual(verdicts(progressive(0.8, 0.2))['fig6-ap-poisoned-rises'], ['holds', false]);
    // 07: cells in percent; a table not measured leaves its claims not measured
    const cells = [{ attack: 'blend', column: 'ft', acc: 83, asr: 88.9 }, { attack: 'blend', column: 'pbeWithClean', acc: 79.5, asr: 16.1 }];
    const tables = checkClaims('quick', { '07-defense-tables': { tables: { 'Table 1': { cells }, 'Table 2': { measured: false } } } });
    const at = (id: string) => tables.find((r) => r.claim.id === id)!;
    assert.ok(Math.abs(at('table1-blend-pbe-clean-below-ft').measured! - (16.1 - 88.9)) < 1e-9);
    assert.equal(at('table1-blend-pbe-clean-below-ft').verdict, 'holds');
    assert.equal(at('table2-blend-pbe-clean-below-ft').verdict, 'not measured');
    assert.equal(at('table4-blend-pbe-clean-asr').verdict, 'not measured');
  });

  it('injects parameters with widened types (an injected const would otherwise get a literal type)', () => {
    assert.equal(injectedParameters({ profile: 'cpu', seed: 3, measuredFile: '/tmp/a "b".json' }), 'const profile: string = "cpu";\nconst seed: number = 3;\nconst measuredFile: string = "/tmp/a \\"b\\".json";');
  });
});
