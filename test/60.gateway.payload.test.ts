import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { type AddressInfo } from 'node:net';
import { createServer, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { crc32 as zlibCrc32 } from 'node:zlib';
import {
  PutObjectCommand,
  S3Client,
  type ChecksumAlgorithm as SdkChecksumAlgorithm,
} from '@aws-sdk/client-s3';
import { StaticCredentials } from '../lib/gateway/auth/credentials';
import { deriveSigningKey } from '../lib/gateway/auth/signing_key';
import { SigV4Verifier } from '../lib/gateway/auth/sigv4';
import { S3Error } from '../lib/gateway/errors';
import {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  createChecksum,
  decodeChecksumValue,
} from '../lib/gateway/payload/checksums';
import {
  crc32Fallback,
  crc32cFallback,
  crc64nvmeFallback,
  fallbackChecksumFunctions,
} from '../lib/gateway/payload/checksums_fallback';
import {
  PayloadDecoder,
  type PayloadDecoderOptions,
  type PayloadResult,
  storedContentEncoding,
} from '../lib/gateway/payload/decoder';
import { parseQuery, splitTarget } from '../lib/gateway/request/uri';
import { LONG, awsChunked, expectThrow, makeRandom } from './60.gateway.fixtures';

const SK = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const DOC_DATE = '20130524T000000Z';
const DOC_SCOPE = '20130524/us-east-1/s3/aws4_request';
const DOC_KEY = deriveSigningKey(SK, '20130524', 'us-east-1', 's3');
const DOC_SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';

type Auth = PayloadDecoderOptions['auth'];
const unsignedAuth = (payloadHash: string): Auth => ({
  payloadHash,
  signingKey: DOC_KEY,
  amzDate: DOC_DATE,
  scope: DOC_SCOPE,
  signature: DOC_SEED,
});

interface Outcome {
  output: Buffer;
  ended: boolean;
  error: unknown;
  result: PayloadResult | undefined;
  verifiedError: unknown;
}

/** Feeds `body` in pieces of the given sizes and records what a consumer saw. */
async function run(
  options: PayloadDecoderOptions,
  body: Buffer,
  pieces: number[] = [body.length],
): Promise<Outcome> {
  const decoder = new PayloadDecoder(options);
  const out: Buffer[] = [];
  let ended = false;
  let error: unknown;
  decoder.on('data', (d: Buffer) => out.push(d));
  const done = new Promise<void>((resolve) => {
    decoder.on('end', () => {
      ended = true;
      resolve();
    });
    decoder.on('error', (e) => {
      error = e;
      resolve();
    });
  });
  let pos = 0;
  for (const size of pieces) {
    if (pos >= body.length) break;
    decoder.write(body.subarray(pos, pos + size));
    pos += size;
    if (error) break;
  }
  if (!error && pos < body.length) decoder.write(body.subarray(pos));
  if (!error) decoder.end();
  await done;
  let result: PayloadResult | undefined;
  let verifiedError: unknown;
  try {
    result = await decoder.verified;
  } catch (e) {
    verifiedError = e;
  }
  return { output: Buffer.concat(out), ended, error, result, verifiedError };
}

function assertRefused(
  outcome: Outcome,
  code: string,
  status: number,
  message?: string | RegExp,
  total?: number,
) {
  assert.equal(outcome.ended, false, 'a refused body must never end');
  assert.ok(outcome.error instanceof S3Error, `expected S3Error, got ${String(outcome.error)}`);
  assert.equal(outcome.error.code, code, outcome.error.message);
  assert.equal(outcome.error.statusCode, status);
  if (typeof message === 'string') assert.equal(outcome.error.message, message);
  else if (message) assert.match(outcome.error.message, message);
  assert.equal(outcome.verifiedError, outcome.error);
  if (total !== undefined && total > 0)
    assert.ok(outcome.output.length < total, 'the last bytes are held back');
}

function checksumOf(algorithm: ChecksumAlgorithm, data: Buffer): string {
  const c = createChecksum(algorithm, fallbackChecksumFunctions);
  c.update(data);
  return c.digest().toString('base64');
}

describe('60 gateway payload: checksum functions', () => {
  it('match the standard check values for "123456789"', () => {
    const check = Buffer.from('123456789');
    assert.equal(crc32Fallback(check), 0xcbf43926);
    assert.equal(crc32cFallback(check), 0xe3069283);
    assert.equal(crc64nvmeFallback(check), 0xae8b14860a799888n);
    assert.equal(checksumOf('CRC32', Buffer.alloc(0)), 'AAAAAA==');
    assert.equal(checksumOf('SHA256', check), createHash('sha256').update(check).digest('base64'));
  });

  it('are incremental: any split gives the one-shot value (seeded)', () => {
    const rng = makeRandom('crc splits');
    for (let n = 0; n < (LONG ? 2000 : 200); n++) {
      const data = rng.bytes(rng.int(300));
      const cut = rng.int(data.length + 1);
      const a = data.subarray(0, cut);
      const b = data.subarray(cut);
      assert.equal(crc32cFallback(b, crc32cFallback(a)), crc32cFallback(data));
      assert.equal(crc64nvmeFallback(b, crc64nvmeFallback(a)), crc64nvmeFallback(data));
      assert.equal(crc32Fallback(b, crc32Fallback(a)), zlibCrc32(data));
    }
  });

  it('agree with a bitwise reference on random data (slicing-by-8 vs one bit at a time)', () => {
    const rng = makeRandom('crc reference');
    const bitwise32c = (data: Buffer) => {
      let c = 0xffffffff;
      for (const byte of data) {
        c ^= byte;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      }
      return ~c >>> 0;
    };
    const bitwise64 = (data: Buffer) => {
      let c = 0xffffffffffffffffn;
      for (const byte of data) {
        c ^= BigInt(byte);
        for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ 0x9a6c9329ac4bc9b5n : c >> 1n;
      }
      return ~c & 0xffffffffffffffffn;
    };
    for (let n = 0; n < 50; n++) {
      const data = rng.bytes(rng.int(200));
      assert.equal(crc32cFallback(data), bitwise32c(data));
      assert.equal(crc64nvmeFallback(data), bitwise64(data));
    }
  });

  it('decode only canonical base64 of the algorithm size', () => {
    assert.deepEqual(decodeChecksumValue('CRC32', 'AAAAAA=='), Buffer.alloc(4));
    for (const bad of ['AAAAAA', 'AAAAAAA=', 'AAAAAAAA', '!!!!!!==', '']) {
      expectThrow(
        () => decodeChecksumValue('CRC32', bad),
        'InvalidRequest',
        400,
        'Value for x-amz-checksum-crc32 header is invalid.',
      );
    }
    expectThrow(() => decodeChecksumValue('CRC64NVME', 'AAAAAA=='), 'InvalidRequest', 400);
  });
});

describe('60 gateway payload: plain bodies', () => {
  const data = Buffer.from('Welcome to Amazon S3.');
  const sha = createHash('sha256').update(data).digest('hex');
  const headers = (extra: Record<string, string> = {}) => ({
    'content-length': String(data.length),
    ...extra,
  });

  it('passes a body whose hex SHA-256 matches, with its MD5 and length', async () => {
    const o = await run({ auth: unsignedAuth(sha), headers: headers() }, data, [3, 5, 100]);
    assert.equal(o.ended, true);
    assert.deepEqual(o.output, data);
    assert.equal(o.result!.length, data.length);
    assert.deepEqual(o.result!.md5, createHash('md5').update(data).digest());
    assert.equal(o.result!.checksum, undefined);
  });

  it('refuses a SHA-256 mismatch before releasing the last bytes', async () => {
    const o = await run(
      { auth: unsignedAuth(sha.replace(/^./, sha[0] === '0' ? '1' : '0')), headers: headers() },
      data,
      [4, 4, 4, 4, 4, 4],
    );
    assertRefused(o, 'XAmzContentSHA256Mismatch', 400, undefined, data.length);
  });

  it('accepts UNSIGNED-PAYLOAD and checks Content-Length both ways', async () => {
    const ok = await run({ auth: unsignedAuth('UNSIGNED-PAYLOAD'), headers: headers() }, data);
    assert.deepEqual(ok.output, data);
    const short = await run(
      { auth: unsignedAuth('UNSIGNED-PAYLOAD'), headers: headers({ 'content-length': '22' }) },
      data,
    );
    assertRefused(
      short,
      'IncompleteBody',
      400,
      'You did not provide the number of bytes specified: expected 22, got 21.',
    );
    const long = await run(
      { auth: unsignedAuth('UNSIGNED-PAYLOAD'), headers: headers({ 'content-length': '20' }) },
      data,
    );
    assertRefused(long, 'IncompleteBody', 400, 'The body is longer than the declared 20 bytes.');
    expectThrow(
      () => new PayloadDecoder({ auth: unsignedAuth('UNSIGNED-PAYLOAD'), headers: {} }),
      'MissingContentLength',
      411,
    );
    expectThrow(
      () =>
        new PayloadDecoder({
          auth: unsignedAuth('UNSIGNED-PAYLOAD'),
          headers: headers(),
          length_bytes_max: 20,
        }),
      'EntityTooLarge',
      400,
    );
  });

  it('verifies Content-MD5 when sent and never requires it', async () => {
    const md5 = createHash('md5').update(data).digest('base64');
    const ok = await run(
      { auth: unsignedAuth('UNSIGNED-PAYLOAD'), headers: headers({ 'content-md5': md5 }) },
      data,
    );
    assert.equal(ok.ended, true);
    const bad = await run(
      {
        auth: unsignedAuth('UNSIGNED-PAYLOAD'),
        headers: headers({ 'content-md5': createHash('md5').update('x').digest('base64') }),
      },
      data,
    );
    assertRefused(
      bad,
      'BadDigest',
      400,
      'The Content-MD5 you specified did not match what we received.',
    );
    expectThrow(
      () =>
        new PayloadDecoder({
          auth: unsignedAuth('UNSIGNED-PAYLOAD'),
          headers: headers({ 'content-md5': 'abc' }),
        }),
      'InvalidDigest',
      400,
    );
  });

  for (const algorithm of CHECKSUM_ALGORITHMS) {
    it(`verifies x-amz-checksum-${algorithm.toLowerCase()} from a header (BadDigest on mismatch)`, async () => {
      const name = `x-amz-checksum-${algorithm.toLowerCase()}`;
      const value = checksumOf(algorithm, data);
      const ok = await run(
        { auth: unsignedAuth(sha), headers: headers({ [name]: value }) },
        data,
        [1, 1, 1],
      );
      assert.equal(ok.ended, true);
      assert.deepEqual(ok.result!.checksum, { algorithm, value, source: 'header' });
      const wrong = checksumOf(algorithm, Buffer.from('other'));
      const bad = await run(
        { auth: unsignedAuth(sha), headers: headers({ [name]: wrong }) },
        data,
        [7, 7, 7],
      );
      assertRefused(
        bad,
        'BadDigest',
        400,
        `The ${algorithm} you specified did not match the calculated checksum.`,
        data.length,
      );
    });
  }

  it('computes the checksum the SDK names without sending, and refuses contradictions', async () => {
    const o = await run(
      { auth: unsignedAuth(sha), headers: headers({ 'x-amz-sdk-checksum-algorithm': 'crc32c' }) },
      data,
    );
    assert.deepEqual(o.result!.checksum, {
      algorithm: 'CRC32C',
      value: checksumOf('CRC32C', data),
      source: 'computed',
    });
    expectThrow(
      () =>
        new PayloadDecoder({
          auth: unsignedAuth(sha),
          headers: headers({
            'x-amz-checksum-crc32': 'AAAAAA==',
            'x-amz-checksum-crc32c': 'AAAAAA==',
          }),
        }),
      'InvalidRequest',
      400,
      'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
    );
    expectThrow(
      () =>
        new PayloadDecoder({
          auth: unsignedAuth(sha),
          headers: headers({
            'x-amz-sdk-checksum-algorithm': 'CRC32',
            'x-amz-checksum-sha1': checksumOf('SHA1', data),
          }),
        }),
      'InvalidRequest',
      400,
      /names CRC32 but the request carries x-amz-checksum-sha1/,
    );
    expectThrow(
      () =>
        new PayloadDecoder({
          auth: unsignedAuth(sha),
          headers: headers({ 'x-amz-sdk-checksum-algorithm': 'MD5' }),
        }),
      'InvalidRequest',
      400,
      "Checksum algorithm provided is unsupported: 'MD5'.",
    );
    expectThrow(
      () =>
        new PayloadDecoder({
          auth: unsignedAuth(sha),
          headers: headers({ 'x-amz-checksum-xxhash3': 'AAAAAA==' }),
        }),
      'InvalidRequest',
      400,
    );
    expectThrow(
      () =>
        new PayloadDecoder({
          auth: unsignedAuth(sha),
          headers: headers({ 'x-amz-trailer': 'x-amz-checksum-crc32' }),
        }),
      'InvalidRequest',
      400,
      /x-amz-trailer is only allowed with a STREAMING-\*-TRAILER/,
    );
  });

  it('takes checksums from headers only: presigned query parameters are ignored', async () => {
    // A presigned PUT URL from the SDK carries x-amz-checksum-crc32=AAAAAA== (the CRC of nothing) in its query;
    // the decoder never sees the query, so a non-empty body passes.
    const o = await run({ auth: unsignedAuth('UNSIGNED-PAYLOAD'), headers: headers() }, data);
    assert.equal(o.ended, true);
    assert.equal(o.result!.checksum, undefined);
  });

  it('strips aws-chunked from the stored Content-Encoding', () => {
    assert.equal(storedContentEncoding('aws-chunked'), undefined);
    assert.equal(storedContentEncoding('aws-chunked,gzip'), 'gzip');
    assert.equal(storedContentEncoding('gzip, AWS-CHUNKED, br'), 'gzip, br');
    assert.equal(storedContentEncoding(undefined), undefined);
  });
});

describe('60 gateway payload: aws-chunked', () => {
  const docSigned = { key: DOC_KEY, date: DOC_DATE, scope: DOC_SCOPE, seed: DOC_SEED };

  it('verifies the AWS documentation streaming example (64 KiB + 1 KiB of "a", known chunk signatures)', async () => {
    const data = Buffer.alloc(66560, 'a');
    const body = awsChunked(data, { chunkSize: 65536, signed: docSigned });
    const text = body.toString('latin1');
    assert.ok(
      text.startsWith(
        '10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n',
      ),
    );
    assert.ok(
      text.includes(
        '400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n',
      ),
    );
    assert.ok(
      text.endsWith(
        '0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n',
      ),
    );
    assert.equal(body.length, 66824);
    const o = await run(
      {
        auth: unsignedAuth('STREAMING-AWS4-HMAC-SHA256-PAYLOAD'),
        headers: { 'x-amz-decoded-content-length': '66560', 'content-encoding': 'aws-chunked' },
      },
      body,
      [1000, 1, 1, 30000, 7],
    );
    assert.equal(o.ended, true, String(o.error));
    assert.deepEqual(o.output, data);
  });

  it('refuses a tampered chunk, a tampered chunk signature and a missing signature', async () => {
    const data = Buffer.alloc(66560, 'a');
    const body = awsChunked(data, { chunkSize: 65536, signed: docSigned });
    const opts = {
      auth: unsignedAuth('STREAMING-AWS4-HMAC-SHA256-PAYLOAD'),
      headers: { 'x-amz-decoded-content-length': '66560' },
    };
    const tampered = Buffer.from(body);
    tampered[66000] = 0x62;
    tampered[100] = 0x62;
    assertRefused(
      await run(opts, tampered, [4096]),
      'SignatureDoesNotMatch',
      403,
      /chunk signature/,
    );
    const badSig = Buffer.from(body.toString('latin1').replace('ad80c730', 'ad80c731'), 'latin1');
    assertRefused(await run(opts, badSig), 'SignatureDoesNotMatch', 403);
    const badFinal = Buffer.from(body.toString('latin1').replace('b6c6ea8a', 'b6c6ea8b'), 'latin1');
    assertRefused(await run(opts, badFinal), 'SignatureDoesNotMatch', 403, undefined, data.length);
    const unsignedBody = awsChunked(data, { chunkSize: 65536 });
    assertRefused(
      await run(opts, unsignedBody),
      'InvalidRequest',
      400,
      'The aws-chunked body is malformed: a chunk has no chunk-signature.',
    );
  });

  it('refuses signed chunks under 8 KiB before the last one (InvalidChunkSizeError), but not unsigned ones', async () => {
    const data = Buffer.alloc(20000, 'q');
    const opts = {
      auth: unsignedAuth('STREAMING-AWS4-HMAC-SHA256-PAYLOAD'),
      headers: { 'x-amz-decoded-content-length': '20000' },
    };
    const ok = await run(opts, awsChunked(data, { chunkSize: 8192, signed: docSigned }));
    assert.equal(ok.ended, true, String(ok.error));
    const small = await run(opts, awsChunked(data, { chunkSize: 8191, signed: docSigned }));
    assertRefused(
      small,
      'InvalidChunkSizeError',
      403,
      'Only the last chunk is allowed to have a size less than 8192 bytes',
    );
    const unsigned = await run(
      {
        auth: unsignedAuth('STREAMING-UNSIGNED-PAYLOAD-TRAILER'),
        headers: { 'x-amz-decoded-content-length': '20000' },
      },
      awsChunked(data, { chunkSize: 7 }),
    );
    assert.equal(unsigned.ended, true, String(unsigned.error));
  });

  it('decodes STREAMING-UNSIGNED-PAYLOAD-TRAILER with every checksum, across random splits (seeded)', async () => {
    const rng = makeRandom('unsigned trailer splits');
    for (let n = 0; n < (LONG ? 400 : 60); n++) {
      const data = rng.bytes(rng.int(3000));
      const algorithm = rng.pick(CHECKSUM_ALGORITHMS);
      const name = `x-amz-checksum-${algorithm.toLowerCase()}`;
      const body = awsChunked(data, {
        chunkSize: 1 + rng.int(900),
        trailer: { name, value: checksumOf(algorithm, data) },
      });
      const pieces = Array.from({ length: 20 }, () => 1 + rng.int(200));
      const o = await run(
        {
          auth: unsignedAuth('STREAMING-UNSIGNED-PAYLOAD-TRAILER'),
          headers: { 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': name },
        },
        body,
        pieces,
      );
      assert.equal(o.ended, true, `seed ${rng.seed} case ${n}: ${String(o.error)}`);
      assert.deepEqual(o.output, data);
      assert.equal(o.result!.checksum!.source, 'trailer');
    }
  });

  it('refuses a wrong trailer checksum with BadDigest, holding back the end', async () => {
    const data = Buffer.from('hello trailer world');
    const body = awsChunked(data, {
      chunkSize: 5,
      trailer: { name: 'x-amz-checksum-crc32', value: checksumOf('CRC32', Buffer.from('x')) },
    });
    const o = await run(
      {
        auth: unsignedAuth('STREAMING-UNSIGNED-PAYLOAD-TRAILER'),
        headers: {
          'x-amz-decoded-content-length': String(data.length),
          'x-amz-trailer': 'x-amz-checksum-crc32',
        },
      },
      body,
      [3],
    );
    assertRefused(
      o,
      'BadDigest',
      400,
      'The CRC32 you specified did not match the calculated checksum.',
      data.length,
    );
  });

  it('verifies the signed trailer and refuses a tampered trailer or trailer signature', async () => {
    const data = Buffer.alloc(10000, 'z');
    const trailer = { name: 'x-amz-checksum-crc32c', value: checksumOf('CRC32C', data) };
    const opts = {
      auth: unsignedAuth('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'),
      headers: {
        'x-amz-decoded-content-length': '10000',
        'x-amz-trailer': 'x-amz-checksum-crc32c',
      },
    };
    const body = awsChunked(data, {
      chunkSize: 8192,
      signed: docSigned,
      trailer,
      signTrailer: true,
    });
    const ok = await run(opts, body, [100, 5000]);
    assert.equal(ok.ended, true, String(ok.error));
    assert.deepEqual(ok.output, data);
    assert.deepEqual(ok.result!.checksum, {
      algorithm: 'CRC32C',
      value: trailer.value,
      source: 'trailer',
    });

    // Same CRC, different trailer bytes: the trailer signature no longer matches.
    const spaced = Buffer.from(
      body
        .toString('latin1')
        .replace(`crc32c:${trailer.value}`, `crc32c:${trailer.value.replace(/.$/, 'A')}`),
      'latin1',
    );
    assertRefused(await run(opts, spaced), 'SignatureDoesNotMatch', 403, /trailer signature/);
    const unsignedTrailer = awsChunked(data, { chunkSize: 8192, signed: docSigned, trailer });
    assertRefused(
      await run(opts, unsignedTrailer),
      'MalformedTrailerError',
      400,
      'The trailer has no x-amz-trailer-signature.',
    );
  });

  it('refuses malformed framing and length mismatches with exact codes', async () => {
    const data = Buffer.from('0123456789');
    const headers = {
      'x-amz-decoded-content-length': '10',
      'x-amz-trailer': 'x-amz-checksum-crc32',
    };
    const auth = unsignedAuth('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    const good = awsChunked(data, {
      chunkSize: 4,
      trailer: { name: 'x-amz-checksum-crc32', value: checksumOf('CRC32', data) },
    }).toString('latin1');
    const cases: Array<[string, string, string, number, RegExp | string]> = [
      ['bad hex', good.replace(/^4/, 'g'), 'InvalidRequest', 400, /bad chunk header 'g'/],
      ['LF only', good.replace('\r\n', '\n'), 'InvalidRequest', 400, /does not end with CRLF/],
      [
        'data longer than size',
        good.replace('4\r\n0123', '3\r\n0123'),
        'InvalidRequest',
        400,
        /chunk data is longer than its declared size/,
      ],
      ['bytes after the end', good + 'x', 'InvalidRequest', 400, /unexpected bytes after the end/],
      [
        'truncated',
        good.slice(0, 20),
        'IncompleteBody',
        400,
        'The aws-chunked body ended before its final chunk.',
      ],
      [
        'chunk past declared length',
        good.replace('4\r\n0123', 'ff\r\n0123'),
        'IncompleteBody',
        400,
        /goes past x-amz-decoded-content-length/,
      ],
      [
        'undeclared trailer',
        good.replace('x-amz-checksum-crc32:', 'x-amz-checksum-sha1:'),
        'MalformedTrailerError',
        400,
        /x-amz-checksum-sha1 was not declared/,
      ],
      [
        'missing trailer',
        good.replace(/x-amz-checksum-crc32:[^\r]*\r\n/, ''),
        'MalformedTrailerError',
        400,
        /declared trailer x-amz-checksum-crc32 was not sent/,
      ],
      [
        'chunk signature in unsigned mode',
        good.replace(/^4/, '4;chunk-signature=' + '0'.repeat(64)),
        'InvalidRequest',
        400,
        /must not carry a chunk-signature/,
      ],
      ['huge line', 'f'.repeat(5000), 'InvalidRequest', 400, /longer than 4096 bytes/],
    ];
    for (const [label, body, code, status, message] of cases) {
      const o = await run({ auth, headers }, Buffer.from(body, 'latin1'), [7]);
      assert.equal(o.ended, false, label);
      assertRefused(o, code, status, message);
    }
    const short = await run(
      { auth, headers: { ...headers, 'x-amz-decoded-content-length': '11' } },
      Buffer.from(good, 'latin1'),
    );
    assertRefused(
      short,
      'IncompleteBody',
      400,
      'You did not provide the number of bytes specified: expected 11, got 10.',
    );
    expectThrow(
      () => new PayloadDecoder({ auth, headers: { 'x-amz-trailer': 'x-amz-checksum-crc32' } }),
      'MissingContentLength',
      411,
    );
  });
});

// ---------------------------------------------------------------------------

interface Captured {
  headers: IncomingMessage['headersDistinct'];
  outcome: Outcome | undefined;
}

describe('60 gateway payload: what @aws-sdk/client-s3 really sends', function () {
  const credentials = { accessKeyId: 'sdk-user', secretAccessKey: 'sdk-secret/+=' };
  const verifier = new SigV4Verifier({ credentials: new StaticCredentials([credentials]) });
  let captured: Captured[] = [];
  const server = createServer(async (req, res) => {
    const target = splitTarget(req.url ?? '/');
    const entry: Captured = { headers: req.headersDistinct, outcome: undefined };
    captured.push(entry);
    try {
      const auth = verifier.verify({
        method: req.method ?? 'GET',
        rawPath: target.path,
        query: parseQuery(target.query),
        headers: req.headersDistinct,
      });
      const decoder = new PayloadDecoder({ auth, headers: req.headersDistinct });
      const out: Buffer[] = [];
      decoder.on('data', (d: Buffer) => out.push(d));
      decoder.on('error', () => undefined); // surfaces through `verified`
      req.pipe(decoder);
      const result = await decoder.verified;
      entry.outcome = {
        output: Buffer.concat(out),
        ended: true,
        error: undefined,
        result,
        verifiedError: undefined,
      };
      res.writeHead(200, { etag: `"${result.md5!.toString('hex')}"` }).end();
    } catch (error) {
      const e = error instanceof S3Error ? error : new S3Error('InternalError');
      entry.outcome = {
        output: Buffer.alloc(0),
        ended: false,
        error,
        result: undefined,
        verifiedError: error,
      };
      res
        .writeHead(e.statusCode, { 'content-type': 'application/xml' })
        .end(`<Error><Code>${e.code}</Code><Message>${e.message}</Message></Error>`);
    }
  });
  let client: S3Client;
  let whenRequired: S3Client;

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const common = {
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials,
      maxAttempts: 1,
    };
    client = new S3Client(common);
    whenRequired = new S3Client({ ...common, requestChecksumCalculation: 'WHEN_REQUIRED' });
  });
  after(async () => {
    client.destroy();
    whenRequired.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    captured = [];
  });

  const body = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));

  it('Buffer body, default checksums: hex SHA-256 plus x-amz-checksum-crc32, verified', async () => {
    await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'dir/a b+c', Body: body }));
    const [c] = captured;
    assert.match(c!.headers['x-amz-content-sha256']![0]!, /^[0-9a-f]{64}$/);
    assert.equal(c!.outcome!.result!.checksum!.algorithm, 'CRC32');
    assert.equal(c!.outcome!.result!.checksum!.source, 'header');
    assert.deepEqual(c!.outcome!.output, body);
  });

  it('Readable body, default checksums: STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer', async () => {
    await client.send(
      new PutObjectCommand({
        Bucket: 'b',
        Key: 'stream',
        Body: Readable.from([body.subarray(0, 70000), body.subarray(70000)]),
        ContentLength: body.length,
      }),
    );
    const [c] = captured;
    assert.equal(c!.headers['x-amz-content-sha256']![0], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    assert.equal(c!.headers['content-encoding']![0], 'aws-chunked');
    assert.equal(c!.headers['x-amz-trailer']![0], 'x-amz-checksum-crc32');
    assert.equal(c!.headers['x-amz-decoded-content-length']![0], String(body.length));
    assert.equal(c!.outcome!.error, undefined, String(c!.outcome!.error));
    assert.equal(c!.outcome!.result!.checksum!.source, 'trailer');
    assert.deepEqual(c!.outcome!.output, body);
  });

  for (const algorithm of ['CRC32C', 'SHA1', 'SHA256', 'CRC64NVME'] as const) {
    it(`Readable body with ChecksumAlgorithm ${algorithm}: the trailer verifies`, async () => {
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: 'b',
            Key: 'k',
            Body: Readable.from([body]),
            ContentLength: body.length,
            ChecksumAlgorithm: algorithm as SdkChecksumAlgorithm,
          }),
        );
      } catch (error) {
        assert.fail(
          `SDK refused (${String(error)}); server saw ${String(captured[0]?.outcome?.error)}`,
        );
      }
      const [c] = captured;
      assert.equal(c!.outcome!.result!.checksum!.algorithm, algorithm);
      assert.equal(c!.outcome!.result!.checksum!.value, checksumOf(algorithm, body));
      assert.deepEqual(c!.outcome!.output, body);
    });
  }

  it("requestChecksumCalculation 'WHEN_REQUIRED': a Readable body goes as UNSIGNED-PAYLOAD without checksum", async () => {
    await whenRequired.send(
      new PutObjectCommand({
        Bucket: 'b',
        Key: 'k',
        Body: Readable.from([body]),
        ContentLength: body.length,
      }),
    );
    const [c] = captured;
    assert.equal(c!.headers['x-amz-content-sha256']![0], 'UNSIGNED-PAYLOAD');
    assert.equal(c!.outcome!.result!.checksum, undefined);
    assert.deepEqual(c!.outcome!.output, body);
  });

  it('a Buffer body with a wrong declared checksum is refused with BadDigest', async () => {
    await assert.rejects(
      client.send(
        new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: body, ChecksumCRC32: 'AAAAAA==' }),
      ),
      (e: Error) => e.name === 'BadDigest',
    );
  });
});
