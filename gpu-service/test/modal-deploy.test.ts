// The Modal deploy commands through their seam: a recording gateway, runner and
// fetch stand in for Modal's SDK, CLI and network.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { benchCommand, deployCommand, MODAL_APP_FILE, warmCommand } from '../deploy/commands.ts';
import type { CommandIo } from '../deploy/commands.ts';
import type { ModalGateway, SandboxOutcome, SandboxSpec } from '../deploy/modal-gateway.ts';
import { DEFAULT_ENV, loadModalSettings } from '../deploy/settings.ts';
import { requestSignature } from '../src/server/auth.ts';

const SECRET = 'modal-test-secret-0123456789abcdef-0123';

function recordingIo(options: { readyAfter?: number; webUrl?: string; sandbox?: SandboxOutcome; signedStatus?: number } = {}) {
  const calls: { what: string; args: unknown[] }[] = [];
  const lines: string[] = [];
  let readyzCalls = 0;
  const gateway: ModalGateway = {
    async webUrl(appName, functionName) {
      calls.push({ what: 'webUrl', args: [appName, functionName] });
      return options.webUrl;
    },
    async runSandbox(spec: SandboxSpec) {
      calls.push({ what: 'runSandbox', args: [spec] });
      return options.sandbox ?? { exitCode: 0, stdout: 'clients  img/s\n', stderr: '' };
    },
    close() {
      calls.push({ what: 'close', args: [] });
    },
  };
  const io: CommandIo = {
    log: (line) => lines.push(line),
    run: async (program, args, env) => {
      calls.push({ what: 'run', args: [program, args, env] });
      return 0;
    },
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      calls.push({ what: 'fetch', args: [String(input), init] });
      if (String(input).endsWith('/metrics')) return new Response(null, { status: options.signedStatus ?? 200 });
      readyzCalls++;
      return new Response(null, { status: readyzCalls > (options.readyAfter ?? 0) ? 200 : 503 });
    }) as typeof fetch,
    sleep: async () => {},
    gateway: async () => {
      calls.push({ what: 'gateway', args: [] });
      return gateway;
    },
  };
  return { io, calls, lines };
}

const settings = loadModalSettings({
  STAR_IMAGE: 'registry.example/star/gpu-service:abc123',
  MODAL_GPU: 'H100',
  MODAL_MIN_CONTAINERS: '1',
});

