import { type Norm, PGD_DEFAULT, PGD_DEFAULT_EPS, type PgdConfig, pgdBudget, type PgdSettings } from '../attacks/adversarial/pgd';
import type { AttackRequest } from '../attacks/backdoor/attack';
import { attackNames, stampOrderOf } from '../attacks/backdoor/registry';
import { DEFAULT_STAMP_ORDER, STAMP_ORDERS } from '../attacks/backdoor/stamping';
import { DATASET_INFO, DATASET_NAMES, type DatasetName } from '../data/registry';
import { unwritable } from '../io/writable';
import { MODEL_ARCHS } from '../models/registry';
import { PROFILE_NAMES, type ResolvedProfile, resolveProfile } from '../train/profiles';

/** A usage error: the CLI prints it with the command's usage and exits with status 2. */
export class UsageError extends Error {}

/**
 * One command-line option, defined once: its value type T, the placeholder of its argument,
 * its help, its choices and default (both shown in --help), and how a raw string becomes a T.
 * Its flag is the kebab-case of its key in the command's option table (`batchSize` → `--batch-size`).
 */
export interface OptSpec<T> {
  help: string;
  /** placeholder of the value in --help; absent for a boolean flag */
  arg?: string;
  choices?: readonly string[];
  default?: T;
  /** a short alias, e.g. 'h' */
  short?: string;
  /** raw string (and the value so far, for repeatable options) → value; throws UsageError naming the option */
  parse?(raw: string, flag: string, previous: T | undefined): T;
}

export type OptTable = Record<string, OptSpec<unknown>>;
/** The parsed values of an option table, typed by it. */
export type OptValues<O extends OptTable> = { [K in keyof O]: O[K] extends OptSpec<infer T> ? T : never };

