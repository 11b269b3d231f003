// What the per-key limits say on the wire: the RateLimit-Policy and RateLimit headers, and the
// 429 for a limit the limiter refused, naming that limit in its detail and as the one item of its
// RateLimit header.
import { queueDepth, renderQuota, type Limits } from '../keys/record.ts';
import type { Decision, LimitName, LimitStatus } from '../stores/rate-limit/token-bucket.ts';
import { ProblemError } from '../problems/index.ts';

export function policyHeader(limits: Limits): string {
  return `"requests";q=${limits.requests};w=${limits.window_seconds}, "images";q=${limits.images};w=${limits.window_seconds}`;
}

export function statusHeader(status: LimitStatus): string {
  return `"requests";r=${status.requests.remaining};t=${status.requests.reset}, "images";r=${status.images.remaining};t=${status.images.reset}`;
}

/** The policy item of a limit that is not on every response (those are in policyHeader). */
function extraPolicy(limits: Limits, name: LimitName): string {
  if (name === 'renders') return `, "renders";q=${renderQuota(limits)};w=${limits.window_seconds}`;
  if (name === 'concurrent') return `, "concurrent";q=${limits.concurrent}`;
  if (name === 'queue') return `, "queue";q=${queueDepth(limits)}`;
  return '';
}

function refusalDetail(limits: Limits, name: LimitName): string {
  const per = `per ${limits.window_seconds} s`;
  switch (name) {
    case 'requests':
      return `The "requests" limit of ${limits.requests} ${per} is reached`;
    case 'images':
      return `The "images" limit of ${limits.images} generated images ${per} is reached`;
    case 'renders':
      return `The "renders" limit of ${renderQuota(limits)} render-URL generations ${per} is reached (cached views are free)`;
    case 'concurrent':
      return `The "concurrent" limit is reached: at most ${limits.concurrent} generations may run at once for this key (POST /v1/jobs queues instead)`;
    case 'queue':
      return `The "queue" limit is reached: ${limits.concurrent} jobs are running and ${queueDepth(limits)} are waiting for this key`;
  }
}

/** The 429 for any limit the limiter refused: requests, image leases, render generations, the job queue. */
export function limitRefused(limits: Limits, decision: Decision & { allowed: false }): ProblemError {
  return new ProblemError('rate_limited', refusalDetail(limits, decision.reason), {
    retryAfter: decision.retryAfter,
    headers: {
      'RateLimit-Policy': policyHeader(limits) + extraPolicy(limits, decision.reason),
      RateLimit: `"${decision.reason}";r=0;t=${decision.retryAfter}`,
    },
  });
}
