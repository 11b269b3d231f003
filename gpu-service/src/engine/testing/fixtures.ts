// Where the shared reference fixtures live: ../shared beside the repository
// (CI clones the repo with shared/ next to it), overridable with STAR_FIXTURES.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export function fixturesDir(): string {
  const dir = resolve(process.env.STAR_FIXTURES ?? join(import.meta.dirname, '../../../../../shared/fixtures'));
  if (!existsSync(dir)) throw new Error(`reference fixtures not found at ${dir}; set STAR_FIXTURES`);
  return dir;
}

export function fixturePath(relative: string): string {
  return join(fixturesDir(), relative);
}
