export * from './frames.ts';
export * from './internal-api.ts';
export * from './models.ts';
export * from './seeds.ts';
