export * from './connectivity-check';
