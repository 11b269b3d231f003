// The SDK as a customer gets it: `npm pack -w sdk`, the tarball installed into
// an empty project (offline: the SDK has no dependencies), imported from there.
// Cross-package tests drive the stack through this copy, not through sdk/src.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ROOT } from '../../scripts/lib/stack.ts';

const run = promisify(execFile);

export type Sdk = typeof import('@star-api/sdk');

export interface PackedSdk {
  /** The installed package's module, loaded from the temp project's node_modules. */
  sdk: Sdk;
  /** The temp project the tarball was installed into. */
  project: string;
  remove(): Promise<void>;
}

// npm runs on the same Node as the test (the machine's own may be older).
function npm(args: string[], cwd: string) {
  return run('npm', args, { cwd, env: { ...process.env, PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}` } });
}

export async function installPackedSdk(): Promise<PackedSdk> {
  const dir = await mkdtemp(join(tmpdir(), 'star-packed-sdk-'));
  try {
    await npm(['pack', '-w', 'sdk', '--pack-destination', dir, '--silent'], ROOT);
    const tarball = (await readdir(dir)).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Error('npm pack -w sdk produced no tarball');
    const project = join(dir, 'consumer');
    await mkdir(project);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await npm(['install', '--offline', '--no-audit', '--no-fund', '--silent', join(dir, tarball)], project);
    const entry = join(project, 'node_modules/@star-api/sdk/dist/esm/index.js');
    const sdk = (await import(pathToFileURL(entry).href)) as Sdk;
    return { sdk, project, remove: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
