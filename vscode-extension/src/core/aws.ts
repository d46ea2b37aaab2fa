/**
 * The AWS context the daemon is asked to use (profile, region, endpoint), and what the profile
 * and region pickers should ask given the profiles the daemon read from ~/.aws (`daemon.info`).
 *
 * The daemon uses none of its own environment for a caller (docs/design/identity.md), so every
 * call carries this window's identity explicitly, as the CLI does: the profile from the settings,
 * else credentials exported in VS Code's environment (sent as values over the same-uid unix
 * socket; never logged), else AWS_PROFILE.
 */
import { Profile } from './daemonInfo';

export interface EnvCredentials {
  access_key_id: string;
  secret_access_key: string;
  session_token: string | null;
  expiration: string | null;
}

export interface AwsContext {
  profile: string | null;
  region: string | null;
  endpoint_url: string | null;
  /** Built from this process's view: the daemon does not fall back on its own environment. */
  caller_env?: true;
  credentials?: EnvCredentials;
}

export interface ContextSettings {
  profile?: string;
  region?: string;
}

export function contextFrom(settings: ContextSettings, env: NodeJS.ProcessEnv): AwsContext {
  const region = nonEmpty(settings.region) ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? null;
  const endpoint_url = nonEmpty(env.AWS_ENDPOINT_URL) ?? null;
  const profile = nonEmpty(settings.profile);
  const key = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secret = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  // As botocore: a chosen profile wins over exported credentials, which win over AWS_PROFILE.
  if (!profile && key && secret) {
    const credentials: EnvCredentials = {
      access_key_id: key,
      secret_access_key: secret,
      session_token: nonEmpty(env.AWS_SESSION_TOKEN) ?? null,
      expiration: nonEmpty(env.AWS_CREDENTIAL_EXPIRATION) ?? null,
    };
    return { profile: null, region, endpoint_url, caller_env: true, credentials };
  }
  return { profile: profile ?? nonEmpty(env.AWS_PROFILE) ?? null, region, endpoint_url, caller_env: true };
}

/** Which identity a window uses, for its status tooltip: never a secret. */
export function identityLabel(ctx: AwsContext): string {
  const where = ctx.region ? ` in ${ctx.region}` : '';
  if (ctx.credentials) {
    const kind = ctx.credentials.session_token ? 'temporary' : 'long-term';
    const until = ctx.credentials.expiration ? `, expire ${ctx.credentials.expiration}` : '';
    return `AWS identity: ${kind} credentials from VS Code's environment${where}${until}`;
  }
  return `AWS identity: profile ${ctx.profile ?? 'default'}${where}`;
}

function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

/** `smconnect login` knows every way a profile signs in (SSO device flow, a keyring profile's
 * MFA session) and says how to set one up when it has none. */
export function signInArgs(profile: string | null): string[] {
  return profile ? ['login', '--profile', profile] : ['login'];
}

/** Regions where SageMaker Studio runs, for the region picker. */
export const STUDIO_REGIONS: readonly string[] = [
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'ca-central-1', 'sa-east-1',
  'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1', 'eu-central-2', 'eu-north-1', 'eu-south-1', 'eu-south-2',
  'ap-south-1', 'ap-south-2', 'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3',
  'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3', 'ap-southeast-4', 'ap-east-1',
  'me-south-1', 'me-central-1', 'il-central-1', 'af-south-1',
];

/** What the pickers should ask: a profile only when there are several to choose from and
 * none is set; a region only when nothing (setting, env, profile) gives one. `profiles` come
 * from the daemon (`daemon.info`), `default` first. */
export function contextQuestions(ctx: AwsContext, profiles: readonly Profile[]): { askProfile: string[] | null; askRegion: boolean } {
  const names = profiles.map((p) => p.name);
  const askProfile = ctx.profile === null && names.length > 1 ? names : null;
  const effective = ctx.profile ?? (names.length === 1 ? names[0] : 'default');
  const profileRegion = profiles.find((p) => p.name === effective)?.region;
  const askRegion = ctx.endpoint_url === null && ctx.region === null && !profileRegion;
  return { askProfile, askRegion };
}
