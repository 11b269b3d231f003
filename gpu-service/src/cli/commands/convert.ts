// star convert in.pth out.safetensors — a torch.save checkpoint (or any
// weight file the engine reads) to safetensors, tensor by tensor, keeping
// upstream key names; optionally casting float tensors to fp16 or fp32.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { convertToSafetensors } from '../../engine/weights/convert.ts';
import { choiceOption, UsageError } from '../args.ts';
import type { CliIo } from '../main.ts';

export const CONVERT_HELP = `usage: star convert <in.pth> <out.safetensors> [options]

  --key PATH        dot path of the state dict inside the checkpoint
                    (STAR generators: trainer.var_wo_ddp; found automatically when omitted)
  --dtype fp16|fp32 cast floating-point tensors (default: keep each tensor's dtype)`;

export async function convertCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { key: { type: 'string' }, dtype: { type: 'string' } },
  });
  if (positionals.length !== 2) throw new UsageError('expected an input checkpoint and an output .safetensors path');
  const [input, output] = positionals.map((p) => resolve(p));
  if (!output.endsWith('.safetensors')) throw new UsageError(`the output must be a .safetensors file, got ${output}`);
  if (input === output) throw new UsageError('the output must differ from the input');
  const dtype = choiceOption('dtype', values.dtype, ['fp16', 'fp32'] as const);
  const { tensors, bytes } = convertToSafetensors(input, output, {
    key: values.key,
    dtype: dtype === 'fp16' ? 'float16' : dtype === 'fp32' ? 'float32' : undefined,
  });
  io.out(`${output}: ${tensors} tensors, ${(bytes / 2 ** 20).toFixed(1)} MiB`);
  return 0;
}
