// The data plane: a client per project, an endpoint per workload, and the four calls.
import { type RequestOptions, callOptions, request, run, runJson } from "./call.js";
import { CancelledError } from "./errors.generated.js";
import { errorFromNative } from "./errors.js";
import { NativeHandle } from "./handle.js";
import { type ClientOptions, type TransportOptions, NativeClient, derive, derived, openClient, withEnv } from "./native-client.js";
import { type Pointer, bufferText, callForText, freeBuffer, native } from "./native.js";
import { EmbedResult, TextResult, textChunk } from "./results.js";
import type { EmbedRequest, JobOptions, JobRef, RerankRequest, RerankResult, TextChunk, TextRequest, Usage } from "./types.js";
import type { JobKind } from "./enums.js";
import { asBytes, camelKeys, snakeKeys } from "./wire.js";

export interface DataClientOptions extends ClientOptions {
  /** The default `ik_live_` key of `endpoint()` (else `INFERENCEKEY_API_KEY` with `fromEnv`). */
  apiKey?: string;
}

/** Data-plane client for one project; its endpoints share one connection pool and keep working after it is closed, until closed themselves. */
export class DataClient extends NativeClient {
  constructor(options: DataClientOptions = {}) {
    super("DataClient", openClient("ik_data_client_new", options), "ik_data_client_free", "ik_data_client_describe");
  }

  /** A client whose unset options come from `INFERENCEKEY_BASE_URL`, `_API_KEY`, `_PROJECT`, .... */
  static fromEnv(options: DataClientOptions = {}): DataClient {
    return new DataClient(withEnv(options));
  }

  /** A new client sharing the connection pool, with other timeouts, retries or headers. */
  withOptions(options: TransportOptions): DataClient {
    return new DataClient(derived(derive("ik_data_client_with_options", this.ptr, options)));
  }

  /** An endpoint for one workload (no network). The key defaults to the client's. */
  endpoint(workloadSlug: string, options: { apiKey?: string } = {}): Endpoint {
    const [req, len] = request({ workload_slug: workloadSlug, api_key: options.apiKey ?? null });
    const out: [Pointer | null] = [null];
    const err: [Pointer | null] = [null];
    const status = native().ik_endpoint_new(this.ptr, req, len, out, err) as number;
    if (status !== 0) throw errorFromNative(status, err[0]);
    return new Endpoint(out[0]!, ENDPOINT_TOKEN);
  }

  protected override inspectFields(d: Record<string, unknown>): Record<string, unknown> {
    return { baseUrl: d.base_url, project: d.project };
  }
}

const ENDPOINT_TOKEN = Symbol("endpoint");

type CallExport = "ik_endpoint_generate_text_async" | "ik_endpoint_embed_async" | "ik_endpoint_rerank_async" | "ik_endpoint_submit_job_async";

/** One workload's OpenAI-compatible API, with its `ik_live_` key held in the core. */
export class Endpoint extends NativeClient {
  /** @internal Made by `DataClient.endpoint()`. */
  constructor(ptr: Pointer, token: symbol) {
    if (token !== ENDPOINT_TOKEN) throw new TypeError("use DataClient.endpoint() to make an Endpoint");
    super("Endpoint", ptr, "ik_endpoint_free", "ik_endpoint_describe");
  }

  async #call<T>(fn: CallExport, body: Record<string, unknown>, opts: RequestOptions, read: (ptr: Pointer, len: number) => T): Promise<T> {
    const ptr = this.ptr;
    const [req, len] = request(body);
    const lib = native();
    const done = await run((cancel, cb, ud, err) => lib[fn](ptr, req, len, cancel, cb, ud, err) as number, opts.signal);
    try {
      return read(done.json!, done.len);
    } finally {
      freeBuffer(done.json);
    }
  }

  /** A chat completion (or completion, with `prompt`). */
  generateText(req: TextRequest): Promise<TextResult> {
    return this.#call("ik_endpoint_generate_text_async", textBody(req), req, (p, n) => new TextResult(p, n));
  }

  /** A streamed chat completion: `for await (const chunk of await ep.generateTextStream(...))`. */
  async generateTextStream(req: TextRequest): Promise<TextStream> {
    const ptr = this.ptr;
    const [body, len] = request(textBody(req));
    const lib = native();
    const stream: [Pointer | null] = [null];
    try {
      await runJson(
        (cancel, cb, ud, err) => lib.ik_endpoint_generate_text_stream_async(ptr, body, len, cancel, stream, cb, ud, err) as number,
        req.signal,
      );
    } catch (e) {
      if (stream[0] !== null) lib.ik_stream_free(stream[0]);
      throw e;
    }
    return new TextStream(stream[0]!, req.signal, STREAM_TOKEN);
  }

  /** Embeddings of one text or many, in input order. */
  embed(req: EmbedRequest): Promise<EmbedResult> {
    const body = { input: req.input, extra_body: req.extraBody, options: callOptions(req) };
    return this.#call("ik_endpoint_embed_async", body, req, (p, n) => new EmbedResult(p, n));
  }

  /** The documents ranked against the query, best first. */
  rerank(req: RerankRequest): Promise<RerankResult> {
    const body = { query: req.query, documents: req.documents, top_n: req.topN, extra_body: req.extraBody, options: callOptions(req) };
    return this.#call("ik_endpoint_rerank_async", body, req, (p, n) => {
      const raw = JSON.parse(bufferText(p, n)) as { raw: unknown };
      return { ...(camelKeys(raw) as RerankResult), raw: raw.raw };
    });
  }

  /**
   * Submits a fire-and-forget job; its result is delivered to the workload's webhooks (verify
   * each delivery with `verifyWebhook`). `body` is the route's JSON request (`model` defaults
   * to the workload's slug), or bytes (`Uint8Array`, `Buffer`) with `contentType` for a
   * non-JSON body such as multipart audio; chat takes JSON only. The kind (a `JobKind`, its
   * wire name or an alias) and the body rules are checked by the core before anything is
   * sent (`ValidationError`); a kind the platform does not run answers `APIError` (`http_501`).
   * A submission is retried only when it cannot have reached the server, so it never runs twice.
   */
  submitJob(kind: JobKind | (string & {}), body: Record<string, unknown> | Uint8Array | ArrayBuffer, options: JobOptions = {}): Promise<JobRef> {
    const req: Record<string, unknown> = { kind, content_type: options.contentType, context: options.context, options: callOptions(options) };
    // Bytes travel as base64 (the ABI's `body_b64`); anything else as JSON, for the core to check.
    const bytes = asBytes(body);
    if (bytes) req.body_b64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
    else req.body = body;
    return this.#call("ik_endpoint_submit_job_async", req, options, (p, n) => camelKeys(JSON.parse(bufferText(p, n))) as JobRef);
  }

  protected override inspectFields(d: Record<string, unknown>): Record<string, unknown> {
    return { baseUrl: d.base_url, project: d.project_slug, workload: d.workload_slug, apiKey: d.api_key };
  }
}

