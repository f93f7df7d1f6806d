export * from './defense';
export * from './registry';
export * from './clean-set';
export * from './baselines';
