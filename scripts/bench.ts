// `npm run bench`: every package's benchmark, repeated, collected into one report
// (bench/results/report.md + report.json, and a timestamped copy of each).
//
//   * engine (gpu-service/bench/engine.ts): seconds per image and peak RSS per model, mode and
//     batch; it repeats inside one invocation (--repeats), so min/median/max come from there.
//   * decoder (gpu-service/bench/vqvae-decoder.ts --upstream): our VQVAE decoder and upstream's
//     PyTorch one, interleaved round by round (BENCH_DECODER_RUNS rounds, default 5); skipped,
//     with the reason in the report, where python3 cannot import torch (STAR_PYTHON names
//     another interpreter; Debian's python3-torch provides it).
//   * server (gpu-service/bench/server.ts) and edge (edge/bench/edge.bench.ts): run BENCH_RUNS
//     times, interleaved; each figure is min/median/max over the runs.
// Every comparison is a ratio of two figures taken in the same run (the same child process for
// engine ratios, the same bench invocation for server and edge ratios), then summarised over
// runs — never an absolute time from one run set against another run's.
//
// Environment: BENCH_RUNS (server/edge repeats, default 3), BENCH_ENGINE (engine invocations,
// default "tiny:5,d16:3" = model:repeats; the d16-shaped model takes seconds per image on two
// cores, so it gets fewer repeats), BENCH_ENGINE_BATCHES (default 1,2,4), BENCH_ENGINE_PRECISIONS
// (default fp32,int8: int8's figures as ratios of fp32's, against their targets), BENCH_SKIP (comma list
// of engine,decoder,server,edge). Logs of every child: bench/results/logs/.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './lib/stack.ts';
import { MALLOC_ENV } from '../gpu-service/bench/malloc.ts';
import {
  parseEdgeBench,
  parseServerBench,
  summarize,
  type DecoderRun,
  type EdgeRun,
  type EngineConfig,
  type ServerRun,
} from '../bench/parse.ts';
import { renderMarkdown, type Report } from '../bench/report.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ENGINE = (process.env.BENCH_ENGINE ?? 'tiny:5,d16:3').split(',').map((entry) => {
  const [model, repeats = '3'] = entry.split(':');
  return { model, repeats: Number(repeats) };
});
const ENGINE_BATCHES = process.env.BENCH_ENGINE_BATCHES ?? '1,2,4';
const ENGINE_PRECISIONS = process.env.BENCH_ENGINE_PRECISIONS ?? 'fp32,int8';
const DECODER_RUNS = process.env.BENCH_DECODER_RUNS ?? '5';
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
const RESULTS = join(ROOT, 'bench/results');
const LOGS = join(RESULTS, 'logs');
mkdirSync(LOGS, { recursive: true });

const startedAt = Date.now();
const steps: string[] = [];
if (!SKIP.has('engine')) for (const { model } of ENGINE) steps.push(`engine-${model}`);
const PYTHON = process.env.STAR_PYTHON ?? 'python3';
/** Why the decoder step cannot run here, or null when it can. */
function decoderSkipReason(): string | null {
  if (SKIP.has('decoder')) return 'BENCH_SKIP';
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
  return probe.status === 0 ? null : `${PYTHON} cannot import torch (apt-get install python3-torch, or set STAR_PYTHON)`;
}
const decoderSkipped = decoderSkipReason();
if (!decoderSkipped) steps.push('decoder');
for (let r = 1; r <= RUNS; r++) {
  if (!SKIP.has('server')) steps.push(`server#${r}`);
  if (!SKIP.has('edge')) steps.push(`edge#${r}`);
}
let stepIndex = 0;
let currentStep = '';
let lastChildLine = '';

