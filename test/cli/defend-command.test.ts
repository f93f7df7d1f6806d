import assert from 'node:assert/strict';
import { main } from '../../src/cli/main';
import { captured } from './capture';

/** `pbe defend` rejects bad usage and bad defense options before loading anything. */
describe('pbe defend usage', () => {
  it('names the option and exits 2', async () => {
    const base = ['defend', '--dataset', 'mnist', '--profile', 'smoke', '--attack', 'blend'];
    for (const [argv, message] of [
      [['defend', '--dataset', 'mnist', '--attack', 'blend'], /^pbe defend: missing --defense; expected one of pbe/],
      [[...base.slice(0, 5), '--defense', 'pbe'], /^pbe defend: missing --attack/],
      [[...base, '--defense', 'pbe', '--attack', 'nope'], /unknown --attack 'nope'/],
      [[...base, '--defense', 'pbe', '--defense-option', 'topShares=0.2,x'], /--defense-option topShares= expects numbers separated by commas, got '0\.2,x'/],
      [[...base, '--defense', 'pbe', '--defense-option', 'topShares=0.2,1.5'], /pbe\.topShares\[1\]: expected a ratio in \(0, 1\], got 1\.5/],
      [[...base, '--defense', 'pbe', '--defense-option', 'extraRatio=0'], /pbe\.extraRatio: expected a ratio in \(0, 1\], got 0/],
      [[...base, '--defense', 'pbe', '--defense-option', 'epoch=3'], /unknown option 'epoch'; valid options: extraRatio, topShares/],
    ] as const) {
      const r = await captured(() => main([...argv]));
      assert.equal(r.status, 2, argv.join(' '));
      assert.match(r.text, message);
      assert.match(r.text, /usage: pbe defend /);
    }
  });
});
