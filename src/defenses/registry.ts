import { weightsHash } from '../models/model';
import type { ProfileName } from '../train/profiles';
import type { DefenseContext, DefenseDefinition, DefenseOptions, DefenseOptionValue, DefenseResult } from './defense';

// Definitions differ in their option types; the registry checks options against each one's defaults.
type AnyDefinition = DefenseDefinition<any, unknown>; // eslint-disable-line @typescript-eslint/no-explicit-any

const REGISTRY = new Map<string, AnyDefinition>();

export function registerDefense<O extends DefenseOptions, I>(name: string, definition: DefenseDefinition<O, I>): void {
  if (REGISTRY.has(name)) throw new Error(`registerDefense: a defense named '${name}' is already registered`);
  for (const key of Object.keys(definition.defaults)) {
    if (!(key in definition.provenance)) throw new Error(`registerDefense '${name}': option '${key}' has no provenance`);
  }
  REGISTRY.set(name, definition as AnyDefinition);
}

export function defenseNames(): string[] {
  return [...REGISTRY.keys()];
}

export function defenseDefinition(name: string): AnyDefinition {
  const def = REGISTRY.get(name);
  if (!def) throw new Error(`defense: unknown defense '${name}'; expected one of ${defenseNames().join(', ') || '(none registered)'}`);
  return def;
}

function sameType(value: unknown, like: DefenseOptionValue): boolean {
  if (Array.isArray(like)) return Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v));
  return typeof value === typeof like && (typeof value !== 'number' || !Number.isNaN(value));
}

function describe(like: DefenseOptionValue): string {
  return Array.isArray(like) ? 'a list of numbers' : `a ${typeof like}`;
}

export interface DefenseRequest {
  name: string;
  /** the profile whose schedule applies before `options` */
  profile?: ProfileName;
  /** overrides, checked by name and type against the defaults */
  options?: Record<string, unknown>;
}

/** Defaults, then the profile's schedule, then the given options; every name and type checked, then the definition's validation. */
export function resolveDefenseOptions(request: DefenseRequest): DefenseOptions {
  const def = defenseDefinition(request.name);
  const given = request.options ?? {};
  for (const [key, value] of Object.entries(given)) {
    if (!(key in def.defaults)) {
      throw new Error(`defense '${request.name}': unknown option '${key}'; valid options: ${Object.keys(def.defaults).join(', ')}`);
    }
    if (!sameType(value, def.defaults[key])) {
      throw new Error(`${request.name}.${key}: expected ${describe(def.defaults[key])}, got ${JSON.stringify(value)}`);
    }
  }
  const profile = request.profile ? (def.profiles?.[request.profile]?.options ?? {}) : {};
  const options = { ...def.defaults, ...profile, ...given } as DefenseOptions;
  def.validate?.(options);
  return options;
}

/** Where each resolved option's value comes from: the definition's provenance, the profile's, or the caller. */
export function optionProvenance(request: DefenseRequest): Record<string, string> {
  const def = defenseDefinition(request.name);
  const profile = request.profile ? def.profiles?.[request.profile] : undefined;
  const given = request.options ?? {};
  return Object.fromEntries(
    Object.keys(def.defaults).map((key) => [
      key,
      key in given ? 'given' : profile && key in profile.options ? `profile ${request.profile}: ${profile.provenance}` : def.provenance[key],
    ]),
  );
}

/**
 * Runs a defense with its options resolved and the contract checked: it gets the data it needs
 * (and only the defender's data), and leaves the infected model as it found it.
 */
export async function runDefense(request: DefenseRequest, ctx: Omit<DefenseContext, 'options'>): Promise<DefenseResult & { options: DefenseOptions }> {
  const def = defenseDefinition(request.name);
  const options = resolveDefenseOptions(request);
  const { train, clean } = ctx.data;
  const has = (d: typeof train) => d !== undefined;
  const need = def.data;
  if (need === 'clean' && !has(clean)) throw new Error(`${request.name}: needs a clean extra set (data.clean)`);
  if (need === 'train' && !has(train)) throw new Error(`${request.name}: needs the training set as the defender sees it (data.train)`);
  if (need === 'either' && has(train) === has(clean)) {
    throw new Error(`${request.name}: give either a clean extra set (data.clean) or the training set (data.train), not ${has(train) ? 'both' : 'neither'}`);
  }
  for (const [which, d] of Object.entries({ train, clean })) {
    if (!d) continue;
    if (d.split !== 'train') throw new Error(`${request.name}: data.${which} comes from the ${d.split} split; a defense never sees test images`);
    if (d.shape[0] === 0) throw new Error(`${request.name}: data.${which} is empty`);
  }
  const before = weightsHash(ctx.model);
  const result = await def.run({ ...ctx, options });
  if (weightsHash(ctx.model) !== before) {
    result.model.dispose();
    throw new Error(`${request.name}: changed the infected model's weights; a defense must work on a clone`);
  }
  return { ...result, options };
}
