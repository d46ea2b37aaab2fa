/**
 * The VS Code side of smconnect: commands, pickers, progress, status and kernels. Everything
 * that talks to AWS goes through the local daemon; the logic lives in ../core (no VS Code
 * there, unit-tested), and this file only wires it to the editor.
 */
import * as vscode from 'vscode';
import { AwsContext, contextFrom, identityLabel, signInArgs } from '../core/aws';
import { cliErrorLine, findSmconnect, runCli, SmconnectMissing } from '../core/cli';
import { openSpace, OpenPorts } from '../core/connectFlow';
import { callOnce, DaemonAccess } from '../core/daemon';
import { DaemonFacts, DaemonInfo } from '../core/daemonInfo';
import { endpoint } from '../core/endpoint';
import { forwardParams, localPortHint, parsePortSpec } from '../core/forwards';
import { Direction, progressLine, TransferNote, transferParams } from '../core/transfers';
import { IdleWarning } from '../core/idle';
import { ensureJupyter, JupyterInfo } from '../core/kernels';
import { askContext, pickSpace } from '../core/pickers';
import { Cancelled, CallTimeout, DaemonUnavailable, Params, RpcError } from '../core/rpc';
import { escapeControls, filterByDomain, isRunning, kernelCapable, rejectedWarning, Space } from '../core/spaces';
import { hostOfRemoteAuthority } from '../core/sshSettings';
import { DaemonLog } from './daemonLog';
import { hostFacts, settings } from './env';
import { SageMakerServers } from './jupyter';
import { choose, SpaceQuickPick } from './pickers';
import { applyHostSettings, ensureRemoteSsh, openRemoteFolder } from './remoteSsh';
import { StatusMonitor } from './statusBar';

const OPEN_TIMEOUT_MS = 15 * 60 * 1000; // a cold start on AWS takes minutes
const LIST_TIMEOUT_MS = 120 * 1000;

class Controller implements vscode.Disposable {
  private readonly log = vscode.window.createOutputChannel('SageMaker', { log: true });
  private readonly daemonLog = new DaemonLog();
  private readonly access: DaemonAccess = {
    endpoint: () => endpoint(hostFacts()),
    start: () => this.startDaemon(),
  };
  private readonly facts = new DaemonFacts((autostart) => this.call<DaemonInfo>('daemon.info', {}, { autostart }));
  readonly status: StatusMonitor;
  readonly kernels: SageMakerServers;
  private picked: { profile?: string; region?: string } = {};
  private credentialsPromptOpen = false;

  constructor(private readonly extension: vscode.ExtensionContext) {
    this.picked = extension.globalState.get('smconnect.picked', {});
    this.status = new StatusMonitor(
      this.access,
      () => this.windowHost() !== undefined,
      (message) => this.promptSignIn(message),
      this.log,
      (warning) => this.promptIdle(warning),
    );
    this.kernels = new SageMakerServers({
      listSpaces: async () => filterByDomain(await this.listSpaces(await this.context(false)), settings().domain),
      ensure: (space, token) => this.ensureKernelServer(space, token),
      reportError: (err) => this.showError(err),
    });
  }

  // ---- plumbing ------------------------------------------------------------------------------

  private smconnect(): string {
    const facts = hostFacts();
    return findSmconnect(settings().path, { env: facts.env, home: facts.home, platform: facts.platform });
  }

  private async startDaemon(): Promise<void> {
    const exe = this.smconnect();
    this.log.info(`starting the daemon: ${exe} daemon start`);
    const result = await runCli(exe, ['daemon', 'start'], { timeoutMs: 60000 });
    if (result.code !== 0) {
      throw new DaemonUnavailable(`the smconnect daemon did not start: ${cliErrorLine(result)}`);
    }
    this.log.info(result.stdout.trim());
  }

  /** The Remote-SSH host this window is connected to, when it is one of our spaces (known once
   * the daemon has said its host prefix, or the setting gives one). */
  private windowHost(): string | undefined {
    const authority = vscode.env.remoteName === 'ssh-remote' ? remoteAuthority() : undefined;
    return hostOfRemoteAuthority(authority, this.facts.hostPrefix(settings().hostPrefix));
  }

  /** Learns the host prefix from a running daemon (none is started for it), then watches. */
  async start(): Promise<void> {
    try {
      await this.facts.fetch(false);
    } catch {
      // no daemon yet: the first action starts it and asks again
    }
    this.status.kick();
  }

