import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** `npm run repro` refuses bad options before Jupyter starts, exiting 2 with its usage. */
describe('npm run repro options', () => {
  for (const [args, message] of [
    [['--only', ''], /^repro: --only: expected notebook names separated by commas, got ''; leave --only out to run them all/],
    [['--out', '/proc/pbe-x'], /^repro: --out: cannot write \/proc\/pbe-x: no file can be created in \/proc/],
    [['--scale', 'fast'], /^repro: --scale: expected one of quick, cpu, paper, got 'fast'/],
    // --profile is the older name of --scale: still read, with a one-line note
    [
      ['--profile', 'fast'],
      /^repro: --profile is now --scale \(the suite scale\); reading it as --scale\nrepro: --scale: expected one of quick, cpu, paper, got 'fast'/,
    ],
    [['--profile', 'cpu', '--scale', 'cpu'], /^repro: --profile: is the older name for --scale; give one of them/],
  ] as const) {
    it(`${args.join(' ')}`, () => {
      const r = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'paper-repro', 'run.ts'), ...args], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /npm run repro -- \[--scale/);
    });
  }
});
