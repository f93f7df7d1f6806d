import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A usage error: the CLI prints the command's usage with it and exits with status 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export function parse(argv: string[], options: Options, maxPositionals: number): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'`);
  }
  return { values: parsed.values as Parsed['values'], positionals: parsed.positionals };
}

export function stringOpt(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function intOpt(p: Parsed, name: string, min = -Infinity): number | undefined {
  const v = stringOpt(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} expects an integer ≥ ${min}, got '${v}'`);
  return n;
}

/** A comma-separated list of integers, e.g. `--seed 0,1,2`. */
export function intListOpt(p: Parsed, name: string, min = -Infinity): number[] | undefined {
  const v = stringOpt(p, name);
  if (v === undefined) return undefined;
  const items = v.split(',').map((s) => Number(s.trim()));
  if (items.length === 0 || items.some((n) => !Number.isInteger(n) || n < min)) {
    throw new UsageError(`--${name} expects integers ≥ ${min} separated by commas, got '${v}'`);
  }
  return items;
}

/** Repeated `--option key=value`: numbers and true/false are parsed, anything else stays a string. */
export function keyValueOpts(p: Parsed, name: string): Record<string, number | string | boolean> {
  const raw = p.values[name];
  const items = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  const out: Record<string, number | string | boolean> = {};
  for (const item of items) {
    const m = /^([A-Za-z][\w-]*)=(.*)$/.exec(String(item));
    if (!m) throw new UsageError(`--${name} expects key=value, got '${String(item)}'`);
    const v = m[2];
    out[m[1]] = v === 'true' ? true : v === 'false' ? false : v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
  }
  return out;
}

export function numberOpt(p: Parsed, name: string, min = -Infinity): number | undefined {
  const v = stringOpt(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} expects a number ≥ ${min}, got '${v}'`);
  return n;
}

export function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], what: string): T {
  if (value === undefined) throw new UsageError(`missing ${what}; expected one of ${allowed.join(', ')}`);
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`unknown ${what} '${value}'; expected one of ${allowed.join(', ')}`);
  }
  return value as T;
}