  /** Settings, env, then what the user picked before; asks only when there is a real choice. */
  private async context(ask: boolean): Promise<AwsContext> {
    const s = settings();
    const ctx = contextFrom({ profile: s.profile || this.picked.profile, region: s.region || this.picked.region }, process.env);
    this.status.identity = identityLabel(ctx);
    this.status.render();
    if (!ask) {
      return ctx;
    }
    // The profiles as they are now, asked only when a question may be needed.
    Object.assign(this.picked, await askContext(choose, ctx, async () => (await this.facts.fetch()).profiles));
    await this.extension.globalState.update('smconnect.picked', this.picked);
    return ctx;
  }

  private call<T>(method: string, params: Params, opts: Parameters<typeof callOnce>[3] = {}): Promise<T> {
    return callOnce<T>(this.access, method, params, opts);
  }

  private async listSpaces(ctx: AwsContext): Promise<Space[]> {
    const result = await this.call<{ spaces: Space[]; rejected?: string[] }>('spaces.list', { ...ctx, refresh: true }, { timeoutMs: LIST_TIMEOUT_MS });
    this.status.model.credentialsOk(); // the daemon just used them
    this.status.render();
    for (const reason of result.rejected ?? []) {
      this.log.warn(escapeControls(reason));
    }
    const warning = rejectedWarning(result.rejected);
    if (warning) {
      void vscode.window.showWarningMessage(warning);
    }
    return result.spaces;
  }

  private pickSpace(ctx: AwsContext, title: string, keep?: (s: Space) => boolean): Promise<Space> {
    return pickSpace(new SpaceQuickPick(), () => this.listSpaces(ctx), {
      title,
      keep,
      domain: settings().domain,
      region: ctx.region,
      listed: (spaces) => this.log.info(`spaces: ${spaces.map((s) => `${s.ref} (${s.app_status ?? 'stopped'})`).join(', ') || 'none'}`),
    });
  }

