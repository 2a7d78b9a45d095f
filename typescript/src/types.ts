// The public data shapes: camelCase fields over the snake_case wire JSON.
import type { Backend, EnsureAction, ExecutionPolicy, OnDrift, TaskType } from "./enums.js";
import type { RequestOptions } from "./call.js";

/** The declared state of a workload (sdk-behaviour §3.1). Enum fields take raw strings too. */
export interface WorkloadSpec {
  name: string;
  slug: string;
  model: string;
  backend: Backend | (string & {});
  command?: string | null;
  description?: string | null;
  taskType?: TaskType | (string & {}) | null;
  /** Backend config, sent as given (snake_case keys stay snake_case). */
  config?: Record<string, unknown> | null;
  executionPolicy?: ExecutionPolicy | (string & {}) | null;
  executionPolicyConfig?: Record<string, unknown> | null;
  gpuResourceId?: string | null;
  workerId?: string | null;
  vllmVersion?: string | null;
  project?: string | null;
}

/** A workload as the server described it. */
export interface Workload {
  id: string | null;
  projectId: string | null;
  projectSlug: string | null;
  slug: string;
  name: string | null;
  description: string | null;
  taskType: string | null;
  backend: string | null;
  model: string | null;
  config: Record<string, unknown>;
  workerId: string | null;
  gpuResourceId: string | null;
  executionPolicy: string | null;
  executionPolicyConfig: unknown;
  phase: string | null;
  createdAt: string | null;
  updatedAt: string | null;
  /** The element exactly as received. */
  raw: unknown;
}

/** One drifted (or, for a create, sent) field. */
export interface FieldChange {
  field: string;
  live: unknown;
  desired: unknown;
  patchable: boolean;
}

/** The result of `ensure()` / `plan()`. */
export interface EnsureResult {
  projectSlug: string;
  workloadSlug: string;
  action: EnsureAction;
  changes: FieldChange[];
  workloadId: string | null;
  workload: Workload | null;
  /** `"create"` or `"update"` when `action` is `planned`. */
  plannedOperation: "create" | "update" | null;
}

/** One readiness frame. */
export interface ReadinessEvent {
  phase: string;
  message: string;
  elapsedMs: number;
  step: string | null;
  logTail: string | null;
}

export interface ProjectOptions extends RequestOptions {
  /** Overrides the client's project for this call. */
  project?: string;
}

export interface EnsureOptions extends ProjectOptions {
  /** Default `reconcile`. */
  onDrift?: OnDrift | (string & {});
}

export interface WaitOptions extends ProjectOptions {
  /** The hard deadline of the whole wait (default 600 000 ms). */
  timeoutMs?: number;
  /** Called with every readiness event, the terminal one included. */
  onProgress?: (event: ReadinessEvent) => void;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface ChatMessage {
  role: string;
  content: string | unknown[];
  [key: string]: unknown;
}

/** Arguments of `generateText` / `generateTextStream`: a `prompt` or `messages`. */
export interface TextRequest extends RequestOptions {
  prompt?: string;
  messages?: ChatMessage[];
  temperature?: number;
  maxTokens?: number;
  topP?: number;
  stop?: string | string[];
  seed?: number;
  /** Sent as extra top-level keys of the request body. */
  extraBody?: Record<string, unknown>;
}

export interface EmbedRequest extends RequestOptions {
  input: string | string[];
  extraBody?: Record<string, unknown>;
}

export interface RerankRequest extends RequestOptions {
  query: string;
  documents: string[];
  topN?: number;
  extraBody?: Record<string, unknown>;
}

export interface RerankItem {
  index: number;
  relevanceScore: number;
  document: string | null;
}

export interface RerankResult {
  /** Best first. */
  results: RerankItem[];
  model: string;
  usage: Usage | null;
  requestId: string | null;
  raw: unknown;
}

export interface TextChunk {
  text: string;
  finishReason: string | null;
  /** The event's JSON, parsed on first read. */
  readonly raw: unknown;
}

/** Options of `submitJob`, besides the per-call ones. */
export interface JobOptions extends RequestOptions {
  /** The media type of a bytes body, e.g. `multipart/form-data; boundary=…`. */
  contentType?: string;
  /** Any JSON value, echoed back in the job's webhook deliveries (e.g. your own order id). */
  context?: unknown;
}

/** A submitted job: match its webhook deliveries on `jobId`. */
export interface JobRef {
  jobId: string;
  /** The kind's wire name (an alias given at submit comes back canonical). */
  kind: string;
  requestId: string | null;
}

/** What a job produced (`data` of a job event); keys a newer platform adds are kept. */
export interface JobData {
  jobId: string;
  status: "completed" | "failed" | (string & {});
  /** The route's JSON response, shaped as the synchronous call's, exactly as sent. */
  output?: unknown;
  usage?: Usage | null;
  /** Why the job failed (`message`, `type`, `code`), for `failed`. */
  error?: { message?: string; type?: string; code?: string | number | null; [key: string]: unknown } | null;
  /** A binary result (audio, images), base64, with its `contentType`. */
  binaryB64?: string | null;
  contentType?: string | null;
  [key: string]: unknown;
}

/** A verified webhook delivery; keys a newer platform adds are kept. */
export interface WebhookEvent {
  event: "job.completed" | "job.failed" | "ping" | (string & {});
  /** When the delivery was made, unix seconds. */
  ts: number;
  jobId: string | null;
  /** The `context` given to `submitJob`, echoed back exactly. */
  context: unknown;
  data: JobData | null;
  [key: string]: unknown;
}

/** Options of `verifyWebhook`. */
export interface VerifyOptions {
  /** Largest distance, in seconds, between the signed timestamp and now, either way (default 300). */
  toleranceSec?: number;
}
