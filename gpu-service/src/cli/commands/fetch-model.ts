// star fetch-model NAME — downloads a published model (generator snapshot,
// VQVAE, CLIP text encoder and tokenizer) into <dir>/<NAME>, extracts the
// generator from its training snapshot, and writes NOTICE and model.json;
// resumable and checked (engine/models/fetch.ts).
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { FetchedFile, FetchProgress } from '../../engine/models/fetch.ts';
import { fetchModel } from '../../engine/models/fetch.ts';
import { NOTICE_FILE } from '../../engine/models/notice.ts';
import { defaultModelsDir, releasedModelList } from '../../engine/models/registry.ts';
import { UsageError } from '../args.ts';
import type { CliIo } from '../main.ts';

export const FETCH_MODEL_HELP = `usage: star fetch-model <name> [options]

  <name>             ${releasedModelList()}
  --dir DIR          models directory; the model goes to DIR/<name> (default $STAR_MODELS_DIR, else gpu-service/models)
  --base-url URL     Hugging Face endpoint or mirror (default $HF_ENDPOINT, else https://huggingface.co)
  --keep-snapshot    keep the generator's training snapshot after extracting its weights

The generator comes as a full training snapshot (weights plus optimizer state,
many GB); its weights (trainer.var_wo_ddp) are extracted to safetensors and
the snapshot removed. The weights' licences are written to <dir>/<name>/NOTICE.
Set HF_TOKEN for gated repositories. Interrupted downloads resume where they stopped.`;

export async function fetchModelCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { dir: { type: 'string' }, 'base-url': { type: 'string' }, 'keep-snapshot': { type: 'boolean' } },
  });
  if (positionals.length !== 1) throw new UsageError('expected one model name');
  const dir = resolve(values.dir ?? defaultModelsDir());
  const { dir: modelDir, files } = await fetchModel(positionals[0], dir, {
    ...(values['base-url'] ? { baseUrl: values['base-url'] } : {}),
    keepSnapshot: values['keep-snapshot'] === true,
    onProgress: progressBar(io),
  });
  for (const f of files) io.out(fileLine(f));
  io.out(`licences in ${resolve(modelDir, NOTICE_FILE)}`);
  io.out(`model ready in ${modelDir}`);
  return 0;
}

function fileLine(f: FetchedFile): string {
  const line = `${f.target}\t${f.bytes} bytes\tsha256 ${f.sha256}${f.downloaded || f.extracted ? '' : '\t(already present)'}`;
  if (!f.extracted) return line;
  const { from, key, tensors, snapshotBytes, snapshotKept } = f.extracted;
  return `${line}\t(${tensors} tensors extracted from ${key} of ${from}, a ${gib(snapshotBytes)} snapshot, ${snapshotKept ? 'kept' : 'now removed'})`;
}

const BAR_WIDTH = 24;

/** A bar per file and stage, redrawn in place on a terminal (every 0.5 %); elsewhere a line every 5 %. */
function progressBar(io: CliIo): (p: FetchProgress) => void {
  let last = '';
  return (p) => {
    const done = p.total !== undefined && p.bytes >= p.total;
    const step = p.total ? Math.floor((p.bytes / p.total) * (io.interactive ? 200 : 20)) : Math.floor(p.bytes / 2 ** 28);
    const key = `${p.stage} ${p.file} ${step}`;
    if (key === last && !done) return;
    last = key;
    const filled = p.total ? Math.round((p.bytes / p.total) * BAR_WIDTH) : 0;
    const what = p.stage === 'extract' ? `extracting the generator weights into ${p.file}` : p.file;
    const line = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${what}: ${gib(p.bytes)}${p.total ? ` of ${gib(p.total)}` : ''}`;
    if (io.interactive) process.stderr.write(`\r${line}${done ? '\n' : ''}`);
    else io.err(line);
  };
}

function gib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
