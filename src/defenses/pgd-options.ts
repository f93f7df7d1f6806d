import { type Norm, PGD_DEFAULT, type PgdConfig, type PgdSettings, validatePgd } from '../attacks/adversarial/pgd';
import { REFERENCE_PGD } from '../paper/numbers';

/**
 * A defense's PGD budget as defense options. Options are flat (they key the cache, and
 * `--defense-option pgdEps=…` and the profiles' schedules name them), so the budget is spelled as
 * five of them; this module is the one place that spells it, and a defense reads it back only as
 * a PgdConfig (pgdConfigOf).
 */
export type PgdOptions = {
  pgdNorm: string;
  pgdEps: number;
  /** step = pgdStepFraction · ε */
  pgdStepFraction: number;
  pgdIterations: number;
  pgdRandomStart: boolean;
};

const REF = 'reference code (pbe_main.py / aft_train.py)';

/** REFERENCE_PGD as options. */
export const PGD_OPTION_DEFAULTS: PgdOptions = {
  pgdNorm: PGD_DEFAULT.norm,
  pgdEps: PGD_DEFAULT.eps,
  pgdStepFraction: 1 / REFERENCE_PGD.stepDivisor,
  pgdIterations: PGD_DEFAULT.iterations,
  pgdRandomStart: PGD_DEFAULT.randomStart,
};

export const PGD_OPTION_PROVENANCE: Record<keyof PgdOptions, string> = {
  pgdNorm: `${REF}: L∞`,
  pgdEps: `${REF}: ε = 6/255`,
  pgdStepFraction: `${REF}: step ε/5`,
  pgdIterations: `${REF}: 7 iterations`,
  pgdRandomStart: `${REF}: no random start`,
};

/** The option each setting a command line or notebook names stands for. */
export const PGD_OPTION_OF: Record<keyof PgdSettings, keyof PgdOptions> = {
  norm: 'pgdNorm',
  eps: 'pgdEps',
  iterations: 'pgdIterations',
  randomStart: 'pgdRandomStart',
};

/** Whether a defense's options hold a PGD budget. */
export function hasPgdBudget(defaults: object): boolean {
  return 'pgdEps' in defaults;
}

/** The budget the options spell; `defense` names the option in an error. */
export function pgdConfigOf(o: PgdOptions, defense = 'pbe'): PgdConfig {
  if (o.pgdNorm !== 'linf' && o.pgdNorm !== 'l2') throw new Error(`${defense}.pgdNorm: expected 'linf' or 'l2', got '${o.pgdNorm}'`);
  return {
    norm: o.pgdNorm as Norm,
    eps: o.pgdEps,
    step: o.pgdStepFraction * o.pgdEps,
    iterations: o.pgdIterations,
    randomStart: o.pgdRandomStart,
    targeted: false,
  };
}

/** Checks the budget's options: the step fraction a finite number ≥ 0, then the budget as PGD checks it. */
export function validatePgdOptions(o: PgdOptions, defense = 'pbe'): void {
  if (!(Number.isFinite(o.pgdStepFraction) && o.pgdStepFraction >= 0))
    throw new Error(`${defense}.pgdStepFraction: expected a finite number ≥ 0, got ${o.pgdStepFraction}`);
  if (!(Number.isInteger(o.pgdIterations) && o.pgdIterations >= 0))
    throw new Error(`${defense}.pgdIterations: expected an integer ≥ 0, got ${o.pgdIterations}`);
  validatePgd(pgdConfigOf(o, defense));
}
