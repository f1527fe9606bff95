/**
 * A FIFO budget of bytes in flight: writes wait (asynchronously, never
 * blocking the thread) until the bytes already submitted to the engine
 * leave room, so any number of concurrent puts stays under the engine's
 * queue limit instead of failing with "the write queue is full". A request
 * larger than the whole budget goes alone.
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: { bytes: number; resolve: () => void }[] = [];

  constructor(readonly max: number) {}

  /** Undefined when granted at once (no tick spent), else a Promise. */
  acquire(bytes: number): Promise<void> | undefined {
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.used += bytes;
      return undefined;
    }
    return new Promise((resolve) => this.waiting.push({ bytes, resolve }));
  }

  release(bytes: number): void {
    this.used -= bytes;
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.bytes)) {
      const next = this.waiting.shift()!;
      this.used += next.bytes;
      next.resolve();
    }
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.max;
  }
}
