// One source for validation: schemas.gen.ts must be what gen-schemas emits from openapi.yaml today;
// and the Worker must deploy as wrangler.toml describes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { OPENAPI_PATH, OUTPUT_PATH, generateSchemas } from '../scripts/gen-schemas.ts';
import { GenerationRequest, JobCreateRequest, Problem } from '../src/schemas.gen.ts';
import { PROBLEMS } from '../src/problems/index.ts';
import { parse } from 'yaml';

test('edge/src/schemas.gen.ts is up to date with openapi.yaml (run `npm run gen-schemas -w edge`)', () => {
  assert.equal(readFileSync(OUTPUT_PATH, 'utf8'), generateSchemas(readFileSync(OPENAPI_PATH, 'utf8')));
});

test('the generated schemas enforce openapi.yaml’s limits and defaults', () => {
  assert.deepEqual(GenerationRequest.parse({ prompt: 'x' }), {
    prompt: 'x',
    n: 1,
    cfg: 4.5,
    top_k: 900,
    top_p: 0.95,
    more_smooth: false,
    output_format: 'png',
    response_format: 'url',
    png_metadata: true,
    private: false,
  });
  assert.equal(GenerationRequest.safeParse({ prompt: 'x', n: 5 }).success, false);
  assert.equal(GenerationRequest.safeParse({ prompt: 'x', top_k: 1_000_001 }).success, false);
  // Lengths count characters, as JSON Schema does: 2000 foxes are 4000 UTF-16 units.
  assert.equal(GenerationRequest.safeParse({ prompt: '🦊'.repeat(2000) }).success, true);
  assert.equal(GenerationRequest.safeParse({ prompt: '🦊'.repeat(2001) }).success, false);
  assert.equal(GenerationRequest.safeParse({ prompt: 'x', top_p: 0 }).success, false);
  assert.equal(GenerationRequest.safeParse({ prompt: 'x', seed: 2 ** 32 }).success, false);
  assert.equal(GenerationRequest.safeParse({ prompt: 'x'.repeat(2001) }).success, false);
  assert.equal(JobCreateRequest.safeParse({ prompt: 'x', webhook_url: 'http://example.com' }).success, false);
  assert.equal(
    Problem.safeParse({ type: 'https://star-api.dev/problems/internal', title: 't', status: 500, detail: 'd', request_id: 'r' }).success,
    true,
  );
});

test('every problem the Worker can emit is a ProblemType in openapi.yaml, with the same status', () => {
  const document = parse(readFileSync(OPENAPI_PATH, 'utf8')) as { components: { schemas: { ProblemType: { enum: string[] } } } };
  const declared = new Set(document.components.schemas.ProblemType.enum);
  for (const name of Object.keys(PROBLEMS)) assert.ok(declared.has(`https://star-api.dev/problems/${name}`), name);
});

test('`wrangler deploy --dry-run` bundles the Worker with its bindings', { timeout: 60_000 }, async () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const out = mkdtempSync(join(tmpdir(), 'star-dry-run-'));
  try {
    const wrangler = join(root, 'node_modules/.bin/wrangler');
    const { stdout } = await promisify(execFile)(wrangler, ['deploy', '--dry-run', '--outdir', out], {
      cwd: root,
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
    });
    for (const binding of ['RATE_LIMITER', 'JOBS', 'IDEMPOTENCY', 'GENERATION_LOCKS', 'API_KEYS', 'IMAGES'])
      assert.match(stdout, new RegExp(`env\\.${binding}\\b`));
    assert.match(stdout, /--dry-run: exiting now/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
