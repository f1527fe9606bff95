/**
 * AbortSignal support shared by every I/O method: reject with an AbortError
 * shaped like Node's (name 'AbortError', code 'ABORT_ERR', cause = reason).
 */
import { AbortError, TesseraError } from '../errors';

export function validateSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'options.signal must be an AbortSignal');
  }
  return signal;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(signal);
}

/**
 * Settles like `promise`, or rejects with AbortError as soon as `signal`
 * fires. The underlying work is not cancelled by this; callers that can
 * cancel it (e.g. a body being read) must also listen to the signal.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new AbortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
