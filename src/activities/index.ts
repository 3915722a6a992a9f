export * from './worker-info';
