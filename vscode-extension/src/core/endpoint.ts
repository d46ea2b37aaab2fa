/**
 * Where the daemon listens, computed exactly as `bridge/paths.py` does (the contract in
 * docs/design/daemon-api.md, "Where things live"), so the extension reaches the same daemon the
 * CLI and the ssh ProxyCommand use without asking a subprocess first. This is the one path rule
 * kept here: it is how the daemon is found, so it cannot be asked of it; everything else (the
 * state dir and log, the host prefix, the profiles) comes from `daemon.info` (daemonInfo.ts).
 */
import * as fs from 'fs';
import * as path from 'path';

export interface HostFacts {
  env: NodeJS.ProcessEnv;
  uid: number;
  tmpdir: string;
  home: string;
  platform: NodeJS.Platform;
}

export type Endpoint =
  | { kind: 'unix'; runtimeDir: string; socket: string }
  | { kind: 'tcp'; runtimeDir: string; endpointFile: string };

export function runtimeDir(h: HostFacts): string {
  const override = h.env.SMCONNECT_RUNTIME_DIR;
  if (override) {
    return override;
  }
  const xdg = h.env.XDG_RUNTIME_DIR;
  if (xdg && path.isAbsolute(xdg)) {
    return path.join(xdg, 'smconnect');
  }
  return path.join(h.tmpdir, `smconnect-${h.uid}`);
}

export function endpoint(h: HostFacts): Endpoint {
  const dir = runtimeDir(h);
  const forced = (h.env.SMCONNECT_DAEMON_TRANSPORT ?? '').trim().toLowerCase();
  const kind = forced === 'tcp' || forced === 'unix' ? forced : h.platform === 'win32' ? 'tcp' : 'unix';
  return kind === 'unix'
    ? { kind, runtimeDir: dir, socket: path.join(dir, 'daemon.sock') }
    : { kind, runtimeDir: dir, endpointFile: path.join(dir, 'daemon.tcp') };
}

export class UnsafeRuntimeDir extends Error {}

/**
 * The client's check before dialing, as the Python client does: never talk to a socket in a
 * directory someone else owns or can write (the fallback lives in a world-writable /tmp).
 * Throws ENOENT (a NodeJS.ErrnoException) when no daemon ever ran.
 */
export function verifyPrivateDir(dir: string, uid: number, lstat: (p: string) => fs.Stats = fs.lstatSync): void {
  const st = lstat(dir);
  if (st.isSymbolicLink()) {
    throw new UnsafeRuntimeDir(`${dir} is a symlink; refusing to use it`);
  }
  if (!st.isDirectory()) {
    throw new UnsafeRuntimeDir(`${dir} is not a directory`);
  }
  if (uid >= 0 && st.uid !== uid) {
    throw new UnsafeRuntimeDir(`${dir} is owned by uid ${st.uid}, not by us`);
  }
  if (st.mode & 0o077) {
    throw new UnsafeRuntimeDir(`${dir} is accessible to other users; refusing to use it`);
  }
}
