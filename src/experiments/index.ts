export * from './output';
export * from './observe';
export * from './pgd';
export * from './theorem1';
export * from './defend';
export * from './training';
export * from './compare';
export * from './observation-epochs';