export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function integer(raw: string, flag: string, min: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} expects an integer ≥ ${min}, got '${raw}'`);
  return n;
}

function choice<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`unknown ${what} '${value}'; expected one of ${allowed.join(', ')}`);
  return value as T;
}

/** The value of a required option (or positional), or the usage error naming it and its choices. */
export function required<T>(value: T | undefined, what: string, choices?: readonly string[]): T {
  if (value === undefined) throw new UsageError(`missing ${what}${choices ? `; expected one of ${choices.join(', ')}` : ''}`);
  return value;
}

/** Checks a positional against its choices with the same wording as an option's. */
export function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], what: string): T {
  return choice(required(value, what, allowed), allowed, what);
}

/** Builders of OptSpec, one per value type; `default` makes the value non-optional. */
export const opt = {
  flag(help: string, short?: string): OptSpec<boolean> {
    return { help, short, default: false };
  },
  string(help: string, arg = 'S'): OptSpec<string | undefined> {
    return { help, arg, parse: (raw) => raw };
  },
  int: ((help: string, o: { min?: number; default?: number; arg?: string } = {}) => ({
    help,
    arg: o.arg ?? 'N',
    default: o.default,
    parse: (raw: string, flag: string) => integer(raw, flag, o.min ?? -Infinity),
  })) as {
    (help: string, o: { min?: number; default: number; arg?: string }): OptSpec<number>;
    (help: string, o?: { min?: number; arg?: string }): OptSpec<number | undefined>;
  },
  number: ((help: string, o: { min?: number; default?: number; arg?: string } = {}) => ({
    help,
    arg: o.arg ?? 'X',
    default: o.default,
    parse: (raw: string, flag: string) => {
      const n = Number(raw);
      if (!Number.isFinite(n) || n < (o.min ?? -Infinity)) throw new UsageError(`${flag} expects a number ≥ ${o.min ?? -Infinity}, got '${raw}'`);
      return n;
    },
  })) as {
    (help: string, o: { min?: number; default: number; arg?: string }): OptSpec<number>;
    (help: string, o?: { min?: number; arg?: string }): OptSpec<number | undefined>;
  },
  choice: (<T extends string>(help: string, choices: readonly T[], o: { default?: T; arg?: string } = {}) => ({
    help,
    arg: o.arg ?? 'name',
    choices,
    default: o.default,
    parse: (raw: string, flag: string) => choice(raw, choices, flag),
  })) as {
    <const T extends string>(help: string, choices: readonly T[], o: { default: T; arg?: string }): OptSpec<T>;
    <const T extends string>(help: string, choices: readonly T[], o?: { arg?: string }): OptSpec<T | undefined>;
  },
  /** A comma-separated list of integers, e.g. `--seed 0,1,2`. */
  intList(help: string, o: { min?: number; arg?: string } = {}): OptSpec<number[] | undefined> {
    const min = o.min ?? -Infinity;
    return {
      help,
      arg: o.arg ?? 'N,N…',
      parse: (raw, flag) => {
        const items = raw.split(',').map((s) => Number(s.trim()));
        if (items.some((n) => !Number.isInteger(n) || n < min)) throw new UsageError(`${flag} expects integers ≥ ${min} separated by commas, got '${raw}'`);
        return items;
      },
    };
  },
  /** Repeated `key=value`: numbers and true/false are parsed, anything else stays a string. */
  keyValues(help: string): OptSpec<Record<string, number | string | boolean>> {
    return {
      help,
      arg: 'key=value',
      default: {},
      parse: (raw, flag, previous) => {
        const m = /^([A-Za-z][\w-]*)=(.*)$/.exec(raw);
        if (!m) throw new UsageError(`${flag} expects key=value, got '${raw}'`);
        const v = m[2];
        return { ...previous, [m[1]]: v === 'true' ? true : v === 'false' ? false : v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v };
      },
    };
  },
};

export const COMMON_OPTIONS = {
  backend: opt.string('tfjs backend: webgpu, node-gpu, node, native, wasm or cpu (default: PBE_BACKEND, else the fastest that loads)', 'name'),
};

/**
 * Options of every command that trains or loads models for a dataset under a profile, including
 * the profile overrides: a changed schedule is part of every cached model's key.
 */
export const RUN_OPTIONS = {
  ...COMMON_OPTIONS,
  dataset: opt.choice('dataset (required)', DATASET_NAMES),
  profile: opt.choice('training profile', PROFILE_NAMES, { default: 'cpu' }),
  model: opt.choice("architecture instead of the profile's", MODEL_ARCHS, { arg: 'arch' }),
  epochs: opt.int("training epochs instead of the profile's", { min: 1 }),
  batchSize: opt.int("batch size instead of the profile's", { min: 1 }),
  lr: opt.number("learning rate instead of the profile's", { min: 0 }),
  trainPerClass: opt.int("training images per class instead of the profile's", { min: 1 }),
  path: opt.string("the dataset's location (see docs/data.md)", 'P'),
};

/** The profile named by --profile for --dataset, with the command line's overrides. */
export function profileFrom(o: OptValues<typeof RUN_OPTIONS>): ResolvedProfile {
  const dataset = required(o.dataset, '--dataset', DATASET_NAMES);
  return resolveProfile(o.profile, dataset, {
    arch: o.model,
    epochs: o.epochs,
    batchSize: o.batchSize,
    lr: o.lr,
    trainPerClass: o.trainPerClass,
  });
}

export const PGD_OPTIONS = {
  norm: opt.choice('PGD norm (default linf)', ['linf', 'l2'] as const),
  eps: opt.number(`perturbation budget, > 0 (default: L∞ ${PGD_DEFAULT_EPS.linf.toFixed(4)} = 6/255, L2 ${PGD_DEFAULT_EPS.l2}); the step is ε/5`, {
    min: 0,
    arg: 'E',
  }),
  iterations: opt.int(`PGD iterations (default: ${PGD_DEFAULT.iterations})`, { min: 1 }),
  randomStart: opt.flag('start from a random point of the ε-ball'),
};

/** PGD_OPTIONS whose help gives the scan's own per-dataset budget instead of the paper's. */
export function scanPgdOptions(defaults: string) {
  return {
    ...PGD_OPTIONS,
    norm: opt.choice(`PGD norm (default per dataset: ${defaults})`, ['linf', 'l2'] as const),
    eps: opt.number(
      `perturbation budget, > 0 (default per dataset, see --norm; a norm other than the dataset's takes its usual radius, L2 ${PGD_DEFAULT_EPS.l2}); the step is ε/5`,
      { min: 0, arg: 'E' },
    ),
    iterations: opt.int('PGD iterations (default per dataset, see --norm)', { min: 1 }),
  };
}

/** The flag of each PGD setting. */
export const PGD_FLAGS: Record<keyof PgdSettings, string> = { norm: '--norm', eps: '--eps', iterations: '--iterations', randomStart: '--random-start' };

/** The PGD settings the command line names, and only those: a flag not given is absent. */
export function pgdSettingsFrom(o: OptValues<typeof PGD_OPTIONS>): PgdSettings {
  return {
    ...(o.norm !== undefined ? { norm: o.norm } : {}),
    ...(o.eps !== undefined ? { eps: o.eps } : {}),
    ...(o.iterations !== undefined ? { iterations: o.iterations } : {}),
    ...(o.randomStart ? { randomStart: true } : {}),
  };
}

/**
 * Why a radius means nothing for PGD on a dataset's images, or null: ε = 0 changes no image, and
 * a ball that holds the whole pixel cube [0, 1]^d (L∞ ε ≥ 1, L2 ε ≥ √d) reaches every image.
 */
