import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULT_ENGINE_MODULE, loadConfig } from './config.ts';

const SECRET = 'x'.repeat(32);

describe('loadConfig', () => {
  it('defaults to star-tiny on CPU at port 8788 with the real engine', () => {
    const config = loadConfig({ GPU_SHARED_SECRET: SECRET });
    assert.deepEqual(config.models, ['star-tiny']);
    assert.equal(config.device, 'cpu');
    assert.equal(config.precision, undefined, "the engine's default precision for the device");
    assert.equal(config.port, 8788);
    assert.equal(config.engineModule, DEFAULT_ENGINE_MODULE);
    assert.ok(DEFAULT_ENGINE_MODULE.endsWith('/src/engine/pipeline.ts'));
  });

  it('parses every variable', () => {
    const config = loadConfig({
      GPU_SHARED_SECRET: SECRET,
      MODELS: 'star-tiny, star-256-d16',
      DEVICE: 'cuda',
      MAX_BATCH: '4',
      QUEUE_LIMIT: '10',
      REQUEST_TIMEOUT_MS: '5000',
      BATCH_WINDOW_MS: '2',
      PORT: '0',
      HOST: '127.0.0.1',
      MODEL_DIR: '/models',
      PRECISION: 'fp32',
    });
    assert.deepEqual(config.models, ['star-tiny', 'star-256-d16']);
    assert.deepEqual(
      [
        config.device,
        config.maxBatch,
        config.queueLimit,
        config.requestTimeoutMs,
        config.batchWindowMs,
        config.port,
        config.host,
        config.modelDir,
        config.precision,
      ],
      ['cuda', 4, 10, 5000, 2, 0, '127.0.0.1', '/models', 'fp32'],
    );
  });

  it('opts in to the int8 CPU path with PRECISION=int8', () => {
    assert.equal(loadConfig({ GPU_SHARED_SECRET: SECRET, PRECISION: 'int8' }).precision, 'int8');
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ['missing secret', { GPU_SHARED_SECRET: '' }, /GPU_SHARED_SECRET is required/],
    ['short secret', { GPU_SHARED_SECRET: 'short' }, /GPU_SHARED_SECRET must be at least 32/],
    ['unknown device', { DEVICE: 'tpu' }, /DEVICE must be one of "cpu", "cuda", got "tpu"/],
    ['unknown precision', { PRECISION: 'int4' }, /PRECISION must be one of "fp32", "fp16", "int8", got "int4"/],
    ['int8 on CUDA', { PRECISION: 'int8', DEVICE: 'cuda' }, /PRECISION=int8 runs on DEVICE=cpu only/],
    ['non-numeric batch', { MAX_BATCH: 'eight' }, /MAX_BATCH must be a whole number/],
    ['zero batch', { MAX_BATCH: '0' }, /MAX_BATCH must be between 1/],
    ['port out of range', { PORT: '70000' }, /PORT must be between/],
    ['empty model list', { MODELS: ' , ' }, /MODELS must name at least one model/],
    ['bad model name', { MODELS: '../etc' }, /MODELS has an invalid model name/],
  ];
  for (const [name, env, message] of bad) {
    it(`rejects ${name} with a message naming the variable`, () => {
      assert.throws(
        () => loadConfig({ GPU_SHARED_SECRET: SECRET, ...env }),
        (error: unknown) => error instanceof ConfigError && message.test(error.message),
      );
    });
  }

  it('never puts the secret in an error message', () => {
    const secret = 'sekrit-value';
    assert.throws(
      () => loadConfig({ GPU_SHARED_SECRET: secret }),
      (error: Error) => !error.message.includes(secret),
    );
  });
});
