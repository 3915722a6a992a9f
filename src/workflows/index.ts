export * from './connectivity-check';
export * from './migrate-vm';
export * from './shared-resource-lock';
export * from './migrate-fleet';
export * from './discover';
