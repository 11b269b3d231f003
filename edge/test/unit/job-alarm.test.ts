// When a job's one alarm is next due, for each state it can be in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextAlarm, QUEUE_POLL_MS, WATCHDOG_SLACK_MS } from '../../src/jobs/alarm.ts';
import type { JobState } from '../../src/jobs/record-store.ts';
import { newDelivery } from '../../src/webhook/delivery.ts';

const NOW = 1_800_000_000_000;
const policy = { gpuTimeoutMs: 120_000, jobQueueSeconds: 900 };
const EXPIRES_S = NOW / 1000 + 86_400;

function stateOf(fields: { status: JobState['job']['status'] } & Partial<Omit<JobState, 'job'>>): JobState {
  const { status, ...rest } = fields;
  return {
    job: {
      id: 'job_1',
      object: 'job',
      status,
      model: 'star-tiny',
      created_at: NOW / 1000,
      expires_at: EXPIRES_S,
      progress: { scale: 0, scales: 6 },
    },
    init: {} as JobState['init'],
    webhook: null,
    nextEventId: 1,
    gpuRetries: 0,
    retryAt: null,
    waitingSince: null,
    ...rest,
  };
}

test('a queued job with a slot starts now', () => {
  assert.equal(nextAlarm(stateOf({ status: 'queued' }), policy, NOW), NOW);
});

test('a job waiting for a slot polls every few seconds, and no later than its queue deadline', () => {
  assert.equal(nextAlarm(stateOf({ status: 'queued', waitingSince: NOW - 1_000 }), policy, NOW), NOW + QUEUE_POLL_MS);
  const nearDeadline = NOW - 900_000 + 2_000;
  assert.equal(nextAlarm(stateOf({ status: 'queued', waitingSince: nearDeadline }), policy, NOW), NOW + 2_000);
});

test('a running job keeps a watchdog past the GPU deadline, or wakes for its busy retry', () => {
  assert.equal(nextAlarm(stateOf({ status: 'running' }), policy, NOW), NOW + policy.gpuTimeoutMs + WATCHDOG_SLACK_MS);
  assert.equal(nextAlarm(stateOf({ status: 'running', retryAt: NOW + 7_000 }), policy, NOW), NOW + 7_000);
});

test('an ended job wakes for its webhook attempt, else only to expire', () => {
  assert.equal(nextAlarm(stateOf({ status: 'succeeded' }), policy, NOW), EXPIRES_S * 1000);
  const due = { ...newDelivery({ url: 'https://hooks.example.com/x', secret: 's' }), nextAt: NOW + 4_000 };
  assert.equal(nextAlarm(stateOf({ status: 'failed', webhook: due }), policy, NOW), NOW + 4_000);
  assert.equal(nextAlarm(stateOf({ status: 'failed', webhook: { ...due, done: true } }), policy, NOW), EXPIRES_S * 1000);
});
