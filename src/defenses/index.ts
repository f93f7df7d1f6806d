export * from './defense';
export * from './registry';
export * from './clean-set';
export * from './pbe';
export * from './pbe-analysis';
export * from './pgd-budget';
export * from './pgd-budget-rule';
export * from './baselines';