describe('Modal deploy commands', () => {
  it('--dry-run prints a plan and touches no SDK, CLI or network', async () => {
    const { io, calls, lines } = recordingIo();
    await deployCommand(settings, io, { dryRun: true });
    await warmCommand(settings, io, { dryRun: true, sharedSecret: SECRET, timeoutMs: 1000 });
    await benchCommand(settings, io, { dryRun: true, benchSeconds: 5 });
    assert.deepEqual(calls, []);
    assert.ok(lines.some((line) => line.includes('modal deploy') && line.includes('MODAL_GPU=H100')));
    assert.ok(lines.some((line) => line.includes('Sandbox') && line.includes('registry.example/star/gpu-service:abc123')));
  });

  it('deploy runs `modal deploy modal_app.py` with the settings in its environment', async () => {
    const { io, calls } = recordingIo();
    await deployCommand(settings, io, { dryRun: false });
    assert.equal(calls.length, 1);
    const [program, args, env] = calls[0].args as [string, string[], Record<string, string>];
    assert.equal(program, 'modal');
    assert.deepEqual(args, ['deploy', MODAL_APP_FILE]);
    assert.equal(env.STAR_IMAGE, 'registry.example/star/gpu-service:abc123');
    assert.equal(env.MODAL_GPU, 'H100');
    assert.equal(env.MODAL_MIN_CONTAINERS, '1');
  });

  it('warm looks up the web URL, polls /readyz until 200, then checks the secret with one signed request', async () => {
    const { io, calls, lines } = recordingIo({ webUrl: 'https://ws--star-gpu-service-serve.modal.run', readyAfter: 2 });
    const url = await warmCommand(settings, io, { dryRun: false, sharedSecret: SECRET, timeoutMs: 60_000 });
    assert.equal(url, 'https://ws--star-gpu-service-serve.modal.run');
    assert.deepEqual(calls.find((c) => c.what === 'webUrl')?.args, ['star-gpu-service', 'serve']);
    const fetches = calls.filter((c) => c.what === 'fetch').map((c) => c.args as [string, { headers: Record<string, string> } | undefined]);
    assert.deepEqual(
      fetches.map(([target]) => target.slice(url!.length)),
      ['/readyz', '/readyz', '/readyz', '/metrics'],
    );
    const headers = fetches[3][1]!.headers;
    const request = {
      method: 'GET',
      pathWithQuery: '/metrics',
      timestamp: headers['x-star-timestamp'],
      nonce: headers['x-star-nonce'],
      header: (name: string) => headers[name],
    };
    assert.equal(headers['x-star-signature'], requestSignature(SECRET, request, ''));
    assert.equal(calls.at(-1)?.what, 'close');
    assert.ok(lines.at(-1)?.includes('GPU_SERVICE_URL=https://ws--star-gpu-service-serve.modal.run'));
  });

  it('warm fails clearly when the service holds another secret', async () => {
    const { io } = recordingIo({ webUrl: 'https://x.modal.run', signedStatus: 401 });
    await assert.rejects(warmCommand(settings, io, { dryRun: false, sharedSecret: SECRET, timeoutMs: 1000 }), /GPU_SHARED_SECRET differs/);
  });

  it('warm fails clearly when the app has no web endpoint', async () => {
    const { io, calls } = recordingIo({ webUrl: undefined });
    await assert.rejects(warmCommand(settings, io, { dryRun: false, sharedSecret: SECRET, timeoutMs: 1000 }), /no web URL/);
    assert.equal(calls.at(-1)?.what, 'close');
  });

  it('bench runs bench/server.ts in a GPU Sandbox from the deployed image and prints its table', async () => {
    const { io, calls, lines } = recordingIo({
      sandbox: { exitCode: 0, stdout: 'clients  no batching img/s\n      1  12.0\n', stderr: '' },
    });
    await benchCommand(settings, io, { dryRun: false, benchSeconds: 5 });
    const spec = calls.find((c) => c.what === 'runSandbox')!.args[0] as SandboxSpec;
    assert.equal(spec.image, 'registry.example/star/gpu-service:abc123');
    assert.equal(spec.gpu, 'H100');
    assert.deepEqual(spec.command, ['node', 'gpu-service/bench/server.ts']);
    assert.equal(spec.env.DEVICE, 'cuda');
    assert.ok(lines.some((line) => line.includes('no batching img/s')));
  });

  it('bench fails when the benchmark exits non-zero', async () => {
    const { io } = recordingIo({ sandbox: { exitCode: 3, stdout: '', stderr: 'CUDA error' } });
    await assert.rejects(benchCommand(settings, io, { dryRun: false, benchSeconds: 5 }), /code 3: CUDA error/);
  });

  it('rejects settings that cannot deploy', () => {
    assert.throws(() => loadModalSettings({ MODAL_MIN_CONTAINERS: '5', MODAL_MAX_CONTAINERS: '2' }), /MODAL_MIN_CONTAINERS/);
    assert.throws(() => loadModalSettings({ MODAL_MAX_CONTAINERS: 'many' }), /MODAL_MAX_CONTAINERS/);
  });

  it('modal_app.py falls back to the same defaults as settings.ts', () => {
    const python = readFileSync(new URL('../deploy/modal_app.py', import.meta.url), 'utf8');
    const defaults = Object.fromEntries(
      [...python.matchAll(/os\.environ\.get\("(\w+)", "([^"]*)"\)/g)].map(([, name, value]) => [name, value]),
    );
    assert.deepEqual(defaults, { ...DEFAULT_ENV });
  });
});
