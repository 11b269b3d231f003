// Deploy the gpu-service on Modal. README.md beside this file says why the path
// is split between the Modal CLI (the Python app descriptor) and the JS SDK.
//
//   node deploy/modal.ts deploy [--dry-run]   modal deploy deploy/modal_app.py
//   node deploy/modal.ts warm   [--dry-run]   find the endpoint URL, wait for /readyz
//   node deploy/modal.ts bench  [--dry-run]   run bench/server.ts in a GPU Sandbox
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { benchCommand, deployCommand, warmCommand } from './commands.ts';
import type { CommandIo } from './commands.ts';
import { createModalGateway } from './modal-gateway.ts';
import { loadModalSettings } from './settings.ts';

const USAGE = 'usage: node deploy/modal.ts <deploy|warm|bench> [--dry-run]';

const io: CommandIo = {
  log: (line) => console.log(line),
  run: (program, args, env) =>
    new Promise((resolve, reject) => {
      const child = spawn(program, args, { stdio: 'inherit', env: { ...process.env, ...env } });
      child.on('error', reject);
      child.on('exit', (code) => resolve(code ?? 1));
    }),
  fetch,
  sleep: (ms) => sleep(ms),
  gateway: createModalGateway,
};

async function main(argv: string[]): Promise<void> {
  const [command, ...flags] = argv;
  const unknown = flags.filter((flag) => flag !== '--dry-run');
  if (unknown.length > 0) throw new Error(`unknown option ${unknown[0]}\n${USAGE}`);
  const dryRun = flags.includes('--dry-run');
  const settings = loadModalSettings(process.env);
  switch (command) {
    case 'deploy':
      return deployCommand(settings, io, { dryRun });
    case 'warm': {
      const sharedSecret = process.env.GPU_SHARED_SECRET ?? '';
      if (!dryRun && sharedSecret.length < 32)
        throw new Error('GPU_SHARED_SECRET (the one in the Modal secret) is required to sign /readyz');
      await warmCommand(settings, io, { dryRun, sharedSecret, timeoutMs: Number(process.env.WARM_TIMEOUT_S ?? 600) * 1000 });
      return;
    }
    case 'bench':
      return benchCommand(settings, io, { dryRun, benchSeconds: Number(process.env.BENCH_SECONDS ?? 10) });
    default:
      throw new Error(USAGE);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
