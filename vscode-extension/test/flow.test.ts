import * as assert from 'assert';
import { AwsContext } from '../src/core/aws';
import { OpenPorts, openSpace, progressMessage, restartQuestion } from '../src/core/connectFlow';
import { ensureJupyter, serverEntries } from '../src/core/kernels';
import { Cancelled, Params, RpcError } from '../src/core/rpc';
import { filterByDomain, spaceItems } from '../src/core/spaces';
import { hostOfRemoteAuthority, remoteSshToInstall, settingChanges } from '../src/core/sshSettings';
import { StatusModel } from '../src/core/status';
import { space } from './helpers';

const ctx: AwsContext = { profile: 'p', region: 'us-east-1', endpoint_url: null };

type Script = (method: string, params: Params, notify: (m: string, p: Params) => void) => unknown;

function ports(script: Script, confirm = true): OpenPorts & { calls: [string, Params][]; reports: string[]; questions: string[] } {
  const calls: [string, Params][] = [];
  const reports: string[] = [];
  const questions: string[] = [];
  return {
    calls,
    reports,
    questions,
    call: async <T>(method: string, params: Params, opts: { onNotification: (m: string, p: Params) => void }) => {
      calls.push([method, params]);
      return script(method, params, opts.onNotification) as T;
    },
    confirmRestart: async (q) => {
      questions.push(q);
      return confirm;
    },
    report: (m) => reports.push(m),
  };
}

const opened = { space: space('demo'), ssh_host: 'sm-demo', folder_uri: 'vscode-remote://ssh-remote+sm-demo/home/sagemaker-user' };
// As the daemon answers (bridge/daemon/service.py open_space): the reason is data, not prose.
const restartRequired = new RpcError(-32000, "wording for the CLI, not parsed", 'restart_required', {
  kind: 'restart_required',
  reason: 'remote_access',
  space: 'demo',
  instance_type: null,
});

describe('opening a space', () => {
  it('calls space.open by ref with the context and shows its progress', async () => {
    const p = ports((_m, _p, notify) => {
      notify('progress', { space: 'demo', phase: 'starting', message: 'starting the JupyterLab app' });
      notify('progress', { space: 'other', phase: 'starting', message: 'not ours' });
      return opened;
    });
    assert.deepStrictEqual(await openSpace(p, ctx, space('demo')), opened);
    assert.deepStrictEqual(p.calls, [['space.open', { ...ctx, space: 'd-1/demo', ssh_config: true }]]);
    assert.deepStrictEqual(p.reports, ['starting the JupyterLab app']);
  });

  it('asks before restarting a running app, then calls again with restart', async () => {
    const p = ports((_m, params) => {
      if (!params.restart) throw restartRequired;
      return opened;
    });
    assert.deepStrictEqual(await openSpace(p, ctx, space('demo')), opened);
    assert.deepStrictEqual(p.questions, ["space 'demo' is running: it must restart to enable remote access. Restart it now?"]);
    assert.strictEqual(p.calls[1][1].restart, true);
  });

  it('stops when the user says no, and passes other errors on', async () => {
    const no = ports(() => {
      throw restartRequired;
    }, false);
    await assert.rejects(openSpace(no, ctx, space('demo')), Cancelled);
    assert.strictEqual(no.calls.length, 1);
    const broken = ports(() => {
      throw new RpcError(-32000, 'denied', 'credentials');
    });
    await assert.rejects(openSpace(broken, ctx, space('demo')), (e: unknown) => e instanceof RpcError && e.kind === 'credentials');
  });

  it('words the restart question from the structured reason', () => {
    const switching = { kind: 'restart_required', reason: 'instance_type', space: 'big', instance_type: 'ml.g5.xlarge' };
    assert.strictEqual(restartQuestion(switching, 'x'), "space 'big' is running: it must restart to switch to ml.g5.xlarge. Restart it now?");
    assert.strictEqual(restartQuestion({ kind: 'restart_required' }, 'demo'), "space 'demo' is running: it must restart to apply the change. Restart it now?");
  });

  it('asks to switch the instance type when that is the reason', async () => {
    const p = ports((_m, params) => {
      if (!params.restart) throw new RpcError(-32000, 'm', 'restart_required', { reason: 'instance_type', space: 'demo', instance_type: 'ml.m5.large' });
      return opened;
    });
    await openSpace(p, ctx, space('demo'));
    assert.deepStrictEqual(p.questions, ["space 'demo' is running: it must restart to switch to ml.m5.large. Restart it now?"]);
  });

  it('reads progress messages strictly', () => {
    assert.strictEqual(progressMessage('progress', { space: 'demo', message: 'm' }, 'demo'), 'm');
    assert.strictEqual(progressMessage('progress', { message: 'm' }, 'demo'), 'm');
    assert.strictEqual(progressMessage('session.state', { message: 'm' }, 'demo'), undefined);
    assert.strictEqual(progressMessage('progress', { space: 'x', message: 'm' }, 'demo'), undefined);
  });
});

