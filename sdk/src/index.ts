// @star-api/sdk: a typed client for the star-api text-to-image API.
export { StarClient, defaultBaseURL } from './client.ts';
export type { ClientOptions, RequestOptions, RenderUrlOptions } from './client.ts';
export type { WaitOptions, StreamOptions } from './resources/jobs.ts';
export { APIPromise } from './core/api-promise.ts';
export type { WithResponse } from './core/api-promise.ts';
export {
  StarError,
  APIError,
  InvalidRequestError,
  UnauthorizedError,
  ForbiddenError,
  NotFoundError,
  ModelNotFoundError,
  ConflictError,
  PayloadTooLargeError,
  IdempotencyKeyReusedError,
  RateLimitedError,
  InternalServerError,
  GenerationFailedError,
  GPUUnavailableError,
  GPUTimeoutError,
  APIConnectionError,
  APITimeoutError,
  APIUserAbortError,
  MalformedResponseError,
  WebhookVerificationError,
  InvalidParamsError,
} from './core/errors.ts';
export { verifyWebhook, webhookSignatureHeader, defaultWebhookTolerance } from './webhook.ts';
export type { VerifyWebhookOptions, WebhookHeaders } from './webhook.ts';
export type * from './types.ts';
