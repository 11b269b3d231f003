// Service configuration: read from the environment once at start, checked,
// then passed down as this typed object. Nothing else reads process.env.
import { DEVICES, type Device, PRECISIONS, type Precision, runsOn } from '../engine/onnx/target.ts';

export interface ServiceConfig {
  /** Models preloaded at start; requests for others get 404. */
  models: string[];
  device: Device;
  /** The engine's compute precision; undefined ⇒ its default for the device (fp32 on CPU, fp16 on CUDA). */
  precision: Precision | undefined;
  /** Most images one engine run may hold. */
  maxBatch: number;
  /** Most requests waiting (not yet running) before new ones get 503. */
  queueLimit: number;
  requestTimeoutMs: number;
  /** How long a request waits for same-model company before its batch starts. */
  batchWindowMs: number;
  /** A keep-alive line is written while an answer is otherwise quiet this long, so proxies keep it open. */
  keepAliveMs: number;
  sharedSecret: string;
  port: number;
  host: string;
  /** Where released weights live; undefined ⇒ the engine's default (star-tiny is embedded). */
  modelDir: string | undefined;
  /** Module exporting `loadPipeline`; only tests point it elsewhere. */
  engineModule: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const DEFAULT_ENGINE_MODULE = new URL('../engine/pipeline.ts', import.meta.url).href;

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function modelList(env: Env): string[] {
  const names = (env.MODELS ?? 'star-tiny')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.length === 0) throw new ConfigError('MODELS must name at least one model, e.g. MODELS=star-tiny');
  for (const name of names) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new ConfigError(`MODELS has an invalid model name "${name}"`);
  }
  return [...new Set(names)];
}

function device(env: Env): Device {
  const value = env.DEVICE ?? 'cpu';
  const known = DEVICES.find((d) => d === value);
  if (!known) throw new ConfigError(`DEVICE must be one of ${DEVICES.map((d) => `"${d}"`).join(', ')}, got "${value}"`);
  return known;
}

function precision(env: Env, device: Device): Precision | undefined {
  const value = env.PRECISION;
  if (value === undefined || value === '') return undefined;
  const known = PRECISIONS.find((p) => p === value);
  if (!known) throw new ConfigError(`PRECISION must be one of ${PRECISIONS.map((p) => `"${p}"`).join(', ')}, got "${value}"`);
  if (!runsOn(known, device)) throw new ConfigError(`PRECISION=${known} runs on DEVICE=cpu only`);
  return known;
}

function sharedSecret(env: Env): string {
  const secret = env.GPU_SHARED_SECRET;
  // The message never includes the value, only what is wrong with it.
  if (secret === undefined || secret === '') throw new ConfigError('GPU_SHARED_SECRET is required (at least 32 characters)');
  if (secret.length < 32) throw new ConfigError(`GPU_SHARED_SECRET must be at least 32 characters, got ${secret.length}`);
  return secret;
}

export function loadConfig(env: Env): ServiceConfig {
  const onDevice = device(env);
  return {
    models: modelList(env),
    device: onDevice,
    precision: precision(env, onDevice),
    maxBatch: integer(env, 'MAX_BATCH', 8, 1, 256),
    queueLimit: integer(env, 'QUEUE_LIMIT', 64, 1, 100_000),
    requestTimeoutMs: integer(env, 'REQUEST_TIMEOUT_MS', 120_000, 1, 3_600_000),
    batchWindowMs: integer(env, 'BATCH_WINDOW_MS', 5, 0, 10_000),
    keepAliveMs: integer(env, 'KEEP_ALIVE_MS', 15_000, 100, 600_000),
    sharedSecret: sharedSecret(env),
    port: integer(env, 'PORT', 8788, 0, 65_535),
    host: env.HOST || '0.0.0.0',
    modelDir: env.MODEL_DIR || undefined,
    engineModule: env.ENGINE_MODULE ? new URL(env.ENGINE_MODULE, `file://${process.cwd()}/`).href : DEFAULT_ENGINE_MODULE,
  };
}