function textBody(req: TextRequest): Record<string, unknown> {
  const { signal: _s, timeoutMs: _t, maxRetries: _m, headers: _h, ...fields } = req;
  return { ...snakeKeys(fields), options: callOptions(req) };
}

const STREAM_TOKEN = Symbol("stream");

/**
 * A streamed completion: an async iterable of `TextChunk`s. Leaving a `for await` loop early
 * (`break`, `return`, a throw) or calling `close()` closes the stream and its connection in
 * the core.
 */
export class TextStream implements AsyncIterableIterator<TextChunk>, AsyncDisposable {
  readonly #handle: NativeHandle;
  readonly #signal: AbortSignal | undefined;
  #closing = false;
  #pending = false;

  /** @internal Made by `Endpoint.generateTextStream()`. */
  constructor(ptr: Pointer, signal: AbortSignal | undefined, token: symbol) {
    if (token !== STREAM_TOKEN) throw new TypeError("use Endpoint.generateTextStream() to make a TextStream");
    const lib = native();
    this.#handle = new NativeHandle(ptr, (p) => void lib.ik_stream_free(p), this, "TextStream");
    this.#signal = signal;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<TextChunk, undefined>> {
    if (this.#handle.closed) return { done: true, value: undefined };
    const ptr = this.#handle.ptr;
    const lib = native();
    let done;
    this.#pending = true;
    try {
      done = await run((cancel, cb, ud, err) => lib.ik_stream_next_async(ptr, cancel, cb, ud, err) as number, this.#signal);
    } catch (e) {
      this.#pending = false;
      const closedMeanwhile = this.#closing;
      this.close();
      // close() from elsewhere wakes a pending next with `cancelled`: that is the end.
      if (closedMeanwhile && e instanceof CancelledError) return { done: true, value: undefined };
      throw e;
    }
    this.#pending = false;
    if (this.#closing || done.json === null) {
      freeBuffer(done.json);
      this.close();
      return { done: true, value: undefined };
    }
    try {
      return { done: false, value: textChunk(done.json, done.len) };
    } finally {
      freeBuffer(done.json);
    }
  }

  return(): Promise<IteratorResult<TextChunk, undefined>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  #metadata(): { request_id?: string | null; usage?: unknown } {
    if (this.#handle.closed) return this.#last;
    const r = callForText(native().ik_stream_metadata, this.#handle.ptr);
    if (r.status !== 0) throw errorFromNative(r.status, r.err);
    return (this.#last = JSON.parse(r.text) as { request_id?: string | null; usage?: unknown });
  }
  #last: { request_id?: string | null; usage?: unknown } = {};

  /** The server's request id. */
  get requestId(): string | null {
    return this.#metadata().request_id ?? null;
  }

  /** Token usage, once the server sent it (usually with the last chunk). */
  get usage(): Usage | null {
    return (camelKeys(this.#metadata().usage) as Usage | undefined) ?? null;
  }

  /** Closes the stream and its connection, then frees it. Idempotent. */
  close(): void {
    if (this.#handle.closed) return;
    this.#closing = true;
    try {
      this.#metadata(); // keep request id and usage readable after the end
    } catch {
      // Nothing to keep; closing must not fail.
    }
    if (this.#pending) {
      // The pending next() wakes with `cancelled` and frees the handle when it settles.
      native().ik_stream_close(this.#handle.ptr);
      return;
    }
    this.#handle.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
