import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixturePath } from '../testing/fixtures.ts';
import { checkFixture, formatReport, TOLERANCES } from './check.ts';

// Reference tensors with no inference output: the sampler path's recorded
// position noise (an input), and training-only tensors.
const ALLOWED_SKIPS = /^(s\d+\.k\d+\.mask_rand$|tf\.logits_cond$|derived\.sampler_attn_mask$)/;

for (const fixture of ['tiny-a', 'tiny-b']) {
  test(`star check passes on star-tiny/${fixture} in upstream and per-row modes, every tensor within tolerance`, async () => {
    const report = await checkFixture(fixturePath(`star-tiny/${fixture}`));
    const failed = report.checked.filter((c) => !c.pass);
    assert.deepEqual(failed, [], formatReport(report));
    for (const mode of ['upstream', 'per-row'] as const) {
      const names = new Set(report.checked.filter((c) => c.mode === mode).map((c) => c.name));
      for (const family of ['x_in', 'hidden', 'logits', 'h_BChw', 'f_hat'])
        assert.ok(names.has(`s0.${family}`) && names.has(`s2.${family}`), `${mode}: s*.${family} checked`);
      for (const name of ['final.f_hat', 'final.img_01', 'final.img_unclamped', 'tf.logits_cfg_batch', 'derived.freqs_cis_real'])
        assert.ok(names.has(name), `${mode}: ${name} checked`);
    }
    assert.ok(report.checked.some((c) => c.file === 'sampling.safetensors' && c.name.endsWith('_p0.8.probs')));
    if (fixture === 'tiny-a') {
      for (const name of ['s3.schedule', 's3.k0.topk1.idx', 's3.k4.conf', 's3.k7.head_logits', 's3.k7.topk0.idx']) {
        assert.equal(report.checked.filter((c) => c.name === name).length, 2, `${name} checked in both modes (§4.5 sampler path)`);
      }
    }
    const unexpected = report.skipped.filter((s) => !ALLOWED_SKIPS.test(s.name));
    assert.deepEqual(unexpected, [], 'every other reference tensor is compared');
    assert.ok(report.pass);
  });
}

for (const fixture of ['tiny-a', 'tiny-b']) {
  test(`star check --precision fp16 passes on star-tiny/${fixture} within fp16's tolerances (the CUDA path's parity contract)`, async () => {
    const report = await checkFixture(fixturePath(`star-tiny/${fixture}`), { precision: 'fp16' });
    assert.deepEqual(
      report.checked.filter((c) => !c.pass),
      [],
      formatReport(report),
    );
    const worst = (pattern: RegExp) =>
      Math.max(...report.checked.filter((c) => pattern.test(c.name)).map((c) => c.maxAbsError / Math.max(1, c.maxAbsReference)));
    assert.ok(worst(/^s\d+\.logits$/) > 0, 'fp16 really ran: the logits differ from the fp32 reference');
    assert.ok(worst(/^s\d+\.logits$/) < TOLERANCES.fp16.float);
    assert.ok(worst(/^final\.img_01$/) <= 1 / 255, 'on CPU the fp16 decoder stays within one 8-bit step');
    assert.equal(worst(/^s\d+\.h_BChw$/), 0, 'teacher-forced codes are exact');
    // A near-tie TopK flip may only skip the later steps of that scale's sampler path.
    for (const s of report.skipped.filter((s) => !ALLOWED_SKIPS.test(s.name)))
      assert.match(s.reason, /ordered near-equal scores differently/, s.name);
  });
}

test('fp16 tolerances sit above the fp32 ones and below a 1 % error; images within 4 8-bit steps', () => {
  assert.ok(0.01 > TOLERANCES.fp16.float && TOLERANCES.fp16.float > TOLERANCES.fp32.float);
  assert.equal(TOLERANCES.fp16.image('final.img_01'), 4 / 255);
  assert.equal(TOLERANCES.fp16.image('final.img_pm1'), 8 / 255);
});

for (const fixture of ['tiny-a', 'tiny-b']) {
  test(`star check --precision int8 passes on star-tiny/${fixture}: logits within int8's fidelity limits, images at fp32's tolerance`, async () => {
    const report = await checkFixture(fixturePath(`star-tiny/${fixture}`), { precision: 'int8' });
    assert.ok(report.pass, formatReport(report));
    assert.deepEqual(
      report.fidelity.map((f) => f.mode),
      ['upstream', 'per-row'],
    );
    for (const f of report.fidelity) {
      assert.ok(f.meanRelativeError > 1e-3, 'int8 really ran: the logits differ from the fp32 reference');
      assert.ok(f.positions > 200, 'every scale and sampler step is counted');
    }
    const images = report.checked.filter((c) => c.kind === 'image');
    assert.equal(images.length, 6);
    for (const c of images) assert.equal(c.tolerance, TOLERANCES.fp32.image(c.name) * Math.max(1, c.maxAbsReference));
  });
}

test('the fidelity measure finds every fp32 token agreeing with the reference (it adds no error of its own)', async () => {
  const report = await checkFixture(fixturePath('star-tiny/tiny-b'), { images: false });
  for (const f of report.fidelity) {
    assert.equal(f.argmaxAgreement, 1);
    assert.equal(f.topKAgreement, 1);
    assert.ok(f.meanRelativeError < 1e-5);
  }
});

test('star check refuses int8 off the CPU, as the pipeline does', async () => {
  await assert.rejects(checkFixture(fixturePath('star-tiny/tiny-b'), { precision: 'int8', device: 'cuda' }), /'int8' runs on the CPU only/);
});
