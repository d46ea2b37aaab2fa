import * as assert from 'assert';
import { forwardParams, localPortHint, parsePortSpec } from '../src/core/forwards';

describe('Forward Port… (the port specs and messages of `smconnect forward`)', () => {
  it('reads REMOTE, LOCAL:REMOTE and 0:REMOTE', () => {
    assert.deepStrictEqual(parsePortSpec('8888'), { local: 8888, remote: 8888 });
    assert.deepStrictEqual(parsePortSpec(' 18080:8080 '), { local: 18080, remote: 8080 });
    assert.deepStrictEqual(parsePortSpec('0:6006'), { local: 0, remote: 6006 });
  });

  it('rejects what the CLI rejects, with its words', () => {
    assert.strictEqual(parsePortSpec('abc'), "'abc' is not a port spec: use REMOTE, LOCAL:REMOTE or 0:REMOTE (e.g. 8888)");
    assert.match(String(parsePortSpec('1:2:3')), /is not a port spec/);
    assert.match(String(parsePortSpec('-1')), /is not a port spec/);
    assert.strictEqual(parsePortSpec('70000'), "'70000': ports go from 1 to 65535 (0 as the local port picks a free one)");
    assert.match(String(parsePortSpec('8080:0')), /ports go from 1 to 65535/);
  });

  it('asks the daemon as the CLI does, and names the fix for a port in use', () => {
    const spec = { local: 8888, remote: 8888 };
    assert.deepStrictEqual(forwardParams({ profile: 'p' }, 'd-1/demo', spec), {
      profile: 'p',
      space: 'd-1/demo',
      remote_port: 8888,
      local_port: 8888,
      local_host: '127.0.0.1',
    });
    const hint = localPortHint('local_port', '127.0.0.1:8888 is already in use', 'demo', spec);
    assert.match(String(hint), /already in use\. Pick another local port \(`smconnect forward demo 0:8888` takes any free one\)/);
    assert.match(String(hint), /smconnect forward --close ID/);
    assert.strictEqual(localPortHint('credentials', 'expired', 'demo', spec), undefined);
  });
});
