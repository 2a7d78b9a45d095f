// The native library: where it is found, its ABI check, its functions, and the one completion
// callback every `_async` call shares. Nothing here knows about clients or error classes.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import koffi from "koffi";

/** The ABI version this package is written against (c-abi.md §8). */
export const ABI_VERSION = 3;

/** An opaque native handle or buffer address, as koffi hands pointers to JavaScript. */
export type Pointer = bigint;

/** What an `_async` call's completion carries, untouched: decoded later, off the callback. */
export interface Completion {
  status: number;
  json: Pointer | null;
  len: number;
  err: Pointer | null;
}

/** The fields of an `ik_error`, read once; the error itself is freed by `takeError`. */
export interface NativeError {
  status: number;
  httpStatus: number;
  code: string;
  message: string;
  requestId: string | null;
  detailsJson: string | null;
}

type LibraryHandle = ReturnType<typeof koffi.load>;
type Fn = ReturnType<LibraryHandle["func"]>;

const FUNCTIONS = {
  ik_abi_version: "uint32_t ik_abi_version()",
  ik_version: "const char *ik_version()",
  ik_buffer_free: "void ik_buffer_free(void *buf)",
  ik_cancel_new: "void *ik_cancel_new()",
  ik_cancel_cancel: "void ik_cancel_cancel(void *c)",
  ik_cancel_free: "void ik_cancel_free(void *c)",
  ik_error_free: "void ik_error_free(void *e)",
  ik_error_status: "int32_t ik_error_status(void *e)",
  ik_error_http_status: "int32_t ik_error_http_status(void *e)",
  ik_error_code: "const char *ik_error_code(void *e)",
  ik_error_message: "const char *ik_error_message(void *e)",
  ik_error_request_id: "const char *ik_error_request_id(void *e)",
  ik_error_details_json: "const char *ik_error_details_json(void *e)",
  ik_text_redact: "int32_t ik_text_redact(const char *t, size_t n, _Out_ void **out, _Out_ size_t *len, _Out_ void **err)",
  ik_token_redact: "int32_t ik_token_redact(const char *t, size_t n, _Out_ void **out, _Out_ size_t *len, _Out_ void **err)",
  ik_live_objects: "int32_t ik_live_objects(_Out_ void **out, _Out_ size_t *len, _Out_ void **err)",
  ik_runtime_configure: "int32_t ik_runtime_configure(const char *cfg, size_t n, _Out_ void **err)",
  ik_runtime_shutdown: "void ik_runtime_shutdown()",
  ik_management_client_new: "int32_t ik_management_client_new(const char *cfg, size_t n, _Out_ void **out, _Out_ void **err)",
  ik_management_client_describe: "int32_t ik_management_client_describe(void *c, _Out_ void **out, _Out_ size_t *len, _Out_ void **err)",
  ik_management_client_free: "void ik_management_client_free(void *c)",
  ik_management_client_with_options: "int32_t ik_management_client_with_options(void *c, const char *opts, size_t n, _Out_ void **out, _Out_ void **err)",
  ik_management_client_ensure_async: "int32_t ik_management_client_ensure_async(void *c, const char *req, size_t n, void *cancel, ik_callback *cb, intptr_t ud, _Out_ void **err)",
  ik_management_client_plan_async: "int32_t ik_management_client_plan_async(void *c, const char *req, size_t n, void *cancel, ik_callback *cb, intptr_t ud, _Out_ void **err)",
  ik_management_client_list_async: "int32_t ik_management_client_list_async(void *c, const char *req, size_t n, void *cancel, ik_callback *cb, intptr_t ud, _Out_ void **err)",
  ik_management_client_get_async: "int32_t ik_management_client_get_async(void *c, const char *req, size_t n, void *cancel, ik_callback *cb, intptr_t ud, _Out_ void **err)",
  ik_management_client_delete_async: "int32_t ik_management_client_delete_async(void *c, const char *req, size_t n, void *cancel, ik_callback *cb, intptr_t ud, _Out_ void **err)",
  ik_management_client_wait_until_ready_async:
    "int32_t ik_management_client_wait_until_ready_async(void *c, const char *req, size_t n, void *cancel, ik_callback *onEvent, intptr_t eventUd, ik_callback *cb, intptr_t ud, _Out_ void **err)",
  ik_data_client_new: "int32_t ik_data_client_new(const char *cfg, size_t n, _Out_ void **out, _Out_ void **err)",
  ik_data_client_describe: "int32_t ik_data_client_describe(void *c, _Out_ void **out, _Out_ size_t *len, _Out_ void **err)",
  ik_data_client_free: "void ik_data_client_free(void *c)",
  ik_data_client_with_options: "int32_t ik_data_client_with_options(void *c, const char *opts, size_t n, _Out_ void **out, _Out_ void **err)",
  ik_endpoint_new: "int32_t ik_endpoint_new(void *c, const char *req, size_t n, _Out_ void **out, _Out_ void **err)",
  ik_endpoint_describe: "int32_t ik_endpoint_describe(void *e, _Out_ void **out, _Out_ size_t *len, _Out_ void **err)",
  ik_endpoint_free: "void ik_endpoint_free(void *e)",
  ik_endpoint_generate_text_async: "int32_t ik_endpoint_generate_text_async(void *e, const char *req, size_t n, void *cancel, ik_callback *cb, intptr_t ud, _Out_ void **err)",
  ik_endpoint_embed_async: "int32_t ik_endpoint_embed_async(void *e, const char *req, size_t n, void *cancel, ik_callback *cb, intptr_t ud, _Out_ void **err)",
  ik_endpoint_rerank_async: "int32_t ik_endpoint_rerank_async(void *e, const char *req, size_t n, void *cancel, ik_callback *cb, intptr_t ud, _Out_ void **err)",
  ik_endpoint_submit_job_async: "int32_t ik_endpoint_submit_job_async(void *e, const char *req, size_t n, void *cancel, ik_callback *cb, intptr_t ud, _Out_ void **err)",
  ik_webhook_verify: "int32_t ik_webhook_verify(const uint8_t *p, size_t pn, const char *req, size_t n, _Out_ void **out, _Out_ size_t *len, _Out_ void **err)",
  ik_endpoint_generate_text_stream_async:
    "int32_t ik_endpoint_generate_text_stream_async(void *e, const char *req, size_t n, void *cancel, _Out_ void **out, ik_callback *cb, intptr_t ud, _Out_ void **err)",
  ik_stream_next_async: "int32_t ik_stream_next_async(void *s, void *cancel, ik_callback *cb, intptr_t ud, _Out_ void **err)",
  ik_stream_metadata: "int32_t ik_stream_metadata(void *s, _Out_ void **out, _Out_ size_t *len, _Out_ void **err)",
  ik_stream_close: "void ik_stream_close(void *s)",
  ik_stream_free: "void ik_stream_free(void *s)",
  ik_dev_server_start: "int32_t ik_dev_server_start(const char *cfg, size_t n, _Out_ void **out, _Out_ void **info, _Out_ size_t *len, _Out_ void **err)",
  ik_dev_server_create_project: "int32_t ik_dev_server_create_project(void *s, const char *req, size_t n, _Out_ void **out, _Out_ size_t *len, _Out_ void **err)",
  ik_dev_server_mint_token: "int32_t ik_dev_server_mint_token(void *s, const char *req, size_t n, _Out_ void **out, _Out_ size_t *len, _Out_ void **err)",
  ik_dev_server_stop: "void ik_dev_server_stop(void *s)",
  ik_dev_server_free: "void ik_dev_server_free(void *s)",
} as const;

