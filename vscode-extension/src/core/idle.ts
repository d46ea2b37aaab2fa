/**
 * A connected space's uptime and idle state, as the daemon's `keepalive.status` reports it, and
 * its `space.idle` warning. The daemon decides (when to keep alive, when to warn); this only
 * words it. Pure, so it is unit-tested.
 */
import { Params } from './rpc';

export interface IdleSpace {
  space: string;
  domain_id: string;
  mode: string; // off | activity | always
  running_since?: string | null;
  idle_shutdown_at?: string | null;
  last_traffic?: string | null;
  warning?: boolean;
}

export interface IdleWarning {
  space: string;
  /** `domain-id/name`: what `keepalive.refresh` takes, unambiguous. */
  ref: string;
  message: string;
}

/** "2h 05m", "7m", "<1m". */
export function duration(ms: number): string {
  const minutes = Math.floor(Math.max(0, ms) / 60000);
  if (minutes < 1) {
    return '<1m';
  }
  const hours = Math.floor(minutes / 60);
  return hours ? `${hours}h ${String(minutes % 60).padStart(2, '0')}m` : `${minutes}m`;
}

/** Short words for the status bar: uptime, then when it would stop if left idle. */
export function idleSummary(s: IdleSpace, nowMs: number): { text: string; tooltip: string } {
  const parts: string[] = [];
  if (s.running_since) {
    parts.push(`up ${duration(nowMs - Date.parse(s.running_since))}`);
  }
  let tooltip = `keep-alive: ${s.mode}`;
  if (s.idle_shutdown_at) {
    const left = Date.parse(s.idle_shutdown_at) - nowMs;
    parts.push(s.warning ? `stops idle in ${duration(left)}` : `idle stop ${duration(left)}`);
    tooltip += `; stops at ${s.idle_shutdown_at} if left idle`;
  } else {
    tooltip += '; no idle shutdown';
  }
  if (s.last_traffic) {
    tooltip += `; last use ${s.last_traffic}`;
  }
  return { text: parts.join(', '), tooltip };
}

/** The `space.idle` notification, if this is one we should show. */
export function idleWarning(method: string, params: Params): IdleWarning | undefined {
  if (method !== 'space.idle' || params.state !== 'warning' || typeof params.space !== 'string') {
    return undefined;
  }
  const domain = typeof params.domain_id === 'string' ? params.domain_id : undefined;
  const message = typeof params.message === 'string' ? params.message : `space ${params.space} stops soon: idle`;
  return { space: params.space, ref: domain ? `${domain}/${params.space}` : params.space, message };
}
