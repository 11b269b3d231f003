// The job record store on an in-memory storage: the record and the numbered event log survive a
// reload in order, a job is visible only to its key and until it expires, and expiry clears all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JobRecords, nowS, type JobState, type JobStorage } from '../../src/jobs/record-store.ts';
import { TIERS } from '../../src/keys/record.ts';

function memoryStorage(): JobStorage & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return {
    data,
    get: async <T>(key: string) => structuredClone(data.get(key)) as T | undefined,
    put: async <T>(key: string, value: T) => void data.set(key, structuredClone(value)),
    list: async <T>({ prefix }: { prefix: string }) =>
      new Map(
        [...data.entries()]
          .filter(([key]) => key.startsWith(prefix))
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([key, value]) => [key, structuredClone(value) as T]),
      ),
    deleteAll: async () => data.clear(),
  };
}

function queuedJob(kid: string, createdAt: number): JobState {
  return {
    job: {
      id: 'job_1',
      object: 'job',
      status: 'queued',
      model: 'star-tiny',
      created_at: createdAt,
      expires_at: createdAt + 60,
      progress: { scale: 0, scales: 6 },
    },
    init: {
      id: 'job_1',
      kid,
      // The record store keeps the parameters as they are; their shape is the generation's business.
      params: { model: 'star-tiny', prompt: 'a fox' } as JobState['init']['params'],
      responseFormat: 'url',
      origin: 'https://api.example',
      limits: TIERS.free,
      leaseId: 'lease',
      waitsForSlot: false,
      scales: 6,
      requestId: 'req_1',
    },
    webhook: null,
    nextEventId: 1,
    gpuRetries: 0,
    retryAt: null,
    waitingSince: null,
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test('events are numbered from 1 and a reload reads the record and the log back in order', async () => {
  const storage = memoryStorage();
  const records = new JobRecords(storage);
  records.state = queuedJob('kid_a', nowS());
  for (let i = 0; i < 12; i++) records.append('progress', { scale: i }, false);
  const completed = records.append('completed', { job: records.state.job }, true);
  await settle();
  assert.equal(completed.id, 13);
  assert.equal(completed.expand, true);
  const reloaded = new JobRecords(storage);
  await reloaded.load();
  assert.deepEqual(
    reloaded.events.map((event) => event.id),
    Array.from({ length: 13 }, (_, i) => i + 1),
  );
  assert.deepEqual(JSON.parse(reloaded.events[9].data), { scale: 9 });
  assert.equal(reloaded.events[0].expand, undefined);
  assert.equal(reloaded.state?.nextEventId, 14);
});

test('a job is visible to its own key only, and only until it expires', () => {
  const records = new JobRecords(memoryStorage());
  records.state = queuedJob('kid_a', nowS());
  assert.equal(records.visible('kid_a'), records.state);
  assert.equal(records.visible('kid_b'), null);
  assert.equal(records.expired(), false);
  records.state.job.expires_at = nowS();
  assert.equal(records.expired(), true);
  assert.equal(records.visible('kid_a'), null);
});

test('expiry is created_at + TTL until the job ends, then completed_at + TTL', () => {
  const records = new JobRecords(memoryStorage());
  records.state = queuedJob('kid_a', 1_000);
  records.touch(86_400);
  assert.equal(records.state.job.expires_at, 1_000 + 86_400);
  records.state.job.completed_at = 5_000;
  records.touch(86_400);
  assert.equal(records.state.job.expires_at, 5_000 + 86_400);
});

test('clearing an expired job deletes its record and its events from storage', async () => {
  const storage = memoryStorage();
  const records = new JobRecords(storage);
  records.state = queuedJob('kid_a', nowS());
  records.append('queued', {}, false);
  await settle();
  assert.ok(storage.data.size > 0);
  await records.clear();
  assert.equal(storage.data.size, 0);
  assert.equal(records.state, null);
  assert.deepEqual(records.events, []);
});
