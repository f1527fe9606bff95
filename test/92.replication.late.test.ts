/**
 * A write that timed out on our side can still commit on the destination
 * afterwards. An HTTP proxy holds a complete request past the client's
 * timeout and forwards it later (or forwards at once and delays the
 * answer). The worker must not send the event again nor move on to the
 * key's next event until the destination shows it applied (within the
 * in-doubt wait): no duplicate version, no reordering, no lost object.
 */
import assert from 'node:assert/strict';
import { HttpFaultProxy } from './support/http_fault_proxy';
import {
  type ReplEnv,
  rule,
  startEnv,
  targetObject,
  targetVersions,
} from './support/replication_env';

/** A plain request on the key (no query: not a multipart request). */
function plain(url: string, key: string): boolean {
  return url === `/dst/${key}`;
}

describe('92 replication: late commit of a timed-out request', function () {
  this.timeout(60_000);
  let env: ReplEnv;
  let proxy: HttpFaultProxy;
  afterEach(async () => {
    await proxy?.settle();
    await proxy?.close();
    await env?.close();
  });

  async function setup(versioned: boolean, options: object = {}): Promise<void> {
    env = await startEnv({ requestTimeoutMs: 400, inDoubtWaitMs: 5000, ...options }, [
      { name: 'dst', versioned },
    ]);
    proxy = new HttpFaultProxy(env.target.gw.port);
    await proxy.start();
    await env.source.store.createBucket('src', { versioning: versioned });
    await env.manager.setReplication('src', { rules: [rule(proxy.url, 'dst')] });
  }

  /** Holds the first PUT of `key` for `ms` after the client sent it, then forwards it. */
  function holdFirst(
    method: string,
    key: string,
    ms: number,
    kind: 'holdRequest' | 'delayResponse',
  ) {
    let held = 0;
    proxy.hook = (r) =>
      r.method === method && plain(r.url, key) && held++ === 0 ? { kind, ms } : { kind: 'pass' };
    return () => held;
  }

  it('versioned: a PUT held past the timeout lands once, before the next version', async () => {
    await setup(true);
    const held = holdFirst('PUT', 'k', 1500, 'holdRequest');
    await env.source.put('src', 'k', Buffer.from('v1'));
    await env.source.put('src', 'k', Buffer.from('v2'));
    await env.manager.drain(undefined, AbortSignal.timeout(20_000));
    await proxy.settle();
    assert.ok(held() >= 1);
    const versions = (await targetVersions(env.target.gw, 'dst')).get('k') ?? [];
    assert.equal(versions.length, 2, JSON.stringify(versions));
    const newest = await targetObject(env.targetClient, 'dst', 'k', versions[0]!.id);
    const oldest = await targetObject(env.targetClient, 'dst', 'k', versions[1]!.id);
    assert.equal(newest.body.toString(), 'v2');
    assert.equal(oldest.body.toString(), 'v1');
    assert.ok(
      Number(newest.metadata['tessera-replica-seq']) >
        Number(oldest.metadata['tessera-replica-seq']),
    );
    assert.equal(proxy.seen.filter((r) => r.method === 'PUT').length, 2, 'v1 was not sent twice');
  });

  it('versioned: an answer delayed after the commit is not sent again', async () => {
    await setup(true);
    holdFirst('PUT', 'k', 1500, 'delayResponse');
    await env.source.put('src', 'k', Buffer.from('v1'));
    await env.manager.drain(undefined, AbortSignal.timeout(20_000));
    await proxy.settle();
    const versions = (await targetVersions(env.target.gw, 'dst')).get('k') ?? [];
    assert.equal(versions.length, 1, JSON.stringify(versions));
    assert.equal((await targetObject(env.targetClient, 'dst', 'k')).body.toString(), 'v1');
  });

  it('unversioned: a DELETE held past the timeout does not remove the next PUT', async () => {
    await setup(false);
    await env.source.put('src', 'k', Buffer.from('v1'));
    await env.manager.drain(undefined, AbortSignal.timeout(20_000));
    holdFirst('DELETE', 'k', 1500, 'holdRequest');
    await env.source.delete('src', 'k');
    await env.source.put('src', 'k', Buffer.from('v2'));
    await env.manager.drain(undefined, AbortSignal.timeout(20_000));
    await proxy.settle();
    assert.equal((await targetObject(env.targetClient, 'dst', 'k')).body.toString(), 'v2');
    assert.equal(proxy.seen.filter((r) => r.method === 'DELETE').length, 1);
  });

  it('without the in-doubt wait (inDoubtWaitMs 0) the same stall reorders: why the wait exists', async () => {
    await setup(true, { inDoubtWaitMs: 0 });
    // Held long enough that the retry and v2 land first even on a loaded machine.
    holdFirst('PUT', 'k', 3000, 'holdRequest');
    await env.source.put('src', 'k', Buffer.from('v1'));
    await env.source.put('src', 'k', Buffer.from('v2'));
    await env.manager.drain(undefined, AbortSignal.timeout(20_000));
    await proxy.settle();
    const versions = (await targetVersions(env.target.gw, 'dst')).get('k') ?? [];
    // v1 (the retry), v2, then the late v1 on top: a duplicate and a reorder.
    assert.equal(versions.length, 3);
    assert.equal((await targetObject(env.targetClient, 'dst', 'k')).body.toString(), 'v1');
    assert.ok(
      env.logs.some((l) => l.includes('not seen on the destination within the in-doubt wait')),
    );
  });
});
