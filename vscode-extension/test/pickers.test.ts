import * as assert from 'assert';
import { AwsContext, STUDIO_REGIONS } from '../src/core/aws';
import { DaemonFacts, DaemonInfo, Profile } from '../src/core/daemonInfo';
import { askContext, Choose, LiveList, pickSpace } from '../src/core/pickers';
import { Cancelled } from '../src/core/rpc';
import { Space, SpaceItem } from '../src/core/spaces';
import { space } from './helpers';

const none = (): AwsContext => ({ profile: null, region: null, endpoint_url: null });
let loads = 0;
const profiles = async (): Promise<Profile[]> => {
  loads += 1;
  return [
    { name: 'default', region: null },
    { name: 'work', region: 'eu-west-1' },
  ];
};

/** A Choose that answers from a script and records what it was asked. */
function scripted(...answers: (string | undefined)[]): Choose & { asked: { title: string; items: readonly string[] }[] } {
  const asked: { title: string; items: readonly string[] }[] = [];
  const choose = async (items: readonly string[], title: string): Promise<string | undefined> => {
    asked.push({ title, items });
    return answers.shift();
  };
  return Object.assign(choose, { asked });
}

describe('the profile and region pickers', () => {
  it('asks for the profile among several, and no region when the profile has one', async () => {
    const choose = scripted('work');
    const ctx = none();
    assert.deepStrictEqual(await askContext(choose, ctx, profiles), { profile: 'work' });
    assert.deepStrictEqual(ctx, { profile: 'work', region: null, endpoint_url: null });
    assert.deepStrictEqual(choose.asked, [{ title: 'SageMaker: AWS profile', items: ['default', 'work'] }]);
  });

  it('then asks for a region when nothing gives one', async () => {
    const choose = scripted('default', 'us-west-2');
    const ctx = none();
    assert.deepStrictEqual(await askContext(choose, ctx, profiles), { profile: 'default', region: 'us-west-2' });
    assert.strictEqual(ctx.region, 'us-west-2');
    assert.deepStrictEqual(choose.asked[1], { title: 'SageMaker: AWS region', items: STUDIO_REGIONS });
  });

  it('asks nothing (nor the daemon) when the context is complete, and stops when a question is dismissed', async () => {
    const quiet = scripted();
    const before = loads;
    assert.deepStrictEqual(await askContext(quiet, { profile: 'p', region: 'r', endpoint_url: null }, profiles), {});
    assert.deepStrictEqual(await askContext(quiet, { profile: 'p', region: null, endpoint_url: 'http://e' }, profiles), {});
    assert.strictEqual(quiet.asked.length, 0);
    assert.strictEqual(loads, before);
    assert.deepStrictEqual(await askContext(quiet, { profile: 'work', region: null, endpoint_url: null }, profiles), {});
    assert.strictEqual(loads, before + 1); // the profile's region had to be looked up
    await assert.rejects(askContext(scripted(undefined), none(), profiles), Cancelled);
    await assert.rejects(askContext(scripted('default', undefined), none(), profiles), Cancelled);
  });
});


/** The editor's QuickPick as the picker drives it: opened, filled, accepted or hidden, closed. */
class FakeList implements LiveList {
  readonly events: string[] = [];
  items: SpaceItem[] = [];
  private accept?: (s: Space) => void;
  private hide?: (e: unknown) => void;

  open(title: string, placeholder: string): Promise<Space> {
    this.events.push(`open ${title}: ${placeholder}`);
    return new Promise((resolve, reject) => {
      this.accept = resolve;
      this.hide = () => reject(new Cancelled());
    });
  }
  fill(items: SpaceItem[], placeholder: string): void {
    this.items = items;
    this.events.push(`fill ${items.length}: ${placeholder}`);
  }
  close(): void {
    this.events.push('close');
  }
  pick(i: number): void {
    this.accept?.(this.items[i].space);
  }
  dismiss(): void {
    this.hide?.(undefined);
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('the space picker', () => {
  it('opens at once, fills in the domain-filtered, kept spaces, and returns the pick', async () => {
    const list = new FakeList();
    let release!: (s: Space[]) => void;
    const listed: string[][] = [];
    const all = [space('a'), space('b', { app_status: 'InService' }), space('c', { domain_id: 'd-2', domain_name: 'ml', ref: 'd-2/c' })];
    const pick = pickSpace(list, () => new Promise((resolve) => (release = resolve)), {
      title: 'SageMaker: Stop Space',
      domain: 'team',
      region: 'us-east-1',
      keep: (s) => s.name !== 'a',
      listed: (spaces) => listed.push(spaces.map((s) => s.name)),
    });
    assert.deepStrictEqual(list.events, ['open SageMaker: Stop Space: Loading SageMaker spaces…']);
    release(all);
    await tick();
    assert.deepStrictEqual(list.items.map((i) => i.space.ref), ['d-1/b']);
    assert.deepStrictEqual(listed, [['b']]);
    list.pick(0);
    assert.strictEqual((await pick).ref, 'd-1/b');
    assert.deepStrictEqual(list.events.slice(1), ['fill 1: Pick a space (name, domain, state, app type, instance type)', 'close']);
  });

  it('says where it looked when nothing is left, and cancels when dismissed', async () => {
    const list = new FakeList();
    const pick = pickSpace(list, async () => [space('a')], { title: 't', domain: 'other', region: null });
    await tick();
    assert.deepStrictEqual(list.events[1], 'fill 0: No spaces to show in the default region for domain other');
    list.dismiss();
    await assert.rejects(pick, Cancelled);
    assert.strictEqual(list.events.at(-1), 'close');
  });

  it('ends with the listing error (and closes the list)', async () => {
    const list = new FakeList();
    await assert.rejects(
      pickSpace(list, async () => Promise.reject(new Error('AccessDenied')), { title: 't', region: 'r' }),
      /AccessDenied/,
    );
    assert.deepStrictEqual(list.events.slice(1), ['close']);
  });
});

describe('what the daemon knows (daemon.info)', () => {
  const info = (prefix: string): DaemonInfo => ({
    runtime_dir: '/r',
    state_dir: '/s',
    log: '/s/daemon.log',
    transport: 'unix',
    host_prefix: prefix,
    remote_home: '/home/sagemaker-user',
    profiles: [],
  });

  it('uses the setting over the daemon, the daemon once known, and asks again on fetch', async () => {
    const calls: boolean[] = [];
    let prefix = 'sm-';
    const facts = new DaemonFacts(async (autostart) => {
      calls.push(autostart);
      return info(prefix);
    });
    assert.strictEqual(facts.hostPrefix(''), undefined); // not known before the daemon said
    assert.strictEqual(facts.hostPrefix('mine-'), 'mine-');
    await facts.fetch(false);
    assert.strictEqual(facts.hostPrefix(' '), 'sm-');
    prefix = 'lab-';
    assert.strictEqual((await facts.fetch()).host_prefix, 'lab-');
    assert.strictEqual(facts.known?.log, '/s/daemon.log');
    assert.deepStrictEqual(calls, [false, true]);
  });
});
