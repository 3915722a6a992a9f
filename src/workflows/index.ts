export * from './connectivity-check';
export * from './migrate-vm';