export function epsProblem(norm: Norm, eps: number, dataset: DatasetName): string | null {
  if (!(eps > 0)) return `expects ε > 0 (ε = 0 leaves every image as it is), got ${eps}`;
  if (norm === 'linf' && eps >= 1) return `expects an L∞ ε < 1 (pixels lie in [0, 1], so ε ≥ 1 reaches every image), got ${eps}`;
  const [h, w, c] = DATASET_INFO[dataset].shape;
  const diagonal = Math.sqrt(h * w * c);
  if (norm === 'l2' && eps >= diagonal)
    return `expects an L2 ε < ${diagonal.toFixed(1)} (the diagonal of ${dataset}'s ${h}×${w}×${c} images, which reaches every image), got ${eps}`;
  return null;
}

/** The PGD budget a command line asks for: its flags over the defaults (see pgdBudget), its ε checked against the dataset's images. */
export function pgdFrom(o: OptValues<typeof PGD_OPTIONS>, dataset: DatasetName): PgdConfig {
  const cfg = pgdBudget(pgdSettingsFrom(o));
  const problem = epsProblem(cfg.norm, cfg.eps, dataset);
  if (problem) throw new UsageError(`--eps ${problem}`);
  return cfg;
}

/** A target label the dataset has, or the usage error naming `flag`. */
export function checkTarget(target: number, dataset: DatasetName, flag = '--target'): number {
  const { classes } = DATASET_INFO[dataset];
  if (target >= classes) throw new UsageError(`${flag} expects a label of ${dataset}, 0 to ${classes - 1}, got ${target}`);
  return target;
}

/**
 * The all-to-one target of a command line: --target, which all-to-all (y → y+1) has no use for,
 * so giving both is an error rather than a target silently ignored.
 */
export function targetFrom(o: { mode: 'all2one' | 'all2all'; target: number | undefined }, dataset: DatasetName): number {
  if (o.mode === 'all2all' && o.target !== undefined)
    throw new UsageError('--target is the label of all-to-one; --mode all2all relabels y → y+1 and takes none');
  return checkTarget(o.target ?? DEFAULT_TARGET, dataset);
}

export const DEFAULT_TARGET = 0;

/**
 * Checks, before any work, that a command can write where it will: `--out` (a folder or a file,
 * as `kind` says) and the cache folder. A failure after hours of training would lose the results.
 */
export function checkWritable(targets: { flag: string; path: string | undefined; kind: 'dir' | 'file' }[], cacheRootDir: string): void {
  for (const t of [...targets, { flag: 'the cache folder (PBE_CACHE_DIR)', path: cacheRootDir, kind: 'dir' as const }]) {
    if (t.path === undefined) continue;
    const problem = unwritable(t.path, t.kind);
    if (problem) throw new UsageError(`${t.flag}: ${problem}`);
  }
}

/** How a backdoor attack is asked for, beside its name(s). */
export const ATTACK_OPTIONS = {
  mode: opt.choice('all-to-one (to --target) or all-to-all (y → y+1)', ['all2one', 'all2all'] as const, { default: 'all2one' }),
  option: opt.keyValues('an attack option instead of its default, e.g. alpha=0.1 (repeatable; see docs/cli.md, pbe attack)'),
  stamp: opt.choice(
    'when the trigger is stamped on a poisoned training image: after the crop/flip augmentation (the reference code) or before it',
    STAMP_ORDERS,
    {
      default: DEFAULT_STAMP_ORDER,
    },
  ),
};

/** The attack `name` as the attack options ask for it, its stamp order checked before any work. */
export function attackRequestFrom(o: OptValues<typeof ATTACK_OPTIONS>, name: string, target: number): AttackRequest {
  return { name, mode: o.mode, target, options: o.option, stamp: stampOrderOf({ name, stamp: o.stamp }) };
}

/** The attacks of a comma-separated `--attack`: at least one, each a registered attack. */
export function attackListFrom(raw: string | undefined): string[] {
  const attacks = required(raw, '--attack')
    .split(',')
    .filter((s) => s !== '');
  if (attacks.length === 0) required(undefined, '--attack');
  for (const a of attacks) oneOf(a, attackNames(), '--attack');
  return attacks;
}

/** How the clean extra set is sized: by `--clean-ratio` in (0, 1] or by `--clean-size`, not both. */
export function cleanSizeFrom(o: { cleanRatio?: number; cleanSize?: number }): { cleanRatio: number | undefined; cleanSize: number | undefined } {
  if (o.cleanRatio !== undefined && o.cleanSize !== undefined)
    throw new UsageError('--clean-ratio and --clean-size both size the clean extra set; give one of them');
  if (o.cleanRatio !== undefined && !(o.cleanRatio > 0 && o.cleanRatio <= 1))
    throw new UsageError(`--clean-ratio expects a share of the training set in (0, 1], got ${o.cleanRatio}`);
  return { cleanRatio: o.cleanRatio, cleanSize: o.cleanSize };
}
