// The whole local stack: gpu-service (star-tiny on CPU) and the edge Worker in
// workerd (`wrangler dev --local`) with matching secrets and a dev API key.
// `npm start` runs it for people; the e2e, browser and load tests run it on
// free ports with throwaway state.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { assertPortFree, startService, waitUntilReady, type Service } from './processes.ts';

export const ROOT = join(import.meta.dirname, '../..');

export interface StackOptions {
  edgePort: number;
  gpuPort: number;
  /** Local KV/R2/Durable Object state and the dev secrets live here. */
  stateDir: string;
  /** Prefix and print both services' logs. */
  echo?: boolean;
  /** Extra environment for the gpu-service (MAX_BATCH, QUEUE_LIMIT, ...). */
  gpuEnv?: Record<string, string>;
  /** Limits of the dev key (defaults: the free tier's). */
  keyLimits?: { requests?: number; images?: number; concurrent?: number; window?: number };
  /** The GPU_SERVICE_URL the edge calls, when not the gpu-service itself (fault tests put a proxy there). */
  edgeGpuUrl?: string;
  /** Extra edge variables, written into its env file (e.g. GPU_TIMEOUT_MS for fault tests). */
  edgeVars?: Record<string, string>;
  /** Local development only: let webhooks reach http and loopback receivers (ALLOW_PRIVATE_WEBHOOKS). */
  localWebhooks?: boolean;
}

export interface Stack {
  edgeUrl: string;
  gpuUrl: string;
  apiKey: string;
  /** The dev key's webhook signing secret (`whsec_…`). */
  webhookSecret: string;
  gpu: Service;
  edge: Service;
  secrets: DevSecrets;
  /** Stops the gpu-service only (fault tests); `restartGpu` brings it back on the same port. */
  restartGpu(): Promise<void>;
  createKey(limits?: StackOptions['keyLimits']): Promise<string>;
  /** Stops the edge (SIGTERM, or `signal`) and starts it again on the same port and state folder. */
  restartEdge(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export interface DevSecrets {
  GPU_SHARED_SECRET: string;
  URL_SIGNING_KEY: string;
}

/** Secrets for local use, generated once per state folder and reused (so cached image keys stay valid). */
function devSecrets(stateDir: string): DevSecrets {
  const file = join(stateDir, 'secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
  const secrets = { GPU_SHARED_SECRET: randomBytes(32).toString('hex'), URL_SIGNING_KEY: randomBytes(32).toString('hex') };
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}

interface DevKey {
  key: string;
  webhook_secret: string;
}

async function createDevKey(stateDir: string, name: string, limits: StackOptions['keyLimits'] = {}): Promise<DevKey> {
  const args = [join(ROOT, 'edge/scripts/keys.ts'), 'create', '--name', name, '--persist-to', join(stateDir, 'wrangler')];
  if (limits.requests) args.push('--requests', String(limits.requests));
  if (limits.images) args.push('--images', String(limits.images));
  if (limits.concurrent) args.push('--concurrent', String(limits.concurrent));
  if (limits.window) args.push('--window', String(limits.window));
  // Local KV writes can fail while `wrangler dev` holds the same store busy; a moment later they pass.
  for (let attempt = 1; ; attempt++) {
    try {
      const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: ROOT });
      return JSON.parse(stdout) as DevKey;
    } catch (error) {
      if (attempt === 3) throw new Error(`creating a dev API key failed: ${String((error as { stderr?: string }).stderr ?? error).trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

function startGpuService(options: StackOptions, secrets: DevSecrets): Service {
  return startService({
    name: 'gpu-service',
    command: process.execPath,
    args: [join(ROOT, 'gpu-service/src/server/main.ts')],
    cwd: ROOT,
    echo: options.echo,
    env: {
      MODELS: 'star-tiny',
      DEVICE: 'cpu',
      ...options.gpuEnv,
      HOST: '127.0.0.1',
      PORT: String(options.gpuPort),
      GPU_SHARED_SECRET: secrets.GPU_SHARED_SECRET,
    },
  });
}

export async function startStack(options: StackOptions): Promise<Stack> {
  await assertPortFree(options.edgePort, 'edge');
  await assertPortFree(options.gpuPort, 'gpu-service');
  const secrets = devSecrets(options.stateDir);
  const gpuUrl = `http://127.0.0.1:${options.gpuPort}`;
  const edgeUrl = `http://127.0.0.1:${options.edgePort}`;
  const envFile = join(options.stateDir, 'edge.env');
  const vars = { ...options.edgeVars, ...(options.localWebhooks ? { ALLOW_PRIVATE_WEBHOOKS: 'true' } : {}) };
  const edgeVars = Object.entries(vars)
    .map(([name, value]) => `${name}=${value}\n`)
    .join('');
  writeFileSync(
    envFile,
    `GPU_SERVICE_URL=${options.edgeGpuUrl ?? gpuUrl}\nGPU_SHARED_SECRET=${secrets.GPU_SHARED_SECRET}\nURL_SIGNING_KEY=${secrets.URL_SIGNING_KEY}\nPUBLIC_ORIGIN=${edgeUrl}\n${edgeVars}`,
    { mode: 0o600 },
  );

  let gpu = startGpuService(options, secrets);
  let devKey: DevKey;
  try {
    devKey = await createDevKey(options.stateDir, 'dev', options.keyLimits);
  } catch (error) {
    // A gpu-service left running keeps its parent (a test file) alive forever.
    await gpu.stop();
    throw error;
  }
  const startEdge = () =>
    startService({
      name: 'edge',
      command: process.execPath,
      args: [
        join(ROOT, 'node_modules/wrangler/bin/wrangler.js'),
        'dev',
        '--config',
        join(ROOT, 'wrangler.toml'),
        '--local',
        '--ip',
        '127.0.0.1',
        '--port',
        String(options.edgePort),
        '--persist-to',
        join(options.stateDir, 'wrangler'),
        '--env-file',
        envFile,
        '--show-interactive-dev-session=false',
        '--log-level',
        'warn',
      ],
      cwd: ROOT,
      echo: options.echo,
      env: { CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
    });
  let edge = startEdge();
  const stack: Stack = {
    edgeUrl,
    gpuUrl,
    secrets,
    apiKey: devKey.key,
    webhookSecret: devKey.webhook_secret,
    get gpu() {
      return gpu;
    },
    get edge() {
      return edge;
    },
    async restartEdge(signal) {
      await edge.stop(signal);
      edge = startEdge();
      await waitUntilReady(edge, `${edgeUrl}/healthz`, 120_000);
    },
    async restartGpu() {
      await gpu.stop();
      gpu = startGpuService(options, secrets);
      await waitUntilReady(gpu, `${gpuUrl}/readyz`, 120_000);
    },
    createKey: async (limits) => (await createDevKey(options.stateDir, `test-${Date.now()}`, limits)).key,
    async stop() {
      await Promise.all([edge.stop(), gpu.stop()]);
    },
  };
  try {
    await Promise.all([waitUntilReady(gpu, `${gpuUrl}/readyz`, 120_000), waitUntilReady(edge, `${edgeUrl}/healthz`, 120_000)]);
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return stack;
}