  /** Progress notification with Cancel around a daemon call that reports `progress`. */
  private withProgress<T>(
    title: string,
    busy: string,
    run: (ports: OpenPorts, signal: AbortSignal) => Promise<T>,
    outer?: vscode.CancellationToken,
  ): Promise<T> {
    this.status.setBusy(busy);
    return Promise.resolve(
      vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title, cancellable: true },
        async (progress, token) => {
          const abort = new AbortController();
          let last: string | undefined;
          token.onCancellationRequested(() => abort.abort());
          outer?.onCancellationRequested(() => abort.abort());
          const ports: OpenPorts = {
            call: (method, params, opts) =>
              this.call(method, params, { ...opts, timeoutMs: OPEN_TIMEOUT_MS, signal: opts.signal ?? abort.signal }),
            confirmRestart: async (message) =>
              (await vscode.window.showWarningMessage(message, { modal: true }, 'Restart')) === 'Restart',
            report: (message) => {
              if (message !== last) {
                last = message; // the daemon repeats a state while it polls
                this.log.info(`${busy}: ${message}`);
                progress.report({ message });
              }
            },
          };
          progress.report({ message: 'asking the smconnect daemon' });
          return run(ports, abort.signal);
        },
      ),
    ).finally(() => this.status.setBusy(undefined));
  }

  showError(err: unknown): void {
    if (err instanceof Cancelled) {
      return;
    }
    if (err instanceof SmconnectMissing) {
      this.log.error(err.message);
      void vscode.window.showErrorMessage(err.message, 'Install Instructions', 'Open Settings').then((choice) => {
        if (choice === 'Install Instructions') {
          // The README shipped in the .vsix: works offline, and says how to install smconnect.
          void vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.joinPath(this.extension.extensionUri, 'README.md'));
        } else if (choice === 'Open Settings') {
          void vscode.commands.executeCommand('workbench.action.openSettings', 'smconnect.path');
        }
      });
      return;
    }
    if (err instanceof RpcError && (err.kind === 'credentials' || err.kind === 'sign_in_expired')) {
      this.promptSignIn(err.message);
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    const hint = err instanceof CallTimeout ? ' (the space may still be changing state)' : '';
    this.log.error(message + hint);
    void vscode.window.showErrorMessage(`SageMaker: ${message}${hint}`, 'Show Logs').then((choice) => {
      if (choice === 'Show Logs') {
        this.showLogs().catch((e: unknown) => this.log.error(e instanceof Error ? e.message : String(e)));
      }
    });
  }

  /** The daemon's idle-shutdown warning: "Keep running" refreshes the space's idle clock. */
  private promptIdle(warning: IdleWarning): void {
    void vscode.window.showWarningMessage(`SageMaker: ${warning.message}`, 'Keep running', 'Let it stop').then(async (choice) => {
      if (choice !== 'Keep running') {
        return;
      }
      try {
        await this.call('keepalive.refresh', { ...(await this.context(false)), space: warning.ref }, { timeoutMs: 120000 });
        this.log.info(`kept ${warning.space} running: its idle clock was refreshed`);
        this.status.kick();
      } catch (err) {
        this.showError(err);
      }
    });
  }

  private promptSignIn(message: string): void {
    this.log.warn(message);
    this.status.model.onNotification('credentials', { state: 'expired', message });
    this.status.render();
    if (this.credentialsPromptOpen) {
      return;
    }
    this.credentialsPromptOpen = true;
    void vscode.window.showWarningMessage(`SageMaker: ${message}`, 'Sign In').then((choice) => {
      this.credentialsPromptOpen = false;
      if (choice === 'Sign In') {
        void this.signIn();
      }
    });
  }

  // ---- commands ------------------------------------------------------------------------------

  async connect(newWindow: boolean): Promise<void> {
    const ctx = await this.context(true);
    const space = await this.pickSpace(ctx, newWindow ? 'SageMaker: Open Space in New Window' : 'SageMaker: Connect to SageMaker');
    this.log.info(`opening ${space.ref}`);
    const opened = await this.withProgress(`SageMaker: opening ${space.name}`, `opening ${space.name}`, (ports, signal) =>
      openSpace(ports, ctx, space, signal),
    );
    this.log.info(`${space.name} is ready: ssh host ${opened.ssh_host}`);
    if (!(await ensureRemoteSsh(opened.ssh_host))) {
      return;
    }
    try {
      const home = (this.facts.known ?? (await this.facts.fetch())).remote_home;
      const changed = await applyHostSettings(opened.ssh_host, settings().connectTimeout, home);
      if (changed.length) {
        this.log.info(`updated ${changed.join(', ')} for ${opened.ssh_host}`);
      }
    } catch (err) {
      // Without Remote-SSH its settings are not registered and cannot be written.
      this.log.warn(`could not update remote.SSH settings: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.log.info(`opening ${opened.folder_uri}${newWindow ? ' in a new window' : ''}`);
    await openRemoteFolder(opened.folder_uri, newWindow);
    this.status.kick();
  }

  async lifecycle(action: 'start' | 'stop'): Promise<void> {
    const ctx = await this.context(true);
    const verb = action === 'start' ? 'Start' : 'Stop';
    const space = await this.pickSpace(ctx, `SageMaker: ${verb} Space`, (s) => (action === 'start' ? !isRunning(s) : !!s.app_status && s.app_status !== 'Deleted'));
    const doing = `${action === 'start' ? 'starting' : 'stopping'} ${space.name}`;
    const result = await this.withProgress(`SageMaker: ${doing}`, doing, async (ports, signal) => {
      const call = (force: boolean) =>
        ports.call<{ space: Space }>(`space.${action}`, { ...ctx, space: space.ref, ...(force ? { force: true } : {}) }, {
          signal,
          onNotification: (method, p) => {
            if (method === 'progress' && typeof p.message === 'string') ports.report(p.message);
          },
        });
      try {
        return await call(false);
      } catch (err) {
        // stop with sessions, forwards or kernels open: the daemon lists them; ask first.
        if (!(err instanceof RpcError) || err.kind !== 'space_in_use') throw err;
        const open = Array.isArray(err.data.in_use) ? err.data.in_use.map((u) => escapeControls(String(u))) : [];
        const question = `Stopping ${escapeControls(space.name)} ends what is open on it: ${open.join('; ')}`;
        if ((await vscode.window.showWarningMessage(question, { modal: true }, 'Stop anyway')) !== 'Stop anyway') {
          throw new Cancelled();
        }
        return call(true);
      }
    });
    const state = isRunning(result.space) ? 'running' : 'stopped';
    this.log.info(`${space.ref}: ${state}`);
    void vscode.window.showInformationMessage(`SageMaker: ${space.name} is ${state}.`);
  }

  async forwardPort(): Promise<void> {
    const ctx = await this.context(true);
    const space = await this.pickSpace(ctx, 'SageMaker: Forward Port', () => true);
    const text = await vscode.window.showInputBox({
      title: `SageMaker: Forward a local port to ${space.name}`,
      prompt: 'REMOTE, LOCAL:REMOTE, or 0:REMOTE for any free local port (as `smconnect forward`)',
      placeHolder: '8888',
      validateInput: (value) => {
        const parsed = parsePortSpec(value);
        return typeof parsed === 'string' ? parsed : undefined;
      },
    });
    if (text === undefined) return;
    const spec = parsePortSpec(text);
    if (typeof spec === 'string') throw new Error(spec);
    const doing = `forwarding a port to ${space.name}`;
    let fwd: { id: string; local: string; remote_port: number };
    try {
      fwd = await this.withProgress(`SageMaker: ${doing}`, doing, (ports, signal) =>
        ports.call<{ id: string; local: string; remote_port: number }>('forward.open', forwardParams(ctx, space.ref, spec), {
          signal,
          onNotification: (method, p) => {
            if (method === 'progress' && typeof p.message === 'string') ports.report(p.message);
          },
        }),
      );
    } catch (err) {
      const hint = err instanceof RpcError ? localPortHint(err.kind, err.message, space.name, spec) : undefined;
      throw hint ? new Error(hint) : err;
    }
    const line = `Forwarding ${fwd.local} → ${space.name}:${fwd.remote_port} (id ${fwd.id}; \`smconnect forward --close ${fwd.id}\` stops it)`;
    this.log.info(line);
    void vscode.window.showInformationMessage(`SageMaker: ${line}`);
  }

  async transfer(direction: Direction, uri: vscode.Uri | undefined): Promise<void> {
    if (!uri || uri.scheme !== 'file') throw new Error('pick a local file or folder in the Explorer');
    const ctx = await this.context(true);
    const verb = direction === 'upload' ? 'Upload to' : 'Download from';
    const space = await this.pickSpace(ctx, `SageMaker: ${verb} Space`, () => true);
    const folder = (await vscode.workspace.fs.stat(uri)).type === vscode.FileType.Directory;
    if (direction === 'download' && !folder) throw new Error('download into a folder: pick a folder in the Explorer');
    const remote = await vscode.window.showInputBox({
      title: `SageMaker: ${verb} ${space.name}`,
      prompt:
        direction === 'upload'
          ? `Folder in ${space.name} to copy into (relative to the home directory)`
          : `File or folder in ${space.name} to copy (relative to the home directory)`,
      value: direction === 'upload' ? '.' : '',
      validateInput: (v) => (direction === 'download' && !v.trim() ? 'name a path in the space' : undefined),
    });
    if (remote === undefined) return;
    const id = `vscode-${Date.now()}`;
    const params = transferParams(ctx, direction, space.ref, uri.fsPath, remote, folder, id);
    const title = `SageMaker: ${direction === 'upload' ? 'uploading to' : 'downloading from'} ${space.name}`;
    const summary = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => {
          // Ask the daemon to stop it (partial files stay resumable), then drop the call.
          void this.call('transfer.cancel', { id }, { timeoutMs: 10_000 }).catch(() => undefined);
          abort.abort();
        });
        let last = 0;
        return this.call<{ bytes: number; files: number; seconds: number; lanes: number }>('transfer.start', params, {
          timeoutMs: 7 * 24 * 3600 * 1000,
          signal: abort.signal,
          onNotification: (method, p) => {
            if (method === 'transfer.progress') {
              const line = progressLine(p as unknown as TransferNote, last);
              last = Number((p as { bytes?: number }).bytes ?? last);
              progress.report(line);
            } else if (method === 'progress' && typeof p.message === 'string') {
              progress.report({ message: p.message });
            }
          },
        });
      },
    );
    const line = `${summary.files} file${summary.files === 1 ? '' : 's'}, ${(summary.bytes / (1024 * 1024)).toFixed(1)} MiB in ${summary.seconds.toFixed(1)} s over ${summary.lanes} lanes`;
    this.log.info(`${title}: ${line}`);
    void vscode.window.showInformationMessage(`${title}: done (${line}).`);
  }

  private async ensureKernelServer(space: Space, token?: vscode.CancellationToken): Promise<JupyterInfo> {
    const ctx = await this.context(false);
    return this.withProgress(
      `SageMaker: connecting Jupyter on ${space.name}`,
      `Jupyter on ${space.name}`,
      (ports, signal) => ensureJupyter(ports, ctx, space, signal),
      token,
    ).then((info) => {
      this.log.info(`Jupyter for ${space.ref} at ${info.url}`);
      this.status.kick();
      return info;
    });
  }

  async attachKernel(): Promise<void> {
    const ctx = await this.context(true);
    const space = await this.pickSpace(ctx, 'SageMaker: Attach Notebook Kernel', kernelCapable);
    const info = await this.ensureKernelServer(space);
    const registered = await this.kernels.register();
    this.kernels.refresh();
    if (registered && vscode.window.activeNotebookEditor) {
      await vscode.commands.executeCommand('notebook.selectKernel');
      return;
    }
    const tip = registered
      ? `In a notebook, pick "SageMaker: ${space.name}" under Select Kernel → Existing Jupyter Server → SageMaker.`
      : 'Install the Jupyter extension to pick it as a kernel, or use the URL with any Jupyter client.';
    const choice = await vscode.window.showInformationMessage(`SageMaker: Jupyter on ${space.name} is at ${info.url}. ${tip}`, 'Copy URL');
    if (choice === 'Copy URL') {
      await vscode.env.clipboard.writeText(info.url + (info.token ? `?token=${info.token}` : ''));
    }
  }

  async signIn(): Promise<void> {
    const exe = this.smconnect();
    const ctx = await this.context(true);
    // A terminal, because the sign-in is interactive: a device code to confirm, an MFA code.
    const terminal = vscode.window.createTerminal({ name: 'SageMaker: sign in', shellPath: exe, shellArgs: signInArgs(ctx.profile) });
    terminal.show();
    const sub = vscode.window.onDidCloseTerminal((closed) => {
      if (closed === terminal) {
        sub.dispose();
        this.status.model.credentialsOk();
        this.status.render();
        this.status.kick();
      }
    });
  }

  /** Ours at once; the daemon's once it has said where its log is (starting it if need be). */
  async showLogs(): Promise<void> {
    this.log.show(true);
    this.daemonLog.show((await this.facts.fetch()).log);
  }

  async doctor(): Promise<void> {
    const exe = this.smconnect();
    const ctx = await this.context(false);
    const args = [...(ctx.profile ? ['--profile', ctx.profile] : []), ...(ctx.region ? ['--region', ctx.region] : []), 'doctor'];
    const terminal = vscode.window.createTerminal({ name: 'smconnect doctor', shellPath: exe, shellArgs: args });
    terminal.show();
  }

  dispose(): void {
    this.status.dispose();
    this.kernels.dispose();
    this.daemonLog.dispose();
    this.log.dispose();
  }
}

