// star fetch-model NAME — downloads a released model (generator checkpoint,
// VQVAE, CLIP text encoder and tokenizer) into <dir>/<NAME> and writes its
// model.json; resumable and checksummed (engine/models/fetch.ts).
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fetchModel } from '../../engine/models/fetch.ts';
import { defaultModelsDir, RELEASED_MODELS } from '../../engine/models/registry.ts';
import { UsageError } from '../args.ts';
import type { CliIo } from '../main.ts';

export const FETCH_MODEL_HELP = `usage: star fetch-model <name> [options]

  <name>          ${RELEASED_MODELS.map((m) => m.name).join(', ')}
  --dir DIR       models directory; the model goes to DIR/<name> (default $STAR_MODELS_DIR, else gpu-service/models)
  --base-url URL  Hugging Face endpoint or mirror (default $HF_ENDPOINT, else https://huggingface.co)

Set HF_TOKEN for gated repositories. Interrupted downloads resume where they stopped.`;

export async function fetchModelCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { dir: { type: 'string' }, 'base-url': { type: 'string' } },
  });
  if (positionals.length !== 1) throw new UsageError('expected one model name');
  const dir = resolve(values.dir ?? defaultModelsDir());
  let last = 0;
  const { dir: modelDir, files } = await fetchModel(positionals[0], dir, {
    ...(values['base-url'] ? { baseUrl: values['base-url'] } : {}),
    onProgress: (file, bytes, total) => {
      const now = performance.now();
      if (now - last < 500 && bytes !== total) return;
      last = now;
      const pct = total ? ` (${((100 * bytes) / total).toFixed(1)}%)` : '';
      io.err(`${file}: ${(bytes / 2 ** 20).toFixed(1)} MiB${pct}`);
    },
  });
  for (const f of files) io.out(`${f.target}\t${f.bytes} bytes\tsha256 ${f.sha256}${f.downloaded ? '' : '\t(already present)'}`);
  io.out(`model ready in ${modelDir}`);
  return 0;
}
