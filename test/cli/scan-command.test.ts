import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../src/cli/main';
import { captured } from './capture';

describe('pbe scan and pbe scan-eval: bad options stop before any work', () => {
  let cache: string;
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.PBE_CACHE_DIR;
    cache = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-scan-cli-'));
    process.env.PBE_CACHE_DIR = cache;
  });
  afterEach(() => {
    process.env.PBE_CACHE_DIR = saved;
    fs.rmSync(cache, { recursive: true, force: true });
  });

  const mnist = ['--dataset', 'mnist', '--profile', 'smoke'];
  const cases: [string[], RegExp][] = [
    [['scan', ...mnist], /^pbe scan: give one model: --attack A \(an infected model\), --benign or --checkpoint DIR$/m],
    [['scan', ...mnist, '--benign', '--attack', 'blend'], /give one model: .*; got --attack and --benign/],
    [['scan', ...mnist, '--benign', '--images', '0'], /^pbe scan: --images expects an integer ≥ 1, got '0'/m],
    [['scan', ...mnist, '--benign', '--eps', '0'], /^pbe scan: --eps expects ε > 0/m],
    [['scan', ...mnist, '--benign', '--norm', 'l3'], /^pbe scan: unknown --norm 'l3'; expected one of linf, l2/m],
    [['scan', ...mnist, '--benign', '--threshold', '0'], /^pbe scan: --threshold expects a number > 0, got 0/m],
    [['scan', ...mnist, '--attack', 'blend', '--mode', 'all2all', '--target', '2'], /--target is the label of all-to-one/],
    [['scan', '--checkpoint', '/nonexistent-folder'], /--checkpoint \/nonexistent-folder: no record\.json there/],
    [['scan-eval', ...mnist, '--attacks', 'blend'], /^pbe scan-eval: missing --seeds \(or --checkpoints\)/m],
    [['scan-eval', ...mnist, '--seeds', '0'], /a ROC curve needs infected models/],
    [['scan-eval', ...mnist, '--seeds', '0', '--attacks', 'nope'], /--attacks: unknown attack 'nope'/],
    [['scan-eval', '--checkpoints', '/nonexistent-folder'], /--checkpoints: \/nonexistent-folder holds no record\.json/],
  ];
  for (const [argv, message] of cases) {
    it(argv.join(' '), async () => {
      const { status, text } = await captured(() => main(argv));
      assert.equal(status, 2, text);
      assert.match(text, message);
      assert.deepEqual(fs.readdirSync(cache), [], 'nothing written to the cache');
    });
  }
});
