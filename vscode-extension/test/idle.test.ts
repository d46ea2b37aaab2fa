import * as assert from 'assert';
import { duration, idleSummary, idleWarning } from '../src/core/idle';
import { StatusModel } from '../src/core/status';

const NOW = Date.parse('2026-11-30T12:00:00.000Z');
const session = { id: 's1', purpose: 'ssh', space: 'demo', state: 'connected', latency_ms: 42 };
const idle = {
  space: 'demo',
  domain_id: 'd-1',
  mode: 'activity',
  running_since: '2026-11-30T09:55:00.000Z',
  idle_shutdown_at: '2026-11-30T12:23:00.000Z',
  last_traffic: null,
  warning: false,
};

describe('idle state', () => {
  it('words durations', () => {
    assert.strictEqual(duration(30_000), '<1m');
    assert.strictEqual(duration(7 * 60_000), '7m');
    assert.strictEqual(duration(125 * 60_000), '2h 05m');
  });

  it('shows uptime and the projected idle stop in the status bar', () => {
    assert.deepStrictEqual(idleSummary(idle, NOW).text, 'up 2h 05m, idle stop 23m');
    const m = new StatusModel();
    m.setSessions([session]);
    m.setIdle([idle]);
    const view = m.view(NOW);
    assert.strictEqual(view.text, '$(remote) demo 42 ms · up 2h 05m, idle stop 23m');
    assert.strictEqual(view.severity, 'normal');
    assert.match(view.tooltip, /keep-alive: activity; stops at 2026-11-30T12:23:00.000Z if left idle/);
  });

  it('turns the bar to a warning while the daemon warns, and says when idle shutdown is off', () => {
    const m = new StatusModel();
    m.setSessions([session]);
    m.setIdle([{ ...idle, idle_shutdown_at: '2026-11-30T12:08:00.000Z', warning: true }]);
    assert.strictEqual(m.view(NOW).text, '$(remote) demo 42 ms · up 2h 05m, stops idle in 8m');
    assert.strictEqual(m.view(NOW).severity, 'warning');
    m.setIdle([{ ...idle, idle_shutdown_at: null }]);
    assert.match(m.view(NOW).tooltip, /no idle shutdown/);
  });

  it('reads the space.idle notification, and nothing else', () => {
    const params = { space: 'demo', domain_id: 'd-1', state: 'warning', message: "space 'demo' stops in about 9 minutes" };
    assert.deepStrictEqual(idleWarning('space.idle', params), { space: 'demo', ref: 'd-1/demo', message: params.message });
    assert.strictEqual(idleWarning('progress', params), undefined);
    assert.strictEqual(idleWarning('space.idle', { ...params, state: 'other' }), undefined);
  });
});
