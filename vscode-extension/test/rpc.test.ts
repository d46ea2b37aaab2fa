import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { connectDaemon } from '../src/core/daemon';
import { Endpoint } from '../src/core/endpoint';
import { CallTimeout, Cancelled, DaemonConnection, DaemonUnavailable, RpcError } from '../src/core/rpc';
import { fail, fakeDaemon, notify, privateDir, removeDirs, reply } from './helpers';

after(removeDirs); // a root hook: runs once after every spec file

const unix = (dir: string): Endpoint => ({ kind: 'unix', runtimeDir: dir, socket: path.join(dir, 'daemon.sock') });

describe('DaemonConnection over a real websocket on a unix socket', () => {
  it('calls, matches out-of-order answers by id, and sends no Origin header', async () => {
    const held: { id?: number; ws: import('ws').WebSocket }[] = [];
    const daemon = await fakeDaemon((msg, ws) => {
      if (msg.method === 'slow') {
        held.push({ id: msg.id, ws });
      } else {
        reply(ws, msg.id, { echo: msg.params });
        for (const h of held.splice(0)) reply(h.ws, h.id, 'slow done');
      }
    });
    const conn = await DaemonConnection.open(unix(daemon.dir));
    try {
      const slow = conn.call('slow');
      const fast = await conn.call('fast', { a: 1 });
      assert.deepStrictEqual(fast, { echo: { a: 1 } });
      assert.strictEqual(await slow, 'slow done');
      assert.deepStrictEqual(daemon.origins, [undefined]);
    } finally {
      conn.close();
      await daemon.close();
    }
  });

  it('turns JSON-RPC errors into RpcError with the kind', async () => {
    const daemon = await fakeDaemon((msg, ws) => fail(ws, msg.id, "no space named 'x'", 'space_not_found'));
    const conn = await DaemonConnection.open(unix(daemon.dir));
    try {
      await assert.rejects(conn.call('space.open', { space: 'x' }), (err: unknown) => {
        assert.ok(err instanceof RpcError);
        assert.strictEqual(err.kind, 'space_not_found');
        assert.strictEqual(err.code, -32000);
        assert.strictEqual(err.message, "no space named 'x'");
        return true;
      });
    } finally {
      conn.close();
      await daemon.close();
    }
  });

  it('gives notifications to the running call and to subscribers', async () => {
    const daemon = await fakeDaemon((msg, ws) => {
      notify(ws, 'progress', { space: 'demo', phase: 'starting', message: 'starting the app' });
      notify(ws, 'session.state', { space: 'demo', phase: 'resumed' });
      setTimeout(() => reply(ws, msg.id, { ok: true }), 20);
    });
    const conn = await DaemonConnection.open(unix(daemon.dir));
    const perCall: string[] = [];
    const all: string[] = [];
    conn.onNotification((method) => all.push(method));
    try {
      await conn.call('space.open', {}, { onNotification: (method, params) => perCall.push(`${method}:${String(params.message ?? params.phase)}`) });
      assert.deepStrictEqual(perCall, ['progress:starting the app', 'session.state:resumed']);
      assert.deepStrictEqual(all, ['progress', 'session.state']);
    } finally {
      conn.close();
      await daemon.close();
    }
  });

  it('times out, cancels, and fails pending calls when the daemon goes away', async () => {
    const daemon = await fakeDaemon(() => undefined); // never answers
    const conn = await DaemonConnection.open(unix(daemon.dir));
    let closed = false;
    conn.onClose(() => (closed = true));
    await assert.rejects(conn.call('x', {}, { timeoutMs: 50 }), CallTimeout);
    const abort = new AbortController();
    const cancelled = conn.call('x', {}, { signal: abort.signal });
    abort.abort();
    await assert.rejects(cancelled, Cancelled);
    const pending = conn.call('x');
    await daemon.close();
    await assert.rejects(pending, DaemonUnavailable);
    assert.ok(closed && conn.closed);
    await assert.rejects(conn.call('x'), DaemonUnavailable);
  });

  it('reports no daemon when the socket or the directory is missing', async () => {
    const dir = privateDir();
    await assert.rejects(DaemonConnection.open(unix(dir)), DaemonUnavailable);
    await assert.rejects(DaemonConnection.open(unix(path.join(dir, 'nope'))), DaemonUnavailable);
  });

  it('refuses a runtime directory others can write', async () => {
    const daemon = await fakeDaemon((msg, ws) => reply(ws, msg.id, 1));
    fs.chmodSync(daemon.dir, 0o755);
    try {
      await assert.rejects(DaemonConnection.open(unix(daemon.dir)), /accessible to other users/);
      assert.deepStrictEqual(daemon.origins, []); // it never dialed
    } finally {
      await daemon.close();
    }
  });

  it('speaks loopback TCP with the bearer token from daemon.tcp', async () => {
    const daemon = await fakeDaemon((msg, ws) => reply(ws, msg.id, 'tcp ok'), { tcp: true });
    const file = path.join(daemon.dir, 'daemon.tcp');
    fs.writeFileSync(file, JSON.stringify({ port: daemon.port, token: 'tkn' }), { mode: 0o600 });
    const conn = await DaemonConnection.open({ kind: 'tcp', runtimeDir: daemon.dir, endpointFile: file });
    try {
      assert.strictEqual(await conn.call('daemon.status'), 'tcp ok');
      assert.deepStrictEqual(daemon.authorizations, ['Bearer tkn']);
    } finally {
      conn.close();
      await daemon.close();
    }
  });
});

describe('connectDaemon', () => {
  it('starts the daemon when nothing answers and autostart is on', async () => {
    const dir = privateDir();
    let started = 0;
    let daemon: Awaited<ReturnType<typeof fakeDaemon>> | undefined;
    const access = {
      endpoint: () => unix(dir),
      start: async () => {
        started++;
        daemon = await fakeDaemon((msg, ws) => reply(ws, msg.id, 'up'), { dir });
      },
    };
    await assert.rejects(connectDaemon(access, { autostart: false }), DaemonUnavailable);
    assert.strictEqual(started, 0);
    const conn = await connectDaemon(access, { autostart: true });
    try {
      assert.strictEqual(started, 1);
      assert.strictEqual(await conn.call('daemon.status'), 'up');
    } finally {
      conn.close();
      await daemon?.close();
    }
  });

  it("passes on the starter's failure", async () => {
    const dir = privateDir();
    const access = {
      endpoint: () => unix(dir),
      start: async () => {
        throw new DaemonUnavailable('the smconnect daemon did not start: boom');
      },
    };
    await assert.rejects(connectDaemon(access, { autostart: true }), /did not start: boom/);
  });
});
