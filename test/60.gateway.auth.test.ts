import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalHeaderValue, canonicalQuery, canonicalUri } from '../lib/gateway/auth/canonical';
import {
  StaticCredentials,
  credentialsFromEnv,
  credentialsFromFile,
} from '../lib/gateway/auth/credentials';
import { SigningKeyCache, deriveSigningKey } from '../lib/gateway/auth/signing_key';
import { type SignedRequest, SigV4Verifier, signaturesEqual } from '../lib/gateway/auth/sigv4';
import { S3Error } from '../lib/gateway/errors';
import { parseQuery, percentDecode, uriEncode } from '../lib/gateway/request/uri';
import {
  HttpRequest,
  LONG,
  type Random,
  makeRandom,
  smithySigner,
  toSignedRequest,
} from './60.gateway.fixtures';

const AK = 'AKIAIOSFODNN7EXAMPLE';
const SK = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const AWS_DOC_TIME = Date.UTC(2013, 4, 24, 0, 0, 0);

function expectS3Error(fn: () => unknown, code: string, status: number, message?: string | RegExp) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof S3Error, `expected S3Error, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.statusCode, status);
    if (typeof message === 'string') assert.equal(error.message, message);
    else if (message) assert.match(error.message, message);
    return true;
  });
}

function request(
  method: string,
  target: string,
  headers: Record<string, string | string[]>,
): SignedRequest {
  const q = target.indexOf('?');
  return {
    method,
    rawPath: q < 0 ? target : target.slice(0, q),
    query: parseQuery(q < 0 ? '' : target.slice(q + 1)),
    headers,
  };
}

const awsDocVerifier = () =>
  new SigV4Verifier({
    credentials: new StaticCredentials([{ accessKeyId: AK, secretAccessKey: SK }]),
    now: () => AWS_DOC_TIME,
  });

describe('60 gateway auth: URI encoding and canonical pieces', () => {
  it('encodes per RFC 3986 with upper-case hex, keeping only unreserved characters', () => {
    assert.equal(uriEncode("a b+c*d~e_f-g.h!'()", false), 'a%20b%2Bc%2Ad~e_f-g.h%21%27%28%29');
    assert.equal(uriEncode('dir/é日😀', true), 'dir/%C3%A9%E6%97%A5%F0%9F%98%80');
    assert.equal(uriEncode('a/b', false), 'a%2Fb');
  });

  it('decodes strictly: + is a space only in queries; bad escapes and non-UTF-8 are InvalidURI', () => {
    assert.equal(percentDecode('a+b%2B%20', true), 'a b+ ');
    assert.equal(percentDecode('a+b', false), 'a+b');
    expectS3Error(() => percentDecode('%zz', false), 'InvalidURI', 400);
    expectS3Error(() => percentDecode('abc%4', false), 'InvalidURI', 400);
    expectS3Error(() => percentDecode('%ff%fe', false), 'InvalidURI', 400);
  });

  it('never normalises or double-encodes the S3 path', () => {
    assert.equal(canonicalUri('/bucket/a/../b//c/./d'), '/bucket/a/../b//c/./d');
    assert.equal(canonicalUri('/bucket/%2e%2e/key'), '/bucket/../key');
    assert.equal(canonicalUri('/b/a%2Fb'), '/b/a%2Fb');
    assert.equal(canonicalUri('/b/a%20b'), '/b/a%20b');
    assert.equal(canonicalUri('/b/test$file.text'), '/b/test%24file.text');
    assert.equal(canonicalUri('/b/%7e'), '/b/~');
    assert.equal(canonicalUri(''), '/');
  });

  it('sorts the query by encoded name then value and drops X-Amz-Signature', () => {
    const q = parseQuery('prefix=J&max-keys=2&b=2&b=1&uploads&X-Amz-Signature=abc&a%20b=%2a');
    assert.equal(canonicalQuery(q), 'a%20b=%2A&b=1&b=2&max-keys=2&prefix=J&uploads=');
  });

  it('trims header values and folds runs of spaces and tabs', () => {
    assert.equal(canonicalHeaderValue('  a   b \t c  '), 'a b c');
    assert.equal(canonicalHeaderValue('"quoted  value"'), '"quoted value"');
  });

  it('derives the signing key of the AWS documentation', () => {
    assert.equal(
      deriveSigningKey(SK, '20130524', 'us-east-1', 's3').toString('hex'),
      'dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378',
    );
    const cache = new SigningKeyCache(2);
    const a = cache.get(SK, '20130524', 'us-east-1', 's3');
    assert.equal(cache.get(SK, '20130524', 'us-east-1', 's3'), a);
    cache.get(SK, '20130525', 'us-east-1', 's3');
    cache.get(SK, '20130526', 'us-east-1', 's3');
    assert.equal(cache.size, 2);
  });

  it('compares signatures in constant time, never with ===', () => {
    assert.equal(signaturesEqual('ab'.repeat(32), 'ab'.repeat(32)), true);
    assert.equal(signaturesEqual('ab'.repeat(32), 'ab'.repeat(31) + 'ac'), false);
    assert.equal(signaturesEqual('ab'.repeat(32), 'ab'), false);
    const source = readFileSync(join(__dirname, '../lib/gateway/auth/sigv4.ts'), 'utf8');
    assert.match(source, /timingSafeEqual\(expected, given\)/);
    assert.doesNotMatch(source, /signature\s*[!=]==|[!=]==\s*(parsed\.)?signature/i);
  });
});

describe('60 gateway auth: AWS documentation vectors', () => {
  it('accepts the GET Object example (Range header signed)', () => {
    const result = awsDocVerifier().verify(
      request('GET', '/test.txt', {
        host: 'examplebucket.s3.amazonaws.com',
        range: 'bytes=0-9',
        'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        'x-amz-date': '20130524T000000Z',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
      }),
    );
    assert.equal(result.accessKeyId, AK);
    assert.equal(result.mode, 'header');
    assert.equal(result.scope, '20130524/us-east-1/s3/aws4_request');
  });

  it('re-verifies every request when the Authorization text repeats all but its Signature', () => {
    // The verifier remembers the parse of the text before `,Signature=`;
    // the signature itself, the payload hash and every header stay checked.
    const verifier = awsDocVerifier();
    const prefix =
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date';
    const good = 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41';
    const headers = {
      host: 'examplebucket.s3.amazonaws.com',
      range: 'bytes=0-9',
      'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      'x-amz-date': '20130524T000000Z',
    };
    const with_ = (authorization: string, extra: Record<string, string> = {}) =>
      request('GET', '/test.txt', { ...headers, ...extra, authorization });
    for (let i = 0; i < 2; i++) {
      assert.equal(verifier.verify(with_(`${prefix},Signature=${good}`)).signature, good);
      expectS3Error(
        () => verifier.verify(with_(`${prefix},Signature=${good.replace(/^f/, 'e')}`)),
        'SignatureDoesNotMatch',
        403,
      );
      expectS3Error(
        () => verifier.verify(with_(`${prefix},Signature=${good}`, { range: 'bytes=0-8' })),
        'SignatureDoesNotMatch',
        403,
      );
      expectS3Error(
        () => verifier.verify(with_(`${prefix},Signature=${good}`, { 'x-amz-meta-a': 'b' })),
        'AccessDenied',
        403,
        /not signed: x-amz-meta-a/,
      );
      expectS3Error(
        () => verifier.verify(with_(`${prefix},Signature=${good},Signature=${good}`)),
        'AuthorizationHeaderMalformed',
        400,
        /Signature given twice/,
      );
      expectS3Error(
        () => verifier.verify(with_(`${prefix},Signature=${good}`, { 'x-amz-date': '' })),
        'AuthorizationHeaderMalformed',
        400,
        /X-Amz-Date '' must be yyyymmddThhmmssZ/,
      );
    }
  });

  it('accepts the PUT Object example (path with $, Date and storage class signed)', () => {
    awsDocVerifier().verify(
      request('PUT', '/test$file.text', {
        host: 'examplebucket.s3.amazonaws.com',
        date: 'Fri, 24 May 2013 00:00:00 GMT',
        'x-amz-date': '20130524T000000Z',
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
      }),
    );
  });

  it('accepts the GET Bucket Lifecycle and list examples (empty and sorted query values)', () => {
    const headers = {
      host: 'examplebucket.s3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    };
    const auth = (sig: string) =>
      `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=${sig}`;
    const v = awsDocVerifier();
    v.verify(
      request('GET', '/?lifecycle', {
        ...headers,
        authorization: auth('fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543'),
      }),
    );
    v.verify(
      request('GET', '/?max-keys=2&prefix=J', {
        ...headers,
        authorization: auth('34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'),
      }),
    );
  });

  it('accepts the presigned GET example until it expires, then answers AccessDenied', () => {
    const target =
      '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
    const headers = { host: 'examplebucket.s3.amazonaws.com' };
    const at = (ms: number) =>
      new SigV4Verifier({
        credentials: new StaticCredentials([{ accessKeyId: AK, secretAccessKey: SK }]),
        now: () => ms,
      });
    const result = at(AWS_DOC_TIME + 86400_000).verify(request('GET', target, headers));
    assert.equal(result.mode, 'presigned');
    assert.equal(result.payloadHash, 'UNSIGNED-PAYLOAD');
    expectS3Error(
      () => at(AWS_DOC_TIME + 86401_000).verify(request('GET', target, headers)),
      'AccessDenied',
      403,
      'Request has expired',
    );
  });
});

// ---------------------------------------------------------------------------

const KEY_ALPHABET = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ...'-._~!$&\'()*+,;=:@/?#[]% "<>\\^`{|}',
  'é',
  'ß',
  '日',
  '本',
  '😀',
  '\u00a0',
];
const HEADER_ALPHABET = [...'abcdefghijklmnopqrstuvwxyz0123456789-_.:;,/=+"()', ' ', ' ', '\t'];
const SECRET_ALPHABET = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/+=',
  'é',
  '日',
];
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);

