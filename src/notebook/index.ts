export * from './display';
export * from './figures';
export * from './defense-display';
