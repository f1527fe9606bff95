/**
 * Hot small objects answered on the JS thread without a native call
 * (docs/engine.md, "Hot objects on the JS thread").
 *
 * Each entry is a record's decoded info and a Buffer that views the native
 * read cache's bytes of that record (never handed out, never written:
 * callers get copies). The map is trusted only while the KeyDirectory's
 * change generation, a double the committer raises after every change and
 * shares with JS (`generation`), keeps the value it had when the map was
 * filled: `lookup` loads it before anything else and empties the map when
 * it moved. So an entry answers only if no write at all reached the
 * directory since the lookup that filled it.
 *
 * Concurrency: used by the JS thread that owns the store only.
 */

/** A cached object as the map keeps it; `D` is the decoded info. */
export interface HotObject<D> {
  d: D;
  body: Buffer;
  isLatest: boolean;
  sequence: number;
}

/** Native-cache hits in a row, with no write between, before admission. */
const ADMIT_AFTER = 64;

export class HotObjects<D> {
  /** By bucket (and version id) then key: no string built per lookup. */
  private readonly map = new Map<string, Map<string, HotObject<D>>>();
  private seen = -1;
  private held = 0;
  private stableHits = 0;
  /** Gets answered from the map (counted as cache hits in store.stats()). */
  hits = 0;

  /**
   * `bytesMax`: body bytes the map may view (0: off). The bodies are
   * records the native cache holds, so they normally cost nothing extra;
   * records it evicted while still viewed stay alive until the next write
   * empties the map.
   */
  constructor(
    private readonly generation: Float64Array,
    private bytesMax: number,
  ) {}

  /** Entries and viewed body bytes (tests, stats). */
  get size(): number {
    let n = 0;
    for (const keys of this.map.values()) n += keys.size;
    return n;
  }

  get bytes(): number {
    return this.held;
  }

  /** Turns the map off for good (a runtime without external buffers). */
  disable(): void {
    this.bytesMax = 0;
    this.clear();
  }

  /** The entry for a get, after emptying the map if anything was written. */
  lookup(bucket: string, key: string, versionId: string | undefined): HotObject<D> | undefined {
    // Loaded before any lookup: a write published after this load moves
    // the generation, so what a lookup now sees is never kept past it.
    const generation = this.generation[0]!;
    if (generation !== this.seen) {
      this.clear();
      this.seen = generation;
    }
    const found = this.map.get(HotObjects.group(bucket, versionId))?.get(key);
    if (found !== undefined) this.hits++;
    return found;
  }

  /** Whether the next native-cache hit should be admitted. */
  get admitting(): boolean {
    return this.bytesMax > 0 && this.stableHits >= ADMIT_AFTER;
  }

  /** A native-cache hit that was not admitted (counts towards admission). */
  noteNativeHit(): void {
    this.stableHits++;
  }

  /** Keeps `entry`, the oldest entries making room. */
  admit(bucket: string, key: string, versionId: string | undefined, entry: HotObject<D>): void {
    const size = entry.body.length;
    if (size > this.bytesMax) return;
    // Oldest first (maps iterate in insertion order): bucket by bucket,
    // key by key.
    for (const [name, keys] of this.map) {
      for (const [oldest, h] of keys) {
        if (this.held + size <= this.bytesMax) break;
        keys.delete(oldest);
        this.held -= h.body.length;
      }
      if (keys.size === 0) this.map.delete(name);
      if (this.held + size <= this.bytesMax) break;
    }
    const name = HotObjects.group(bucket, versionId);
    let keys = this.map.get(name);
    if (keys === undefined) this.map.set(name, (keys = new Map()));
    const old = keys.get(key);
    if (old !== undefined) this.held -= old.body.length;
    keys.set(key, entry);
    this.held += size;
  }

  private clear(): void {
    if (this.map.size > 0) this.map.clear();
    this.held = 0;
    this.stableHits = 0;
  }

  /** Bucket names hold no '/', version ids neither: groups are unique. */
  private static group(bucket: string, versionId: string | undefined): string {
    return versionId === undefined ? bucket : `${bucket}/${versionId}`;
  }
}