function remoteAuthority(): string | undefined {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  return folder?.scheme === 'vscode-remote' ? folder.authority : undefined;
}

export function activate(context: vscode.ExtensionContext): void {
  const controller = new Controller(context);
  context.subscriptions.push(controller);
  const register = (id: string, run: () => Promise<void> | void): void => {
    context.subscriptions.push(
      vscode.commands.registerCommand(id, async () => {
        try {
          await run();
        } catch (err) {
          controller.showError(err);
        }
      }),
    );
  };
  register('smconnect.connect', () => controller.connect(false));
  register('smconnect.openInNewWindow', () => controller.connect(true));
  register('smconnect.startSpace', () => controller.lifecycle('start'));
  register('smconnect.stopSpace', () => controller.lifecycle('stop'));
  register('smconnect.attachKernel', () => controller.attachKernel());
  register('smconnect.signIn', () => controller.signIn());
  register('smconnect.forwardPort', () => controller.forwardPort());
  for (const direction of ['upload', 'download'] as const) {
    context.subscriptions.push(
      vscode.commands.registerCommand(`smconnect.${direction}`, async (uri?: vscode.Uri) => {
        try {
          await controller.transfer(direction, uri);
        } catch (err) {
          controller.showError(err);
        }
      }),
    );
  }
  register('smconnect.showLogs', () => controller.showLogs());
  register('smconnect.doctor', () => controller.doctor());

  const registerKernels = (): void => {
    void controller.kernels.register().catch((err) => controller.showError(err));
  };
  if (vscode.workspace.notebookDocuments.length > 0) {
    registerKernels();
  }
  context.subscriptions.push(
    vscode.workspace.onDidOpenNotebookDocument(registerKernels),
    vscode.extensions.onDidChange(() => {
      if (vscode.workspace.notebookDocuments.length > 0) registerKernels();
    }),
  );
  void controller.start();
}

export function deactivate(): void {
  // everything is in context.subscriptions
}
