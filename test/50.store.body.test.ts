import { strict as assert } from 'node:assert';
import { Readable } from 'node:stream';
import { TesseraError } from '../lib/errors';
import {
  bodyChunks,
  knownLength,
  readBody,
  rechunk,
  validateBody,
  type Body,
} from '../lib/store/body';

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

async function* fromArray(parts: Buffer[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield part;
}

const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

function shapes(): [string, () => Body][] {
  return [
    ['Buffer', () => bytes],
    ['Uint8Array', () => new Uint8Array(bytes)],
    ['string', () => bytes.toString('latin1')],
    ['Readable', () => Readable.from([bytes.subarray(0, 300), bytes.subarray(300)])],
    [
      'web ReadableStream',
      () =>
        Readable.toWeb(
          Readable.from([bytes.subarray(0, 10), bytes.subarray(10)]),
        ) as ReadableStream<Uint8Array>,
    ],
    ['AsyncIterable', () => fromArray([bytes.subarray(0, 999), bytes.subarray(999)])],
  ];
}

describe('50 store: bodies of every accepted shape', () => {
  for (const [name, make] of shapes()) {
    it(`${name}: reads back the exact bytes`, async () => {
      const expected = name === 'string' ? Buffer.from(bytes.toString('latin1'), 'utf8') : bytes;
      assert.deepEqual(await readBody(make()), expected);
    });
  }

  it('knows the length of in-memory bodies only', () => {
    assert.equal(knownLength(bytes), 1000);
    assert.equal(knownLength('é'), 2);
    assert.equal(knownLength(Readable.from([bytes])), undefined);
  });

  it('rejects other types with ERR_INVALID_ARG_TYPE', () => {
    for (const bad of [null, 42, { length: 3 }, undefined]) {
      assert.throws(
        () => validateBody(bad),
        (e: unknown) => e instanceof TesseraError && e.code === 'ERR_INVALID_ARG_TYPE',
      );
    }
  });

  it('rejects streams that yield non-bytes', async () => {
    await assert.rejects(
      readBody(fromArray([42 as unknown as Buffer])),
      (e: unknown) =>
        e instanceof TesseraError &&
        e.code === 'ERR_INVALID_ARG_TYPE' &&
        /yielded a number/.test(e.message),
    );
  });

  it('stops with EntityTooLarge past maxBytes, for in-memory and streamed bodies', async () => {
    for (const body of [bytes, Readable.from([bytes])] as Body[]) {
      await assert.rejects(
        readBody(body, { maxBytes: 999 }),
        (e: unknown) => e instanceof TesseraError && e.code === 'EntityTooLarge',
      );
    }
    assert.equal((await readBody(bytes, { maxBytes: 1000 })).length, 1000);
  });

  it('aborts with AbortError and destroys a Node stream source', async () => {
    const controller = new AbortController();
    const source = new Readable({ read() {} });
    source.push(bytes);
    const reading = collect(bodyChunks(source, { signal: controller.signal }));
    setImmediate(() => controller.abort(new Error('user cancelled')));
    await assert.rejects(reading, (e: unknown) => {
      assert.ok(e instanceof TesseraError);
      assert.equal(e.name, 'AbortError');
      assert.equal(e.code, 'ABORT_ERR');
      assert.equal((e.cause as Error).message, 'user cancelled');
      return true;
    });
    assert.equal(source.destroyed, true);
  });

  it('an already-aborted signal rejects before reading anything', async () => {
    let pulled = false;
    async function* lazy() {
      pulled = true;
      yield bytes;
    }
    await assert.rejects(
      readBody(lazy(), { signal: AbortSignal.abort() }),
      (e: unknown) => (e as TesseraError).code === 'ABORT_ERR',
    );
    assert.equal(pulled, false);
  });

  it('pulls with backpressure: nothing is read ahead of the consumer', async () => {
    let produced = 0;
    async function* counting() {
      for (let i = 0; i < 5; i++) {
        produced++;
        yield Buffer.alloc(10, i);
      }
    }
    const iterator = bodyChunks(counting())[Symbol.asyncIterator]();
    await iterator.next();
    assert.equal(produced, 1);
    await iterator.next();
    assert.equal(produced, 2);
    await iterator.return?.(undefined);
  });

  describe('rechunk', () => {
    it('cuts into exact sizes and keeps every byte in order', async () => {
      for (const size of [1, 7, 64, 999, 1000, 1001, 4096]) {
        const parts = [bytes.subarray(0, 3), bytes.subarray(3, 500), bytes.subarray(500)];
        const pieces = await collect(rechunk(fromArray(parts), size));
        assert.deepEqual(Buffer.concat(pieces), bytes);
        pieces.slice(0, -1).forEach((p) => assert.equal(p.length, size));
        assert.ok(pieces.at(-1)!.length <= size && pieces.at(-1)!.length > 0);
      }
    });

    it('hands out views (no copy) when an input holds whole pieces', async () => {
      const [first] = await collect(rechunk(fromArray([bytes]), 100));
      assert.equal(first!.buffer, bytes.buffer);
    });

    it('rejects a non-positive size', async () => {
      await assert.rejects(
        collect(rechunk(fromArray([bytes]), 0)),
        (e: unknown) => (e as TesseraError).code === 'ERR_OUT_OF_RANGE',
      );
    });
  });
});