/** The bound functions, by their C names. */
export type Lib = { readonly [K in keyof typeof FUNCTIONS]: Fn };

/** The per-platform optional package that carries the library, e.g. `linux-x64-gnu`. */
export function platformKey(): string {
  let libc = "";
  if (process.platform === "linux") {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    libc = header?.glibcVersionRuntime ? "-gnu" : "-musl";
  }
  return `${process.platform}-${process.arch}${libc}`;
}

const LIB_FILE: Partial<Record<NodeJS.Platform, string>> = {
  linux: "libinferencekey.so",
  darwin: "libinferencekey.dylib",
  win32: "inferencekey.dll",
};

/** Where the library is: `INFERENCEKEY_LIB`, else the platform package beside this one. */
export function libraryPath(): string {
  const override = process.env.INFERENCEKEY_LIB;
  if (override) return override;
  const pkg = `@inferencekey/sdk-${platformKey()}`;
  const file = LIB_FILE[process.platform] ?? "libinferencekey.so";
  let dir: string;
  try {
    dir = dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    throw new Error(
      `inferencekey: no native library for ${platformKey()}: the optional package ${pkg} is not installed ` +
        "(reinstall without --no-optional, or set INFERENCEKEY_LIB to the library's path)",
    );
  }
  const path = join(dir, file);
  if (!existsSync(path)) throw new Error(`inferencekey: ${pkg} has no ${file} (looked at ${path})`);
  return path;
}

