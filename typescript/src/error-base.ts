// The root of every SDK error. Subclasses are generated from the ABI's status table
// (errors.generated.ts); `fromNative` in errors.ts picks the class.
import { inspect } from "node:util";
import type { ErrorCode } from "./errors.generated.js";
import { redactText } from "./redact.js";

/** Class-specific extras the core reports (`changes`, `retry_after`, `field`, ...), camelCased. */
export interface ErrorDetails {
  /** Drifted fields (`DriftError`, `ValidationError` with `immutable_field`). */
  changes?: { field: string; live: unknown; desired: unknown; patchable: boolean }[];
  /** Seconds the server asked to wait (`RateLimitError`). */
  retryAfter?: number;
  /** The offending field (`ValidationError`). */
  field?: string;
  /** The last readiness event seen (`ReadinessError`, `ReadinessTimeoutError`). */
  lastEvent?: { phase: string; message: string; elapsedMs: number; step: string | null; logTail: string | null };
  /** The workload's last log lines (`ReadinessError`). */
  logTail?: string;
  [key: string]: unknown;
}

export interface ErrorInit {
  code?: string | null;
  statusCode?: number | null;
  requestId?: string | null;
  details?: ErrorDetails;
  cause?: unknown;
}

/** Base of every error this SDK throws; `message` never holds a secret. */
export class InferenceKeyError extends Error {
  /** The ABI status this class stands for (c-abi §2); 0 for the base class. */
  static readonly abiStatus: number = 0;
  override readonly name: string = "InferenceKeyError";
  /** Machine-readable code, e.g. `missing_project`, `not_found`, `http_418`. */
  readonly code: ErrorCode | (string & {}) | undefined;
  /** The HTTP status of the response behind the error, if there was one. */
  readonly statusCode: number | undefined;
  /** The server's request id, if known. */
  readonly requestId: string | undefined;
  /** Class-specific extras. */
  readonly details: ErrorDetails;

  constructor(message: string, init: ErrorInit = {}) {
    // Scrubbed once more here: callers may build errors from untrusted text too.
    super(redactText(String(message)), init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code ?? undefined;
    this.statusCode = init.statusCode ?? undefined;
    // A server may echo anything in X-Request-Id, a token included.
    this.requestId = init.requestId == null ? undefined : redactText(init.requestId);
    this.details = init.details ?? {};
  }

  /** Drifted fields, when the error carries them. */
  get changes(): ErrorDetails["changes"] {
    return this.details.changes;
  }

  override toString(): string {
    const code = this.code ? ` [${this.code}]` : "";
    const rid = this.requestId ? ` (request_id: ${this.requestId})` : "";
    return `${this.name}${code}: ${this.message}${rid}`;
  }

  [inspect.custom](): string {
    return `${this.toString()}\n${(this.stack ?? "").split("\n").slice(1).join("\n")}`;
  }
}
