import { type Norm, PGD_DEFAULT, PGD_DEFAULT_EPS, type PgdConfig, validatePgd } from '../attacks/adversarial/pgd';
import { REFERENCE_PGD } from '../paper/numbers';
import type { OptionValue } from '../registry';

/**
 * A defense's PGD budget, one value from the command line (or notebook) to pgd(). The step is a
 * share of ε, as the reference code writes it (ε/5), so that a budget given by its ε alone keeps
 * the reference's step; pgdConfigOf turns it into the PgdConfig that pgd() takes.
 */
export interface PgdBudget {
  norm: Norm;
  eps: number;
  /** step = stepFraction · ε */
  stepFraction: number;
  iterations: number;
  randomStart: boolean;
}

const REF = 'reference code (pbe_main.py / aft_train.py)';

/** REFERENCE_PGD as a budget. */
export const PGD_BUDGET_DEFAULT: Readonly<PgdBudget> = {
  norm: PGD_DEFAULT.norm,
  eps: PGD_DEFAULT.eps,
  stepFraction: 1 / REFERENCE_PGD.stepDivisor,
  iterations: PGD_DEFAULT.iterations,
  randomStart: PGD_DEFAULT.randomStart,
};

export const PGD_BUDGET_PROVENANCE: Readonly<Record<keyof PgdBudget, string>> = {
  norm: `${REF}: L∞`,
  eps: `${REF}: ε = 6/255`,
  stepFraction: `${REF}: step ε/5`,
  iterations: `${REF}: 7 iterations`,
  randomStart: `${REF}: no random start`,
};

/**
 * Each field's name as a flat option: `--defense-option pgdEps=…` on the command line, and the
 * names defend cache keys have always used, so entries written before the budget was one value
 * are still read.
 */
export const PGD_BUDGET_OPTION: Readonly<Record<keyof PgdBudget, string>> = {
  norm: 'pgdNorm',
  eps: 'pgdEps',
  stepFraction: 'pgdStepFraction',
  iterations: 'pgdIterations',
  randomStart: 'pgdRandomStart',
};

/** The fields given over `base`; a norm given without ε takes that norm's default radius (as `pbe pgd --norm l2` does). */
export function pgdBudgetOf(given: Partial<PgdBudget> = {}, base: Readonly<PgdBudget> = PGD_BUDGET_DEFAULT): PgdBudget {
  const norm = given.norm ?? base.norm;
  const eps = given.eps ?? (norm === base.norm ? base.eps : PGD_DEFAULT_EPS[norm]);
  return { ...base, ...given, norm, eps };
}

/** What pgd() takes: untargeted, the step stepFraction · ε. */
export function pgdConfigOf(b: PgdBudget): PgdConfig {
  return { norm: b.norm, eps: b.eps, step: b.stepFraction * b.eps, iterations: b.iterations, randomStart: b.randomStart, targeted: false };
}

/** Checks a budget; `defense` names it in the error (`pbe.pgd.stepFraction: …`). */
export function validatePgdBudget(b: PgdBudget, defense: string): void {
  const where = `${defense}.pgd`;
  if (b.norm !== 'linf' && b.norm !== 'l2') throw new Error(`${where}.norm: expected 'linf' or 'l2', got '${b.norm as string}'`);
  if (!(Number.isFinite(b.stepFraction) && b.stepFraction >= 0)) throw new Error(`${where}.stepFraction: expected a finite number ≥ 0, got ${b.stepFraction}`);
  if (!(Number.isInteger(b.iterations) && b.iterations >= 0)) throw new Error(`${where}.iterations: expected an integer ≥ 0, got ${b.iterations}`);
  if (typeof b.randomStart !== 'boolean') throw new Error(`${where}.randomStart: expected true or false, got ${JSON.stringify(b.randomStart)}`);
  validatePgd(pgdConfigOf(b));
}

/** The budget as the flat options a defend cache key names (PGD_BUDGET_OPTION). */
export function pgdKeyOptions(b: PgdBudget): Record<string, OptionValue> {
  return Object.fromEntries((Object.keys(PGD_BUDGET_OPTION) as (keyof PgdBudget)[]).map((k) => [PGD_BUDGET_OPTION[k], b[k]]));
}
