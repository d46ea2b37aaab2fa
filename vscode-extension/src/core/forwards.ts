/**
 * "SageMaker: Forward Port…": the port specs and messages of `smconnect forward`, so the
 * command palette and the CLI accept the same input and say the same things when it is wrong.
 */

export interface PortSpec {
  local: number; // 0: any free local port
  remote: number;
}

/** `REMOTE`, `LOCAL:REMOTE` or `0:REMOTE`; an error message (the CLI's) for anything else. */
export function parsePortSpec(text: string): PortSpec | string {
  const spec = text.trim();
  const colon = spec.lastIndexOf(':');
  const localText = colon < 0 ? spec : spec.slice(0, colon);
  const remoteText = colon < 0 ? spec : spec.slice(colon + 1);
  if (!/^\d+$/.test(localText) || !/^\d+$/.test(remoteText)) {
    return `'${spec}' is not a port spec: use REMOTE, LOCAL:REMOTE or 0:REMOTE (e.g. 8888)`;
  }
  const local = Number(localText);
  const remote = Number(remoteText);
  if (local > 65535 || remote < 1 || remote > 65535) {
    return `'${spec}': ports go from 1 to 65535 (0 as the local port picks a free one)`;
  }
  return { local, remote };
}

/** The daemon's `forward.open` parameters (as the CLI sends them, on loopback). */
export function forwardParams(ctx: object, spaceRef: string, spec: PortSpec): Record<string, unknown> {
  return { ...ctx, space: spaceRef, remote_port: spec.remote, local_port: spec.local, local_host: '127.0.0.1' };
}

/** A local port in use: the CLI's one line with the fix; undefined for other errors. */
export function localPortHint(kind: string, message: string, spaceName: string, spec: PortSpec): string | undefined {
  if (kind !== 'local_port') return undefined;
  return (
    `${message}. Pick another local port (\`smconnect forward ${spaceName} 0:${spec.remote}\` takes any free one) ` +
    `or close the forward ` +
    `holding it (\`smconnect forward --list\`, then \`smconnect forward --close ID\`)`
  );
}
