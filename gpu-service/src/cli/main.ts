// `star` — the engine from the command line:
//
//   star generate "a prompt" [--model star-tiny] [--seed 1] [-o out.png] ...
//   star check <fixture-dir> [--json]
//   star convert in.pth out.safetensors [--key trainer.var_wo_ddp] [--dtype fp16|fp32]
//   star fetch-model NAME [--dir DIR]
//
// Exit status: 0 success, 1 failure (including a parity check above
// tolerance), 2 bad usage.
import { UsageError } from './args.ts';
import { checkCommand, CHECK_HELP } from './commands/check.ts';
import { convertCommand, CONVERT_HELP } from './commands/convert.ts';
import { fetchModelCommand, FETCH_MODEL_HELP } from './commands/fetch-model.ts';
import { generateCommand, GENERATE_HELP } from './commands/generate.ts';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Whether stderr is a terminal (progress bars redraw in place). */
  interactive: boolean;
}

type Command = (args: string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, { run: Command; help: string; summary: string }> = {
  generate: { run: generateCommand, help: GENERATE_HELP, summary: 'generate images from a prompt and write PNG files' },
  check: { run: checkCommand, help: CHECK_HELP, summary: "compare the engine with a parity fixture's reference tensors" },
  convert: { run: convertCommand, help: CONVERT_HELP, summary: 'convert a PyTorch .pth checkpoint to safetensors' },
  'fetch-model': { run: fetchModelCommand, help: FETCH_MODEL_HELP, summary: "download a released model's weights" },
};

export const HELP = `usage: star <command> [options]

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`)
  .join('\n')}

Run \`star <command> --help\` for a command's options.`;

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? args[0] : undefined;
    if (topic && COMMANDS[topic]) io.out(COMMANDS[topic].help);
    else io.out(HELP);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`star: unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.out(command.help);
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`star ${name}: ${(err as Error).message}\n\n${command.help}`);
      return 2;
    }
    io.err(`star ${name}: ${(err as Error).message}`);
    if (process.env.STAR_DEBUG) io.err((err as Error).stack ?? '');
    return 1;
  }
}

/** Runs the CLI in this process and exits with its status. */
export async function run(): Promise<void> {
  const code = await main(process.argv.slice(2), {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    interactive: process.stderr.isTTY === true,
  });
  process.exitCode = code;
}

if (import.meta.main) await run();
