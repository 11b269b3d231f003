// Of the models the catalogue knows (@star-api/contract), the ones this deployment serves: what the
// gpu-service's readiness probe names (gpu/served-models.ts).
import { findModel, MODELS } from '@star-api/contract';
import type { Config } from './env.ts';
import type { Model } from './schemas.gen.ts';
import { ProblemError } from './problems/index.ts';
import { servedModels } from './gpu/served-models.ts';

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
