export * from './connectivity-check';
export * from './migrate-vm';
export * from './shared-resources';
export * from './migrate-fleet';
export * from './discover';
