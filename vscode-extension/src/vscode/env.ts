/** Settings and host facts, read fresh each time (a settings change applies to the next action). */
import * as os from 'os';
import * as vscode from 'vscode';
import { HostFacts } from '../core/endpoint';

export interface Settings {
  path: string;
  profile: string;
  region: string;
  domain: string;
  hostPrefix: string;
  connectTimeout: number;
}

export function settings(): Settings {
  const c = vscode.workspace.getConfiguration('smconnect');
  return {
    path: c.get<string>('path', ''),
    profile: c.get<string>('profile', ''),
    region: c.get<string>('region', ''),
    domain: c.get<string>('domain', ''),
    hostPrefix: c.get<string>('hostPrefix', ''), // empty: the daemon's (daemon.info)
    connectTimeout: c.get<number>('remoteSshConnectTimeout', 180),
  };
}

export function hostFacts(): HostFacts {
  return {
    env: process.env,
    uid: process.getuid?.() ?? -1,
    tmpdir: os.tmpdir(),
    home: os.homedir(),
    platform: process.platform,
  };
}
