// The device check (gpu-check.sh runs it): everything a first session on a
// GPU machine should learn, in one go, each step bounded and logged, a table
// at the end. Steps, in order of what matters most:
//
//   provider     the CUDA provider loads (probeCuda), and whether onnxruntime-node
//                can keep an output on the device ('gpu-buffer' output location)
//   check        star check on every fixture, fp16 and fp32 (fp32 also with TF32)
//   placement    nodes onnxruntime assigned to the CPU in the generator graph
//   engine       star-1024-d30-shaped random weights: warm s/image at batch 1 and 4,
//                per-scale (the default) and one run, GPU memory peak beside the plan
//   service      images/s through the HTTP service, 1/4/16 clients, micro-batching
//                off and on
//
// `--device cpu --dry` runs the same steps on star-tiny in seconds (a test
// keeps the script working where there is no GPU).
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generatorMemory, planBatches } from '../src/engine/memory-plan.ts';
import { Graph } from '../src/engine/onnx/graph.ts';
import { add } from '../src/engine/onnx/ops.ts';
import { cudaProviderLibrary, probeCuda } from '../src/engine/onnx/runtime.ts';
import type { Device } from '../src/engine/onnx/target.ts';
import { toModelBytes } from '../src/engine/onnx/serialize.ts';
import { loadModel } from '../src/engine/pipeline.ts';
import { parseNvidiaSmi } from '../src/server/gpu-memory.ts';

const REPO = resolve(import.meta.dirname, '../..');
const FIXTURES = resolve(REPO, '../shared/fixtures/star-tiny');

const { values } = parseArgs({
  options: {
    device: { type: 'string', default: 'cuda' },
    dry: { type: 'boolean', default: false },
    out: { type: 'string', default: join(REPO, 'bench/results/gpu-check') },
    /** Comma-separated step-name prefixes to run (default: all), e.g. "engine,service". */
    only: { type: 'string' },
  },
});
const selected = (name: string) => !values.only || values.only.split(',').some((prefix) => name.startsWith(prefix));
const device = values.device as Device;
const dry = values.dry;
const out = resolve(values.out);
mkdirSync(out, { recursive: true });

interface StepResult {
  step: string;
  ok: boolean;
  seconds: number;
  summary: string;
}
const results: StepResult[] = [];

/** Runs one step; a failure is recorded and the check goes on. */
async function step(name: string, body: () => Promise<string>): Promise<void> {
  if (!selected(name)) return;
  const started = performance.now();
  let result: StepResult;
  try {
    result = { step: name, ok: true, seconds: 0, summary: await body() };
  } catch (err) {
    result = { step: name, ok: false, seconds: 0, summary: (err as Error).message.split('\n').slice(0, 3).join(' | ') };
  }
  result.seconds = (performance.now() - started) / 1000;
  results.push(result);
  console.log(`[gpu-check] ${result.ok ? 'ok  ' : 'FAIL'} ${name} (${result.seconds.toFixed(1)} s): ${result.summary}`);
  writeSummary(); // after every step: a check cut short still leaves what it measured
}

function summaryTable(): string[] {
  return [
    '| step | ok | s | result |',
    '|---|---|---|---|',
    ...results.map((r) => `| ${r.step} | ${r.ok ? 'ok' : 'FAIL'} | ${r.seconds.toFixed(1)} | ${r.summary.replaceAll('|', '/')} |`),
  ];
}

function writeSummary(): void {
  writeFileSync(
    join(out, 'summary.md'),
    `# gpu-check on ${device}${dry ? ' (dry)' : ''}, ${new Date().toISOString()}\n\n${summaryTable().join('\n')}\n`,
  );
  writeFileSync(join(out, 'summary.json'), JSON.stringify({ device, dry, results }, null, 2));
}

interface ChildOutput {
  code: number | null;
  stdout: string;
  /** stdout and stderr as they came. */
  all: string;
}

/**
 * Node on `args` with a time limit; its output streams to `<out>/<log>.log` (a run cut
 * short keeps what it printed). Rejects when killed; `code` says how it ended.
 */
function node(log: string, args: string[], options: { env?: Record<string, string>; timeoutS: number }): Promise<ChildOutput> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: ChildOutput = { code: null, stdout: '', all: '' };
    const file = join(out, `${log}.log`);
    writeFileSync(file, '');
    child.stdout.on('data', (d: Buffer) => {
      output.stdout += d;
      output.all += d;
      appendFileSync(file, d);
    });
    child.stderr.on('data', (d: Buffer) => {
      output.all += d;
      appendFileSync(file, d);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      output.code = code;
      if (signal) reject(new Error(`${log}: killed after ${options.timeoutS} s; ${output.all.trim().split('\n').slice(-2).join(' | ')}`));
      else resolveRun(output);
    });
  });
}

