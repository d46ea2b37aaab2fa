/**
 * What the daemon already knows and the extension must not re-derive (`daemon.info`,
 * docs/design/daemon-methods.md): where its log is, the ssh host prefix in force, the space's
 * home directory, and the profiles in ~/.aws. A copy of those rules in TypeScript would drift
 * from the Python ones; asking costs one local call.
 *
 * Only the endpoint itself (endpoint.ts) is still computed here: it is how the daemon is found,
 * so it cannot be asked of the daemon.
 */
export interface Profile {
  name: string;
  region: string | null;
}

export interface DaemonInfo {
  runtime_dir: string;
  state_dir: string;
  log: string;
  transport: string;
  host_prefix: string;
  remote_home: string;
  profiles: Profile[];
}

/** Calls `daemon.info`; `autostart` false: only ask a daemon that already runs. */
export type InfoCall = (autostart: boolean) => Promise<DaemonInfo>;

/**
 * The last answer, kept for the synchronous questions (is this window one of our hosts?), and
 * refreshed whenever an action asks again (profiles and the prefix can change meanwhile).
 */
export class DaemonFacts {
  private last: DaemonInfo | undefined;

  constructor(private readonly call: InfoCall) {}

  get known(): DaemonInfo | undefined {
    return this.last;
  }

  async fetch(autostart = true): Promise<DaemonInfo> {
    this.last = await this.call(autostart);
    return this.last;
  }

  /** The host prefix: the user's setting when there is one, else the daemon's (once known). */
  hostPrefix(setting: string): string | undefined {
    return setting.trim() || this.last?.host_prefix;
  }
}
