// star check <fixture-dir> — the parity check of engine/parity/check.ts: rebuild
// the fixture's model from its config and weights, run it on the fixture's
// inputs and teacher-forced tokens, and print every reference tensor's max
// abs error and max |reference|, then the logits' fidelity (error, token
// agreement). Exits 1 when any tensor is above tolerance or the fidelity below
// its precision's limits.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { AttentionImpl } from '../../engine/models/generator/blocks.ts';
import { DEVICES, PRECISIONS } from '../../engine/onnx/target.ts';
import { checkFixture, formatReport } from '../../engine/parity/check.ts';
import { choiceOption, integerOption, UsageError } from '../args.ts';
import type { CliIo } from '../main.ts';

export const CHECK_HELP = `usage: star check <fixture-dir> [options]

  <fixture-dir>          a directory in the star-tiny fixture format (config.json, var/vae.safetensors,
                         reference*.safetensors, sampling.safetensors), e.g. ../shared/fixtures/star-tiny/tiny-b
  --json                 print the report as JSON
  --mode upstream|per-row  check one cross-attention mode only (default: both, where the reference exists)
  --attention fused|matmul attention kernels to build the graph with (default fused)
  --threads N            onnxruntime intra-op threads (default 1)
  --precision fp32|fp16|int8  compute precision (default fp32); fp16 is checked with fp16's tolerances
                         (floats 5e-3 × max(1, max|ref|), images 4/255); int8 (CPU) with floats 0.1 × max(1, max|ref|),
                         images at fp32's, and limits on the logits' fidelity (engine README, "int8")
  --device cpu|cuda      where onnxruntime runs the graphs (default cpu)
  --no-images            skip decoding the final image

Exit status: 0 every tensor within tolerance and the logits within the fidelity limits, 1 otherwise.`;

export async function checkCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      mode: { type: 'string' },
      attention: { type: 'string' },
      threads: { type: 'string' },
      precision: { type: 'string' },
      device: { type: 'string' },
      'no-images': { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) throw new UsageError('expected one fixture directory');
  const dir = resolve(positionals[0]);
  if (!existsSync(join(dir, 'config.json'))) throw new UsageError(`${dir} is not a fixture directory (no config.json)`);
  const mode = choiceOption('mode', values.mode, ['upstream', 'per-row'] as const);
  const attention = choiceOption<AttentionImpl>('attention', values.attention, ['fused', 'matmul']);
  const precision = choiceOption('precision', values.precision, PRECISIONS);
  const device = choiceOption('device', values.device, DEVICES);
  const report = await checkFixture(dir, {
    ...(mode ? { modes: [mode] } : {}),
    ...(attention ? { attention } : {}),
    threads: integerOption('threads', values.threads, 1, 1, 1024),
    images: !values['no-images'],
    ...(precision ? { precision } : {}),
    ...(device ? { device } : {}),
  });
  io.out(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.pass ? 0 : 1;
}