/** Like node(), but a non-zero exit is an error. */
async function nodeOk(log: string, args: string[], options: { env?: Record<string, string>; timeoutS: number }): Promise<ChildOutput> {
  const output = await node(log, args, options);
  if (output.code !== 0) throw new Error(`${log}: exit ${output.code}; ${output.all.trim().split('\n').slice(-2).join(' | ')}`);
  return output;
}

/** Peak GPU memory used while `body` runs (nvidia-smi every 200 ms); null on CPU. */
async function withGpuMemoryPeak<T>(body: () => Promise<T>): Promise<{ value: T; peakBytes: number | null }> {
  if (device !== 'cuda') return { value: await body(), peakBytes: null };
  const sampler = spawn(
    'nvidia-smi',
    ['--query-gpu=index,memory.used,memory.free,memory.total', '--format=csv,noheader,nounits', '-lms', '200'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let peakBytes = 0;
  sampler.stdout.on('data', (d: Buffer) => {
    for (const gpu of parseNvidiaSmi(d.toString())) peakBytes = Math.max(peakBytes, gpu.usedBytes);
  });
  try {
    return { value: await body(), peakBytes };
  } finally {
    sampler.kill();
  }
}

const GIB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GIB).toFixed(1)} GiB`;

// ---------------------------------------------------------------- steps

const engineModel = dry ? 'tiny' : 'd30-1024';
// Writing ~7 GB of random weights takes minutes on one core: it runs while the checks do.
const modelWritten =
  selected('engine') || selected('service') || selected('memory')
    ? node('model-write', ['gpu-service/bench/engine.ts', '--write-only', '--models', engineModel], { timeoutS: 400 })
    : Promise.resolve({ code: 0, stdout: '', all: '' });
modelWritten.catch(() => undefined);

await step('provider', async () => {
  if (device !== 'cuda') return 'cpu: nothing to probe';
  await probeCuda();
  // Can an output stay on the device for the next run? (engine README, "Per-scale runs on CUDA")
  const ort = await import('onnxruntime-node');
  const g = new Graph('gpu_buffer_probe');
  g.output(add(g.input('x', 'float32', [4]), 1), 'y');
  let residency: string;
  try {
    const session = await ort.InferenceSession.create(toModelBytes(g), {
      executionProviders: [{ name: 'cuda' }],
      preferredOutputLocation: 'gpu-buffer',
    });
    const result = await session.run({ x: new ort.Tensor('float32', new Float32Array(4), [4]) });
    residency = `gpu-buffer output: location ${result.y.location}`;
    await session.release();
  } catch (err) {
    residency = `gpu-buffer output refused: ${(err as Error).message.split('\n')[0]}`;
  }
  return `${cudaProviderLibrary()} loads; ${residency}`;
});

// Dry: one fixture in fp16 (the parity tests in npm test check both fixtures at both precisions).
const fixtures = !existsSync(FIXTURES)
  ? []
  : dry
    ? ['tiny-b']
    : readdirSync(FIXTURES)
        .filter((name) => name.startsWith('tiny-'))
        .sort();
if (!fixtures.length)
  await step('check', async () => {
    throw new Error(`no fixtures at ${FIXTURES} (../shared beside the repository)`);
  });
for (const fixture of fixtures) {
  const variants: [string, string, Record<string, string>][] = dry
    ? [['fp16', 'fp16', {}]]
    : [
        ['fp16', 'fp16', {}],
        ['fp32', 'fp32', {}],
      ];
  if (device === 'cuda') variants.push(['fp32+tf32', 'fp32', { STAR_ALLOW_TF32: '1' }]);
  for (const [label, precision, env] of variants) {
    await step(`check ${fixture} ${label}`, async () => {
      const { stdout, all } = await node(
        `check-${fixture}-${label}`,
        ['gpu-service/bin/star.js', 'check', join(FIXTURES, fixture), '--device', device, '--precision', precision, '--json'],
        { env, timeoutS: 120 },
      );
      if (!stdout.includes('{')) throw new Error(all.trim().split('\n').slice(-2).join(' | '));
      const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
        pass: boolean;
        checked: { name: string; maxAbsError: number; maxAbsReference: number; pass: boolean }[];
      };
      const worst = report.checked
        .filter((c) => c.maxAbsReference > 0)
        .reduce((w, c) => Math.max(w, c.maxAbsError / Math.max(1, c.maxAbsReference)), 0);
      const failed = report.checked.filter((c) => !c.pass).map((c) => c.name);
      if (!report.pass && label !== 'fp32+tf32')
        throw new Error(
          `${failed.length} tensors above tolerance: ${failed.slice(0, 4).join(', ')}; worst relative error ${worst.toExponential(2)}`,
        );
      return `${report.pass ? 'pass' : `${failed.length} above fp32 tolerance (expected with TF32)`}; ${report.checked.length} tensors, worst relative error ${worst.toExponential(2)}`;
    });
  }
}

await step('placement', async () => {
  if (device !== 'cuda') return 'cpu: every node runs on the CPU provider';
  const { all: log } = await nodeOk(
    'placement',
    [
      'gpu-service/bin/star.js',
      'generate',
      'a red fox',
      '--model',
      'star-tiny',
      '--device',
      'cuda',
      '--seed',
      '1',
      '-o',
      join(out, 'placement.png'),
    ],
    { env: { STAR_ORT_LOG_LEVEL: '0' }, timeoutS: 120 },
  );
  const lines = log
    .split('\n')
    .filter((l) => /placed on \[|Node\(s\) placed on|All nodes placed/.test(l))
    .map((l) => l.replace(/^.*\] /, '').trim());
  return lines.length ? [...new Set(lines)].slice(0, 8).join('; ') : 'no placement lines in the verbose log (see placement.log)';
});

const batches = dry ? '1' : '1,4';
for (const mode of dry ? ['per-scale'] : ['per-scale', 'all']) {
  await step(`engine ${engineModel} ${mode}`, async () => {
    const written = await modelWritten;
    if (written.code !== 0) throw new Error(`writing the random model failed: ${written.all.trim().split('\n').slice(-2).join(' | ')}`);
    const json = join(out, `engine-${mode}.json`);
    const args = [
      'gpu-service/bench/engine.ts',
      '--models',
      engineModel,
      '--modes',
      mode,
      '--batches',
      mode === 'all' ? '1' : batches,
      '--repeats',
      dry ? '1' : '3',
      '--json',
      json,
    ];
    if (device === 'cuda') args.push('--gpu');
    const { peakBytes } = await withGpuMemoryPeak(() =>
      nodeOk(`engine-${mode}`, args, { timeoutS: dry ? 120 : mode === 'all' ? 150 : 300 }),
    );
    const rows = JSON.parse(readFileSync(json, 'utf8')) as { batch: number; runs: { totalMs: number }[] }[];
    const perImage = rows.map((r) => {
      const totals = r.runs.map((x) => x.totalMs).sort((a, b) => a - b);
      return `B=${r.batch} ${(totals[totals.length >> 1] / 1000 / r.batch).toFixed(3)} s/image (min ${(totals[0] / 1000 / r.batch).toFixed(3)})`;
    });
    return `${perImage.join(', ')}${peakBytes === null ? '' : `; GPU memory peak ${gib(peakBytes)}`}`;
  });
}

await step('memory plan', async () => {
  const modelDir = dry ? join(REPO, 'gpu-service/models/star-tiny') : join(REPO, '.cache/bench/star-1024-d30-random');
  const model = loadModel(modelDir);
  const memory = generatorMemory(model.generatorConfig, model.vqvaeConfig, device === 'cuda' ? 'fp16' : 'fp32');
  return `${planBatches(memory, 139 * GIB, 4).summary} (139 GiB free assumed; compare the engine steps' measured peaks)`;
});

