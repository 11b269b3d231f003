import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Session, tensor } from '../../onnx/runtime.ts';
import { toModelBytes } from '../../onnx/serialize.ts';
import { fixturePath } from '../../testing/fixtures.ts';
import { readSafetensors } from '../../weights/safetensors.ts';
import { TensorStore } from '../../weights/tensors.ts';
import { buildTextEncoderGraph } from './clip-text.ts';
import { parseClipTextConfig, readClipTextConfig } from './config.ts';

const dir = fixturePath('clip-text-tiny');

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('config: HF fields are read, and the legacy eos_token_id 2 means the largest id', () => {
  const cfg = readClipTextConfig(`${dir}/config.json`);
  assert.deepEqual(cfg, {
    vocabSize: 49408,
    hiddenSize: 64,
    intermediateSize: 128,
    numLayers: 2,
    numHeads: 4,
    maxPositions: 77,
    activation: 'gelu',
    layerNormEps: 1e-5,
    eosTokenId: 49407,
  });
  const sd21Json = {
    vocab_size: 49408,
    hidden_size: 1024,
    intermediate_size: 4096,
    num_hidden_layers: 23,
    num_attention_heads: 16,
    max_position_embeddings: 77,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-5,
    eos_token_id: 49407,
  };
  const sd21 = parseClipTextConfig(sd21Json);
  assert.equal(sd21.eosTokenId, 49407);
  assert.equal(sd21.numLayers, 23);
  assert.throws(() => parseClipTextConfig({ ...sd21Json, hidden_act: 'relu' }), /hidden_act "relu" is not supported/);
  assert.throws(() => parseClipTextConfig({ vocab_size: 10 }), /hidden_size must be a positive integer/);
});

test('the CLIP text graph matches HF CLIPTextModel on clip-text-tiny within 1e-4 (all 77 positions, pooled at the first EOS)', async () => {
  const cfg = readClipTextConfig(`${dir}/config.json`);
  const graph = buildTextEncoderGraph(readSafetensors(`${dir}/model.safetensors`), cfg, { precision: 'fp32' });
  const session = await Session.create(toModelBytes(graph), { device: 'cpu', threads: 1 });
  const ref = readSafetensors(`${dir}/reference.safetensors`);
  const ids = new BigInt64Array(ref.get('input_ids').bytes().buffer);
  const mask = new BigInt64Array(ref.get('attention_mask').bytes().buffer);
  const rows = ref.get('input_ids').shape[0];
  const out = await session.run({
    input_ids: tensor('int64', ids, [rows, 77]),
    attention_mask: tensor('int64', mask, [rows, 77]),
  });
  assert.deepEqual(out.last_hidden_state.dims, [rows, 77, 64]);
  assert.deepEqual(out.pooled.dims, [rows, 64]);
  const hiddenErr = maxAbsDiff(out.last_hidden_state.data as Float32Array, ref.float32('last_hidden_state'));
  const pooledErr = maxAbsDiff(out.pooled.data as Float32Array, ref.float32('pooler_output'));
  assert.ok(hiddenErr <= 1e-4, `last_hidden_state max abs error ${hiddenErr}`);
  assert.ok(pooledErr <= 1e-4, `pooled max abs error ${pooledErr}`);

  // Without padding information (all-ones mask) the padded positions change
  // the way HF's own run without attention_mask does.
  const noMask = await session.run({
    input_ids: tensor('int64', ids, [rows, 77]),
    attention_mask: tensor('int64', new BigInt64Array(rows * 77).fill(1n), [rows, 77]),
  });
  const noMaskErr = maxAbsDiff(noMask.last_hidden_state.data as Float32Array, ref.float32('last_hidden_state_no_attention_mask'));
  assert.ok(noMaskErr <= 1e-4, `last_hidden_state without mask: max abs error ${noMaskErr}`);
  await session.dispose();
});