interface Case {
  accessKeyId: string;
  secret: string;
  request: HttpRequest;
  presigned: boolean;
  signingDate: Date;
}

function randomCase(rng: Random, presigned: boolean): Case {
  const accessKeyId = rng.string([...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'], 16, 20);
  const secret = rng.string(SECRET_ALPHABET, 1, 48);
  const bucket = rng.string([...'abcdefghijklmnopqrstuvwxyz0123456789'], 3, 12);
  const key = rng.string(KEY_ALPHABET, 0, 40);
  const query: Record<string, string | string[]> = {};
  const nQuery = rng.int(4);
  for (let i = 0; i < nQuery; i++) {
    const name = rng.pick([
      'prefix',
      'delimiter',
      'uploadId',
      'partNumber',
      'x-id',
      'uploads',
      'list-type',
      'response-content-type',
      rng.string(KEY_ALPHABET, 1, 8),
    ]);
    if (
      name.toLowerCase().startsWith('x-amz-') ||
      name === 'Signature' ||
      name === 'AWSAccessKeyId'
    )
      continue;
    const value = rng.string(KEY_ALPHABET, 0, 12);
    const existing = query[name];
    if (existing === undefined) query[name] = value;
    else query[name] = [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  const headers: Record<string, string> = {
    host: rng.pick(['127.0.0.1:9000', 'localhost', 'b.s3.example.com:443']),
  };
  const nHeaders = rng.int(5);
  for (let i = 0; i < nHeaders; i++) {
    const name = rng.pick([
      'x-amz-meta-' + rng.string([...'abcdefghijklmnopqrstuvwxyz0123456789-'], 1, 10),
      'content-type',
      'amz-sdk-invocation-id',
      'amz-sdk-request',
      'x-amz-checksum-crc32',
      'x-amz-copy-source',
      'range',
    ]);
    headers[name] = rng.string(HEADER_ALPHABET, 0, 24);
  }
  const payload = rng.pick([
    'UNSIGNED-PAYLOAD',
    'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
    rng.bytes(32).toString('hex'),
  ]);
  headers['x-amz-content-sha256'] = presigned ? 'UNSIGNED-PAYLOAD' : payload;
  const method = rng.pick(['GET', 'PUT', 'POST', 'DELETE', 'HEAD']);
  const path = '/' + bucket + '/' + uriEncode(key, true);
  const skewMs = Math.floor((rng.next() * 2 - 1) * 14 * 60 * 1000);
  return {
    accessKeyId,
    secret,
    presigned,
    signingDate: new Date(NOW + skewMs),
    request: new HttpRequest({ method, protocol: 'http:', hostname: 'h', path, query, headers }),
  };
}

async function sign(c: Case): Promise<HttpRequest> {
  const signer = smithySigner(c.accessKeyId, c.secret);
  if (c.presigned) {
    return (await signer.presign(c.request, {
      signingDate: c.signingDate,
      expiresIn: 3600,
    })) as HttpRequest;
  }
  return (await signer.sign(c.request, { signingDate: c.signingDate })) as HttpRequest;
}

function replaceChar(rng: Random, text: string, alphabet: readonly string[]): string {
  const chars = [...text];
  if (chars.length === 0) return rng.pick(alphabet);
  const i = rng.int(chars.length);
  let next = rng.pick(alphabet);
  while (next === chars[i]) next = rng.pick(alphabet);
  chars[i] = next;
  return chars.join('');
}

const MUTATION_ALPHABET = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'];

/** Query parameters whose change must break the signature (not auth fields, not the payload mode). */
function mutableParam(p: { name: string }): boolean {
  return !p.name.toLowerCase().startsWith('x-amz-');
}

/** One semantic single-character mutation of a signed request, described for the failure message. */
function mutate(rng: Random, signed: SignedRequest, presigned: boolean): [string, SignedRequest] {
  const kinds = ['method', 'path', 'signature', 'header'];
  if (signed.query.some(mutableParam)) kinds.push('query');
  const kind = rng.pick(kinds);
  switch (kind) {
    case 'method': {
      const method = rng.pick(
        ['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH'].filter((m) => m !== signed.method),
      );
      return [`method -> ${method}`, { ...signed, method }];
    }
    case 'path': {
      const segments = signed.rawPath.split('/');
      const i = 1 + rng.int(segments.length - 1);
      segments[i] = uriEncode(
        replaceChar(rng, percentDecode(segments[i]!, false), MUTATION_ALPHABET),
        false,
      );
      const rawPath = segments.join('/');
      return [`path -> ${rawPath}`, { ...signed, rawPath }];
    }
    case 'query': {
      const candidates = signed.query
        .map((p, i) => [p, i] as const)
        .filter(([p]) => mutableParam(p));
      const [p, i] = rng.pick(candidates);
      const query = [...signed.query];
      const which = rng.int(2) === 0 ? 'name' : 'value';
      const changed =
        which === 'name'
          ? { ...p, name: replaceChar(rng, p.name, MUTATION_ALPHABET) }
          : { ...p, value: replaceChar(rng, p.value, MUTATION_ALPHABET) };
      query[i] = changed;
      return [
        `query ${which} ${JSON.stringify(p)} -> ${JSON.stringify(changed)}`,
        { ...signed, query },
      ];
    }
    case 'signature': {
      if (presigned) {
        const query = signed.query.map((p) =>
          p.name === 'X-Amz-Signature'
            ? { ...p, value: replaceChar(rng, p.value, [...'0123456789abcdef']) }
            : p,
        );
        return ['presigned signature', { ...signed, query }];
      }
      const auth = signed.headers.authorization as string[];
      const sigAt = auth[0]!.indexOf('Signature=') + 'Signature='.length;
      const sig = replaceChar(rng, auth[0]!.slice(sigAt), [...'0123456789abcdef']);
      return [
        'header signature',
        {
          ...signed,
          headers: { ...signed.headers, authorization: [auth[0]!.slice(0, sigAt) + sig] },
        },
      ];
    }
    default: {
      const signedList = presigned
        ? signed.query.find((p) => p.name === 'X-Amz-SignedHeaders')!.value.split(';')
        : /SignedHeaders=([^,]+)/
            .exec((signed.headers.authorization as string[])[0]!)![1]!
            .split(';');
      const name = rng.pick(
        signedList.filter((n) => n !== 'x-amz-date' && n !== 'x-amz-content-sha256'),
      );
      const old = (signed.headers[name] as string[])[0]!;
      const folded = canonicalHeaderValue(old);
      const value = replaceChar(rng, folded, MUTATION_ALPHABET);
      return [
        `header ${name}: ${JSON.stringify(old)} -> ${JSON.stringify(value)}`,
        { ...signed, headers: { ...signed.headers, [name]: [value] } },
      ];
    }
  }
}

describe('60 gateway auth: differential against @smithy/signature-v4', function () {
  const count = LONG ? 20000 : 3000;

  for (const presigned of [false, true]) {
    const form = presigned ? 'presigned URLs' : 'Authorization headers';
    it(`accepts ${count} random ${form} and rejects one single-character mutation of each`, async () => {
      const rng = makeRandom(form);
      let accepted = 0;
      let rejected = 0;
      for (let n = 0; n < count; n++) {
        const c = randomCase(rng, presigned);
        const signed = toSignedRequest(await sign(c));
        const verifier = new SigV4Verifier({
          credentials: new StaticCredentials([
            { accessKeyId: c.accessKeyId, secretAccessKey: c.secret },
          ]),
          now: () => NOW,
        });
        try {
          const result = verifier.verify(signed);
          assert.equal(result.accessKeyId, c.accessKeyId);
          assert.equal(result.mode, presigned ? 'presigned' : 'header');
        } catch (error) {
          assert.fail(
            `case ${n} (seed ${rng.seed}) rejected: ${String(error)}\n${JSON.stringify(signed)}`,
          );
        }
        accepted++;
        const [description, mutated] = mutate(rng, signed, presigned);
        expectS3Error(() => verifier.verify(mutated), 'SignatureDoesNotMatch', 403);
        void description;
        rejected++;
      }
      assert.equal(accepted, count);
      assert.equal(rejected, count);
    });
  }
});

// ---------------------------------------------------------------------------

describe('60 gateway auth: negative rules', () => {
  const base = new HttpRequest({
    method: 'PUT',
    protocol: 'http:',
    hostname: '127.0.0.1',
    path: '/bucket-a/key',
    headers: {
      host: '127.0.0.1:9000',
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    },
  });
  const creds = new StaticCredentials([
    { accessKeyId: 'alice', secretAccessKey: 'alice-secret' },
    { accessKeyId: 'bob', secretAccessKey: 'bob-secret' },
  ]);
  const at = (ms: number, region?: string) =>
    new SigV4Verifier({ credentials: creds, now: () => ms, ...(region ? { region } : {}) });
  const headerSigned = async (
    date: number,
    req = base,
    who = 'alice',
    secret = 'alice-secret',
    region = 'us-east-1',
  ) =>
    toSignedRequest(
      (await smithySigner(who, secret, region).sign(req, {
        signingDate: new Date(date),
      })) as HttpRequest,
    );
  const presigned = async (date: number, expiresIn = 3600, req = base) =>
    toSignedRequest(
      (await smithySigner('alice', 'alice-secret').presign(req, {
        signingDate: new Date(date),
        expiresIn,
      })) as HttpRequest,
    );
  const minute = 60_000;

  it('accepts skew of 14:59 and refuses 15:01 in both directions, for headers', async () => {
    for (const offset of [
      -(14 * minute + 59_000),
      14 * minute + 59_000,
      15 * minute,
      -15 * minute,
    ]) {
      at(NOW).verify(await headerSigned(NOW + offset));
    }
    for (const offset of [-(15 * minute + 1000), 15 * minute + 1000]) {
      const req = await headerSigned(NOW + offset);
      expectS3Error(() => at(NOW).verify(req), 'RequestTimeTooSkewed', 403);
    }
  });

  it('refuses a presigned URL dated more than 15 minutes ahead, accepts 14:59 ahead', async () => {
    at(NOW).verify(await presigned(NOW + 14 * minute + 59_000));
    const future = await presigned(NOW + 15 * minute + 1000);
    expectS3Error(() => at(NOW).verify(future), 'RequestTimeTooSkewed', 403);
  });

  it('expires presigned URLs after X-Amz-Expires seconds and bounds Expires to 1..604800', async () => {
    const url = await presigned(NOW, 60);
    at(NOW + 60_000).verify(url);
    expectS3Error(() => at(NOW + 61_000).verify(url), 'AccessDenied', 403, 'Request has expired');
    const week = await presigned(NOW, 604800);
    at(NOW + 604800_000).verify(week);
    const setExpires = (r: SignedRequest, v: string): SignedRequest => ({
      ...r,
      query: r.query.map((p) => (p.name === 'X-Amz-Expires' ? { ...p, value: v } : p)),
    });
    for (const bad of ['0', '604801', '-1', '1e3', '', '99999999']) {
      expectS3Error(
        () => at(NOW).verify(setExpires(url, bad)),
        'AuthorizationQueryParametersError',
        400,
        /X-Amz-Expires must be an integer in 1\.\.604800/,
      );
    }
  });

  it('answers InvalidAccessKeyId for an unknown key and SignatureDoesNotMatch for a wrong secret', async () => {
    const unknown = await headerSigned(NOW, base, 'carol', 'x');
    expectS3Error(() => at(NOW).verify(unknown), 'InvalidAccessKeyId', 403);
    const wrong = await headerSigned(NOW, base, 'bob', 'alice-secret');
    expectS3Error(() => at(NOW).verify(wrong), 'SignatureDoesNotMatch', 403);
    const ok = await headerSigned(NOW, base, 'bob', 'bob-secret');
    assert.equal(at(NOW).verify(ok).accessKeyId, 'bob');
  });

  it('refuses anonymous requests with AccessDenied', () => {
    expectS3Error(
      () => at(NOW).verify(request('GET', '/bucket/key', { host: 'h' })),
      'AccessDenied',
      403,
      'Anonymous access is forbidden for this operation',
    );
  });

  it('refuses an unsigned x-amz-copy-source or x-amz-meta-* added to a presigned PUT (CVE-2026-97731)', async () => {
    const url = await presigned(NOW);
    for (const extra of ['x-amz-copy-source', 'x-amz-meta-owner']) {
      expectS3Error(
        () =>
          at(NOW).verify({ ...url, headers: { ...url.headers, [extra]: ['other-bucket/secret'] } }),
        'AccessDenied',
        403,
        `There were headers present in the request which were not signed: ${extra}`,
      );
    }
  });

  it('refuses an unsigned x-amz-* header on header-signed requests too', async () => {
    const signed = await headerSigned(NOW);
    expectS3Error(
      () =>
        at(NOW).verify({ ...signed, headers: { ...signed.headers, 'x-amz-copy-source': ['b/k'] } }),
      'AccessDenied',
      403,
      /not signed: x-amz-copy-source/,
    );
  });

  it('requires host to be signed', async () => {
    const noHost = (await smithySigner('alice', 'alice-secret').sign(base, {
      signingDate: new Date(NOW),
      unsignableHeaders: new Set(['host']),
    })) as HttpRequest;
    expectS3Error(
      () => at(NOW).verify(toSignedRequest(noHost)),
      'AuthorizationHeaderMalformed',
      400,
      /SignedHeaders must include 'host'/,
    );
  });

  it('checks the credential scope: day, service, terminator and a configured region', async () => {
    const signed = await headerSigned(NOW);
    const auth = (signed.headers.authorization as string[])[0]!;
    const withCredential = (from: string, to: string): SignedRequest => ({
      ...signed,
      headers: { ...signed.headers, authorization: [auth.replace(from, to)] },
    });
    expectS3Error(
      () => at(NOW).verify(withCredential('/20261122/', '/20261121/')),
      'AuthorizationHeaderMalformed',
      400,
      /credential scope date '20261121' is not the request day '20261122'/,
    );
    expectS3Error(
      () => at(NOW).verify(withCredential('/s3/', '/ec2/')),
      'AuthorizationHeaderMalformed',
      400,
      /service must be 's3', got 'ec2'/,
    );
    expectS3Error(
      () => at(NOW).verify(withCredential('/aws4_request', '/aws5_request')),
      'AuthorizationHeaderMalformed',
      400,
      /must end with 'aws4_request'/,
    );
    expectS3Error(
      () => at(NOW, 'eu-west-1').verify(signed),
      'AuthorizationHeaderMalformed',
      400,
      /the region 'us-east-1' is wrong; expecting 'eu-west-1'/,
    );
    const other = await headerSigned(NOW, base, 'alice', 'alice-secret', 'garage');
    assert.equal(at(NOW).verify(other).region, 'garage');
  });

  it('refuses header and query auth together, repeated auth fields and SigV2', async () => {
    const signed = await headerSigned(NOW);
    const url = await presigned(NOW);
    expectS3Error(
      () =>
        at(NOW).verify({
          ...url,
          headers: { ...url.headers, authorization: signed.headers.authorization! },
        }),
      'InvalidArgument',
      400,
      /Only one auth mechanism allowed/,
    );
    const sig = url.query.find((p) => p.name === 'X-Amz-Signature')!;
    expectS3Error(
      () => at(NOW).verify({ ...url, query: [...url.query, sig] }),
      'AuthorizationQueryParametersError',
      400,
      /X-Amz-Signature given more than once/,
    );
    expectS3Error(
      () => at(NOW).verify({ ...url, query: [...url.query, { ...sig, name: 'x-amz-signature' }] }),
      'AuthorizationQueryParametersError',
      400,
      /given more than once/,
    );
    const auth = (signed.headers.authorization as string[])[0]!;
    expectS3Error(
      () =>
        at(NOW).verify({ ...signed, headers: { ...signed.headers, authorization: [auth, auth] } }),
      'AuthorizationHeaderMalformed',
      400,
      /more than one Authorization header/,
    );
    expectS3Error(
      () =>
        at(NOW).verify({
          ...signed,
          headers: {
            ...signed.headers,
            authorization: [auth.replace(', Signature=', ', Signature=00, Signature=')],
          },
        }),
      'AuthorizationHeaderMalformed',
      400,
      /Signature given twice/,
    );
    expectS3Error(
      () =>
        at(NOW).verify(
          request('GET', '/b/k', { host: 'h', authorization: 'AWS alice:c2lnbmF0dXJl' }),
        ),
      'InvalidRequest',
      400,
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    );
    expectS3Error(
      () =>
        at(NOW).verify(
          request('GET', '/b/k?AWSAccessKeyId=alice&Expires=1&Signature=x', { host: 'h' }),
        ),
      'InvalidRequest',
      400,
      /SigV2 presigned URL; boto3 makes SigV4 ones with Config\(signature_version='s3v4'\)/,
    );
  });

  it('requires a valid x-amz-content-sha256 and x-amz-date on header-signed requests', async () => {
    const signed = await headerSigned(NOW);
    const without = { ...signed.headers };
    delete without['x-amz-content-sha256'];
    expectS3Error(
      () => at(NOW).verify({ ...signed, headers: without }),
      'InvalidRequest',
      400,
      'Missing required header for this request: x-amz-content-sha256',
    );
    const noDate = { ...signed.headers };
    delete noDate['x-amz-date'];
    expectS3Error(() => at(NOW).verify({ ...signed, headers: noDate }), 'AccessDenied', 403);
    const badHash = await headerSigned(
      NOW,
      new HttpRequest({
        ...base,
        headers: { ...base.headers, 'x-amz-content-sha256': 'NOT-A-HASH' },
      }),
    );
    expectS3Error(
      () => at(NOW).verify(badHash),
      'InvalidArgument',
      400,
      /x-amz-content-sha256 must be/,
    );
    const upper = await headerSigned(
      NOW,
      new HttpRequest({
        ...base,
        headers: { ...base.headers, 'x-amz-content-sha256': 'AB'.repeat(32) },
      }),
    );
    expectS3Error(() => at(NOW).verify(upper), 'InvalidArgument', 400);
  });

  it('keeps presigned checksum parameters in the signature but reports no payload checksum from them', async () => {
    const req = new HttpRequest({
      ...base,
      query: {
        'x-amz-checksum-crc32': 'AAAAAA==',
        'x-amz-sdk-checksum-algorithm': 'CRC32',
        'x-id': 'PutObject',
      },
    });
    const url = await presigned(NOW, 3600, req);
    const result = at(NOW).verify(url);
    assert.equal(result.payloadHash, 'UNSIGNED-PAYLOAD');
    const tampered = {
      ...url,
      query: url.query.map((p) =>
        p.name === 'x-amz-checksum-crc32' ? { ...p, value: 'AAAAAB==' } : p,
      ),
    };
    expectS3Error(() => at(NOW).verify(tampered), 'SignatureDoesNotMatch', 403);
  });

  it('exposes the seed signature and signing key for chunk verification', async () => {
    const signed = await headerSigned(NOW);
    const result = at(NOW).verify(signed);
    const auth = (signed.headers.authorization as string[])[0]!;
    assert.equal(result.signature, auth.slice(-64));
    assert.equal(result.amzDate, '20261122T120000Z');
    assert.deepEqual(
      result.signingKey,
      deriveSigningKey('alice-secret', '20261122', 'us-east-1', 's3'),
    );
  });
});

describe('60 gateway auth: credentials providers', () => {
  it('serves several users and rejects malformed or repeated entries', () => {
    const c = new StaticCredentials([
      { accessKeyId: 'a', secretAccessKey: '1' },
      { accessKeyId: 'b', secretAccessKey: '2' },
    ]);
    assert.equal(c.secretFor('a'), '1');
    assert.equal(c.secretFor('b'), '2');
    assert.equal(c.secretFor('c'), undefined);
    assert.throws(() => new StaticCredentials([{ accessKeyId: 'a/b', secretAccessKey: '1' }]), {
      code: 'ERR_INVALID_ARG_VALUE',
      message: 'credentials[0].accessKeyId must be 1..128 characters of [A-Za-z0-9._~+-]',
    });
    assert.throws(() => new StaticCredentials([{ accessKeyId: 'a', secretAccessKey: '' }]), {
      code: 'ERR_INVALID_ARG_VALUE',
      message: 'credentials[0].secretAccessKey must be a non-empty string',
    });
    assert.throws(
      () =>
        new StaticCredentials([
          { accessKeyId: 'a', secretAccessKey: '1' },
          { accessKeyId: 'a', secretAccessKey: '2' },
        ]),
      { code: 'ERR_INVALID_ARG_VALUE', message: "credentials[1].accessKeyId 'a' is listed twice" },
    );
  });

  it('reads TESSERA_* first, then AWS_*, and refuses half a pair', () => {
    assert.equal(credentialsFromEnv({}), undefined);
    assert.equal(
      credentialsFromEnv({
        TESSERA_ACCESS_KEY: 't',
        TESSERA_SECRET_KEY: 's',
        AWS_ACCESS_KEY_ID: 'x',
        AWS_SECRET_ACCESS_KEY: 'y',
      })!.secretFor('t'),
      's',
    );
    assert.equal(
      credentialsFromEnv({ AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' })!.secretFor('x'),
      'y',
    );
    assert.throws(() => credentialsFromEnv({ TESSERA_ACCESS_KEY: 't' }), {
      code: 'ERR_INVALID_ARG_VALUE',
      message: 'TESSERA_ACCESS_KEY and TESSERA_SECRET_KEY must be set together',
    });
  });

  it('reads a JSON file of users', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-creds-'));
    const file = join(dir, 'users.json');
    writeFileSync(
      file,
      JSON.stringify({
        credentials: [
          { accessKeyId: 'u1', secretAccessKey: 's1' },
          { accessKeyId: 'u2', secretAccessKey: 's2' },
        ],
      }),
    );
    const c = credentialsFromFile(file);
    assert.equal(c.size, 2);
    assert.equal(c.secretFor('u2'), 's2');
    writeFileSync(file, '[]');
    assert.throws(() => credentialsFromFile(file), {
      code: 'ERR_INVALID_ARG_VALUE',
      message: `credentials file ${file} must hold a non-empty array of {accessKeyId, secretAccessKey}`,
    });
    writeFileSync(file, '{');
    assert.throws(() => credentialsFromFile(file), {
      code: 'ERR_INVALID_ARG_VALUE',
      message: new RegExp(`^credentials file ${file} is not readable JSON`),
    });
  });
});
