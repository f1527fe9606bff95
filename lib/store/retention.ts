/**
 * Retention holds on the change feed (docs/events.md, "Retention").
 *
 * A durable consumer of the feed (a webhook deliverer, replication) names
 * the lowest seq it still needs; the GC policy asks `floor()` before it
 * reclaims a segment and keeps every segment holding a record with seq >=
 * floor. A consumer that falls further behind than its hold allows is the
 * only way to meet ERR_STORE_CHANGES_EXPIRED.
 */
import { TesseraError } from '../errors';

export class RetentionRegistry {
  private readonly holds = new Map<string, () => number>();

  /**
   * Registers (or replaces) the hold `name`: `lowestSeqStillNeeded()` is
   * called whenever the floor is computed and must return the lowest seq
   * the holder has not processed yet (its cursor), quickly and without I/O.
   */
  hold(name: string, lowestSeqStillNeeded: () => number): void {
    if (typeof name !== 'string' || name === '') {
      throw new TesseraError('ERR_INVALID_ARG_TYPE', 'a retention hold needs a non-empty name');
    }
    if (typeof lowestSeqStillNeeded !== 'function') {
      throw new TesseraError('ERR_INVALID_ARG_TYPE', 'a retention hold needs a function');
    }
    this.holds.set(name, lowestSeqStillNeeded);
  }

  /** Drops the hold; true when there was one. */
  release(name: string): boolean {
    return this.holds.delete(name);
  }

  /** Names of the current holds. */
  names(): string[] {
    return [...this.holds.keys()];
  }

  /**
   * The lowest seq any holder still needs, or undefined when nobody holds
   * anything (then GC may reclaim any dead record). A hold whose function
   * throws or answers something other than a positive integer counts as
   * needing everything (1): retention errs on the side of keeping.
   */
  floor(): number | undefined {
    let low: number | undefined;
    for (const need of this.holds.values()) {
      let seq: number;
      try {
        seq = need();
      } catch {
        seq = 1;
      }
      if (!Number.isSafeInteger(seq) || seq < 1) seq = 1;
      if (low === undefined || seq < low) low = seq;
    }
    return low;
  }
}