test('an fp16 text graph stores matrices as fp16, keeps LayerNorm parameters fp32, and stays within fp16 error', async () => {
  const cfg = readClipTextConfig(`${dir}/config.json`);
  const graph = buildTextEncoderGraph(readSafetensors(`${dir}/model.safetensors`), cfg, { precision: 'fp16' });
  const dtypeOf = (name: string) => graph.initializers.get(name)?.dtype;
  assert.equal(dtypeOf('text_model.embeddings.token_embedding.weight'), 'float16');
  assert.equal(dtypeOf('text_model.encoder.layers.1.mlp.fc2.weight'), 'float16'); // a Linear weight, as stored (out, in)
  assert.equal(dtypeOf('text_model.encoder.layers.0.layer_norm1.weight'), 'float32');
  assert.equal(dtypeOf('text_model.final_layer_norm.bias'), 'float32');
  const lnInputs = graph.nodes.filter((n) => n.opType === 'LayerNormalization');
  assert.equal(lnInputs.length, 2 * cfg.numLayers + 1);
  // onnxruntime's CPU provider runs the fp16 graph too (slowly): a real check of the casts.
  const session = await Session.create(toModelBytes(graph), { device: 'cpu', threads: 1 });
  const ref = readSafetensors(`${dir}/reference.safetensors`);
  const rows = ref.get('input_ids').shape[0];
  const out = await session.run({
    input_ids: tensor('int64', new BigInt64Array(ref.get('input_ids').bytes().buffer), [rows, 77]),
    attention_mask: tensor('int64', new BigInt64Array(ref.get('attention_mask').bytes().buffer), [rows, 77]),
  });
  const err = maxAbsDiff(out.last_hidden_state.data as Float32Array, ref.float32('last_hidden_state'));
  assert.ok(err <= 1e-2, `fp16 last_hidden_state max abs error ${err}`);
  await session.dispose();
});

test('SD-2.1-sized weights (1024 wide, 23 layers, 16 heads, MLP 4096) build with every shape checked', () => {
  const cfg = parseClipTextConfig({
    vocab_size: 49408,
    hidden_size: 1024,
    intermediate_size: 4096,
    num_hidden_layers: 23,
    num_attention_heads: 16,
    max_position_embeddings: 77,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-5,
    eos_token_id: 2,
  });
  // Shapes only: the bytes are never read while building.
  const D = cfg.hiddenSize;
  const shapes: Record<string, number[]> = {
    'embeddings.token_embedding.weight': [cfg.vocabSize, D],
    'embeddings.position_embedding.weight': [cfg.maxPositions, D],
    'final_layer_norm.weight': [D],
    'final_layer_norm.bias': [D],
  };
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `encoder.layers.${i}`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj'])
      Object.assign(shapes, { [`${p}.self_attn.${proj}.weight`]: [D, D], [`${p}.self_attn.${proj}.bias`]: [D] });
    for (const ln of ['layer_norm1', 'layer_norm2']) Object.assign(shapes, { [`${p}.${ln}.weight`]: [D], [`${p}.${ln}.bias`]: [D] });
    Object.assign(shapes, {
      [`${p}.mlp.fc1.weight`]: [cfg.intermediateSize, D],
      [`${p}.mlp.fc1.bias`]: [cfg.intermediateSize],
      [`${p}.mlp.fc2.weight`]: [D, cfg.intermediateSize],
      [`${p}.mlp.fc2.bias`]: [D],
    });
  }
  const store = new TensorStore(
    'sd21-shapes',
    Object.entries(shapes).map(([name, shape]) => ({
      name,
      dtype: 'float32' as const,
      shape,
      bytes: () => {
        throw new Error('not read');
      },
    })),
  ); // unprefixed names, as some exports write them
  for (const precision of ['fp32', 'fp16'] as const) {
    const graph = buildTextEncoderGraph(store, cfg, { precision });
    assert.deepEqual(
      graph.outputs.map((o) => [o.name, o.shape]),
      [
        ['last_hidden_state', ['batch', 77, 1024]],
        ['pooled', ['batch', 1024]],
      ],
    );
    assert.equal(graph.nodes.filter((n) => n.opType === 'MultiHeadAttention').length, 23);
    // Every weight once: matrices and embeddings at the compute precision, LayerNorm parameters fp32 (plus small constants).
    const layer = 4 * (D * D + D) + 2 * (cfg.intermediateSize * D) + cfg.intermediateSize + D;
    const matrices = (cfg.vocabSize + cfg.maxPositions) * D + cfg.numLayers * layer;
    const norms = (4 * cfg.numLayers + 2) * D;
    const expected = matrices * (precision === 'fp32' ? 4 : 2) + norms * 4;
    assert.ok(
      graph.weightBytes() >= expected && graph.weightBytes() < expected + 65536,
      `${precision}: ${graph.weightBytes()} bytes of initializers, weights alone ${expected}`,
    );
  }
  const wrong = new TensorStore('bad', [
    { name: 'embeddings.token_embedding.weight', dtype: 'float32', shape: [49408, 768], bytes: () => new Uint8Array() },
  ]);
  assert.throws(
    () => buildTextEncoderGraph(wrong, cfg, { precision: 'fp32' }),
    /"embeddings.token_embedding.weight" has shape \[49408, 768\], expected \[49408, 1024\]/,
  );
});
