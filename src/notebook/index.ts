export * from './display';
export * from './figures';
export * from './measured';
export * from './settings';
export * from './defenses';
