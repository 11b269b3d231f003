// `npm start`: the whole stack on this machine — gpu-service (star-tiny on CPU
// unless MODELS / DEVICE say otherwise) and the edge Worker in workerd with local KV/R2/Durable Objects — then the
// URLs, a dev API key and commands that work as printed. Ctrl-C stops both.
import { join } from 'node:path';
import { stopAllServices } from './lib/processes.ts';
import { ROOT, startStack } from './lib/stack.ts';

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    console.error(`${name} must be a TCP port (1-65535), got "${raw}"`);
    process.exit(2);
  }
  return value;
}

const edgePort = port('STAR_EDGE_PORT', 8787);
const gpuPort = port('STAR_GPU_PORT', 8788);
const models = (process.env.MODELS ?? 'star-tiny')
  .split(',')
  .map((name) => name.trim())
  .filter(Boolean);
const device = process.env.DEVICE || 'cpu';
// Local development only: webhooks may then target http:// and loopback receivers.
const localWebhooks = process.env.STAR_LOCAL_WEBHOOKS === '1';
const started = Date.now();
console.log(`Starting star-api: gpu-service on :${gpuPort} (${models.join(', ')}, ${device}), edge on :${edgePort} (workerd) ...`);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  console.log('\nStopping ...');
  await stopAllServices();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);

let stack: Awaited<ReturnType<typeof startStack>>;
try {
  stack = await startStack({
    edgePort,
    gpuPort,
    stateDir: join(ROOT, '.wrangler/star-dev'),
    echo: process.env.STAR_VERBOSE === '1',
    gpuEnv: { MODELS: models.join(','), DEVICE: device },
    edgeVars: { DEFAULT_MODEL: models[0] },
    localWebhooks,
  });
} catch (error) {
  console.error(`\nstar-api did not start: ${(error as Error).message}`);
  process.exit(1);
}

const { edgeUrl, apiKey, webhookSecret } = stack;
console.log(`
star-api is up in ${((Date.now() - started) / 1000).toFixed(1)} s, serving ${models.join(', ')}.${models.includes('star-tiny') ? ' star-tiny is trained on 192 emoji on named backgrounds ("red heart on a blue background"); it paints the named background and draws faces and round or boxy things best, others as blobs of their colours (measured figures: README, star-tiny).' : ''}

  Playground   ${edgeUrl}/
  API          ${edgeUrl}/v1   (contract: openapi.yaml)
  gpu-service  ${stack.gpuUrl}   (internal; signed requests only)
  API key      ${apiKey}
  Webhooks     signed with ${webhookSecret}
               (Star-Signature: t=…,v1=HMAC-SHA256(secret, t + "." + body); README "Webhooks")
               ${localWebhooks ? 'http:// and loopback receivers allowed (STAR_LOCAL_WEBHOOKS=1)' : 'https to public hosts only; STAR_LOCAL_WEBHOOKS=1 npm start allows http:// and loopback receivers'}

Try it:

  curl -sS ${edgeUrl}/v1/images/generations \\
    -H "Authorization: Bearer ${apiKey}" -H 'Content-Type: application/json' \\
    -d '{"prompt": "red heart on a blue background", "seed": 42}'

  STAR_API_KEY=${apiKey} node --input-type=module -e "
    import { StarClient } from '@star-api/sdk';
    const star = new StarClient({ apiKey: process.env.STAR_API_KEY, baseURL: '${edgeUrl}' });
    const { data } = await star.images.generate({ prompt: 'tiger on a yellow background', seed: 7 });
    console.log(data[0].url);"

Ctrl-C stops both services.`);

for (const service of [stack.gpu, stack.edge]) {
  service.child.once('exit', (code) => {
    if (stopping) return;
    console.error(`\n${service.name} exited unexpectedly (code ${code}):\n${service.output().slice(-4000)}`);
    void shutdown();
  });
}
