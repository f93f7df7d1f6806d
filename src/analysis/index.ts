export * from './batches';
export * from './budget-sweep';
export * from './feature-distance';
export * from './label-matrix';
export * from './theorem1';
export * from './tsne';
export * from './epoch-curve';
