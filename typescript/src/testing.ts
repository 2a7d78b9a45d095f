// A real local platform for tests and examples: the library's embedded dev server.
// Starting it blocks until it listens (a second or so); it is test set-up, not a request path.
import { errorFromNative } from "./errors.js";
import { NativeHandle } from "./handle.js";
import { type Pointer, bufferText, byteLength, callForText, freeBuffer, native } from "./native.js";

export interface DevServerOptions {
  /** Interpreter that runs the CPU model stand-ins; default `$INFERENCEKEY_DEV_PYTHON`. */
  python?: string;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  dataDir?: string;
  rateLimitPerMinute?: number;
}

export interface ProjectCredentials {
  project: { id: string; slug: string; name: string };
  sdkToken: string;
  apiKey: string;
}

/** A running local platform; `stop()` ends it and every workload process it started. */
export class DevServer implements AsyncDisposable {
  readonly baseUrl: string;
  readonly dataDir: string;
  readonly #handle: NativeHandle;

  constructor(options: DevServerOptions = {}) {
    const cfg = JSON.stringify({
      python: options.python ?? process.env.INFERENCEKEY_DEV_PYTHON,
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 0,
      data_dir: options.dataDir,
      rate_limit_per_minute: options.rateLimitPerMinute,
    });
    const lib = native();
    const out: [Pointer | null] = [null];
    const info: [Pointer | null] = [null];
    const len: [number] = [0];
    const err: [Pointer | null] = [null];
    const status = lib.ik_dev_server_start(cfg, byteLength(cfg), out, info, len, err) as number;
    if (status !== 0) throw errorFromNative(status, err[0]);
    const text = bufferText(info[0]!, Number(len[0]));
    freeBuffer(info[0]);
    const parsed = JSON.parse(text) as { base_url: string; data_dir: string };
    this.baseUrl = parsed.base_url;
    this.dataDir = parsed.data_dir;
    this.#handle = new NativeHandle(out[0]!, (p) => void lib.ik_dev_server_free(p), this, "DevServer");
  }

  #call(fn: "ik_dev_server_create_project" | "ik_dev_server_mint_token", body: object): Record<string, unknown> {
    const req = JSON.stringify(body);
    const r = callForText(native()[fn], this.#handle.ptr, req, byteLength(req));
    if (r.status !== 0) throw errorFromNative(r.status, r.err);
    return JSON.parse(r.text) as Record<string, unknown>;
  }

  /** A new project with a fresh `ik_sdk_` token and a project-wide `ik_live_` key. */
  createProject(slug: string, name?: string): ProjectCredentials {
    const r = this.#call("ik_dev_server_create_project", { slug, name: name ?? slug });
    return { project: r.project as ProjectCredentials["project"], sdkToken: r.sdk_token as string, apiKey: r.api_key as string };
  }

  /** An `ik_live_` key granted to these workloads of the project. */
  mintKey(project: string, ...workloads: string[]): string {
    return this.#call("ik_dev_server_mint_token", { project, kind: "live", grants: workloads.map((w) => `${project}/${w}`) })
      .token as string;
  }

  /** An `ik_sdk_` token with these scopes (e.g. `workload:read`). */
  mintSdkToken(project: string, ...scopes: string[]): string {
    return this.#call("ik_dev_server_mint_token", { project, kind: "sdk", scopes }).token as string;
  }

  /** Stops the platform and frees it. Idempotent. */
  stop(): void {
    this.#handle.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.stop();
    return Promise.resolve();
  }
}
