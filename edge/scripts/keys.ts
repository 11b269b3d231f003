// API key management. Keys are shown once, at creation; KV keeps only their SHA-256, the render
// signing key and the webhook secret derived from them, the tier and its limits.
//
//   npm run keys -w edge -- create --name NAME [--tier free|pro] [--requests N] [--images N]
//                                  [--window SECONDS] [--concurrent N] [--queue N] [--renders N]
//   npm run keys -w edge -- revoke KID|KEY
//   npm run keys -w edge -- list
//
// Storage: wrangler's local persistence by default (what `npm run dev -w edge` reads; add
// `--persist-to DIR` to match a custom `wrangler dev --persist-to`), or the deployed namespace
// with `--remote`. Runs `wrangler kv key ...` against the root wrangler.toml.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { TIERS, createRecord, generateKey, keyId, kvKeyFor, parseRecord, type ApiKeyRecord, type Tier } from '../src/keys/record.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRANGLER = join(ROOT, 'node_modules/.bin/wrangler');
const CONFIG = join(ROOT, 'wrangler.toml');

interface Target {
  remote: boolean;
  persistTo?: string;
}

async function wrangler(target: Target, args: string[]): Promise<string> {
  const where = target.remote ? ['--remote'] : ['--local', ...(target.persistTo ? ['--persist-to', target.persistTo] : [])];
  try {
    const { stdout } = await promisify(execFile)(WRANGLER, ['kv', 'key', ...args, '--binding', 'API_KEYS', '--config', CONFIG, ...where], {
      cwd: ROOT,
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    // execFile's error repeats the command line; say only what wrangler reported.
    const stderr = String((error as { stderr?: string }).stderr ?? '');
    const reason = stderr
      .split('\n')
      .find((line) => /ERROR|failed/i.test(line))
      // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the colour codes it strips
      ?.replace(/\x1b\[[0-9;]*m/g, '')
      .trim();
    throw new Error(`wrangler kv key ${args[0]} failed: ${reason || 'see wrangler logs'}`);
  }
}

async function getRecord(target: Target, kid: string): Promise<ApiKeyRecord | null> {
  try {
    return parseRecord(JSON.parse(await wrangler(target, ['get', kvKeyFor(kid), '--text'])));
  } catch {
    return null;
  }
}

/** The record goes through a private temp file, never argv: argv shows in `ps` and in wrangler's logs. */
async function putRecord(target: Target, record: ApiKeyRecord): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'star-keys-'));
  const file = join(dir, 'record.json');
  try {
    await writeFile(file, JSON.stringify(record), { mode: 0o600 });
    await wrangler(target, ['put', kvKeyFor(record.kid), '--path', file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What `list` shows: never the hash, the signing key or the webhook secret. */
function publicView(record: ApiKeyRecord) {
  return {
    kid: record.kid,
    name: record.name,
    tier: record.tier,
    limits: record.limits,
    created_at: new Date(record.created_at * 1000).toISOString(),
    ...(record.revoked_at !== undefined ? { revoked_at: new Date(record.revoked_at * 1000).toISOString() } : {}),
  };
}

function positive(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new Error(`--${name} must be a positive integer`);
  return number;
}

export async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      tier: { type: 'string', default: 'free' },
      requests: { type: 'string' },
      images: { type: 'string' },
      window: { type: 'string' },
      concurrent: { type: 'string' },
      queue: { type: 'string' },
      renders: { type: 'string' },
      remote: { type: 'boolean', default: false },
      'persist-to': { type: 'string' },
    },
  });
  const target: Target = { remote: values.remote, persistTo: values['persist-to'] };
  const [command, argument] = positionals;

  if (command === 'create') {
    if (!values.name) throw new Error('create needs --name');
    if (!(values.tier in TIERS)) throw new Error(`--tier must be one of ${Object.keys(TIERS).join(', ')}`);
    const key = generateKey();
    const record = await createRecord(key, values.name, values.tier as Tier);
    const overrides = {
      requests: positive(values.requests, 'requests'),
      images: positive(values.images, 'images'),
      window_seconds: positive(values.window, 'window'),
      concurrent: positive(values.concurrent, 'concurrent'),
      queue: positive(values.queue, 'queue'),
      renders: positive(values.renders, 'renders'),
    };
    for (const [field, value] of Object.entries(overrides))
      if (value !== undefined) record.limits[field as keyof typeof record.limits] = value;
    await putRecord(target, record);
    console.log(JSON.stringify({ key, webhook_secret: record.whsec, ...publicView(record) }, null, 2));
    console.error('Store the key now: it is not kept anywhere and cannot be shown again.');
    return;
  }
  if (command === 'revoke') {
    if (!argument) throw new Error('revoke needs a key id (16 hex) or the key itself');
    const kid = /^[0-9a-f]{16}$/.test(argument) ? argument : await keyId(argument);
    const record = await getRecord(target, kid);
    if (!record) throw new Error(`no key with id ${kid}`);
    record.revoked_at ??= Math.floor(Date.now() / 1000);
    await putRecord(target, record);
    console.log(JSON.stringify(publicView(record), null, 2));
    return;
  }
  if (command === 'list') {
    const names = (JSON.parse(await wrangler(target, ['list', '--prefix', 'key:'])) as { name: string }[]).map((entry) => entry.name);
    const records = await Promise.all(names.map((name) => getRecord(target, name.slice('key:'.length))));
    console.log(JSON.stringify(records.filter((record) => record !== null).map(publicView), null, 2));
    return;
  }
  throw new Error('usage: keys create --name NAME [--tier free|pro] | revoke KID|KEY | list  [--remote] [--persist-to DIR]');
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  });
}
