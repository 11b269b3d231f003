// The decoder as the pipeline uses it: one cached graph and one session per model and
// device, decoding f_hat to RGB images (full size) or to small previews between scales.
import { cachedModel } from '../../onnx/cache.ts';
import type { RuntimeTensor } from '../../onnx/runtime.ts';
import type { Device, Precision } from '../../onnx/target.ts';
import { Session, tensor } from '../../onnx/runtime.ts';
import type { RgbImage } from '../../types.ts';
import type { TensorStore } from '../../weights/tensors.ts';
import type { VqvaeConfig } from './config.ts';
import { buildDecoderGraph, DECODER_INPUT, DECODER_OUTPUT } from './decoder.ts';
import { previewLatent } from './preview.ts';

export interface VqvaeDecoderOptions {
  device: Device;
  /** Defaults to fp16 on CUDA, fp32 on CPU. */
  precision?: Precision;
  threads?: number;
  /** onnxruntime's CPU memory arena (runtime.ts SessionOptions.memoryArena); default on. */
  memoryArena?: boolean;
  /** Identifies the weights (e.g. model name + file size + mtime) for the graph cache. */
  weightsKey: string;
  cacheDir?: string;
}

export class VqvaeDecoder {
  readonly precision: Precision;
  private readonly session: Session;
  /**
   * CPU decodes one image per run: a batch run is no faster per image there
   * (1.11× the time of four single runs at d16 shapes) and holds every row's
   * activations at once. On CUDA a batch is one run.
   */
  private readonly rowByRow: boolean;

  private constructor(session: Session, precision: Precision, rowByRow: boolean) {
    this.session = session;
    this.precision = precision;
    this.rowByRow = rowByRow;
  }

  static async load(vae: TensorStore, cfg: VqvaeConfig, options: VqvaeDecoderOptions): Promise<VqvaeDecoder> {
    const precision = options.precision ?? (options.device === 'cuda' ? 'fp16' : 'fp32');
    const key = { graph: 'vqvae-decoder', weights: options.weightsKey, cfg, precision };
    const { modelPath } = cachedModel(key, () => buildDecoderGraph(vae, cfg, { precision }), options.cacheDir);
    const session = await Session.create(modelPath, { device: options.device, threads: options.threads, memoryArena: options.memoryArena });
    return new VqvaeDecoder(session, precision, options.device === 'cpu');
  }

  /** f_hat fp32 [B, Cvae, h, w] → B images of 16h × 16w. */
  async decode(fHat: RuntimeTensor): Promise<RgbImage[]> {
    if (!this.rowByRow) return this.decodeRun(fHat);
    const [b, ...rowDims] = fHat.dims;
    const data = fHat.data as Float32Array;
    const rowSize = data.length / b;
    const images: RgbImage[] = [];
    for (let i = 0; i < b; i++)
      images.push(...(await this.decodeRun(tensor('float32', data.subarray(i * rowSize, (i + 1) * rowSize), [1, ...rowDims]))));
    return images;
  }

  private async decodeRun(fHat: RuntimeTensor): Promise<RgbImage[]> {
    const out = await this.session.run({ [DECODER_INPUT]: fHat }, { fetches: [DECODER_OUTPUT] });
    const image = out[DECODER_OUTPUT];
    const [b, height, width] = image.dims;
    const data = image.data as Uint8Array;
    const size = height * width * 3;
    return Array.from({ length: b }, (_, i) => ({ width, height, data: data.subarray(i * size, (i + 1) * size) }));
  }

  /** A low-resolution decode of f_hat through a side×side latent (see preview.ts for the cost). */
  preview(fHat: RuntimeTensor, side: number): Promise<RgbImage[]> {
    return this.decode(previewLatent(fHat, side));
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}
