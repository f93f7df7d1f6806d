import * as fs from 'node:fs';
import type * as tf from '@tensorflow/tfjs-core';
import { sha256 } from '../../cache';
import { Rng, type Seed } from '../../rng';
import { badnetsTrigger } from './badnets';
import { blendTrigger, NOISE_PATTERN } from './blend';
import { type InputShape, validateInputShape } from './checks';
import { sigTrigger } from './sig';
import { type LabelRule, type Trigger, validateLabelRule } from './trigger';
import { wanetTrigger } from './wanet';

/** Attack options are flat JSON values, so a whole AttackConfig can go into a cache key. */
export type OptionValue = number | string | boolean;
export type AttackOptions = Record<string, OptionValue>;

/** Everything that determines an attack; plain JSON. */
export interface AttackConfig {
  name: string;
  rule: LabelRule;
  /** [height, width, channels] of the images it is applied to */
  inputShape: InputShape;
  /** fixes whatever is random in the trigger (blend noise, warping field) */
  seed: Seed;
  /** overrides of the attack's defaults; unknown names are errors */
  options?: AttackOptions;
}

/**
 * An attack ready to poison: the trigger and how its images are labelled. `config` is the
 * resolved configuration (every default filled in), the one to put into cache keys, so that
 * changing a default changes the key.
 */
