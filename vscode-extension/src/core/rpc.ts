/**
 * JSON-RPC 2.0 over the daemon's websocket (docs/design/daemon-api.md). One object per text
 * message, params always an object, responses matched by id (they may come out of order), and
 * server notifications (`progress`, `session.state`, `credentials`) fanned out to listeners.
 *
 * No Origin header is ever sent: the daemon refuses any request that carries one (browsers
 * always do), and `ws` sends none unless asked.
 */
import * as fs from 'fs';
import WebSocket from 'ws';
import { Endpoint, verifyPrivateDir } from './endpoint';

export type Params = Record<string, unknown>;
export type NotificationHandler = (method: string, params: Params) => void;

export class DaemonError extends Error {}

/** No daemon answers (not running, socket gone) or the connection dropped. */
export class DaemonUnavailable extends DaemonError {}

export class CallTimeout extends DaemonError {}

export class Cancelled extends DaemonError {
  constructor() {
    super('cancelled');
  }
}

/** The daemon answered with an error: branch on `kind`, show `message`. */
export class RpcError extends DaemonError {
  constructor(
    readonly code: number,
    message: string,
    readonly kind: string,
    readonly data: Params = {},
  ) {
    super(message);
  }
}

export interface CallOptions {
  timeoutMs?: number;
  onNotification?: NotificationHandler;
  signal?: AbortSignal;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  onNotification?: NotificationHandler;
}

const WS_OPTIONS: WebSocket.ClientOptions = {
  perMessageDeflate: false,
  maxPayload: 4 * 1024 * 1024,
  followRedirects: false,
};

export class DaemonConnection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<NotificationHandler>();
  private readonly closeListeners = new Set<() => void>();
  private isClosed = false;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (!isBinary) {
        this.onText(data.toString());
      }
    });
    ws.on('close', () => this.onClosed());
    ws.on('error', () => this.onClosed());
  }

  /** Dial the daemon; DaemonUnavailable when nothing answers. */
  static async open(ep: Endpoint, opts: { timeoutMs?: number; uid?: number } = {}): Promise<DaemonConnection> {
    const timeout = opts.timeoutMs ?? 5000;
    try {
      // Windows has no POSIX modes to check; its daemon listens on loopback TCP with a token.
      if (process.platform !== 'win32') {
        verifyPrivateDir(ep.runtimeDir, opts.uid ?? process.getuid?.() ?? -1);
      }
    } catch (err) {
      throw new DaemonUnavailable(`the smconnect daemon is not running (${describe(err)})`);
    }
    let ws: WebSocket;
    if (ep.kind === 'unix') {
      ws = new WebSocket(`ws+unix:${ep.socket}:/`, { ...WS_OPTIONS, handshakeTimeout: timeout });
    } else {
      let port: number;
      let token: string;
      try {
        const info = JSON.parse(fs.readFileSync(ep.endpointFile, 'utf8')) as { port: number; token: string };
        port = Number(info.port);
        token = String(info.token);
      } catch (err) {
        throw new DaemonUnavailable(`the smconnect daemon is not running (${describe(err)})`);
      }
      ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
        ...WS_OPTIONS,
        handshakeTimeout: timeout,
        headers: { Authorization: `Bearer ${token}` },
      });
    }
    await new Promise<void>((resolve, reject) => {
      const fail = (err: unknown): void => {
        ws.removeAllListeners();
        ws.terminate();
        reject(new DaemonUnavailable(`the smconnect daemon is not running (${describe(err)})`));
      };
      ws.once('open', () => {
        ws.removeListener('error', fail);
        ws.removeListener('unexpected-response', onUnexpected);
        resolve();
      });
      const onUnexpected = (_req: unknown, res: { statusCode?: number }): void =>
        fail(new Error(`HTTP ${res.statusCode ?? '?'}`));
      ws.once('unexpected-response', onUnexpected);
      ws.once('error', fail);
    });
    return new DaemonConnection(ws);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  call<T = Params>(method: string, params: Params = {}, opts: CallOptions = {}): Promise<T> {
    if (this.isClosed) {
      return Promise.reject(new DaemonUnavailable('the connection to the smconnect daemon is closed'));
    }
    if (opts.signal?.aborted) {
      return Promise.reject(new Cancelled());
    }
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        this.pending.delete(id);
        if (timer) {
          clearTimeout(timer);
        }
        opts.signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        finish();
        reject(new Cancelled());
      };
      this.pending.set(id, {
        resolve: (value) => {
          finish();
          resolve(value as T);
        },
        reject: (error) => {
          finish();
          reject(error);
        },
        onNotification: opts.onNotification,
      });
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          finish();
          reject(new CallTimeout(`the daemon did not answer ${method} within ${Math.round(opts.timeoutMs! / 1000)}s`));
        }, opts.timeoutMs);
      }
      opts.signal?.addEventListener('abort', onAbort);
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  /** Every notification on this connection; returns the unsubscribe function. */
  onNotification(handler: NotificationHandler): () => void {
    this.listeners.add(handler);
    return () => this.listeners.delete(handler);
  }

  onClose(handler: () => void): () => void {
    this.closeListeners.add(handler);
    return () => this.closeListeners.delete(handler);
  }

  close(): void {
    if (!this.isClosed) {
      this.ws.close(1000);
      this.onClosed();
    }
  }

  private onText(text: string): void {
    let msg: { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof msg.method === 'string') {
      const params = (msg.params && typeof msg.params === 'object' ? msg.params : {}) as Params;
      const handlers = [...[...this.pending.values()].map((p) => p.onNotification), ...this.listeners];
      for (const handler of handlers) {
        try {
          handler?.(msg.method, params);
        } catch {
          // a listener's bug must not break the connection
        }
      }
      return;
    }
    const pending = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
    if (!pending) {
      return;
    }
    if (msg.error && typeof msg.error === 'object') {
      const err = msg.error as { code?: unknown; message?: unknown; data?: unknown };
      const data = (err.data && typeof err.data === 'object' ? err.data : {}) as Params;
      pending.reject(
        new RpcError(
          typeof err.code === 'number' ? err.code : -32603,
          String(err.message ?? 'error'),
          typeof data.kind === 'string' ? data.kind : 'unknown',
          data,
        ),
      );
    } else {
      pending.resolve(msg.result);
    }
  }

  private onClosed(): void {
    if (this.isClosed) {
      return;
    }
    this.isClosed = true;
    for (const p of [...this.pending.values()]) {
      p.reject(new DaemonUnavailable('the connection to the smconnect daemon was lost'));
    }
    this.pending.clear();
    for (const handler of [...this.closeListeners]) {
      handler();
    }
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
