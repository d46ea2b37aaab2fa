/**
 * Opening a space: `space.open` on the daemon (start the app, enable remote access, wait for
 * SSH, refresh the ssh config and host key), with its `progress` notifications shown to the
 * user, and the one question the daemon may ask back: may a running app restart?
 */
import { AwsContext } from './aws';
import { Cancelled, Params, RpcError } from './rpc';
import { Space } from './spaces';

export interface OpenResult {
  space: Space;
  ssh_host: string;
  folder_uri: string;
}

export interface OpenPorts {
  call: <T>(
    method: string,
    params: Params,
    opts: { signal?: AbortSignal; onNotification: (method: string, params: Params) => void },
  ) => Promise<T>;
  /** Shows the daemon's reason; true to restart the running app. */
  confirmRestart: (message: string) => Promise<boolean>;
  report: (message: string) => void;
}

export function progressMessage(method: string, params: Params, space: string): string | undefined {
  if (method !== 'progress' || typeof params.message !== 'string') {
    return undefined;
  }
  if (typeof params.space === 'string' && params.space !== space) {
    return undefined; // another call's progress (the daemon only sends ours, but be strict)
  }
  return params.message;
}

export async function openSpace(
  ports: OpenPorts,
  ctx: AwsContext,
  space: Space,
  signal?: AbortSignal,
): Promise<OpenResult> {
  const params: Params = { ...ctx, space: space.ref, ssh_config: true };
  const onNotification = (method: string, p: Params): void => {
    const message = progressMessage(method, p, space.name);
    if (message) {
      ports.report(message);
    }
  };
  try {
    return await ports.call<OpenResult>('space.open', params, { signal, onNotification });
  } catch (err) {
    if (!(err instanceof RpcError) || err.kind !== 'restart_required') {
      throw err;
    }
    if (!(await ports.confirmRestart(restartQuestion(err.data, space.name)))) {
      throw new Cancelled();
    }
  }
  ports.report('restarting the space');
  return ports.call<OpenResult>('space.open', { ...params, restart: true }, { signal, onNotification });
}

/**
 * The question from the daemon's structured reason (`data.reason`: `remote_access` or
 * `instance_type`, with `data.space` and `data.instance_type`), not from its English message,
 * which is worded for the CLI and may change.
 */
export function restartQuestion(data: Params, fallbackName: string): string {
  const name = typeof data.space === 'string' ? data.space : fallbackName;
  const to =
    data.reason === 'remote_access'
      ? 'enable remote access'
      : data.reason === 'instance_type' && typeof data.instance_type === 'string'
        ? `switch to ${data.instance_type}`
        : 'apply the change';
  return `space '${name}' is running: it must restart to ${to}. Restart it now?`;
}