export interface StaticAttack {
  name: string;
  trigger: Trigger;
  rule: LabelRule;
  /** poisoned images are taken from the target class and keep their labels (SIG) */
  cleanLabel: boolean;
  /** noise-mode images per poisoned image (WaNet's cross ratio); 0 when the attack has none */
  crossRatio: number;
  /** the noise-mode warp; present exactly when crossRatio > 0 */
  applyCross?: (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;
  config: Required<AttackConfig>;
}

export interface AttackBuildContext {
  rule: LabelRule;
  inputShape: InputShape;
  seed: Seed;
  /** the defaults overridden by the config's options, type-checked against the defaults */
  options: Readonly<AttackOptions>;
}

export type AttackParts = Omit<StaticAttack, 'name' | 'rule' | 'config'>;

export interface AttackDefinition {
  /** every option the attack accepts, with its default value */
  defaults: Readonly<AttackOptions>;
  /** where each default comes from (paper, reference code, BackdoorBench, or our choice) */
  provenance: Readonly<Record<string, string>>;
  /**
   * Fills in what the option values alone do not identify, before the config is keyed (a
   * pattern file's checksum); the identity when absent.
   */
  resolve?(options: AttackOptions): AttackOptions;
  build(ctx: AttackBuildContext): AttackParts;
}

const REGISTRY = new Map<string, AttackDefinition>();

/** Adds an attack under a new name; other modules (the dynamic attack) register themselves. */
export function registerAttack(name: string, definition: AttackDefinition): void {
  if (REGISTRY.has(name)) throw new Error(`registerAttack: an attack named '${name}' is already registered`);
  REGISTRY.set(name, definition);
}

export function attackNames(): string[] {
  return [...REGISTRY.keys()];
}

export function attackDefinition(name: string): AttackDefinition {
  const def = REGISTRY.get(name);
  if (!def) throw new Error(`attack: unknown attack '${name}'; expected one of ${attackNames().join(', ')}`);
  return def;
}

/** The config with every default filled in and every option checked by name and type. */
export function resolveAttackConfig(config: AttackConfig): Required<AttackConfig> {
  const def = attackDefinition(config.name);
  validateLabelRule(config.rule);
  const inputShape = validateInputShape(config.inputShape, config.name);
  const given = config.options ?? {};
  for (const [key, value] of Object.entries(given)) {
    if (!(key in def.defaults)) {
      throw new Error(`attack '${config.name}': unknown option '${key}'; valid options: ${Object.keys(def.defaults).join(', ')}`);
    }
    const expected = typeof def.defaults[key];
    if (typeof value !== expected) throw new Error(`${config.name}.${key}: expected a ${expected}, got ${JSON.stringify(value)}`);
  }
  const merged = { ...def.defaults, ...given };
  const options = def.resolve ? def.resolve(merged) : merged;
  const { mode, target, numClasses } = config.rule;
  return { name: config.name, rule: { mode, target, numClasses }, inputShape, seed: config.seed, options };
}

export function buildAttack(config: AttackConfig): StaticAttack {
  const resolved = resolveAttackConfig(config);
  const { rule, inputShape, seed, options } = resolved;
  const parts = attackDefinition(resolved.name).build({ rule, inputShape, seed, options });
  if ((parts.crossRatio > 0) !== (parts.applyCross !== undefined)) {
    throw new Error(`attack '${resolved.name}': a cross ratio needs a noise-mode warp and vice versa`);
  }
  return { name: resolved.name, rule, config: resolved, ...parts };
}

/** The trigger's own stream, so the poisoning draws (made elsewhere) never shift it. */
function triggerRng(seed: Seed): Rng {
  return new Rng(seed).fork('trigger');
}

const num = (o: Readonly<AttackOptions>, k: string) => o[k] as number;

registerAttack('badnets', {
  defaults: { patchSize: 3 },
  provenance: { patchSize: 'paper and reference code: a 3×3 checkerboard in the bottom-right corner' },
  build: ({ inputShape, options }) => ({
    trigger: badnetsTrigger(inputShape, { patchSize: num(options, 'patchSize') }),
    cleanLabel: false,
    crossRatio: 0,
  }),
});

registerAttack('blend', {
  defaults: { alpha: 0.2, pattern: NOISE_PATTERN, patternSha256: '' },
  provenance: {
    alpha: 'BackdoorBench (the reference code blends with 0.1)',
    pattern: 'ours: seeded uniform noise (the reference code uses a cartoon image); or a PNG/JPEG path',
    patternSha256: 'filled in from the pattern file, so the cache key changes with its contents',
  },
  resolve(options) {
    const pattern = options.pattern as string;
    if (pattern === NOISE_PATTERN) return { ...options, patternSha256: '' };
    let digest: string;
    try {
      digest = sha256(fs.readFileSync(pattern));
    } catch (e) {
      throw new Error(`blend.pattern: cannot read the pattern image '${pattern}': ${(e as Error).message}`);
    }
    if (options.patternSha256 !== '' && options.patternSha256 !== digest) {
      throw new Error(`blend.pattern: '${pattern}' has sha256 ${digest}, but the config records ${String(options.patternSha256)} (the file changed)`);
    }
    return { ...options, patternSha256: digest };
  },
  build: ({ inputShape, seed, options }) => ({
    trigger: blendTrigger(inputShape, { alpha: num(options, 'alpha'), pattern: options.pattern as string }, triggerRng(seed)),
    cleanLabel: false,
    crossRatio: 0,
  }),
});

registerAttack('sig', {
  defaults: { delta: 20 / 255, frequency: 6, cleanLabel: true },
  provenance: {
    delta:
      'the SIG paper’s training amplitude 20/255, also the reference code’s PBE path (its create_bd.py uses 10/255; BackdoorBench 40/255)',
    frequency: 'paper and reference code',
    cleanLabel: 'paper (clean-label); false relabels to the target as the reference code’s PBE path does',
  },
  build: ({ rule, inputShape, options }) => {
    const cleanLabel = options.cleanLabel as boolean;
    if (cleanLabel && rule.mode !== 'all2one') {
      throw new Error(`sig.cleanLabel: a clean-label attack poisons the target class only, so it needs mode 'all2one' (got '${rule.mode}'); set cleanLabel false for all-to-all`);
    }
    return {
      trigger: sigTrigger(inputShape, { delta: num(options, 'delta'), frequency: num(options, 'frequency') }),
      cleanLabel,
      crossRatio: 0,
    };
  },
});

registerAttack('wanet', {
  defaults: { k: 4, s: 0.5, crossRatio: 2 },
  provenance: {
    k: 'WaNet paper, reference code and BackdoorBench',
    s: 'WaNet paper, reference code and BackdoorBench',
    crossRatio: 'WaNet paper and BackdoorBench: noise-mode images = 2 × poisoned images',
  },
  build: ({ inputShape, seed, options }) => {
    const crossRatio = num(options, 'crossRatio');
    if (!(Number.isFinite(crossRatio) && crossRatio >= 0)) throw new Error(`wanet.crossRatio: expected a number ≥ 0, got ${crossRatio}`);
    const trigger = wanetTrigger(inputShape, { k: num(options, 'k'), s: num(options, 's') }, triggerRng(seed));
    return {
      trigger,
      cleanLabel: false,
      crossRatio,
      applyCross: crossRatio > 0 ? (x, rng) => trigger.applyNoisy(x, rng) : undefined,
    };
  },
});
