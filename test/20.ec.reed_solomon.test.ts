import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReedSolomon } from '../lib/index';

const root = join(__dirname, '..');

// Randomized cases print their seed; TESSERA_SEED replays one.
const seed = BigInt(process.env.TESSERA_SEED ?? Date.now());
console.log(`    20.ec seed: TESSERA_SEED=${seed}`);

/** splitmix64, the generator the fixed vectors are defined with (docs/ec.md). */
class SplitMix64 {
  #state: bigint;
  constructor(state: bigint) {
    this.#state = BigInt.asUintN(64, state);
  }
  next(): bigint {
    this.#state = BigInt.asUintN(64, this.#state + 0x9e3779b97f4a7c15n);
    let z = this.#state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  }
  below(n: number): number {
    return Number(this.next() % BigInt(n));
  }
  /** Each 64-bit output little-endian, the last one truncated. */
  fill(out: Uint8Array): void {
    const words = new DataView(new ArrayBuffer(Math.ceil(out.length / 8) * 8));
    for (let i = 0; i < words.byteLength; i += 8) words.setBigUint64(i, this.next(), true);
    out.set(new Uint8Array(words.buffer, 0, out.length));
  }
}

/** FNV-1a 64 over the chunks, in two 32-bit halves (no BigInt per byte). */
function fnv1a64(chunks: Uint8Array[]): string {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) {
      lo = (lo ^ chunk[i]!) >>> 0;
      // h * (2^40 + 0x1b3) mod 2^64
      const t = lo * 0x1b3;
      const carry = Math.floor(t / 0x100000000);
      hi = (hi * 0x1b3 + ((lo << 8) >>> 0) + carry) >>> 0;
      lo = t >>> 0;
    }
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

/** A stripe whose shards start at odd offsets inside larger buffers. */
function makeStripe(
  rng: SplitMix64,
  count: number,
  length: number,
  fillFirst: number,
): Uint8Array[] {
  const shards: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const offset = rng.below(64);
    const shard = new Uint8Array(length + 64).subarray(offset, offset + length);
    if (i < fillFirst) rng.fill(shard);
    shards.push(shard);
  }
  return shards;
}

function copyStripe(shards: Uint8Array[]): Uint8Array[] {
  return shards.map((s) => Uint8Array.from(s));
}

function backends(k: number, m: number): ReedSolomon[] {
  const list = ReedSolomon.kernels().map((kernel) => new ReedSolomon(k, m, { kernel }));
  if (ReedSolomon.isal().available) list.push(new ReedSolomon(k, m, { backend: 'isal' }));
  return list;
}

const shapes: Array<[number, number]> = [
  [1, 1],
  [4, 2],
  [6, 3],
  [8, 4],
  [10, 4],
  [16, 4],
  [ReedSolomon.dataShardsMax, ReedSolomon.parityShardsMax],
];

