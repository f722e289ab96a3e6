// The operations endpoint: /healthz (the process works), /readyz (it can serve: caches
// synced), /metrics (Prometheus text from the manager's registry). Named checks
// answer like the API server's: 200 "ok", or 500 with one "[-]name failed" line per
// failing check ("?verbose" lists every check).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './log.ts';
import { silentLogger } from './log.ts';

/** A named health or readiness check. */
export type Check = () => boolean | Promise<boolean>;

/** Options of {@link startOpsServer}. */
export interface OpsServerOptions {
  /** Listen address (default '0.0.0.0'). */
  host?: string;
  /** Port; 0 picks a free one (see {@link OpsServer.port}). */
  port: number;
  registry: Registry;
  healthz: Record<string, Check>;
  readyz: Record<string, Check>;
  log?: Logger;
}

/** A running ops server. */
export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

async function runChecks(checks: Record<string, Check>, verbose: boolean): Promise<{ ok: boolean; body: string }> {
  const lines: string[] = [];
  let ok = true;
  for (const [name, check] of Object.entries(checks)) {
    let pass = false;
    try {
      pass = await check();
    } catch {
      pass = false;
    }
    ok &&= pass;
    if (!pass || verbose) lines.push(`[${pass ? '+' : '-'}]${name} ${pass ? 'ok' : 'failed'}`);
  }
  if (ok && !verbose) return { ok, body: 'ok\n' };
  return { ok, body: `${lines.join('\n')}\n${ok ? 'check passed' : 'check failed'}\n` };
}

/** Starts the /healthz, /readyz and /metrics server. */
export function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const log = opts.log ?? silentLogger();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://ops');
    const respond = (code: number, type: string, body: string): void => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const handle = async (): Promise<void> => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return respond(405, 'text/plain', 'method not allowed\n');
      if (url.pathname === '/metrics') return respond(200, opts.registry.contentType, await opts.registry.metrics());
      const checks =
        url.pathname === '/healthz' || url.pathname === '/livez'
          ? opts.healthz
          : url.pathname === '/readyz'
            ? opts.readyz
            : undefined;
      if (checks === undefined) return respond(404, 'text/plain', 'not found\n');
      const r = await runChecks(checks, url.searchParams.has('verbose'));
      return respond(r.ok ? 200 : 500, 'text/plain; charset=utf-8', r.body);
    };
    handle().catch((err: unknown) => {
      log.error({ err, path: url.pathname }, 'Ops request failed');
      if (!res.headersSent) respond(500, 'text/plain', 'internal error\n');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      log.info({ port }, 'Serving health and metrics');
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
