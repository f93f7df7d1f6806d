import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pgdConfigOf } from '../../src/defenses/pgd-budget';
import { pgdProvenance, resolveDefensePgd } from '../../src/defenses/registry';
import { toCommander } from '../../src/cli/command';
import { defend, defendConfigs } from '../../src/cli/commands/defend';
import { main } from '../../src/cli/main';
import { captured } from './capture';

/** The files under a folder, relative to it: what a command left in its cache. */
function contents(dir: string): string[] {
  return fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).sort() : [];
}

/** The defend configs of a command line, parsed as `pbe defend` parses it, without running anything. */
async function configsOf(argv: string[]): Promise<ReturnType<typeof defendConfigs>> {
  let cfgs: ReturnType<typeof defendConfigs> | null = null;
  const cmd = toCommander({ ...defend, run: async (o) => ((cfgs = defendConfigs(o)), 0) } as typeof defend, () => {});
  await cmd.exitOverride().parseAsync(argv, { from: 'user' });
  return cfgs!;
}

describe('command-line validation, before any work', () => {
  let cache: string;
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.PBE_CACHE_DIR;
    cache = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-validation-'));
    process.env.PBE_CACHE_DIR = cache;
  });
  afterEach(() => {
    process.env.PBE_CACHE_DIR = saved;
    fs.rmSync(cache, { recursive: true, force: true });
  });

  const mnist = ['--dataset', 'mnist', '--profile', 'smoke'];
  const def = ['defend', ...mnist, '--attack', 'blend'];
  const cases: [string[], RegExp][] = [
    [[...def, '--defense', 'pbe', '--clean-data', '--clean-ratio', '2'], /^pbe defend: --clean-ratio expects a share of the training set in \(0, 1\], got 2$/m],
    [[...def, '--defense', 'pbe', '--clean-data', '--clean-ratio', '0'], /--clean-ratio expects a share of the training set in \(0, 1\], got 0/],
    [[...def, '--defense', 'pbe', '--clean-ratio', '0.1'], /--clean-ratio sizes the clean extra set, which pbe does not get here: add --clean-data/],
    [[...def, '--defense', 'pbe', '--clean-size', '50'], /--clean-size sizes the clean extra set, which pbe does not get here: add --clean-data/],
    [
      [...def, '--defense', 'pbe', '--clean-data', '--clean-ratio', '0.1', '--clean-size', '50'],
      /--clean-ratio and --clean-size both size the clean extra set; give one of them/,
    ],
    [
      [...def, '--defense', 'pbe', '--clean-data', '--clean-size', '100000'],
      /--clean-size 100000: profile smoke trains on 600 mnist images, of which 540 are unpoisoned/,
    ],
    [[...def, '--defense', 'pbe', '--target', '10'], /--target expects a label of mnist, 0 to 9, got 10/],
    [
      [...def, '--defense', 'pbe', '--mode', 'all2all', '--target', '3'],
      /--target is the label of all-to-one; --mode all2all relabels y → y\+1 and takes none/,
    ],
    [[...def, '--defense', 'ft', '--eps', '0.3'], /--eps: ft has no PGD step \(the PGD flags apply to pbe\)/],
    [[...def, '--defense', 'ft', '--no-adversarial'], /--no-adversarial: ft has no adversarial step to leave out/],
    [[...def, '--defense', 'pbe', '--eps', '0'], /--eps expects ε > 0/],
    [[...def, '--defense', 'pbe', '--eps', '1e9'], /--eps expects an L∞ ε < 1 \(pixels lie in \[0, 1\]/],
    [[...def, '--defense', 'pbe', '--defense-option', 'pgdEps=0'], /--defense-option pgdEps=0 \(with linf\) expects ε > 0/],
    [[...def, '--defense', 'pbe', '--norm', 'l2', '--eps', '40'], /--eps expects an L2 ε < 28\.0 \(the diagonal of mnist's 28×28×1 images/],
    [[...def, '--defense', 'pbe', '--defense-option', 'pgdEps=0.1', '--eps', '0.2'], /--eps and --defense-option pgdEps= both set PGD's ε; give one of them/],
    [[...def, '--defense', 'pbe', '--defense-option', 'adversarial=true', '--no-adversarial'], /--no-adversarial and --defense-option adversarial= both set/],
    [['observe', ...mnist, '--attack', 'blend', '--targets', '0,10'], /^pbe observe: --targets expects a label of mnist, 0 to 9, got 10/m],
    [['observe', ...mnist, '--attack', 'blend', '--mode', 'all2all', '--targets', '1'], /--targets are labels of all-to-one/],
    [['observe', ...mnist, '--attack', 'blend', '--eps', '0'], /^pbe observe: --eps expects ε > 0/m],
    [['compare', ...mnist, '--target', '10'], /^pbe compare: --target expects a label of mnist, 0 to 9, got 10/m],
    [['attack', ...mnist, '--attack', 'blend', '--ratio', '1.5'], /^pbe attack: --ratio expects a share of the training set in \(0, 1\), got 1\.5/m],
    [['attack', ...mnist, '--attack', 'blend', '--ratio', '0'], /--ratio expects a share of the training set in \(0, 1\), got 0/],
    [['attack', ...mnist, '--attack', 'blend', '--target', '10'], /^pbe attack: --target expects a label of mnist/m],
    [['pgd', ...mnist, '--eps', '1e9'], /^pbe pgd: --eps expects an L∞ ε < 1/m],
    [['pgd', ...mnist, '--fgsm', '--random-start'], /--fgsm starts from the clean image; drop --random-start/],
    [['theorem1', '--target', '10'], /^pbe theorem1: --target expects a label of mnist, 0 to 9, got 10/m],
  ];
  for (const [argv, message] of cases) {
    it(`${argv.slice(5).join(' ')} (${argv[0]})`, async () => {
      const r = await captured(() => main([...argv]));
      assert.equal(r.status, 2, r.text);
      assert.match(r.text, message);
      assert.doesNotMatch(r.text, /\n\s+at /, 'no stack trace');
      // Nothing trained, measured or stored: the cache holds no model, run, lock or result.
      assert.deepEqual(
        contents(cache).filter((f) => /^(models|runs|locks|defenses|observations|results)\b/.test(f)),
        [],
      );
    });
  }

  it('checks --out and the cache folder can be written before any work: a file on the path, /proc, a read-only place', async () => {
    const file = path.join(cache, 'a-file');
    fs.writeFileSync(file, 'x');
    for (const [argv, message] of [
      [['pgd', ...mnist, '--out', '/proc/pbe-x/r.json'], /^pbe pgd: --out: cannot write \/proc\/pbe-x\/r\.json: no file can be created in \/proc \(\w+\)/m],
      [
        ['observe', ...mnist, '--attack', 'blend', '--out', '/proc/pbe-x'],
        /^pbe observe: --out: cannot write \/proc\/pbe-x: no file can be created in \/proc/m,
      ],
      [
        ['compare', ...mnist, '--out', path.join(file, 'table')],
        new RegExp(`^pbe compare: --out: ${file} is a file, so ${file}/table cannot be created under it`, 'm'),
      ],
      [['data', 'mnist', '--out', path.join(file, 'x.png')], /^pbe data: --out: .* is a file, so/m],
    ] as const) {
      const r = await captured(() => main([...argv]));
      assert.equal(r.status, 2, r.text);
      assert.match(r.text, message);
    }
    process.env.PBE_CACHE_DIR = path.join(file, 'cache');
    const r = await captured(() => main(['train', ...mnist]));
    assert.equal(r.status, 2);
    assert.match(r.text, /^pbe train: the cache folder \(PBE_CACHE_DIR\): .*a-file is a file, so .*cannot be created under it/m);
  });
});

describe('pbe defend: the PGD budget that runs and is stored', () => {
  const base = ['--dataset', 'mnist', '--profile', 'smoke', '--attack', 'blend', '--defense', 'pbe'];
  /** What PBE's fine-tuning hands to pgd(), and the provenance the report stores, for a command line. */
  async function budget(...extra: string[]) {
    const [cfg] = await configsOf([...base, ...extra]);
    const request = { name: cfg.defense, profile: cfg.profile.profile, options: cfg.options, pgd: cfg.pgd };
    return { pgd: pgdConfigOf(resolveDefensePgd(request)!), provenance: pgdProvenance(request), given: cfg.pgd, options: cfg.options };
  }

  it('keeps a --defense-option PGD setting beside a PGD flag for another setting', async () => {
    const a = await budget('--defense-option', 'pgdEps=0.1', '--iterations', '10');
    assert.deepEqual(
      { eps: a.pgd.eps, iterations: a.pgd.iterations, norm: a.pgd.norm, randomStart: a.pgd.randomStart },
      { eps: 0.1, iterations: 10, norm: 'linf', randomStart: false },
    );
    assert.ok(Math.abs(a.pgd.step - 0.02) < 1e-12);
    assert.equal(a.provenance['pgd.eps'], 'given');
    assert.equal(a.provenance['pgd.iterations'], 'given');
    assert.notEqual(a.provenance['pgd.norm'], 'given', 'a setting nobody gave keeps its default provenance');
    const b = await budget('--defense-option', 'pgdRandomStart=true', '--eps', '0.2');
    assert.equal(b.pgd.randomStart, true);
    assert.equal(b.pgd.eps, 0.2);
    const c = await budget('--defense-option', 'pgdNorm=l2', '--iterations', '5');
    assert.equal(c.pgd.norm, 'l2');
    assert.equal(c.pgd.iterations, 5);
  });

  it('sets only the settings its flags name, --norm l2 alone at the L2 default radius', async () => {
    assert.deepEqual((await budget('--iterations', '3')).given, { iterations: 3 });
    assert.deepEqual((await budget('--norm', 'l2')).given, { norm: 'l2' });
    assert.equal((await budget('--norm', 'l2')).pgd.eps, 0.5);
    assert.equal((await budget('--defense-option', 'pgdNorm=l2')).pgd.eps, 0.5);
    assert.equal((await budget()).given, undefined);
    assert.deepEqual((await budget('--defense-option', 'epochsFirst=2')).options, { epochsFirst: 2 });
  });
});
