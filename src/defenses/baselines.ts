/**
 * The five baselines the paper compares PBE with, each given the same clean extra set, each
 * listed in the defense catalogue (all.ts) under the paper's column key: ft, fp, nad, nc, anp.
 */
export * from './fine-tuning';
export * from './fine-pruning';
export * from './nad';
export * from './neural-cleanse';
export * from './anp';
export * from './baseline-run';
export * from './anomaly-index';
export * from './attention';
export * from './channel-pruning';
export * from './neuron-perturbation';
export * from './reverse-trigger';
