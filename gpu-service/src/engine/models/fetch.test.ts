import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHECKSUMS_FILE, fetchFiles, fetchModel, NetworkError, sourceUrl } from './fetch.ts';
import type { RemoteFile } from './registry.ts';

const tmp = mkdtempSync(join(tmpdir(), 'star-fetch-'));
const BLOB = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) & 0xff));
const SHA = createHash('sha256').update(BLOB).digest('hex');

/** A loopback stand-in for the hub: serves BLOB at /org/repo/resolve/main/weights.bin with Range support; can cut a response short. */
let baseUrl = '';
let cutNextResponseAt: number | null = null;
const requests: string[] = [];
const server = createServer((req, res) => {
  requests.push(`${req.url} ${req.headers.range ?? ''}`);
  if (req.url !== '/org/repo/resolve/main/weights.bin') {
    res.writeHead(404).end();
    return;
  }
  const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
  if (start >= BLOB.length) {
    res.writeHead(416, { 'content-range': `bytes */${BLOB.length}` }).end();
    return;
  }
  const body = BLOB.subarray(start);
  res.writeHead(start ? 206 : 200, {
    'content-length': body.length,
    ...(start ? { 'content-range': `bytes ${start}-${BLOB.length - 1}/${BLOB.length}` } : {}),
  });
  if (cutNextResponseAt !== null) {
    res.write(body.subarray(0, cutNextResponseAt));
    cutNextResponseAt = null;
    setTimeout(() => res.destroy(), 20);
    return;
  }
  res.end(body);
});

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.close();
  rmSync(tmp, { recursive: true, force: true });
});

const FILE: RemoteFile = { target: 'sub/weights.bin', sources: [{ repo: 'org/missing', path: 'weights.bin' }, { repo: 'org/repo', path: 'weights.bin' }] };

describe('fetchFiles', () => {
  it('falls back to the next source on 404, resumes an interrupted download with Range, and records its sha256', async () => {
    const dir = join(tmp, 'resume');
    cutNextResponseAt = 30_000;
    await assert.rejects(fetchFiles(dir, [FILE], { baseUrl }), (err) => err instanceof NetworkError && /interrupted at 30000 bytes/.test(err.message));
    assert.equal(readFileSync(join(dir, 'sub/weights.bin.part')).length, 30_000);
    requests.length = 0;
    const [fetched] = await fetchFiles(dir, [FILE], { baseUrl });
    assert.deepEqual(requests, ['/org/missing/resolve/main/weights.bin bytes=30000-', '/org/repo/resolve/main/weights.bin bytes=30000-']);
    assert.equal(fetched.sha256, SHA);
    assert.ok(readFileSync(join(dir, 'sub/weights.bin')).equals(BLOB));
    assert.equal(existsSync(join(dir, 'sub/weights.bin.part')), false);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, CHECKSUMS_FILE), 'utf8')), { 'sub/weights.bin': SHA });
  });

  it('verifies complete files against the recorded checksum instead of downloading again', async () => {
    const dir = join(tmp, 'verify');
    await fetchFiles(dir, [FILE], { baseUrl });
    requests.length = 0;
    const [again] = await fetchFiles(dir, [FILE], { baseUrl });
    assert.equal(again.downloaded, false);
    assert.deepEqual(requests, []);
    writeFileSync(join(dir, 'sub/weights.bin'), 'tampered');
    await assert.rejects(fetchFiles(dir, [FILE], { baseUrl }), /does not match the recorded .* corrupt/);
  });

  it('rejects a download whose sha256 differs from the registry', async () => {
    await assert.rejects(fetchFiles(join(tmp, 'bad'), [{ ...FILE, sha256: '0'.repeat(64) }], { baseUrl }), /does not match 0000/);
  });

  it('names every source when none has the file', async () => {
    await assert.rejects(
      fetchFiles(join(tmp, 'none'), [{ target: 'x.pth', sources: [{ repo: 'a/b', path: 'x.pth' }], uncertain: 'name is a guess' }], { baseUrl }),
      /x.pth: no source has it — .*a\/b\/resolve\/main\/x.pth: HTTP 404 \(name is a guess\)/,
    );
  });
});

describe('fetchModel', () => {
  it('fails at once with a clear message when the hub is unreachable', async () => {
    const started = performance.now();
    await assert.rejects(fetchModel('star-256-d16', join(tmp, 'offline'), { baseUrl: 'http://127.0.0.1:9/' }), (err) => {
      assert.ok(err instanceof NetworkError);
      assert.match(err.message, /cannot reach http:\/\/127.0.0.1:9 \(.+\): no network\?/);
      return true;
    });
    assert.ok(performance.now() - started < 5000);
  });

  it('reports a refused connection the same way', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(fetchModel('star-512-d30', join(tmp, 'refused'), { baseUrl: `http://127.0.0.1:${port}` }), /cannot reach .* \(ECONNREFUSED\): no network\?/);
  });

  it('refuses star-tiny and unknown names', async () => {
    await assert.rejects(fetchModel('star-tiny', tmp), /ships inside the repository/);
    await assert.rejects(fetchModel('star-9000', tmp), /unknown model "star-9000"; known: star-256-d16/);
  });

  it('builds Hugging Face resolve URLs', () => {
    assert.equal(sourceUrl('https://huggingface.co/', { repo: 'taocrayon/STAR', path: 'CLIP/tokenizer/vocab.json' }), 'https://huggingface.co/taocrayon/STAR/resolve/main/CLIP/tokenizer/vocab.json');
  });
});