let loaded: { lib: Lib; path: string; callback: unknown } | undefined;

/** Loads the library once and checks its ABI version; every other function goes through it. */
export function native(): Lib {
  return (loaded ??= load()).lib;
}

function load(): { lib: Lib; path: string; callback: unknown } {
  const path = libraryPath();
  let handle: LibraryHandle;
  try {
    handle = koffi.load(path);
  } catch (e) {
    throw new Error(`inferencekey: cannot load the native library at ${path}: ${(e as Error).message}`);
  }
  let abi: number;
  try {
    abi = (handle.func("uint32_t ik_abi_version()") as () => number)();
  } catch {
    throw new Error(`inferencekey: ${path} is not the InferenceKey library (it has no ik_abi_version)`);
  }
  if (abi !== ABI_VERSION) {
    throw new Error(
      `inferencekey: the native library at ${path} implements ABI ${abi}, but this package needs ABI ${ABI_VERSION}; ` +
        "install matching versions (or fix INFERENCEKEY_LIB)",
    );
  }
  const proto = koffi.proto("void ik_callback(intptr_t ud, int32_t status, void *json, size_t len, void *err)");
  const lib = {} as Record<string, Fn>;
  for (const [name, decl] of Object.entries(FUNCTIONS)) lib[name] = handle.func(decl);
  // One callback for the whole process (koffi keeps a trampoline per registration): `ud`
  // says which call completed. koffi runs it on the event loop, and the library's delivery
  // thread waits meanwhile, so it only hands the completion to the waiting promise.
  const callback = koffi.register(onCompletion, koffi.pointer(proto));
  // From here on, a completion arriving while Node tears down must not reach JavaScript.
  process.once("exit", () => (lib.ik_runtime_shutdown as () => void)());
  return { lib: lib as Lib, path, callback };
}

// ---- completions ----------------------------------------------------------------------------

type Settle = (c: Completion) => void;
const waiting = new Map<number, Settle>();
let nextId = 1;

function onCompletion(ud: number, status: number, json: Pointer | null, len: number | bigint, err: Pointer | null): void {
  const settle = waiting.get(ud);
  if (settle === undefined) return; // cannot happen: each id is registered before its call starts
  if (!listeners.has(ud)) waiting.delete(ud);
  settle({ status, json, len: Number(len), err });
}

// Event callbacks (readiness progress) share `onCompletion` but may fire many times.
const listeners = new Set<number>();

// A pending call keeps the process alive; the last one to finish lets it exit. One timer,
// ref'd and unref'd, costs far less than a handle per call.
let inFlight = 0;
let keepAlive: NodeJS.Timeout | undefined;

function hold(): void {
  if (inFlight++ === 0) (keepAlive ??= setInterval(() => undefined, 2 ** 31 - 1)).ref();
}

function release(): void {
  if (--inFlight === 0) keepAlive?.unref();
}

