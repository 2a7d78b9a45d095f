// The control plane: ensure, plan, get, list, delete and readiness for one project.
import { inspect } from "node:util";
import { type RequestOptions, callOptions, request, runJson } from "./call.js";
import { errorFromNative } from "./errors.js";
import { NativeHandle } from "./handle.js";
import { type Completion, type Pointer, bufferText, byteLength, callForText, freeBuffer, listen, native, packageVersion, unlisten } from "./native.js";
import type { EnsureOptions, EnsureResult, ProjectOptions, ReadinessEvent, WaitOptions, Workload, WorkloadSpec } from "./types.js";
import { camelKeys, snakeKeys } from "./wire.js";

/** Client settings; with `fromEnv`, unset ones come from the `INFERENCEKEY_*` variables. */
export interface ClientOptions {
  baseUrl?: string;
  project?: string;
  /** Milliseconds one attempt may take (default 60 000). */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  /** Retries of a failed attempt, 0 to 10 (default 2). */
  maxRetries?: number;
  defaultHeaders?: Record<string, string>;
  caBundlePath?: string;
}

export interface ManagementClientOptions extends ClientOptions {
  /** An `ik_sdk_` token (else `INFERENCEKEY_SDK_TOKEN` with `fromEnv`). */
  sdkToken?: string;
}

/** The config JSON of `ik_*_client_new` (c-abi §4). */
export function clientConfig(opts: ClientOptions & { sdkToken?: string; apiKey?: string }, fromEnv: boolean): string {
  return JSON.stringify({
    base_url: opts.baseUrl,
    project: opts.project,
    sdk_token: opts.sdkToken,
    api_key: opts.apiKey,
    timeout_s: opts.timeoutMs === undefined ? undefined : opts.timeoutMs / 1000,
    connect_timeout_s: opts.connectTimeoutMs === undefined ? undefined : opts.connectTimeoutMs / 1000,
    max_retries: opts.maxRetries,
    default_headers: opts.defaultHeaders,
    ca_bundle_path: opts.caBundlePath,
    from_env: fromEnv,
    binding: "typescript",
    binding_version: packageVersion(),
  });
}

/** Makes a native client from config JSON, or throws its typed error. */
export function newClient(fn: "ik_management_client_new" | "ik_data_client_new", cfg: string): Pointer {
  const out: [Pointer | null] = [null];
  const err: [Pointer | null] = [null];
  const status = native()[fn](cfg, byteLength(cfg), out, err) as number;
  if (status !== 0) throw errorFromNative(status, err[0]);
  return out[0]!;
}

/** Settings `withOptions` may change; the rest (credentials, project, pool) is shared. */
export interface TransportOptions {
  timeoutMs?: number;
  connectTimeoutMs?: number;
  maxRetries?: number;
  /** Headers of the new client; a `null` value drops one of the old client's. */
  defaultHeaders?: Record<string, string | null>;
}

/** A `with_options` export's new handle, or its typed error. */
export function derive(fn: "ik_management_client_with_options" | "ik_data_client_with_options", ptr: Pointer, options: TransportOptions): Pointer {
  const opts = JSON.stringify({
    timeout_s: options.timeoutMs === undefined ? undefined : options.timeoutMs / 1000,
    connect_timeout_s: options.connectTimeoutMs === undefined ? undefined : options.connectTimeoutMs / 1000,
    max_retries: options.maxRetries,
    headers: options.defaultHeaders,
  });
  const out: [Pointer | null] = [null];
  const err: [Pointer | null] = [null];
  const status = native()[fn](ptr, opts, byteLength(opts), out, err) as number;
  if (status !== 0) throw errorFromNative(status, err[0]);
  return out[0]!;
}

/** A describe export's JSON (no network), for `util.inspect`. */
export function describe(fn: "ik_management_client_describe" | "ik_data_client_describe" | "ik_endpoint_describe", ptr: Pointer): Record<string, unknown> {
  const r = callForText(native()[fn], ptr);
  if (r.status !== 0) throw errorFromNative(r.status, r.err);
  return JSON.parse(r.text) as Record<string, unknown>;
}

/** The wire form of a spec: snake_case keys, user config untouched. */
export function specJson(spec: WorkloadSpec): Record<string, unknown> {
  return snakeKeys(spec as unknown as Record<string, unknown>);
}

type AsyncExport =
  | "ik_management_client_ensure_async"
  | "ik_management_client_plan_async"
  | "ik_management_client_list_async"
  | "ik_management_client_get_async"
  | "ik_management_client_delete_async";

/** Control-plane client for one project; holds its `ik_sdk_` token inside the native core only. */
export class ManagementClient implements AsyncDisposable {
  readonly #handle: NativeHandle;

  /** A client from these options alone (no environment variables read). */
  constructor(options: ManagementClientOptions = {}) {
    const ptr = derivedHandle(options) ?? newClient("ik_management_client_new", clientConfig(options, readsEnv(options)));
    const lib = native();
    this.#handle = new NativeHandle(ptr, (p) => void lib.ik_management_client_free(p), this, "ManagementClient");
  }

  /** A client whose unset options come from `INFERENCEKEY_BASE_URL`, `_SDK_TOKEN`, `_PROJECT`, .... */
  static fromEnv(options: ManagementClientOptions = {}): ManagementClient {
    return new ManagementClient(withEnv(options));
  }