describe('notebook kernels', () => {
  it('lists one entry per kernel-capable space, with the domain when names repeat', () => {
    const entries = serverEntries([
      space('b'),
      space('a', { ref: 'd-1/a' }),
      space('a', { domain_id: 'd-2', domain_name: null, ref: 'd-2/a' }),
      space('weird', { app_type: 'RStudioServerPro' }),
    ]);
    assert.deepStrictEqual(entries, [
      { id: 'd-2/a', label: 'SageMaker: a (d-2)' },
      { id: 'd-1/a', label: 'SageMaker: a (team)' },
      { id: 'd-1/b', label: 'SageMaker: b' },
    ]);
  });

  it('enables remote access through space.open when jupyter.ensure says it is off', async () => {
    let enabled = false;
    const info = { space: 'locked', ref: 'd-1/locked', url: 'http://127.0.0.1:5000/jupyterlab/default/', token: '' };
    const p = ports((method) => {
      if (method === 'space.open') {
        enabled = true;
        return opened;
      }
      if (!enabled) throw new RpcError(-32000, 'remote access is disabled', 'remote_access_disabled');
      return info;
    });
    assert.deepStrictEqual(await ensureJupyter(p, ctx, space('locked')), info);
    assert.deepStrictEqual(p.calls.map((c) => c[0]), ['jupyter.ensure', 'space.open', 'jupyter.ensure']);
    assert.strictEqual(p.calls[0][1].space, 'd-1/locked');
  });
});

describe('space picker rows', () => {
  it('puts running spaces first, then by name, and tells repeated names apart', () => {
    const items = spaceItems([
      space('zeta', { app_status: 'InService', instance_type: 'ml.g5.xlarge', app_type: 'CodeEditor' }),
      space('demo'),
      space('demo', { domain_id: 'd-2', domain_name: 'other', ref: 'd-2/demo', remote_access: 'DISABLED', app_status: 'Pending' }),
    ]);
    assert.deepStrictEqual(
      items.map((i) => [i.label, i.description, i.detail]),
      [
        ['$(vm-running) zeta', 'running · team (d-1)', 'CodeEditor · ml.g5.xlarge · space InService · remote access on'],
        ['$(vm-outline) demo — team', 'stopped · team (d-1)', 'JupyterLab · ml.t3.large · space InService · remote access on'],
        ['$(vm-outline) demo — other', 'pending · other (d-2)', 'JupyterLab · ml.t3.large · space InService · remote access off (enabled on connect)'],
      ],
    );
  });

  it('filters by domain id or name', () => {
    const all = [space('a'), space('b', { domain_id: 'd-2', domain_name: 'ml', ref: 'd-2/b' })];
    assert.deepStrictEqual(filterByDomain(all, 'ml').map((s) => s.name), ['b']);
    assert.deepStrictEqual(filterByDomain(all, 'd-1').map((s) => s.name), ['a']);
    assert.strictEqual(filterByDomain(all, ' ').length, 2);
  });
});