/**
 * A user-data id whose completions are delivered to `each`, for callbacks that fire many
 * times (readiness events). Remove it with `unlisten` once the call has completed.
 */
export function listen(each: Settle): number {
  const id = nextId++;
  waiting.set(id, each);
  listeners.add(id);
  return id;
}

export function unlisten(id: number): void {
  waiting.delete(id);
  listeners.delete(id);
}

/**
 * Runs one `_async` export. `start` gets the callback, the user-data id and the error out
 * parameter, and returns the export's status; the promise resolves with the raw completion.
 * With a `cancel` token, `signal` aborting cancels the call in the core.
 */
export function callAsync(
  start: (callback: unknown, ud: number, errOut: [Pointer | null]) => number,
): { promise: Promise<Completion> } | { refused: Completion } {
  native();
  const id = nextId++;
  let settle!: Settle;
  const promise = new Promise<Completion>((resolve) => (settle = resolve));
  waiting.set(id, settle);
  const errOut: [Pointer | null] = [null];
  let status: number;
  try {
    status = start(loaded!.callback, id, errOut);
  } catch (e) {
    waiting.delete(id); // koffi refused an argument: the call never started
    throw e;
  }
  if (status !== 0) {
    // Refused before starting: the callback will never run.
    waiting.delete(id);
    return { refused: { status, json: null, len: 0, err: errOut[0] } };
  }
  hold();
  void promise.then(release);
  return { promise };
}

// ---- buffers and errors ----------------------------------------------------------------------

/** The JSON text of a result buffer (not freed). */
export function bufferText(ptr: Pointer, len: number): string {
  return len === 0 ? "" : (koffi.decode(ptr, "char", len) as string);
}

/** A copy of `length` bytes at `offset` of a result buffer (not freed). */
export function bufferBytes(ptr: Pointer, offset: number, length: number): Uint8Array {
  if (length === 0) return new Uint8Array(0);
  const view = koffi.view(ptr, offset + length);
  return new Uint8Array(view.slice(offset, offset + length));
}

export function freeBuffer(ptr: Pointer | null): void {
  if (ptr !== null) (native().ik_buffer_free as (p: Pointer) => void)(ptr);
}

/** Reads an `ik_error` and frees it. */
export function takeError(err: Pointer): NativeError {
  const lib = native();
  try {
    return {
      status: lib.ik_error_status(err) as number,
      httpStatus: lib.ik_error_http_status(err) as number,
      code: lib.ik_error_code(err) as string,
      message: lib.ik_error_message(err) as string,
      requestId: (lib.ik_error_request_id(err) as string | null) ?? null,
      detailsJson: (lib.ik_error_details_json(err) as string | null) ?? null,
    };
  } finally {
    lib.ik_error_free(err);
  }
}

/** A blocking export that writes a result buffer; only for calls without network I/O. */
export function callForText(fn: Fn, ...args: unknown[]): { status: number; text: string; err: Pointer | null } {
  const out: [Pointer | null] = [null];
  const len: [number] = [0];
  const err: [Pointer | null] = [null];
  const status = fn(...args, out, len, err) as number;
  if (status !== 0) return { status, text: "", err: err[0] };
  const ptr = out[0];
  try {
    return { status, text: ptr === null ? "" : bufferText(ptr, Number(len[0])), err: null };
  } finally {
    freeBuffer(ptr);
  }
}

/** UTF-8 length of a string, as every `(const char *, size_t)` pair needs. */
export function byteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** The library's version string. */
export function libraryVersion(): string {
  return native().ik_version() as string;
}

/** This package's version, from its package.json. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8")) as { version?: string };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/** Live native handles per kind and unfreed result buffers, process-wide (for leak tests). */
export function liveObjects(): { handles: Record<string, number>; buffers: number } {
  const r = callForText(native().ik_live_objects);
  if (r.status !== 0) throw new Error(`ik_live_objects failed with status ${r.status}`);
  return JSON.parse(r.text) as { handles: Record<string, number>; buffers: number };
}