describe('20 ec: ReedSolomon coding', () => {
  it('reads its limits and kernels from the addon', () => {
    assert.equal(ReedSolomon.dataShardsMax, 32);
    assert.equal(ReedSolomon.parityShardsMax, 16);
    assert.equal(ReedSolomon.shardCountMax, 48);
    assert.equal(ReedSolomon.shardBytesMax, 2 ** 30);
    const kernels = ReedSolomon.kernels();
    assert.equal(kernels[kernels.length - 1], 'scalar');
    const rs = new ReedSolomon(4, 2, { backend: 'builtin' });
    assert.equal(rs.backend, 'builtin');
    assert.equal(rs.kernel, kernels[0]);
    assert.equal(rs.dataShards, 4);
    assert.equal(rs.parityShards, 2);
  });

  it('every usable kernel (and ISA-L) matches the scalar oracle', () => {
    const rng = new SplitMix64(seed);
    const lengths = [
      ...Array.from({ length: 70 }, (_, i) => i + 1),
      127,
      128,
      129,
      1000,
      4097,
      65539,
    ];
    for (const [k, m] of shapes) {
      const oracle = new ReedSolomon(k, m, { kernel: 'scalar' });
      const codecs = backends(k, m);
      for (const length of lengths) {
        const expected = makeStripe(rng, k + m, length, k);
        oracle.encodeSync(expected);
        for (const rs of codecs) {
          const actual = makeStripe(rng, k + m, length, 0);
          for (let j = 0; j < k; j++) actual[j]!.set(expected[j]!);
          rs.encodeSync(actual);
          for (let r = k; r < k + m; r++) {
            assert.deepEqual(
              actual[r],
              expected[r],
              `${rs.kernel} ${k}+${m} length ${length} shard ${r}`,
            );
          }
        }
      }
    }
  });

  it('rebuilds every erasure pattern of up to m shards (4+2, 6+3, 8+4)', () => {
    const rng = new SplitMix64(seed + 1n);
    const classes: Array<[number, number]> = [
      [4, 2],
      [6, 3],
      [8, 4],
    ];
    for (const [k, m] of classes) {
      for (const rs of [
        new ReedSolomon(k, m),
        ...(ReedSolomon.isal().available ? [new ReedSolomon(k, m, { backend: 'isal' })] : []),
      ]) {
        const n = k + m;
        const stripe = makeStripe(rng, n, 333, k);
        rs.encodeSync(stripe);
        const original = copyStripe(stripe);
        let patterns = 0;
        for (let mask = 1; mask < 1 << n; mask++) {
          const missing: number[] = [];
          for (let i = 0; i < n; i++) if (mask & (1 << i)) missing.push(i);
          if (missing.length > m) continue;
          for (const i of missing) stripe[i]!.fill(0xa5);
          rs.reconstructSync(stripe, missing);
          for (let i = 0; i < n; i++)
            assert.deepEqual(stripe[i], original[i], `${rs.kernel} mask ${mask}`);
          patterns++;
        }
        assert.equal(patterns, n === 6 ? 21 : n === 9 ? 129 : 793);
      }
    }
  });

  it('matches the checked-in parity vectors on every backend', () => {
    const table = readFileSync(join(root, 'native/ec/testdata/parity_vectors.txt'), 'utf8');
    let checked = 0;
    for (const line of table.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const [k, m, length, vectorSeed, hash] = line.split(' ') as [
        string,
        string,
        string,
        string,
        string,
      ];
      const shapeK = Number(k);
      const shapeM = Number(m);
      const data = new SplitMix64(BigInt(vectorSeed));
      const shards = Array.from({ length: shapeK + shapeM }, () => new Uint8Array(Number(length)));
      for (const shard of shards.slice(0, shapeK)) data.fill(shard);
      for (const rs of backends(shapeK, shapeM)) {
        for (const shard of shards.slice(shapeK)) shard.fill(0);
        rs.encodeSync(shards);
        assert.equal(fnv1a64(shards.slice(shapeK)), hash, `${rs.kernel}: ${line}`);
      }
      checked++;
    }
    assert.ok(checked >= 8);
  });

  it('verify() is true for a valid stripe and false after any parity or data change', () => {
    const rng = new SplitMix64(seed + 2n);
    const rs = new ReedSolomon(6, 3);
    const stripe = makeStripe(rng, 9, 5000, 6);
    rs.encodeSync(stripe);
    assert.equal(rs.verify(stripe), true);
    for (const shard of [0, 5, 6, 8]) {
      const at = rng.below(5000);
      const bytes = stripe[shard]!;
      bytes[at] = bytes[at]! ^ 1;
      assert.equal(rs.verify(stripe), false, `shard ${shard} byte ${at}`);
      bytes[at] = bytes[at]! ^ 1;
    }
    assert.equal(rs.verify(stripe), true);
  });

  it('async encode/reconstruct/encodeMany give the same bytes inline and on the thread pool', async () => {
    const rng = new SplitMix64(seed + 3n);
    const rs = new ReedSolomon(8, 4);
    const oracle = new ReedSolomon(8, 4, { kernel: 'scalar' });
    // One stripe below the inline threshold, one far above it.
    for (const length of [4096, Math.ceil((rs.inlineBytesMax * 2) / 8)]) {
      const expected = makeStripe(rng, 12, length, 8);
      oracle.encodeSync(expected);
      const stripe = copyStripe(expected);
      for (const shard of stripe.slice(8)) shard.fill(0);
      await rs.encode(stripe);
      assert.ok(
        stripe.every((s, i) => Buffer.from(s).equals(expected[i]!)),
        `encode ${length}`,
      );
      for (const lost of [1, 3, 8, 11]) stripe[lost]!.fill(0);
      await rs.reconstruct(stripe, [11, 1, 8, 3]);
      assert.ok(
        stripe.every((s, i) => Buffer.from(s).equals(expected[i]!)),
        `reconstruct ${length}`,
      );
    }
    const batches: Array<[number, number]> = [
      [4, 1024],
      [64, 32 * 1024],
    ];
    for (const [count, length] of batches) {
      const expected = Array.from({ length: count }, () => makeStripe(rng, 12, length, 8));
      for (const stripe of expected) oracle.encodeSync(stripe);
      const stripes = expected.map((stripe) =>
        stripe.map((s, i) => (i < 8 ? Uint8Array.from(s) : new Uint8Array(length))),
      );
      await rs.encodeMany(stripes);
      for (let s = 0; s < count; s++) {
        assert.ok(
          stripes[s]!.every((x, i) => Buffer.from(x).equals(expected[s]![i]!)),
          `encodeMany ${count}x${length} stripe ${s}`,
        );
      }
    }
    await rs.encodeMany([]);
  });

  it('async work keeps borrowed shards alive until it settles', () => {
    // In a child with --expose-gc: drop every reference the caller holds to
    // the data shards and collect while the pool works; the parity must
    // still be right, and nothing may crash.
    const script = `
      const { ReedSolomon } = require('./lib/index');
      const rs = new ReedSolomon(8, 4);
      const length = Math.ceil((rs.inlineBytesMax * 2) / 8);
      const make = () => Array.from({ length: 12 }, (_, i) => new Uint8Array(length).fill(i < 8 ? i + 1 : 0));
      const check = make();
      new ReedSolomon(8, 4, { kernel: 'scalar' }).encodeSync(check);
      let stripe = make();
      const parity = stripe.slice(8);
      const pending = rs.encode(stripe);
      stripe = null;
      for (let i = 0; i < 5; i++) { global.gc(); new Uint8Array(length).fill(7); }
      pending.then(() => {
        const ok = parity.every((p, r) => Buffer.from(p).equals(check[8 + r]));
        console.log(ok ? 'ok' : 'wrong parity');
      });`;
    const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '-e', script], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'ok');
  });

  it('TESSERA_EC_KERNEL and TESSERA_EC_BACKEND choose, options override them', () => {
    const saved = {
      kernel: process.env.TESSERA_EC_KERNEL,
      backend: process.env.TESSERA_EC_BACKEND,
    };
    try {
      process.env.TESSERA_EC_KERNEL = 'scalar';
      assert.equal(new ReedSolomon(4, 2).kernel, 'scalar');
      assert.equal(
        new ReedSolomon(4, 2, { kernel: ReedSolomon.kernels()[0] }).kernel,
        ReedSolomon.kernels()[0],
      );
      delete process.env.TESSERA_EC_KERNEL;
      process.env.TESSERA_EC_BACKEND = 'builtin';
      assert.equal(new ReedSolomon(4, 2).backend, 'builtin');
      if (ReedSolomon.isal().available) {
        process.env.TESSERA_EC_BACKEND = 'isal';
        const rs = new ReedSolomon(4, 2);
        assert.equal(rs.backend, 'isal');
        assert.equal(rs.kernel, 'isal');
        assert.equal(new ReedSolomon(4, 2, { backend: 'builtin' }).backend, 'builtin');
      }
    } finally {
      for (const [name, value] of [
        ['TESSERA_EC_KERNEL', saved.kernel],
        ['TESSERA_EC_BACKEND', saved.backend],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('without libisal, isal is reported unavailable and auto falls back to builtin', () => {
    const script = `
      const { ReedSolomon } = require('./lib/index');
      const out = { isal: ReedSolomon.isal(), auto: new ReedSolomon(4, 2).backend };
      try { new ReedSolomon(4, 2, { backend: 'isal' }); } catch (e) { out.code = e.code; out.message = e.message; }
      console.log(JSON.stringify(out));`;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, TESSERA_ISAL_LIBRARY: 'libtessera-no-such-isal.so.2' },
    });
    assert.equal(result.status, 0, result.stderr);
    const out = JSON.parse(result.stdout) as {
      isal: { available: boolean; reason: string };
      auto: string;
      code: string;
      message: string;
    };
    assert.equal(out.isal.available, false);
    assert.match(out.isal.reason, /libtessera-no-such-isal\.so\.2/);
    assert.equal(out.auto, 'builtin');
    assert.equal(out.code, 'ERR_STORE_UNSUPPORTED');
    assert.equal(out.message, `backend 'isal' is unavailable: ${out.isal.reason}`);
  });

  it('ISA-L parity equals builtin parity (skipped when libisal is absent)', function () {
    if (!ReedSolomon.isal().available) {
      console.log(`    skipped: libisal not loadable: ${ReedSolomon.isal().reason}`);
      this.skip();
    }
    const rng = new SplitMix64(seed + 4n);
    for (const [k, m] of shapes) {
      const builtin = new ReedSolomon(k, m, { backend: 'builtin' });
      const isal = new ReedSolomon(k, m, { backend: 'isal' });
      for (const length of [1, 63, 64, 1000, 65537]) {
        const a = makeStripe(rng, k + m, length, k);
        const b = copyStripe(a);
        builtin.encodeSync(a);
        isal.encodeSync(b);
        for (let r = k; r < k + m; r++) assert.deepEqual(a[r], b[r], `${k}+${m} length ${length}`);
      }
    }
  });
});