describe('Remote-SSH settings and hosts', () => {
  it('raises the timeout, sets the install path and platform for the host, once', () => {
    const changes = settingChanges({ connectTimeout: 15, serverInstallPath: { other: '/x' } }, 'sm-demo', 180, '/home/sagemaker-user');
    assert.deepStrictEqual(changes, [
      { key: 'connectTimeout', value: 180 },
      { key: 'serverInstallPath', value: { other: '/x', 'sm-demo': '/home/sagemaker-user' } },
      { key: 'remotePlatform', value: { 'sm-demo': 'linux' } },
    ]);
    const done = { connectTimeout: 600, serverInstallPath: { 'sm-demo': '/custom' }, remotePlatform: { 'sm-demo': 'linux' } };
    assert.deepStrictEqual(settingChanges(done, 'sm-demo', 180, '/home/sagemaker-user'), []);
  });

  it('recognises windows connected to our hosts', () => {
    const hex = Buffer.from(JSON.stringify({ hostName: 'sm-demo' })).toString('hex');
    assert.strictEqual(hostOfRemoteAuthority('ssh-remote+sm-demo', 'sm-'), 'sm-demo');
    assert.strictEqual(hostOfRemoteAuthority('ssh-remote+sagemaker-user@sm-demo', 'sm-'), 'sm-demo');
    assert.strictEqual(hostOfRemoteAuthority(`ssh-remote+${hex}`, 'sm-'), 'sm-demo');
    assert.strictEqual(hostOfRemoteAuthority('ssh-remote+elsewhere', 'sm-'), undefined);
    assert.strictEqual(hostOfRemoteAuthority('wsl+Ubuntu', 'sm-'), undefined);
    assert.strictEqual(hostOfRemoteAuthority(undefined, 'sm-'), undefined);
    assert.strictEqual(hostOfRemoteAuthority('ssh-remote+sm-demo', undefined), undefined); // prefix not known yet
  });

  it('offers the SSH extension that works in this editor', () => {
    assert.strictEqual(remoteSshToInstall('Visual Studio Code'), 'ms-vscode-remote.remote-ssh');
    assert.strictEqual(remoteSshToInstall('Visual Studio Code - Insiders'), 'ms-vscode-remote.remote-ssh');
    assert.strictEqual(remoteSshToInstall('Cursor'), 'anysphere.remote-ssh');
    assert.strictEqual(remoteSshToInstall('VSCodium'), 'jeanp413.open-remote-ssh');
  });
});

describe('status bar model', () => {
  const session = { id: 's1', purpose: 'ssh', space: 'demo', ssh_host: 'sm-demo', state: 'connected', latency_ms: 42.4, reconnects: 0 };

  it('is a plain entry point when nothing is connected', () => {
    const m = new StatusModel();
    assert.deepStrictEqual(m.view(), { text: '$(cloud) SageMaker', tooltip: 'Connect to a SageMaker Studio space', severity: 'normal', command: 'smconnect.connect' });
    assert.strictEqual(m.active, false);
    m.setBusy('opening demo');
    assert.strictEqual(m.view().text, '$(sync~spin) SageMaker: opening demo');
    assert.strictEqual(m.active, true);
  });

  it('shows spaces with latency, and warns when slow', () => {
    const m = new StatusModel();
    m.setSessions([session, { ...session, id: 'hk', purpose: 'hostkey' }]);
    assert.strictEqual(m.view().text, '$(remote) demo 42 ms');
    assert.strictEqual(m.view().severity, 'normal');
    m.setSessions([{ ...session, latency_ms: 400 }]);
    assert.strictEqual(m.view().severity, 'warning');
  });

  it('follows session.state between polls, and a poll clears what it contradicts', () => {
    const m = new StatusModel();
    m.setSessions([session]);
    assert.ok(m.onNotification('session.state', { space: 'demo', phase: 'retrying', attempt: 2, reason: 'websocket closed' }));
    assert.strictEqual(m.view().text, '$(sync~spin) demo reconnecting (2)');
    assert.match(m.view().tooltip, /last: websocket closed/);
    m.onNotification('session.state', { space: 'demo', phase: 'failed' });
    assert.strictEqual(m.view().text, '$(error) demo disconnected');
    assert.strictEqual(m.view().severity, 'error');
    m.onNotification('session.state', { space: 'demo', phase: 'resumed' });
    m.setSessions([session]);
    assert.strictEqual(m.view().text, '$(remote) demo 42 ms');
    assert.strictEqual(m.onNotification('progress', { message: 'x' }), false);
  });

  it('puts expired or expiring credentials first, until signed in again', () => {
    const m = new StatusModel();
    m.setSessions([session]);
    m.onNotification('credentials', { state: 'expired', message: 'the SSO token expired' });
    assert.deepStrictEqual(
      [m.view().text, m.view().command, m.view().severity],
      ['$(warning) SageMaker: sign in', 'smconnect.signIn', 'warning'],
    );
    m.credentialsOk();
    assert.strictEqual(m.view().text, '$(remote) demo 42 ms');
    assert.ok(m.onNotification('credentials', { state: 'expiring', expires_at: 1, message: 'the SSO sign-in ends in 10 min' }));
    assert.match(m.view().tooltip, /ends in 10 min/);
    assert.ok(m.onNotification('credentials', { state: 'valid', profile: 'p' }));
    assert.strictEqual(m.view().text, '$(remote) demo 42 ms');
  });
});