  /** A new client sharing credentials and connection pool, with other timeouts, retries or headers. */
  withOptions(options: TransportOptions): ManagementClient {
    return new ManagementClient(derived(derive("ik_management_client_with_options", this.#handle.ptr, options)));
  }

  #call<T>(fn: AsyncExport, body: Record<string, unknown>, opts: RequestOptions | undefined): Promise<T> {
    const ptr = this.#handle.ptr;
    const [req, len] = request({ ...body, options: callOptions(opts) });
    const lib = native();
    return runJson<T>((cancel, cb, ud, err) => lib[fn](ptr, req, len, cancel, cb, ud, err) as number, opts?.signal);
  }

  /** Makes the live workload match `spec` (sdk-behaviour §4). Under `onDrift: "warn"` a drift emits a `DriftWarning` process warning. */
  async ensure(spec: WorkloadSpec, options: EnsureOptions = {}): Promise<EnsureResult> {
    const raw = await this.#call<unknown>(
      "ik_management_client_ensure_async",
      { spec: specJson(spec), on_drift: options.onDrift ?? "reconcile", project: options.project ?? null },
      options,
    );
    const result = toEnsureResult(raw);
    if (result.action === "drift_warned") {
      const fields = result.changes.map((c) => c.field).join(", ");
      process.emitWarning(`workload ${result.workloadSlug} drifted from its spec (${fields}); left as it is`, {
        type: "DriftWarning",
        code: "drift_detected",
      });
    }
    return result;
  }

  /** What `ensure` would do, without writing anything. */
  async plan(spec: WorkloadSpec, options: ProjectOptions = {}): Promise<EnsureResult> {
    return toEnsureResult(
      await this.#call("ik_management_client_plan_async", { spec: specJson(spec), project: options.project ?? null }, options),
    );
  }

  /** One workload; `NotFoundError` when absent. */
  async get(workloadSlug: string, options: ProjectOptions = {}): Promise<Workload> {
    return toWorkload(
      await this.#call("ik_management_client_get_async", { workload_slug: workloadSlug, project: options.project ?? null }, options),
    );
  }

  /** Every workload of the project. */
  async list(options: ProjectOptions = {}): Promise<Workload[]> {
    const raw = await this.#call<unknown[]>("ik_management_client_list_async", { project: options.project ?? null }, options);
    return raw.map(toWorkload);
  }

  /** Deletes a workload; `false` when it was already absent. */
  async delete(workloadSlug: string, options: RequestOptions = {}): Promise<boolean> {
    const raw = await this.#call<{ deleted: boolean }>("ik_management_client_delete_async", { workload_slug: workloadSlug }, options);
    return raw.deleted;
  }

  /**
   * Waits until the workload is ready and returns its `ready` event. Throws `ReadinessError`
   * if it fails and `ReadinessTimeoutError` at the deadline.
   */
  async waitUntilReady(workloadSlug: string, options: WaitOptions = {}): Promise<ReadinessEvent> {
    const ptr = this.#handle.ptr;
    const { onProgress } = options;
    const body: Record<string, unknown> = {
      workload_slug: workloadSlug,
      project: options.project ?? null,
      options: callOptions({ ...options, timeoutMs: undefined }),
    };
    if (options.timeoutMs !== undefined) body.timeout_s = options.timeoutMs / 1000;
    const [req, len] = request(body);
    // Events arrive on the callback; each is decoded, freed and reported off it, in order.
    let failure: unknown;
    const eventId = listen((c: Completion) => {
      queueMicrotask(() => {
        const text = c.json === null ? null : bufferText(c.json, c.len);
        freeBuffer(c.json);
        if (c.err !== null) native().ik_error_free(c.err);
        if (text === null || onProgress === undefined || failure !== undefined) return;
        try {
          onProgress(camelKeys(JSON.parse(text)) as ReadinessEvent);
        } catch (e) {
          failure = e;
        }
      });
    });
    const lib = native();
    try {
      const ready = await runJson<unknown>(
        (cancel, cb, ud, err) =>
          lib.ik_management_client_wait_until_ready_async(ptr, req, len, cancel, cb, eventId, cb, ud, err) as number,
        options.signal,
      );
      if (failure !== undefined) throw failure instanceof Error ? failure : new Error("onProgress threw a non-Error", { cause: failure });
      return camelKeys(ready) as ReadinessEvent;
    } finally {
      unlisten(eventId);
    }
  }

  /** Frees the native client (its token is zeroed); calls already running finish. Idempotent. */
  close(): void {
    this.#handle.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  get closed(): boolean {
    return this.#handle.closed;
  }

  [inspect.custom](): string {
    if (this.#handle.closed) return "ManagementClient <closed>";
    const d = describe("ik_management_client_describe", this.#handle.ptr);
    return `ManagementClient ${inspect({ baseUrl: d.base_url, project: d.project, token: d.token })}`;
  }
}

// fromEnv() marks its options with this module-private key, so one constructor serves both.
const FROM_ENV = Symbol("fromEnv");

export function withEnv<T extends object>(options: T): T {
  return { ...options, [FROM_ENV]: true };
}

// withOptions() hands the constructor a ready handle under this module-private key.
const DERIVED = Symbol("derived");
type Derived = { [DERIVED]?: Pointer };

export function derived(ptr: Pointer): object {
  return { [DERIVED]: ptr };
}

export function derivedHandle(options: object): Pointer | undefined {
  return (options as Derived)[DERIVED];
}

export function readsEnv(options: object): boolean {
  return (options as Record<symbol, unknown>)[FROM_ENV] === true;
}

export function toWorkload(raw: unknown): Workload {
  return camelKeys(raw) as Workload;
}

function toEnsureResult(raw: unknown): EnsureResult {
  return camelKeys(raw) as EnsureResult;
}
