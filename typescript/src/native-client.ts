// What every client-like object over one native handle shares: construction from options,
// derivation with other transport settings, close/asyncDispose/closed, and an inspect view
// built from the core's describe export (so a secret is shown only as the core redacts it).
import { inspect } from "node:util";
import { errorFromNative } from "./errors.js";
import { NativeHandle } from "./handle.js";
import { type Pointer, byteLength, callForText, native, packageVersion } from "./native.js";

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

/** Settings `withOptions` may change; the rest (credentials, project, pool) is shared. */
export interface TransportOptions {
  timeoutMs?: number;
  connectTimeoutMs?: number;
  maxRetries?: number;
  /** Headers of the new client; a `null` value drops one of the old client's. */
  defaultHeaders?: Record<string, string | null>;
}

type NewExport = "ik_management_client_new" | "ik_data_client_new";
type WithOptionsExport = "ik_management_client_with_options" | "ik_data_client_with_options";
type DescribeExport = "ik_management_client_describe" | "ik_data_client_describe" | "ik_endpoint_describe";
type FreeExport = "ik_management_client_free" | "ik_data_client_free" | "ik_endpoint_free";

/** The config JSON of `ik_*_client_new` (c-abi §4). */
function clientConfig(opts: ClientOptions & { sdkToken?: string; apiKey?: string }, fromEnv: boolean): string {
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
function newClient(fn: NewExport, cfg: string): Pointer {
  const out: [Pointer | null] = [null];
  const err: [Pointer | null] = [null];
  const status = native()[fn](cfg, byteLength(cfg), out, err) as number;
  if (status !== 0) throw errorFromNative(status, err[0]);
  return out[0]!;
}

/** A client constructor's handle: the one `withOptions` derived, else a new one from the options. */
export function openClient(fn: NewExport, options: ClientOptions & { sdkToken?: string; apiKey?: string }): Pointer {
  return derivedHandle(options) ?? newClient(fn, clientConfig(options, readsEnv(options)));
}

/** A `with_options` export's new handle, or its typed error. */
export function derive(fn: WithOptionsExport, ptr: Pointer, options: TransportOptions): Pointer {
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
export function describe(fn: DescribeExport, ptr: Pointer): Record<string, unknown> {
  const r = callForText(native()[fn], ptr);
  if (r.status !== 0) throw errorFromNative(r.status, r.err);
  return JSON.parse(r.text) as Record<string, unknown>;
}

// fromEnv() marks its options with this module-private key, so one constructor serves both.
const FROM_ENV = Symbol("fromEnv");

export function withEnv<T extends object>(options: T): T {
  return { ...options, [FROM_ENV]: true };
}

function readsEnv(options: object): boolean {
  return (options as Record<symbol, unknown>)[FROM_ENV] === true;
}

// withOptions() hands the constructor a ready handle under this module-private key.
const DERIVED = Symbol("derived");
type Derived = { [DERIVED]?: Pointer };

export function derived(ptr: Pointer): object {
  return { [DERIVED]: ptr };
}

function derivedHandle(options: object): Pointer | undefined {
  return (options as Derived)[DERIVED];
}

/** A public object owning one native handle (a client or an endpoint). */
export abstract class NativeClient implements AsyncDisposable {
  readonly #handle: NativeHandle;
  readonly #name: string;
  readonly #describe: DescribeExport;

  protected constructor(name: string, ptr: Pointer, free: FreeExport, describeFn: DescribeExport) {
    const lib = native();
    this.#handle = new NativeHandle(ptr, (p) => void lib[free](p), this, name);
    this.#name = name;
    this.#describe = describeFn;
  }

  /** The live pointer; throws `InvalidStateError` (`client_closed`) once closed. */
  protected get ptr(): Pointer {
    return this.#handle.ptr;
  }

  /** What `util.inspect` shows of the describe JSON. */
  protected abstract inspectFields(described: Record<string, unknown>): Record<string, unknown>;

  /** Frees the native handle (a token or key it holds is zeroed); calls already running finish. Idempotent. */
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
    if (this.#handle.closed) return `${this.#name} <closed>`;
    return `${this.#name} ${inspect(this.inspectFields(describe(this.#describe, this.#handle.ptr)))}`;
  }
}