await step('service', async () => {
  if ((await modelWritten).code !== 0) throw new Error('writing the random model failed (model-write.log)');
  const env: Record<string, string> = {
    DEVICE: device,
    BENCH_SECONDS: dry ? '1' : '6',
    BENCH_CLIENTS: dry ? '2' : '1,4,16',
    MAX_BATCH: dry ? '2' : '4',
  };
  if (!dry) Object.assign(env, { MODEL_DIR: join(REPO, '.cache/bench'), MODELS: 'star-1024-d30-random' });
  const { stdout } = await nodeOk('service', ['gpu-service/bench/server.ts'], { env, timeoutS: dry ? 120 : 200 });
  // the bench's table: clients, img/s without and with micro-batching, speed-up, mean batch, p50
  const rows = stdout
    .trim()
    .split('\n')
    .filter((l) => /^\s*\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+×/.test(l));
  if (!rows.length) throw new Error(`no result rows in the service bench's output: ${stdout.trim().split('\n').slice(-2).join(' | ')}`);
  return rows
    .map((l) => {
      const [clients, off, on, speedUp, batch] = l.trim().split(/\s+/);
      return `${clients} clients ${off} → ${on} img/s (${speedUp}, mean batch ${batch})`;
    })
    .join('; ');
});

// ---------------------------------------------------------------- report

console.log(`\n${summaryTable().join('\n')}`);
process.exitCode = results.every((r) => r.ok) ? 0 : 1;
