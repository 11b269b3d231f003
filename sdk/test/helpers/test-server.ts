// A real HTTP server on 127.0.0.1 for the SDK's tests. Each request is
// answered by the next handler in the script (the last one repeats), so a
// test can say "503, then 200" and then look at what the client sent.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Handler = (res: ServerResponse, req: RecordedRequest) => void | Promise<void>;

export interface TestServer {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startServer(...script: Handler[]): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
    requests.push(recorded);
    const handler = script[Math.min(requests.length - 1, script.length - 1)];
    await handler(res, recorded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Handler {
  return (res) => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_test', ...headers });
    res.end(JSON.stringify(body));
  };
}

export function problem(status: number, name: string, headers: Record<string, string> = {}): Handler {
  return (res) => {
    res.writeHead(status, { 'content-type': 'application/problem+json', 'x-request-id': 'req_header', ...headers });
    res.end(
      JSON.stringify({
        type: `https://star-api.dev/problems/${name}`,
        title: name,
        status,
        detail: `detail of ${name}`,
        request_id: `req_${name}`,
      }),
    );
  };
}

/** Never answers; the client must give up on its own. */
export const hang: Handler = () => {};

/** Cuts the connection without an answer. */
export const drop: Handler = (res) => {
  res.socket?.destroy();
};

/** Records each wait instead of waiting, so retry tests are instant. */
export function recordingSleep(): { sleeps: number[]; sleep: (ms: number) => Promise<void> } {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms: number) => void sleeps.push(ms) };
}
