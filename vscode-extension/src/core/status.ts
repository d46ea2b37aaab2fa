/**
 * What the status bar says, from `sessions.status` polls and the daemon's live notifications
 * (`session.state`, `credentials`). Pure, so every state transition is unit-tested.
 */
import { IdleSpace, idleSummary } from './idle';
import { Params } from './rpc';

export interface Session {
  id: string;
  purpose: string;
  space: string;
  ssh_host?: string;
  state: string; // connected | reconnecting | failed
  latency_ms?: number;
  reconnects?: number;
}

export interface StatusView {
  text: string;
  tooltip: string;
  severity: 'normal' | 'warning' | 'error';
  /** The command a click runs. */
  command: 'smconnect.connect' | 'smconnect.signIn' | 'smconnect.showLogs';
}

/** Above this a remote editor feels sluggish (Coder warns at the same point). */
export const SLOW_MS = 250;

export class StatusModel {
  private sessions: Session[] = [];
  private readonly live = new Map<string, { phase: string; attempt?: number; reason?: string }>();
  private credentialsMessage: string | undefined;
  private busy: string | undefined;
  private idle = new Map<string, IdleSpace>();

  /** From `keepalive.status`: uptime and idle state per connected space. */
  setIdle(spaces: IdleSpace[]): void {
    this.idle = new Map(spaces.map((s) => [s.space, s]));
  }

  setSessions(sessions: Session[]): void {
    this.sessions = sessions.filter((s) => s.purpose !== 'hostkey');
    // A poll is the truth for sessions it reports; live phases only fill in between polls.
    for (const s of this.sessions) {
      const live = this.live.get(s.space);
      if (live && (s.state === 'connected') === (live.phase === 'resumed')) {
        this.live.delete(s.space);
      }
    }
    for (const space of [...this.live.keys()]) {
      if (!this.sessions.some((s) => s.space === space)) {
        this.live.delete(space);
      }
    }
  }

  /** A daemon notification; returns true when the view may have changed. */
  onNotification(method: string, params: Params): boolean {
    if (method === 'session.state' && typeof params.space === 'string' && typeof params.phase === 'string') {
      this.live.set(params.space, {
        phase: params.phase,
        attempt: typeof params.attempt === 'number' ? params.attempt : undefined,
        reason: typeof params.reason === 'string' ? params.reason : undefined,
      });
      if (params.phase === 'resumed') {
        this.credentialsMessage = undefined;
      }
      return true;
    }
    if (method === 'credentials') {
      // expired: a resume waits for a sign-in; expiring: only a sign-in moves the end; valid: over.
      if (params.state === 'expired' || params.state === 'expiring') {
        this.credentialsMessage = typeof params.message === 'string' ? params.message : `AWS credentials ${params.state}`;
        return true;
      }
      if (params.state === 'valid') {
        this.credentialsMessage = undefined;
        return true;
      }
    }
    return false;
  }

  credentialsOk(): void {
    this.credentialsMessage = undefined;
  }

  setBusy(what: string | undefined): void {
    this.busy = what;
  }

  private stateOf(s: Session): string {
    const live = this.live.get(s.space);
    if (!live) {
      return s.state;
    }
    return live.phase === 'failed' ? 'failed' : live.phase === 'resumed' ? 'connected' : 'reconnecting';
  }

  view(nowMs: number = Date.now()): StatusView {
    if (this.credentialsMessage) {
      return {
        text: '$(warning) SageMaker: sign in',
        tooltip: `${this.credentialsMessage}\nClick to sign in again.`,
        severity: 'warning',
        command: 'smconnect.signIn',
      };
    }
    const bySpace = new Map<string, Session[]>();
    for (const s of this.sessions) {
      bySpace.set(s.space, [...(bySpace.get(s.space) ?? []), s]);
    }
    if (bySpace.size === 0) {
      return this.busy
        ? { text: `$(sync~spin) SageMaker: ${this.busy}`, tooltip: this.busy, severity: 'normal', command: 'smconnect.showLogs' }
        : { text: '$(cloud) SageMaker', tooltip: 'Connect to a SageMaker Studio space', severity: 'normal', command: 'smconnect.connect' };
    }
    const parts: string[] = [];
    const tips: string[] = [];
    let severity: StatusView['severity'] = 'normal';
    for (const [space, sessions] of bySpace) {
      const states = sessions.map((s) => this.stateOf(s));
      const latency = Math.max(...sessions.map((s) => s.latency_ms ?? 0));
      if (states.includes('failed')) {
        severity = 'error';
        parts.push(`$(error) ${space} disconnected`);
      } else if (states.includes('reconnecting')) {
        if (severity === 'normal') severity = 'warning';
        const attempt = this.live.get(space)?.attempt;
        parts.push(`$(sync~spin) ${space} reconnecting${attempt ? ` (${attempt})` : ''}`);
      } else {
        if (latency > SLOW_MS && severity === 'normal') severity = 'warning';
        parts.push(`$(remote) ${space} ${Math.round(latency)} ms`);
      }
      const idle = this.idle.get(space);
      const summary = idle ? idleSummary(idle, nowMs) : undefined;
      if (summary?.text) {
        parts[parts.length - 1] += ` · ${summary.text}`;
      }
      if (idle?.warning && severity === 'normal') severity = 'warning';
      const live = this.live.get(space);
      tips.push(
        `${space}: ${states.join(', ')}; latency ${Math.round(latency)} ms; ` +
          `${sessions.length} session(s), ${sessions.reduce((n, s) => n + (s.reconnects ?? 0), 0)} reconnect(s)` +
          (live?.reason ? `; last: ${live.reason}` : '') +
          (summary ? `; ${summary.tooltip}` : ''),
      );
    }
    if (this.busy) {
      parts.push(`$(sync~spin) ${this.busy}`);
    }
    return { text: parts.join('  '), tooltip: tips.join('\n'), severity, command: 'smconnect.showLogs' };
  }

  /** Worth keeping a connection open for live notifications? */
  get active(): boolean {
    return this.sessions.length > 0 || this.busy !== undefined;
  }
}
