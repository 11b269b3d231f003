import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { cudaProviderLibrary, cudaProviderProblem, probeCuda } from './runtime.ts';

test('without the CUDA provider library, DEVICE=cuda fails at once and says what is missing (this machine has none)', async () => {
  assert.equal(existsSync(cudaProviderLibrary()), false, 'npm ci here skips the CUDA download (.npmrc)');
  assert.match(cudaProviderProblem() ?? '', /libonnxruntime_providers_cuda\.so is missing|no CUDA backend/);
  await assert.rejects(probeCuda(), /DEVICE=cuda: .*ONNXRUNTIME_NODE_INSTALL=cuda12/);
});
