import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { WebSocketServer, WebSocket } from 'ws';
import { Space } from '../src/core/spaces';

const made: string[] = [];

/** A private 0700 directory, like the daemon's runtime dir; removed after the run. */
export function privateDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smconnect-ext-test-'));
  fs.chmodSync(dir, 0o700);
  made.push(dir);
  return dir;
}

export function removeDirs(): void {
  for (const dir of made.splice(0)) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(`${dir}-link`, { force: true });
  }
}

export interface FakeDaemon {
  socket: string;
  dir: string;
  origins: (string | undefined)[];
  authorizations: (string | undefined)[];
  clients: Set<WebSocket>;
  close(): Promise<void>;
}

export type Handler = (
  msg: { id?: number; method: string; params: Record<string, unknown> },
  ws: WebSocket,
) => void;

/** A JSON-RPC websocket server on a unix socket (or TCP), answering through `handler`. */
export async function fakeDaemon(handler: Handler, opts: { dir?: string; tcp?: boolean } = {}): Promise<FakeDaemon & { port?: number }> {
  const dir = opts.dir ?? privateDir();
  const socket = path.join(dir, 'daemon.sock');
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  const fake: FakeDaemon & { port?: number } = {
    socket,
    dir,
    origins: [],
    authorizations: [],
    clients: new Set(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of fake.clients) c.terminate();
        wss.close();
        server.close(() => resolve());
      }),
  };
  wss.on('connection', (ws, req) => {
    fake.origins.push(req.headers.origin);
    fake.authorizations.push(req.headers.authorization);
    fake.clients.add(ws);
    ws.on('close', () => fake.clients.delete(ws));
    ws.on('message', (data) => handler(JSON.parse(data.toString()), ws));
  });
  await new Promise<void>((resolve) => {
    if (opts.tcp) {
      server.listen(0, '127.0.0.1', () => resolve());
    } else {
      server.listen(socket, () => resolve());
    }
  });
  if (opts.tcp) {
    fake.port = (server.address() as { port: number }).port;
  }
  return fake;
}

export function reply(ws: WebSocket, id: number | undefined, result: unknown): void {
  ws.send(JSON.stringify({ jsonrpc: '2.0', id, result }));
}

export function notify(ws: WebSocket, method: string, params: Record<string, unknown>): void {
  ws.send(JSON.stringify({ jsonrpc: '2.0', method, params }));
}

export function fail(ws: WebSocket, id: number | undefined, message: string, kind: string): void {
  ws.send(JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32000, message, data: { kind } } }));
}

/** A space as the daemon lists it (docs/design/daemon-methods.md), stopped unless told. */
export const space = (name: string, extra: Partial<Space> = {}): Space => ({
  name,
  domain_id: 'd-1',
  domain_name: 'team',
  ref: `d-1/${name}`,
  status: 'InService',
  app_type: 'JupyterLab',
  remote_access: 'ENABLED',
  instance_type: 'ml.t3.large',
  app_status: null,
  ...extra,
});