const elapsed = () => {
  const s = Math.round((Date.now() - startedAt) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};
const progressLine = () =>
  `[bench ${stepIndex}/${steps.length}] ${currentStep} · ${elapsed()} elapsed${lastChildLine ? ` · ${lastChildLine.slice(0, 70)}` : ''}`;
// One progress line: rewritten in place on a terminal, printed every 30 s otherwise.
const tty = process.stderr.isTTY;
const ticker = setInterval(
  () => {
    if (tty) process.stderr.write(`\r\x1b[K${progressLine()}`);
    else process.stderr.write(`${progressLine()}\n`);
  },
  tty ? 1000 : 30_000,
);

/** Runs one benchmark process; its output goes to a log file and is returned. */
function runBench(step: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  stepIndex++;
  currentStep = step;
  lastChildLine = '';
  if (!tty) process.stderr.write(`${progressLine()}\n`);
  const log = createWriteStream(join(LOGS, `${step.replace('#', '-')}.log`));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const collect = (chunk: Buffer, keep: boolean) => {
      const text = chunk.toString();
      log.write(text);
      if (keep) out += text;
      const lines = text
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean);
      if (lines.length) lastChildLine = lines[lines.length - 1];
    };
    child.stdout.on('data', (chunk: Buffer) => collect(chunk, true));
    child.stderr.on('data', (chunk: Buffer) => collect(chunk, false));
    child.on('error', reject);
    child.on('close', (code) => {
      log.end();
      if (code === 0) resolve(out);
      else reject(new Error(`${step} exited with ${code}; see ${join(LOGS, `${step.replace('#', '-')}.log`)}\n${out.slice(-2000)}`));
    });
  });
}

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  loadAverageAtStart: loadavg().map((x) => Number(x.toFixed(2))),
};

const engine: EngineConfig[] = [];
const serverRuns: ServerRun[] = [];
const edgeRuns: EdgeRun[] = [];
let decoder: DecoderRun | null = null;
try {
  if (!SKIP.has('engine')) {
    for (const { model, repeats } of ENGINE) {
      const json = join(RESULTS, `engine-${model}-raw.json`);
      await runBench(`engine-${model}`, [
        'gpu-service/bench/engine.ts',
        '--models',
        model,
        '--modes',
        'all,per-scale',
        '--batches',
        ENGINE_BATCHES,
        '--precisions',
        ENGINE_PRECISIONS,
        '--repeats',
        String(repeats),
        '--json',
        json,
      ]);
      engine.push(...(JSON.parse(readFileSync(json, 'utf8')) as EngineConfig[]));
    }
  }
  if (!decoderSkipped) {
    const json = join(RESULTS, 'decoder-raw.json');
    await runBench('decoder', ['gpu-service/bench/vqvae-decoder.ts', '--upstream', '--runs', DECODER_RUNS, '--json', json], MALLOC_ENV);
    decoder = JSON.parse(readFileSync(json, 'utf8')) as DecoderRun;
  }
  for (let r = 1; r <= RUNS; r++) {
    if (!SKIP.has('server')) {
      serverRuns.push(
        parseServerBench(
          await runBench(`server#${r}`, ['gpu-service/bench/server.ts'], { BENCH_SECONDS: process.env.BENCH_SECONDS ?? '4' }),
        ),
      );
    }
    if (!SKIP.has('edge')) {
      edgeRuns.push(
        parseEdgeBench(
          await runBench(`edge#${r}`, ['edge/bench/edge.bench.ts'], {
            BENCH_REQUESTS: process.env.BENCH_REQUESTS ?? '1200',
            BENCH_MISSES: process.env.BENCH_MISSES ?? '100',
          }),
        ),
      );
    }
  }
} finally {
  clearInterval(ticker);
  if (tty) process.stderr.write('\r\x1b[K');
}

const report: Report = {
  createdAt: new Date().toISOString(),
  durationSeconds: Math.round((Date.now() - startedAt) / 1000),
  machine: { ...machine, loadAverageAtEnd: loadavg().map((x) => Number(x.toFixed(2))) },
  settings: {
    runs: RUNS,
    engine: ENGINE.map((e) => `${e.model}×${e.repeats}`).join(' '),
    engineBatches: ENGINE_BATCHES,
    enginePrecisions: ENGINE_PRECISIONS,
    decoderVsUpstream: decoderSkipped ? `skipped: ${decoderSkipped}` : `${DECODER_RUNS} rounds`,
  },
  ...summarize(engine, serverRuns, edgeRuns, decoder),
};
const markdown = renderMarkdown(report);
const stamp = report.createdAt.replace(/[:.]/g, '-');
writeFileSync(join(RESULTS, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(RESULTS, 'report.md'), markdown);
copyFileSync(join(RESULTS, 'report.json'), join(RESULTS, `report-${stamp}.json`));
copyFileSync(join(RESULTS, 'report.md'), join(RESULTS, `report-${stamp}.md`));
console.log(markdown);
console.log(`report: bench/results/report.md and bench/results/report.json (${elapsed()})`);
