// The models the edge knows (resolution, scales, description) and, of those, the ones this
// deployment serves: what the gpu-service's readiness probe names (gpu/served-models.ts). Sides per
// scale are the released configs' patch_nums (STAR-SPEC §1.2).
import type { Config } from './env.ts';
import type { Model } from './schemas.gen.ts';
import { ProblemError } from './problems/index.ts';
import { servedModels } from './gpu/served-models.ts';

export interface ModelInfo {
  id: string;
  resolution: number;
  scales: number[];
  description: string;
}

export const MODELS: readonly ModelInfo[] = [
  {
    id: 'star-tiny',
    resolution: 64,
    scales: [1, 2, 3, 4, 6, 8],
    description: 'A tiny embedded STAR model trained on 192 emoji, for development and tests (64², 6 scales).',
  },
  { id: 'star-256-d16', resolution: 256, scales: [1, 2, 3, 4, 5, 6, 8, 10, 13, 16], description: 'STAR 256², depth 16.' },
  { id: 'star-256-d30', resolution: 256, scales: [1, 2, 3, 4, 5, 6, 8, 10, 13, 16], description: 'STAR 256², depth 30.' },
  { id: 'star-512-d30', resolution: 512, scales: [1, 2, 3, 4, 6, 9, 13, 18, 24, 32], description: 'STAR 512², depth 30.' },
  {
    id: 'star-1024-d30',
    resolution: 1024,
    scales: [1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64],
    description: 'STAR 1024², depth 30.',
  },
  {
    id: 'star-1024-sampler',
    resolution: 1024,
    scales: [1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64],
    description: 'STAR 1024², depth 30, with the sampler head.',
  },
];

export function findModel(id: string): ModelInfo | undefined {
  return MODELS.find((model) => model.id === id);
}

export function modelNotFound(id: string): ProblemError {
  return new ProblemError('model_not_found', `The model "${id}" is not served by this deployment; GET /v1/models lists those that are`, {
    errors: [{ path: 'model', message: 'not served' }],
  });
}

/**
 * Refuses, before anything is charged or queued, a model the edge does not know or the
 * gpu-service does not serve. Should the service never have answered its probe, known models pass
 * and the GPU call itself reports what is wrong.
 */
export async function assertServed(config: Config, id: string): Promise<void> {
  if (!findModel(id)) throw modelNotFound(id);
  const served = await servedModels(config);
  if (served && !served.has(id)) throw modelNotFound(id);
}

/** GET /v1/models: the known models the gpu-service serves; 503 until it has said which. */
export async function modelList(config: Config): Promise<Model[]> {
  const served = await servedModels(config);
  if (!served)
    throw new ProblemError('gpu_unavailable', 'The GPU service has not said which models it serves yet; retry later', { retryAfter: 5 });
  return MODELS.filter((model) => served.has(model.id)).map((model) => ({
    id: model.id,
    object: 'model',
    resolution: model.resolution,
    scales: [...model.scales],
    default: model.id === config.defaultModel,
    description: model.description,
  }));
}
