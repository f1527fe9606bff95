/**
 * Retry policy of the replication workers: exponential backoff with full
 * jitter, and a circuit breaker per target endpoint.
 *
 * The breaker is closed while requests succeed. After `failureThreshold`
 * consecutive failures it opens: no request is sent for `openMs` (doubling
 * on every failed probe, up to `openMsMax`). Then it is half-open: exactly
 * one request (the probe) goes through; its success closes the breaker, its
 * failure opens it again. Every worker of the target shares it, so a dead
 * target costs one probe per open period, not one request per object.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

/** Full jitter: uniform in [0, min(cap, base * 2^attempt)). */
export function backoffMs(attempt: number, options: BackoffOptions, random = Math.random): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

export interface BreakerOptions {
  failureThreshold: number;
  openMs: number;
  openMsMax: number;
}

export const DEFAULT_BREAKER: BreakerOptions = {
  failureThreshold: 5,
  openMs: 1000,
  openMsMax: 30_000,
};

/** Monotonic milliseconds: breaker timing never follows the wall clock. */
export function monotonicMs(): number {
  return performance.now();
}

export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private currentOpenMs: number;
  private probing = false;
  private stateValue: BreakerState = 'closed';
  /** Times the breaker opened. */
  opened = 0;

  constructor(private readonly options: BreakerOptions = DEFAULT_BREAKER) {
    this.currentOpenMs = options.openMs;
  }

  get state(): BreakerState {
    if (this.stateValue === 'open' && monotonicMs() >= this.openUntil) return 'half-open';
    return this.stateValue;
  }

  /**
   * Waits until a request may go out. Resolves `true` when the caller is
   * the half-open probe (it must report success or failure).
   */
  async acquire(signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      signal?.throwIfAborted();
      const state = this.state;
      if (state === 'closed') return false;
      if (state === 'half-open' && !this.probing) {
        this.probing = true;
        this.stateValue = 'half-open';
        return true;
      }
      const wait = state === 'open' ? Math.max(1, this.openUntil - monotonicMs()) : 20;
      await sleep(Math.min(wait, 250), undefined, signal ? { signal } : undefined);
    }
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    this.stateValue = 'closed';
    this.currentOpenMs = this.options.openMs;
  }

  failure(): void {
    this.failures++;
    if (this.probing || this.stateValue === 'half-open') {
      this.probing = false;
      this.currentOpenMs = Math.min(this.options.openMsMax, this.currentOpenMs * 2);
      this.open();
    } else if (this.stateValue === 'closed' && this.failures >= this.options.failureThreshold) {
      this.open();
    }
  }

  private open(): void {
    this.stateValue = 'open';
    this.opened++;
    this.openUntil = monotonicMs() + this.currentOpenMs;
  }
}
