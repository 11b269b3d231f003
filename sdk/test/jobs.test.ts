// jobs.*: requests, polling, and the SSE stream against a real local server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { APIConnectionError, APITimeoutError, APIUserAbortError, StarClient, type Job, type JobEvent } from '../src/index.ts';
import { json, recordingSleep, startServer, type Handler, type TestServer } from './helpers/test-server.ts';

function job(status: Job['status'], scale = 0): Job {
  return {
    id: 'job_abc',
    object: 'job',
    status,
    model: 'star-tiny',
    created_at: 1795444800,
    expires_at: 1795531200,
    progress: { scale, scales: 4 },
  };
}

function sse(id: number, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function openStream(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': 'req_sse' });
}

async function collect(events: AsyncIterable<JobEvent>): Promise<JobEvent[]> {
  const out: JobEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

async function using(script: Handler[], run: (client: StarClient, server: TestServer, sleeps: number[]) => Promise<void>): Promise<void> {
  const server = await startServer(...script);
  const { sleeps, sleep } = recordingSleep();
  try {
    await run(new StarClient({ apiKey: 'sk_test', baseURL: server.url, sleep, random: () => 0 }), server, sleeps);
  } finally {
    await server.close();
  }
}

test('create, get and cancel use the contract’s methods and paths', async () => {
  await using(
    [json(202, job('queued'), { location: '/v1/jobs/job_abc' }), json(200, job('running')), json(200, job('cancelled'))],
    async (client, server) => {
      assert.equal((await client.jobs.create({ prompt: 'a fox', webhook_url: 'https://example.com/h' })).status, 'queued');
      assert.equal((await client.jobs.get('job_abc')).status, 'running');
      assert.equal((await client.jobs.cancel('job/abc')).status, 'cancelled');
      assert.deepEqual(
        server.requests.map((r) => `${r.method} ${r.url}`),
        ['POST /v1/jobs', 'GET /v1/jobs/job_abc', 'DELETE /v1/jobs/job%2Fabc'],
      );
      assert.equal(JSON.parse(server.requests[0].body).webhook_url, 'https://example.com/h');
      assert.ok(server.requests[0].headers['idempotency-key']);
    },
  );
});

test('wait polls until the job is terminal, sleeping pollInterval between polls', async () => {
  await using([json(200, job('queued')), json(200, job('running', 2)), json(200, job('succeeded', 4))], async (client, server, sleeps) => {
    const done = await client.jobs.wait('job_abc', { pollInterval: 250 });
    assert.equal(done.status, 'succeeded');
    assert.equal(server.requests.length, 3);
    assert.deepEqual(sleeps, [250, 250]);
  });
});

test('wait gives up with APITimeoutError when the job outlives the timeout', async () => {
  await using([json(200, job('running'))], async (client, server) => {
    await assert.rejects(client.jobs.wait('job_abc', { pollInterval: 1000, timeout: 500 }), APITimeoutError);
    assert.equal(server.requests.length, 1);
  });
});

test('stream: events written byte by byte arrive whole and typed; the iterator ends after the terminal event', async () => {
  const text =
    sse(1, 'queued', { job: job('queued') }) +
    ': keepalive\r\n\r\n' +
    sse(2, 'started', { job: job('running') }) +
    sse(3, 'progress', { scale: 1, scales: 4, side: 1, preview: 'data:image/png;base64,AA==' }) +
    sse(4, 'completed', { job: job('succeeded', 4) });
  const byteByByte: Handler = async (res) => {
    openStream(res);
    for (const byte of Buffer.from(text)) {
      res.write(Buffer.of(byte));
      await nextTurn(); // one write per turn, so the bytes leave separately
    }
    // The connection is left open: the client must stop on `completed` by itself.
  };
  await using([byteByByte], async (client) => {
    const events = await collect(client.jobs.stream('job_abc'));
    assert.deepEqual(
      events.map((e) => [e.id, e.event]),
      [
        [1, 'queued'],
        [2, 'started'],
        [3, 'progress'],
        [4, 'completed'],
      ],
    );
    const progress = events[2];
    assert.ok(progress.event === 'progress');
    assert.deepEqual(progress.data, { scale: 1, scales: 4, side: 1, preview: 'data:image/png;base64,AA==' });
    const completed = events[3];
    assert.ok(completed.event === 'completed');
    assert.equal(completed.data.job.status, 'succeeded');
  });
});

test('stream: a dropped connection resumes with Last-Event-ID', async () => {
  const firstPart: Handler = (res) => {
    openStream(res);
    res.write(sse(1, 'queued', { job: job('queued') }) + sse(2, 'started', { job: job('running') }));
    setTimeout(() => res.socket?.destroy(), 20);
  };
  const rest: Handler = (res) => {
    openStream(res);
    res.end(
      sse(3, 'failed', {
        job: {
          ...job('failed'),
          error: { type: 'https://star-api.dev/problems/generation_failed', title: 't', status: 502, detail: 'd', request_id: 'r' },
        },
      }),
    );
  };
  await using([firstPart, rest], async (client, server, sleeps) => {
    const events = await collect(client.jobs.stream('job_abc', { lastEventId: 0 }));
    assert.deepEqual(
      events.map((e) => e.id),
      [1, 2, 3],
    );
    assert.equal(server.requests[0].headers['last-event-id'], '0');
    assert.equal(server.requests[1].headers['last-event-id'], '2');
    assert.equal(server.requests[1].headers.accept, 'text/event-stream');
    assert.deepEqual(sleeps, [500]);
  });
});

test('stream: a stream that keeps ending early fails with APIConnectionError after maxRetries reconnects', async () => {
  const endsEarly: Handler = (res) => {
    openStream(res);
    res.end(': keepalive\n\n');
  };
  await using([endsEarly], async (client, server) => {
    await assert.rejects(collect(client.jobs.stream('job_abc')), APIConnectionError);
    assert.equal(server.requests.length, 1 + client.maxRetries);
  });
});

test('stream: aborting ends the iteration with APIUserAbortError', async () => {
  const quiet: Handler = (res) => {
    openStream(res);
    res.write(sse(1, 'queued', { job: job('queued') }));
  };
  await using([quiet], async (client, server) => {
    const controller = new AbortController();
    const seen: number[] = [];
    const consume = async () => {
      for await (const event of client.jobs.stream('job_abc', { signal: controller.signal })) {
        seen.push(event.id);
        controller.abort();
      }
    };
    await assert.rejects(consume(), APIUserAbortError);
    assert.deepEqual(seen, [1]);
    assert.equal(server.requests.length, 1);
  });
});

test('stream: breaking out of the loop closes the connection', async () => {
  let closed: () => void = () => {};
  const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
  const endless: Handler = (res) => {
    openStream(res);
    res.on('close', closed);
    res.write(sse(1, 'queued', { job: job('queued') }));
  };
  await using([endless], async (client) => {
    for await (const event of client.jobs.stream('job_abc')) {
      assert.equal(event.event, 'queued');
      break;
    }
    await connectionClosed; // hangs (and the test times out) if the socket stayed open
  });
});
