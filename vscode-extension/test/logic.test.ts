import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { contextFrom, contextQuestions, identityLabel, signInArgs } from '../src/core/aws';
import { cliErrorLine, findSmconnect, runCli, SmconnectMissing } from '../src/core/cli';
import { HostFacts, endpoint, runtimeDir, verifyPrivateDir } from '../src/core/endpoint';
import { privateDir } from './helpers';

const facts = (env: NodeJS.ProcessEnv, platform: NodeJS.Platform = 'linux'): HostFacts => ({
  env,
  uid: 1000,
  tmpdir: '/tmp',
  home: '/home/u',
  platform,
});

describe('daemon paths (the same rules as bridge/daemon/paths.py)', () => {
  it('picks the runtime dir: override, XDG_RUNTIME_DIR, then /tmp/smconnect-<uid>', () => {
    assert.strictEqual(runtimeDir(facts({ SMCONNECT_RUNTIME_DIR: '/r', XDG_RUNTIME_DIR: '/run/user/1000' })), '/r');
    assert.strictEqual(runtimeDir(facts({ XDG_RUNTIME_DIR: '/run/user/1000' })), '/run/user/1000/smconnect');
    assert.strictEqual(runtimeDir(facts({ XDG_RUNTIME_DIR: 'relative' })), '/tmp/smconnect-1000');
    assert.strictEqual(runtimeDir(facts({})), '/tmp/smconnect-1000');
  });

  it('uses the unix socket unless tcp is forced or there is no AF_UNIX', () => {
    assert.deepStrictEqual(endpoint(facts({})), { kind: 'unix', runtimeDir: '/tmp/smconnect-1000', socket: '/tmp/smconnect-1000/daemon.sock' });
    assert.strictEqual(endpoint(facts({ SMCONNECT_DAEMON_TRANSPORT: ' TCP ' })).kind, 'tcp');
    assert.strictEqual(endpoint(facts({}, 'win32')).kind, 'tcp');
    assert.strictEqual(endpoint(facts({ SMCONNECT_DAEMON_TRANSPORT: 'unix' }, 'win32')).kind, 'unix');
  });

  it('trusts only a private directory of ours', () => {
    const dir = privateDir();
    const uid = process.getuid!();
    verifyPrivateDir(dir, uid);
    assert.throws(() => verifyPrivateDir(dir, uid + 1), /owned by uid/);
    const link = `${dir}-link`;
    fs.symlinkSync(dir, link);
    assert.throws(() => verifyPrivateDir(link, uid), /symlink/);
    fs.chmodSync(dir, 0o770);
    assert.throws(() => verifyPrivateDir(dir, uid), /other users/);
    assert.throws(() => verifyPrivateDir(path.join(dir, 'missing'), uid), /ENOENT/);
  });
});

describe('AWS context and profiles', () => {
  // As daemon.info lists them (tests/daemon/test_info.py): default first, regions from the config.
  const several = [
    { name: 'default', region: 'eu-west-1' },
    { name: 'keys-only', region: null },
    { name: 'proc', region: null },
    { name: 'sso-dev', region: 'us-east-1' },
  ];

  it('signs in through smconnect login, with the profile in use', () => {
    assert.deepStrictEqual(signInArgs('sso-dev'), ['login', '--profile', 'sso-dev']);
    assert.deepStrictEqual(signInArgs(null), ['login']);
  });

  it('prefers settings over the environment and passes the endpoint through', () => {
    const env = { AWS_PROFILE: 'envp', AWS_DEFAULT_REGION: 'us-west-2', AWS_ENDPOINT_URL: 'http://127.0.0.1:1' };
    assert.deepStrictEqual(contextFrom({ profile: 'p', region: '' }, env), { profile: 'p', region: 'us-west-2', endpoint_url: 'http://127.0.0.1:1', caller_env: true });
    assert.deepStrictEqual(contextFrom({}, {}), { profile: null, region: null, endpoint_url: null, caller_env: true });
  });

  it('sends exported credentials unless a profile is chosen, and never shows them', () => {
    const env = { AWS_PROFILE: 'envp', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE000000001', AWS_SECRET_ACCESS_KEY: 'sekrit-value-1234567890', AWS_REGION: 'eu-west-1' };
    const ctx = contextFrom({}, env);
    assert.strictEqual(ctx.profile, null);
    assert.deepStrictEqual(ctx.credentials, { access_key_id: 'AKIAEXAMPLE000000001', secret_access_key: 'sekrit-value-1234567890', session_token: null, expiration: null });
    const label = identityLabel(ctx);
    assert.match(label, /long-term credentials from VS Code's environment in eu-west-1/);
    assert.ok(!label.includes('AKIA') && !label.includes('sekrit'));
    const chosen = contextFrom({ profile: 'dev' }, env);
    assert.strictEqual(chosen.credentials, undefined);
    assert.strictEqual(identityLabel(chosen), 'AWS identity: profile dev in eu-west-1');
  });

  it('asks for a profile only among several, and for a region only when nothing gives one', () => {
    const none = { profile: null, region: null, endpoint_url: null };
    assert.deepStrictEqual(contextQuestions(none, several), { askProfile: ['default', 'keys-only', 'proc', 'sso-dev'], askRegion: false });
    assert.deepStrictEqual(contextQuestions({ ...none, profile: 'keys-only' }, several), { askProfile: null, askRegion: true });
    assert.deepStrictEqual(contextQuestions({ ...none, profile: 'sso-dev' }, several), { askProfile: null, askRegion: false });
    assert.deepStrictEqual(contextQuestions(none, [{ name: 'only', region: null }]), { askProfile: null, askRegion: true });
    assert.deepStrictEqual(contextQuestions({ ...none, endpoint_url: 'http://e' }, []), { askProfile: null, askRegion: false });
  });
});

describe('finding and running smconnect', () => {
  const dir = privateDir();
  const exe = path.join(dir, 'smconnect');
  fs.writeFileSync(exe, '#!/bin/sh\necho "out $*"\necho "smconnect: it broke" >&2\nexit 4\n', { mode: 0o755 });

  it('uses the setting (with ~), else PATH, else ~/.local/bin', () => {
    const f = { env: { PATH: `/nowhere:${dir}` }, home: dir, platform: 'linux' as const };
    assert.strictEqual(findSmconnect(exe, f), exe);
    assert.strictEqual(findSmconnect('~/smconnect', f), exe);
    assert.strictEqual(findSmconnect('', f), exe);
    assert.throws(() => findSmconnect('/no/such', f), (err: unknown) => err instanceof SmconnectMissing && /smconnect\.path/.test(err.message));
    const local = { env: { PATH: '/nowhere' }, home: '/h', platform: 'linux' as const, isExecutable: (p: string) => p === '/h/.local/bin/smconnect' };
    assert.strictEqual(findSmconnect(undefined, local), '/h/.local/bin/smconnect');
    assert.throws(() => findSmconnect(undefined, { ...local, isExecutable: () => false }), /not found on PATH/);
  });

  it('runs it and keeps the one-line reason', async () => {
    const result = await runCli(exe, ['daemon', 'start']);
    assert.strictEqual(result.code, 4);
    assert.strictEqual(result.stdout, 'out daemon start\n');
    assert.strictEqual(cliErrorLine(result), 'it broke');
    assert.strictEqual(cliErrorLine({ code: 9, stdout: '', stderr: '' }), 'exited with status 9');
  });
});
