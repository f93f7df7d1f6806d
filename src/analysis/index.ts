export * from './batches';
export * from './budget-sweep';
export * from './defense-stages';
export * from './feature-distance';
export * from './label-matrix';
export * from './pbe-ranking';
export * from './theorem1';
export * from './tsne';
