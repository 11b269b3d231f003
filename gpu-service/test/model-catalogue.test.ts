// The catalogue the edge lists and checks models by (@star-api/contract) and the models this
// service can load must agree: the same models, each with the same resolution and scales.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { MODELS } from '@star-api/contract';
import { BUILTIN_MODELS_DIR, RELEASED_MODELS, readManifest, releasedManifest, TINY_MODEL_NAME } from '../src/engine/models/registry.ts';

test('the model catalogue names every model the service can load, with its resolution and scales', () => {
  const manifests = [readManifest(join(BUILTIN_MODELS_DIR, TINY_MODEL_NAME)), ...RELEASED_MODELS.map(releasedManifest)];
  assert.deepEqual(
    manifests.map((m) => ({ id: m.name, resolution: m.resolution, scales: m.generator.build_vae_var_args.patch_nums })),
    MODELS.map(({ id, resolution, scales }) => ({ id, resolution, scales })),
  );
});
