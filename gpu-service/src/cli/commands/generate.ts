// star generate "a prompt" — runs the pipeline once and writes PNG files,
// with a progress bar per scale on stderr.
import { randomInt } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { imageSeeds } from '@star-api/contract';
import sharp from 'sharp';
import { CROSS_ATTN_MODES, type CrossAttnMode } from '../../engine/models/generator/blocks.ts';
import type { GeneratorMode, StarPipeline } from '../../engine/pipeline.ts';
import { loadPipeline } from '../../engine/pipeline.ts';
import { PRECISIONS } from '../../engine/onnx/target.ts';
import type { ProgressEvent } from '../../engine/types.ts';
import { choiceOption, integerOption, numberOption, UsageError } from '../args.ts';
import type { CliIo } from '../main.ts';

export const GENERATE_HELP = `usage: star generate "a prompt" [options]

  --model NAME|DIR     model name or directory (default star-tiny)
  --model-dir DIR      where to look for named models (default $STAR_MODELS_DIR, then gpu-service/models)
  --seed N             seed of the first image, 0..2^32-1 (default: random, printed)
  -o, --out FILE       output PNG (default star-<seed>.png); with --n > 1, FILE-<i>.png
  --n N                number of images (seeds seed, seed+1, ...; default 1)
  --cfg X              classifier-free guidance weight (default: the model's, else 4)
  --top-k K            keep the K most likely tokens; 0 = off (default: the model's)
  --top-p P            nucleus sampling mass in [0, 1]; 0 = off (default: the model's)
  --negative TEXT      negative prompt (replaces the empty unconditional prompt)
  --more-smooth        Gumbel soft-code sampling (STAR-SPEC §4.2.3d)
  --device cpu|cuda    execution provider (default cpu)
  --precision P        fp32, fp16 or int8 (default fp32 on cpu, fp16 on cuda; int8: cpu only, the generator's
                       linear layers in int8, engine README "int8")
  --threads N          onnxruntime intra-op threads (default: all cores)
  --mode all|per-scale one generator run, or one per scale (default per-scale; on cuda within the carried-state limit)
  --cross-attn MODE    per-request, upstream or per-row (STAR-SPEC §6.1); default: the model's`;

const SEED_LIMIT = 2 ** 32;

export async function generateCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      model: { type: 'string', default: 'star-tiny' },
      'model-dir': { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string', short: 'o' },
      n: { type: 'string' },
      cfg: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      negative: { type: 'string' },
      'more-smooth': { type: 'boolean', default: false },
      device: { type: 'string' },
      precision: { type: 'string' },
      threads: { type: 'string' },
      mode: { type: 'string' },
      'cross-attn': { type: 'string' },
    },
  });
  if (positionals.length !== 1)
    throw new UsageError(
      positionals.length ? `expected one prompt, got ${positionals.length} arguments (quote the prompt)` : 'a prompt is required',
    );
  const prompt = positionals[0];
  const device = choiceOption('device', values.device, ['cpu', 'cuda'] as const, 'cpu');
  const precision = choiceOption('precision', values.precision, PRECISIONS);
  const n = integerOption('n', values.n, 1, 1, 64);
  const seed = integerOption('seed', values.seed, randomInt(0, SEED_LIMIT), 0, SEED_LIMIT - 1);
  const threads = values.threads === undefined ? undefined : integerOption('threads', values.threads, 0, 1, 1024);
  const mode = choiceOption<GeneratorMode>('mode', values.mode, ['all', 'per-scale']);
  const crossAttn = choiceOption<CrossAttnMode>('cross-attn', values['cross-attn'], CROSS_ATTN_MODES);
  // Validate numeric options before the (slow) model load.
  const cfgValue = values.cfg === undefined ? undefined : numberOption('cfg', values.cfg, 0);
  const topKValue = values['top-k'] === undefined ? undefined : integerOption('top-k', values['top-k'], 0, 0);
  const topPValue = values['top-p'] === undefined ? undefined : numberOption('top-p', values['top-p'], 0, 0, 1);
  const out = resolve(values.out ?? `star-${seed}.png`);
  if (extname(out).toLowerCase() !== '.png') throw new UsageError(`--out must name a .png file, got "${values.out}"`);

  const pipeline = (await loadPipeline(values.model, {
    device,
    threads,
    mode,
    precision,
    crossAttn,
    ...(values['model-dir'] ? { modelDir: values['model-dir'] } : {}),
  })) as StarPipeline;
  try {
    const defaults = pipeline.model.manifest.sampling ?? { cfg: 4, top_k: 0, top_p: 0.8 };
    const request = {
      prompt,
      negative_prompt: values.negative,
      seeds: imageSeeds(seed, n),
      cfg: cfgValue ?? defaults.cfg,
      top_k: topKValue ?? defaults.top_k,
      top_p: topPValue ?? defaults.top_p,
      more_smooth: values['more-smooth'],
    };
    const bar = progressBar(io);
    const result = await pipeline.generate(request, { onProgress: bar });
    mkdirSync(dirname(out), { recursive: true });
    const paths = result.images.map((_, i) => (n === 1 ? out : out.replace(/\.png$/i, `-${i}.png`)));
    for (const [i, image] of result.images.entries()) {
      await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
        raw: { width: image.width, height: image.height, channels: 3 },
      })
        .png()
        .toFile(paths[i]);
    }
    const t = result.timings;
    io.err(
      `${pipeline.info.name}: ${n} image${n > 1 ? 's' : ''} ${pipeline.info.resolution}², text ${ms(t.textMs)}, generate ${ms(t.generateMs)}, decode ${ms(t.decodeMs)}, total ${ms(t.totalMs)}`,
    );
    for (const [i, path] of paths.entries()) io.out(`${path}\tseed ${request.seeds[i]}`);
    return 0;
  } finally {
    await pipeline.dispose();
  }
}

function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(0)} ms`;
}

const BAR_WIDTH = 24;

/** One line per scale, redrawn in place on a terminal. */
function progressBar(io: CliIo): (event: ProgressEvent) => void {
  const started = performance.now();
  return (event) => {
    const filled = Math.round((event.scale / event.scales) * BAR_WIDTH);
    const line = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] scale ${event.scale}/${event.scales} (${event.side}×${event.side}) ${ms(performance.now() - started)}`;
    if (io.interactive) process.stderr.write(`\r${line}${event.scale === event.scales ? '\n' : ''}`);
    else io.err(line);
  };
}
