// A real HTTP server on 127.0.0.1 for client tests: it records what arrives and answers
// as the test's handler says (status, headers, body) — no API server logic.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export interface Arrival {
  method: string;
  url: URL;
  body: string;
  headers: IncomingMessage['headers'];
  /** The test clock's reading when the request arrived. */
  at: number;
}

export interface Loopback {
  url: string;
  requests: Arrival[];
  close(): Promise<void>;
}

/** Starts a server; `handle` answers (or never answers) each request. */
export async function loopback(
  now: () => number,
  handle: (req: Arrival, res: ServerResponse, index: number) => void,
): Promise<Loopback> {
  const requests: Arrival[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const a = { method: req.method ?? '', url, body, headers: req.headers, at: now() };
      requests.push(a);
      handle(a, res, requests.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A kubeconfig whose current cluster is `server`. */
export function kubeConfigFor(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'loop', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'token' }],
    contexts: [{ name: 'loop', cluster: 'loop', user: 'u' }],
    currentContext: 'loop',
  });
  return kc;
}

/** Answers JSON. */
export function json(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Waits for I/O until `cond` holds (polls; the test clock is not touched). */
export async function until(cond: () => boolean, what = 'condition', ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Lets pending I/O callbacks and promise jobs run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}
