import type { AttackDefinition } from './attack';
import { badnetsAttack } from './badnets';
import { blendAttack } from './blend';
import { dynamicAttack } from './dynamic/strategy';
import { sigAttack } from './sig';
import { wanetAttack } from './wanet';

/**
 * Every attack the library ships, in the order the CLI lists them: the attack registry
 * (registry.ts) calls this once, on first use, as tfjs registers its kernels (register_all_kernels).
 */
export function registerAllAttacks(register: (name: string, definition: AttackDefinition) => void): void {
  register('badnets', badnetsAttack);
  register('blend', blendAttack);
  register('sig', sigAttack);
  register('wanet', wanetAttack);
  register('dynamic', dynamicAttack);
}
