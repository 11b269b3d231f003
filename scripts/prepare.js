// Plain JavaScript on purpose: it runs inside `npm ci`, possibly on a Node without type stripping.
// Runs after `npm ci`: builds the SDK's dist/ so `import '@star-api/sdk'` works in this
// checkout. A production install (`npm ci --omit=dev`, as in the gpu-service image) has no
// TypeScript and needs no SDK, so it skips the build instead of failing the install.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

try {
  createRequire(import.meta.url).resolve('typescript');
} catch {
  console.log('prepare: TypeScript is not installed (production install); the SDK build is skipped');
  process.exit(0);
}
execFileSync('npm', ['run', 'build', '-w', 'sdk'], { stdio: 'inherit' });
