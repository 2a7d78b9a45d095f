// One `_async` export from start to settled promise: cancellation through AbortSignal, the
// per-call options, and the result buffer freed exactly once.
import { CancelledError } from "./errors.generated.js";
import { errorFromNative } from "./errors.js";
import { type Completion, type Pointer, bufferText, callAsync, freeBuffer, native } from "./native.js";

/** Options every call accepts. */
export interface RequestOptions {
  /** Aborting it cancels the call in the core (its connection is closed); it rejects with `CancelledError`. */
  signal?: AbortSignal;
  /** Milliseconds one attempt may take (overrides the client's timeout for this call). */
  timeoutMs?: number;
  /** Retries of a failed attempt for this call, 0 to 10. */
  maxRetries?: number;
  /** Extra headers for this call; a `null` value drops a client default. */
  headers?: Record<string, string | null>;
}

/** The request's `"options"` key, or undefined when the call overrides nothing. */
export function callOptions(opts: RequestOptions | undefined): Record<string, unknown> | undefined {
  if (!opts || (opts.timeoutMs === undefined && opts.maxRetries === undefined && opts.headers === undefined)) return undefined;
  return {
    timeout_s: opts.timeoutMs === undefined ? undefined : opts.timeoutMs / 1000,
    max_retries: opts.maxRetries,
    headers: opts.headers,
  };
}

export type Start = (cancel: Pointer | null, callback: unknown, ud: number, errOut: [Pointer | null]) => number;

/** A cancel token tied to `signal`; `dispose` frees it once the call has completed. */
export function cancelFor(signal: AbortSignal | undefined): { token: Pointer | null; dispose: () => void } {
  if (!signal) return { token: null, dispose: () => undefined };
  const lib = native();
  const token = lib.ik_cancel_new() as Pointer;
  const onAbort = (): void => void lib.ik_cancel_cancel(token);
  signal.addEventListener("abort", onAbort, { once: true });
  return {
    token,
    dispose: () => {
      signal.removeEventListener("abort", onAbort);
      lib.ik_cancel_free(token);
    },
  };
}

function aborted(signal: AbortSignal): CancelledError {
  return new CancelledError("the call was aborted", { code: "cancelled", cause: signal.reason });
}

/** Runs `start` and resolves with its successful completion (the caller frees `json`). */
export async function run(start: Start, signal: AbortSignal | undefined): Promise<Completion> {
  if (signal?.aborted) throw aborted(signal);
  const cancel = cancelFor(signal);
  let done: Completion;
  try {
    const r = callAsync((cb, ud, err) => start(cancel.token, cb, ud, err));
    done = "refused" in r ? r.refused : await r.promise;
  } finally {
    cancel.dispose();
  }
  if (done.status !== 0) {
    freeBuffer(done.json);
    const error = errorFromNative(done.status, done.err);
    if (error instanceof CancelledError && signal?.aborted) throw aborted(signal);
    throw error;
  }
  return done;
}

/** Runs `start` and returns its result JSON, parsed; the buffer is freed here. */
export async function runJson<T>(start: Start, signal: AbortSignal | undefined): Promise<T> {
  const done = await run(start, signal);
  try {
    return (done.json === null ? null : JSON.parse(bufferText(done.json, done.len))) as T;
  } finally {
    freeBuffer(done.json);
  }
}

/** A request object's JSON and its UTF-8 length, as the exports take them. */
export function request(body: Record<string, unknown>): [string, number] {
  const text = JSON.stringify(body);
  return [text, Buffer.byteLength(text, "utf8")];
}
