import { ANP } from './anp';
import type { DefenseDefinition, DefenseOptions } from './defense';
import { FINE_PRUNING } from './fine-pruning';
import { FINE_TUNING } from './fine-tuning';
import { NAD } from './nad';
import { NEURAL_CLEANSE } from './neural-cleanse';
import { PBE } from './pbe';

/**
 * Every defense the library ships under the paper's column keys, PBE first and then the five
 * baselines in the paper's order: the defense registry (registry.ts) calls this once, on first
 * use, as tfjs registers its kernels (register_all_kernels).
 */
export function registerAllDefenses(register: <O extends DefenseOptions, I>(name: string, definition: DefenseDefinition<O, I>) => void): void {
  register('pbe', PBE);
  register('ft', FINE_TUNING);
  register('fp', FINE_PRUNING);
  register('nad', NAD);
  register('nc', NEURAL_CLEANSE);
  register('anp', ANP);
}
