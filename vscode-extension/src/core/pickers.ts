/**
 * The pickers' logic, apart from the editor: which AWS profile and region to ask for, and the
 * space list that opens at once and fills in when the daemon answers. The editor side
 * (src/vscode/pickers.ts) only supplies the two UI ports below, so the flows are unit-tested
 * in plain Node with scripted answers.
 */
import { AwsContext, contextQuestions, STUDIO_REGIONS } from './aws';
import { Profile } from './daemonInfo';
import { Cancelled } from './rpc';
import { filterByDomain, Space, SpaceItem, spaceItems } from './spaces';

/** A one-shot choice among strings; undefined when dismissed. */
export type Choose = (items: readonly string[], title: string, placeHolder: string) => Promise<string | undefined>;

/** What the user picked this time (remembered for next time by the caller). */
export interface Picked {
  profile?: string;
  region?: string;
}

/**
 * Fills what the context lacks by asking; throws `Cancelled` when a question is dismissed.
 * The profiles are loaded (from the daemon) only when a question may be needed.
 */
export async function askContext(choose: Choose, ctx: AwsContext, loadProfiles: () => Promise<readonly Profile[]>): Promise<Picked> {
  const picked: Picked = {};
  if (ctx.profile !== null && (ctx.region !== null || ctx.endpoint_url !== null)) {
    return picked;
  }
  const profiles = await loadProfiles();
  const first = contextQuestions(ctx, profiles);
  if (first.askProfile) {
    const profile = await choose(first.askProfile, 'SageMaker: AWS profile', 'Which AWS profile? (set smconnect.profile to skip this question)');
    if (!profile) {
      throw new Cancelled();
    }
    ctx.profile = picked.profile = profile;
  }
  if (contextQuestions(ctx, profiles).askRegion) {
    const region = await choose(
      STUDIO_REGIONS,
      'SageMaker: AWS region',
      'Which region are your Studio domains in? (set smconnect.region to skip this question)',
    );
    if (!region) {
      throw new Cancelled();
    }
    ctx.region = picked.region = region;
  }
  return picked;
}

/** A list shown at once (busy) and filled in later: the editor's QuickPick. */
export interface LiveList {
  /** Shows the list; resolves with the accepted space, rejects with `Cancelled` when hidden. */
  open(title: string, placeholder: string): Promise<Space>;
  fill(items: SpaceItem[], placeholder: string): void;
  close(): void;
}

export interface SpacePick {
  title: string;
  /** The `smconnect.domain` setting: only that domain's spaces. */
  domain?: string;
  /** For the "nothing to show" line. */
  region: string | null;
  keep?: (s: Space) => boolean;
  /** Told what was listed (for the log). */
  listed?: (spaces: Space[]) => void;
}

/** The space picker: a listing failure ends the pick with that error; a pick needs the list. */
export async function pickSpace(list: LiveList, load: () => Promise<Space[]>, opts: SpacePick): Promise<Space> {
  const picked = list.open(opts.title, 'Loading SageMaker spaces…');
  picked.catch(() => undefined); // seen through the race below; not an unhandled rejection
  try {
    const loaded = load().then((all) => {
      const spaces = filterByDomain(all, opts.domain).filter(opts.keep ?? (() => true));
      list.fill(spaceItems(spaces), spaces.length ? 'Pick a space (name, domain, state, app type, instance type)' : emptyLine(opts));
      opts.listed?.(spaces);
    });
    return await Promise.race([picked, loaded.then(() => picked)]);
  } finally {
    list.close();
  }
}

function emptyLine(opts: SpacePick): string {
  const domain = opts.domain?.trim();
  return `No spaces to show in ${opts.region ?? 'the default region'}${domain ? ` for domain ${domain}` : ''}`;
}
