import { type Norm, PGD_DEFAULT, type PgdConfig } from '../attacks/adversarial/pgd';
import { DATASET_NAMES } from '../data/registry';
import { MODEL_ARCHS } from '../models/model';
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
  path: opt.string("the dataset's location (see the README's data table)", 'P'),
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
  norm: opt.choice('PGD norm', ['linf', 'l2'] as const, { default: 'linf' }),
  eps: opt.number('perturbation budget (default: L∞ 6/255, L2 0.5); the step is ε/5', { min: 0, arg: 'E' }),
  iterations: opt.int(`PGD iterations (default: ${PGD_DEFAULT.iterations})`, { min: 1 }),
  randomStart: opt.flag('start from a random point of the ε-ball'),
};

/** PGD as the reference code runs it (L∞ 6/255, step ε/5, 7 iterations), with the command line's changes; L2 defaults to ε = 0.5. */
export function pgdFrom(o: OptValues<typeof PGD_OPTIONS>): PgdConfig {
  const norm: Norm = o.norm;
  const eps = o.eps ?? (norm === 'linf' ? PGD_DEFAULT.eps : 0.5);
  return { ...PGD_DEFAULT, norm, eps, step: eps / 5, iterations: o.iterations ?? PGD_DEFAULT.iterations, randomStart: o.randomStart };
}

/** How a backdoor attack is asked for, beside its name(s). */
export const ATTACK_OPTIONS = {
  mode: opt.choice('all-to-one (to --target) or all-to-all (y → y+1)', ['all2one', 'all2all'] as const, { default: 'all2one' }),
  option: opt.keyValues("an attack option instead of its default, e.g. alpha=0.1 (repeatable; see the README's attack table)"),
};
