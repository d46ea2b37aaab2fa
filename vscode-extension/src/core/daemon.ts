/**
 * Reaching the daemon: dial its socket; when nothing answers and the caller allows it, start it
 * with `smconnect daemon start` (the CLI knows which Python runs it) and dial again.
 */
import { Endpoint } from './endpoint';
import { DaemonConnection, DaemonUnavailable } from './rpc';

export interface DaemonAccess {
  endpoint: () => Endpoint;
  /** Start the daemon; rejects with a message for the user when that fails. */
  start: () => Promise<void>;
}

export async function connectDaemon(
  access: DaemonAccess,
  opts: { autostart: boolean; startTimeoutMs?: number },
): Promise<DaemonConnection> {
  try {
    return await DaemonConnection.open(access.endpoint());
  } catch (err) {
    if (!opts.autostart || !(err instanceof DaemonUnavailable)) {
      throw err;
    }
  }
  await access.start();
  // `daemon start` returns once the daemon answers; still retry briefly in case it was racing an
  // idle exit of the previous one.
  const deadline = Date.now() + (opts.startTimeoutMs ?? 10000);
  for (;;) {
    try {
      return await DaemonConnection.open(access.endpoint());
    } catch (err) {
      if (!(err instanceof DaemonUnavailable) || Date.now() > deadline) {
        throw err;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One call on a fresh connection, closed afterwards (so the daemon's idle timer can run). */
export async function callOnce<T>(
  access: DaemonAccess,
  method: string,
  params: Record<string, unknown>,
  opts: {
    autostart?: boolean;
    timeoutMs?: number;
    signal?: AbortSignal;
    onNotification?: (method: string, params: Record<string, unknown>) => void;
  } = {},
): Promise<T> {
  const conn = await connectDaemon(access, { autostart: opts.autostart ?? true });
  try {
    return await conn.call<T>(method, params, opts);
  } finally {
    conn.close();
  }
}
