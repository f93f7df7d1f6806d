import * as fs from 'node:fs';
import type * as tf from '@tensorflow/tfjs-core';
import { sha256 } from '../../cache';
import { DefinitionRegistry, type Definition, type Options } from '../../registry';
import { Rng, type Seed } from '../../rng';
import { badnetsTrigger } from './badnets';
import { blendTrigger, NOISE_PATTERN } from './blend';
import { type InputShape, validateInputShape } from './checks';
import { dynamicAttack } from './dynamic/strategy';
import type { InfectedTrainer } from './infected';
import { sigTrigger } from './sig';
import { type LabelRule, type Trigger, validateLabelRule } from './trigger';
import { wanetTrigger } from './wanet';

/** Attack options are flat JSON values, so a whole AttackConfig can go into a cache key. */
export type AttackOptions = Options;

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
  /** a clean-label attack's largest poisoned share of the target class, in (0, 1]; absent otherwise */
  targetShare?: number;
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

/**
 * An attack: its options (defaults with provenance, see src/registry.ts) and either `build`, for
 * a static trigger that poisons the training set once, or `train`, for an attack that learns its
 * trigger with the classifier and so brings its own training strategy (the dynamic attack).
 */
export interface AttackDefinition extends Definition<AttackOptions> {
  /**
   * Fills in what the option values alone do not identify, before the config is keyed (a
   * pattern file's checksum); the identity when absent.
   */
  resolve?(options: AttackOptions): AttackOptions;
  build?(ctx: AttackBuildContext): AttackParts;
  train?: InfectedTrainer;
}

const ATTACKS = new DefinitionRegistry<AttackDefinition>('attack');

export function registerAttack(name: string, definition: AttackDefinition): void {
  if ((definition.build === undefined) === (definition.train === undefined)) {
    throw new Error(`registerAttack '${name}': give either build (a static trigger) or train (a training strategy)`);
  }
  ATTACKS.register(name, definition);
}

export function attackNames(): string[] {
  return ATTACKS.names();
}

export function attackDefinition(name: string): AttackDefinition {
  return ATTACKS.get(name);
}

/** Where each of an attack's option values comes from. */
export function attackProvenance(name: string, options?: AttackOptions): Record<string, string> {
  return ATTACKS.provenance(name, options);
}

/** The config with every default filled in and every option checked by name and type. */
export function resolveAttackConfig(config: AttackConfig): Required<AttackConfig> {
  const def = attackDefinition(config.name);
  validateLabelRule(config.rule);
  const inputShape = validateInputShape(config.inputShape, config.name);
  const merged = ATTACKS.resolve(config.name, config.options);
  const options = def.resolve ? def.resolve(merged) : merged;
  const { mode, target, numClasses } = config.rule;
  return { name: config.name, rule: { mode, target, numClasses }, inputShape, seed: config.seed, options };
}

export function buildAttack(config: AttackConfig): StaticAttack {
  const resolved = resolveAttackConfig(config);
  const { rule, inputShape, seed, options } = resolved;
  const { build } = attackDefinition(resolved.name);
  if (!build) throw new Error(`attack '${resolved.name}' learns its trigger while the classifier trains (trainInfected); it has no static trigger to build`);
  const parts = build({ rule, inputShape, seed, options });
  if (parts.crossRatio > 0 !== (parts.applyCross !== undefined)) {
    throw new Error(`attack '${resolved.name}': a cross ratio needs a noise-mode warp and vice versa`);
  }
  return { name: resolved.name, rule, config: resolved, ...parts };
}

/**
 * Checks an attack as asked for before any training starts (name, label rule, every option); a
 * static attack's trigger is built once and released, so its own checks run too.
 */
export function checkAttack(config: AttackConfig): void {
  if (attackDefinition(config.name).build) buildAttack(config).trigger.dispose();
  else resolveAttackConfig(config);
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
      throw new Error(`blend.pattern: cannot read the pattern image '${pattern}': ${(e as Error).message}`, { cause: e });
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
  defaults: { delta: 20 / 255, frequency: 6, cleanLabel: true, targetShare: 1 },
  provenance: {
    delta: 'the SIG paper’s training amplitude 20/255, also the reference code’s PBE path (its create_bd.py uses 10/255; BackdoorBench 40/255)',
    frequency: 'paper and reference code',
    cleanLabel: 'paper (clean-label); false relabels to the target as the reference code’s PBE path does (with delta 20/255, the default)',
    targetShare:
      'paper: clean-label at poison ratio 10%, which on a balanced 10-class set is the whole target class; below 1 caps the poisoned share of the target class so the model also sees clean images of it, as the SIG paper poisons a fraction of the class',
  },
  build: ({ rule, inputShape, options }) => {
    const cleanLabel = options.cleanLabel as boolean;
    const targetShare = num(options, 'targetShare');
    if (cleanLabel && rule.mode !== 'all2one') {
      throw new Error(
        `sig.cleanLabel: a clean-label attack poisons the target class only, so it needs mode 'all2one' (got '${rule.mode}'); set cleanLabel false for all-to-all`,
      );
    }
    if (!(Number.isFinite(targetShare) && targetShare > 0 && targetShare <= 1))
      throw new Error(`sig.targetShare: expected a number in (0, 1], got ${targetShare}`);
    if (!cleanLabel && targetShare !== 1) {
      throw new Error(
        `sig.targetShare: applies to the clean-label attack only (it poisons the target class); with cleanLabel false the poison ratio alone sets the count, got targetShare ${targetShare}`,
      );
    }
    return {
      trigger: sigTrigger(inputShape, { delta: num(options, 'delta'), frequency: num(options, 'frequency') }),
      cleanLabel,
      ...(cleanLabel ? { targetShare } : {}),
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

registerAttack('dynamic', dynamicAttack);
