/**
 * Seeded fuzzing of every parser in the protocol layer: malformed input
 * must end in an S3Error with a 4xx status (or a clean parse), never in
 * another exception, a 5xx, or a hang. Replays with TESSERA_SEED.
 */
import { strict as assert } from 'node:assert';
import { S3Error } from '../lib/gateway/errors';
import { PayloadDecoder } from '../lib/gateway/payload/decoder';
import { parseRequest } from '../lib/gateway/request/parse';
import { parseRange } from '../lib/gateway/request/range';
import { parseCompleteMultipartUpload, parseDelete } from '../lib/gateway/xml/requests';
import { LONG, type Random, awsChunked, makeRandom } from './60.gateway.fixtures';

const ROUNDS = LONG ? 50000 : 3000;

function mutateBytes(rng: Random, input: Buffer): Buffer {
  const out = Buffer.from(input);
  const edits = 1 + rng.int(4);
  let result = out;
  for (let e = 0; e < edits; e++) {
    const kind = rng.int(3);
    const at = rng.int(result.length + 1);
    if (kind === 0 && result.length > 0) result[Math.min(at, result.length - 1)] = rng.int(256);
    else if (kind === 1)
      result = Buffer.concat([
        result.subarray(0, at),
        rng.bytes(1 + rng.int(8)),
        result.subarray(at),
      ]);
    else
      result = Buffer.concat([
        result.subarray(0, at),
        result.subarray(Math.min(result.length, at + 1 + rng.int(8))),
      ]);
  }
  return result;
}

/** Runs `fn`; a throw must be an S3Error with a 4xx status (or 501 NotImplemented when `allow501`). */
function only4xx(fn: () => unknown, label: string, allow501 = false): void {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof S3Error, `${label}: ${String(error)}`);
    const ok =
      (error.statusCode >= 400 && error.statusCode < 500) || (allow501 && error.statusCode === 501);
    assert.ok(ok, `${label}: ${error.code} ${error.statusCode}`);
  }
}

describe('60 gateway fuzz: parsers fail only with 4xx S3 errors', () => {
  it(`XML request bodies (${ROUNDS} mutations)`, () => {
    const rng = makeRandom('xml fuzz');
    const seeds = [
      '<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet><Object><Key>a&amp;b</Key><VersionId>v</VersionId></Object><Object><Key><![CDATA[x<y]]></Key></Object></Delete>',
      '<CompleteMultipartUpload><Part><ETag>&quot;abc&quot;</ETag><PartNumber>1</PartNumber></Part><Part><PartNumber>2</PartNumber><ETag>"d"</ETag></Part><!-- c --></CompleteMultipartUpload>',
    ].map((s) => Buffer.from(s));
    for (let n = 0; n < ROUNDS; n++) {
      const doc = mutateBytes(rng, rng.pick(seeds));
      only4xx(
        () => parseDelete(doc),
        `seed ${rng.seed} round ${n} Delete ${JSON.stringify(doc.toString('latin1'))}`,
      );
      only4xx(() => parseCompleteMultipartUpload(doc), `seed ${rng.seed} round ${n} Complete`);
    }
  });

  it(`request lines (${ROUNDS} mutations)`, () => {
    const rng = makeRandom('request fuzz');
    const seeds = [
      '/bucket-a/dir/a%20b?uploadId=u&partNumber=2',
      '/bucket-a?list-type=2&prefix=a%2Fb&delimiter=%2F',
      '/bucket-a/k?versionId=v&response-content-type=text%2Fplain',
    ];
    for (let n = 0; n < ROUNDS; n++) {
      const url = mutateBytes(rng, Buffer.from(rng.pick(seeds))).toString('latin1');
      const method = rng.pick(['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH']);
      only4xx(
        () =>
          parseRequest(
            { method, url, headers: { host: rng.pick(['h', 'b.example.com', '[::1]:9']) } },
            { domains: ['example.com'] },
          ),
        `seed ${rng.seed} round ${n} ${method} ${JSON.stringify(url)}`,
        true,
      );
    }
  });

  it(`Range headers (${ROUNDS} mutations)`, () => {
    const rng = makeRandom('range fuzz');
    for (let n = 0; n < ROUNDS; n++) {
      const header = mutateBytes(
        rng,
        Buffer.from(rng.pick(['bytes=0-99', 'bytes=-5', 'bytes=10-'])),
      ).toString('latin1');
      const size = rng.int(200);
      only4xx(
        () => {
          const r = parseRange(header, size);
          if (r.kind === 'partial')
            assert.ok(r.start >= 0 && r.start <= r.end && r.end < size, `${header} ${size}`);
        },
        `seed ${rng.seed} round ${n} ${JSON.stringify(header)}`,
      );
    }
  });

  it(`aws-chunked bodies (${LONG ? 5000 : 400} mutations)`, async () => {
    const rng = makeRandom('aws-chunked fuzz');
    const data = Buffer.from('The quick brown fox jumps over the lazy dog'.repeat(20));
    const good = awsChunked(data, {
      chunkSize: 100,
      trailer: { name: 'x-amz-checksum-crc32', value: 'FL6vRQ==' },
    });
    for (let n = 0; n < (LONG ? 5000 : 400); n++) {
      const body = mutateBytes(rng, good);
      const decoder = new PayloadDecoder({
        auth: {
          payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          signingKey: Buffer.alloc(32),
          amzDate: '',
          scope: '',
          signature: '',
        },
        headers: {
          'x-amz-decoded-content-length': String(data.length),
          'x-amz-trailer': 'x-amz-checksum-crc32',
        },
      });
      decoder.on('data', () => undefined);
      decoder.on('error', () => undefined);
      for (let at = 0; at < body.length; at += 1 + rng.int(64))
        decoder.write(body.subarray(at, at + 1 + rng.int(64)));
      decoder.end();
      try {
        await decoder.verified;
      } catch (error) {
        assert.ok(error instanceof S3Error, `seed ${rng.seed} round ${n}: ${String(error)}`);
        assert.ok(error.statusCode >= 400 && error.statusCode < 500, `${error.code}`);
      }
    }
  });
});
