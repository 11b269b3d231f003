#!/usr/bin/env node
// `npx star …`: runs the TypeScript CLI with Node's type stripping. Node ≥ 22.18
// strips types by default; older Nodes that support the flag get it; anything
// older is re-run with the repository's own Node (the root devDependency `node`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const [major, minor] = process.versions.node.split('.').map(Number);

if (process.features.typescript) {
  const { run } = await import(entry);
  await run();
} else {
  let node = process.execPath;
  let flags = ['--experimental-strip-types', '--no-warnings=ExperimentalWarning'];
  if (major < 22 || (major === 22 && minor < 6)) {
    node = findRepoNode(dirname(entry));
    flags = [];
  }
  const child = spawnSync(node, [...flags, entry, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (child.error) {
    console.error(`star: could not start Node ≥ 22.6 (${child.error.message}); run \`npm ci\` in the repository or install Node 24`);
    process.exit(1);
  }
  process.exit(child.status ?? 1);
}

function findRepoNode(from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', '.bin', 'node');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) {
      console.error(
        `star: Node ${process.versions.node} cannot run TypeScript; install Node ≥ 22.6 (the repository pins Node 24 as a devDependency: run \`npm ci\`)`,
      );
      process.exit(1);
    }
  }
}
