import { weightsHash } from '../models/weights';
import type { ProfileName } from '../train/profiles';
import { DefinitionRegistry } from '../registry';
import { registerAllDefenses } from './all';
import type { DefenseContext, DefenseDefinition, DefenseOptions, DefenseResult } from './defense';
import { PGD_BUDGET_OPTION, type PgdBudget, pgdBudgetOf, pgdConfigOf, validatePgdBudget } from './pgd-budget';

// Definitions differ in their option types; the registry checks options against each one's defaults.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as the comment above says
type AnyDefenseDefinition = DefenseDefinition<any, unknown>;
/** The defense catalogue; its entries (all.ts) are registered on first use. */
const DEFENSES = new DefinitionRegistry<AnyDefenseDefinition>('defense', () => registerAllDefenses(registerDefense));

export function registerDefense<O extends DefenseOptions, I>(name: string, definition: DefenseDefinition<O, I>): void {
  for (const option of definition.gradientBatches) {
    if (typeof definition.defaults[option] !== 'number') throw new Error(`register defense '${name}': gradient batch '${option}' is not a number option`);
  }
  DEFENSES.register(name, definition as AnyDefenseDefinition);
}

export function defenseNames(): string[] {
  return DEFENSES.names();
}

export function defenseDefinition(name: string): AnyDefenseDefinition {
  return DEFENSES.get(name);
}

export interface DefenseRequest {
  name: string;
  /** the training profile whose schedule applies before `options` */
  profile?: ProfileName;
  /** overrides, checked by name and type against the defaults */
  options?: Record<string, unknown>;
  /** the PGD budget's fields that differ from the defense's defaults, for a defense with a PGD step */
  pgd?: Partial<PgdBudget>;
}

/** Defaults, then the profile's schedule, then the given options; every name and type checked, then the definition's validation. */
export function resolveDefenseOptions(request: DefenseRequest): DefenseOptions {
  const field = (Object.keys(PGD_BUDGET_OPTION) as (keyof PgdBudget)[]).find((k) => PGD_BUDGET_OPTION[k] in (request.options ?? {}));
  if (field && defenseDefinition(request.name).pgd) {
    throw new Error(
      `${request.name}.${PGD_BUDGET_OPTION[field]}: the PGD budget is not an option; give it as pgd: { ${field}: … } (DefendConfig.pgd, CompareConfig.pgd)`,
    );
  }
  return DEFENSES.resolve(request.name, request.options, request.profile);
}

/** The defense's PGD budget: the given fields over its defaults, validated; null for a defense without a PGD step. */
export function resolveDefensePgd(request: DefenseRequest): PgdBudget | null {
  const def = defenseDefinition(request.name);
  const given = request.pgd ?? {};
  if (!def.pgd) {
    if (Object.keys(given).length > 0) throw new Error(`${request.name}: has no PGD step, so it takes no PGD budget (given ${JSON.stringify(given)})`);
    return null;
  }
  for (const k of Object.keys(given)) {
    if (!(k in PGD_BUDGET_OPTION)) throw new Error(`${request.name}.pgd: unknown field '${k}'; expected ${Object.keys(PGD_BUDGET_OPTION).join(', ')}`);
  }
  const budget = pgdBudgetOf(given, def.pgd.defaults);
  validatePgdBudget(budget, request.name);
  return budget;
}

/** Where each field of the PGD budget comes from (`pgd.eps`: 'given' or the definition's provenance); {} without a PGD step. */
export function pgdProvenance(request: DefenseRequest): Record<string, string> {
  const def = defenseDefinition(request.name);
  if (!def.pgd) return {};
  const given = request.pgd ?? {};
  return Object.fromEntries((Object.keys(def.pgd.provenance) as (keyof PgdBudget)[]).map((k) => [`pgd.${k}`, k in given ? 'given' : def.pgd!.provenance[k]]));
}

/** Where each resolved option's value comes from: the definition's provenance, the profile's, or the caller. */
export function optionProvenance(request: DefenseRequest): Record<string, string> {
  return DEFENSES.provenance(request.name, request.options, request.profile);
}

/**
 * Runs a defense with its options resolved and the contract checked: it gets the data it needs
 * (and only the defender's data), and leaves the infected model as it found it.
 */
export async function runDefense(
  request: DefenseRequest,
  ctx: Omit<DefenseContext, 'options' | 'pgd'>,
): Promise<DefenseResult & { options: DefenseOptions; pgd: PgdBudget | null }> {
  const def = defenseDefinition(request.name);
  const options = resolveDefenseOptions(request);
  const pgd = resolveDefensePgd(request);
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
  const result = await def.run({ ...ctx, options, pgd: pgd && pgdConfigOf(pgd) });
  if (weightsHash(ctx.model) !== before) {
    result.model.dispose();
    throw new Error(`${request.name}: changed the infected model's weights; a defense must work on a clone`);
  }
  return { ...result, options, pgd };
}
