// An engine change against the tree it started from, interleaved (not a test: it prints figures):
//
//   node gpu-service/bench/ab.ts <git ref> [--rounds 2] [engine.ts options…]
//   e.g. node gpu-service/bench/ab.ts HEAD~3 --models d16 --modes all --batches 1 --repeats 3
//
// On a shared host the same tree's times move ±10 % from one run to the next, so two bench reports
// taken at different times cannot show a 10 % change. This checks the ref out in a temporary git
// worktree (sharing node_modules and the bench's random models), then runs engine.ts in the ref's
// tree and in this one by turns, `--rounds` times each, and prints each configuration's median
// seconds per image (text, generator, decode, total) side by side with this tree's as a ratio.
// The ref's tree resolves the workspace packages (@star-api/contract) to this tree's copies.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { triple } from '../../bench/parse.ts';

const REPO = resolve(import.meta.dirname, '../..');
/** Folders the ref's tree borrows from this one: installed packages and engine.ts's generated models. */
const SHARED = ['node_modules', 'gpu-service/node_modules', 'contract/node_modules', '.cache/bench'];

interface Run {
  model: string;
  precision?: string;
  mode: string;
  batch: number;
  runs: { textMs: number; generateMs: number; decodeMs: number; totalMs: number }[];
}

const STAGES = ['textMs', 'generateMs', 'decodeMs', 'totalMs'] as const;
type Stage = (typeof STAGES)[number];

function git(...args: string[]): string {
  const out = spawnSync('git', args, { cwd: REPO, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`git ${args.join(' ')}: ${out.stderr.trim()}`);
  return out.stdout.trim();
}

/** One engine.ts run in `tree`; its JSON results. */
function bench(tree: string, engineArgs: string[], json: string): Run[] {
  const out = spawnSync(process.execPath, ['gpu-service/bench/engine.ts', ...engineArgs, '--json', json], {
    cwd: tree,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (out.status !== 0) throw new Error(`engine.ts in ${tree} exited with ${out.status}`);
  return JSON.parse(readFileSync(json, 'utf8')) as Run[];
}

const configOf = (r: Run) => `${r.model} · ${r.precision ?? 'fp32'} · ${r.mode} · batch ${r.batch}`;

/** Median s/image per stage for each configuration, over every repeat of every round. */
export function summarize(rounds: Run[][]): Map<string, Record<Stage, number>> {
  const byConfig = new Map<string, Pick<Run, 'batch' | 'runs'>>();
  for (const run of rounds.flat()) {
    const entry = byConfig.get(configOf(run)) ?? { batch: run.batch, runs: [] };
    entry.runs.push(...run.runs);
    byConfig.set(configOf(run), entry);
  }
  const perImage = ({ batch, runs }: Pick<Run, 'batch' | 'runs'>) =>
    Object.fromEntries(STAGES.map((s) => [s, triple(runs.map((r) => r[s])).median / 1000 / batch])) as Record<Stage, number>;
  return new Map([...byConfig].map(([key, entry]) => [key, perImage(entry)]));
}

async function main(): Promise<void> {
  const [ref, ...rest] = process.argv.slice(2);
  if (!ref || ref.startsWith('-')) throw new Error('usage: node gpu-service/bench/ab.ts <git ref> [--rounds N] [engine.ts options…]');
  const roundsAt = rest.indexOf('--rounds');
  const rounds = roundsAt >= 0 ? Number(rest[roundsAt + 1]) : 2;
  const engineArgs = roundsAt >= 0 ? [...rest.slice(0, roundsAt), ...rest.slice(roundsAt + 2)] : rest;
  const scratch = mkdtempSync(join(tmpdir(), 'star-ab-'));
  const base = join(scratch, 'tree');
  git('worktree', 'add', '--detach', base, ref);
  try {
    for (const folder of SHARED) {
      if (!existsSync(join(REPO, folder))) continue;
      mkdirSync(dirname(join(base, folder)), { recursive: true });
      symlinkSync(join(REPO, folder), join(base, folder));
    }
    const results: Record<'base' | 'work', Run[][]> = { base: [], work: [] };
    for (let round = 0; round < rounds; round++) {
      for (const [side, tree] of [
        ['base', base],
        ['work', REPO],
      ] as const) {
        console.error(`round ${round + 1}/${rounds}: ${side === 'base' ? ref : 'this tree'}`);
        results[side].push(bench(tree, engineArgs, join(scratch, `${side}-${round}.json`)));
      }
    }
    const [before, after] = [summarize(results.base), summarize(results.work)];
    console.log(`median s/image: ${ref} → this tree (ratio), ${rounds} interleaved rounds each`);
    for (const [key, now] of after) {
      const then = before.get(key);
      if (!then) continue;
      const cells = STAGES.map(
        (s) => `${s.replace('Ms', '')} ${then[s].toPrecision(3)} → ${now[s].toPrecision(3)} (${(now[s] / then[s]).toFixed(2)}×)`,
      );
      console.log(`${key}\n  ${cells.join('   ')}`);
    }
  } finally {
    git('worktree', 'remove', '--force', base);
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (resolve(process.argv[1] ?? '') === import.meta.filename) await main();
