/**
 * Handing a space over to Remote-SSH: make sure an SSH remote extension is installed (Microsoft's
 * in VS Code, Cursor's in Cursor, open-remote-ssh elsewhere), set the per-host settings a space
 * needs, and open the folder URI the daemon gave (`vscode-remote://ssh-remote+<host><home>`).
 *
 * Test hook: with SMCONNECT_VSCODE_OPEN_LOG=<file> in the extension host's environment, the URI
 * is appended to that file instead of opened (code-server has no Remote-SSH); everything before
 * it runs for real.
 */
import * as fs from 'fs';
import * as vscode from 'vscode';
import { REMOTE_SSH_IDS, remoteSshToInstall, settingChanges } from '../core/sshSettings';

export const OPEN_LOG_ENV = 'SMCONNECT_VSCODE_OPEN_LOG';

export function installedRemoteSsh(): string | undefined {
  return REMOTE_SSH_IDS.find((id) => vscode.extensions.getExtension(id) !== undefined);
}

/** True when an SSH remote extension is there (or was installed now). */
export async function ensureRemoteSsh(host: string): Promise<boolean> {
  if (process.env[OPEN_LOG_ENV] || installedRemoteSsh()) {
    return true;
  }
  const id = remoteSshToInstall(vscode.env.appName);
  const choice = await vscode.window.showWarningMessage(
    `Opening a SageMaker space in ${vscode.env.appName} needs an SSH remote extension (${id}).`,
    'Install',
    'Copy ssh Command',
  );
  if (choice === 'Install') {
    await vscode.commands.executeCommand('workbench.extensions.installExtension', id);
    return true;
  }
  if (choice === 'Copy ssh Command') {
    await vscode.env.clipboard.writeText(`ssh ${host}`);
    void vscode.window.showInformationMessage(`Copied "ssh ${host}": it works from any terminal.`);
  }
  return false;
}

/** Writes what the host needs into the user's remote.SSH settings; returns what changed. */
export async function applyHostSettings(host: string, minTimeoutSec: number, remoteHome: string): Promise<string[]> {
  const config = vscode.workspace.getConfiguration('remote.SSH');
  const changes = settingChanges(
    {
      connectTimeout: config.get<number>('connectTimeout'),
      serverInstallPath: config.get<Record<string, string>>('serverInstallPath'),
      remotePlatform: config.get<Record<string, string>>('remotePlatform'),
    },
    host,
    minTimeoutSec,
    remoteHome,
  );
  for (const change of changes) {
    await config.update(change.key, change.value, vscode.ConfigurationTarget.Global);
  }
  return changes.map((c) => `remote.SSH.${c.key}`);
}

export async function openRemoteFolder(uri: string, newWindow: boolean): Promise<void> {
  const log = process.env[OPEN_LOG_ENV];
  if (log) {
    fs.appendFileSync(log, `${JSON.stringify({ uri, newWindow })}\n`);
    return;
  }
  await vscode.commands.executeCommand('vscode.openFolder', vscode.Uri.parse(uri), { forceNewWindow: newWindow });
}
