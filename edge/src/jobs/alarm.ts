// When a job's one alarm is next due: its expiry, a queued job's start (or its slot poll while it
// waits in its key's queue), a running job's busy retry or watchdog, the webhook's next attempt.
import { nextAttemptAt } from '../webhook/delivery.ts';
import type { JobState } from './record-store.ts';

/** A queued job is woken by the limiter when it gets a slot; this poll only covers a lost wake-up. */
export const QUEUE_POLL_MS = 5_000;
/** How long past the GPU deadline a running job may go unheard of before its watchdog alarm resumes it. */
export const WATCHDOG_SLACK_MS = 5_000;

export interface AlarmPolicy {
  gpuTimeoutMs: number;
  jobQueueSeconds: number;
}

/** States stored before the queue existed have no `waitingSince`: they never wait. */
export const waiting = (state: JobState) => (state.waitingSince ?? null) !== null;

/** When a job waiting in its key's queue gives up. */
export function queueDeadline(state: JobState, policy: AlarmPolicy, now: number): number {
  return (state.waitingSince ?? now) + policy.jobQueueSeconds * 1000;
}

export function nextAlarm(state: JobState, policy: AlarmPolicy, now: number): number {
  const times = [state.job.expires_at * 1000];
  if (state.job.status === 'queued' && waiting(state)) times.push(Math.min(now + QUEUE_POLL_MS, queueDeadline(state, policy, now)));
  else if (state.job.status === 'queued') times.push(now);
  // While running, a watchdog alarm: if the object restarts mid-run (deploy, eviction, crash),
  // the alarm finds the job running with no run in this instance and resumes it.
  if (state.job.status === 'running') times.push(state.retryAt ?? now + policy.gpuTimeoutMs + WATCHDOG_SLACK_MS);
  const webhookAt = nextAttemptAt(state.webhook);
  if (webhookAt !== null) times.push(webhookAt);
  return Math.min(...times);
}
