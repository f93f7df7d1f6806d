import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { main } from '../../src/cli/main';
import { Cache } from '../../src/cache';
import { defenderBudget } from '../../src/experiments/budget-rule';
import { silentSink } from '../../src/progress';
import { resolveProfile } from '../../src/train/profiles';
import { pipelineBackend, useBackend } from '../helpers/backend';
import { useTempCacheDir } from '../helpers/temp-cache';
import { captured } from './capture';

/** `pbe defend --budget-rule`: PBE with clean data at the budget `pbe budget` picks, on MNIST smoke in a temporary cache. */
describe('pbe defend --budget-rule', function () {
  this.timeout(240_000);
  const base = ['defend', '--dataset', 'mnist', '--profile', 'smoke', '--attack', 'blend', '--defense', 'pbe'];
  const backend = pipelineBackend();
  useBackend(backend);
  const cacheDir = useTempCacheDir('pbe-budget-rule-');

  it('refuses a budget given twice, a setting without clean data and a defense without PGD, before any work', async () => {
    for (const [argv, message] of [
      [[...base, '--budget-rule'], /--budget-rule scores the clean extra set, which the defense gets only with --clean-data/],
      [[...base, '--clean-data', '--budget-rule', '--eps', '0.1'], /--budget-rule and --eps both set PGD's ε; give one of them/],
      [[...base, '--clean-data', '--budget-rule', '--defense-option', 'pgdNorm=l2'], /--budget-rule and --defense-option pgdNorm= both set PGD's norm/],
      [[...base.slice(0, -1), 'ft', '--budget-rule'], /--budget-rule: ft has no PGD step to choose a budget for/],
    ] as const) {
      const r = await captured(() => main([...argv]));
      assert.equal(r.status, 2, `${argv.join(' ')}\n${r.text}`);
      assert.match(r.text, message);
    }
    assert.deepEqual(fs.readdirSync(cacheDir()), [], 'nothing was trained or written');
  });

  it("runs PBE at the rule's choice for the model, under the cache entry of the same budget given by hand", async () => {
    const ruled = await captured(() => main([...base, '--clean-data', '--budget-rule', '--backend', backend]));
    assert.equal(ruled.status, 0, ruled.text);
    const rule = await defenderBudget(
      { profile: resolveProfile('smoke', 'mnist'), attack: { name: 'blend', mode: 'all2one', target: 0 }, seed: 0 },
      { cache: new Cache(cacheDir()), progress: silentSink },
    );
    assert.equal(rule.fromCache, true, 'the rule ran on the defense’s own config: same profile, attack, seed and clean set');
    assert.ok(rule.chosen, 'the rule chose a budget');
    assert.match(ruled.text, new RegExp(`budget rule on blend: ${rule.chosen.norm === 'linf' ? 'L∞' : 'L2'} `));

    const reportFile = /defense \d+ s; report (\S+)/.exec(ruled.text)![1];
    const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as { defense: { pgd: { norm: string; eps: number } } };
    assert.deepEqual([report.defense.pgd.norm, report.defense.pgd.eps], [rule.chosen.norm, rule.chosen.eps]);

    const byHand = await captured(() => main([...base, '--clean-data', '--norm', rule.chosen!.norm, '--eps', String(rule.chosen!.eps), '--backend', backend]));
    assert.equal(byHand.status, 0, byHand.text);
    assert.match(byHand.text, /\[from cache\]/);
  });
});
