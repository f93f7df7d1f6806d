// npm test's mocha configuration: .mocharc.json's, with every test file outside test/interop/ as
// the spec, the slowest first. Mocha hands the files to its two workers in this order, so a slow
// file left near the end of the alphabet would run alone while the other worker sat idle. Kept out
// of .mocharc.json because mocha adds a config's spec to the files named on the command line:
// `npx mocha test/attacks/pgd.test.ts` would run the whole suite.
const fs = require('node:fs');
const path = require('node:path');

/**
 * The files that take longest, before-all hooks (fixture training) included, slowest first: timed
 * per file with two workers on 3 Dec. Only an order: a file left out still runs, after these.
 */
const SLOW_FIRST = [
  'test/attacks/dynamic.test.ts',
  'test/analysis/scan.test.ts',
  'test/analysis/budget-sweep.test.ts',
  'test/train/architectures.test.ts',
  'test/repro/run-options.test.ts',
  'test/backend/native.test.ts',
  'test/jobs/pool.test.ts',
  'test/defenses/baselines.test.ts',
  'test/data/cifar10-real.test.ts',
  'test/package-entry.test.ts',
  'test/defenses/compare.test.ts',
  'test/repro/defense-notebooks.test.ts',
  'test/cli/pgd-command.test.ts',
  'test/repro/kernel.test.ts',
  'test/experiments/observation-epochs.test.ts',
  'test/experiments/scan-eval-pool.test.ts',
  'test/experiments/observation-models.test.ts',
  'test/attacks/train-infected.test.ts',
  'test/attacks/stamping.test.ts',
  'test/train/trainer-hooks.test.ts',
  'test/defenses/pbe.test.ts',
  'test/attacks/dynamic-resume.test.ts',
  'test/models/smallcnn.test.ts',
  'test/defenses/pgd-budget-rule.test.ts',
  'test/analysis/feature-distance.test.ts',
];

const files = fs
  .readdirSync(__dirname, { recursive: true })
  .map((f) => path.posix.join('test', f.split(path.sep).join('/')))
  .filter((f) => f.endsWith('.test.ts') && !f.startsWith('test/interop/'))
  .sort();
const stale = SLOW_FIRST.filter((f) => !files.includes(f));
if (stale.length > 0) throw new Error(`test/suite.mocharc.js: SLOW_FIRST names ${stale.join(', ')}, which is not a test file under test/`);

module.exports = { ...require('../.mocharc.json'), spec: [...SLOW_FIRST, ...files.filter((f) => !SLOW_FIRST.includes(f))] };
