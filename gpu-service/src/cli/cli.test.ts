// The CLI as a user runs it: bin/star.js in a child process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { STAR_HF_REVISION } from '../engine/models/registry.ts';
import { contiguousStride, writeTorchSave, writeTorchStateDict } from '../engine/testing/torch-save.ts';
import { fixturePath } from '../engine/testing/fixtures.ts';
import { readSafetensors, writeSafetensors } from '../engine/weights/safetensors.ts';

const STAR = join(import.meta.dirname, '../../bin/star.js');
const tmp = mkdtempSync(join(tmpdir(), 'star-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function star(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [STAR, ...args], {
      env: { ...process.env, STAR_CACHE_DIR: join(tmp, 'cache') },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
function pngSize(bytes: Buffer): [number, number] {
  assert.ok(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'PNG signature');
  assert.equal(bytes.toString('latin1', 12, 16), 'IHDR');
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

describe('star generate', () => {
  it("writes PNGs of the model's size with a progress bar per scale, the same bytes for the same seed", async () => {
    const out = join(tmp, 'fox.png');
    const run = await star('generate', 'a red fox', '--model', 'star-tiny', '--seed', '1', '-o', out, '--n', '2', '--threads', '1');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(pngSize(readFileSync(join(tmp, 'fox-0.png'))), [64, 64]);
    assert.deepEqual(pngSize(readFileSync(join(tmp, 'fox-1.png'))), [64, 64]);
    assert.match(run.stdout, /fox-0\.png\tseed 1\n.*fox-1\.png\tseed 2/);
    assert.equal(run.stderr.match(/scale \d\/7/g)?.length, 7);
    const again = await star('generate', 'a red fox', '--seed', '2', '-o', join(tmp, 'again.png'), '--threads', '1');
    assert.equal(again.code, 0, again.stderr);
    assert.ok(readFileSync(join(tmp, 'again.png')).equals(readFileSync(join(tmp, 'fox-1.png'))), 'image 1 of seed 1 = image 0 of seed 2');
  });

  it('rejects bad arguments with a clear message and exit status 2', async () => {
    const cases: [string[], RegExp][] = [
      [['generate'], /a prompt is required/],
      [['generate', 'x', '--seed=-5'], /--seed must be an integer ≥ 0/],
      [['generate', 'x', '--top-p', '1.5'], /--top-p must be a number ≥ 0 and ≤ 1/],
      [['generate', 'x', '--device', 'tpu'], /--device must be one of cpu, cuda/],
      [['generate', 'x', '--precision', 'int4'], /--precision must be one of fp32, fp16, int8/],
      [['generate', 'x', '--bogus'], /Unknown option '--bogus'/],
      [['generate', 'x', '-o', 'out.jpg'], /--out must name a \.png file/],
      [['paint'], /unknown command "paint"/],
    ];
    for (const [args, message] of cases) {
      const run = await star(...args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
  });

  it('fails with status 1 and names the model when it is not there', async () => {
    const run = await star('generate', 'x', '--model', 'star-512-d30', '--model-dir', tmp);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /model "star-512-d30" not found .*npx star fetch-model star-512-d30/);
  });
});

describe('star check', () => {
  it("prints every tensor's error as JSON and exits 0 on a passing fixture", async () => {
    const run = await star('check', fixturePath('star-tiny/tiny-b'), '--json', '--mode', 'upstream', '--no-images');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { pass: boolean; checked: { name: string; maxAbsError: number; maxAbsReference: number }[] };
    assert.equal(report.pass, true);
    const logits = report.checked.find((c) => c.name === 's4.logits');
    assert.ok(logits && logits.maxAbsError < 1e-3 && logits.maxAbsReference > 0);
  });

  it('exits 1 and marks the tensor when a reference disagrees', async () => {
    const dir = join(tmp, 'tampered');
    mkdirSync(dir);
    for (const f of ['config.json', 'var.safetensors', 'vae.safetensors']) copyFileSync(fixturePath(`star-tiny/tiny-b/${f}`), join(dir, f));
    const ref = readSafetensors(fixturePath('star-tiny/tiny-b/reference.safetensors'));
    writeSafetensors(
      join(dir, 'reference.safetensors'),
      ref.names.map((name) => {
        const t = ref.get(name);
        if (name !== 's2.logits') return t;
        const values = ref.float32(name);
        values[0] += 0.5;
        return { name, dtype: 'float32' as const, shape: t.shape, bytes: () => new Uint8Array(values.buffer) };
      }),
    );
    const run = await star('check', dir, '--mode', 'upstream', '--no-images');
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /FAIL s2\.logits +max\|err\| 5\.0\de-1/);
    assert.match(run.stdout, /ok {3}s2\.hidden/);
  });

  it('rejects a directory that is not a fixture', async () => {
    const run = await star('check', tmp);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /is not a fixture directory/);
  });
});

describe('star convert', () => {
  it('turns a .pth training snapshot into safetensors with upstream names, optionally in fp16', async () => {
    const pth = join(tmp, 'ckpt.pth');
    const shape = [2, 2];
    writeTorchSave(
      pth,
      {
        dict: [
          [
            'trainer',
            {
              dict: [
                [
                  'var_wo_ddp',
                  {
                    ordered: [
                      [
                        'head_logits.weight',
                        {
                          kind: 'tensor',
                          storageKey: '0',
                          storageType: 'FloatStorage',
                          storageNumel: 4,
                          offset: 0,
                          shape,
                          stride: contiguousStride(shape),
                        },
                      ],
                    ],
                  },
                ],
              ],
            },
          ],
        ],
      },
      [{ key: '0', bytes: new Uint8Array(Float32Array.from([1, 2.5, -3, 0.25]).buffer) }],
    );
    const out = join(tmp, 'ckpt.safetensors');
    const run = await star('convert', pth, out, '--key', 'trainer.var_wo_ddp', '--dtype', 'fp16');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /1 tensors/);
    const store = readSafetensors(out);
    assert.equal(store.get('head_logits.weight').dtype, 'float16');
    assert.deepEqual([...store.float32('head_logits.weight', [2, 2])], [1, 2.5, -3, 0.25]);
    const wrongKey = await star('convert', pth, join(tmp, 'x.safetensors'), '--key', 'trainer.model');
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /no state dict at key "trainer.model"/);
  });
});

