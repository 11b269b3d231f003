// The deploy commands. Each takes its collaborators (Modal gateway, process
// runner, fetch, output) so tests can record what it would do; with dryRun it
// prints the plan and touches no network, no SDK and no CLI.
import { fileURLToPath } from 'node:url';
import { signedHeaders } from '../src/server/auth.ts';
import type { ModalGateway } from './modal-gateway.ts';
import { deployEnvironment, WEB_FUNCTION } from './settings.ts';
import type { ModalSettings } from './settings.ts';

export const MODAL_APP_FILE = fileURLToPath(new URL('./modal_app.py', import.meta.url));

export interface CommandIo {
  log(line: string): void;
  /** Runs a program to completion with extra environment; resolves its exit code. */
  run(program: string, args: string[], env: Record<string, string>): Promise<number>;
  fetch: typeof fetch;
  sleep(ms: number): Promise<void>;
  gateway(): Promise<ModalGateway>;
}

export interface CommandOptions {
  dryRun: boolean;
}

/** `modal deploy deploy/modal_app.py` with the settings in its environment. */
export async function deployCommand(settings: ModalSettings, io: CommandIo, options: CommandOptions): Promise<void> {
  const env = deployEnvironment(settings);
  io.log(`plan: deploy Modal app "${settings.appName}" from ${MODAL_APP_FILE}`);
  io.log(
    `  image ${settings.image} on ${settings.gpu}, containers ${settings.minContainers}..${settings.maxContainers}, scale down after ${settings.scaledownWindowS} s idle`,
  );
  io.log(
    `  secret "${settings.secretName}" (GPU_SHARED_SECRET), weights volume "${settings.weightsVolume}" at /models, graph cache "${settings.cacheVolume}" at /var/cache/star, ${settings.maxInputs} concurrent requests per container`,
  );
  io.log(
    `  run: ${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')} modal deploy ${MODAL_APP_FILE}`,
  );
  if (options.dryRun) return;
  const code = await io.run('modal', ['deploy', MODAL_APP_FILE], env);
  if (code !== 0) throw new Error(`modal deploy exited with code ${code}`);
}

/**
 * Finds the endpoint's URL (the edge's GPU_SERVICE_URL), polls /readyz until a
 * container is up with models loaded and warm, then makes one signed request
 * to prove the secret the edge will use is the one the service holds.
 */
export async function warmCommand(
  settings: ModalSettings,
  io: CommandIo,
  options: CommandOptions & { sharedSecret: string; timeoutMs: number },
): Promise<string | undefined> {
  io.log(
    `plan: look up the web URL of ${settings.appName}/${WEB_FUNCTION}, GET /readyz until 200 (up to ${options.timeoutMs / 1000} s), then a signed GET /metrics`,
  );
  if (options.dryRun) return undefined;
  const gateway = await io.gateway();
  try {
    const url = await gateway.webUrl(settings.appName, WEB_FUNCTION);
    if (!url) throw new Error(`${settings.appName}/${WEB_FUNCTION} has no web URL; is it deployed?`);
    const deadline = Date.now() + options.timeoutMs;
    for (let attempt = 1; ; attempt++) {
      let status: number | string;
      try {
        const response = await io.fetch(`${url}/readyz`);
        status = response.status;
        await response.body?.cancel();
      } catch (error) {
        status = error instanceof Error ? error.message : String(error);
      }
      if (status === 200) break;
      if (Date.now() >= deadline) throw new Error(`not ready after ${options.timeoutMs / 1000} s (last answer: ${status})`);
      io.log(`  attempt ${attempt}: ${status}, waiting`);
      await io.sleep(Math.min(10_000, 1000 * attempt));
    }
    const signed = await io.fetch(`${url}/metrics`, { headers: signedHeaders(options.sharedSecret, 'GET', '/metrics', '') });
    await signed.body?.cancel();
    if (signed.status === 401) throw new Error('the endpoint rejected the signature: GPU_SHARED_SECRET differs from the Modal secret');
    if (signed.status !== 200) throw new Error(`signed GET /metrics answered ${signed.status}`);
    io.log(`ready. GPU_SERVICE_URL=${url}`);
    return url;
  } finally {
    gateway.close();
  }
}

/** Runs the server benchmark on a Modal GPU, in a Sandbox from the deployed image. */
export async function benchCommand(
  settings: ModalSettings,
  io: CommandIo,
  options: CommandOptions & { benchSeconds: number },
): Promise<void> {
  const spec = {
    appName: settings.appName,
    image: settings.image,
    gpu: settings.gpu,
    command: ['node', 'gpu-service/bench/server.ts'],
    workdir: '/app',
    env: {
      DEVICE: 'cuda',
      MODELS: settings.models,
      MAX_BATCH: String(settings.maxBatch),
      MODEL_DIR: '/models',
      BENCH_SECONDS: String(options.benchSeconds),
    },
    volumes: { [settings.weightsVolume]: '/models', [settings.cacheVolume]: '/var/cache/star' },
    timeoutMs: 30 * 60 * 1000,
  };
  io.log(
    `plan: Sandbox in app "${spec.appName}" from ${spec.image} on ${spec.gpu}: ${spec.command.join(' ')} (${Object.entries(spec.env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')})`,
  );
  if (options.dryRun) return;
  const gateway = await io.gateway();
  try {
    const outcome = await gateway.runSandbox(spec);
    io.log(outcome.stdout.trimEnd());
    if (outcome.exitCode !== 0) throw new Error(`benchmark exited with code ${outcome.exitCode}: ${outcome.stderr.trim().slice(-2000)}`);
  } finally {
    gateway.close();
  }
}
