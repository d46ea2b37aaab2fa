/**
 * The Remote-SSH settings a space needs, per host, as changes to apply (pure: the adapter
 * reads the current values and writes what this returns).
 *
 * - `remote.SSH.connectTimeout`: a cold start on AWS takes minutes before ssh sees a banner;
 *   the default 15 s gives up long before (the Toolkit raises it to at least 120 s).
 * - `remote.SSH.serverInstallPath[host]`: the space's SSH server does not always set HOME, and
 *   the VS Code server install then fails on `/.vscode-server` (aws-toolkit-vscode #8096).
 * - `remote.SSH.remotePlatform[host]`: spaces are Linux; saves Remote-SSH a question.
 *
 * The space's home directory is the daemon's to say (`daemon.info` `remote_home`).
 */

export interface RemoteSshSettings {
  connectTimeout?: number;
  serverInstallPath?: Record<string, string>;
  remotePlatform?: Record<string, string>;
}

export interface SettingChange {
  key: 'connectTimeout' | 'serverInstallPath' | 'remotePlatform';
  value: number | Record<string, string>;
}

export function settingChanges(
  current: RemoteSshSettings,
  host: string,
  minTimeoutSec: number,
  remoteHome: string,
): SettingChange[] {
  const changes: SettingChange[] = [];
  if ((current.connectTimeout ?? 15) < minTimeoutSec) {
    changes.push({ key: 'connectTimeout', value: minTimeoutSec });
  }
  const install = current.serverInstallPath ?? {};
  if (!install[host]) {
    changes.push({ key: 'serverInstallPath', value: { ...install, [host]: remoteHome } });
  }
  const platform = current.remotePlatform ?? {};
  if (platform[host] !== 'linux') {
    changes.push({ key: 'remotePlatform', value: { ...platform, [host]: 'linux' } });
  }
  return changes;
}

/** The ssh host of a Remote-SSH window (`ssh-remote+sm-demo` → `sm-demo`), if it is one of ours. */
export function hostOfRemoteAuthority(authority: string | undefined, prefix: string | undefined): string | undefined {
  if (!prefix || !authority?.startsWith('ssh-remote+')) {
    return undefined;
  }
  let host = authority.slice('ssh-remote+'.length);
  if (/^[0-9a-f]+$/i.test(host) && host.length % 2 === 0) {
    // Remote-SSH hex-encodes JSON authorities ({"hostName": …}) for some hosts.
    try {
      const decoded = JSON.parse(Buffer.from(host, 'hex').toString('utf8')) as { hostName?: string };
      host = decoded.hostName ?? host;
    } catch {
      // a plain host name made of hex digits
    }
  }
  host = host.includes('@') ? host.slice(host.lastIndexOf('@') + 1) : host;
  return host.startsWith(prefix) ? host : undefined;
}

/** Remote-SSH and its equivalents in VS Code forks (Cursor, VSCodium/Windsurf builds). */
export const REMOTE_SSH_IDS: readonly string[] = [
  'ms-vscode-remote.remote-ssh',
  'anysphere.remote-ssh',
  'jeanp413.open-remote-ssh',
];

export function remoteSshToInstall(appName: string): string {
  const name = appName.toLowerCase();
  if (name.includes('cursor')) {
    return 'anysphere.remote-ssh';
  }
  if (name.includes('visual studio code')) {
    return 'ms-vscode-remote.remote-ssh'; // Microsoft's builds (stable, Insiders)
  }
  return 'jeanp413.open-remote-ssh'; // Open VSX builds: VSCodium, Code - OSS, Windsurf, …
}
