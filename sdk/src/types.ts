// Friendly names for the generated contract types. Nothing here is written
// by hand beyond picking and naming: schema.d.ts is generated from
// openapi.yaml (`npm run generate -w sdk`).
import type { components, paths } from './schema.js';

type Schemas = components['schemas'];

export type GenerationRequest = Schemas['GenerationRequest'];
export type GenerationResponse = Schemas['GenerationResponse'];
export type Image = Schemas['Image'];
export type Timings = Schemas['Timings'];
export type JobCreateRequest = Schemas['JobCreateRequest'];
export type Job = Schemas['Job'];
export type JobStatus = Schemas['JobStatus'];
export type JobEvent = Schemas['JobEvent'];
export type JobStateEventData = Schemas['JobStateEventData'];
export type JobProgressEventData = Schemas['JobProgressEventData'];
export type Model = Schemas['Model'];
export type ModelList = Schemas['ModelList'];
export type Problem = Schemas['Problem'];
export type ProblemType = Schemas['ProblemType'];

type RenderQuery = NonNullable<paths['/v1/render']['get']['parameters']['query']>;

/** What a render URL draws: `GET /v1/render`'s query minus the signature fields. */
export type RenderParams = Omit<RenderQuery, 'kid' | 'exp' | 'sig'>;

export type { components, paths };
