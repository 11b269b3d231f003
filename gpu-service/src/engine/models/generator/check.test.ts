import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixturePath } from '../../testing/fixtures.ts';
import { checkFixture, formatReport } from './check.ts';

// Reference tensors the check cannot reproduce without the §4.5 sampler path
// (owned by the sampler-head module) or that have no inference counterpart.
const ALLOWED_SKIPS = /^(s\d+\.k\d+\.(?!mixed_logits$)|s\d+\.schedule$|s\d+\.k[5-9]\.mixed_logits$|tf\.logits_cond$|derived\.sampler_attn_mask$)/;

for (const fixture of ['tiny-a', 'tiny-b']) {
  test(`star check passes on star-tiny/${fixture} in upstream and per-row modes, every tensor within tolerance`, async () => {
    const report = await checkFixture(fixturePath(`star-tiny/${fixture}`));
    const failed = report.checked.filter((c) => !c.pass);
    assert.deepEqual(failed, [], formatReport(report));
    for (const mode of ['upstream', 'per-row'] as const) {
      const names = new Set(report.checked.filter((c) => c.mode === mode).map((c) => c.name));
      for (const family of ['x_in', 'hidden', 'logits', 'h_BChw', 'f_hat']) assert.ok(names.has(`s0.${family}`) && names.has(`s2.${family}`), `${mode}: s*.${family} checked`);
      for (const name of ['final.f_hat', 'final.img_01', 'final.img_unclamped', 'tf.logits_cfg_batch', 'derived.freqs_cis_real']) assert.ok(names.has(name), `${mode}: ${name} checked`);
    }
    assert.ok(report.checked.some((c) => c.file === 'sampling.safetensors' && c.name.endsWith('_p0.8.probs')));
    const unexpected = report.skipped.filter((s) => !ALLOWED_SKIPS.test(s.name));
    assert.deepEqual(unexpected, [], 'every other reference tensor is compared');
    assert.ok(report.pass);
  });
}
