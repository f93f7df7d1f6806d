/**
 * The public entry of pbe-lab: `import * as pbe from 'pbe-lab'` (or from `./src` inside the repo)
 * gives a notebook or a script everything it needs without deep imports.
 */
export * from './backend';
export * from './cache';
export * from './rng';
export * from './progress';
export * from './data/dataset';
export * from './data/registry';
export * from './train/profiles';
export * from './train/trainer';
export * from './train/run';
export * from './models/model';
export * from './attacks/backdoor/registry';
export * from './attacks/backdoor/run';
export * from './attacks/adversarial/pgd';
export * from './analysis';
export * from './plots/vega';
export * from './paper/numbers';
export * from './experiments';
export * from './defenses';
export * from './notebook';
export * from './attacks/backdoor/gallery';
