// Deploy settings, read from the environment once and checked. They reach
// modal_app.py as the environment of `modal deploy` (same variable names), and
// the JS SDK calls (warm, bench) directly.

export interface ModalSettings {
  appName: string;
  /** Registry tag of the image built from gpu-service/Dockerfile. */
  image: string;
  gpu: string;
  minContainers: number;
  maxContainers: number;
  scaledownWindowS: number;
  /** Modal Secret holding GPU_SHARED_SECRET. */
  secretName: string;
  /** Modal Volume with released weights, mounted at /models. */
  weightsVolume: string;
  /** Modal Volume for the built ONNX graphs, mounted at /var/cache/star (the image's STAR_CACHE_DIR): later containers skip the build. */
  cacheVolume: string;
  /** Concurrent requests one container accepts (they feed its micro-batcher). */
  maxInputs: number;
  models: string;
  maxBatch: number;
}

/** The function name in modal_app.py. */
export const WEB_FUNCTION = 'serve';

/** Defaults; modal_app.py repeats them for hand deploys (a test keeps both equal). */
export const DEFAULT_ENV = {
  MODAL_APP_NAME: 'star-gpu-service',
  STAR_IMAGE: 'ghcr.io/star-api/gpu-service:latest',
  MODAL_GPU: 'L40S',
  MODAL_MIN_CONTAINERS: '0',
  MODAL_MAX_CONTAINERS: '4',
  MODAL_SCALEDOWN_WINDOW_S: '300',
  MODAL_SECRET_NAME: 'star-gpu-service',
  MODAL_WEIGHTS_VOLUME: 'star-weights',
  MODAL_CACHE_VOLUME: 'star-graph-cache',
  MODAL_MAX_INPUTS: '64',
  MODELS: 'star-tiny',
  MAX_BATCH: '16',
} as const;

type Env = Record<string, string | undefined>;

function count(env: Env, name: keyof typeof DEFAULT_ENV, min: number): number {
  const raw = env[name] || DEFAULT_ENV[name];
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new Error(`${name} must be a whole number ≥ ${min}, got "${raw}"`);
  return Number(raw);
}

export function loadModalSettings(env: Env): ModalSettings {
  const value = (name: keyof typeof DEFAULT_ENV) => env[name] || DEFAULT_ENV[name];
  const settings: ModalSettings = {
    appName: value('MODAL_APP_NAME'),
    image: value('STAR_IMAGE'),
    gpu: value('MODAL_GPU'),
    minContainers: count(env, 'MODAL_MIN_CONTAINERS', 0),
    maxContainers: count(env, 'MODAL_MAX_CONTAINERS', 1),
    scaledownWindowS: count(env, 'MODAL_SCALEDOWN_WINDOW_S', 2),
    secretName: value('MODAL_SECRET_NAME'),
    weightsVolume: value('MODAL_WEIGHTS_VOLUME'),
    cacheVolume: value('MODAL_CACHE_VOLUME'),
    maxInputs: count(env, 'MODAL_MAX_INPUTS', 1),
    models: value('MODELS'),
    maxBatch: count(env, 'MAX_BATCH', 1),
  };
  if (settings.minContainers > settings.maxContainers) {
    throw new Error(`MODAL_MIN_CONTAINERS (${settings.minContainers}) exceeds MODAL_MAX_CONTAINERS (${settings.maxContainers})`);
  }
  return settings;
}

/** The environment `modal deploy` runs with, so modal_app.py sees exactly these settings. */
export function deployEnvironment(settings: ModalSettings): Record<keyof typeof DEFAULT_ENV, string> {
  return {
    MODAL_APP_NAME: settings.appName,
    STAR_IMAGE: settings.image,
    MODAL_GPU: settings.gpu,
    MODAL_MIN_CONTAINERS: String(settings.minContainers),
    MODAL_MAX_CONTAINERS: String(settings.maxContainers),
    MODAL_SCALEDOWN_WINDOW_S: String(settings.scaledownWindowS),
    MODAL_SECRET_NAME: settings.secretName,
    MODAL_WEIGHTS_VOLUME: settings.weightsVolume,
    MODAL_CACHE_VOLUME: settings.cacheVolume,
    MODAL_MAX_INPUTS: String(settings.maxInputs),
    MODELS: settings.models,
    MAX_BATCH: String(settings.maxBatch),
  };
}
