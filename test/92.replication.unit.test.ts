/**
 * Replication units: the outbound SigV4 signer against @smithy/signature-v4
 * (same canonicalization as the gateway's verifier), backoff and the
 * circuit breaker, the in-memory change feed, and the client's errors.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { inspect } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpRequest, smithySigner } from './60.gateway.fixtures';
import { SigV4Signer, wireQuery } from '../lib/replication/sign';
import { CircuitBreaker, backoffMs } from '../lib/replication/breaker';
import { MemoryChangeFeed } from '../lib/replication/feed';
import { ReplicationTargetError, S3TargetClient } from '../lib/replication/s3_client';
import { uriEncode } from '../lib/gateway/request/uri';
import { validateReplicationTargets } from '../lib/replication/targets';

const SECRET = 'unit-secret-abcdef0123456789';

describe('92 replication: units', () => {
  it('signs exactly as @smithy/signature-v4 does (keys with reserved and UTF-8 characters, queries)', async () => {
    const signer = new SigV4Signer({ accessKeyId: 'AKID', secretAccessKey: SECRET }, 'eu-west-1');
    const smithy = smithySigner('AKID', SECRET, 'eu-west-1');
    const keys = [
      'a',
      'dir/file.txt',
      'sp ace+plus',
      'ünïcödé/ключ',
      "q?x=1&y=#frag~!*'()",
      'a//b/../c',
    ];
    const when = new Date('2026-11-22T05:00:00Z');
    for (const key of keys) {
      const queries: Array<Record<string, string>> = [
        {},
        { versionId: 'v 1/2' },
        { versions: '', prefix: key },
      ];
      for (const query of queries) {
        const rawPath = `/bucket/${uriEncode(key, true)}`;
        const params = Object.entries(query).map(([name, value]) => ({
          name,
          value,
          hasEquals: true,
        }));
        const headers = {
          host: '127.0.0.1:9000',
          'content-type': 'text/plain',
          'x-amz-meta-k': 'v',
        };
        const mine = signer.sign(
          { method: 'PUT', rawPath, query: params, headers, payloadHash: 'UNSIGNED-PAYLOAD' },
          when.getTime(),
        );
        const theirs = await smithy.sign(
          new HttpRequest({
            method: 'PUT',
            protocol: 'http:',
            hostname: '127.0.0.1',
            port: 9000,
            path: rawPath,
            query,
            headers: { ...headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
          }),
          { signingDate: when },
        );
        assert.equal(
          mine.authorization,
          theirs.headers.authorization,
          `key ${key} query ${wireQuery(params)}`,
        );
      }
    }
    // The secret stays out of inspection and JSON.
    assert.equal(inspect(signer, { showHidden: true, depth: 5 }).includes(SECRET), false);
    assert.equal(JSON.stringify(signer).includes(SECRET), false);
  });

  it('backs off exponentially with full jitter, capped', () => {
    const opts = { baseMs: 100, capMs: 5000 };
    assert.equal(
      backoffMs(0, opts, () => 0.999),
      99,
    );
    assert.equal(
      backoffMs(3, opts, () => 0.5),
      400,
    );
    assert.equal(
      backoffMs(20, opts, () => 0.999),
      4995,
    );
    assert.equal(
      backoffMs(5, opts, () => 0),
      0,
    );
  });

  it('circuit breaker: closed -> open after the threshold -> half-open single probe -> closed or open again', async () => {
    const b = new CircuitBreaker({ failureThreshold: 3, openMs: 30, openMsMax: 120 });
    assert.equal(b.state, 'closed');
    assert.equal(await b.acquire(), false);
    b.failure();
    b.failure();
    assert.equal(b.state, 'closed');
    b.failure();
    assert.equal(b.state, 'open');
    const t0 = performance.now();
    const probe = await b.acquire();
    assert.equal(probe, true);
    assert.ok(performance.now() - t0 >= 25, 'no request while open');
    // While the probe is out, others wait.
    let second = false;
    const waiting = b.acquire().then((p) => (second = p));
    await sleep(40);
    assert.equal(second, false);
    b.failure(); // probe failed: open again, for twice as long
    assert.equal(b.state, 'open');
    assert.equal(await waiting, true); // next probe after 60 ms
    b.success();
    assert.equal(b.state, 'closed');
    assert.equal(b.opened, 2);
  });

  it('memory feed: resumes after `since`, filters, wakes waiters, expires trimmed history', async () => {
    const feed = new MemoryChangeFeed();
    const base = {
      type: 'created' as const,
      versionId: 'null',
      size: 1,
      etag: 'e',
      deleteMarker: false,
    };
    feed.append({ ...base, bucket: 'a', key: 'x' });
    feed.append({ ...base, bucket: 'b', key: 'y' });
    feed.append({ ...base, bucket: 'a', key: 'z' });
    const ac = new AbortController();
    const seen: number[] = [];
    const reading = (async () => {
      for await (const e of feed.watch({ bucket: 'a', since: 2, signal: ac.signal })) {
        seen.push(e.seq);
        if (seen.length === 2) break;
      }
    })();
    await sleep(5);
    feed.append({ ...base, bucket: 'a', key: 'w' });
    await reading;
    assert.deepEqual(seen, [3, 4]);
    feed.retention.hold('r', () => 3);
    assert.equal(feed.trim(4), 3);
    feed.retention.release('r');
    assert.equal(feed.trim(4), 4);
    await assert.rejects(
      (async () => {
        const events = feed.watch({ since: 1 });
        await events.next();
      })(),
      { code: 'ERR_STORE_CHANGES_EXPIRED' },
    );
  });

  it('client errors carry status, code and doubt, never the secret', async () => {
    const client = new S3TargetClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKID', secretAccessKey: SECRET },
      timeoutMs: 2000,
    });
    try {
      await assert.rejects(
        client.putObject('b', 'k', Buffer.from('x'), 1, {}),
        (e: ReplicationTargetError) => {
          assert.equal(e.code, 'ERR_REPLICATION_TARGET');
          assert.equal(e.s3Code, 'ECONNREFUSED');
          // Nothing left this process: the target cannot have applied it.
          assert.equal(e.uncertain, false);
          assert.equal(e.mayLand, false);
          assert.equal(e.permanent, false);
          assert.equal(inspect(e).includes(SECRET), false);
          return true;
        },
      );
      await assert.rejects(
        client.headObject('b', 'k'),
        (e: ReplicationTargetError) => !e.uncertain,
      );
      assert.equal(inspect(client, { showHidden: true, depth: 6 }).includes(SECRET), false);
    } finally {
      client.close();
    }
  });

  it('client: a timeout after the whole request left may land; a reset while sending cannot', async () => {
    // Reads everything, never answers (a destination still working on it).
    const silent = createServer((s) => s.on('data', () => undefined));
    // Resets the connection at the first bytes of the request.
    const resetting = createServer((s) => s.once('data', () => s.resetAndDestroy()));
    for (const server of [silent, resetting]) {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    }
    const clientFor = (server: typeof silent) =>
      new S3TargetClient({
        endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        region: 'us-east-1',
        credentials: { accessKeyId: 'AKID', secretAccessKey: SECRET },
        timeoutMs: 300,
      });
    const a = clientFor(silent);
    const b = clientFor(resetting);
    try {
      await assert.rejects(
        a.putObject('b', 'k', Buffer.from('x'), 1, {}),
        (e: ReplicationTargetError) => {
          assert.equal(e.s3Code, 'Timeout');
          assert.equal(e.uncertain, true);
          assert.equal(e.mayLand, true);
          return true;
        },
      );
      const big = Buffer.alloc(16 * 1024 * 1024, 1);
      await assert.rejects(
        b.putObject('b', 'k', big, big.length, {}),
        (e: ReplicationTargetError) => {
          assert.equal(e.status, 0);
          assert.equal(e.uncertain, false, e.s3Code);
          assert.equal(e.mayLand, false);
          return true;
        },
      );
      // A read that times out is never in doubt.
      await assert.rejects(
        a.headObject('b', 'k'),
        (e: ReplicationTargetError) => !e.uncertain && !e.mayLand,
      );
    } finally {
      a.close();
      b.close();
      silent.close();
      resetting.close();
    }
  });

  it('validates the gateway target registry without quoting secrets', () => {
    const good = {
      dr: {
        endpoint: 'https://dr.example.net:9000/',
        region: 'eu-west-1',
        credentials: { accessKeyId: 'AKID', secretAccessKey: SECRET },
      },
    };
    assert.deepEqual(validateReplicationTargets(good), {
      dr: {
        endpoint: 'https://dr.example.net:9000',
        region: 'eu-west-1',
        credentials: { accessKeyId: 'AKID', secretAccessKey: SECRET },
      },
    });
    for (const bad of [
      [],
      { 'bad name': good.dr },
      { dr: { ...good.dr, endpoint: 'file:///etc/passwd' } },
      { dr: { ...good.dr, credentials: { accessKeyId: 'AKID' } } },
      { dr: { ...good.dr, endpoint: `http://AKID:${SECRET}@host` } },
    ]) {
      assert.throws(
        () => validateReplicationTargets(bad),
        (e: Error & { code?: string }) =>
          e.code === 'ERR_INVALID_ARG_VALUE' && !e.message.includes(SECRET),
      );
    }
  });
});