describe('star fetch-model', () => {
  it('fails at once offline with a clear message', async () => {
    const run = await star('fetch-model', 'star-256-d30', '--dir', tmp, '--base-url', 'http://127.0.0.1:9/');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /cannot reach http:\/\/127.0.0.1:9 .*no network\?/);
  });

  it('lists the published models and the unpublished ones as such, and refuses the latter', async () => {
    const help = await star('fetch-model', '--help');
    assert.match(help.stdout, /star-256-d30, star-512-d30, star-1024-d30 \(not published: star-256-d16, star-1024-sampler\)/);
    assert.match(help.stdout, /trainer\.var_wo_ddp\) are extracted to safetensors/);
    const run = await star('fetch-model', 'star-1024-sampler', '--dir', tmp, '--base-url', 'http://127.0.0.1:9/');
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /star-1024-sampler is announced upstream but its weights are not published: taocrayon\/STAR has no sampler-head checkpoint/,
    );
  });

  it('shows a progress bar for the download and the extraction of the generator, then stops at a file that fails its check', async () => {
    const snapshot = join(tmp, 'hub-snapshot.pth');
    const weights = new Uint8Array(Float32Array.from({ length: 4096 }, (_, i) => i).buffer);
    writeTorchStateDict(snapshot, [{ name: 'head.weight', dtype: 'float32', shape: [64, 64], bytes: () => weights }], {
      at: ['trainer', 'var_wo_ddp'],
    });
    const hub = createServer((req, res) => {
      if (req.url === `/taocrayon/STAR/resolve/${STAR_HF_REVISION}/star_rope_d30_1024_drop_3-ar-ckpt-ep1-iter21000.pth`)
        res.end(readFileSync(snapshot));
      else if (req.url?.endsWith('/vae_ch160v4096z32.pth')) res.end('not the VQVAE');
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => hub.listen(0, '127.0.0.1', resolve));
    try {
      const dir = join(tmp, 'hub-models');
      const run = await star(
        'fetch-model',
        'star-1024-d30',
        '--dir',
        dir,
        '--base-url',
        `http://127.0.0.1:${(hub.address() as AddressInfo).port}`,
      );
      assert.equal(run.code, 1);
      assert.match(run.stderr, /\[#{24}\] star_rope_d30_1024_drop_3-ar-ckpt-ep1-iter21000.pth: 0.0 MiB of 0.0 MiB/);
      assert.match(
        run.stderr,
        /\[#{24}\] extracting the generator weights into star_rope_d30_1024_drop_3-ar-ckpt-ep1-iter21000.safetensors: 0.0 MiB of 0.0 MiB/,
      );
      assert.match(run.stderr, /vae_ch160v4096z32.pth: no source has it — .*offers 13 bytes, not the known 436075834/);
      assert.deepEqual(readSafetensors(join(dir, 'star-1024-d30/star_rope_d30_1024_drop_3-ar-ckpt-ep1-iter21000.safetensors')).names, [
        'head.weight',
      ]);
      assert.ok(existsSync(join(dir, 'star-1024-d30/NOTICE')));
    } finally {
      hub.close();
    }
  });
});
