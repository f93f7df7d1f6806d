import { DefinitionRegistry } from '../../registry';
import { registerAllAttacks } from './all';
import type { AttackConfig, AttackDefinition, AttackOptions, AttackRequest, StampOrder, StaticAttack } from './attack';
import { validateInputShape } from './checks';
import { DEFAULT_STAMP_ORDER, STAMP_ORDERS } from './stamping';
import { validateLabelRule } from './trigger';

/** The attack catalogue; its entries (all.ts) are registered on first use. */
const ATTACKS = new DefinitionRegistry<AttackDefinition>('attack', () => registerAllAttacks(registerAttack));

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

/**
 * The order a request trains with, its default filled in and checked. The dynamic attack makes
 * its trigger from each augmented image while it trains, so it has no before-augment order.
 */
export function stampOrderOf(request: Pick<AttackRequest, 'name' | 'stamp'>): StampOrder {
  const order = request.stamp ?? DEFAULT_STAMP_ORDER;
  if (!STAMP_ORDERS.includes(order)) throw new Error(`attack stamp order: expected one of ${STAMP_ORDERS.join(', ')}, got '${String(order)}'`);
  if (order !== 'after-augment' && attackDefinition(request.name).train) {
    throw new Error(
      `attack stamp order '${order}': '${request.name}' generates its trigger from each augmented image while it trains, so only 'after-augment' applies`,
    );
  }
  return order;
}

/**
 * A request as the experiments' cache keys name it: {} for no options and the stamp order filled
 * in, so a call that leaves either out shares the entry of one that spells the default. The keys
 * of results computed hours ago depend on this shape; test/attacks/registry.test.ts pins it.
 */
export function attackIdentity<R extends Pick<AttackRequest, 'name' | 'stamp' | 'options'>>(
  request: R,
): Omit<R, 'options' | 'stamp'> & { options: AttackOptions; stamp: StampOrder } {
  return { ...request, options: request.options ?? {}, stamp: stampOrderOf(request) };
}
