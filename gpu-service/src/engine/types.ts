// The one interface the HTTP service uses to reach the engine (DESIGN.md,
// "Rooms and doors"). Nothing here knows about HTTP.

/**
 * One request: one image per seed, image i drawn from `seeds[i]` alone. The fields are the
 * internal API's (@star-api/contract), so the service hands its validated body on as it is.
 */
export interface GenerateRequest {
  prompt: string;
  negative_prompt?: string;
  seeds: number[];
  cfg: number;
  top_k: number;
  top_p: number;
  more_smooth: boolean;
}

/** Row-major HWC RGB, 8 bits per channel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface ProgressEvent {
  /** 1-based index of the scale just finished. */
  scale: number;
  scales: number;
  /** Side of the token map at this scale. */
  side: number;
  /** Low-resolution decode of the current f_hat, one per image, when asked for. */
  previews?: RgbImage[];
}

export interface GenerateOptions {
  onProgress?: (event: ProgressEvent) => void;
  /** Ask for a preview image with every progress event (costs a small decode per scale). */
  preview?: boolean;
  /** Checked between scales; aborting rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface StageTimings {
  textMs: number;
  generateMs: number;
  decodeMs: number;
  totalMs: number;
}

export interface GenerateResult {
  /** One per seed of the request, in its order. */
  images: RgbImage[];
  timings: StageTimings;
  /** How many images shared the engine run that produced these. */
  batchSize: number;
}

export interface ModelInfo {
  name: string;
  /** Output image side in pixels. */
  resolution: number;
  patchNums: number[];
}

export interface BatchItem {
  request: GenerateRequest;
  options?: GenerateOptions;
}

export interface Pipeline {
  readonly info: ModelInfo;
  /** Runs several requests as one batch; each promise settles on its own. */
  generateBatch(items: BatchItem[]): Promise<GenerateResult>[];
  generate(request: GenerateRequest, options?: GenerateOptions): Promise<GenerateResult>;
  dispose(): Promise<void>;
}
