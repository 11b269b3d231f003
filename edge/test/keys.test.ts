// `npm run keys` against wrangler's local persistence, then the real Worker reading that state:
// a created key authenticates, a revoked one gets 403, and nothing secret is listed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { bearer, startWorker, type TestWorker } from './helpers/worker.ts';
import { main as keysMain } from '../scripts/keys.ts';

const SCRIPT = fileURLToPath(new URL('../scripts/keys.ts', import.meta.url));
const KV_ID = /binding = "API_KEYS"\s*\nid = "([0-9a-f]+)"/.exec(
  readFileSync(fileURLToPath(new URL('../../wrangler.toml', import.meta.url)), 'utf8'),
)?.[1];
const dir = mkdtempSync(join(tmpdir(), 'star-keys-'));

async function keys(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, ...args, '--persist-to', dir]);
  return stdout;
}

let worker: TestWorker | null = null;
let created: { key: string; kid: string; webhook_secret: string; tier: string; limits: { images: number } };

before(async () => {
  created = JSON.parse(await keys('create', '--name', 'ci', '--tier', 'pro', '--images', '7'));
});
after(async () => {
  await worker?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('unknown commands and bad options are refused with a usage message, before touching KV', async () => {
  await assert.rejects(keysMain(['rotate']), /usage: keys create/);
  await assert.rejects(keysMain(['create']), /--name/);
  await assert.rejects(keysMain(['create', '--name', 'x', '--tier', 'platinum']), /--tier must be one of free, pro/);
});

test('create prints the key once, with its id, tier and limits', () => {
  assert.match(created.key, /^sk_[A-Za-z0-9_-]{40,}$/);
  assert.equal(created.kid, createHash('sha256').update(created.key).digest('hex').slice(0, 16));
  assert.equal(created.tier, 'pro');
  assert.equal(created.limits.images, 7);
  assert.match(created.webhook_secret, /^whsec_[0-9a-f]{64}$/);
});

test('list shows the key without its hash or secrets', async () => {
  const listed = await keys('list');
  const entries = JSON.parse(listed) as { kid: string; name: string }[];
  assert.deepEqual(
    entries.map((entry) => [entry.kid, entry.name]),
    [[created.kid, 'ci']],
  );
  assert.ok(!listed.includes(created.key));
  assert.ok(!listed.includes(createHash('sha256').update(created.key).digest('hex')));
  assert.ok(!listed.includes(created.webhook_secret));
});

test('the Worker, on the same local state, accepts the key and then refuses it once revoked', async () => {
  assert.ok(KV_ID, 'wrangler.toml names the API_KEYS namespace id');
  worker = await startWorker({
    gpuUrl: 'http://127.0.0.1:9',
    persistPath: join(dir, 'v3'),
    kvNamespaceId: KV_ID,
    vars: { KEY_CACHE_SECONDS: '1' },
  });
  // A route that needs no gpu-service (there is none here): an unknown job is a 404 past auth.
  const ok = await worker.fetch(`/v1/jobs/job_${'x'.repeat(24)}`, { headers: bearer(created.key) });
  assert.equal(ok.status, 404);
  assert.match(ok.headers.get('RateLimit-Policy') ?? '', /"images";q=7;/);
  await ok.arrayBuffer();
  const readAt = Date.now();
  await keys('revoke', created.kid);
  // This isolate trusts the record it read for KEY_CACHE_SECONDS (1 s here).
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, readAt + 1_100 - Date.now())));
  const refused = await worker.fetch(`/v1/jobs/job_${'x'.repeat(24)}`, { headers: bearer(created.key) });
  assert.equal(refused.status, 403);
  await refused.arrayBuffer();
});
