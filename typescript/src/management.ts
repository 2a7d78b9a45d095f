// The control plane: ensure, plan, get, list, delete and readiness for one project.
import { type RequestOptions, callOptions, request, runJson } from "./call.js";
import { type Completion, bufferText, freeBuffer, listen, native, unlisten } from "./native.js";
import { type ClientOptions, type TransportOptions, NativeClient, derive, derived, openClient, withEnv } from "./native-client.js";
import type { EnsureOptions, EnsureResult, ProjectOptions, ReadinessEvent, WaitOptions, Workload, WorkloadSpec } from "./types.js";
import { camelKeys, snakeKeys } from "./wire.js";

export interface ManagementClientOptions extends ClientOptions {
  /** An `ik_sdk_` token (else `INFERENCEKEY_SDK_TOKEN` with `fromEnv`). */
  sdkToken?: string;
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
export class ManagementClient extends NativeClient {
  /** A client from these options alone (no environment variables read). */
  constructor(options: ManagementClientOptions = {}) {
    super("ManagementClient", openClient("ik_management_client_new", options), "ik_management_client_free", "ik_management_client_describe");
  }

  /** A client whose unset options come from `INFERENCEKEY_BASE_URL`, `_SDK_TOKEN`, `_PROJECT`, .... */
  static fromEnv(options: ManagementClientOptions = {}): ManagementClient {
    return new ManagementClient(withEnv(options));
  }

  /** A new client sharing credentials and connection pool, with other timeouts, retries or headers. */
  withOptions(options: TransportOptions): ManagementClient {
    return new ManagementClient(derived(derive("ik_management_client_with_options", this.ptr, options)));
  }

  #call<T>(fn: AsyncExport, body: Record<string, unknown>, opts: RequestOptions | undefined): Promise<T> {
    const ptr = this.ptr;
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
    const ptr = this.ptr;
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

  protected override inspectFields(d: Record<string, unknown>): Record<string, unknown> {
    return { baseUrl: d.base_url, project: d.project, token: d.token };
  }
}

export function toWorkload(raw: unknown): Workload {
  return camelKeys(raw) as Workload;
}

function toEnsureResult(raw: unknown): EnsureResult {
  return camelKeys(raw) as EnsureResult;
}
