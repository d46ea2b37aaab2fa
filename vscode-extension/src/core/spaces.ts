/** Spaces as the daemon describes them (docs/design/daemon-methods.md) and how we show them. */

export interface Space {
  name: string;
  domain_id: string;
  domain_name?: string | null;
  ref: string;
  status?: string | null;
  app_type?: string | null;
  remote_access?: string | null;
  instance_type?: string | null;
  app_status?: string | null;
  ssh_host?: string | null;
}

export interface SpaceItem {
  label: string;
  description: string;
  detail: string;
  space: Space;
}

export function isRunning(space: Space): boolean {
  return space.app_status === 'InService';
}

export function appState(space: Space): string {
  const s = space.app_status;
  if (!s || s === 'Deleted') {
    return 'stopped';
  }
  return s === 'InService' ? 'running' : s.toLowerCase();
}

/** Keep spaces of the configured domain (by id or name); all of them when none is set. */
export function filterByDomain(spaces: Space[], domain: string | undefined): Space[] {
  const want = domain?.trim();
  if (!want) {
    return spaces;
  }
  return spaces.filter((s) => s.domain_id === want || s.domain_name === want);
}

/**
 * QuickPick rows: running spaces first, then by name. A name that repeats across domains is
 * shown with its domain so the two rows can be told apart (and the daemon gets the `ref`).
 */
export function spaceItems(spaces: Space[]): SpaceItem[] {
  const counts = new Map<string, number>();
  for (const s of spaces) {
    counts.set(s.name, (counts.get(s.name) ?? 0) + 1);
  }
  const sorted = [...spaces].sort(
    (a, b) => Number(isRunning(b)) - Number(isRunning(a)) || a.name.localeCompare(b.name) || a.ref.localeCompare(b.ref),
  );
  return sorted.map((space) => {
    const domain = space.domain_name ? `${space.domain_name} (${space.domain_id})` : space.domain_id;
    const icon = isRunning(space) ? '$(vm-running)' : '$(vm-outline)';
    const unique = (counts.get(space.name) ?? 0) === 1;
    const detail = [
      space.app_type ?? 'unknown app type',
      space.instance_type ?? 'default instance',
      `space ${space.status ?? 'unknown'}`,
      space.remote_access === 'ENABLED' ? 'remote access on' : 'remote access off (enabled on connect)',
    ];
    return {
      label: `${icon} ${unique ? space.name : `${space.name} — ${space.domain_name ?? space.domain_id}`}`,
      description: `${appState(space)} · ${domain}`,
      detail: detail.join(' · '),
      space,
    };
  });
}

/** Spaces that can serve notebook kernels: JupyterLab spaces, and CodeEditor ones (the daemon
 * starts a Jupyter server there when `jupyter` is installed). */
export function kernelCapable(space: Space): boolean {
  return space.app_type === 'JupyterLab' || space.app_type === 'CodeEditor';
}

/** Control, format and lone-surrogate characters: shown as `\uXXXX`, never rendered. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;

/** Text from AWS made safe for the UI: nothing in it can reorder, hide or break lines. */
export function escapeControls(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}

/**
 * The one warning the space picker shows when `spaces.list` left items out (its `rejected`:
 * items AWS described with values that break SageMaker's documented patterns); undefined when
 * nothing was left out. The other spaces stay pickable.
 */
export function rejectedWarning(rejected: readonly string[] | undefined): string | undefined {
  if (!rejected || rejected.length === 0) {
    return undefined;
  }
  const n = rejected.length;
  const more = n > 1 ? ` (and ${n - 1} more in the SageMaker output log)` : '';
  return `SageMaker: ${n} listed item${n > 1 ? 's were' : ' was'} left out because AWS described ${n > 1 ? 'them' : 'it'} invalidly: ${escapeControls(rejected[0])}${more}`;
}
