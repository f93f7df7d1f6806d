import assert from 'node:assert/strict';
import { main } from '../../src/cli/main';
import { COMMANDS } from '../../src/cli/commands';
import { captured } from './capture';

/** What `pbe` prints and returns for help and bad usage; nothing here trains or loads data. */
describe('pbe usage and errors', () => {
  it('--help lists every command and exits 0; no command prints the same to stderr and exits 2', async () => {
    const help = await captured(() => main(['--help']));
    assert.equal(help.status, 0);
    for (const c of COMMANDS) assert.match(help.text, new RegExp(`^  ${c.name} `, 'm'));
    const none = await captured(() => main([]));
    assert.equal(none.status, 2);
    assert.match(none.text, /Commands:/);
  });

  it('per-command --help shows each option once, with its choices and default', async () => {
    const { status, text } = await captured(() => main(['observe', '--help']));
    assert.equal(status, 0);
    assert.match(text, /--profile <name> .*\(choices: "smoke", "cpu", "paper",\s+default: "cpu"\)/s);
    assert.match(text, /--norm <name>\s+PGD norm \(default linf\)/s);
    assert.equal(text.match(/--dataset </g)?.length, 1);
  });

  it('bad usage names the command and the option, and exits 2', async () => {
    for (const [argv, message] of [
      [['nope'], /^pbe: unknown command 'nope'/],
      [['train'], /^pbe train: missing --dataset; expected one of mnist, cifar10, gtsrb, tiny-imagenet/],
      [['train', '--dataset', 'mnist', '--profile', 'huge'], /^pbe train: unknown --profile 'huge'; expected one of smoke, cpu, paper/],
      [['train', '--dataset', 'mnist', '--seed', '1,x'], /^pbe train: --seed expects integers ≥ 0 separated by commas, got '1,x'/],
      [['train', '--dataset', 'mnist', '--frobnicate'], /^pbe train: unknown option '--frobnicate'/],
      [['observe', '--dataset', 'mnist', '--attack', 'blend', '--option', 'alpha'], /^pbe observe: --option expects key=value, got 'alpha'/],
      [
        ['attack', '--dataset', 'mnist', '--attack', 'blend', '--stamp', 'sideways'],
        /^pbe attack: unknown --stamp 'sideways'; expected one of after-augment, before-augment/,
      ],
      [['data', 'mnist', 'extra'], /^pbe data: unexpected argument 'extra'/],
      [['data'], /^pbe data: missing dataset; expected one of/],
      [['theorem1', '--lr', '-1'], /^pbe theorem1: --lr expects a number ≥ 0, got '-1'/],
    ] as const) {
      const r = await captured(() => main([...argv]));
      assert.equal(r.status, 2, argv.join(' '));
      assert.match(r.text, message);
      if (argv[0] !== 'nope') assert.match(r.text, new RegExp(`usage: pbe ${argv[0]} `));
    }
  });
});
