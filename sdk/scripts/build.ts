// Builds dist/ for npm: the same sources twice, as ES modules (dist/esm) and as CommonJS
// (dist/cjs, marked by its own package.json), each with its .d.ts files, so `import` and
// `require` both work from Node 20 on and TypeScript finds types under `module: commonjs` and
// `nodenext` alike (package.json's `exports` picks one per condition).
import { execFileSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const sdk = fileURLToPath(new URL('..', import.meta.url));
const tsc = fileURLToPath(import.meta.resolve('typescript/bin/tsc'));

/**
 * `./x.ts` → `./x.js` in relative specifiers of emitted .d.ts files (tsc rewrites them in .js
 * only), so the declarations look like any package's and do not rely on the consumer's
 * TypeScript accepting `.ts` specifiers in declaration files (5.9, which the pack test runs, does).
 */
export function rewriteDeclarationSpecifiers(text: string): string {
  return text.replace(/(from\s+|import\()(['"])(\.{1,2}\/[^'"]+)\.ts\2/g, '$1$2$3.js$2');
}

function declarations(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.d.ts'))
    .map((name) => join(dir, name));
}

if (import.meta.main) {
  rmSync(join(sdk, 'dist'), { recursive: true, force: true });
  for (const [config, out, type] of [
    ['tsconfig.build.json', 'dist/esm', 'module'],
    ['tsconfig.build-cjs.json', 'dist/cjs', 'commonjs'],
  ]) {
    execFileSync(process.execPath, [tsc, '-p', join(sdk, config)], { stdio: 'inherit' });
    copyFileSync(join(sdk, 'src/schema.d.ts'), join(sdk, out, 'schema.d.ts'));
    writeFileSync(join(sdk, out, 'package.json'), `${JSON.stringify({ type })}\n`);
    for (const file of declarations(join(sdk, out))) writeFileSync(file, rewriteDeclarationSpecifiers(readFileSync(file, 'utf8')));
  }
  console.log('built dist/esm and dist/cjs');
}
