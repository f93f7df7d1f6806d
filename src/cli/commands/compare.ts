import { attackNames } from '../../attacks/backdoor/registry';
import { initBackend, runtimeSummary } from '../../backend';
import { Cache } from '../../cache';
import { COMPARE_DEFENSES, type CompareConfig, type CompareDefense, compare } from '../../experiments/compare';
import { PAPER_ATTACKS } from '../../paper/numbers';
import { poolProgressSink } from '../../progress';
import { defineCommand } from '../command';
import { checkWritable, DEFAULT_TARGET, oneOf, opt, type OptValues, profileFrom, RUN_OPTIONS, targetFrom } from '../options';

function list<T extends string>(raw: string | undefined, fallback: readonly T[], allowed: readonly T[], flag: string): T[] {
  if (raw === undefined) return [...fallback];
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return items.map((s) => oneOf(s, allowed, flag));
}

const COMPARE_OPTIONS = {
  ...RUN_OPTIONS,
  mode: opt.choice('all-to-one (to --target) or all-to-all (y → y+1)', ['all2one', 'all2all'] as const, { default: 'all2one' }),
  attacks: opt.string(`attacks, comma-separated (default: ${PAPER_ATTACKS.join(',')})`, 'name[,…]'),
  defenses: opt.string(`defenses, comma-separated (default: all of ${COMPARE_DEFENSES.join(',')}; pbe = without clean data, pbe-clean = with it)`, 'name[,…]'),
  target: opt.int(`target label of all-to-one (default ${DEFAULT_TARGET})`, { min: 0 }),
  seed: opt.int('run seed', { min: 0, default: 0 }),
  out: opt.string('folder for table.md, table.csv, defense-table.svg and report.json (default: under the cache)', 'DIR'),
};

/** The comparison a command line asks for; a notebook that builds the same config reads the same cells. */
export function compareConfigFrom(o: OptValues<typeof COMPARE_OPTIONS>): CompareConfig {
  const profile = profileFrom(o);
  const target = targetFrom(o, profile.dataset);
  return {
    profile,
    mode: o.mode,
    attacks: list(o.attacks, PAPER_ATTACKS as readonly string[], attackNames(), '--attacks'),
    defenses: list<CompareDefense>(o.defenses, COMPARE_DEFENSES, COMPARE_DEFENSES, '--defenses'),
    target,
    seed: o.seed,
    dataPath: o.path,
    outDir: o.out,
  };
}

export const compareCommand = defineCommand({
  name: 'compare',
  summary:
    "every attack × defense pair through the cache and the worker pool, printed and saved in the paper's table layout with the paper's numbers beside ours",
  options: COMPARE_OPTIONS,
  async run(o) {
    const cfg = compareConfigFrom(o);
    const profile = cfg.profile;
    const cache = new Cache();
    checkWritable([{ flag: '--out', path: o.out, kind: 'dir' }], cache.root);
    await initBackend(o.backend);
    console.error(runtimeSummary());
    const report = await compare(cfg, { cache, onProgress: poolProgressSink(), backend: o.backend });
    console.log(
      `\n${profile.dataset} ${o.mode}, profile ${profile.profile} (${profile.arch}), seed ${o.seed}: ACC/ASR (%)${report.paperTable ? `, paper: ${report.paperTable}` : ''}\n`,
    );
    console.log(report.markdown);
    const fresh = report.cells.filter((c) => !c.fromCache).length;
    console.log(
      `\n${report.cells.length} cells (${fresh} computed now, ${report.cells.length - fresh} from the cache); wall time ${report.seconds.toFixed(0)} s`,
    );
    console.log(`written: ${report.files.markdown}, ${report.files.csv}, ${report.figures['defense-table']}`);
    return 0;
  },
});
