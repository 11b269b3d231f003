import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const REPO = resolve(import.meta.dirname, '../..');

test('the device check runs every step on CPU in its dry mode and writes its summary (the script a GPU session runs)', () => {
  const out = mkdtempSync(join(tmpdir(), 'gpu-check-'));
  try {
    const run = spawnSync('bash', ['gpu-service/bench/gpu-check.sh', '--device', 'cpu', '--dry', '--no-install', '--out', out], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 240_000,
    });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      device: string;
      results: { step: string; ok: boolean; summary: string }[];
    };
    assert.equal(summary.device, 'cpu');
    assert.deepEqual(
      summary.results.map((r) => r.step),
      ['provider', 'check tiny-b fp16', 'placement', 'engine tiny per-scale', 'memory plan', 'service'],
    );
    for (const r of summary.results) assert.ok(r.ok, `${r.step}: ${r.summary}`);
    const byStep = Object.fromEntries(summary.results.map((r) => [r.step, r.summary]));
    assert.match(byStep['check tiny-b fp16'], /^pass; \d+ tensors, worst relative error [\d.]+e-\d/);
    assert.match(byStep['engine tiny per-scale'], /B=1 [\d.]+ s\/image/);
    assert.match(byStep.service, /2 clients [\d.]+ → [\d.]+ img\/s/);
    assert.match(readFileSync(join(out, 'summary.md'), 'utf8'), /\| service \| ok \|/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
