/**
 * Notebook kernels on a space: the daemon's `jupyter.ensure` gives a stable loopback URL for the
 * space's Jupyter server (docs/design/jupyter.md); the Jupyter extension connects to it like to
 * any remote server. This module is the part that does not need VS Code.
 */
import { AwsContext } from './aws';
import { OpenPorts, openSpace } from './connectFlow';
import { Params, RpcError } from './rpc';
import { Space, kernelCapable } from './spaces';

export interface JupyterInfo {
  space: string;
  ref: string;
  url: string; // http://127.0.0.1:<port>/<base_url>/
  token: string;
}

export interface ServerEntry {
  id: string;
  label: string;
}

/** One kernel-picker entry per space that can serve kernels; ids are the unambiguous refs. */
export function serverEntries(spaces: Space[]): ServerEntry[] {
  const capable = spaces.filter(kernelCapable);
  const counts = new Map<string, number>();
  for (const s of capable) {
    counts.set(s.name, (counts.get(s.name) ?? 0) + 1);
  }
  return capable
    .map((s) => ({
      id: s.ref,
      label: (counts.get(s.name) ?? 0) > 1 ? `SageMaker: ${s.name} (${s.domain_name ?? s.domain_id})` : `SageMaker: ${s.name}`,
    }))
    .sort((a, b) => a.label.localeCompare(b.label));
}

/**
 * `jupyter.ensure`, enabling remote access first when the space has it off (that is
 * `space.open`'s job, including the restart question), then asking again.
 */
export async function ensureJupyter(ports: OpenPorts, ctx: AwsContext, space: Space, signal?: AbortSignal): Promise<JupyterInfo> {
  const call = (): Promise<JupyterInfo> =>
    ports.call<JupyterInfo>('jupyter.ensure', { ...ctx, space: space.ref } as Params, {
      signal,
      onNotification: (method, p) => {
        if (method === 'progress' && typeof p.message === 'string') {
          ports.report(p.message);
        }
      },
    });
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof RpcError) || err.kind !== 'remote_access_disabled') {
      throw err;
    }
  }
  await openSpace(ports, ctx, space, signal);
  return call();
}
