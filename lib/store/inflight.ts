/**
 * Tracks operations in flight so that close() can wait for them, and
 * refuses new ones once closing started (ERR_STORE_CLOSED).
 */
import { TesseraError } from '../errors';
import { OpRecorder, type StoreOp } from './stats';

export class InflightTracker {
  /** Counts and latencies of the operations run with an `op` name (store.stats()). */
  readonly ops = new OpRecorder();

  private count = 0;
  private closing = false;
  private drained: (() => void) | undefined;

  get isClosing(): boolean {
    return this.closing;
  }

  /** Runs `work` as one tracked operation; `op` also times it. */
  async run<T>(work: () => Promise<T>, op?: StoreOp): Promise<T> {
    if (this.closing) throw new TesseraError('ERR_STORE_CLOSED', 'the store is closed');
    this.count++;
    try {
      return await (op === undefined ? work() : this.ops.time(op, work));
    } finally {
      this.count--;
      if (this.count === 0) this.drained?.();
    }
  }

  /** Marks the tracker closed and resolves when nothing is in flight. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.count === 0) return;
    await new Promise<void>((resolve) => {
      this.drained = resolve;
    });
  }
}
