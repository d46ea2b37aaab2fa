/**
 * The status bar item and the live link to the daemon behind it.
 *
 * A connection held open keeps the daemon from exiting when idle, so the monitor only holds one
 * while there is something to watch: sessions, an action of ours in progress, or a window that
 * is itself connected to one of our hosts. Otherwise it lets go and the item shows plain
 * "SageMaker".
 */
import * as vscode from 'vscode';
import { connectDaemon, DaemonAccess } from '../core/daemon';
import { DaemonConnection, Params } from '../core/rpc';
import { IdleSpace, idleWarning, IdleWarning } from '../core/idle';
import { Session, StatusModel } from '../core/status';

const POLL_MS = 5000;

export class StatusMonitor implements vscode.Disposable {
  readonly model = new StatusModel();
  private readonly item = vscode.window.createStatusBarItem('smconnect.status', vscode.StatusBarAlignment.Left, 50);
  private conn: DaemonConnection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  /** Which AWS identity this window's requests carry (never a secret), shown in the tooltip. */
  identity = '';

  constructor(
    private readonly access: DaemonAccess,
    private readonly pinned: () => boolean,
    private readonly onCredentials: (message: string) => void,
    private readonly log: vscode.LogOutputChannel,
    private readonly onIdle: (warning: IdleWarning) => void = () => undefined,
  ) {
    this.item.name = 'SageMaker';
    this.render();
    this.item.show();
  }

  /** Look again soon (after an action of ours, or at start). */
  kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => void this.poll(), 50);
  }

  setBusy(what: string | undefined): void {
    this.model.setBusy(what);
    this.render();
    this.kick();
  }

  private async poll(): Promise<void> {
    this.timer = undefined;
    if (this.polling) {
      return;
    }
    this.polling = true;
    try {
      if (!this.conn || this.conn.closed) {
        this.conn = await connectDaemon(this.access, { autostart: false });
        this.conn.onNotification((method, params) => this.onNotification(method, params));
        this.conn.onClose(() => {
          this.conn = undefined;
          this.model.setSessions([]);
          this.render();
        });
      }
      const status = await this.conn.call<{ sessions?: Session[] }>('sessions.status', {}, { timeoutMs: 10000 });
      this.model.setSessions(status.sessions ?? []);
      this.model.setIdle(await this.idleState(this.conn));
    } catch {
      this.model.setSessions([]); // no daemon: nothing is connected
    } finally {
      this.polling = false;
    }
    this.render();
    if (this.model.active || this.pinned()) {
      this.timer = setTimeout(() => void this.poll(), POLL_MS);
    } else {
      this.conn?.close(); // let the daemon idle out
      this.conn = undefined;
    }
  }

  /** Uptime and idle state; an older daemon without the keep-alive has none. */
  private async idleState(conn: DaemonConnection): Promise<IdleSpace[]> {
    try {
      const status = await conn.call<{ spaces?: IdleSpace[] }>('keepalive.status', {}, { timeoutMs: 10000 });
      return status.spaces ?? [];
    } catch {
      return [];
    }
  }

  private onNotification(method: string, params: Params): void {
    const idle = idleWarning(method, params);
    if (idle) {
      this.log.warn(idle.message);
      this.onIdle(idle);
      this.kick();
    }
    if (method === 'session.state') {
      this.log.info(`session ${String(params.space)}: ${String(params.phase)}${params.reason ? ` (${String(params.reason)})` : ''}`);
    }
    if (method === 'credentials' && (params.state === 'expired' || params.state === 'expiring')) {
      this.onCredentials(typeof params.message === 'string' ? params.message : `AWS credentials ${String(params.state)}`);
    }
    if (this.model.onNotification(method, params)) {
      this.render();
    }
  }

  render(): void {
    const view = this.model.view();
    this.item.text = view.text;
    this.item.tooltip = this.identity ? `${view.tooltip}\n${this.identity}` : view.tooltip;
    this.item.command = view.command;
    this.item.backgroundColor =
      view.severity === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : view.severity === 'warning'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }

  dispose(): void {
    if (this.timer) {
      clearTimeout(this.timer);
    }
    this.conn?.close();
    this.item.dispose();
  }
}
